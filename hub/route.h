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

/* A route as its module declares it, usually in a static table. */
typedef struct st_hub_route_t {
    const char *path;       /* the native path, starting with '/' */
    const char *alias;      /* another path answered the same way (a Frappe alias), or NULL */
    unsigned methods;       /* HUB_GET | HUB_HEAD | HUB_POST, or HUB_METHODS_ANY */
    hub_match_t match;      /* for the path and the alias alike */
    hub_style_t style;      /* of the router's 404 and 405 (and a 404 the handler asks for) */
    const hub_cors_t *cors; /* NULL: no cross-origin access (and an OPTIONS is a 405 like any other method) */
} hub_route_t;

/* Runs before route's handler (data: the route's data, for its CORS hook). Returns 1 when the handler is to run,
 * after adding the CORS headers every answer of the route carries. Otherwise answers req itself and returns 0: 404
 * for a path an exact route does not name, the preflight of an OPTIONS on a route with a CORS rule (204 with Allow),
 * 405 with Allow for a method the route does not take. */
int hub_route_admit(const hub_route_t *route, void *data, h2o_req_t *req);

/* Answers 404 in route's style (for a handler finding nothing under a prefix route). */
void hub_route_not_found(const hub_route_t *route, h2o_req_t *req);

#endif
