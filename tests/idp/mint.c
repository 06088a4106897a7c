/* Tests idp/mint.c: RFC 9068 access token claims, id_token at_hash per alg, logout tokens; signatures are
 * also checked outside hub/jws.c (raw OpenSSL, and libjwt for the RS256/ES256 id_tokens). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "idp/keyring.h"
#include "idp/mint.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static const char *jstr(const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s != NULL ? s : "";
}

/* Verifies token with libjwt against the PEM public key of key. libjwt 1.10 refuses any typ but "JWT", so it checks the
 * id_tokens (same keys, same signing code) and raw_verify below checks the at+jwt access tokens. */
static void check_with_libjwt(const hub_key_t *key, const char *token, const char *aud)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long len;
    jwt_t *jwt = NULL;

    CHECK(PEM_write_bio_PUBKEY(bio, key->pkey) == 1);
    len = BIO_get_mem_data(bio, &pem);
    CHECK(jwt_decode(&jwt, token, (const unsigned char *)pem, (int)len) == 0);
    if (jwt != NULL) {
        CHECK(jwt_get_alg(jwt) == (key->alg == HUB_ALG_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256));
        CHECK(strcmp(jwt_get_grant(jwt, "aud") != NULL ? jwt_get_grant(jwt, "aud") : "", aud) == 0);
        CHECK(strcmp(jwt_get_header(jwt, "kid") != NULL ? jwt_get_header(jwt, "kid") : "", key->kid) == 0);
        jwt_free(jwt);
    }
    /* a flipped signature byte must not verify */
    char *bad = strdup(token);
    size_t n = strlen(bad);
    bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
    jwt = NULL;
    CHECK(jwt_decode(&jwt, bad, (const unsigned char *)pem, (int)len) != 0);
    jwt_free(jwt);
    free(bad);
    BIO_free(bio);
}

/* Checks a JWS signature with OpenSSL directly (not through hub_jws_verify): RS256 PKCS#1 v1.5, ES256 r||s, Ed25519. */
static int raw_verify(const hub_key_t *key, const char *token)
{
    const char *dot = strrchr(token, '.');
    unsigned char sig[512], der[128], *use = sig;
    size_t siglen, uselen;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    if (dot == NULL || strlen(dot + 1) > 680)
        return 0;
    int n = hub_b64url_decode(sig, dot + 1, strlen(dot + 1));
    if (n <= 0)
        return 0;
    siglen = uselen = (size_t)n;
    if (key->alg == HUB_ALG_ES256) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        unsigned char *p = der;
        if (siglen != 64)
            return 0;
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        uselen = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        use = der;
    }
    ok = EVP_DigestVerifyInit(ctx, NULL, key->alg == HUB_ALG_EDDSA ? NULL : EVP_sha256(), NULL, key->pkey) == 1 &&
         EVP_DigestVerify(ctx, use, uselen, (const unsigned char *)token, (size_t)(dot - token)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static void expect_at_hash(hub_alg_t alg, const char *at, const char *got)
{
    unsigned char md[SHA512_DIGEST_LENGTH];
    char want[64];
    if (alg == HUB_ALG_EDDSA) {
        SHA512((const unsigned char *)at, strlen(at), md);
        hub_b64url_encode(want, md, 32);
    } else {
        SHA256((const unsigned char *)at, strlen(at), md);
        hub_b64url_encode(want, md, 16);
    }
    CHECK(got != NULL && strcmp(got, want) == 0);
}

/* What each part of run_alg mints with: a primary's idp on a store in dir, signing with alg; the access token the
 * first part mints (at, jti, exp) is the one the id_token's at_hash is checked against. */
typedef struct {
    char *dir;
    hub_config_t cfg;
    hub_store_t *store;
    idp_t idp;
    hub_alg_t alg;
    const hub_key_t *key;
    uint64_t now, exp;
    char *at, jti[IDP_JTI_MAX + 1];
} mint_env_t;

/* The user the id_tokens are minted for (every profile field set, one role). */
static char *mint_user_roles[] = {"Employee", NULL};
static idp_user_t mint_user = {.sub = "user-sub",
                               .username = "alice",
                               .email = "alice@example.com",
                               .full_name = "Alice Doe",
                               .given_name = "Alice",
                               .family_name = "Doe",
                               .enabled = 1,
                               .email_verified = 1,
                               .roles = {mint_user_roles, 1}};

/* 0 with e ready to mint, else -1 (the store did not open: nothing to dispose; the keyring did not: mint_close). */
static int mint_open(mint_env_t *e, hub_alg_t alg)
{
    memset(e, 0, sizeof(*e));
    e->dir = test_tmpdir("idp-mint");
    e->alg = alg;
    e->now = hub_now();
    hub_config_defaults(&e->cfg);
    if (hub_store_open(&e->store, e->dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", e->dir);
        ++failures;
        return -1;
    }
    free(e->cfg.node.data_dir);
    e->cfg.node.data_dir = strdup(e->dir);
    e->cfg.primary.signing_alg = alg;
    e->cfg.primary.access_token_ttl = 600;
    e->cfg.primary.id_token_ttl = 300;
    e->idp.cfg = &e->cfg;
    e->idp.store = e->store;
    snprintf(e->idp.issuer, sizeof(e->idp.issuer), "https://idp.example");
    CHECK(idp_keyring_open(&e->idp.keyring, e->store, &e->cfg) == 0);
    if (e->idp.keyring == NULL)
        return -1;
    e->key = idp_keyring_signing_key(e->idp.keyring);
    return 0;
}

static void mint_close(mint_env_t *e)
{
    free(e->at);
    idp_keyring_close(e->idp.keyring);
    hub_store_close(e->store);
    hub_config_dispose(&e->cfg);
    CHECK(test_tmpdir_remove(e->dir) == 0);
}

/* An RFC 9068 access token: header, every claim, the signature checked outside hub/jws.c too. */
static void mint_access_token(mint_env_t *e)
{
    hub_jws_t jws = {0};
    char *roles_v[] = {"Employee", "System Manager", NULL};
    idp_strv_t roles = {roles_v, 2};
    static const char family[] = "FAMILY-ID-OF-32-CHARACTERS-ABCDE";
    idp_at_params_t p = {"user-sub", "client-1", "openid roles", "sid-1", e->now - 10, &roles};
    uint64_t iat = 0;

    CHECK(idp_mint_at_id(e->jti, family, &iat) == 0 && idp_mint_access_token_as(&e->idp, &p, e->jti, iat, &e->at) == 0);
    e->exp = iat + e->cfg.primary.access_token_ttl;
    CHECK(strlen(e->jti) == IDP_JTI_MAX && strncmp(e->jti, family, IDP_FAMILY_ID_LEN) == 0 && e->jti[IDP_FAMILY_ID_LEN] == '.');
    CHECK(hub_is_b64url(e->jti + IDP_FAMILY_ID_LEN + 1, 22) && e->exp >= e->now + 600 && e->exp <= e->now + 602);
    CHECK(e->at != NULL && idp_keyring_verify(e->idp.keyring, e->at, strlen(e->at), &jws) == 0);
    if (jws.payload != NULL) {
        json_t *c = jws.payload;
        CHECK(strcmp(jws.typ ? jws.typ : "", "at+jwt") == 0 && strcmp(jws.kid ? jws.kid : "", e->key->kid) == 0);
        CHECK(strcmp(jws.alg ? jws.alg : "", hub_alg_name(e->alg)) == 0);
        CHECK(strcmp(jstr(c, "iss"), "https://idp.example") == 0 && strcmp(jstr(c, "sub"), "user-sub") == 0);
        CHECK(strcmp(jstr(c, "aud"), "client-1") == 0 && strcmp(jstr(c, "client_id"), "client-1") == 0);
        CHECK(strcmp(jstr(c, "jti"), e->jti) == 0 && strcmp(jstr(c, "scope"), "openid roles") == 0);
        CHECK(strcmp(jstr(c, "sid"), "sid-1") == 0);
        CHECK((uint64_t)json_integer_value(json_object_get(c, "exp")) == e->exp);
        CHECK((uint64_t)json_integer_value(json_object_get(c, "auth_time")) == e->now - 10);
        CHECK(json_integer_value(json_object_get(c, "iat")) >= (json_int_t)e->now);
        json_t *r = json_object_get(c, "roles");
        CHECK(json_array_size(r) == 2 && strcmp(json_string_value(json_array_get(r, 1)), "System Manager") == 0);
        hub_jws_dispose(&jws);
    }
    CHECK(e->at != NULL && raw_verify(e->key, e->at));
}

/* A client_credentials token: no sid, no auth_time, service roles. */
static void mint_client_credentials(mint_env_t *e)
{
    hub_jws_t jws = {0};
    char *at2 = NULL, jti2[IDP_JTI_MAX + 1];
    uint64_t exp;
    idp_at_params_t p2 = {"svc", "svc", "read", NULL, 0, NULL};

    CHECK(idp_mint_access_token(&e->idp, &p2, &at2, jti2, &exp) == 0);
    CHECK(strcmp(e->jti, jti2) != 0 && strlen(jti2) == 30 && strchr(jti2, '.') == NULL); /* no family to name */
    if (at2 != NULL && idp_keyring_verify(e->idp.keyring, at2, strlen(at2), &jws) == 0) {
        CHECK(json_object_get(jws.payload, "sid") == NULL && json_object_get(jws.payload, "auth_time") == NULL);
        CHECK(json_is_array(json_object_get(jws.payload, "roles")) && json_array_size(json_object_get(jws.payload, "roles")) == 0);
        hub_jws_dispose(&jws);
    } else {
        CHECK(!"client_credentials token verifies");
    }
    free(at2);
}

/* An id_token with profile and email: its claims, at_hash of the access token, the signature checked by OpenSSL and libjwt. */
static void mint_id_token(mint_env_t *e)
{
    hub_jws_t jws = {0};
    idp_client_t client = {.client_id = (char *)"client-1"};
    char *idt = NULL;

    CHECK(idp_mint_id_token(&e->idp, &mint_user, &client, "openid profile email", "n-123", "sid-1", e->now - 10, e->at, &idt) == 0);
    if (idt != NULL && idp_keyring_verify(e->idp.keyring, idt, strlen(idt), &jws) == 0) {
        json_t *c = jws.payload;
        CHECK(strcmp(jstr(c, "iss"), "https://idp.example") == 0 && strcmp(jstr(c, "sub"), "user-sub") == 0);
        CHECK(strcmp(jstr(c, "aud"), "client-1") == 0 && strcmp(jstr(c, "nonce"), "n-123") == 0);
        CHECK(strcmp(jstr(c, "sid"), "sid-1") == 0 && strcmp(jstr(c, "name"), "Alice Doe") == 0);
        CHECK(strlen(jstr(c, "jti")) == 22); /* every token of ours carries a jti */
        CHECK(strcmp(jstr(c, "email"), "alice@example.com") == 0 && json_is_true(json_object_get(c, "email_verified")));
        CHECK(json_object_get(c, "roles") == NULL); /* roles scope not granted */
        json_int_t iat = json_integer_value(json_object_get(c, "iat"));
        CHECK(json_integer_value(json_object_get(c, "exp")) == iat + 300);
        CHECK((uint64_t)json_integer_value(json_object_get(c, "auth_time")) == e->now - 10);
        expect_at_hash(e->alg, e->at, json_string_value(json_object_get(c, "at_hash")));
        hub_jws_dispose(&jws);
        CHECK(raw_verify(e->key, idt));
        if (e->alg != HUB_ALG_EDDSA)
            check_with_libjwt(e->key, idt, "client-1");
    } else {
        CHECK(!"id_token verifies");
    }
    free(idt);
}

/* Scope openid alone: sub only for a client, what Frappe's own provider puts in it for a Frappe site. */
static void mint_id_token_openid_only(mint_env_t *e)
{
    hub_jws_t jws = {0};
    idp_client_t client = {.client_id = (char *)"client-1"};

    for (int frappe = 0; frappe != 2; ++frappe) {
        char *t = NULL;
        client.frappe_site = frappe ? (char *)"https://site.example" : NULL;
        CHECK(idp_mint_id_token(&e->idp, &mint_user, &client, "openid", NULL, "sid-1", e->now - 10, NULL, &t) == 0);
        if (t != NULL && idp_keyring_verify(e->idp.keyring, t, strlen(t), &jws) == 0) {
            json_t *c = jws.payload, *r = json_object_get(c, "roles");
            CHECK(strcmp(jstr(c, "sub"), "user-sub") == 0 && strcmp(jstr(c, "aud"), "client-1") == 0);
            if (frappe) {
                CHECK(strcmp(jstr(c, "name"), "Alice Doe") == 0 && strcmp(jstr(c, "given_name"), "Alice") == 0);
                CHECK(strcmp(jstr(c, "family_name"), "Doe") == 0 && strcmp(jstr(c, "email"), "alice@example.com") == 0);
                CHECK(json_array_size(r) == 1 && strcmp(json_string_value(json_array_get(r, 0)), "Employee") == 0);
            } else {
                CHECK(json_object_get(c, "name") == NULL && json_object_get(c, "email") == NULL && r == NULL);
            }
            hub_jws_dispose(&jws);
        } else {
            CHECK(!"openid id_token verifies");
        }
        free(t);
    }
}

/* A back-channel logout token: typ, audience, sid, jti, the event, no nonce. */
static void mint_logout_token(mint_env_t *e)
{
    hub_jws_t jws = {0};
    char *lt = NULL;

    CHECK(idp_mint_logout_token(&e->idp, "client-1", "user-sub", "sid-1", &lt) == 0);
    if (lt != NULL && idp_keyring_verify(e->idp.keyring, lt, strlen(lt), &jws) == 0) {
        json_t *c = jws.payload;
        CHECK(strcmp(jws.typ ? jws.typ : "", "logout+jwt") == 0);
        CHECK(strcmp(jstr(c, "aud"), "client-1") == 0 && strcmp(jstr(c, "sid"), "sid-1") == 0);
        CHECK(strlen(jstr(c, "jti")) > 0 && json_object_get(c, "nonce") == NULL);
        CHECK(json_is_object(json_object_get(json_object_get(c, "events"), "http://schemas.openid.net/event/backchannel-logout")));
        hub_jws_dispose(&jws);
    } else {
        CHECK(!"logout token verifies");
    }
    free(lt);
}

/* Every kind of token minted with alg, each part in turn on one store and keyring. */
static void run_alg(hub_alg_t alg)
{
    static void (*const parts[])(mint_env_t *) = {mint_access_token, mint_client_credentials, mint_id_token,
                                                  mint_id_token_openid_only, mint_logout_token};
    mint_env_t e;

    if (mint_open(&e, alg) == 0)
        for (size_t i = 0; i != sizeof(parts) / sizeof(parts[0]); ++i)
            parts[i](&e);
    else if (e.store == NULL)
        return;
    mint_close(&e);
}

int main(void)
{
    run_alg(HUB_ALG_RS256);
    run_alg(HUB_ALG_ES256);
    run_alg(HUB_ALG_EDDSA);
    return check_report("idp/mint");
}
