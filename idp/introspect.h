/* Token introspection (RFC 7662) for authenticated clients. */
#ifndef IDP_INTROSPECT_H
#define IDP_INTROSPECT_H

#include "idp/ctx.h"

/* Registers /oauth2/introspect and its Frappe alias (introspect_token). */
void idp_introspect_register(idp_t *idp);

#endif
