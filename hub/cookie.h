/* The hub's cookie namespace: every cookie a node sets is named "hub_..." (or "__Host-hub_..."/"__Secure-hub_..."), so
 * one rule tells the hub's cookies from an application's, whichever node (or node name) set them. */
#ifndef HUB_COOKIE_H
#define HUB_COOKIE_H

#include <h2o.h>
#include <stddef.h>

#define HUB_COOKIE_PREFIX "hub_" /* every cookie name a node sets starts with it (after an optional __Host- or __Secure-) */

/* Whether the cookie name[0..len) (spaces and tabs around it are ignored) belongs to the hub: it starts with
 * HUB_COOKIE_PREFIX, or with "__Host-" or "__Secure-" followed by it; letters in any case (an upstream that folds
 * case must not see one either). */
int hub_cookie_is_hub(const char *name, size_t len);

/* Removes every hub cookie from the Cookie headers of headers (what a node forwards to an upstream must not carry the
 * sessions of this node, of the primary or of any other node on the host). The other cookies stay, in their order, in
 * one rebuilt header "a=1; b=2" (each pair trimmed of spaces and tabs, empty pairs dropped); no Cookie header remains
 * when none is left. Pairs are split at every ';', quotes or not, as browsers send them. New memory comes from pool.
 * Returns the number of cookies removed. */
size_t hub_cookie_strip_hub(h2o_mem_pool_t *pool, h2o_headers_t *headers);

/* Whether the Set-Cookie value set_cookie[0..len) would give the browser a cookie that reaches the hub under one of its
 * names: its name is the hub's (hub_cookie_is_hub), or it has no name ("=hub_x_session=v" or "hub_x_session"), which
 * a browser sends back as its bare value, read by a server as that name. */
int hub_cookie_set_is_hub(const char *set_cookie, size_t len);

/* Removes from response headers every Set-Cookie that hub_cookie_set_is_hub (an application behind a node must not
 * plant or overwrite the hub's sessions, states or CSRF cookies). Returns the number removed. */
size_t hub_cookie_strip_hub_set(h2o_headers_t *headers);

#endif
