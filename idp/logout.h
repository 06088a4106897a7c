/* OIDC Back-Channel Logout delivery, shared by the RP-initiated logout endpoint and the sign-out page. */
#ifndef IDP_LOGOUT_H
#define IDP_LOGOUT_H

#include "idp/idp.h"
#include "idp/session.h"

/* Sends a logout_token (OIDC Back-Channel Logout 1.0 §2.4) to every client of the ended session that registered a
 * backchannel_logout_uri: a form POST through idp->fetcher, fire-and-forget with retries, so it never blocks the
 * calling loop. ended is borrowed (the caller still frees it); NULL is ignored. */
void idp_logout_notify(idp_t *idp, const idp_session_t *ended);

#endif
