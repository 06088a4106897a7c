/* The token endpoint (RFC 6749 §3.2): client authentication, then the grant types' table. */
#ifndef IDP_TOKEN_H
#define IDP_TOKEN_H

#include "idp/ctx.h"

/* Registers /oauth2/token and its Frappe alias (get_token). */
void idp_token_register(idp_t *idp);

#endif
