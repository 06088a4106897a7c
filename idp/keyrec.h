/* The primary's signing keys as records, read and written by idp/keys.c (the operator's commands) and idp/keyring.c:
 * a record in the KEYS table per key and its private key as a PEM file (mode 0600) in
 * data_dir/keys/. A key's state follows from its record:
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
 * key record or its kid is not one a key file may be named after (base64url, at most 63 characters). */
int idp_keyrec_decode(const void *val, size_t len, idp_keyrec_t *rec);
/* The private key of kid as PEM text, as it is kept (a file in data_dir/keys/ today): 0 and *pem (malloc'ed,
 * NUL-terminated; the caller cleanses and frees it), HUB_E_NOTFOUND when kid has none (a revoked key), HUB_E_INVAL
 * for a kid no key has, HUB_E_IO. */
int idp_keyrec_private_pem(const char *data_dir, const char *kid, char **pem, size_t *len);
/* Keeps pem as the private key of rec's kid, before any record names it (as idp_keyrec_new_file does): HUB_E_PARSE
 * unless pem is a private key of rec->alg, HUB_E_INVAL for a kid no key has, HUB_E_EXISTS when kid has a private key
 * already, HUB_E_IO. idp_keyrec_remove_file takes it back. */
int idp_keyrec_put_private_pem(const char *data_dir, const idp_keyrec_t *rec, const char *pem, size_t len);
/* Generates a key of alg and writes its private key file, before any record names it (*out: hub_key_free). */
int idp_keyrec_new_file(const char *data_dir, hub_alg_t alg, hub_key_t **out);
/* Removes a private key file (a key never recorded, or a revoked one); a missing file is fine. */
void idp_keyrec_remove_file(const char *data_dir, const char *kid);
/* Loads the private key of rec from its file; logs why not. */
int idp_keyrec_load_key(const char *data_dir, const idp_keyrec_t *rec, hub_key_t **out);
/* Fills a new record for key: signing from activate_at, and (unless immediate) publish_ahead after the JWKS first
 * served it. */
void idp_keyrec_init(idp_keyrec_t *rec, const hub_key_t *key, uint64_t activate_at, int immediate, uint64_t publish_ahead);
/* Generates such a key and writes its file and its record (kid_out may be NULL). */
int idp_keyrec_create(hub_store_t *store, const char *data_dir, hub_alg_t alg, uint64_t activate_at, int immediate,
                      uint64_t publish_ahead, char kid_out[64]);

#endif
