/* Re-validation of a secondary's local sessions with the primary (SPEC §6, issue 10 item 3): a
 * session's identity is good for one access-token lifetime; then a refresh grant with the
 * session's refresh token, sent through hub/fetch (never blocking a loop), renews it (new roles
 * apply at once), or the primary's refusal ends it. While the primary cannot be reached the
 * session keeps working and the refresh is tried again later (availability first). */
#ifndef FED_REFRESH_H
#define FED_REFRESH_H

#include "federation/fed_ctx.h"
#include "federation/fed_session.h"

#define FED_REFRESH_TIMEOUT_MS 5000        /* a refresh grant waits this long for the primary */
#define FED_REFRESH_WAIT_MS 1000           /* a request waits this long at most for its session's refresh */
#define FED_REFRESH_MAX 256                /* refreshes in flight at once per node; more wait for a later request */
#define FED_REFRESH_RETRY 5                /* seconds before a refresh that got no usable answer is tried again */
#define FED_REFRESH_LIFE_MAX (366 * 86400) /* seconds: a longer expires_in from the primary is not believed */

/* What a request holding a session may do with it (fed_refresh_gate). */
typedef enum { FED_GATE_OK = 0, FED_GATE_WAIT, FED_GATE_ENDED } fed_gate_t;

/* Sets up fed->refresh (no refresh in flight). Out of memory is fatal. */
void fed_refresh_create(fed_t *fed);

/* What req (holding the session s, just loaded) may do with it:
 * - FED_GATE_OK: use s->id now. From life / 4 before s->due a refresh is started in the background
 *   (one per session, whatever the number of requests), and the request does not wait for it.
 * - FED_GATE_WAIT: s is past due and a refresh is in flight: req is parked (fed_park.h) until it
 *   ends or FED_REFRESH_WAIT_MS pass, then resume(req, data) runs on req's loop and must load
 *   the session again (renewed, ended, or unchanged when the primary did not answer) with resume
 *   NULL. Only when resume is not NULL; never while the primary is known to be unreachable, nor
 *   for a session whose refresh already made a request wait in vain.
 * - FED_GATE_ENDED: the session is over (past due without a refresh token); it was ended. */
fed_gate_t fed_refresh_gate(fed_t *fed, h2o_req_t *req, const fed_session_t *s, fed_resume_cb resume, void *data);

/* Frees fed->refresh with the refreshes still waiting for the primary; after the loops stopped. */
void fed_refresh_destroy(fed_t *fed);

#endif
