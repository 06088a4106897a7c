/* The admin console's Users section (SPEC §11): /admin/users and a user's page with its changes. */
#ifndef IDP_ADMIN_USERS_H
#define IDP_ADMIN_USERS_H

#include "idp/console.h"

/* Registers /admin/users (search, pages), /admin/users/new, /admin/users/edit and the changes (state, roles, password,
 * delete). */
void idp_admin_users_register(idp_t *idp);

#endif
