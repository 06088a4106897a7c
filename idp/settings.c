/* The OAuth Provider Settings as text values in HUB_T_SETTINGS (key = the setting's name). */
#include <string.h>
#include "hub/err.h"
#include "idp/settings.h"

static const char *const skip_names[] = {[HUB_SKIP_AUTH_FORCE] = "force", [HUB_SKIP_AUTH_AUTO] = "auto"};
#define NSKIP (sizeof(skip_names) / sizeof(skip_names[0]))

const char *idp_skip_auth_name(hub_skip_auth_t value)
{
    return (unsigned)value < NSKIP ? skip_names[value] : "?";
}

/* The value named by the len bytes at s. */
static int skip_parse(const char *s, size_t len, hub_skip_auth_t *out)
{
    for (size_t i = 0; s != NULL && i != NSKIP; ++i)
        if (strlen(skip_names[i]) == len && memcmp(skip_names[i], s, len) == 0) {
            *out = (hub_skip_auth_t)i;
            return 0;
        }
    return HUB_E_INVAL;
}

int idp_skip_auth_parse(const char *s, hub_skip_auth_t *out)
{
    return skip_parse(s, s != NULL ? strlen(s) : 0, out);
}

static int stored(hub_txn_t *txn, hub_skip_auth_t *out)
{
    static const char name[] = IDP_SETTING_SKIP_AUTHORIZATION;
    hub_val_t v;
    return hub_store_get(txn, HUB_T_SETTINGS, name, sizeof(name) - 1, &v) == 0 && skip_parse(v.data, v.len, out) == 0;
}

hub_skip_auth_t idp_settings_skip_authorization(hub_txn_t *txn, const hub_config_t *cfg)
{
    hub_skip_auth_t value;
    if (stored(txn, &value))
        return value;
    return cfg != NULL && cfg->primary.skip_authorization == HUB_SKIP_AUTH_AUTO ? HUB_SKIP_AUTH_AUTO : HUB_SKIP_AUTH_FORCE;
}

int idp_settings_skip_authorization_stored(hub_txn_t *txn)
{
    hub_skip_auth_t value;
    return stored(txn, &value);
}

int idp_settings_set_skip_authorization(hub_txn_t *txn, hub_skip_auth_t value)
{
    static const char name[] = IDP_SETTING_SKIP_AUTHORIZATION;
    const char *s;

    if ((unsigned)value >= NSKIP)
        return HUB_E_INVAL;
    s = skip_names[value];
    return hub_store_put(txn, HUB_T_SETTINGS, name, sizeof(name) - 1, s, strlen(s), 0, 0);
}
