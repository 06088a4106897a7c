/* Registers the consoles' routes: each module's exact pages first, then the folders (h2o takes the first route
 * registered that is a prefix of a path). */
#include "idp/account.h"
#include "idp/admin.h"
#include "idp/admin_clients.h"
#include "idp/admin_nodes.h"
#include "idp/admin_roles.h"
#include "idp/admin_users.h"
#include "idp/consoles.h"

void idp_consoles_register(idp_t *idp)
{
    idp_account_register(idp);
    idp_admin_register(idp);
    idp_admin_clients_register(idp);
    idp_admin_users_register(idp);
    idp_admin_roles_register(idp);
    idp_admin_nodes_register(idp);
    idp_console_register_tail(idp, idp_admin_home(), idp_account_home());
}
