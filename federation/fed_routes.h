/* The secondary's protected routes (SPEC §6 Routes): a guard that hands what it lets through to h2o's reverse proxy. */
#ifndef FED_ROUTES_H
#define FED_ROUTES_H

#include "federation/fed_ctx.h"

/* Registers, for every secondary.routes entry, a guard at its path (every method, every path under it) that proxies
 * what it lets through to its upstream, and for a path "/p/" a guard at "/p" (that path only) that sends a permitted
 * caller on to "/p/" (308). Each guard is its server route's to dispose of, with the upstream URL it copied. Returns 0,
 * or HUB_E_CONFIG for an upstream h2o cannot parse. */
int fed_routes_register(fed_t *fed);

/* Frees what the guards share (folded route paths, the forwarding facts); after the loops stopped. */
void fed_routes_dispose(fed_t *fed);

/* Removes from headers every request header the node sets itself toward an upstream or that upstreams take as a fact
 * about the request, whatever its case and with '_' for '-': any name starting with X-Hub- or X-Forwarded-, and
 * Forwarded, X-Real-IP, X-Client-IP, True-Client-IP, X-Original-URL/-URI/-Host, X-Rewrite-URL, Front-End-Https, Via. */
void fed_routes_strip_hub_headers(h2o_headers_t *headers);

/* The index of the route among paths[0..n) that covers path[0..len) (hub_path_under), the longest route path
 * (without its trailing '/') winning; n when none does. */
size_t fed_routes_pick(const char *const *paths, size_t n, const char *path, size_t len);

#endif
