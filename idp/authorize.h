/* The authorization endpoint (RFC 6749 §4.1/§4.2, OIDC Core §3). */
#ifndef IDP_AUTHORIZE_H
#define IDP_AUTHORIZE_H

#include "idp/ctx.h"

/* Registers /oauth2/authorize and its Frappe alias. */
void idp_authorize_register(idp_t *idp);

#endif
