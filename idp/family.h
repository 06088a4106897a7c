/* Token families: what one authorization issued (a code and the refresh and access tokens that descend from it), revoked
 * together, and listed by their session, user and client in the owner index (idp/owner_index.h). */
#ifndef IDP_FAMILY_H
#define IDP_FAMILY_H

#include <stdint.h>
#include "hub/store.h"

typedef struct st_idp_family_t {
    char *id;
    char *client_id;
    char *sub;
    char *sid; /* primary session, may be NULL */
    int revoked;
    uint64_t expires_at;
} idp_family_t;

/* Creates a family living until at least expires_at (half the remaining time longer, as idp_family_extend), listed under its session, user and client (those not NULL); id written to
 * id_out (32 chars + NUL). */
int idp_family_create(hub_txn_t *txn, const char *client_id, const char *sub, const char *sid, uint64_t expires_at,
                      char id_out[33]);
int idp_family_get(hub_txn_t *txn, const char *id, idp_family_t **out);
/* Pushes the family's expiry out to at least until, so that revoking it keeps covering what was issued from it. When
 * it must grow it grows by half the remaining time more, so a refresh chain rewrites the record about once per half a
 * token lifetime, not at every rotation; its index entries outlive it (written again with twice its remaining time
 * when it would outlive them). 0, or HUB_E_NOTFOUND when it is unknown or expired. */
int idp_family_extend(hub_txn_t *txn, const char *id, uint64_t until);
int idp_family_revoke(hub_txn_t *txn, const char *id);
/* Revoke every live family of client_id (node revocation, client deletion), of a primary session (logout), of a user
 * except those of the session keep_sid (NULL = all; the operator actions of idp/revocation.h). Each walks its owner's
 * entries of the index and checks each family read again; while a store written before the index is not indexed yet
 * (idp_owner_index_ready), each scans every family instead. 0, or the store's error. */
int idp_family_revoke_client(hub_txn_t *txn, const char *client_id);
int idp_family_revoke_sid(hub_txn_t *txn, const char *sid);
int idp_family_revoke_sub(hub_txn_t *txn, const char *sub, const char *keep_sid);
void idp_family_free(idp_family_t *f);
/* The owner index's source of families (idp_owner_index_build): lists the family stored as key -> val, unless it is
 * revoked or does not read as one. 0, or the store's error. */
int idp_family_index_record(hub_txn_t *txn, hub_val_t key, hub_val_t val);

#endif
