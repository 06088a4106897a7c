/* The admin console's OAuth Clients section (SPEC §11): /admin/clients and its forms. */
#ifndef IDP_ADMIN_CLIENTS_H
#define IDP_ADMIN_CLIENTS_H

#include "idp/console.h"

/* Registers /admin/clients, /admin/clients/new, /admin/clients/edit, /admin/clients/rotate-secret and
 * /admin/clients/delete. */
void idp_admin_clients_register(idp_t *idp);

#endif
