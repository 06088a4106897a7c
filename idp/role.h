/* Roles: named records that users hold and clients name (allowed_roles, service roles), two of them built in. */
#ifndef IDP_ROLE_H
#define IDP_ROLE_H

#include "hub/store.h"
#include "idp/invalid.h"
#include "idp/strv.h"

#define IDP_ROLE_SYSTEM_MANAGER "System Manager"
#define IDP_ROLE_GUEST "Guest"
#define IDP_ROLE_MAX 128 /* bytes */

/* The roles every data dir has (hubctl init, hubd on a fresh data dir) and that cannot be deleted; NULL-terminated. */
extern const char *const idp_builtin_roles[];
int idp_role_is_builtin(const char *role);
/* Adds the built-in roles that are missing, inside txn. */
int idp_roles_add_builtin(hub_txn_t *txn);

/* 0 when role is a well-formed name: 1..IDP_ROLE_MAX bytes of printable UTF-8 without ';' or surrounding spaces; else
 * HUB_E_INVAL with *inv naming field (where the name came from: ROLE, --role, --allowed-roles). */
int idp_role_name_check(const char *role, idp_field_t field, idp_invalid_t *inv);
/* 0 when every role of roles exists; else HUB_E_NOTFOUND with the first missing one named in *inv under field. */
int idp_roles_exist(hub_txn_t *txn, const idp_strv_t *roles, idp_field_t field, idp_invalid_t *inv);

int idp_role_exists(hub_txn_t *txn, const char *role);
/* HUB_E_EXISTS; HUB_E_INVAL unless idp_role_name_check accepts it. */
int idp_role_add(hub_txn_t *txn, const char *role);
/* An operator's new role: idp_role_name_check, then idp_role_add; a refusal (HUB_E_INVAL, HUB_E_EXISTS) fills *inv
 * (field IDP_FIELD_ROLE). What hubctl role add and the admin console both run. */
int idp_role_create(hub_txn_t *txn, const char *role, idp_invalid_t *inv);
/* Says in *inv (field IDP_FIELD_ROLE) why idp_role_remove (idp/revocation.h) refused role with ret (HUB_E_NOTFOUND,
 * HUB_E_DENIED, HUB_E_BUSY); returns ret. */
int idp_role_refusal(int ret, const char *role, idp_invalid_t *inv);
/* HUB_E_NOTFOUND; HUB_E_BUSY while a user or client holds it; HUB_E_DENIED for the built-in roles.
 * idp_role_remove (idp/revocation.h) takes it from its users first. */
int idp_role_del(hub_txn_t *txn, const char *role);
/* 1 when a client (allowed_roles or service roles) holds role, 0 when none, or a negative store error. */
int idp_role_held_by_client(hub_txn_t *txn, const char *role);
/* Every role in name order into *out (the caller frees it with idp_strv_free). */
int idp_role_list(hub_txn_t *txn, idp_strv_t *out);

#endif
