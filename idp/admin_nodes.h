/* The admin console's Nodes and Signing Keys sections (SPEC §11). */
#ifndef IDP_ADMIN_NODES_H
#define IDP_ADMIN_NODES_H

#include "idp/console.h"

/* Registers /admin/nodes (with /admin/nodes/join-token and /admin/nodes/revoke) and /admin/keys (with rotate, retire
 * and revoke). */
void idp_admin_nodes_register(idp_t *idp);

#endif
