/* Tests idp/role.c: role records, the built-in roles, name checks and existence checks naming their field, and that a
 * refused change writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/role.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

static int roles_txn(hub_txn_t *txn, void *arg)
{
    idp_strv_t sv;

    CHECK(idp_role_add(txn, IDP_ROLE_SYSTEM_MANAGER) == 0);
    CHECK(idp_role_add(txn, IDP_ROLE_GUEST) == 0);
    CHECK(idp_role_add(txn, "Employee") == 0);
    CHECK(idp_role_add(txn, "Auditor") == 0);
    CHECK(idp_role_add(txn, "Employee") == HUB_E_EXISTS);
    CHECK(idp_role_add(txn, "") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, "a;b") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, " lead") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, "bad\x01") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, "bad\xff") == HUB_E_INVAL);
    CHECK(idp_role_exists(txn, "System Manager") && idp_role_exists(txn, "Employee"));
    CHECK(!idp_role_exists(txn, "employee") && !idp_role_exists(txn, "") && !idp_role_exists(txn, NULL));
    CHECK(idp_role_list(txn, &sv) == 0);
    CHECK(sv.n == 4 && strcmp(sv.v[0], "Auditor") == 0 && strcmp(sv.v[3], "System Manager") == 0 && sv.v[4] == NULL);
    idp_strv_free(&sv);
    CHECK(idp_role_del(txn, "Nope") == HUB_E_NOTFOUND);
    CHECK(idp_role_del(txn, IDP_ROLE_GUEST) == HUB_E_DENIED);
    CHECK(idp_role_del(txn, "Auditor") == 0);
    CHECK(!idp_role_exists(txn, "Auditor"));
    CHECK(idp_role_add(txn, "Temp") == 0);
    return 0;
}

/* The built-in roles are added once and cannot be deleted. */
static int builtin_txn(hub_txn_t *txn, void *arg)
{
    idp_strv_t sv;
    CHECK(idp_roles_add_builtin(txn) == 0); /* both exist already: nothing to do */
    CHECK(idp_role_list(txn, &sv) == 0 && sv.n == 4);
    idp_strv_free(&sv);
    for (size_t i = 0; idp_builtin_roles[i] != NULL; ++i) {
        CHECK(idp_role_is_builtin(idp_builtin_roles[i]));
        CHECK(idp_role_del(txn, idp_builtin_roles[i]) == HUB_E_DENIED);
    }
    CHECK(!idp_role_is_builtin("Employee") && !idp_role_is_builtin("system manager") && !idp_role_is_builtin(NULL));
    return 0;
}

/* The name and existence checks name the field they were given and quote the name on one line. */
static int role_checks_txn(hub_txn_t *txn, void *arg)
{
    static const char *const bad[] = {"", "a;b", " lead", "trail ", "bad\x01", "bad\xff", "new\nline"};
    idp_invalid_t inv;
    idp_strv_t sv;

    CHECK(idp_role_name_check("System Manager", IDP_FIELD_ROLE, &inv) == 0);
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        memset(&inv, 0, sizeof(inv));
        CHECK(idp_role_name_check(bad[i], IDP_FIELD_ALLOWED_ROLES, &inv) == HUB_E_INVAL);
        CHECK(inv.field == IDP_FIELD_ALLOWED_ROLES && strstr(inv.text, "is not a valid role name") != NULL);
        CHECK(strchr(inv.text, '\n') == NULL && strchr(inv.text, '\x01') == NULL);
    }
    CHECK(idp_role_name_check(NULL, IDP_FIELD_ROLE, NULL) == HUB_E_INVAL);
    idp_strv_split(&sv, "Employee;Ghost;Phantom", 0);
    CHECK(idp_roles_exist(txn, &sv, IDP_FIELD_USER_ROLES, &inv) == HUB_E_NOTFOUND);
    CHECK(inv.field == IDP_FIELD_USER_ROLES && strcmp(inv.text, "role \"Ghost\" does not exist") == 0);
    idp_strv_free(&sv);
    idp_strv_split(&sv, "Employee;System Manager", 0);
    CHECK(idp_roles_exist(txn, &sv, IDP_FIELD_USER_ROLES, &inv) == 0);
    idp_strv_free(&sv);
    return 0;
}

/* A refused change writes nothing: the caller's transaction is aborted. */
static int refused_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_role_add(txn, "Rolled Back") == 0);
    return HUB_E_INVAL;
}

int main(void)
{
    char *dir = test_tmpdir("idp-role");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        test_tmpdir_remove(dir);
        return 1;
    }
    CHECK(in_write(roles_txn, NULL) == 0);
    CHECK(in_write(builtin_txn, NULL) == 0);
    CHECK(in_write(role_checks_txn, NULL) == 0);
    CHECK(in_write(refused_txn, NULL) == HUB_E_INVAL);
    hub_txn_t *txn;
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(!idp_role_exists(txn, "Rolled Back"));
    hub_store_read_end(txn);

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/role");
}
