/* The primary's signing keys: records in the KEYS table plus PEM files (mode 0600) in
 * data_dir/keys/, parsed once into an in-memory snapshot that request threads read
 * without locks or file I/O. A key's state follows from its record:
 *   next      published, not signing yet: it signs from max(activate_at, first_served +
 *             publish_ahead), where first_served is when the JWKS endpoint first served it
 *             (rounded up to the next second, recorded once, durably); a key nobody has
 *             fetched the JWKS of yet never starts signing (the active key keeps signing)
 *   active    the key with the latest activation <= now (signs)
 *   retiring  an older activated key, published until publish_until (its successor's
 *             activation + the longest token ttl), then dropped
 *   retired   withdrawn or past publish_until; revoked: removed in an emergency
 * so a new key is published at least publish_ahead before it signs and a retired key
 * stays in the JWKS until every token it signed has expired. The first key of a data dir
 * and a successor made by a revocation are "immediate": they sign from activate_at, since
 * there is no other key to sign with. A key keeps the publish_ahead of the policy it was
 * made under, so a later change of the setting never moves its activation. */
#ifndef IDP_KEYRING_H
#define IDP_KEYRING_H

#include <stdint.h>
#include <jansson.h>
#include "hub/config.h"
#include "hub/jws.h"
#include "hub/store.h"

typedef enum { IDP_KEY_NEXT = 0, IDP_KEY_ACTIVE, IDP_KEY_RETIRING, IDP_KEY_RETIRED, IDP_KEY_REVOKED } idp_key_state_t;
const char *idp_key_state_name(idp_key_state_t s);

typedef struct st_idp_keyring_t idp_keyring_t;

/* Loads every published key of data_dir. When none can sign (a fresh data dir) creates
 * an immediate one with cfg's signing_alg. */
int idp_keyring_open(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg);
void idp_keyring_close(idp_keyring_t *kr);

/* The key that signs now; valid until idp_keyring_close. Never NULL after a successful open. */
const hub_key_t *idp_keyring_signing_key(idp_keyring_t *kr);
/* Finds a published key by kid (next, active or retiring); NULL when unknown or revoked. */
const hub_key_t *idp_keyring_find(idp_keyring_t *kr, const char *kid);
/* The JWKS document {"keys":[...]} as compact JSON text; valid until idp_keyring_close
 * (copy it within the request). idp_keyring_jwks only reads it; idp_keyring_jwks_serve is
 * for the JWKS endpoint: it also notes that these keys are being served, so that a next
 * key's publish_ahead starts counting (the first time per key costs one mutex signal to
 * the keyring's thread, which records it in the store; later calls one atomic load). */
const char *idp_keyring_jwks(idp_keyring_t *kr, size_t *len);
const char *idp_keyring_jwks_serve(idp_keyring_t *kr, size_t *len);
/* Parses and verifies a JWS signed by one of our published, unrevoked keys (alg pinned by
 * the key) and checks what every token of ours carries: a non-empty string jti, and an nbf,
 * when present, that is an integer not after now. Expiry and typ are the caller's (an
 * expired id_token is still a valid logout hint). On success *out holds header and payload
 * (dispose with hub_jws_dispose); HUB_E_BADSIG or HUB_E_PARSE otherwise. */
int idp_keyring_verify(idp_keyring_t *kr, const char *token, size_t len, hub_jws_t *out);

/* Calls cb(arg) on the keyring's thread whenever a key has been revoked (by hubctl, in this
 * process or another, also while no primary ran) and the registered nodes were not told
 * yet; the claim is one write txn, so one process tells them once per revocation. Set once,
 * before the node serves. */
void idp_keyring_on_revoke(idp_keyring_t *kr, void (*cb)(void *arg), void *arg);

/* A background thread of the keyring, once a second (and at once when the JWKS endpoint
 * served a key for the first time), records first_served, reloads when another process
 * changed the keys (a counter in META), creates the next key when the active one is due to
 * rotate (key_rotation.every, publish_ahead), drops keys past publish_until and reports
 * revocations; key generation and store writes never run on an event loop. */

/* The rotation policy (alg, every, publish_ahead, token ttls) is saved in the store by the
 * running primary so hubctl, which reads no config file, applies the same one: overlays
 * the saved values onto cfg (left as is when none were saved). */
int idp_keys_policy_load(hub_txn_t *txn, hub_config_t *cfg);

/* Operator commands (hubctl), outside any keyring instance. rotate: creates a next key
 * activating at now + publish_ahead at the earliest, or when a next key already exists,
 * leaves it (HUB_E_EXISTS, its kid in kid_out). retire: a next key is withdrawn at once;
 * the active key hands over to the next key (which the JWKS must have served for
 * publish_ahead, else HUB_E_BUSY) and then stays published as retiring until every token
 * it signed has expired; a retiring key gives HUB_E_EXISTS, a revoked one HUB_E_DENIED.
 * list: calls cb for each key with its state. */
int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, char kid_out[64]);
int idp_keys_retire(hub_store_t *store, const hub_config_t *cfg, const char *kid);

/* Emergency removal of a compromised key (SPEC §4): marks kid revoked (it leaves the JWKS
 * and no token it signed verifies, once a running primary reloads: within a second), and
 * when it was the signing key hands over at once to the next key or, without one, to a new
 * immediate key; deletes its private key file; marks the revocation for the nodes to be
 * told (idp_keyring_on_revoke). Revoking a revoked key only tells the nodes again
 * (out->already). HUB_E_NOTFOUND for an unknown kid. */
typedef struct st_idp_revoke_result_t {
    char signer[64]; /* the key that took over signing, "" when the revoked key was not signing */
    int already;
} idp_revoke_result_t;
int idp_keys_revoke(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, const char *kid, idp_revoke_result_t *out);

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
int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg);
/* Creates the first key of a fresh data dir (hubctl init); HUB_E_EXISTS when keys exist. */
int idp_keys_init(hub_store_t *store, const char *data_dir, hub_alg_t alg);

#endif
