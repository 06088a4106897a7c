/* RFC 7591 client metadata: parsing and validation of a registration body, apart from the HTTP handler
 * (idp_register_register in idp/idp.h) so tests and the fuzz target reach it without a request. */
#ifndef IDP_REGISTER_H
#define IDP_REGISTER_H

#include <stddef.h>
#include "hub/oauth.h"
#include "idp/client.h"

#define IDP_REGISTER_MAX_BODY (64 * 1024) /* bytes of a registration request body */
#define IDP_REGISTER_MAX_URIS 32          /* entries of each URI array */

/* Why metadata was refused: the OAuth error and "field: reason" text naming the field. */
typedef struct st_idp_reg_err_t {
    hub_oauth_err_t err;
    char desc[512];
} idp_reg_err_t;

/* Parses a registration body (one JSON object without duplicate members, at most IDP_REGISTER_MAX_BODY bytes) into a
 * new enabled client without client_id, secret or registration token. as_node applies the one shape a join token may
 * register (SPEC §6: authorization_code, confidential, every URI on the origin of the redirect URIs). *named is set
 * when client_name was given. Returns 0 with *client the caller's (idp_client_free), or HUB_E_TOOBIG / HUB_E_INVAL
 * with *client NULL and *e filled (HUB_OAUTH_TOO_LARGE, HUB_OAUTH_INVALID_CLIENT_METADATA or
 * HUB_OAUTH_INVALID_REDIRECT_URI). Nothing is stored. */
int idp_register_parse(const char *body, size_t len, int as_node, idp_client_t **client, int *named, idp_reg_err_t *e);

#endif
