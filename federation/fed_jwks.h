/* The primary's public keys as seen by a secondary: immutable snapshots swapped atomically,
 * refreshed off the event loops, persisted so a restart works while the primary is down. */
#ifndef FED_JWKS_H
#define FED_JWKS_H

#include <stddef.h>
#include <stdint.h>
#include "hub/jws.h"

#define FED_JWKS_FORCE_INTERVAL 10 /* seconds between two refreshes asked for by an unknown kid */

typedef struct st_fed_jwks_t fed_jwks_t;

/* An empty cache. wake(arg) is called, from any thread, when an unknown kid asks for a
 * refresh (fed_jwks_want_refresh); wake may be NULL. Never fails (out of memory is fatal). */
fed_jwks_t *fed_jwks_create(void (*wake)(void *arg), void *arg);

/* Frees every snapshot ever installed; no thread may use the cache or a key from it. */
void fed_jwks_destroy(fed_jwks_t *j);

/* Parses a JWKS document ({"keys": [...]}) and makes it the current set. Keys that are not
 * usable signature keys (no alg, unsupported kty, use other than "sig") are skipped; an
 * identical document keeps the current snapshot. Returns 0, or HUB_E_PARSE when the text is
 * not a JWKS or holds no usable key (the current set is then unchanged). Thread-safe. */
int fed_jwks_install(fed_jwks_t *j, const char *json, size_t len);

/* The key called kid in the current set, or NULL. Lock-free; the key stays valid until
 * fed_jwks_destroy, so the caller may keep using it after a newer set is installed. */
const hub_key_t *fed_jwks_find(fed_jwks_t *j, const char *kid);

/* Number of keys in the current set (0 before the first install). */
size_t fed_jwks_count(fed_jwks_t *j);

/* The current document's text (malloc'ed copy, caller frees), or NULL when none. */
char *fed_jwks_raw(fed_jwks_t *j);

/* Asks for one refresh because a token named an unknown kid: every thread shares it and it
 * happens at most once per FED_JWKS_FORCE_INTERVAL seconds. Returns 1 when this call asked
 * (wake was called), 0 when rate-limited. */
int fed_jwks_want_refresh(fed_jwks_t *j);

/* The primary says its keys changed (POST /auth/jwks-changed, from anyone): asks for a refresh
 * like fed_jwks_want_refresh, sharing its rate limit; when rate-limited the ask is kept, so one
 * refresh follows as soon as the limit allows (fed_jwks_deferred). Never more than one refresh
 * per FED_JWKS_FORCE_INTERVAL however many ask. Returns 1 when a refresh was asked now. */
int fed_jwks_changed(fed_jwks_t *j);

/* For the refreshing thread: 0 when no ask is kept; else the hub_now() second from which the kept
 * ask may be served. With take set and that second reached, the ask is taken (the rate limit
 * counts from now) and 1 is returned: the caller refreshes now. */
uint64_t fed_jwks_deferred(fed_jwks_t *j, int take);

/* Fetches uri (blocking, bounded by timeout_ms: only from a background thread) and installs
 * the result. *max_age gets the response's Cache-Control max-age (0 when absent). Returns 0,
 * HUB_E_NET / HUB_E_TIMEOUT when the primary did not answer, HUB_E_PARSE for a bad answer. */
int fed_jwks_fetch(fed_jwks_t *j, const char *uri, long timeout_ms, uint64_t *max_age);

/* The max-age of a Cache-Control value ("public, max-age=300"), or 0 when absent or bad. */
uint64_t fed_jwks_max_age(const char *cache_control);

#endif
