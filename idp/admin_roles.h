/* The admin console's Roles section (SPEC §11): the list, a new role, deleting one (idp_role_remove, as hubctl). */
#ifndef IDP_ADMIN_ROLES_H
#define IDP_ADMIN_ROLES_H

#include "idp/console.h"

/* Registers /admin/roles, /admin/roles/add and /admin/roles/delete. */
void idp_admin_roles_register(idp_t *idp);

#endif
