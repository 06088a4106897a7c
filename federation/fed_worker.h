/* The secondary's worker: the one thread that talks to the primary (never an event loop) for discovery, registration,
 * the credential probe and the rounds of JWKS refresh; what the node knows of the primary's reachability; and the
 * kid wait, where a request naming a key not fetched yet waits for the next round. */
#ifndef FED_WORKER_H
#define FED_WORKER_H

#include <stdint.h>
#include <h2o.h>
#include "federation/fed_ctx.h"

/* A request naming an unknown kid waits this long at most for the JWKS refresh: a primary answers its JWKS in
 * milliseconds, and while it hangs such requests must still be answered promptly (SPEC §6 never blocking). */
#define FED_KID_WAIT_MS 1000
#define FED_KID_WAIT_MAX 1024 /* requests parked at once per node; more are answered at once */

/* Sets up fed->worker (fed->jwks, fed->join and fed->park exist) and installs the keys an earlier run stored in
 * fed->jwks, so tokens verify at once even while the primary is down. Starts no thread. Returns 0. */
int fed_worker_create(fed_t *fed);

/* Starts the thread. Returns 0, or HUB_E_NOMEM when it cannot start (logged). */
int fed_worker_start(fed_t *fed);

/* Stops the thread (a call to the primary in progress ends within its timeout) and frees fed->worker. Nothing may be
 * parked for a JWKS round any more: call after the loops stopped. */
void fed_worker_destroy(fed_t *fed);

/* Wakes the worker to look at its asks and alarms again (arg is the fed_t: this is fed->jwks's wake callback, and what
 * a kept ask of the primary uses, fed_jwks_changed). Thread-safe, never blocks for long. */
void fed_worker_wake(void *arg);

/* Milliseconds on a monotonic clock. */
uint64_t fed_now_ms(void);

/* Records whether a call to the primary got an answer (answered = 1) or found it unreachable (no connection, a
 * timeout, a 5xx); logs each change once, and the worker then checks every few seconds for the primary's return.
 * Thread-safe, never blocks for long. */
void fed_primary_answered(fed_t *fed, int answered);

/* Asks the worker to check the primary now (at most once a second). Thread-safe, never blocks for long. */
void fed_primary_recheck(fed_t *fed);

/* After a verification for req failed with HUB_E_NOTFOUND (a kid this node does not know), parks req (fed_park.h)
 * until the JWKS round that is asked or in flight ends, FED_KID_WAIT_MS pass, or the client goes away; then
 * resume(req, data) runs on req's loop. seen is fed_jwks_rounds() from before the verification: when a round ended
 * since, resume runs on the loop's next turn. Returns 1 when parked (the caller answers nothing), 0 when the caller
 * must answer now: no refresh is asked or in flight (FED_JWKS_FORCE_INTERVAL stops random kids from parking
 * requests), the primary is known to be unreachable (the last known keys are all there is), FED_KID_WAIT_MAX requests
 * wait already, resume is NULL, or the loop has no fetch port. */
int fed_kid_wait(fed_t *fed, h2o_req_t *req, uint64_t seen, fed_resume_cb resume, void *data);

#endif
