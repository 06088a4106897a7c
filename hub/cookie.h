/* The hub's cookie namespace: every cookie a node sets is named "hub_..." (or "__Host-hub_..."/"__Secure-hub_..."), so
 * one rule tells the hub's cookies from an application's, whichever node (or node name) set them. */
#ifndef HUB_COOKIE_H
#define HUB_COOKIE_H

#include <h2o.h>
#include <stddef.h>
#include "hub/config.h"

#define HUB_COOKIE_PREFIX "hub_" /* every cookie name a node sets starts with it (after an optional __Host- or __Secure-) */
#define HUB_COOKIE_HOST_PREFIX "__Host-"
#define HUB_COOKIE_NAME_MAX 96 /* room for any name hub_cookie_name makes of a node.name (at most 64 characters), NUL included */

/* The name of one of a node's cookies: HUB_COOKIE_PREFIX, node_name, '_', what, each character outside [A-Za-z0-9_-]
 * written '_' (an RFC 6265 token that differs per node: browsers do not separate cookies by port, SPEC §8); with
 * host_prefix, HUB_COOKIE_HOST_PREFIX before it (for HTTPS: a browser then takes the cookie only from this origin's
 * secure responses, with Path=/ and no Domain). Writes out (size bytes) and returns 0, or HUB_E_TOOBIG when the name
 * does not fit (out then holds "", never a truncated name). */
int hub_cookie_name(char *out, size_t size, const char *node_name, const char *what, int host_prefix);

/* The name of one of the cookies of the node cfg configures. Normally hub_cookie_name of node.name (SPEC §8). For a
 * primary of a cluster (hub_config_is_cluster) the cluster's instead (SPEC §9): "c." and 16 hex digits of SHA-256 of
 * public_url's origin (scheme, host in lower case, port only when not the default) and path, so every primary behind one
 * public_url, whatever its node.name, names its cookies alike and a browser's session works through any of them; a
 * cluster at another address (or path) names them otherwise; and no node.name reaches the name (hub_cookie_name writes
 * its '.' as '_'). Writes out and returns 0, or HUB_E_TOOBIG/HUB_E_INVAL (out then holds ""). */
int hub_cookie_node_name(char *out, size_t size, const hub_config_t *cfg, const char *what, int host_prefix);

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
