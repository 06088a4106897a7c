/* Tests hub/jws.c: keys, PEM and JWK round trips, signing and verification for RS256, ES256 and EdDSA,
 * tampering and algorithm-confusion attacks, parsing limits, and cross-checks against libjwt. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "tests/check.h"

static const hub_alg_t algs[] = {HUB_ALG_RS256, HUB_ALG_ES256, HUB_ALG_EDDSA};

static json_t *claims(void)
{
    return json_pack("{s:s, s:s, s:I, s:[s, s]}", "iss", "https://hub.example", "sub", "alice", "exp", (json_int_t)1900000000,
                     "aud", "a", "b");
}

static char *sign(const hub_key_t *key, const char *typ)
{
    json_t *c = claims();
    char *tok = NULL;

    CHECK(hub_jws_sign(key, typ, c, &tok) == 0);
    json_decref(c);
    return tok;
}

static int verify(const hub_key_t *key, const char *tok)
{
    return hub_jws_verify(key, tok, strlen(tok));
}

/* A malloc'ed copy of tok with part `part` (0..2) replaced by the base64url of bin. */
static char *replace_part(const char *tok, int part, const void *bin, size_t len)
{
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    const char *start = part == 0 ? tok : part == 1 ? d1 + 1 : d2 + 1;
    const char *end = part == 0 ? d1 : part == 1 ? d2 : tok + strlen(tok);
    size_t pre = (size_t)(start - tok), post = strlen(end);
    char *out = malloc(pre + HUB_B64URL_LEN(len) + post + 1);

    memcpy(out, tok, pre);
    size_t n = hub_b64url_encode(out + pre, bin, len);
    memcpy(out + pre + n, end, post + 1);
    return out;
}

/* The public key as SubjectPublicKeyInfo PEM, as libjwt and HMAC-confusion attackers see it. */
static char *pubkey_pem(const hub_key_t *key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    CHECK(PEM_write_bio_PUBKEY(bio, key->pkey) == 1);
    n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    return out;
}

static void test_alg_names(void)
{
    hub_alg_t a;

    CHECK(strcmp(hub_alg_name(HUB_ALG_RS256), "RS256") == 0);
    CHECK(strcmp(hub_alg_name(HUB_ALG_ES256), "ES256") == 0);
    CHECK(strcmp(hub_alg_name(HUB_ALG_EDDSA), "EdDSA") == 0);
    CHECK(hub_alg_parse("ES256", &a) == 0 && a == HUB_ALG_ES256);
    CHECK(hub_alg_parse("EdDSA", &a) == 0 && a == HUB_ALG_EDDSA);
    CHECK(hub_alg_parse("RS256", &a) == 0 && a == HUB_ALG_RS256);
    CHECK(hub_alg_parse("none", &a) == HUB_E_INVAL);
    CHECK(hub_alg_parse("HS256", &a) == HUB_E_INVAL);
    CHECK(hub_alg_parse("es256", &a) == HUB_E_INVAL);
}

static void test_sign_verify(const hub_key_t *key, const hub_key_t *other)
{
    char *tok = sign(key, "at+jwt"), *bad;
    hub_jws_t jws;
    json_t *c = claims();

    CHECK(tok != NULL);
    if (tok == NULL)
        goto out;
    CHECK(verify(key, tok) == 0);
    CHECK(verify(other, tok) == HUB_E_BADSIG);

    /* parse gives back the header fields and the claims */
    CHECK(hub_jws_parse(tok, strlen(tok), &jws) == 0);
    CHECK(jws.kid != NULL && strcmp(jws.kid, key->kid) == 0);
    CHECK(jws.alg != NULL && strcmp(jws.alg, hub_alg_name(key->alg)) == 0);
    CHECK(jws.typ != NULL && strcmp(jws.typ, "at+jwt") == 0);
    CHECK(json_equal(jws.payload, c));
    CHECK(json_object_size(jws.header) == 3);
    hub_jws_dispose(&jws);

    /* without typ */
    free(tok);
    tok = sign(key, NULL);
    CHECK(verify(key, tok) == 0);
    CHECK(hub_jws_parse(tok, strlen(tok), &jws) == 0 && jws.typ == NULL && json_object_size(jws.header) == 2);
    hub_jws_dispose(&jws);

    /* tampered payload: a different claim set under the original signature */
    json_object_set_new(c, "sub", json_string("mallory"));
    char *pl = json_dumps(c, JSON_COMPACT);
    bad = replace_part(tok, 1, pl, strlen(pl));
    CHECK(verify(key, bad) == HUB_E_BADSIG);
    free(bad);
    free(pl);

    /* tampered header with the same alg and kid */
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", hub_alg_name(key->alg), key->kid);
    bad = replace_part(tok, 0, hdr, strlen(hdr));
    CHECK(verify(key, bad) == HUB_E_BADSIG);
    free(bad);

    /* tampered signature: flip one bit, then truncate, then drop it */
    {
        const char *d2 = strrchr(tok, '.');
        uint8_t sig[1024];
        int n = hub_b64url_decode(sig, d2 + 1, strlen(d2 + 1));
        CHECK(n > 0);
        sig[n / 2] ^= 0x01;
        bad = replace_part(tok, 2, sig, (size_t)n);
        CHECK(verify(key, bad) == HUB_E_BADSIG);
        free(bad);
        sig[n / 2] ^= 0x01;
        bad = replace_part(tok, 2, sig, (size_t)n - 1);
        CHECK(verify(key, bad) == HUB_E_BADSIG);
        free(bad);
        bad = replace_part(tok, 2, sig, 0);
        CHECK(verify(key, bad) == HUB_E_BADSIG);
        free(bad);
        bad = replace_part(tok, 2, sig, (size_t)n);
        CHECK(verify(key, bad) == 0);
        free(bad);
    }

    /* malformed tokens */
    CHECK(hub_jws_verify(key, tok, strlen(tok) - 1) != 0);
    CHECK(hub_jws_verify(key, tok, 10) == HUB_E_PARSE);
    CHECK(hub_jws_verify(key, "", 0) == HUB_E_PARSE);
    CHECK(hub_jws_verify(key, "..", 2) == HUB_E_PARSE);
out:
    free(tok);
    json_decref(c);
}

/* A token over any header, correctly signed by key's private key with its real algorithm
 * (the attacker who holds a signing oracle, or a confused signer, labelling it otherwise). */
static char *forge(const hub_key_t *key, const char *header)
{
    static const char payload[] = "{\"sub\":\"alice\"}";
    size_t hl = strlen(header), cap = HUB_B64URL_LEN(hl) + HUB_B64URL_LEN(sizeof(payload)) + 600;
    char *tok = malloc(cap);
    uint8_t sig[512], jose[64];
    size_t pos, n = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    pos = hub_b64url_encode(tok, header, hl);
    tok[pos++] = '.';
    pos += hub_b64url_encode(tok + pos, payload, sizeof(payload) - 1);
    CHECK(EVP_DigestSignInit(ctx, NULL, key->alg == HUB_ALG_EDDSA ? NULL : EVP_sha256(), NULL, key->pkey) == 1);
    CHECK(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)tok, pos) == 1);
    EVP_MD_CTX_free(ctx);
    if (key->alg == HUB_ALG_ES256) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        CHECK(es != NULL);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), jose, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), jose + 32, 32);
        ECDSA_SIG_free(es);
        memcpy(sig, jose, 64);
        n = 64;
    }
    tok[pos++] = '.';
    hub_b64url_encode(tok + pos, sig, n);
    return tok;
}

/* alg none, HMAC with the public key as secret (key confusion), and other algorithm names. */
static void test_alg_confusion(const hub_key_t *key)
{
    static const char *const names[] = {"none",  "None",  "NONE",   "HS256",   "HS384", "HS512", "RS256", "ES256",
                                        "EdDSA", "PS256", "ES256K", "Ed25519", "es256", "rs256", "eddsa"};
    char *tok = sign(key, NULL), *pem, hdr[256], *t1, *t2;
    size_t pemlen, inlen;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    pem = pubkey_pem(key, &pemlen);
    /* control: forge() makes tokens the key accepts when the header names its algorithm */
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", hub_alg_name(key->alg));
    t1 = forge(key, hdr);
    CHECK(verify(key, t1) == 0);
    free(t1);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        if (strcmp(names[i], hub_alg_name(key->alg)) == 0)
            continue;
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", names[i], key->kid);
        /* a signature that is genuinely valid for this header still fails on the alg name alone */
        t1 = forge(key, hdr);
        CHECK(verify(key, t1) == HUB_E_BADSIG);
        free(t1);
        t1 = replace_part(tok, 0, hdr, strlen(hdr));
        /* the original (valid) signature under a different alg */
        CHECK(verify(key, t1) == HUB_E_BADSIG);
        /* an empty signature, as "none" tokens carry */
        t2 = replace_part(t1, 2, "", 0);
        CHECK(verify(key, t2) == HUB_E_BADSIG);
        free(t2);
        /* HMAC-SHA256 over the new signing input keyed with the public key PEM */
        inlen = (size_t)(strrchr(t1, '.') - t1);
        CHECK(HMAC(EVP_sha256(), pem, (int)pemlen, (const unsigned char *)t1, inlen, mac, &maclen) != NULL);
        t2 = replace_part(t1, 2, mac, maclen);
        CHECK(verify(key, t2) == HUB_E_BADSIG);
        free(t2);
        free(t1);
    }
    /* "none" with no signature part at all and with a trailing dot only */
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\"}");
    t1 = replace_part(tok, 0, hdr, strlen(hdr));
    *strrchr(t1, '.') = '\0';
    CHECK(verify(key, t1) == HUB_E_PARSE);
    free(t1);
    /* alg missing, alg not a string, crit present */
    static const char *const hdrs[] = {"{\"kid\":\"x\"}", "{\"alg\":null}", "{\"alg\":[\"ES256\"]}", "[]", "\"ES256\"", "{}"};
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); ++i) {
        t1 = replace_part(tok, 0, hdrs[i], strlen(hdrs[i]));
        CHECK(verify(key, t1) != 0);
        free(t1);
    }
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"crit\":[\"exp\"],\"exp\":1}", hub_alg_name(key->alg));
    t1 = replace_part(tok, 0, hdr, strlen(hdr));
    CHECK(verify(key, t1) != 0);
    free(t1);
    free(pem);
    free(tok);
}

static void test_pem(const hub_key_t *key)
{
    char *pem = NULL, *tok;
    size_t len = 0;
    hub_key_t *back = NULL, *bad = NULL;

    CHECK(hub_key_to_pem(key, &pem, &len) == 0);
    CHECK(pem != NULL && len == strlen(pem));
    CHECK(pem != NULL && strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK(hub_key_from_pem(&back, "kid-1", key->alg, pem, len) == 0);
    if (back != NULL) {
        CHECK(strcmp(back->kid, "kid-1") == 0 && back->alg == key->alg && back->has_private);
        CHECK(EVP_PKEY_eq(back->pkey, key->pkey) == 1);
        tok = sign(back, NULL);
        CHECK(verify(key, tok) == 0);
        free(tok);
        tok = sign(key, NULL);
        CHECK(verify(back, tok) == 0);
        free(tok);
    }
    /* the wrong algorithm for the key type, an over-long kid, garbage */
    for (size_t i = 0; i < 3; ++i) {
        if (algs[i] != key->alg) {
            CHECK(hub_key_from_pem(&bad, "k", algs[i], pem, len) != 0);
            CHECK(bad == NULL);
        }
    }
    char longkid[100];
    memset(longkid, 'k', sizeof(longkid) - 1);
    longkid[sizeof(longkid) - 1] = '\0';
    CHECK(hub_key_from_pem(&bad, longkid, key->alg, pem, len) != 0 && bad == NULL);
    CHECK(hub_key_from_pem(&bad, "k", key->alg, pem, len / 2) != 0 && bad == NULL);
    CHECK(hub_key_from_pem(&bad, "k", key->alg, "garbage", 7) != 0 && bad == NULL);
    hub_key_free(back);
    free(pem);
}

static void test_jwk(const hub_key_t *key)
{
    json_t *jwk = hub_key_to_jwk(key);
    hub_key_t *pub = NULL;
    char *tok = NULL, *pem = NULL;
    size_t pemlen;

    CHECK(jwk != NULL);
    if (jwk == NULL)
        return;
    CHECK(strcmp(json_string_value(json_object_get(jwk, "kid")), key->kid) == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "alg")), hub_alg_name(key->alg)) == 0);
    CHECK(strcmp(json_string_value(json_object_get(jwk, "use")), "sig") == 0);
    CHECK(json_object_get(jwk, "d") == NULL && json_object_get(jwk, "p") == NULL);
    switch (key->alg) {
    case HUB_ALG_RS256:
        CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")), "RSA") == 0);
        CHECK(strcmp(json_string_value(json_object_get(jwk, "e")), "AQAB") == 0);
        CHECK(json_string_length(json_object_get(jwk, "n")) == HUB_B64URL_LEN(256));
        break;
    case HUB_ALG_ES256:
        CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")), "EC") == 0);
        CHECK(strcmp(json_string_value(json_object_get(jwk, "crv")), "P-256") == 0);
        CHECK(json_string_length(json_object_get(jwk, "x")) == 43 && json_string_length(json_object_get(jwk, "y")) == 43);
        break;
    case HUB_ALG_EDDSA:
        CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")), "OKP") == 0);
        CHECK(strcmp(json_string_value(json_object_get(jwk, "crv")), "Ed25519") == 0);
        CHECK(json_string_length(json_object_get(jwk, "x")) == 43);
        break;
    }
    CHECK(hub_key_from_jwk(&pub, jwk) == 0);
    if (pub != NULL) {
        CHECK(!pub->has_private && pub->alg == key->alg && strcmp(pub->kid, key->kid) == 0);
        CHECK(EVP_PKEY_eq(pub->pkey, key->pkey) == 1);
        tok = sign(key, "at+jwt");
        CHECK(verify(pub, tok) == 0);
        free(tok);
        /* a public key neither signs nor exports a private PEM */
        json_t *c = claims();
        tok = (char *)"unchanged";
        CHECK(hub_jws_sign(pub, NULL, c, &tok) == HUB_E_INVAL && tok == NULL);
        CHECK(hub_key_to_pem(pub, &pem, &pemlen) == HUB_E_INVAL && pem == NULL);
        json_decref(c);
        /* the JWK of the imported key is the same JWK */
        json_t *again = hub_key_to_jwk(pub);
        CHECK(json_equal(again, jwk));
        json_decref(again);
    }
    hub_key_free(pub);
    json_decref(jwk);
}

/* Imports a mutated copy of jwk: set (name, value) pairs, value NULL deletes; must fail. */
static void expect_jwk_reject(const json_t *jwk, int line, const char *name, json_t *value, const char *name2, json_t *value2)
{
    json_t *copy = json_deep_copy(jwk);
    hub_key_t *k = NULL;

    if (value != NULL)
        json_object_set_new(copy, name, value);
    else
        json_object_del(copy, name);
    if (name2 != NULL) {
        if (value2 != NULL)
            json_object_set_new(copy, name2, value2);
        else
            json_object_del(copy, name2);
    }
    if (hub_key_from_jwk(&k, copy) != HUB_E_INVAL || k != NULL) {
        fprintf(stderr, "%s:%d: JWK accepted after changing %s\n", __FILE__, line, name);
        ++failures;
    }
    hub_key_free(k);
    json_decref(copy);
}
#define REJECT(jwk, n, v) expect_jwk_reject(jwk, __LINE__, n, v, NULL, NULL)
#define REJECT2(jwk, n, v, n2, v2) expect_jwk_reject(jwk, __LINE__, n, v, n2, v2)

/* alg/kty/crv consistency: each key kind with another kind's or an unsupported alg, kty or crv */
static void jwk_rejects_kinds(const json_t *r, const json_t *e, const json_t *d)
{
    REJECT(r, "alg", json_string("ES256"));
    REJECT(r, "alg", json_string("EdDSA"));
    REJECT(r, "alg", json_string("PS256"));
    REJECT(r, "alg", json_string("HS256"));
    REJECT(r, "alg", json_string("none"));
    REJECT(r, "alg", NULL);
    REJECT(r, "kty", json_string("EC"));
    REJECT(r, "kty", json_string("oct"));
    REJECT(e, "alg", json_string("RS256"));
    REJECT(e, "alg", json_string("EdDSA"));
    REJECT(e, "alg", json_string("ES384"));
    REJECT(e, "crv", json_string("P-384"));
    REJECT(e, "crv", json_string("secp256k1"));
    REJECT(e, "crv", NULL);
    REJECT(e, "kty", json_string("OKP"));
    REJECT(d, "alg", json_string("ES256"));
    REJECT(d, "crv", json_string("Ed448"));
    REJECT(d, "crv", json_string("X25519"));
    REJECT(d, "kty", json_string("EC"));
    REJECT(d, "alg", json_integer(1));
}

/* missing or malformed material: n, e, x, y absent, of the wrong type or size; e = 1 or 2; use enc */
static void jwk_rejects_material(const json_t *r, const json_t *e, const json_t *d)
{
    REJECT(r, "n", NULL);
    REJECT(r, "e", NULL);
    REJECT(r, "n", json_integer(5));
    REJECT(r, "e", json_string(""));
    REJECT(r, "e", json_string("AQA="));
    REJECT(r, "e", json_string("AQ")); /* e = 1 */
    REJECT(r, "e", json_string("Ag")); /* e = 2 */
    REJECT(e, "x", NULL);
    REJECT(e, "y", NULL);
    REJECT(e, "x", json_string("AAAA"));
    REJECT(e, "y", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    REJECT(d, "x", NULL);
    REJECT(d, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));     /* 31 bytes */
    REJECT(d, "x", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")); /* 34 bytes */
    REJECT(d, "kty", NULL);
    REJECT(d, "use", json_string("enc"));
    REJECT(d, "kid", json_integer(7));
}

/* an EC point off the curve: y + 1, and x and y swapped */
static void jwk_rejects_off_curve(const json_t *e)
{
    uint8_t y[40];
    char enc[64];
    int n = hub_b64url_decode(y, json_string_value(json_object_get(e, "y")), 43);

    CHECK(n == 32);
    y[31] ^= 1;
    hub_b64url_encode(enc, y, 32);
    REJECT(e, "y", json_string(enc));
    /* x and y swapped is (almost surely) off the curve too */
    REJECT2(e, "x", json_deep_copy(json_object_get(e, "y")), "y", json_deep_copy(json_object_get(e, "x")));
}

/* an RSA-1024 modulus in an RS256 key */
static void jwk_rejects_weak_rsa(const json_t *r)
{
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    BIGNUM *n = NULL;
    uint8_t bin[128];
    char enc[200];

    CHECK(small != NULL && EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
    CHECK(BN_bn2bin(n, bin) == 128);
    hub_b64url_encode(enc, bin, 128);
    REJECT(r, "n", json_string(enc));
    BN_free(n);
    EVP_PKEY_free(small);
}

/* not a JWK at all is refused; kid and use are not required and extra members are ignored */
static void jwk_optional_members(const json_t *e)
{
    hub_key_t *k = NULL;
    json_t *c = json_deep_copy(e);

    CHECK(hub_key_from_jwk(&k, json_null()) == HUB_E_INVAL && k == NULL);
    json_object_del(c, "kid");
    json_object_del(c, "use");
    json_object_set_new(c, "key_ops", json_pack("[s]", "verify"));
    CHECK(hub_key_from_jwk(&k, c) == 0 && k != NULL && k->kid[0] == '\0');
    hub_key_free(k);
    json_decref(c);
}

/* Hostile JWKs built from the three keys' own JWKs, one concern per part. */
static void test_jwk_rejects(const hub_key_t *rs, const hub_key_t *es, const hub_key_t *ed)
{
    json_t *r = hub_key_to_jwk(rs), *e = hub_key_to_jwk(es), *d = hub_key_to_jwk(ed);

    jwk_rejects_kinds(r, e, d);
    jwk_rejects_material(r, e, d);
    jwk_rejects_off_curve(e);
    jwk_rejects_weak_rsa(r);
    jwk_optional_members(e);
    json_decref(r);
    json_decref(e);
    json_decref(d);
}

static void test_parse(const hub_key_t *key)
{
    char *tok = sign(key, "JWT"), *t;
    size_t len = strlen(tok);
    hub_jws_t jws;

    CHECK(hub_jws_parse(tok, len, &jws) == 0);
    hub_jws_dispose(&jws);
    CHECK(hub_jws_parse(tok, len - 1, &jws) != 0 && jws.header == NULL && jws.payload == NULL);
    /* extra and missing parts */
    t = malloc(len + 8);
    snprintf(t, len + 8, "%s.AAAA", tok);
    CHECK(hub_jws_parse(t, strlen(t), &jws) == HUB_E_PARSE);
    CHECK(hub_jws_verify(key, t, strlen(t)) == HUB_E_PARSE);
    *strrchr(tok, '.') = '\0';
    CHECK(hub_jws_parse(tok, strlen(tok), &jws) == HUB_E_PARSE);
    tok[strlen(tok)] = '.';
    /* padding in the signature part */
    snprintf(t, len + 8, "%s=", tok);
    CHECK(hub_jws_parse(t, strlen(t), &jws) == HUB_E_PARSE);
    CHECK(hub_jws_verify(key, t, strlen(t)) != 0);
    free(t);

    /* payloads that are not objects, duplicate keys, invalid JSON */
    static const char *const payloads[] = {
        "[1,2]", "\"s\"", "1", "null", "{\"a\":1,\"a\":2}", "{\"a\":", "", "{\"a\":\"\\u0000\"}"};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); ++i) {
        t = replace_part(tok, 1, payloads[i], strlen(payloads[i]));
        CHECK(hub_jws_parse(t, strlen(t), &jws) == HUB_E_PARSE);
        free(t);
    }
    static const char *const headers[] = {
        "{\"alg\":\"ES256\",\"alg\":\"none\"}", "{\"alg\":1}",     "{\"alg\":\"ES256\",\"kid\":1}",
        "{\"alg\":\"ES256\",\"typ\":false}",    "{\"kid\":\"k\"}", "[]"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); ++i) {
        t = replace_part(tok, 0, headers[i], strlen(headers[i]));
        CHECK(hub_jws_parse(t, strlen(t), &jws) == HUB_E_PARSE);
        free(t);
    }
    /* the header's kid/typ are optional */
    t = replace_part(tok, 0, "{\"alg\":\"ES256\"}", 15);
    CHECK(hub_jws_parse(t, strlen(t), &jws) == 0 && jws.kid == NULL && jws.typ == NULL && strcmp(jws.alg, "ES256") == 0);
    hub_jws_dispose(&jws);
    free(t);

    /* size limit: 16 KiB */
    {
        json_t *c = json_object();
        char *big = malloc(20000);
        memset(big, 'a', 19999);
        big[19999] = '\0';
        json_object_set_new(c, "x", json_string(big));
        t = NULL;
        CHECK(hub_jws_sign(key, NULL, c, &t) == HUB_E_TOOBIG && t == NULL);
        big[8000] = '\0';
        json_object_set_new(c, "x", json_string(big));
        CHECK(hub_jws_sign(key, NULL, c, &t) == 0 && t != NULL);
        if (t != NULL) {
            CHECK(strlen(t) <= 16384);
            CHECK(verify(key, t) == 0);
            CHECK(hub_jws_parse(t, strlen(t), &jws) == 0);
            hub_jws_dispose(&jws);
        }
        free(t);
        memset(big, 'A', 19999);
        big[3] = big[7] = '.';
        CHECK(hub_jws_parse(big, 16385, &jws) == HUB_E_PARSE);
        CHECK(hub_jws_verify(key, big, 16385) == HUB_E_PARSE);
        free(big);
        json_decref(c);
    }
    free(tok);
}

/* Every hub token verifies with libjwt, and every libjwt token verifies with the hub. */
static void test_libjwt(const hub_key_t *key, jwt_alg_t jalg, int rounds)
{
    char *priv = NULL, *pub;
    size_t privlen, publen;

    CHECK(hub_key_to_pem(key, &priv, &privlen) == 0);
    pub = pubkey_pem(key, &publen);
    for (int i = 0; i < rounds; ++i) {
        char *tok = sign(key, NULL);
        jwt_t *jwt = NULL;
        int r = jwt_decode(&jwt, tok, (const unsigned char *)pub, (int)publen);
        if (r != 0) {
            fprintf(stderr, "libjwt rejected hub token (%d): %s\n", r, tok);
            ++failures;
        } else {
            CHECK(jwt_get_alg(jwt) == jalg);
            CHECK(jwt_get_grant(jwt, "sub") != NULL && strcmp(jwt_get_grant(jwt, "sub"), "alice") == 0);
        }
        jwt_free(jwt);
        free(tok);

        jwt = NULL;
        CHECK(jwt_new(&jwt) == 0);
        CHECK(jwt_add_grant(jwt, "sub", "bob") == 0);
        CHECK(jwt_add_grant_int(jwt, "iat", 1700000000 + i) == 0);
        CHECK(jwt_set_alg(jwt, jalg, (const unsigned char *)priv, (int)privlen) == 0);
        tok = jwt_encode_str(jwt);
        CHECK(tok != NULL);
        if (tok != NULL) {
            if (verify(key, tok) != 0) {
                fprintf(stderr, "hub rejected libjwt token: %s\n", tok);
                ++failures;
            }
            hub_jws_t jws;
            CHECK(hub_jws_parse(tok, strlen(tok), &jws) == 0 &&
                  strcmp(json_string_value(json_object_get(jws.payload, "sub")), "bob") == 0);
            hub_jws_dispose(&jws);
        }
        free(tok);
        jwt_free(jwt);
    }
    free(priv);
    free(pub);
}

struct thread_arg {
    const hub_key_t *key;
    int bad;
};

static void *sign_thread(void *p)
{
    struct thread_arg *a = p;
    json_t *c = claims();

    for (int i = 0; i < 50; ++i) {
        char *tok = NULL;
        if (hub_jws_sign(a->key, "at+jwt", c, &tok) != 0 || hub_jws_verify(a->key, tok, strlen(tok)) != 0)
            ++a->bad;
        free(tok);
    }
    json_decref(c);
    return NULL;
}

/* One EVP_PKEY shared by several threads signing and verifying at once. */
static void test_threads(const hub_key_t *key)
{
    pthread_t th[4];
    struct thread_arg args[4];

    for (int i = 0; i < 4; ++i) {
        args[i] = (struct thread_arg){key, 0};
        CHECK(pthread_create(&th[i], NULL, sign_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 4; ++i) {
        pthread_join(th[i], NULL);
        CHECK(args[i].bad == 0);
    }
}

int main(void)
{
    hub_key_t *keys[3] = {NULL}, *others[3] = {NULL};

    test_alg_names();
    for (size_t i = 0; i < 3; ++i) {
        CHECK(hub_key_generate(&keys[i], algs[i]) == 0);
        CHECK(hub_key_generate(&others[i], algs[i]) == 0);
        if (keys[i] == NULL || others[i] == NULL) {
            fprintf(stderr, "key generation failed\n");
            return 1;
        }
        CHECK(keys[i]->alg == algs[i] && keys[i]->has_private);
        CHECK(strlen(keys[i]->kid) == 16 && strcmp(keys[i]->kid, others[i]->kid) != 0);
    }
    CHECK(EVP_PKEY_get_bits(keys[0]->pkey) == 2048);
    for (size_t i = 0; i < 3; ++i) {
        test_sign_verify(keys[i], others[i]);
        /* a key of another algorithm never verifies */
        test_sign_verify(keys[i], keys[(i + 1) % 3]);
        test_alg_confusion(keys[i]);
        test_pem(keys[i]);
        test_jwk(keys[i]);
        test_parse(keys[i]);
        test_threads(keys[i]);
    }
    test_jwk_rejects(keys[0], keys[1], keys[2]);
    test_libjwt(keys[0], JWT_ALG_RS256, 20);
    /* enough rounds that r or s with leading zero bytes show up (about 1 in 64 signatures) */
    test_libjwt(keys[1], JWT_ALG_ES256, 400);
    for (size_t i = 0; i < 3; ++i) {
        hub_key_free(keys[i]);
        hub_key_free(others[i]);
    }
    return check_report("hub/jws");
}
