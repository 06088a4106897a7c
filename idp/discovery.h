/* Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS. */
#ifndef IDP_DISCOVERY_H
#define IDP_DISCOVERY_H

#include "idp/ctx.h"

/* Registers both discovery documents and /oauth2/jwks, and hands key revocations to the nodes (POST
 * /auth/jwks-changed through hub/fetch). */
void idp_discovery_register(idp_t *idp);

#endif
