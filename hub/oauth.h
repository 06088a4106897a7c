/* OAuth 2.0 protocol errors (RFC 6749 §4.1.2.1, §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2,
 * OIDC Core §3.1.2.6): each maps to an HTTP status and its "error" string. These are
 * answers to clients, kept apart from the internal hub_err_t codes. */
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
    XX(TOO_MANY_REQUESTS, 429, "slow_down")

typedef enum {
#define XX(name, status, str) HUB_OAUTH_##name,
    HUB_OAUTH_ERRORS(XX)
#undef XX
        HUB_OAUTH__COUNT
} hub_oauth_err_t;

int hub_oauth_status(hub_oauth_err_t err);
const char *hub_oauth_error(hub_oauth_err_t err);

#endif
