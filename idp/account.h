/* /account/ (SPEC §11): the page of every signed-in user and its changes (idp/console.h's gate in front). */
#ifndef IDP_ACCOUNT_H
#define IDP_ACCOUNT_H

#include "idp/console.h"

/* Registers /account/password, /account/revoke and /account/sign-out-everywhere (POST). */
void idp_account_register(idp_t *idp);
/* GET /account/: the profile, the apps holding a grant, the password form, sign out everywhere (for
 * idp_console_register_tail). */
const idp_console_page_t *idp_account_home(void);

#endif
