/* The OAuth Provider Settings (SPEC §2 hubctl settings, §4 consent): stored values that override the config's initial
 * ones. One setting today: skip_authorization, force | auto. */
#ifndef IDP_SETTINGS_H
#define IDP_SETTINGS_H

#include "hub/config.h"
#include "hub/store.h"

#define IDP_SETTING_SKIP_AUTHORIZATION "skip_authorization"

/* "force" or "auto" ("?" out of range); parse returns 0 or HUB_E_INVAL. */
const char *idp_skip_auth_name(hub_skip_auth_t value);
int idp_skip_auth_parse(const char *s, hub_skip_auth_t *out);

/* The current skip_authorization setting: the stored value, or the config's initial value (cfg may be NULL: force) when
 * none was stored. */
hub_skip_auth_t idp_settings_skip_authorization(hub_txn_t *txn, const hub_config_t *cfg);
/* 1 when a skip_authorization value is stored, else 0. */
int idp_settings_skip_authorization_stored(hub_txn_t *txn);
/* Stores value; HUB_E_INVAL for a value that is neither force nor auto. */
int idp_settings_set_skip_authorization(hub_txn_t *txn, hub_skip_auth_t value);

#endif
