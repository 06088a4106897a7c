/* Cross-origin access as the router applies it (SPEC §10): a route's rule, the request's Origin read as browsers
 * serialize an origin, the headers every answer of such a route carries, and a preflight's Access-Control-* headers.
 * Which origins a route opens to is its owner's business (a hook); never Access-Control-Allow-Credentials. */
#ifndef HUB_CORS_H
#define HUB_CORS_H

#include <h2o.h>

/* The decision on a preflight's origin (1: allowed), handed back on the request's loop. */
typedef void (*hub_cors_decided_fn)(void *ctx, h2o_req_t *req, int allowed);

/* A route's cross-origin rule. any_origin: a public document every page may read (Access-Control-Allow-Origin: * on
 * every answer). Otherwise every answer varies by Origin (Vary: Origin), and a preflight is allowed when
 * origin_check(data, req, origin, decided, ctx) decides so, data being the route's (hub_server_add_route) and origin
 * canonical (hub_cors_origin): it calls decided(ctx, req, allowed) on req's loop, at once or once a read of the store
 * came back (a hook that parks req, hub/park.h, and calls nothing when the client left meanwhile). */
typedef struct st_hub_cors_t {
    int any_origin;
    void (*origin_check)(void *data, h2o_req_t *req, const char *origin, hub_cors_decided_fn decided, void *ctx);
} hub_cors_t;

/* The request's origin when it may match a registered one, else NULL: exactly one Origin header, holding an origin
 * exactly as browsers serialize it (lower case, no default port, no path, not even "/"), copied into req->pool. "null",
 * a list, a URL with a path, an upper-case host or an explicit default port are NULL, so no spelling of an origin but
 * the canonical one reaches a lookup. */
const char *hub_cors_origin(h2o_req_t *req);

/* Adds what every answer of a route with rule cors carries: Access-Control-Allow-Origin: * (any_origin) or
 * Vary: Origin. */
void hub_cors_vary(h2o_req_t *req, const hub_cors_t *cors);

/* For a preflight (OPTIONS) of a route with rule cors and route data data: when its origin is allowed, adds
 * Access-Control-Allow-Origin (unless any_origin, which has it already), -Methods (methods, e.g. "GET, POST", in
 * req->pool or static), -Headers and -Max-Age; then calls answered(ctx, req), which sends the answer: at once, or on
 * req's loop once the rule's hook decided (not at all when the client left meanwhile). Adds nothing for any other
 * origin, so the answer tells nothing about which origins are registered. */
void hub_cors_preflight(h2o_req_t *req, const hub_cors_t *cors, void *data, const char *methods,
                        void (*answered)(void *ctx, h2o_req_t *req), void *ctx);

#endif
