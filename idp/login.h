/* /login: the sign-in form and its password check on the worker pool (SPEC §4 sign-in page). */
#ifndef IDP_LOGIN_H
#define IDP_LOGIN_H

#include "idp/ctx.h"

/* Registers /login and starts the password-check workers (hub_server_use_workpool). Returns 0, or HUB_E_IO when no
 * worker could start. */
int idp_login_register(idp_t *idp);
/* Frees the module's state, after the server (its loops and pool) stopped. */
void idp_login_dispose(idp_t *idp);

#endif
