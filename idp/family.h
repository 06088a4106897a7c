/* Token families: what one authorization issued (a code and the refresh and access tokens that descend from it), revoked
 * together, and listed under their user and client (USER_FAMILIES) and under their client in the owner index
 * (idp/owner_index.h). */
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

/* A family's id: 32 base64url characters, the first of them the time it was made (hub_timed_token). */
#define IDP_FAMILY_ID_LEN 32
/* Creates a family living until at least expires_at (half the remaining time longer, as idp_family_extend), listed under
 * its client in the owner index and under its user (sub) and client with scope (idp_user_families_each) for as long as
 * it lives; id written to id_out. */
int idp_family_create(hub_txn_t *txn, const char *client_id, const char *sub, const char *sid, const char *scope,
                      uint64_t expires_at, char id_out[IDP_FAMILY_ID_LEN + 1]);
int idp_family_get(hub_txn_t *txn, const char *id, idp_family_t **out);
/* Pushes the family's expiry out to at least until, so that revoking it keeps covering what was issued from it. When
 * it must grow it grows by half the remaining time more, so a refresh chain rewrites the record about once per half a
 * token lifetime, not at every rotation; its listings are written again with it. 0, or HUB_E_NOTFOUND when it is
 * unknown or expired. */
int idp_family_extend(hub_txn_t *txn, const char *id, uint64_t until);
/* What issuing an access token writes (its jti names its family, idp_mint_at_id): the family made to outlive it
 * (idp_family_extend), so that revoking the family revokes the token until it expires. 0 when id is NULL or the family
 * is gone (the token is then refused: idp_jti_is_active). */
int idp_family_cover(hub_txn_t *txn, const char *id, uint64_t until);
int idp_family_revoke(hub_txn_t *txn, const char *id);
/* Revoke every live family of client_id (node revocation, client deletion), of the primary session sid of the user sub
 * (logout), of a user except those of the session keep_sid (NULL = all; the operator actions of idp/revocation.h).
 * Each reads the families its owner's listing names (a client's entries in the owner index; a user's listing, and the
 * index's entries of families written before that listing was complete) and checks each family read again; while a
 * store written before the index is not indexed yet (idp_owner_index_ready), each scans every family instead. 0, or the
 * store's error. */
int idp_family_revoke_client(hub_txn_t *txn, const char *client_id);
int idp_family_revoke_sid(hub_txn_t *txn, const char *sid, const char *sub);
int idp_family_revoke_sub(hub_txn_t *txn, const char *sub, const char *keep_sid);
void idp_family_free(idp_family_t *f);
/* A family a user holds, as listed under the user and the client (strings valid during the call). */
typedef struct st_idp_user_family_t {
    const char *client_id;
    const char *family;
    const char *scope; /* space-separated, may be NULL */
    uint64_t at;       /* when the family was made (or, for one listed before families were listed when made, when its
                          code was exchanged) */
} idp_user_family_t;
/* Lists family under sub and client_id with scope (NULL: the listing's own, if any) until at least until: nothing is
 * written when the listing outlives until already; otherwise it is written to last until until. 0
 * (also when sub is NULL: nothing to list), or the store's error. */
int idp_family_list_user(hub_txn_t *txn, const char *family, const char *sub, const char *client_id, const char *scope,
                         uint64_t until);
/* Calls cb for each family listed for sub (and client_id; NULL = every client), in client order; whether the family
 * is still live and unrevoked is the caller's to check (idp_family_get). A non-zero return of cb stops the walk and is
 * returned. */
int idp_user_families_each(hub_txn_t *txn, const char *sub, const char *client_id, int (*cb)(void *arg, const idp_user_family_t *f),
                           void *arg);
/* Drops the listing of family (its revocation is idp_family_revoke's); HUB_E_NOTFOUND when it is not listed. */
int idp_user_family_forget(hub_txn_t *txn, const char *sub, const char *client_id, const char *family);
/* The owner index's source of families (idp_owner_index_build): lists the family stored as key -> val, unless it is
 * revoked or does not read as one. 0, or the store's error. */
int idp_family_index_record(hub_txn_t *txn, hub_val_t key, hub_val_t val);

#endif
