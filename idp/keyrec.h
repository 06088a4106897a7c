/* The primary's signing keys as records, read and written by idp/keys.c (the operator's commands) and idp/keyring.c:
 * a record in the KEYS table per key and its private key, in a PEM file (mode 0600) in data_dir/keys/ or, on a primary
 * of a cluster, sealed in the KEY_SECRETS table (see "private keys" below). A key's state follows from its record:
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
#ifndef IDP_KEYREC_H
#define IDP_KEYREC_H

#include <stddef.h>
#include <stdint.h>
#include "hub/config.h"
#include "hub/jws.h"
#include "hub/store.h"

#define IDP_KEYS_GEN "gen:keys"  /* META counter bumped by every change of a key record */
#define IDP_KEY_NEVER UINT64_MAX /* the activation of a key the JWKS has not served yet */
#define IDP_KEYREC_LIST_MAX 64

typedef enum { IDP_KEY_NEXT = 0, IDP_KEY_ACTIVE, IDP_KEY_RETIRING, IDP_KEY_RETIRED, IDP_KEY_REVOKED } idp_key_state_t;
/* "next", "active", ... ("unknown" out of range). */
const char *idp_key_state_name(idp_key_state_t s);

/* One key record as stored. */
typedef struct st_idp_keyrec_t {
    char kid[64];
    hub_alg_t alg;
    uint64_t created_at;
    uint64_t activate_at;   /* the earliest time it signs */
    uint64_t first_served;  /* when the JWKS endpoint first served it (rounded up), 0 = never */
    uint64_t publish_ahead; /* the policy's when it was made: a later change of the setting never moves its activation */
    int immediate;          /* signs from activate_at, served or not (see keys.h) */
    int retired;            /* withdrawn by the operator before it signed */
    uint64_t revoked_at;    /* 0 = not revoked */
    int notify;             /* revoked, and the nodes not told yet */
    uint64_t active_from;   /* derived (rec_activation): when it signs, IDP_KEY_NEVER while it waits to be served */
} idp_keyrec_t;

typedef struct st_idp_keyrec_list_t {
    idp_keyrec_t recs[IDP_KEYREC_LIST_MAX];
    size_t n;
} idp_keyrec_list_t;

/* The longest time a token signed now can stay valid, plus a margin for clock skew. */
uint64_t idp_keyrec_token_life(const hub_config_t *cfg);
/* One record by kid (HUB_E_NOTFOUND, HUB_E_PARSE) / written as it is. */
int idp_keyrec_get(hub_txn_t *txn, const char *kid, idp_keyrec_t *rec);
int idp_keyrec_put(hub_txn_t *txn, const idp_keyrec_t *rec);
/* Every key record (a new list, the caller frees it), sorted by activation time: in txn / in a read transaction of its
 * own (NULL when the store cannot be read). */
idp_keyrec_list_t *idp_keyrec_load(hub_txn_t *txn);
idp_keyrec_list_t *idp_keyrec_read(hub_store_t *store);
/* The state of list->recs[i] at now, given the longest token life; *publish_until receives when a retiring key drops. */
idp_key_state_t idp_keyrec_state(const idp_keyrec_list_t *list, size_t i, uint64_t now, uint64_t life, uint64_t *publish_until);
/* The index of the first key in state want / of kid, or SIZE_MAX. */
size_t idp_keyrec_find_state(const idp_keyrec_list_t *list, idp_key_state_t want, uint64_t now, uint64_t life);
size_t idp_keyrec_find_kid(const idp_keyrec_list_t *list, const char *kid);
/* How many key records the store holds (0 when it cannot be read). */
size_t idp_keyrec_count(hub_store_t *store);

/* A stored key record's bytes (hubctl store import checks a dump's): 0 and *rec, or HUB_E_PARSE when they are not a
 * key record (duplicate names refused) or its kid is not one the vault takes (1 to 63 of [A-Za-z0-9_-]). */
int idp_keyrec_decode(const void *val, size_t len, idp_keyrec_t *rec);

/* ---- private keys ----
 * Where a key's private half lives is known here only. A vault of files keeps data_dir/keys/KID.pem (mode 0600), written
 * and synced before the record naming it commits. A sealed vault (a primary of a cluster, hub_config_is_cluster) keeps a
 * KEY_SECRETS record per kid, {"box": base64url(1, AES-256-GCM box of the PEM)}: version byte 1, then hub_seal's IV,
 * ciphertext and tag under a key HKDF-SHA256 derives from the cluster secret ("hub cluster: signing key seal v1"), with
 * the version byte and the kid as associated data (a box moved to another kid does not open); written in the
 * transaction that writes the key record, so no primary ever reads a record without its private key. */
typedef struct st_idp_keyvault_t idp_keyvault_t;
#define IDP_KEYREC_PEM_MAX 65536 /* the longest private key (PEM) a vault keeps */

/* Opens the vault of cfg's node: sealed when hub_config_is_cluster(cfg) (the cluster secret is read from its file and
 * only the derived key kept), else files under data_dir. Returns 0 and *out (idp_keyvault_close), or the error with a
 * one-line reason in why (whysize bytes). */
int idp_keyvault_open(idp_keyvault_t **out, const hub_config_t *cfg, const char *data_dir, char *why, size_t whysize);
/* Cleanses the derived key and frees the vault; NULL is ignored. */
void idp_keyvault_close(idp_keyvault_t *v);
/* 1 for a sealed vault. */
int idp_keyvault_sealed(const idp_keyvault_t *v);

/* The private key of kid as PEM text (PKCS#8): *pem a new NUL-terminated buffer of *len bytes, which the caller cleanses
 * (OPENSSL_cleanse) and frees. Sealed keys are read in txn (any transaction of the store); files ignore it. Errors:
 * HUB_E_INVAL (kid is not 1 to 63 of [A-Za-z0-9_-]), HUB_E_NOTFOUND (no private key for kid), HUB_E_CRYPTO (sealed, and
 * it does not open: another cluster secret, or the record was altered), HUB_E_DENIED (sealed in the store, and this
 * vault has no cluster secret), HUB_E_VERSION (sealed in an unknown format), HUB_E_PARSE, HUB_E_IO. Logs nothing. */
int idp_keyrec_private_load(const idp_keyvault_t *v, hub_txn_t *txn, const char *kid, char **pem, size_t *len);
/* Stores pem[0..len) as the private key of kid from write transaction txn on: sealed, a KEY_SECRETS record of txn (one
 * already there is replaced); files, data_dir/keys/KID.pem written whole and synced at once (running txn's function
 * again writes it again), so it exists before txn commits: when txn does not commit, the caller removes it with
 * idp_keyrec_private_remove. HUB_E_DENIED when a vault of files meets a store whose private keys are sealed (a key only
 * this host could read would join a cluster); HUB_E_INVAL for a bad kid; HUB_E_TOOBIG past IDP_KEYREC_PEM_MAX. */
int idp_keyrec_private_store(const idp_keyvault_t *v, hub_txn_t *txn, const char *kid, const char *pem, size_t len);
/* Removes the private key of kid once no record needs it (a revoked key; a key whose record never committed) in its own
 * write transaction or by unlinking its file; a missing one is fine, a failure is logged. */
void idp_keyrec_private_remove(const idp_keyvault_t *v, hub_store_t *store, const char *kid);
/* Seals into the store, then deletes, the private key files of the store's key records that have no sealed one (a data
 * dir made by `hubctl -d DIR init`, or a primary joining a cluster); nothing for a vault of files. Returns how many it
 * sealed, or an error. */
int idp_keyrec_seal_files(const idp_keyvault_t *v, hub_store_t *store);

/* Loads the private key of rec (idp_keyrec_private_load in txn, then parsed); logs why not, naming the kid. */
int idp_keyrec_load_key(const idp_keyvault_t *v, hub_txn_t *txn, const idp_keyrec_t *rec, hub_key_t **out);
/* Fills a new record for key: signing from activate_at, and (unless immediate) publish_ahead after the JWKS first
 * served it. */
void idp_keyrec_init(idp_keyrec_t *rec, const hub_key_t *key, uint64_t activate_at, int immediate, uint64_t publish_ahead);
/* Writes a new key in write transaction txn: its private key (idp_keyrec_private_store) and rec, and bumps gen:keys. */
int idp_keyrec_add(hub_txn_t *txn, const idp_keyvault_t *v, const hub_key_t *key, const idp_keyrec_t *rec);

/* Whether a new key may be created, asked inside the write transaction that would add it: 0 to go on, or the error that
 * aborts it (HUB_E_EXISTS: another process made what was needed). The read it makes is the claim: one writer at a time
 * on LMDB, and a read-then-write that SERIALIZABLE transactions make exclusive on PostgreSQL, so of several primaries
 * deciding at once exactly one adds the key. */
typedef int (*idp_keyrec_admit_cb)(hub_txn_t *txn, void *arg);
/* Generates a key of alg (before any transaction) and, when admit (NULL: always) lets it, adds it in one write
 * transaction (idp_keyrec_add), signing from activate_at, and (unless immediate) publish_ahead after the JWKS first
 * served it. kid_out (may be NULL) receives its kid. A private key file of a transaction that did not commit is
 * removed. */
int idp_keyrec_create(hub_store_t *store, const idp_keyvault_t *v, hub_alg_t alg, uint64_t activate_at, int immediate,
                      uint64_t publish_ahead, idp_keyrec_admit_cb admit, void *admit_arg, char kid_out[64]);

#endif
