/* The primary's browser sessions. A session id is 256 random bits kept
 * in a cookie named after the node; only its hash is stored. The public `sid` (in
 * tokens and logout tokens) is a different random value. */
#ifndef IDP_SESSION_H
#define IDP_SESSION_H

#include <h2o.h>
#include "hub/store.h"
#include "hub/form.h"
#include "hub/crypto.h"
#include "idp/ctx.h"
#include "idp/strv.h"
#include "idp/family.h"
#include "idp/user.h"

typedef struct st_idp_session_t {
    char *sid; /* public session identifier */
    char *sub;
    uint64_t auth_time;
    uint64_t expires_at;
    idp_strv_t clients; /* clients that received tokens in this session (back-channel logout) */
} idp_session_t;

#define IDP_SESSION_COOKIE_LEN HUB_B64URL_LEN(32) /* 256 random bits */
#define IDP_SESSION_SID_LEN HUB_B64URL_LEN(24)

/* A session about to start, in three steps so that its write can run off the loop: idp_session_prepare (on the loop: its
 * random cookie value, the hash stored, its sid, times), idp_session_put (in a write transaction, any thread), then
 * idp_session_set_cookie on the answer once it committed. */
typedef struct st_idp_session_new_t {
    char cookie[IDP_SESSION_COOKIE_LEN + 1];
    char hash[HUB_SECRET_HASH_LEN + 1];
    char sid[IDP_SESSION_SID_LEN + 1];
    uint64_t auth_time, expires_at;
} idp_session_new_t;
void idp_session_prepare(idp_t *idp, idp_session_new_t *out);
/* The same for a session living ttl seconds (tools that write sessions without a node: bench-gen-store). */
void idp_session_prepare_ttl(idp_session_new_t *out, uint64_t ttl);
/* Stores n as a session of sub; 0, or the store's error. */
int idp_session_put(hub_txn_t *txn, const idp_session_new_t *n, const char *sub);
void idp_session_set_cookie(idp_t *idp, h2o_req_t *req, const idp_session_new_t *n);
/* The session n starts for sub, as idp_session_lookup would read it once stored (no clients yet); freed with
 * idp_session_free. */
idp_session_t *idp_session_of(const idp_session_new_t *n, const char *sub);
/* The three at once, the write on the calling thread (tests): starts a session for sub (session_ttl), sets the cookie on
 * req; *out may be NULL. */
int idp_session_start(idp_t *idp, h2o_req_t *req, const char *sub, idp_session_t **out);
/* The caller's live session, or NULL (no cookie, unknown, expired, or its user disabled or
 * deleted); the caller frees it with idp_session_free. Reads the store on the calling thread. */
idp_session_t *idp_session_current(idp_t *idp, h2o_req_t *req);
/* The hash under which the session of req's cookie is stored, into hash (on the loop: it reads the request): 1, or 0
 * with hash "" when the request carries no well-formed session cookie. */
int idp_session_cookie_hash(idp_t *idp, h2o_req_t *req, char hash[HUB_SECRET_HASH_LEN + 1]);
/* In txn (any thread): the live session stored under hash ("" for none) into *out and, when user is not NULL, its
 * user into *user; both NULL when there is none (unknown, expired, its user disabled or deleted). The caller frees them
 * (idp_session_free, idp_user_free). Returns 0, or the store's error. */
int idp_session_lookup(hub_txn_t *txn, const char *hash, idp_session_t **out, idp_user_t **user);
/* By public sid (caller frees *out); HUB_E_NOTFOUND when unknown or expired. */
int idp_session_get_by_sid(hub_txn_t *txn, const char *sid, idp_session_t **out);
/* Records that client_id took part in the session (idempotent); HUB_E_NOTFOUND when the
 * session is gone. */
int idp_session_add_client(hub_txn_t *txn, const char *sid, const char *client_id);
/* The token family of what session sid authorizes client_id to with scope, into family: the session's family for the
 * client (what Keycloak calls a client session) while it is live and of that scope (the same words), extended to
 * expires_at (idp_family_extend: a write about once per half its life), so a signed-in browser's repeated
 * authorizations write no family and no listings of their own; else a new family (idp_family_create, until at least
 * expires_at), which the session holds from then on for the client, noted in the session too (idp_session_add_client).
 * Revoking the family (logout, a replayed code, a reused refresh token, the account page's Revoke) revokes what every
 * authorization of the client in the session issued, and the next authorization makes a new one. HUB_E_NOTFOUND when
 * the session is gone. */
int idp_session_family(hub_txn_t *txn, const char *sid, const char *client_id, const char *scope, uint64_t expires_at,
                       char family[IDP_FAMILY_ID_LEN + 1]);
/* Ends the session with the given sid: deletes it and revokes its token families; *ended
 * (may be NULL) receives the record so the caller can notify its clients. */
int idp_session_end(hub_txn_t *txn, const char *sid, idp_session_t **ended);
/* Ends every session of sub except keep_sid (NULL = all): deletes them inside txn and sets *ended (may be NULL) to how
 * many. Their token families are the caller's business (idp_family_revoke_sub). Walks the user's entries of the owner
 * index (each session read again), or every session while a store written before the index is not indexed yet (the
 * rare operator actions that take something away from a user, idp/revocation.h). */
int idp_session_end_user(hub_txn_t *txn, const char *sub, const char *keep_sid, size_t *ended);
/* Ends the session stored under hash (idp_session_cookie_hash) whatever its user's state, in txn; *ended (may be NULL)
 * as for idp_session_end. HUB_E_NOTFOUND when there is none (hash "" included). */
int idp_session_end_by_hash(hub_txn_t *txn, const char *hash, idp_session_t **ended);
/* Ends the session named by req's cookie whatever its user's state (own write txn, on the calling thread: tests) and
 * clears the cookie; *ended (may be NULL) as for idp_session_end. HUB_E_NOTFOUND when the
 * request names no live session (the cookie is cleared all the same). */
int idp_session_end_current(idp_t *idp, h2o_req_t *req, idp_session_t **ended);
/* Clears the session cookie on req. */
void idp_session_clear_cookie(idp_t *idp, h2o_req_t *req);
void idp_session_free(idp_session_t *s);
/* The owner index's source of sessions (idp_owner_index_build): lists the session stored as key -> val under its user
 * (the "sid:" pointers and what does not read as a session are skipped). 0, or the store's error. */
int idp_session_index_record(hub_txn_t *txn, hub_val_t key, hub_val_t val);

#endif
