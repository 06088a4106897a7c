/* libFuzzer target for fed_verify_logout_token (federation/fed_verify.c) with tokens that CAN verify: the input is a
 * JWS header and payload (JSON text, split at the first '\n') that the target signs with one of two fixed test keys
 * the verifier trusts (the key the header's kid names, else the Ed25519 one), so the fuzzer reaches every claim check
 * behind the signature; an input without '\n' is tried as a compact token as it is. The clock is fixed (NOW) so the
 * corpus's times stay meaningful. Invariants: an accepted token was signed by the key its kid names with that key's
 * alg, is no access token, and carries the issuer, the audience, a fresh iat, the back-channel logout event, no nonce
 * and a sid or sub; with its signature changed, or as an access token, it is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include "federation/fed_jwks.h"
#include "federation/fed_verify.h"
#include "hub/crypto.h"
#include "hub/err.h"

#define NOW 1700000000
#define SKEW 60
#define ISSUER "http://127.0.0.1:8080"
#define CLIENT "node-client"
#define BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define PART_MAX 8192

/* Test keys, for this target only. */
static const char ed_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                             "MC4CAQAwBQYDK2VwBCIEIKm27BIXHu7lrCvWIOHvdk7H+8+e0utgiBoNITAYBTCs\n"
                             "-----END PRIVATE KEY-----\n";
static const char es_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                             "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0xicKYQlrPRuDsW5\n"
                             "mprQBATN2VBF7pALEJfFTpBkBxGhRANCAAQBkcWM1TZc8TQEc9YVBuCwIw5mAki8\n"
                             "KtHzSOMYxQoe6Yr+2NZcUPhuPcgFhC407tuDiYnyywE3OSEhV/WHMijN\n"
                             "-----END PRIVATE KEY-----\n";
static hub_key_t *keys[2]; /* "fuzz-ed" (EdDSA), "fuzz-es" (ES256) */
static fed_jwks_t *jwks;
static fed_verify_t *verify;

/* hub_now() reads time(): this target's clock stands still, so a crash replays the same way any day. */
time_t time(time_t *t)
{
    if (t != NULL)
        *t = NOW;
    return NOW;
}

static void setup(void)
{
    json_t *doc = json_object(), *arr = json_array();
    char *text;

    if (hub_key_from_pem(&keys[0], "fuzz-ed", HUB_ALG_EDDSA, ed_pem, strlen(ed_pem)) != 0 ||
        hub_key_from_pem(&keys[1], "fuzz-es", HUB_ALG_ES256, es_pem, strlen(es_pem)) != 0)
        abort();
    json_array_append_new(arr, hub_key_to_jwk(keys[0]));
    json_array_append_new(arr, hub_key_to_jwk(keys[1]));
    json_object_set_new(doc, "keys", arr);
    text = json_dumps(doc, JSON_COMPACT);
    jwks = fed_jwks_create(NULL, NULL);
    if (text == NULL || fed_jwks_install(jwks, text, strlen(text)) != 0)
        abort();
    verify = fed_verify_create(jwks, ISSUER, NULL, 0, SKEW, 64);
    free(text);
    json_decref(doc);
}

/* The JOSE signature (raw Ed25519, or ES256's r||s) of in by key, base64url-encoded into out. */
static void sign(const hub_key_t *key, const char *in, size_t len, char *out)
{
    uint8_t der[128], raw[64];
    size_t dlen = sizeof(der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const uint8_t *p = der;
    ECDSA_SIG *sig = NULL;

    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, key->alg == HUB_ALG_ES256 ? EVP_sha256() : NULL, NULL, key->pkey) != 1 ||
        EVP_DigestSign(ctx, der, &dlen, (const uint8_t *)in, len) != 1)
        abort();
    if (key->alg == HUB_ALG_ES256) {
        if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
            abort();
        memcpy(der, raw, sizeof(raw));
        dlen = sizeof(raw);
    }
    hub_b64url_encode(out, der, dlen);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
}

/* header.payload.signature, malloc'ed; the key is the one the header names (by a plain "kid":"..." text). */
static char *make_token(const char *header, size_t hlen, const char *payload, size_t plen, size_t *len)
{
    const hub_key_t *key = memmem(header, hlen, "\"kid\":\"fuzz-es\"", 15) != NULL ? keys[1] : keys[0];
    char *t = malloc(HUB_B64URL_LEN(hlen) + HUB_B64URL_LEN(plen) + HUB_B64URL_LEN(64) + 4);
    size_t n;

    if (t == NULL)
        abort();
    n = hub_b64url_encode(t, header, hlen);
    t[n++] = '.';
    n += hub_b64url_encode(t + n, payload, plen);
    t[n] = '.';
    sign(key, t, n, t + n + 1);
    *len = strlen(t);
    return t;
}

static int has_aud(const json_t *aud)
{
    size_t i;
    const json_t *a;
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), CLIENT) == 0;
    json_array_foreach(aud, i, a) if (json_is_string(a) && strcmp(json_string_value(a), CLIENT) == 0) return 1;
    return 0;
}

static int str_ok(const json_t *s)
{
    return json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s);
}

/* A time claim as the verifier reads it: a number in [0, 1e12], in whole seconds. */
static int secs(const json_t *t, uint64_t *out)
{
    double d;
    if (!json_is_number(t) || (d = json_number_value(t)) < 0 || d > 1e12)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/* What an accepted logout token must be (OIDC Back-Channel Logout 1.0 §2.4, §2.6). */
static void check_accepted(const char *token, size_t len, const json_t *c)
{
    hub_jws_t jws;
    const json_t *events = json_object_get(c, "events"), *nbf = json_object_get(c, "nbf"), *exp = json_object_get(c, "exp");
    const hub_key_t *key;
    uint64_t iat, t;

    if (hub_jws_parse(token, len, &jws) != 0 || jws.kid == NULL || (key = fed_jwks_find(jwks, jws.kid)) == NULL)
        abort();
    if (strcmp(jws.alg, hub_alg_name(key->alg)) != 0 || hub_jws_verify(key, token, len) != 0)
        abort();
    if (jws.typ != NULL && (strcasecmp(jws.typ, "at+jwt") == 0 || strcasecmp(jws.typ, "application/at+jwt") == 0))
        abort();
    if (!json_equal(jws.payload, c) || !str_ok(json_object_get(c, "iss")) ||
        strcmp(json_string_value(json_object_get(c, "iss")), ISSUER) != 0 || !has_aud(json_object_get(c, "aud")))
        abort();
    if (!secs(json_object_get(c, "iat"), &iat) || iat > NOW + SKEW || iat + SKEW + 300 < NOW)
        abort();
    if ((nbf != NULL && (!secs(nbf, &t) || t > NOW + SKEW)) || (exp != NULL && (!secs(exp, &t) || t + SKEW <= NOW)))
        abort();
    if (!json_is_object(events) || !json_is_object(json_object_get(events, BCL_EVENT)) || json_object_get(c, "nonce") != NULL)
        abort();
    if (!str_ok(json_object_get(c, "sid")) && !str_ok(json_object_get(c, "sub")))
        abort();
    hub_jws_dispose(&jws);
}

static void try_token(char *token, size_t len)
{
    json_t *claims = NULL;
    h2o_mem_pool_t pool;
    fed_identity_t id;
    char *sig;
    int ret = fed_verify_logout_token(verify, CLIENT, token, len, &claims, NULL);

    if ((ret == 0) != (claims != NULL))
        abort();
    if (ret != 0)
        return;
    check_accepted(token, len, claims);
    json_decref(claims);
    /* never an access token too */
    h2o_mem_init_pool(&pool);
    if (fed_verify_access_token(verify, CLIENT, token, len, &pool, &id, NULL) == 0)
        abort();
    h2o_mem_clear_pool(&pool);
    /* another signature: refused */
    if ((sig = memrchr(token, '.', len)) == NULL || sig + 1 == token + len)
        abort();
    sig[1] = sig[1] == 'A' ? 'B' : 'A';
    if (fed_verify_logout_token(verify, CLIENT, token, len, &claims, NULL) == 0 || claims != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data, *nl = memchr(in, '\n', size);
    char *token;
    size_t len;

    if (verify == NULL)
        setup();
    if (nl == NULL) {
        if ((token = malloc(size + 1)) == NULL)
            abort();
        memcpy(token, in, size);
        token[size] = '\0';
        len = size;
    } else if ((size_t)(nl - in) > PART_MAX || size - (size_t)(nl - in) - 1 > PART_MAX) {
        return 0;
    } else {
        token = make_token(in, (size_t)(nl - in), nl + 1, size - (size_t)(nl - in) - 1, &len);
    }
    try_token(token, len);
    free(token);
    return 0;
}
