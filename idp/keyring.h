/* The primary's signing keys: records in the KEYS table plus PEM files (mode 0600) in
 * data_dir/keys/, parsed once into an in-memory snapshot that request threads read
 * without locks or file I/O. A key's state follows from its timestamps:
 *   next      now < activate_at (published, not yet signing)
 *   active    the key with the latest activate_at <= now (signs)
 *   retiring  an older activated key, published until publish_until (its successor's
 *             activation + the longest token ttl), then dropped
 * so a new key is published at least publish_ahead before it signs and a retired key
 * stays in the JWKS until every token it signed has expired. */
#ifndef IDP_KEYRING_H
#define IDP_KEYRING_H

#include <stdint.h>
#include <jansson.h>
#include "hub/config.h"
#include "hub/jws.h"
#include "hub/store.h"

typedef enum { IDP_KEY_NEXT = 0, IDP_KEY_ACTIVE, IDP_KEY_RETIRING, IDP_KEY_RETIRED } idp_key_state_t;
const char *idp_key_state_name(idp_key_state_t s);

typedef struct st_idp_keyring_t idp_keyring_t;

/* Loads every published key of data_dir. When there is none (a fresh data dir) creates
 * an active one with cfg's signing_alg. */
int idp_keyring_open(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg);
void idp_keyring_close(idp_keyring_t *kr);

/* The key that signs now; valid until idp_keyring_close. Never NULL after a successful open. */
const hub_key_t *idp_keyring_signing_key(idp_keyring_t *kr);
/* Finds a published key by kid (next, active or retiring); NULL when unknown. */
const hub_key_t *idp_keyring_find(idp_keyring_t *kr, const char *kid);
/* The JWKS document {"keys":[...]} as compact JSON text; valid until the next reload
 * (copy it within the request). */
const char *idp_keyring_jwks(idp_keyring_t *kr, size_t *len);
/* Parses and verifies a JWS signed by one of our published keys (alg pinned by the key).
 * On success *out holds header and payload (dispose with hub_jws_dispose). */
int idp_keyring_verify(idp_keyring_t *kr, const char *token, size_t len, hub_jws_t *out);

/* A background thread of the keyring, once a second, reloads when another process changed
 * the keys (a counter in META), creates the next key when the active one is due to rotate
 * (key_rotation.every, publish_ahead) and drops keys past publish_until; key generation
 * never runs on an event loop. */

/* The rotation policy (alg, every, publish_ahead, token ttls) is saved in the store by the
 * running primary so hubctl, which reads no config file, applies the same one: overlays
 * the saved values onto cfg (left as is when none were saved). */
int idp_keys_policy_load(hub_txn_t *txn, hub_config_t *cfg);

/* Operator commands (hubctl), outside any keyring instance. rotate: creates a next key
 * activating at now + publish_ahead, or when a next key already exists and is due, leaves
 * it. retire: a next key is withdrawn at once; the active key hands over to the next key
 * (which must have been published for publish_ahead, else HUB_E_BUSY) and then stays
 * published as retiring until every token it signed has expired; a retiring key gives
 * HUB_E_EXISTS.
 * list: calls cb for each key with its state. */
int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, char kid_out[64]);
int idp_keys_retire(hub_store_t *store, const hub_config_t *cfg, const char *kid);
typedef struct st_idp_key_info_t {
    const char *kid;
    hub_alg_t alg;
    idp_key_state_t state;
    uint64_t created_at, activate_at, publish_until; /* publish_until 0 = open-ended */
} idp_key_info_t;
int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg);
/* Creates the first key of a fresh data dir (hubctl init); HUB_E_EXISTS when keys exist. */
int idp_keys_init(hub_store_t *store, const char *data_dir, hub_alg_t alg);

#endif
