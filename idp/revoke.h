/* Token revocation (RFC 7009) for authenticated clients. */
#ifndef IDP_REVOKE_H
#define IDP_REVOKE_H

#include "idp/ctx.h"

/* Registers /oauth2/revoke and its Frappe alias (revoke_token). */
void idp_revoke_register(idp_t *idp);

#endif
