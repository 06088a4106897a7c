/* hubctl init: creates a data dir (or a PostgreSQL schema, or migrates an older one) with its first signing key and the
 * built-in roles. */
#include <stdio.h>
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/store_pg.h"
#include "idp/keys.h"
#include "idp/role.h"
#include "tools/hubctl/hubctl.h"

/* What init makes: the data dir, or on PostgreSQL the database (its host, port and name; never its password). */
static const char *init_where(const ctl_t *ctl, char *buf, size_t size)
{
    if (ctl->cfg == NULL || ctl->cfg->store.backend != HUB_STORE_POSTGRESQL)
        return ctl->data_dir;
    hub_store_pg_where(ctl->cfg->store.pg_conninfo, buf, size);
    return buf;
}

static int count_key(void *arg, const idp_key_info_t *info)
{
    ++*(size_t *)arg;
    return 0;
}

static int init_roles_txn(hub_txn_t *txn, void *arg)
{
    return idp_roles_add_builtin(txn);
}

/* *yes when the data dir holds a key or the built-in roles already. */
static int initialised(ctl_t *ctl, int *yes)
{
    hub_config_t cfg;
    hub_txn_t *txn;
    size_t keys = 0;
    int ret;

    *yes = 0;
    if ((ret = ctl_keys_config(ctl, &cfg)) == 0 && (ret = idp_keys_list(ctl->store, &cfg, count_key, &keys)) == 0 &&
        (ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        *yes = keys != 0 || idp_role_exists(txn, IDP_ROLE_SYSTEM_MANAGER);
        hub_store_read_end(txn);
    }
    hub_config_dispose(&cfg);
    return ret;
}

/* The first signing key, its private key where the store keeps them (a file, unless a cluster's primary sealed them). */
static int init_key(ctl_t *ctl, hub_alg_t alg)
{
    char where[300];
    hub_config_t cfg;
    idp_keyvault_t *vault = NULL;
    int ret;

    if ((ret = ctl_keys_config(ctl, &cfg)) != 0) {
        hub_config_dispose(&cfg);
        return ctl_say(EXIT_RUNTIME, "%s: %s", init_where(ctl, where, sizeof(where)), hub_strerror(ret));
    }
    if ((ret = ctl_keys_vault(ctl, &cfg, &vault)) == EXIT_OK && (ret = idp_keys_init(ctl->store, vault, alg)) != 0)
        ret = ctl_say(EXIT_RUNTIME, "%s: %s", init_where(ctl, where, sizeof(where)),
                      ret == HUB_E_EXISTS ? "already initialised" : "cannot create the signing key");
    idp_keyvault_close(vault);
    hub_config_dispose(&cfg);
    return ret;
}

static int cmd_init(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"alg", required_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {0}};
    hub_alg_t alg = HUB_ALG_RS256;
    char buf[300];
    const char *where;
    int c, ret, yes;

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'a') {
            if (hub_alg_parse(optarg, &alg) != 0)
                return ctl_say(EXIT_USAGE, "--alg: \"%s\" is not RS256, ES256 or EdDSA", optarg);
        } else if (c == 'h') {
            return ctl_print_usage(ctl);
        } else {
            return ctl_bad_option(ctl, c, argv);
        }
    }
    if ((ret = ctl_positionals(ctl, argc, argv, 0, NULL, NULL)) != EXIT_OK)
        return ret;
    if ((ret = ctl_open_store(ctl, 1)) != EXIT_OK)
        return ret;
    where = init_where(ctl, buf, sizeof(buf));
    if (ctl->schema[0] != '\0')
        printf("%s: %s\n", where, ctl->schema);
    if ((ret = initialised(ctl, &yes)) != 0)
        return ctl_say(EXIT_RUNTIME, "%s: %s", where, hub_strerror(ret));
    if (yes && ctl->schema[0] != '\0')
        return EXIT_OK; /* an init that migrated the schema of an initialised store */
    if (yes)
        return ctl_say(EXIT_RUNTIME, "%s: already initialised", where);
    if ((ret = init_key(ctl, alg)) != EXIT_OK)
        return ret;
    if ((ret = hub_store_write(ctl->store, init_roles_txn, NULL)) != 0)
        return ctl_say(EXIT_RUNTIME, "%s: cannot create the roles: %s", where, hub_strerror(ret));
    printf("initialised %s (signing key %s, roles \"%s\" and \"%s\")\n", where, hub_alg_name(alg), IDP_ROLE_SYSTEM_MANAGER,
           IDP_ROLE_GUEST);
    return EXIT_OK;
}

const ctl_command_t ctl_init_commands[] = {
    {"init", cmd_init, "[--alg RS256|ES256|EdDSA]", 1},
    {NULL},
};
