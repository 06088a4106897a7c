/* Minting the primary's JWTs: RFC 9068 access tokens, OIDC id_tokens, back-channel logout tokens. */
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jsonw.h"
#include "hub/jws.h"
#include "idp/claims.h"
#include "idp/mint.h"

#define JTI_BYTES 16     /* 22 base64url chars: the jti of an id_token or logout token (never stored) */
#define AT_JTI_BYTES 22  /* a jti without a family: 30 base64url chars */
#define CLAIMS_MAX 12288 /* the JSON of one token's claims */

_Static_assert(HUB_B64URL_LEN(AT_JTI_BYTES) <= IDP_JTI_MAX && IDP_FAMILY_ID_LEN + 1 + HUB_B64URL_LEN(JTI_BYTES) == IDP_JTI_MAX,
               "IDP_JTI_MAX");

int idp_mint_at_id(char jti[IDP_JTI_MAX + 1], const char *family, uint64_t *iat)
{
    *iat = hub_now();
    if (family == NULL) {
        hub_timed_token(jti, AT_JTI_BYTES);
        return 0;
    }
    /* a family id is 32 characters (idp_family_create): any other, from a store written wrongly, cannot be named, and a
     * token that does not name its family would escape its revocation */
    if (strlen(family) != IDP_FAMILY_ID_LEN)
        return HUB_E_INVAL;
    memcpy(jti, family, IDP_FAMILY_ID_LEN);
    jti[IDP_FAMILY_ID_LEN] = '.';
    hub_random_token(jti + IDP_FAMILY_ID_LEN + 1, JTI_BYTES);
    return 0;
}

int idp_mint_access_token(idp_t *idp, const idp_at_params_t *p, char **jwt, char jti[IDP_JTI_MAX + 1], uint64_t *exp)
{
    uint64_t iat;

    idp_mint_at_id(jti, NULL, &iat);
    *exp = iat + idp->cfg->primary.access_token_ttl;
    return idp_mint_access_token_as(idp, p, jti, iat, jwt);
}

int idp_mint_access_token_as(idp_t *idp, const idp_at_params_t *p, const char *jti, uint64_t iat, char **jwt)
{
    const hub_key_t *key = idp_keyring_signing_key(idp->keyring);
    uint64_t exp = iat + idp->cfg->primary.access_token_ttl;
    char payload[CLAIMS_MAX];
    size_t len, i;
    hub_jw_t w;
    int ret;

    *jwt = NULL;
    /* written directly, not through a jansson tree: this is the hot path of every grant */
    hub_jw_init(&w, payload, sizeof(payload));
    hub_jw_open(&w, '{');
    hub_jw_kstr(&w, "iss", idp->issuer);
    hub_jw_kstr(&w, "sub", p->sub);
    hub_jw_kstr(&w, "aud", p->client_id);
    hub_jw_kuint(&w, "exp", exp);
    hub_jw_kuint(&w, "iat", iat);
    hub_jw_kstr(&w, "jti", jti);
    hub_jw_kstr(&w, "client_id", p->client_id);
    hub_jw_kstr(&w, "scope", p->scope != NULL ? p->scope : "");
    if (p->auth_time != 0)
        hub_jw_kuint(&w, "auth_time", p->auth_time);
    if (p->sid != NULL)
        hub_jw_kstr(&w, "sid", p->sid);
    hub_jw_key(&w, "roles");
    hub_jw_open(&w, '[');
    for (i = 0; p->roles != NULL && i != p->roles->n; ++i)
        hub_jw_str(&w, p->roles->v[i]);
    hub_jw_close(&w, ']');
    hub_jw_close(&w, '}');
    if ((ret = hub_jw_finish(&w, &len)) != 0)
        return ret;
    return hub_jws_sign_raw(key, "at+jwt", payload, len, jwt);
}

/* OIDC Core §3.1.3.6: the left half of the hash the signing alg uses, base64url. EdDSA (Ed25519) has no hash of its own; the
 * OpenID Foundation's errata pairs it with SHA-512. */
static void at_hash(char out[64], hub_alg_t alg, const char *token)
{
    unsigned char md[SHA512_DIGEST_LENGTH];
    size_t half;
    if (alg == HUB_ALG_EDDSA) {
        SHA512((const unsigned char *)token, strlen(token), md);
        half = SHA512_DIGEST_LENGTH / 2;
    } else {
        hub_sha256(md, token, strlen(token));
        half = HUB_SHA256_LEN / 2;
    }
    hub_b64url_encode(out, md, half);
}

int idp_mint_id_token(idp_t *idp, const idp_user_t *user, const idp_client_t *client, const char *scope, const char *nonce,
                      const char *sid, uint64_t auth_time, const char *access_token, char **jwt)
{
    const hub_key_t *key = idp_keyring_signing_key(idp->keyring);
    const char *client_id = client->client_id;
    uint64_t now = hub_now();
    json_t *claims = idp_user_claims(user, client, scope);
    char jti[HUB_B64URL_LEN(JTI_BYTES) + 1];
    int ret;

    hub_random_token(jti, JTI_BYTES); /* every token of ours has one: the primary refuses its own tokens without (keyring.h) */
    json_object_set_new(claims, "jti", json_string(jti));
    json_object_set_new(claims, "iss", json_string(idp->issuer));
    json_object_set_new(claims, "sub", json_string(user->sub));
    json_object_set_new(claims, "aud", json_string(client_id));
    json_object_set_new(claims, "azp", json_string(client_id));
    json_object_set_new(claims, "exp", json_integer((json_int_t)(now + idp->cfg->primary.id_token_ttl)));
    json_object_set_new(claims, "iat", json_integer((json_int_t)now));
    if (auth_time != 0)
        json_object_set_new(claims, "auth_time", json_integer((json_int_t)auth_time));
    if (nonce != NULL)
        json_object_set_new(claims, "nonce", json_string(nonce));
    if (access_token != NULL) {
        char h[64];
        at_hash(h, key->alg, access_token);
        json_object_set_new(claims, "at_hash", json_string(h));
    }
    if (sid != NULL)
        json_object_set_new(claims, "sid", json_string(sid));
    ret = hub_jws_sign(key, "JWT", claims, jwt);
    json_decref(claims);
    return ret;
}

int idp_mint_logout_token(idp_t *idp, const char *client_id, const char *sub, const char *sid, char **jwt)
{
    const hub_key_t *key = idp_keyring_signing_key(idp->keyring);
    uint64_t now = hub_now();
    char jti[HUB_B64URL_LEN(JTI_BYTES) + 1];
    json_t *claims = json_object(), *events = json_object();
    int ret;

    hub_random_token(jti, JTI_BYTES);
    json_object_set_new(claims, "iss", json_string(idp->issuer));
    json_object_set_new(claims, "aud", json_string(client_id));
    json_object_set_new(claims, "iat", json_integer((json_int_t)now));
    json_object_set_new(claims, "exp", json_integer((json_int_t)(now + 120)));
    json_object_set_new(claims, "jti", json_string(jti));
    if (sub != NULL)
        json_object_set_new(claims, "sub", json_string(sub));
    if (sid != NULL)
        json_object_set_new(claims, "sid", json_string(sid));
    json_object_set_new(events, "http://schemas.openid.net/event/backchannel-logout", json_object());
    json_object_set_new(claims, "events", events);
    ret = hub_jws_sign(key, "logout+jwt", claims, jwt);
    json_decref(claims);
    return ret;
}
