/* What the primary hands out and must be able to take back: authorization codes, token
 * families, refresh tokens, issued access tokens (jti), revocations and consent grants.
 * Codes, refresh tokens are stored only under hub_secret_hash of their value. */
#ifndef IDP_GRANTS_H
#define IDP_GRANTS_H

#include <stdint.h>
#include "hub/store.h"
#include "idp/family.h" /* the families codes and tokens belong to */

typedef struct st_idp_code_t {
    char *client_id;
    char *redirect_uri; /* as sent on authorize (NULL when it was absent) */
    char *sub;
    char *sid;
    char *scope;          /* space-separated */
    char *nonce;          /* may be NULL */
    char *code_challenge; /* S256 challenge, may be NULL */
    char *family;
    uint64_t auth_time;
    int used;
} idp_code_t;

/* Stores a code (random, 256 bits, written to out) valid for ttl seconds; code->family is
 * created by the caller. */
int idp_code_create(hub_txn_t *txn, const idp_code_t *code, uint64_t ttl, char out[44]);
/* Redeems a code presented by client_id: HUB_E_NOTFOUND when unknown or expired; HUB_E_DENIED when it was used before
 * (its family is revoked as a side effect when client_id is the code's own client: commit the txn); otherwise marks it
 * used and returns the record (the caller checks its client). */
int idp_code_redeem(hub_txn_t *txn, const char *code, size_t len, const char *client_id, idp_code_t **out);
void idp_code_free(idp_code_t *code);

typedef struct st_idp_refresh_t {
    char *family;
    char *client_id;
    char *sub;
    char *sid;
    char *scope;
    uint64_t auth_time;
    uint64_t expires_at;
    char *successor_hash; /* the successor's store key, set once rotated (or superseded by an honoured retry) */
    uint64_t rotated_at;
    int retried; /* a retry of it was honoured, or it was superseded by one: presenting it again is reuse */
    char *key;   /* the store key it was read under (idp_refresh_get); NULL in one that was not read */
} idp_refresh_t;

/* Stores a new refresh token (written to out) for rec (family, client, sub, scope...); its family is extended to cover
 * it and stays listed under its user for longer than the token lives (idp_family_list_user: a read, except about once
 * per refresh_token_ttl when it is extended). */
int idp_refresh_create(hub_txn_t *txn, const idp_refresh_t *rec, char out[44]);

/* Looks up a presented refresh token. HUB_E_NOTFOUND when unknown/expired. */
int idp_refresh_get(hub_txn_t *txn, const char *token, size_t len, idp_refresh_t **out);
/* Rotates r, a record idp_refresh_get read in this transaction (r is updated with it): marks it as rotated to a new
 * token (written to out, same family and scope: RFC 6749 §6 keeps the grant's scope even when a request narrows its
 * access token); returns 0. A token already rotated is a reuse (SPEC §4). ONE retry is honoured: when the token is the
 * parent of the family's current token (its successor not rotated yet), was rotated at most grace_s seconds ago and
 * was not retried before, a new token of the family is written to out and supersedes the successor (which, like the
 * retried token, counts as reused from then on), and 0 is returned, so whichever copy of the old branch comes back
 * later (a thief's or the client's) is detected. Every other reuse revokes the whole family, the successor included,
 * and returns HUB_E_DENIED (commit the txn). HUB_E_DENIED too when the family is revoked already (nothing written);
 * HUB_E_NOTFOUND for a record that was not read from the store. */
int idp_refresh_rotate(hub_txn_t *txn, idp_refresh_t *r, uint64_t ttl, uint64_t grace_s, char out[44]);
/* For a refused request presenting token: when it is an already rotated refresh token, revokes its family (a reuse that
 * is refused always revokes, SPEC §4) and returns 1; 0 when the token is unknown or current (nothing written); a
 * negative code on a store failure. */
int idp_refresh_refused_reuse(hub_txn_t *txn, const char *token, size_t len);
/* Revokes the family of a refresh token (RFC 7009); HUB_E_NOTFOUND when unknown. */
int idp_refresh_revoke(hub_txn_t *txn, const char *token, size_t len, const char *client_id);
void idp_refresh_free(idp_refresh_t *r);

/* Revokes one access token until its expiry. */
int idp_jti_revoke(hub_txn_t *txn, const char *jti, uint64_t exp);
/* 1 when the access token jti (read from a token whose signature was checked) is neither revoked nor of a revoked or
 * gone family (the family its jti names: idp_mint_at_id), else 0. */
int idp_jti_is_active(hub_txn_t *txn, const char *jti);

/* Consent grants (OAuth Provider Settings "auto"): the scopes a user approved for a client
 * and until when. */
int idp_consent_put(hub_txn_t *txn, const char *sub, const char *client_id, const char *scope, uint64_t expires_at);
/* 1 when an unexpired, unrevoked grant covers every scope in scope (space-separated). */
int idp_consent_covers(hub_txn_t *txn, const char *sub, const char *client_id, const char *scope);
/* The scope (space-separated, malloc'ed) of sub's unexpired grant to client_id in *scope, NULL when there is none;
 * returns 0, or the store's error. */
int idp_consent_scope(hub_txn_t *txn, const char *sub, const char *client_id, char **scope);
/* 1 when every word of scope is a word of granted (NULL: none), else 0. */
int idp_scope_covers(const char *granted, const char *scope);
int idp_consent_revoke(hub_txn_t *txn, const char *sub, const char *client_id);
/* A consent grant as idp_consent_each hands it over (strings valid during the call). */
typedef struct st_idp_consent_t {
    const char *client_id;
    const char *scope; /* space-separated, may be NULL */
    uint64_t at;       /* when it was given (0 for a grant recorded before this was kept) */
    uint64_t expires_at;
} idp_consent_t;
/* Calls cb for each unexpired consent grant of sub, in client order; a non-zero return of cb stops the walk. */
int idp_consent_each(hub_txn_t *txn, const char *sub, int (*cb)(void *arg, const idp_consent_t *g), void *arg);

#endif
