/* hubctl keys: list, rotate, retire, revoke the primary's signing keys (idp/keys.h). */
#include <stdio.h>
#include <time.h>
#include "hub/err.h"
#include "hub/jws.h"
#include "idp/keys.h"
#include "tools/hubctl/hubctl.h"

/* A new key where private keys are sealed needs the cluster secret, which the running primary names in the store */
#define SEALED_WITHOUT_SECRET                                                                                                      \
    "the store's private keys are sealed with a cluster secret and no primary of the cluster has named its file yet "              \
    "(start one with primary.cluster_secret_file)"

static const char *utc(char *buf, size_t size, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "%llu", (unsigned long long)t);
    return buf;
}

static json_t *time_or_null(uint64_t t)
{
    return t != 0 ? json_integer((json_int_t)t) : json_null();
}

static int print_key_row(void *arg, const idp_key_info_t *k)
{
    json_t *list = arg;
    if (list != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "kid", json_string(k->kid));
        json_object_set_new(o, "alg", json_string(hub_alg_name(k->alg)));
        json_object_set_new(o, "state", json_string(idp_key_state_name(k->state)));
        json_object_set_new(o, "created_at", json_integer((json_int_t)k->created_at));
        json_object_set_new(o, "first_served", time_or_null(k->first_served));
        json_object_set_new(o, "activate_at", time_or_null(k->activate_at));
        json_object_set_new(o, "publish_until", time_or_null(k->publish_until));
        json_object_set_new(o, "revoked_at", time_or_null(k->revoked_at));
        json_array_append_new(list, o);
    } else {
        char activate[32], until[32];
        printf("%-24s %-6s %-9s %-21s %s\n", k->kid, hub_alg_name(k->alg), idp_key_state_name(k->state),
               k->activate_at != 0 ? utc(activate, sizeof(activate), k->activate_at) : "when-served",
               k->publish_until != 0 ? utc(until, sizeof(until), k->publish_until) : "-");
    }
    return 0;
}

static int cmd_keys_list(ctl_t *ctl, int argc, char **argv)
{
    hub_config_t cfg;
    json_t *list;
    int ret;

    if ((ret = ctl_list_begin(ctl, argc, argv, "KID                      ALG    STATE     ACTIVATE_AT           PUBLISH_UNTIL\n",
                              &list)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = ctl_keys_config(ctl, &cfg)) == 0)
        ret = idp_keys_list(ctl->store, &cfg, print_key_row, list);
    hub_config_dispose(&cfg);
    return ctl_list_end(ctl, list, ret);
}

static int cmd_keys_rotate(ctl_t *ctl, int argc, char **argv)
{
    idp_keyvault_t *vault = NULL;
    hub_config_t cfg;
    char kid[64] = "";
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 0, NULL, NULL)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = ctl_keys_config(ctl, &cfg)) == 0) {
        if ((ret = ctl_keys_vault(ctl, &cfg, &vault)) != EXIT_OK) {
            hub_config_dispose(&cfg);
            return ret;
        }
        ret = idp_keys_rotate(ctl->store, &cfg, vault, kid);
    }
    idp_keyvault_close(vault);
    hub_config_dispose(&cfg);
    if (ret == HUB_E_DENIED)
        return ctl_say(EXIT_RUNTIME, "keys rotate: %s", SEALED_WITHOUT_SECRET);
    if (ret == HUB_E_EXISTS)
        return ctl_say(EXIT_RUNTIME, "keys rotate: the next key %s is already published and activates on schedule", kid);
    if (ret != 0)
        return ctl_say(EXIT_RUNTIME, "keys rotate: %s", hub_strerror(ret));
    printf("next: %s\n", kid);
    return EXIT_OK;
}

/* What idp_keys_retire's refusals mean to the operator (idp/keys.h words them, as for the admin console). */
static int retire_refused(int ret, const char *kid)
{
    idp_invalid_t inv;

    if (!idp_keys_retire_refusal(ret, kid, &inv))
        return ctl_say(EXIT_RUNTIME, "keys retire: %s", hub_strerror(ret));
    return ctl_say_invalid(ret == HUB_E_NOTFOUND ? EXIT_USAGE : EXIT_RUNTIME, &inv);
}

/* keys retire / revoke KID: the argument and the keyring's config (*cfg to dispose once EXIT_OK is returned). EXIT_OK,
 * an exit code, or a negative value for --help (CTL_ARGS_DONE). */
static int kid_command(ctl_t *ctl, int argc, char **argv, const char **kid, hub_config_t *cfg)
{
    static const char *const names[] = {"KID"};
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 1, names, kid)) != EXIT_OK)
        return ret;
    if ((ret = ctl_keys_config(ctl, cfg)) != 0) {
        hub_config_dispose(cfg);
        return ctl_say(EXIT_RUNTIME, "%s: %s", ctl->cmd->words, hub_strerror(ret));
    }
    return EXIT_OK;
}

static int cmd_keys_retire(ctl_t *ctl, int argc, char **argv)
{
    hub_config_t cfg;
    const char *kid;
    int ret;

    if ((ret = kid_command(ctl, argc, argv, &kid, &cfg)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    ret = idp_keys_retire(ctl->store, &cfg, kid);
    hub_config_dispose(&cfg);
    return ret != 0 ? retire_refused(ret, kid) : EXIT_OK;
}

/* Emergency removal (SPEC §4): the running primary drops the key within a second and tells every node. */
static int cmd_keys_revoke(ctl_t *ctl, int argc, char **argv)
{
    idp_keyvault_t *vault = NULL;
    idp_revoke_result_t res;
    hub_config_t cfg;
    const char *kid;
    int ret;

    if ((ret = kid_command(ctl, argc, argv, &kid, &cfg)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = ctl_keys_vault(ctl, &cfg, &vault)) != EXIT_OK) {
        hub_config_dispose(&cfg);
        return ret;
    }
    ret = idp_keys_revoke(ctl->store, &cfg, vault, kid, &res);
    idp_keyvault_close(vault);
    hub_config_dispose(&cfg);
    if (ret == HUB_E_DENIED)
        return ctl_say(EXIT_RUNTIME, "keys revoke: %s is the signing key and no next key can take over: %s", kid,
                       SEALED_WITHOUT_SECRET);
    if (ret == HUB_E_NOTFOUND)
        return ctl_say(EXIT_USAGE, "KID: no key \"%s\"", kid);
    if (ret != 0)
        return ctl_say(EXIT_RUNTIME, "keys revoke: %s", hub_strerror(ret));
    printf("revoked: %s%s\n", kid, res.already ? " (already revoked; the nodes are told again)" : "");
    if (res.signer[0] != '\0')
        printf("signing: %s\n", res.signer);
    return EXIT_OK;
}

const ctl_command_t ctl_keys_commands[] = {
    {"keys list", cmd_keys_list, "[--json]"},
    {"keys rotate", cmd_keys_rotate, ""},
    {"keys retire", cmd_keys_retire, "KID"},
    {"keys revoke", cmd_keys_revoke, "KID"},
    {NULL},
};
