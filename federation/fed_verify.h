/* Local verification of the primary's JWTs on a secondary (SPEC §6): access tokens (with a
 * cache of verified tokens), id_tokens and back-channel logout tokens. */
#ifndef FED_VERIFY_H
#define FED_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "federation/fed_jwks.h"
#include "hub/jws.h"

#define FED_VERIFY_CACHE_DEFAULT 10000 /* verified tokens kept at most */
#define FED_MAX_ROLES 64

/* Who is calling: strings are NUL-terminated and live in the pool they were copied into. name,
 * email, sid and client_id may be NULL; roles has nroles entries. */
typedef struct st_fed_identity_t {
    const char *sub, *name, *email, *client_id, *sid;
    const char **roles;
    size_t nroles;
    uint64_t exp;
} fed_identity_t;

typedef struct st_fed_verify_t fed_verify_t;

/* A verifier trusting the keys of jwks (borrowed) for tokens issued by issuer (copied).
 * accept (copied, may be NULL) lists audiences accepted besides the node's client_id;
 * clock_skew is in seconds; cache_size 0 means FED_VERIFY_CACHE_DEFAULT. */
fed_verify_t *fed_verify_create(fed_jwks_t *jwks, const char *issuer, char *const *accept, size_t naccept, uint64_t clock_skew,
                                size_t cache_size);
void fed_verify_destroy(fed_verify_t *v);

/* Verifies a Bearer access token (RFC 9068): signature by the key named by kid with that
 * key's algorithm, typ at+jwt, iss, aud containing client_id (may be NULL before the node is
 * registered) or an accepted audience, exp, iat and nbf (when present) within the clock skew, a
 * non-empty jti. A token verified before is answered from the cache while its key is still in
 * the JWKS (a key the primary stops publishing ends its tokens' entries). On success fills *id
 * with copies in pool and returns 0. Errors: HUB_E_PARSE (malformed, missing sub or jti, nbf not
 * a number), HUB_E_NOTFOUND (unknown kid: a JWKS refresh was asked, rate limited; a request may
 * wait for it with fed_kid_wait and verify again), HUB_E_BADSIG, HUB_E_DENIED (typ, iss or aud),
 * HUB_E_EXPIRED (exp, iat or nbf). *why gets a short static reason (may be NULL). Thread-safe. */
int fed_verify_access_token(fed_verify_t *v, const char *client_id, const char *token, size_t len, h2o_mem_pool_t *pool,
                            fed_identity_t *id, const char **why);

/* Verifies an id_token (OIDC Core §3.1.3.7): signature, iss, aud == client_id (an array must
 * contain it and azp, when present, equal it), nonce (unless nonce is NULL: a refresh's
 * id_token has none), exp, iat and nbf (when present) within the skew. *claims gets the payload
 * (new reference). Errors as above. */
int fed_verify_id_token(fed_verify_t *v, const char *client_id, const char *nonce, const char *token, size_t len, json_t **claims,
                        const char **why);

/* Verifies a back-channel logout token (OIDC Back-Channel Logout §2.6): signature, iss,
 * aud containing client_id, iat not in the future and not stale, exp and nbf (when present) within
 * the skew, the back-channel logout event, no nonce, and sid or sub. *claims gets the payload (new
 * reference). */
int fed_verify_logout_token(fed_verify_t *v, const char *client_id, const char *token, size_t len, json_t **claims,
                            const char **why);

/* Fills *id from a verified payload (strings copied into pool); exp from the "exp" claim. */
void fed_identity_from_claims(h2o_mem_pool_t *pool, const json_t *claims, fed_identity_t *id);

/* Statistics for tests: lookups answered from the cache, and signatures checked. */
void fed_verify_stats(fed_verify_t *v, uint64_t *cache_hits, uint64_t *sig_checks);

#endif
