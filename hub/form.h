/* Request input parsing on h2o memory pools: forms, query strings, cookies, headers, Basic auth, and output escaping. */
#ifndef HUB_FORM_H
#define HUB_FORM_H

#include <h2o.h>
#include <stddef.h>

#include "hub/err.h"

/* Limits: inputs beyond them are rejected with HUB_E_TOOBIG, never truncated. */
#define HUB_FORM_MAX_LEN 65536      /* bytes of one form body or query string */
#define HUB_FORM_MAX_FIELDS 256     /* non-empty pairs in one form */
#define HUB_COOKIE_MAX_LEN 16384    /* bytes of one Cookie header */
#define HUB_COOKIE_MAX_FIELDS 256   /* cookies in one Cookie header */
#define HUB_BASIC_AUTH_MAX_LEN 4096 /* bytes of one Authorization header value */

/* One decoded pair. name.base and value.base point into the pool, to len bytes followed by '\0'; decoded values never
 * contain NUL, so they are safe to use as C strings. */
typedef struct {
    h2o_iovec_t name, value;
} hub_kv_t;

/* Pairs in input order (repeated names are kept). items lives in the pool; NULL when n == 0. */
typedef struct {
    hub_kv_t *items;
    size_t n;
} hub_form_t;

/* Parses application/x-www-form-urlencoded data (also query strings): '&'-separated pairs, '+' is a space, %XX is a byte.
 * Empty pairs are skipped; "a" without '=' is name "a" with an empty value. Returns 0, HUB_E_PARSE for a malformed %
 * escape or a NUL byte (literal or decoded), HUB_E_TOOBIG when len > HUB_FORM_MAX_LEN or there are more than
 * HUB_FORM_MAX_FIELDS pairs. On error *out is the empty form. Everything is allocated from pool. */
int hub_form_parse(h2o_mem_pool_t *pool, const char *s, size_t len, hub_form_t *out);

/* Parses the query string of req->path (after '?'); no query string gives the empty form. Errors as hub_form_parse. */
int hub_form_parse_query(h2o_mem_pool_t *pool, h2o_req_t *req, hub_form_t *out);

/* Parses req->entity when the media type of Content-Type is application/x-www-form-urlencoded (parameters ignored,
 * case-insensitive); an empty body is the empty form. HUB_E_INVAL when Content-Type is missing or different, else
 * errors as hub_form_parse. */
int hub_form_parse_body(h2o_mem_pool_t *pool, h2o_req_t *req, hub_form_t *out);

/* The first value of the field called name (exact, case-sensitive match), or NULL. The string lives in the form's pool. */
const char *hub_form_get(const hub_form_t *f, const char *name);

/* How many times name occurs: OAuth requests with a repeated parameter must be rejected (RFC 6749 section 3.1). */
size_t hub_form_count(const hub_form_t *f, const char *name);

/* Parses one Cookie header value "a=b; c=d". No percent decoding; whitespace around names and values is trimmed and a
 * value in double quotes loses them. Pairs without '=', with an empty name, or with control characters are skipped.
 * Returns 0, or HUB_E_TOOBIG when len > HUB_COOKIE_MAX_LEN or there are more than HUB_COOKIE_MAX_FIELDS cookies. */
int hub_cookie_parse(h2o_mem_pool_t *pool, const char *s, size_t len, hub_form_t *out);

/* The value of the cookie called name across all Cookie headers of req (headers that are too big are ignored), as a
 * NUL-terminated copy in pool, or NULL: also when the name comes more than once, since the node sets each of its cookies
 * once (Path=/ or one fixed path) and a second one was planted under another path or domain by someone else (a page on
 * another port or a sibling host), whose value a browser may even send first. */
const char *hub_req_cookie(h2o_mem_pool_t *pool, h2o_req_t *req, const char *name);

/* A NUL-terminated copy in pool of the value of the first request header called name (case-insensitive), or NULL when
 * there is none or its value contains a NUL byte. */
const char *hub_req_header(h2o_mem_pool_t *pool, h2o_req_t *req, const char *name);
/* True when the request's method is m ("GET", "POST", ...). */
int hub_method_is(h2o_req_t *req, const char *m);

/* The address of req's peer as text (inet_ntop) into out (size: at least INET6_ADDRSTRLEN), or "unknown". */
void hub_req_peer(h2o_req_t *req, char *out, size_t size);

/* Percent-encodes every byte but RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~), with upper-case hex, for query
 * strings and form bodies. The result is in pool and NUL-terminated (len excludes the NUL). */
h2o_iovec_t hub_url_encode(h2o_mem_pool_t *pool, const char *s, size_t len);

/* Escapes & < > " ' for HTML text and attribute values. The result is in pool and NUL-terminated. */
h2o_iovec_t hub_html_escape(h2o_mem_pool_t *pool, const char *s, size_t len);

/* Parses an Authorization header value "Basic base64(user:pass)" (scheme case-insensitive). The password is everything
 * after the first ':'. user and pass are then form-urlencoding-decoded (RFC 6749 section 2.3.1: %XX and '+'). On success
 * *user and *pass are NUL-terminated strings in pool and 0 is returned; any malformed input (other scheme, bad base64,
 * no ':', bad escape, NUL byte, value longer than HUB_BASIC_AUTH_MAX_LEN) gives HUB_E_PARSE and NULLs. */
int hub_basic_auth_parse(h2o_mem_pool_t *pool, const char *header_value, char **user, char **pass);

#endif
