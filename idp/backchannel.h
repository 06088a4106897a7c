/* hubd's side of the back-channel logout queue (idp/revocation.h): a thread that hands every queued logout to the
 * outbound HTTP client (hub/fetch) as one signed logout token per client with a backchannel_logout_uri. */
#ifndef IDP_BACKCHANNEL_H
#define IDP_BACKCHANNEL_H

#include <stddef.h>
#include "idp/ctx.h"

#define IDP_BACKCHANNEL_POLL_MS 250    /* how often the queue is looked at (hubctl, another process, cannot wake hubd) */
#define IDP_BACKCHANNEL_MAX_ATTEMPTS 8 /* a job whose hand-over failed this often is dropped (logged) */

typedef struct st_idp_backchannel_t idp_backchannel_t;

/* The one way the primary delivers back-channel logouts (RP-initiated logout and the queue alike). Signs a logout token (OIDC
 * Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti, events and sub and/or sid) for client_id and hands its form POST to uri to
 * idp->fetcher: fire-and-forget with retries, never blocking. Returns 0 once handed over; HUB_E_INVAL when the fetcher takes no
 * more work (none, or stopping); another code when no token could be signed. */
int idp_backchannel_post(idp_t *idp, const char *client_id, const char *uri, const char *sub, const char *sid);

/* One pass over the queue (any thread but an event loop's), at most 256 jobs: every due job goes to every enabled client with a
 * backchannel_logout_uri, as they are now, and is removed once all its deliveries are handed to the fetcher. A job that
 * could not be handed over stays: when the fetcher refused, as it was (the next pass, or the next hubd, takes it); when
 * a token could not be signed, due again after a back-off, dropped after IDP_BACKCHANNEL_MAX_ATTEMPTS. *done (may be
 * NULL) counts the jobs removed. Returns 0 or a store error. */
int idp_backchannel_drain(idp_t *idp, size_t *done);

/* Starts the thread that drains the queue at once and then every IDP_BACKCHANNEL_POLL_MS. */
int idp_backchannel_start(idp_t *idp, idp_backchannel_t **out);
/* Stops and joins the thread (a pass in progress finishes first); NULL is ignored. */
void idp_backchannel_stop(idp_backchannel_t *bc);

#endif
