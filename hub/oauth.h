/* OAuth 2.0 protocol errors (RFC 6749 §4.1.2.1, §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2,
 * OIDC Core §3.1.2.6): each maps to an HTTP status and its "error" string. These are
 * answers to clients, kept apart from the internal hub_err_t codes. A failure travels as one
 * struct, hub_oauth_fail_t (the error and its description), and 0 (HUB_OAUTH_OK) means none. */
#ifndef HUB_OAUTH_H
#define HUB_OAUTH_H

#define HUB_OAUTH_ERRORS(XX)                                                                                                       \
    XX(INVALID_REQUEST, 400, "invalid_request")                                                                                    \
    XX(INVALID_CLIENT, 401, "invalid_client")                                                                                      \
    XX(INVALID_GRANT, 400, "invalid_grant")                                                                                        \
    XX(UNAUTHORIZED_CLIENT, 400, "unauthorized_client")                                                                            \
    XX(UNSUPPORTED_GRANT_TYPE, 400, "unsupported_grant_type")                                                                      \
    XX(UNSUPPORTED_RESPONSE_TYPE, 400, "unsupported_response_type")                                                                \
    XX(INVALID_SCOPE, 400, "invalid_scope")                                                                                        \
    XX(ACCESS_DENIED, 403, "access_denied")                                                                                        \
    XX(SERVER_ERROR, 500, "server_error")                                                                                          \
    XX(TEMPORARILY_UNAVAILABLE, 503, "temporarily_unavailable")                                                                    \
    XX(INVALID_TOKEN, 401, "invalid_token")                                                                                        \
    XX(INSUFFICIENT_SCOPE, 403, "insufficient_scope")                                                                              \
    XX(LOGIN_REQUIRED, 400, "login_required")                                                                                      \
    XX(CONSENT_REQUIRED, 400, "consent_required")                                                                                  \
    XX(INTERACTION_REQUIRED, 400, "interaction_required")                                                                          \
    XX(INVALID_REDIRECT_URI, 400, "invalid_redirect_uri")                                                                          \
    XX(INVALID_CLIENT_METADATA, 400, "invalid_client_metadata")                                                                    \
    XX(UNSUPPORTED_TOKEN_TYPE, 400, "unsupported_token_type")                                                                      \
    XX(METHOD_NOT_ALLOWED, 405, "invalid_request")                                                                                 \
    XX(NOT_FOUND, 404, "not_found")                                                                                                \
    XX(TOO_LARGE, 413, "invalid_request")                                                                                          \
    XX(TOO_MANY_REQUESTS, 429, "slow_down")                                                                                        \
    XX(TOKEN_MISSING, 401, "invalid_token") /* no credentials at all: the challenge names no error (RFC 6750 §3.1) */

typedef enum {
    HUB_OAUTH_OK = 0, /* no failure (as CURLE_OK): every function returning hub_oauth_err_t returns it on success */
#define XX(name, status, str) HUB_OAUTH_##name,
    HUB_OAUTH_ERRORS(XX)
#undef XX
        HUB_OAUTH__COUNT
} hub_oauth_err_t;

/* An OAuth failure as it goes back to the client: the error and its error_description (NULL: none). description is
 * static text or lives as long as the answer (the request's pool). error HUB_OAUTH_OK: no failure (yet). */
typedef struct st_hub_oauth_fail_t {
    hub_oauth_err_t error;
    const char *description;
} hub_oauth_fail_t;

/* Records error and description in *fail and returns error, so that a check reads
 * `return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "code is required");`. */
hub_oauth_err_t hub_oauth_fail(hub_oauth_fail_t *fail, hub_oauth_err_t error, const char *description);

/* The HTTP status of err (200 for HUB_OAUTH_OK; 500 for a value outside the enum). */
int hub_oauth_status(hub_oauth_err_t err);
/* The "error" string of err (NULL for HUB_OAUTH_OK, which is no error; "server_error" for a value outside the enum). */
const char *hub_oauth_error(hub_oauth_err_t err);

#endif
