/* Helpers shared by the record modules of idp/ (user, role, client, node, join_token): identifiers, the field checks
 * several records make, and JSON fields. Private to the folder, as libuv's internal.h: no module outside idp/
 * includes it. */
#ifndef IDP_RECORD_H
#define IDP_RECORD_H

#include <stdint.h>
#include <jansson.h>
#include "hub/crypto.h"

#define IDP_NAME_MAX 256 /* full, given and family names, app names, node names */
#define IDP_ID_LEN HUB_B64URL_LEN(16)
/* The longest client_id (= node id) a lookup accepts; ours are IDP_ID_LEN, an older or imported one may be longer. */
#define IDP_CLIENT_ID_MAX 256

/* A random identifier of 16 bytes (22 base64url chars) that does not begin with '-', so that it never reads as an
 * option on a command line (hubctl client show ID). */
void idp_record_new_id(char out[IDP_ID_LEN + 1]);
/* 1 when s is valid UTF-8 (jansson refuses anything else) without control characters. */
int idp_record_printable(const char *s);
/* 1 when s is NULL or at most IDP_NAME_MAX bytes of printable UTF-8. */
int idp_record_name_ok(const char *s);
/* 1 when s is an absolute http(s) URI with a host and a valid port, without fragment, userinfo or white space
 * (hub_url_parse). */
int idp_record_uri_ok(const char *s);

/* Replaces *dst with a copy of s (NULL allowed). */
void idp_record_replace(char **dst, const char *s);
/* obj[name] = s, or null when s is NULL (so --json output always has every field). */
void idp_record_set_str(json_t *obj, const char *name, const char *s);
void idp_record_set_uint(json_t *obj, const char *name, uint64_t v);
/* 1 when obj[name] is true. */
int idp_record_bool(const json_t *obj, const char *name);

#endif
