/* Minting the primary's JWTs: RFC 9068 access tokens, OIDC id_tokens and back-channel
 * logout tokens, all signed with the keyring's active key. */
#ifndef IDP_MINT_H
#define IDP_MINT_H

#include <stdint.h>
#include "idp/ctx.h"
#include "idp/client.h"
#include "idp/family.h"
#include "idp/user.h"

typedef struct st_idp_at_params_t {
    const char *sub;       /* user's sub, or client_id for client_credentials */
    const char *client_id; /* also the aud */
    const char *scope;     /* space-separated */
    const char *sid;       /* may be NULL */
    uint64_t auth_time;    /* 0 = omit */
    const idp_strv_t *roles;
} idp_at_params_t;

/* An access token's jti. A token issued from a family: the family's id, ".", 16 random bytes in base64url (22 chars),
 * so that whether it was revoked with its family is read from the family itself (idp_jti_is_active) and issuing it
 * records nothing of its own. Any other (client_credentials): 22 bytes in base64url, the first 6 of them the time
 * (hub_timed_token), 16 random. */
#define IDP_JTI_MAX (IDP_FAMILY_ID_LEN + 1 + 22)

/* Signs an access token of no family (client_credentials: header typ "at+jwt"); *jwt malloc'ed; jti and exp returned.
 * A user's token names its family: idp_mint_at_id, then idp_mint_access_token_as. */
int idp_mint_access_token(idp_t *idp, const idp_at_params_t *p, char **jwt, char jti[IDP_JTI_MAX + 1], uint64_t *exp);

/* The same in two steps, so that a write transaction covers the token (idp_family_cover) and the signing happens after
 * it, outside: draws the jti of a token of family (NULL: none) and iat (now), HUB_E_INVAL for a family id that is not
 * one; then signs with them (exp = iat + primary.access_token_ttl). */
int idp_mint_at_id(char jti[IDP_JTI_MAX + 1], const char *family, uint64_t *iat);
int idp_mint_access_token_as(idp_t *idp, const idp_at_params_t *p, const char *jti, uint64_t iat, char **jwt);

/* Signs an id_token for user and client: iss, sub, aud, azp (the client_id), exp, iat, jti,
 * auth_time, nonce (when not NULL), at_hash (when access_token not NULL), sid, and the claims
 * the scope discloses to the client (idp_user_claims). */
int idp_mint_id_token(idp_t *idp, const idp_user_t *user, const idp_client_t *client, const char *scope, const char *nonce,
                      const char *sid, uint64_t auth_time, const char *access_token, char **jwt);

/* Signs a back-channel logout token (typ "logout+jwt"): iss, aud, iat, jti, sub, sid, events. */
int idp_mint_logout_token(idp_t *idp, const char *client_id, const char *sub, const char *sid, char **jwt);

#endif
