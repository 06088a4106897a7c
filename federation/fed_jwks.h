/* The primary's public keys as seen by a secondary: immutable snapshots swapped atomically,
 * refreshed off the event loops, persisted so a restart works while the primary is down. */
#ifndef FED_JWKS_H
#define FED_JWKS_H

#include <stddef.h>
#include <stdint.h>
#include "hub/clock.h"
#include "hub/jws.h"

#define FED_JWKS_FORCE_INTERVAL 10 /* seconds between two refreshes asked for by an unknown kid */

typedef struct st_fed_jwks_t fed_jwks_t;

/* An empty cache. wake(arg) is called, from any thread, when an unknown kid asks for a
 * refresh (fed_jwks_want_refresh), after the ask is recorded (fed_jwks_asked); wake may be NULL. Never fails (out of
 * memory is fatal). */
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

/* Rounds of refresh: a round starts when the refreshing thread takes an ask (fed_jwks_round_take) or starts a scheduled
 * refresh (fed_jwks_round_begin), and ends, keys fetched or not, at fed_jwks_round_end. A request whose token names an
 * unknown kid may wait for the end of a round that started after it looked (the worker's kid wait). */

/* The number of rounds ended so far; read it before a verification and hand it to fed_jwks_round_target. Lock-free. */
uint64_t fed_jwks_rounds(fed_jwks_t *j);

/* For a request that found an unknown kid after reading seen = fed_jwks_rounds(): 1 and in *target the number of ended
 * rounds that brings keys fetched after it looked (the round asked and not started yet, else the one in flight); when
 * a round ended since seen, *target is 0 (check again at once). 0 when no round is asked or in flight (waiting brings
 * nothing new). */
int fed_jwks_round_target(fed_jwks_t *j, uint64_t seen, uint64_t *target);

/* 1 while an ask waits for the refreshing thread, which must not sleep then. Lock-free. */
int fed_jwks_asked(fed_jwks_t *j);

/* For the refreshing thread: takes the ask of an unknown kid, or the kept ask of the primary once its rate limit allows
 * (fed_jwks_deferred), and starts a round for it. Returns 1 when there was one (the caller refreshes and then ends the
 * round), else 0. */
int fed_jwks_round_take(fed_jwks_t *j);

/* Starts a round for a refresh nobody asked for (the max-age schedule). */
void fed_jwks_round_begin(fed_jwks_t *j);

/* Ends every round started so far; returns fed_jwks_rounds() after it. */
uint64_t fed_jwks_round_end(fed_jwks_t *j);

/* Fetches uri (blocking, bounded by timeout_ms: only from a background thread) and installs
 * the result. *max_age gets the response's Cache-Control max-age (0 when absent). Returns 0,
 * HUB_E_NET / HUB_E_TIMEOUT when the primary did not answer, HUB_E_PARSE for a bad answer. */
int fed_jwks_fetch(fed_jwks_t *j, const char *uri, long timeout_ms, uint64_t *max_age);

/* The max-age of a Cache-Control value ("public, max-age=300"), or 0 when absent or bad. */
uint64_t fed_jwks_max_age(const char *cache_control);

#endif
