/* Dynamic client registration (RFC 7591) with join tokens, and the RFC 7592 read of a registration. */
#ifndef IDP_REGISTER_H
#define IDP_REGISTER_H

#include "idp/ctx.h"

/* Registers /oauth2/register (and /oauth2/register/<client_id> below it) and its Frappe alias (register_client). */
void idp_register_register(idp_t *idp);

#endif
