/* Sign-out on the primary (SPEC §4 logout): /oauth2/logout (RP-initiated), /logout (the confirmation page and its
 * form) and the back-channel logout tokens sent to the clients of an ended session. */
#ifndef IDP_LOGOUT_H
#define IDP_LOGOUT_H

#include "idp/ctx.h"

/* Registers /oauth2/logout and /logout. */
void idp_logout_register(idp_t *idp);

#endif
