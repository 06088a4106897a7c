/* The secondary's protected routes (SPEC §6 Routes): a guard in front of h2o's reverse proxy. */
#ifndef FED_ROUTES_H
#define FED_ROUTES_H

#include "federation/fed_ctx.h"

/* Registers, for every secondary.routes entry, a guard at its path chained with a reverse
 * proxy to its upstream. Returns 0, or HUB_E_CONFIG for an upstream h2o cannot parse. */
int fed_routes_register(fed_t *fed);

/* Frees the guards and what h2o's proxy handlers would leak; after the loops stopped and
 * before the server's configuration is disposed. */
void fed_routes_dispose(fed_t *fed);

/* Removes every request header whose name starts with "x-hub-" (any case) from headers. */
void fed_routes_strip_hub_headers(h2o_headers_t *headers);

#endif
