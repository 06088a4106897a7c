/* Every endpoint of the primary (SPEC §4) declared once, in one table that registration and discovery both read (redis
 * commands.def style): its native path, its Frappe alias, the key discovery lists it under, the methods it takes, how
 * its path matches, the style of its 404 and 405 and its cross-origin rule (hub/route.h). */
#ifndef IDP_ENDPOINT_H
#define IDP_ENDPOINT_H

#include "hub/route.h"
#include "idp/ctx.h"

/* The paths pages and documents name (a form's action, registration_client_uri) as well as the table. */
#define IDP_FRAPPE "/api/method/frappe.integrations.oauth2."
#define IDP_PATH_AUTHORIZE "/oauth2/authorize"
#define IDP_PATH_APPROVE "/oauth2/approve"
#define IDP_PATH_REGISTER "/oauth2/register"
#define IDP_PATH_END_SESSION "/oauth2/logout"
#define IDP_PATH_LOGIN "/login"
#define IDP_PATH_LOGOUT "/logout"

/* X(name, path, Frappe alias, discovery key, methods, match, error style, CORS rule, needs), in the order discovery lists
 * the endpoints. A module registers its own (idp_endpoint_route), a path before any prefix of it ("/oauth2/register/"
 * before "/oauth2/register"). Pages answer in HTML, APIs and documents with OAuth errors; the endpoints a single-page
 * app calls open to the origins of registered clients, the public documents to any (SPEC §10). The public documents
 * are served from memory, and so while the store is away; every other endpoint needs the store (SPEC §9, hub/route.h). */
#define IDP_ENDPOINTS(X)                                                                                                           \
    X(AUTHORIZE, IDP_PATH_AUTHORIZE, IDP_FRAPPE "authorize", "authorization_endpoint", HUB_GET | HUB_POST, HUB_MATCH_EXACT,        \
      HUB_STYLE_HTML, NULL, HUB_NEEDS_STORE)                                                                                       \
    X(APPROVE, IDP_PATH_APPROVE, IDP_FRAPPE "approve", NULL, HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL, HUB_NEEDS_STORE)     \
    X(TOKEN, "/oauth2/token", IDP_FRAPPE "get_token", "token_endpoint", HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_OAUTH,                \
      &idp_cors_clients, HUB_NEEDS_STORE)                                                                                          \
    X(USERINFO, "/oauth2/userinfo", IDP_FRAPPE "openid_profile", "userinfo_endpoint", HUB_GET | HUB_POST, HUB_MATCH_EXACT,         \
      HUB_STYLE_OAUTH, &idp_cors_clients, HUB_NEEDS_STORE)                                                                         \
    X(JWKS, "/oauth2/jwks", NULL, "jwks_uri", HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, &idp_cors_public,              \
      HUB_NEEDS_MEMORY)                                                                                                            \
    X(CLIENT_READ, IDP_PATH_REGISTER "/", NULL, NULL, HUB_GET, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL, HUB_NEEDS_STORE)           \
    X(REGISTER, IDP_PATH_REGISTER, IDP_FRAPPE "register_client", "registration_endpoint", HUB_POST, HUB_MATCH_EXACT,               \
      HUB_STYLE_OAUTH, NULL, HUB_NEEDS_STORE)                                                                                      \
    X(INTROSPECT, "/oauth2/introspect", IDP_FRAPPE "introspect_token", "introspection_endpoint", HUB_POST, HUB_MATCH_EXACT,        \
      HUB_STYLE_OAUTH, NULL, HUB_NEEDS_STORE)                                                                                      \
    X(REVOKE, "/oauth2/revoke", IDP_FRAPPE "revoke_token", "revocation_endpoint", HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_OAUTH,      \
      &idp_cors_clients, HUB_NEEDS_STORE)                                                                                          \
    X(END_SESSION, IDP_PATH_END_SESSION, NULL, "end_session_endpoint", HUB_GET | HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL,  \
      HUB_NEEDS_STORE)                                                                                                             \
    X(LOGIN, IDP_PATH_LOGIN, NULL, NULL, HUB_GET | HUB_HEAD | HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL, HUB_NEEDS_STORE)    \
    X(LOGOUT, IDP_PATH_LOGOUT, NULL, NULL, HUB_GET | HUB_HEAD | HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL, HUB_NEEDS_STORE)  \
    X(OPENID_CONFIGURATION, "/.well-known/openid-configuration", NULL, NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, \
      &idp_cors_public, HUB_NEEDS_MEMORY)                                                                                          \
    X(AUTHORIZATION_SERVER, "/.well-known/oauth-authorization-server", NULL, NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT,            \
      HUB_STYLE_OAUTH, &idp_cors_public, HUB_NEEDS_MEMORY)

typedef enum {
#define X(name, path, alias, key, methods, match, style, cors, needs) IDP_EP_##name,
    IDP_ENDPOINTS(X)
#undef X
        IDP_EP__COUNT
} idp_endpoint_id_t;

typedef struct st_idp_endpoint_t {
    hub_route_t route;     /* path, alias, methods, match, style, CORS, needs */
    const char *discovery; /* the metadata key of its URL (OIDC Discovery 1.0, RFC 8414), or NULL */
} idp_endpoint_t;

/* The table, indexed by idp_endpoint_id_t. */
extern const idp_endpoint_t idp_endpoints[IDP_EP__COUNT];

/* Registers endpoint id on idp's server: its path and alias, answered by cb(idp, req) once the router let the request
 * through (hub_server_add_route). Only before the server runs. */
void idp_endpoint_route(idp_t *idp, idp_endpoint_id_t id, hub_route_cb cb);

#endif
