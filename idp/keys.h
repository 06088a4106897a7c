/* The operator's side of the signing keys (hubctl): the rotation policy the running primary saves, and the commands
 * on the key records (idp/keyrec.h says what a record is and what its states mean), run outside any keyring. */
#ifndef IDP_KEYS_H
#define IDP_KEYS_H

#include <stdint.h>
#include "hub/config.h"
#include "hub/jws.h"
#include "hub/store.h"
#include "idp/invalid.h"
#include "idp/keyrec.h"

/* The rotation policy (alg, every, publish_ahead, token ttls) is saved in the store by the
 * running primary (save, at open) so hubctl, which reads no config file, applies the same one:
 * load overlays the saved values onto cfg (left as is when none were saved). A primary of a
 * cluster also saves the absolute path of its cluster secret's file (not the secret), which load
 * sets when cfg names none, so hubctl -d seals the keys it makes as the node does. */
int idp_keys_policy_save(hub_store_t *store, const hub_config_t *cfg);
int idp_keys_policy_load(hub_txn_t *txn, hub_config_t *cfg);
/* In write transaction txn, makes the saved policy name the cluster secret the store's private keys are sealed with:
 * secret_file's absolute path, or none (NULL: they are files); a store no primary saved a policy in gets a record of
 * that alone, and a record that says so already is left as it is. For hubctl store import: the keys go where the
 * target's primary keeps them, whatever the dump's policy said. HUB_E_IO when secret_file has no absolute path. */
int idp_keys_policy_secret(hub_txn_t *txn, const char *secret_file);

/* Operator commands (hubctl), outside any keyring instance. rotate: creates a next key
 * activating at now + publish_ahead at the earliest, or when a next key already exists,
 * leaves it (HUB_E_EXISTS, its kid in kid_out). retire: a next key is withdrawn at once;
 * the active key hands over to the next key (which the JWKS must have served for
 * publish_ahead, else HUB_E_BUSY) and then stays published as retiring until every token
 * it signed has expired; a retiring key gives HUB_E_EXISTS, a revoked one HUB_E_DENIED.
 * list: calls cb for each key with its state. */
int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const idp_keyvault_t *vault, char kid_out[64]);
int idp_keys_retire(hub_store_t *store, const hub_config_t *cfg, const char *kid);
/* Says in *inv (field IDP_FIELD_KID) what a refusal of idp_keys_retire means to an operator (HUB_E_NOTFOUND,
 * HUB_E_BUSY, HUB_E_EXISTS, HUB_E_DENIED); returns 1 when ret is one of them, 0 for any other code. */
int idp_keys_retire_refusal(int ret, const char *kid, idp_invalid_t *inv);

/* Emergency removal of a compromised key (SPEC §4): marks kid revoked (it leaves the JWKS
 * and no token it signed verifies, once a running primary reloads: within a second), and
 * when it was the signing key hands over at once to the next key or, without one, to a new
 * immediate key (in vault); deletes its private key; marks the revocation for the nodes to be
 * told (idp_keyring_on_revoke). Revoking a revoked key only tells the nodes again
 * (out->already). HUB_E_NOTFOUND for an unknown kid. */
typedef struct st_idp_revoke_result_t {
    char signer[64]; /* the key that took over signing, "" when the revoked key was not signing */
    int already;
} idp_revoke_result_t;
int idp_keys_revoke(hub_store_t *store, const hub_config_t *cfg, const idp_keyvault_t *vault, const char *kid,
                    idp_revoke_result_t *out);

typedef struct st_idp_key_info_t {
    const char *kid;
    hub_alg_t alg;
    idp_key_state_t state;
    uint64_t created_at;
    uint64_t activate_at;   /* when it signs (or signed); 0 = waits for the JWKS to serve it */
    uint64_t first_served;  /* 0 = the JWKS has not served it yet */
    uint64_t publish_until; /* 0 = open-ended */
    uint64_t revoked_at;    /* 0 = not revoked */
} idp_key_info_t;
/* list, in the caller's transaction (any thread: a console page reads the keys on the store's readers) / in a read
 * transaction of its own. */
int idp_keys_list_in(hub_txn_t *txn, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg);
int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg);
/* Creates the first key of a fresh store (hubctl init, a primary's first start); HUB_E_EXISTS when keys exist (also
 * when another process made the first one meanwhile). */
int idp_keys_init(hub_store_t *store, const idp_keyvault_t *vault, hub_alg_t alg);

#endif
