/* The consoles of SPEC §11 on a primary: every page of /admin/ and /account/ registered in order (the exact pages, then
 * the folders with their overview pages, the stylesheet and the redirects of "/admin" and "/account"). */
#ifndef IDP_CONSOLES_H
#define IDP_CONSOLES_H

#include "idp/ctx.h"

/* Registers every console route on idp's server; only before the server runs. */
void idp_consoles_register(idp_t *idp);

#endif
