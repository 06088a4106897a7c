/* hubctl settings: show and set the OAuth Provider Settings. */
#include <stdio.h>
#include <string.h>
#include "hub/err.h"
#include "idp/settings.h"
#include "tools/hubctl/hubctl.h"

static int cmd_settings_show(ctl_t *ctl, int argc, char **argv)
{
    hub_config_t cfg;
    hub_txn_t *txn;
    hub_skip_auth_t skip;
    int ret, stored;

    if ((ret = ctl_simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) != 0)
        return ctl_say(EXIT_RUNTIME, "settings show: %s", hub_strerror(ret));
    hub_config_defaults(&cfg);
    skip = idp_settings_skip_authorization(txn, &cfg);
    stored = idp_settings_skip_authorization_stored(txn);
    hub_store_read_end(txn);
    hub_config_dispose(&cfg);
    if (ctl->json) {
        json_t *o = json_object();
        json_object_set_new(o, IDP_SETTING_SKIP_AUTHORIZATION, json_string(idp_skip_auth_name(skip)));
        json_object_set_new(o, "stored", json_boolean(stored));
        ctl_print_json(o);
    } else {
        printf("%s: %s%s\n", IDP_SETTING_SKIP_AUTHORIZATION, idp_skip_auth_name(skip),
               stored ? "" : " (not stored: the primary's configured primary.skip_authorization applies, default force)");
    }
    return EXIT_OK;
}

static int settings_set_txn(hub_txn_t *txn, void *arg)
{
    return idp_settings_set_skip_authorization(txn, *(hub_skip_auth_t *)arg);
}

static int cmd_settings_set(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"NAME", "VALUE"};
    const char *pos[2];
    hub_skip_auth_t value;
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 2, names, pos)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if (strcmp(pos[0], IDP_SETTING_SKIP_AUTHORIZATION) != 0)
        return ctl_say(EXIT_USAGE, "NAME: unknown setting \"%s\" (known: %s)", pos[0], IDP_SETTING_SKIP_AUTHORIZATION);
    if (idp_skip_auth_parse(pos[1], &value) != 0)
        return ctl_say(EXIT_USAGE, "%s: \"%s\" is not force or auto", IDP_SETTING_SKIP_AUTHORIZATION, pos[1]);
    return ctl_write(ctl, settings_set_txn, &value);
}

const ctl_command_t ctl_settings_commands[] = {
    {"settings show", cmd_settings_show, "[--json]"},
    {"settings set", cmd_settings_set, "skip_authorization force|auto"},
    {NULL},
};
