/* Role records (key = the name), the built-in roles, and the holders that keep a role from being deleted. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "idp/record.h"
#include "idp/role.h"
#include "hub/util.h"

const char *const idp_builtin_roles[] = {IDP_ROLE_SYSTEM_MANAGER, IDP_ROLE_GUEST, NULL};

int idp_role_is_builtin(const char *role)
{
    for (size_t i = 0; idp_builtin_roles[i] != NULL; ++i)
        if (role != NULL && strcmp(role, idp_builtin_roles[i]) == 0)
            return 1;
    return 0;
}

int idp_roles_add_builtin(hub_txn_t *txn)
{
    int ret;
    for (size_t i = 0; idp_builtin_roles[i] != NULL; ++i)
        if (!idp_role_exists(txn, idp_builtin_roles[i]) && (ret = idp_role_add(txn, idp_builtin_roles[i])) != 0)
            return ret;
    return 0;
}

int idp_role_name_check(const char *role, idp_field_t field, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    size_t n = role != NULL ? strlen(role) : 0;

    if (n != 0 && n <= IDP_ROLE_MAX && strchr(role, ';') == NULL && !isspace((unsigned char)role[0]) &&
        !isspace((unsigned char)role[n - 1]) && idp_record_printable(role))
        return 0;
    return idp_invalid(inv, field,
                       "\"%s\" is not a valid role name (1 to %d bytes of printable UTF-8, no ';', no surrounding spaces)",
                       idp_quote(q, sizeof(q), role), IDP_ROLE_MAX);
}

int idp_roles_exist(hub_txn_t *txn, const idp_strv_t *roles, idp_field_t field, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];

    for (size_t i = 0; i != roles->n; ++i)
        if (!idp_role_exists(txn, roles->v[i])) {
            idp_invalid(inv, field, "role \"%s\" does not exist", idp_quote(q, sizeof(q), roles->v[i]));
            return HUB_E_NOTFOUND;
        }
    return 0;
}

int idp_role_exists(hub_txn_t *txn, const char *role)
{
    hub_val_t v;
    return role != NULL && role[0] != '\0' && hub_store_get(txn, HUB_T_ROLES, role, strlen(role), &v) == 0;
}

int idp_role_add(hub_txn_t *txn, const char *role)
{
    json_t *o;
    int ret;

    if (idp_role_name_check(role, IDP_FIELD_ROLE, NULL) != 0)
        return HUB_E_INVAL;
    o = json_object();
    idp_record_set_str(o, "name", role);
    idp_record_set_uint(o, "created_at", hub_now());
    ret = hub_store_put_json(txn, HUB_T_ROLES, role, o, 0, HUB_STORE_NOOVERWRITE);
    json_decref(o);
    return ret;
}

static int json_array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *item;
    json_array_foreach(arr, i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), s) == 0)
            return 1;
    }
    return 0;
}

/* Returns HUB_E_BUSY when the record (a user or a client) holds the role. The records are read as JSON by their field
 * names ("roles" of a user, "allowed_roles" and "service_roles" of a client) so that roles stay below the modules of
 * the records that name them. */
static int holds_role_cb(void *arg, hub_val_t key, hub_val_t val)
{
    static const char *const fields[] = {"roles", "allowed_roles", "service_roles"};
    json_t *o = json_loadb(val.data, val.len, 0, NULL);
    int busy = 0;

    for (size_t i = 0; o != NULL && !busy && i != sizeof(fields) / sizeof(fields[0]); ++i)
        busy = json_array_has(json_object_get(o, fields[i]), arg);
    json_decref(o);
    return busy ? HUB_E_BUSY : 0;
}

int idp_role_held_by_client(hub_txn_t *txn, const char *role)
{
    int ret = hub_store_each(txn, HUB_T_CLIENTS, NULL, 0, holds_role_cb, (void *)role);
    return ret == HUB_E_BUSY ? 1 : ret;
}

int idp_role_del(hub_txn_t *txn, const char *role)
{
    int ret;

    if (!idp_role_exists(txn, role))
        return HUB_E_NOTFOUND;
    if (idp_role_is_builtin(role))
        return HUB_E_DENIED;
    if ((ret = hub_store_each(txn, HUB_T_USERS, NULL, 0, holds_role_cb, (void *)role)) != 0 ||
        (ret = hub_store_each(txn, HUB_T_CLIENTS, NULL, 0, holds_role_cb, (void *)role)) != 0)
        return ret;
    return hub_store_del(txn, HUB_T_ROLES, role, strlen(role));
}

static int role_list_cb(void *arg, hub_val_t key, hub_val_t val)
{
    idp_strv_t *sv = arg;
    char **v = hub_xrealloc(sv->v, (sv->n + 2) * sizeof(char *));
    sv->v = v;
    v[sv->n] = hub_xstrndup(key.data, key.len);
    v[++sv->n] = NULL;
    return 0;
}

int idp_role_list(hub_txn_t *txn, idp_strv_t *out)
{
    int ret;

    out->n = 0;
    out->v = hub_xcalloc(1, sizeof(char *));
    if ((ret = hub_store_each(txn, HUB_T_ROLES, NULL, 0, role_list_cb, out)) != 0)
        idp_strv_free(out);
    return ret;
}

int idp_role_create(hub_txn_t *txn, const char *role, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    int ret;

    if ((ret = idp_role_name_check(role, IDP_FIELD_ROLE, inv)) != 0)
        return ret;
    if ((ret = idp_role_add(txn, role)) == HUB_E_EXISTS)
        idp_invalid(inv, IDP_FIELD_ROLE, "role \"%s\" already exists", idp_quote(q, sizeof(q), role));
    return ret;
}

int idp_role_refusal(int ret, const char *role, idp_invalid_t *inv)
{
    static const struct {
        int ret;
        const char *fmt;
    } why[] = {
        {HUB_E_NOTFOUND, "no role \"%s\""},
        {HUB_E_DENIED, "\"%s\" is a built-in role"},
        {HUB_E_BUSY, "\"%s\" is still held by a client"},
    };
    char q[IDP_QUOTE_MAX];

    for (size_t i = 0; i != sizeof(why) / sizeof(why[0]); ++i)
        if (why[i].ret == ret) {
            idp_invalid(inv, IDP_FIELD_ROLE, why[i].fmt, idp_quote(q, sizeof(q), role));
            break;
        }
    return ret;
}
