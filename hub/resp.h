/* Building responses: JSON and HTML with Content-Length, the security headers of SPEC §8,
 * redirects, cookies, and OAuth error bodies. All memory comes from req->pool. */
#ifndef HUB_RESP_H
#define HUB_RESP_H

#include <h2o.h>
#include <jansson.h>
#include "hub/oauth.h"

/* Adds a header by name (lower case, written as given); name and value are copied into req->pool. */
void hub_resp_header(h2o_req_t *req, const char *name, const char *value);

/* Sends body as application/json; body is consumed (decref'd). Adds
 * Cache-Control: no-store and Pragma: no-cache when no_store is set. */
/* Sends body (copied) after the status and headers set on req->res (content_length included); HEAD gets no body. On a
 * loop thread between hub_resp_defer_begin and _end the response is handed to h2o by hub_resp_flush, which the
 * server calls at the end of every turn of the loop. */
void hub_send_inline(h2o_req_t *req, const char *body, size_t len);
void hub_resp_defer_begin(h2o_linklist_t *anchor);
/* Hands the deferred responses to h2o; returns how many. */
size_t hub_resp_flush(void);
void hub_resp_defer_end(void);
void hub_send_json(h2o_req_t *req, int status, json_t *body, int no_store);
/* The same with the body given as JSON text (copied). */
void hub_send_json_text(h2o_req_t *req, int status, const char *text, size_t len, int no_store);

/* Sends an HTML page with Content-Security-Policy, X-Frame-Options: DENY,
 * Referrer-Policy: no-referrer, X-Content-Type-Options: nosniff and no caching. */
void hub_send_html(h2o_req_t *req, int status, const char *html, size_t len);
/* The same under another Content-Security-Policy (csp: a static string, not copied): pages that take their style
 * from the hub's stylesheet (hub/page.h) allow no inline style. */
void hub_send_html_csp(h2o_req_t *req, int status, const char *csp, const char *html, size_t len);

/* A complete, escaped HTML error page with a title and one message line. */
void hub_send_html_error(h2o_req_t *req, int status, const char *title, const char *message);

/* Sends text/plain. */
void hub_send_text(h2o_req_t *req, int status, const char *text, size_t len);

/* 302 (or the given 30x) to location (copied). */
void hub_send_redirect(h2o_req_t *req, int status, const char *location);

/* {"error": ..., "error_description": ...} with the error's status and no-store; for
 * invalid_client adds WWW-Authenticate: Basic realm="hub" (RFC 6749 §5.2); for
 * invalid_token/insufficient_scope adds WWW-Authenticate: Bearer error=... (RFC 6750), and for
 * HUB_OAUTH_TOKEN_MISSING the bare challenge Bearer realm="hub". err HUB_OAUTH_OK is no error
 * to send: it goes out as server_error. */
void hub_send_oauth_error(h2o_req_t *req, hub_oauth_err_t err, const char *description);
/* The same for a failure recorded in *fail. */
void hub_send_oauth_fail(h2o_req_t *req, const hub_oauth_fail_t *fail);
/* Records err in *fail with a description formatted (printf) into pool (a request's, usually); returns err. */
hub_oauth_err_t hub_oauth_failf(h2o_mem_pool_t *pool, hub_oauth_fail_t *fail, hub_oauth_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Set-Cookie: name=value; Path=/; HttpOnly; SameSite=Lax[; Secure][; Max-Age=N].
 * max_age < 0 omits Max-Age (a session cookie); 0 deletes the cookie. */
void hub_set_cookie(h2o_req_t *req, const char *name, const char *value, long max_age, int secure);
/* The same with another Path, for a cookie only some paths need (a secondary's pending sign-ins live under /auth/).
 * name, value and path are written as given (the caller makes them cookie-safe); the line is in req->pool, of any
 * length. */
void hub_set_cookie_at(h2o_req_t *req, const char *name, const char *value, const char *path, long max_age, int secure);

#endif
