/* The running primary's signing keys (idp/keyrec.h says what a key record is and what its states mean): the published
 * keys parsed once into an in-memory snapshot that request threads read without locks or file I/O, swapped atomically
 * when the records change, and a background thread that keeps them current. */
#ifndef IDP_KEYRING_H
#define IDP_KEYRING_H

#include <stdint.h>
#include <jansson.h>
#include "hub/config.h"
#include "hub/jws.h"
#include "hub/store.h"
#include "idp/keyrec.h"

typedef struct st_idp_keyring_t idp_keyring_t;

/* Loads every published key of the store, their private keys from the node's vault (idp/keyrec.h: files in data_dir,
 * or sealed with the cluster secret, into which a cluster's primary first seals any key files it finds). When none can
 * sign (a fresh store) creates an immediate one with cfg's signing_alg. Fails, and creates nothing, when the cluster
 * secret cannot be read or does not open a published key, or a key is sealed and cfg names no cluster secret: the
 * reason is logged ("the cluster secret does not open key KID"). */
int idp_keyring_open(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg);
/* idp_keyring_open in two steps, for a node that starts while its database is away: create opens the vault (the cluster
 * secret: its failures are logged and final) and starts the thread, without a key; load does the rest of the open (the
 * keys into the store and memory) and may be called again after it failed (HUB_E_UNAVAILABLE while the database is
 * away). Until a load succeeded, nothing may sign or verify: the JWKS functions return NULL (the endpoint answers 503),
 * idp_keyring_signing_key and idp_keyring_find NULL, and the thread does nothing. */
int idp_keyring_create(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg);
int idp_keyring_load(idp_keyring_t *kr);
void idp_keyring_close(idp_keyring_t *kr);
/* The vault the keyring reads and writes private keys with (the console's key commands use it); valid until close. */
const idp_keyvault_t *idp_keyring_vault(idp_keyring_t *kr);

/* The key that signs now; valid until idp_keyring_close. Never NULL after a successful open (or load). */
const hub_key_t *idp_keyring_signing_key(idp_keyring_t *kr);
/* Finds a published key by kid (next, active or retiring); NULL when unknown or revoked. */
const hub_key_t *idp_keyring_find(idp_keyring_t *kr, const char *kid);
/* The JWKS document {"keys":[...]} as compact JSON text (NULL before the keys were loaded); valid until idp_keyring_close
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

#endif
