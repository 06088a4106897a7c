/* Tests idp/settings.c: the stored skip_authorization setting over the config's, and its names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/settings.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

static int settings_txn(hub_txn_t *txn, void *arg)
{
    hub_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.primary.skip_authorization = HUB_SKIP_AUTH_AUTO;
    CHECK(!idp_settings_skip_authorization_stored(txn));
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_AUTO); /* nothing stored: the config's */
    cfg.primary.skip_authorization = HUB_SKIP_AUTH_FORCE;
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_FORCE);
    CHECK(idp_settings_set_skip_authorization(txn, HUB_SKIP_AUTH_AUTO) == 0);
    CHECK(idp_settings_skip_authorization_stored(txn));
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_AUTO); /* stored value wins */
    CHECK(idp_settings_skip_authorization(txn, NULL) == HUB_SKIP_AUTH_AUTO);
    cfg.primary.skip_authorization = HUB_SKIP_AUTH_AUTO;
    CHECK(idp_settings_set_skip_authorization(txn, HUB_SKIP_AUTH_FORCE) == 0);
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_FORCE);
    CHECK(idp_settings_set_skip_authorization(txn, (hub_skip_auth_t)7) == HUB_E_INVAL);
    /* a value that is no setting's (written by something else) reads as not stored */
    CHECK(hub_store_put(txn, HUB_T_SETTINGS, IDP_SETTING_SKIP_AUTHORIZATION, 18, "autox", 5, 0, 0) == 0);
    CHECK(!idp_settings_skip_authorization_stored(txn) && idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_AUTO);
    return 0;
}

static void test_names(void)
{
    static const char *const bad[] = {"", "Force", "forc", "forced", "auto ", "\nauto", "sometimes"};
    hub_skip_auth_t v = HUB_SKIP_AUTH_FORCE;

    CHECK(idp_skip_auth_parse("auto", &v) == 0 && v == HUB_SKIP_AUTH_AUTO);
    CHECK(idp_skip_auth_parse("force", &v) == 0 && v == HUB_SKIP_AUTH_FORCE);
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        CHECK(idp_skip_auth_parse(bad[i], &v) == HUB_E_INVAL && v == HUB_SKIP_AUTH_FORCE);
    CHECK(idp_skip_auth_parse(NULL, &v) == HUB_E_INVAL);
    CHECK(strcmp(idp_skip_auth_name(HUB_SKIP_AUTH_AUTO), "auto") == 0 &&
          strcmp(idp_skip_auth_name(HUB_SKIP_AUTH_FORCE), "force") == 0);
    CHECK(strcmp(idp_skip_auth_name((hub_skip_auth_t)9), "?") == 0);
}

int main(void)
{
    char *dir = test_tmpdir("idp-settings");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        test_tmpdir_remove(dir);
        return 1;
    }
    test_names();
    CHECK(in_write(settings_txn, NULL) == 0);

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/settings");
}
