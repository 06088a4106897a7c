/* Signing keys (RS256, ES256, EdDSA) and compact JWS signing, parsing and verification on OpenSSL 3 EVP. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/jsonw.h"
#include "hub/util.h"

#define JWS_MAX HUB_JWS_MAX   /* a whole compact token */
#define JWS_DECODED_MAX 12288 /* JWS_MAX * 3 / 4: the largest decoded part */
#define HEADER_MAX 512        /* our own protected header */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define SIG_MAX (RSA_MAX_BITS / 8)
#define P256_LEN 32 /* one coordinate, one half of r||s */
#define ED25519_LEN 32
#define JOSE_SIG_LEN 64 /* ES256 r||s and Ed25519 */
#define ECDSA_DER_MAX 80

static uint64_t key_serial; /* the last serial given to a key */

static const char *const alg_names[] = {[HUB_ALG_RS256] = "RS256", [HUB_ALG_ES256] = "ES256", [HUB_ALG_EDDSA] = "EdDSA"};

const char *hub_alg_name(hub_alg_t alg)
{
    return (unsigned)alg < sizeof(alg_names) / sizeof(alg_names[0]) ? alg_names[alg] : NULL;
}

int hub_alg_parse(const char *name, hub_alg_t *alg)
{
    for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); ++i) {
        if (strcmp(name, alg_names[i]) == 0) {
            *alg = (hub_alg_t)i;
            return 0;
        }
    }
    return HUB_E_INVAL;
}

/* 0 when pkey suits alg: RSA of 2048..8192 bits, EC on P-256, or Ed25519. */
static int check_pkey(EVP_PKEY *pkey, hub_alg_t alg)
{
    char group[32];
    int bits;

    switch (alg) {
    case HUB_ALG_RS256:
        bits = EVP_PKEY_get_bits(pkey);
        return EVP_PKEY_is_a(pkey, "RSA") && bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS ? 0 : HUB_E_INVAL;
    case HUB_ALG_ES256:
        if (!EVP_PKEY_is_a(pkey, "EC") ||
            EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
            return HUB_E_INVAL;
        return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0 ? 0 : HUB_E_INVAL;
    case HUB_ALG_EDDSA:
        return EVP_PKEY_is_a(pkey, "ED25519") ? 0 : HUB_E_INVAL;
    }
    return HUB_E_INVAL;
}

/* Wraps pkey (ownership passes to the new key on success) after checking it suits alg. */
static int new_key(hub_key_t **out, const char *kid, hub_alg_t alg, EVP_PKEY *pkey, int has_private)
{
    hub_key_t *key;
    size_t kidlen = strlen(kid);
    int ret;

    if (kidlen >= sizeof(key->kid))
        return HUB_E_INVAL;
    if ((ret = check_pkey(pkey, alg)) != 0)
        return ret;
    key = hub_xcalloc(1, sizeof(*key));
    memcpy(key->kid, kid, kidlen + 1);
    key->alg = alg;
    key->pkey = pkey;
    key->has_private = has_private;
    key->serial = __atomic_add_fetch(&key_serial, 1, __ATOMIC_RELAXED);
    *out = key;
    return 0;
}

int hub_key_generate(hub_key_t **out, hub_alg_t alg)
{
    char kid[HUB_B64URL_LEN(12) + 1];
    EVP_PKEY *pkey = NULL;
    int ret;

    *out = NULL;
    switch (alg) {
    case HUB_ALG_RS256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_MIN_BITS); /* e = 65537 by default */
        break;
    case HUB_ALG_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case HUB_ALG_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        return HUB_E_INVAL;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return HUB_E_CRYPTO;
    }
    hub_random_token(kid, 12);
    if ((ret = new_key(out, kid, alg, pkey, 1)) != 0)
        EVP_PKEY_free(pkey);
    return ret;
}

int hub_key_to_pem(const hub_key_t *key, char **pem, size_t *len)
{
    BIO *bio = NULL;
    char *data;
    long n;
    int ret = HUB_E_CRYPTO;

    *pem = NULL;
    *len = 0;
    if (!key->has_private)
        return HUB_E_INVAL;
    if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    if ((n = BIO_get_mem_data(bio, &data)) <= 0)
        goto out;
    *pem = hub_xmalloc((size_t)n + 1);
    memcpy(*pem, data, (size_t)n);
    (*pem)[n] = '\0';
    *len = (size_t)n;
    ret = 0;
out:
    if (ret != 0)
        ERR_clear_error();
    BIO_free(bio);
    return ret;
}

/* Refuses to prompt for a passphrase: stored keys are never encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

int hub_key_from_pem(hub_key_t **out, const char *kid, hub_alg_t alg, const char *pem, size_t len)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    int ret = HUB_E_PARSE;

    *out = NULL;
    if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
        goto out;
    if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL)
        goto out;
    if ((ret = new_key(out, kid, alg, pkey, 1)) == 0)
        pkey = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return ret;
}

/* Sets jwk[name] to the base64url of bin. */
static void set_b64(json_t *jwk, const char *name, const uint8_t *bin, size_t len)
{
    char buf[HUB_B64URL_LEN(SIG_MAX) + 1];

    hub_b64url_encode(buf, bin, len);
    if (json_object_set_new(jwk, name, json_string(buf)) != 0)
        hub_oom();
}

/* Writes the big-endian bytes of the BIGNUM parameter `param` to bin, left-padded to
 * `pad` bytes when pad is non-zero; returns the length or -1. */
static int get_bn_bytes(EVP_PKEY *pkey, const char *param, uint8_t *bin, size_t cap, size_t pad)
{
    BIGNUM *bn = NULL;
    int n = -1;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1 || (size_t)BN_num_bytes(bn) > cap)
        goto out;
    n = pad != 0 ? BN_bn2binpad(bn, bin, (int)pad) : BN_bn2bin(bn, bin);
out:
    BN_free(bn);
    return n;
}

json_t *hub_key_to_jwk(const hub_key_t *key)
{
    static const char *const ktys[] = {[HUB_ALG_RS256] = "RSA", [HUB_ALG_ES256] = "EC", [HUB_ALG_EDDSA] = "OKP"};
    uint8_t a[SIG_MAX], b[SIG_MAX];
    size_t alen;
    int n, m;
    json_t *jwk;

    if (hub_alg_name(key->alg) == NULL)
        return NULL;
    if ((jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", ktys[key->alg], "kid", key->kid, "alg", hub_alg_name(key->alg), "use",
                         "sig")) == NULL)
        hub_oom();
    switch (key->alg) {
    case HUB_ALG_RS256:
        if ((n = get_bn_bytes(key->pkey, OSSL_PKEY_PARAM_RSA_N, a, sizeof(a), 0)) <= 0 ||
            (m = get_bn_bytes(key->pkey, OSSL_PKEY_PARAM_RSA_E, b, sizeof(b), 0)) <= 0)
            goto fail;
        set_b64(jwk, "n", a, (size_t)n);
        set_b64(jwk, "e", b, (size_t)m);
        break;
    case HUB_ALG_ES256:
        if (get_bn_bytes(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, a, P256_LEN, P256_LEN) != P256_LEN ||
            get_bn_bytes(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, b, P256_LEN, P256_LEN) != P256_LEN)
            goto fail;
        json_object_set_new(jwk, "crv", json_string("P-256"));
        set_b64(jwk, "x", a, P256_LEN);
        set_b64(jwk, "y", b, P256_LEN);
        break;
    case HUB_ALG_EDDSA:
        alen = sizeof(a);
        if (EVP_PKEY_get_raw_public_key(key->pkey, a, &alen) != 1 || alen != ED25519_LEN)
            goto fail;
        json_object_set_new(jwk, "crv", json_string("Ed25519"));
        set_b64(jwk, "x", a, ED25519_LEN);
        break;
    }
    return jwk;
fail:
    ERR_clear_error();
    json_decref(jwk);
    return NULL;
}

/* The string member `name` of obj, or NULL when absent or not a string. */
static const char *get_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* Decodes the base64url string member `name` into bin (at most cap bytes); the length or -1. */
static int get_b64(const json_t *jwk, const char *name, uint8_t *bin, size_t cap)
{
    const json_t *v = json_object_get(jwk, name);
    size_t len;

    if (!json_is_string(v) || (len = json_string_length(v)) == 0 || len > HUB_B64URL_LEN(cap))
        return -1;
    int n = hub_b64url_decode(bin, json_string_value(v), len);
    return n >= 0 && (size_t)n <= cap ? n : -1;
}

/* A public key of `type` built from params (consumed). */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL || (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(const json_t *jwk)
{
    uint8_t nbin[SIG_MAX], ebin[8];
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    int nlen, elen;

    if ((nlen = get_b64(jwk, "n", nbin, sizeof(nbin))) <= 0 || (elen = get_b64(jwk, "e", ebin, sizeof(ebin))) <= 0)
        goto out;
    if ((n = BN_bin2bn(nbin, nlen, NULL)) == NULL || (e = BN_bin2bn(ebin, elen, NULL)) == NULL)
        goto out;
    /* A public exponent is odd and greater than 1; the modulus size is checked by check_pkey. */
    if (!BN_is_odd(e) || BN_is_one(e) || !BN_is_odd(n))
        goto out;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
        goto out;
    pkey = pkey_fromdata("RSA", bld);
    bld = NULL;
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(const json_t *jwk)
{
    uint8_t point[1 + 2 * P256_LEN];
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    point[0] = POINT_CONVERSION_UNCOMPRESSED;
    if (get_b64(jwk, "x", point + 1, P256_LEN) != P256_LEN || get_b64(jwk, "y", point + 1 + P256_LEN, P256_LEN) != P256_LEN)
        return NULL;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1) {
        OSSL_PARAM_BLD_free(bld);
        return NULL;
    }
    if ((pkey = pkey_fromdata("EC", bld)) == NULL)
        return NULL;
    /* The point must lie on the curve (invalid-curve attacks). */
    if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *okp_from_jwk(const json_t *jwk)
{
    uint8_t x[ED25519_LEN];
    OSSL_PARAM_BLD *bld;

    if (get_b64(jwk, "x", x, sizeof(x)) != ED25519_LEN)
        return NULL;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, sizeof(x)) != 1) {
        OSSL_PARAM_BLD_free(bld);
        return NULL;
    }
    return pkey_fromdata("ED25519", bld);
}

static int str_is(const char *s, const char *want)
{
    return s != NULL && strcmp(s, want) == 0;
}

int hub_key_from_jwk(hub_key_t **out, const json_t *jwk)
{
    const char *kty, *kid = "";
    const json_t *v;
    EVP_PKEY *pkey = NULL;
    hub_alg_t alg;
    int ret = HUB_E_INVAL;

    *out = NULL;
    if (!json_is_object(jwk) || (kty = get_str(jwk, "kty")) == NULL || get_str(jwk, "alg") == NULL ||
        hub_alg_parse(get_str(jwk, "alg"), &alg) != 0)
        goto out;
    if ((v = json_object_get(jwk, "kid")) != NULL) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            goto out;
        kid = json_string_value(v);
    }
    if (json_object_get(jwk, "use") != NULL && !str_is(get_str(jwk, "use"), "sig"))
        goto out;
    switch (alg) {
    case HUB_ALG_RS256:
        if (strcmp(kty, "RSA") == 0)
            pkey = rsa_from_jwk(jwk);
        break;
    case HUB_ALG_ES256:
        if (strcmp(kty, "EC") == 0 && str_is(get_str(jwk, "crv"), "P-256"))
            pkey = ec_from_jwk(jwk);
        break;
    case HUB_ALG_EDDSA:
        if (strcmp(kty, "OKP") == 0 && str_is(get_str(jwk, "crv"), "Ed25519"))
            pkey = okp_from_jwk(jwk);
        break;
    }
    if (pkey == NULL)
        goto out;
    if ((ret = new_key(out, kid, alg, pkey, 0)) == 0)
        pkey = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(pkey);
    return ret;
}

void hub_key_free(hub_key_t *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

/* Writes the protected header {"alg":..,"kid":..[,"typ":..]} into buf; its length in *len. */
static int build_header(char *buf, size_t cap, const hub_key_t *key, const char *typ, size_t *len)
{
    hub_jw_t w;

    hub_jw_init(&w, buf, cap);
    hub_jw_open(&w, '{');
    hub_jw_kstr(&w, "alg", hub_alg_name(key->alg));
    hub_jw_kstr(&w, "kid", key->kid);
    if (typ != NULL)
        hub_jw_kstr(&w, "typ", typ);
    hub_jw_close(&w, '}');
    return hub_jw_finish(&w, len);
}

/* ECDSA: DER SEQUENCE{r, s} -> fixed 64-byte r||s (RFC 7518 §3.4). */
static int der_to_jose(const uint8_t *der, size_t len, uint8_t out[JOSE_SIG_LEN])
{
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    ECDSA_SIG *sig;
    int ok;

    if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
        return HUB_E_CRYPTO;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, out, P256_LEN) == P256_LEN && BN_bn2binpad(s, out + P256_LEN, P256_LEN) == P256_LEN;
    ECDSA_SIG_free(sig);
    return ok ? 0 : HUB_E_CRYPTO;
}

/* ECDSA: r||s -> DER into der (ECDSA_DER_MAX bytes); the DER length or -1. */
static int jose_to_der(const uint8_t in[JOSE_SIG_LEN], uint8_t *der)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *p = der;
    int n = -1;

    if ((sig = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(in, P256_LEN, NULL)) == NULL ||
        (s = BN_bin2bn(in + P256_LEN, P256_LEN, NULL)) == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
        goto out;
    r = s = NULL;
    if (i2d_ECDSA_SIG(sig, NULL) > ECDSA_DER_MAX)
        goto out;
    n = i2d_ECDSA_SIG(sig, &p);
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return n;
}

/* The JWS signature length for key. */
static size_t sig_len(const hub_key_t *key)
{
    return key->alg == HUB_ALG_RS256 ? (size_t)EVP_PKEY_get_size(key->pkey) : JOSE_SIG_LEN;
}

/* Per thread, the last few keys' contexts as EVP_DigestSignInit/EVP_DigestVerifyInit left them: initialising fetches
 * the algorithm and builds the provider's context (locks and lookups); copying a ready one is cheaper. Slots are keyed
 * by the key's serial, never reused, so a freed key's slot is simply never matched again (the context holds its own
 * reference to the EVP_PKEY). */
#define CTX_SLOTS 8

typedef struct {
    uint64_t serial;
    int sign;
    EVP_MD_CTX *ready;
} ctx_slot_t;

typedef struct {
    ctx_slot_t slot[CTX_SLOTS];
    EVP_MD_CTX *work;
    unsigned next;
} ctx_cache_t;

static pthread_key_t ctx_cache_key;
static pthread_once_t ctx_cache_once = PTHREAD_ONCE_INIT;

static void ctx_cache_free(void *p)
{
    ctx_cache_t *c = p;
    for (size_t i = 0; i != CTX_SLOTS; ++i)
        EVP_MD_CTX_free(c->slot[i].ready);
    EVP_MD_CTX_free(c->work);
    free(c);
}

static void ctx_cache_init(void)
{
    if (pthread_key_create(&ctx_cache_key, ctx_cache_free) != 0)
        hub_oom();
}

/* A context ready to sign (sign != 0) or verify with key, valid until this thread's next call; NULL on failure. */
static EVP_MD_CTX *ready_ctx(const hub_key_t *key, int sign)
{
    const EVP_MD *md = key->alg == HUB_ALG_EDDSA ? NULL : EVP_sha256();
    ctx_cache_t *c;
    ctx_slot_t *s = NULL;
    size_t i;

    pthread_once(&ctx_cache_once, ctx_cache_init);
    if ((c = pthread_getspecific(ctx_cache_key)) == NULL) {
        c = hub_xcalloc(1, sizeof(*c));
        if ((c->work = EVP_MD_CTX_new()) == NULL || pthread_setspecific(ctx_cache_key, c) != 0)
            hub_oom();
    }
    for (i = 0; i != CTX_SLOTS; ++i)
        if (c->slot[i].ready != NULL && c->slot[i].serial == key->serial && c->slot[i].sign == sign)
            s = &c->slot[i];
    if (s == NULL) {
        s = &c->slot[c->next++ % CTX_SLOTS];
        EVP_MD_CTX_free(s->ready);
        if ((s->ready = EVP_MD_CTX_new()) == NULL)
            hub_oom();
        s->serial = key->serial;
        s->sign = sign;
        if ((sign ? EVP_DigestSignInit(s->ready, NULL, md, NULL, key->pkey)
                  : EVP_DigestVerifyInit(s->ready, NULL, md, NULL, key->pkey)) != 1) {
            EVP_MD_CTX_free(s->ready);
            s->ready = NULL;
            return NULL;
        }
    }
    return EVP_MD_CTX_copy_ex(c->work, s->ready) == 1 ? c->work : NULL;
}

/* Signs input, writing sig_len(key) bytes to sig. */
static int sign_input(const hub_key_t *key, const char *input, size_t inlen, uint8_t *sig)
{
    EVP_MD_CTX *ctx;
    uint8_t der[ECDSA_DER_MAX];
    size_t n;
    int ret = HUB_E_CRYPTO;

    if ((ctx = ready_ctx(key, 1)) == NULL)
        goto out;
    if (key->alg == HUB_ALG_ES256) {
        n = sizeof(der);
        if (EVP_DigestSign(ctx, der, &n, (const unsigned char *)input, inlen) != 1)
            goto out;
        ret = der_to_jose(der, n, sig);
    } else {
        n = sig_len(key);
        if (EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input, inlen) != 1 || n != sig_len(key))
            goto out;
        ret = 0;
    }
out:
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

int hub_jws_sign_raw(const hub_key_t *key, const char *typ, const char *payload, size_t plen, char **out)
{
    char header[HEADER_MAX], *tok = NULL;
    uint8_t sig[SIG_MAX];
    size_t hlen, slen, total, pos;
    int ret;

    *out = NULL;
    if (!key->has_private || plen == 0 || payload[0] != '{')
        return HUB_E_INVAL;
    if (plen > JWS_DECODED_MAX)
        return HUB_E_TOOBIG;
    if ((ret = build_header(header, sizeof(header), key, typ, &hlen)) != 0)
        return ret;
    slen = sig_len(key);
    total = HUB_B64URL_LEN(hlen) + 1 + HUB_B64URL_LEN(plen) + 1 + HUB_B64URL_LEN(slen);
    if (slen > sizeof(sig) || total > JWS_MAX)
        return HUB_E_TOOBIG;
    tok = hub_xmalloc(total + 1);
    pos = hub_b64url_encode(tok, header, hlen);
    tok[pos++] = '.';
    pos += hub_b64url_encode(tok + pos, payload, plen);
    if ((ret = sign_input(key, tok, pos, sig)) != 0) {
        free(tok);
        return ret;
    }
    tok[pos++] = '.';
    hub_b64url_encode(tok + pos, sig, slen);
    *out = tok;
    return 0;
}

int hub_jws_sign(const hub_key_t *key, const char *typ, const json_t *claims, char **out)
{
    char pstack[2048], *payload = pstack;
    size_t plen;
    int ret;

    *out = NULL;
    if (!key->has_private || !json_is_object(claims))
        return HUB_E_INVAL;
    if ((plen = json_dumpb(claims, pstack, sizeof(pstack), JSON_COMPACT)) == 0)
        return HUB_E_INVAL;
    if (plen > sizeof(pstack)) {
        if (plen > JWS_DECODED_MAX)
            return HUB_E_TOOBIG;
        payload = hub_xmalloc(plen);
        if (json_dumpb(claims, payload, plen, JSON_COMPACT) != plen) {
            free(payload);
            return HUB_E_INVAL;
        }
    }
    ret = hub_jws_sign_raw(key, typ, payload, plen, out);
    if (payload != pstack)
        free(payload);
    return ret;
}

/* Finds the two dots of a compact JWS of at most JWS_MAX bytes; HUB_E_PARSE unless there are exactly two. */
static int split(const char *token, size_t len, const char **d1, const char **d2)
{
    const char *end = token + len;

    if (len > JWS_MAX || (*d1 = memchr(token, '.', len)) == NULL || (*d2 = memchr(*d1 + 1, '.', (size_t)(end - *d1 - 1))) == NULL ||
        memchr(*d2 + 1, '.', (size_t)(end - *d2 - 1)) != NULL)
        return HUB_E_PARSE;
    return 0;
}

/* Decodes one base64url part holding a JSON object (buf: JWS_DECODED_MAX bytes); NULL when malformed. */
static json_t *decode_object(const char *s, size_t len, uint8_t *buf)
{
    json_t *obj;
    int n;

    if ((n = hub_b64url_decode(buf, s, len)) <= 0)
        return NULL;
    if ((obj = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL)) != NULL && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

/* Reads member `name` of the header: 0 with a string or NULL (absent); HUB_E_PARSE when not a string. */
static int header_str(const json_t *header, const char *name, const char **out)
{
    const json_t *v = json_object_get(header, name);

    *out = json_string_value(v);
    return v == NULL || *out != NULL ? 0 : HUB_E_PARSE;
}

int hub_jws_parse(const char *token, size_t len, hub_jws_t *out)
{
    uint8_t buf[JWS_DECODED_MAX];
    const char *d1, *d2;
    int ret = HUB_E_PARSE;

    memset(out, 0, sizeof(*out));
    if (split(token, len, &d1, &d2) != 0)
        goto out;
    if ((out->header = decode_object(token, (size_t)(d1 - token), buf)) == NULL ||
        (out->payload = decode_object(d1 + 1, (size_t)(d2 - d1 - 1), buf)) == NULL ||
        hub_b64url_decode(buf, d2 + 1, (size_t)(token + len - d2 - 1)) < 0)
        goto out;
    /* alg is mandatory (RFC 7515 §4.1.1); kid and typ are optional. */
    if (header_str(out->header, "alg", &out->alg) != 0 || out->alg == NULL || header_str(out->header, "kid", &out->kid) != 0 ||
        header_str(out->header, "typ", &out->typ) != 0)
        goto out;
    ret = 0;
out:
    if (ret != 0)
        hub_jws_dispose(out);
    return ret;
}

void hub_jws_dispose(hub_jws_t *jws)
{
    json_decref(jws->header);
    json_decref(jws->payload);
    memset(jws, 0, sizeof(*jws));
}

/* Verifies sig over input; 0 or HUB_E_BADSIG. */
static int verify_input(const hub_key_t *key, const char *input, size_t inlen, const uint8_t *sig, size_t slen)
{
    EVP_MD_CTX *ctx;
    uint8_t der[ECDSA_DER_MAX];
    int n, ret = HUB_E_BADSIG;

    if (slen != sig_len(key))
        return HUB_E_BADSIG;
    if (key->alg == HUB_ALG_ES256) {
        if ((n = jose_to_der(sig, der)) <= 0)
            goto out;
        sig = der;
        slen = (size_t)n;
    }
    if ((ctx = ready_ctx(key, 0)) == NULL)
        goto out;
    if (EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)input, inlen) == 1)
        ret = 0;
out:
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

int hub_jws_verify(const hub_key_t *key, const char *token, size_t len)
{
    uint8_t buf[JWS_DECODED_MAX], sig[SIG_MAX];
    const char *d1, *d2, *alg, *want = hub_alg_name(key->alg);
    json_t *header = NULL;
    size_t slen;
    int n, ret = HUB_E_PARSE;

    if (split(token, len, &d1, &d2) != 0 || (header = decode_object(token, (size_t)(d1 - token), buf)) == NULL)
        goto out;
    /* The payload is covered by the signature, but a token we accept must also parse. */
    if (hub_b64url_decode(buf, d1 + 1, (size_t)(d2 - d1 - 1)) < 0)
        goto out;
    /* We implement no extension, so a header marking any as critical is refused (RFC 7515 §4.1.11). */
    if ((alg = get_str(header, "alg")) == NULL || json_object_get(header, "crit") != NULL)
        goto out;
    ret = HUB_E_BADSIG;
    /* The algorithm is pinned by the key: "none", HS256 or any other name never reaches OpenSSL. */
    if (want == NULL || strcmp(alg, want) != 0)
        goto out;
    slen = (size_t)(token + len - d2 - 1);
    if (slen > HUB_B64URL_LEN(sizeof(sig))) /* decoded length would exceed sig */
        goto out;
    if ((n = hub_b64url_decode(sig, d2 + 1, slen)) < 0) {
        ret = HUB_E_PARSE;
        goto out;
    }
    ret = verify_input(key, token, (size_t)(d2 - token), sig, (size_t)n);
out:
    json_decref(header);
    return ret;
}
