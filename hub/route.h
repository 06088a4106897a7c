/* A route's declaration and the rules the router applies before its handler runs: the methods it takes, exact or prefix
 * matching, the style of its 404 and 405 answers, and its cross-origin rule (OPTIONS preflights). A handler then holds
 * only its own logic. */
#ifndef HUB_ROUTE_H
#define HUB_ROUTE_H

#include <h2o.h>
#include "hub/cors.h"

/* The methods a route takes, as bits; a request with any other method gets 405 with Allow naming these (after OPTIONS
 * when the route has a cross-origin rule, whose preflight the router answers). HUB_METHODS_ANY: every method, named
 * here or not, reaches the handler (a reverse proxy's). */
#define HUB_GET 0x1u
#define HUB_HEAD 0x2u
#define HUB_POST 0x4u
#define HUB_METHODS_ANY (~0u)

typedef enum {
    HUB_MATCH_EXACT,  /* the path (or the alias) only; a path under it is 404 */
    HUB_MATCH_PREFIX, /* the path and every path under it ("/p/" also "/p/x"; "/p" also "/p/x", never "/px") */
} hub_match_t;

/* How the router answers 404 and 405 on a route: in the form its clients read. */
typedef enum {
    HUB_STYLE_OAUTH, /* an OAuth error object, {"error": "invalid_request" | "not_found", ...} (APIs) */
    HUB_STYLE_HTML,  /* an HTML error page with the SPEC §8 headers (pages a browser shows) */
} hub_style_t;

/* What a route's answers are made from. While the node's store cannot serve (hub_store_healthy: its database is away),
 * the router answers a route that needs it 503 with Retry-After in the route's style (a temporarily_unavailable error
 * object, or a short page) instead of running its handler, so that no request waits on a database known to be gone;
 * a route served from memory (JWKS, discovery, the server's own) runs as ever. */
typedef enum {
    HUB_NEEDS_STORE = 0, /* the default */
    HUB_NEEDS_MEMORY,
} hub_needs_t;

/* A route as its module declares it, usually in a static table. */
typedef struct st_hub_route_t {
    const char *path;       /* the native path, starting with '/' */
    const char *alias;      /* another path answered the same way (a Frappe alias), or NULL */
    unsigned methods;       /* HUB_GET | HUB_HEAD | HUB_POST, or HUB_METHODS_ANY */
    hub_match_t match;      /* for the path and the alias alike */
    hub_style_t style;      /* of the router's 404 and 405 (and a 404 the handler asks for) */
    const hub_cors_t *cors; /* NULL: no cross-origin access (and an OPTIONS is a 405 like any other method) */
    hub_needs_t needs;      /* HUB_NEEDS_STORE (0) or HUB_NEEDS_MEMORY */
} hub_route_t;

/* A route's handler: data is what was registered with it. Returns 0 when it answered req (or will, asynchronously),
 * non-zero to have the router answer 404 in the route's style (nothing under a prefix route at that path). */
typedef int (*hub_route_cb)(void *data, h2o_req_t *req);

/* A registered route: its declaration (a copy, with its own path strings), its handler, and the hook that disposes of
 * its data. Entries form a list, newest first. */
typedef struct st_hub_route_entry_t hub_route_entry_t;

/* Adds to *list an entry for route (copied) with cb, data and dispose (may be NULL); the list owns it. */
hub_route_entry_t *hub_route_entry_add(hub_route_entry_t **list, const hub_route_t *route, hub_route_cb cb, void *data,
                                       void (*dispose)(void *data));

/* The entry's declaration: its own copy, valid as long as the entry. */
const hub_route_t *hub_route_entry_route(const hub_route_entry_t *entry);

/* Serves req on entry: answers it itself (404 for a path an exact route does not name, an OPTIONS preflight on a route
 * with a CORS rule: 204 with Allow, 405 with Allow for a method the route does not take, 503 when store_away and the
 * route needs the store), or adds the CORS headers every answer of the route carries and runs the handler, answering
 * 404 when it asks. */
void hub_route_entry_serve(hub_route_entry_t *entry, h2o_req_t *req, int store_away);

/* 503 with Retry-After for a store that cannot serve now, in style: a temporarily_unavailable error object or a short
 * page. */
void hub_route_send_unavailable(h2o_req_t *req, hub_style_t style);

/* Calls every entry's dispose hook with its data, once, frees the entries and empties *list. */
void hub_route_entries_dispose(hub_route_entry_t **list);

#endif
