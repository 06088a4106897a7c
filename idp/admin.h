/* The admin console's own pages (SPEC §11): the overview, the OAuth Provider Settings and the audit log; the other
 * sections have their modules (admin_clients, admin_users, admin_nodes). */
#ifndef IDP_ADMIN_H
#define IDP_ADMIN_H

#include "idp/console.h"

/* Registers /admin/settings (GET, POST) and /admin/audit (GET). */
void idp_admin_register(idp_t *idp);
/* GET /admin/: the sections (for idp_console_register_tail). */
const idp_console_page_t *idp_admin_home(void);

#endif
