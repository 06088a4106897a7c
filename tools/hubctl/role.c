/* hubctl role: add, list, del. */
#include <stdio.h>
#include "hub/err.h"
#include "idp/revocation.h"
#include "idp/role.h"
#include "tools/hubctl/hubctl.h"

typedef struct {
    ctl_t *ctl;
    const char *role;
} role_arg_t;

static int role_add_txn(hub_txn_t *txn, void *arg)
{
    role_arg_t *a = arg;
    idp_invalid_t inv;
    int ret = idp_role_create(txn, a->role, &inv);
    return ret == HUB_E_INVAL || ret == HUB_E_EXISTS ? ctl_refuse_invalid(a->ctl, EXIT_USAGE, &inv) : ret;
}

static int role_del_txn(hub_txn_t *txn, void *arg)
{
    role_arg_t *a = arg;
    idp_invalid_t inv;
    /* users holding it lose it (their sessions and tokens end); a client holding it keeps it and refuses the deletion */
    int ret = idp_role_remove(txn, a->role);
    if (ret != HUB_E_NOTFOUND && ret != HUB_E_DENIED && ret != HUB_E_BUSY)
        return ret;
    idp_role_refusal(ret, a->role, &inv);
    return ctl_refuse_invalid(a->ctl, ret == HUB_E_BUSY ? EXIT_RUNTIME : EXIT_USAGE, &inv);
}

static int cmd_role_change(ctl_t *ctl, int argc, char **argv, int (*fn)(hub_txn_t *, void *))
{
    static const char *const names[] = {"ROLE"};
    role_arg_t a = {ctl};
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 1, names, &a.role)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    return ctl_write(ctl, fn, &a);
}

static int cmd_role_add(ctl_t *ctl, int argc, char **argv)
{
    return cmd_role_change(ctl, argc, argv, role_add_txn);
}

static int cmd_role_del(ctl_t *ctl, int argc, char **argv)
{
    return cmd_role_change(ctl, argc, argv, role_del_txn);
}

static int cmd_role_list(ctl_t *ctl, int argc, char **argv)
{
    hub_txn_t *txn;
    idp_strv_t roles = {0};
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = idp_role_list(txn, &roles);
        hub_store_read_end(txn);
    }
    if (ret != 0)
        return ctl_say(EXIT_RUNTIME, "role list: %s", hub_strerror(ret));
    if (ctl->json) {
        ctl_print_json(idp_strv_to_json(&roles));
    } else {
        for (size_t i = 0; i != roles.n; ++i)
            printf("%s\n", roles.v[i]);
    }
    idp_strv_free(&roles);
    return EXIT_OK;
}

const ctl_command_t ctl_role_commands[] = {
    {"role add", cmd_role_add, "ROLE"},
    {"role list", cmd_role_list, "[--json]"},
    {"role del", cmd_role_del, "ROLE"},
    {NULL},
};
