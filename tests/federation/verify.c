/* Tests federation/fed_verify.c and fed_jwks.c: local verification of access, id and logout
 * tokens (alg none, HMAC with the public key, issuer, audience, times, tampering, unknown kid,
 * typ, nbf, jti), the verified-token cache (and its entries' end when their key leaves the JWKS),
 * JWKS snapshots, max-age and the rate-limited refresh asks, and next-path sanitising. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "federation/fed_jwks.h"
#include "federation/fed_login.h"
#include "federation/fed_routes.h"
#include "federation/fed_verify.h"
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/store.h"
#include "tests/check.h"

#define ISS "http://127.0.0.1:8080"
#define CLIENT "node-client"
#define SKEW 60

static int wakes;
static void on_wake(void *arg)
{
    __atomic_add_fetch(&wakes, 1, __ATOMIC_RELAXED);
}

static json_t *at_claims(void)
{
    uint64_t now = hub_now();
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:[s,s]}", "iss", ISS, "sub", "user-1", "aud", CLIENT, "exp",
                     (json_int_t)(now + 600), "iat", (json_int_t)now, "jti", "j1", "client_id", CLIENT, "sid", "sid-1", "roles",
                     "Employee", "System Manager");
}

static char *sign(const hub_key_t *key, const char *typ, json_t *claims)
{
    char *tok = NULL;
    CHECK(hub_jws_sign(key, typ, claims, &tok) == 0);
    json_decref(claims);
    return tok;
}

static char *b64json(const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    char *out = malloc(HUB_B64URL_LEN(strlen(text)) + 1);
    hub_b64url_encode(out, text, strlen(text));
    free(text);
    return out;
}

/* header.payload.sig where the signature is HMAC-SHA256 keyed with secret (or empty for none). */
static char *forge(const char *alg, const char *kid, const json_t *claims, const void *secret, size_t slen)
{
    json_t *h = json_pack("{s:s,s:s,s:s}", "alg", alg, "kid", kid, "typ", "at+jwt");
    char *hb = b64json(h), *pb = b64json(claims), *out;
    size_t ilen = strlen(hb) + 1 + strlen(pb);
    unsigned char mac[32];
    unsigned int maclen = 0;
    char sig[64] = "";

    out = malloc(ilen + 2 + sizeof(sig));
    snprintf(out, ilen + 1, "%s.%s", hb, pb);
    if (secret != NULL) {
        HMAC(EVP_sha256(), secret, (int)slen, (const unsigned char *)out, ilen, mac, &maclen);
        hub_b64url_encode(sig, mac, maclen);
    }
    snprintf(out + ilen, 2 + sizeof(sig), ".%s", sig);
    json_decref(h);
    free(hb);
    free(pb);
    return out;
}

static char *public_pem(const hub_key_t *key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    PEM_write_bio_PUBKEY(bio, key->pkey);
    *len = (size_t)BIO_get_mem_data(bio, &data);
    out = malloc(*len + 1);
    memcpy(out, data, *len);
    out[*len] = '\0';
    BIO_free(bio);
    return out;
}

static char *jwks_of(hub_key_t **keys, size_t n)
{
    json_t *doc = json_object(), *arr = json_array();
    size_t i;
    char *text;
    for (i = 0; i != n; ++i)
        json_array_append_new(arr, hub_key_to_jwk(keys[i]));
    json_object_set_new(doc, "keys", arr);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

static int verify_at(fed_verify_t *v, const char *client_id, const char *tok, fed_identity_t *id)
{
    h2o_mem_pool_t pool;
    fed_identity_t tmp;
    const char *why;
    int ret;
    h2o_mem_init_pool(&pool);
    ret = fed_verify_access_token(v, client_id, tok, strlen(tok), &pool, id != NULL ? id : &tmp, &why);
    if (id != NULL) { /* copy what the caller checks before the pool goes */
        static char sub[64], name[64], role0[64];
        snprintf(sub, sizeof(sub), "%s", id->sub != NULL ? id->sub : "");
        snprintf(role0, sizeof(role0), "%s", id->nroles != 0 ? id->roles[0] : "");
        snprintf(name, sizeof(name), "%s", id->client_id != NULL ? id->client_id : "");
        id->sub = sub;
        id->client_id = name;
        id->roles = NULL;
        id->name = role0; /* first role, for the checks below */
    }
    h2o_mem_clear_pool(&pool);
    return ret;
}

static json_t *with(json_t *claims, const char *name, json_t *value)
{
    json_object_set_new(claims, name, value);
    return claims;
}

/* A logout token's claims as the primary writes them, without exp. */
#define LOGOUT_CLAIMS(now)                                                                                                         \
    json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:{s:{}}}", "iss", ISS, "sub", "u", "aud", CLIENT, "iat", (json_int_t)(now), "jti", "j1",  \
              "sid", "s1", "events", "http://schemas.openid.net/event/backchannel-logout")

/* What the access-token parts share: one JWKS holding key (other is unknown to it until
 * at_unknown_kid installs it), one verifier accepting "api-audience" besides the client. */
typedef struct {
    hub_key_t *key, *other;
    fed_jwks_t *j;
    fed_verify_t *v;
    char *jwks;
} at_fixture_t;

static void at_setup(at_fixture_t *f, hub_alg_t alg)
{
    static char *accept[] = {"api-audience"};

    f->j = fed_jwks_create(on_wake, NULL);
    f->v = fed_verify_create(f->j, ISS, accept, 1, SKEW, 0);
    CHECK(hub_key_generate(&f->key, alg) == 0);
    CHECK(hub_key_generate(&f->other, alg) == 0);
    f->jwks = jwks_of(&f->key, 1);
    CHECK(fed_jwks_install(f->j, f->jwks, strlen(f->jwks)) == 0);
    CHECK(fed_jwks_count(f->j) == 1);
}

static void at_teardown(at_fixture_t *f)
{
    fed_verify_destroy(f->v);
    fed_jwks_destroy(f->j);
    free(f->jwks);
    hub_key_free(f->key);
    hub_key_free(f->other);
}

/* a good token, then the same token again from the cache; then tampered: a flipped payload byte
 * and a flipped signature byte */
static void at_good_cached_tampered(at_fixture_t *f)
{
    fed_identity_t id;
    uint64_t hits, sigs;
    char *tok = sign(f->key, "at+jwt", at_claims());

    CHECK(verify_at(f->v, CLIENT, tok, &id) == 0);
    CHECK(strcmp(id.sub, "user-1") == 0);
    CHECK(strcmp(id.client_id, CLIENT) == 0);
    CHECK(strcmp(id.name, "Employee") == 0);
    CHECK(id.nroles == 2);
    fed_verify_stats(f->v, &hits, &sigs);
    CHECK(hits == 0 && sigs == 1);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == 0);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == 0);
    fed_verify_stats(f->v, &hits, &sigs);
    CHECK(hits == 2 && sigs == 1);
    {
        char *t = strdup(tok), *dot = strchr(t, '.');
        dot[3] = dot[3] == 'A' ? 'B' : 'A';
        CHECK(verify_at(f->v, CLIENT, t, NULL) != 0);
        memcpy(t, tok, strlen(tok) + 1);
        t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
        CHECK(verify_at(f->v, CLIENT, t, NULL) == HUB_E_BADSIG);
        free(t);
    }
    free(tok);
}

/* alg none, and HS256 (or the key's own alg name) keyed with the public key's PEM */
static void at_alg_confusion(at_fixture_t *f)
{
    size_t pemlen;
    json_t *c = at_claims();
    char *pem = public_pem(f->key, &pemlen), *tok;

    tok = forge("none", f->key->kid, c, NULL, 0);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_BADSIG);
    free(tok);
    tok = forge("HS256", f->key->kid, c, pem, pemlen);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_BADSIG);
    free(tok);
    tok = forge(hub_alg_name(f->key->alg), f->key->kid, c, pem, pemlen);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_BADSIG);
    free(tok);
    free(pem);
    json_decref(c);
}

/* issuer, audience, accepted audiences */
static void at_issuer_audience(at_fixture_t *f)
{
    char *tok;

    tok = sign(f->key, "at+jwt", with(at_claims(), "iss", json_string(ISS "/")));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "aud", json_string("someone-else")));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_DENIED);
    CHECK(verify_at(f->v, NULL, tok, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "aud", json_pack("[s,s]", "x", CLIENT)));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == 0);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "aud", json_string("api-audience")));
    CHECK(verify_at(f->v, NULL, tok, NULL) == 0);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "aud", json_integer(5)));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_DENIED);
    free(tok);
}

/* times: expired beyond the skew, expired within it, iat in the future, exp not a number */
static void at_times(at_fixture_t *f)
{
    uint64_t now = hub_now();
    char *tok;

    tok = sign(f->key, "at+jwt", with(at_claims(), "exp", json_integer((json_int_t)(now - SKEW - 5))));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_EXPIRED);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "exp", json_integer((json_int_t)(now - SKEW / 2))));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == 0);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "iat", json_integer((json_int_t)(now + SKEW + 30))));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_EXPIRED);
    free(tok);
    tok = sign(f->key, "at+jwt", with(at_claims(), "exp", json_string("soon")));
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_PARSE);
    free(tok);
}

/* typ: another one, none, the long form in another case */
static void at_typ(at_fixture_t *f)
{
    char *tok;

    tok = sign(f->key, "JWT", at_claims());
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(f->key, NULL, at_claims());
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(f->key, "application/AT+JWT", at_claims());
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == 0);
    free(tok);
}

/* an unknown kid asks for one refresh; a second one right after is rate-limited; after the
 * refresh brings the new key, the token verifies */
static void at_unknown_kid(at_fixture_t *f)
{
    hub_key_t *both[] = {f->key, f->other};
    char *tok, *j2;

    wakes = 0;
    tok = sign(f->other, "at+jwt", at_claims());
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_NOTFOUND);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == HUB_E_NOTFOUND);
    CHECK(wakes == 1);
    j2 = jwks_of(both, 2);
    CHECK(fed_jwks_install(f->j, j2, strlen(j2)) == 0);
    CHECK(fed_jwks_count(f->j) == 2);
    free(j2);
    CHECK(verify_at(f->v, CLIENT, tok, NULL) == 0);
    free(tok);
}

/* malformed input */
static void at_malformed(at_fixture_t *f)
{
    CHECK(verify_at(f->v, CLIENT, "", NULL) == HUB_E_PARSE);
    CHECK(verify_at(f->v, CLIENT, "a.b.c", NULL) == HUB_E_PARSE);
    CHECK(verify_at(f->v, CLIENT, "....", NULL) == HUB_E_PARSE);
}

/* Access tokens signed with alg: each part in turn on one JWKS and verifier, in this order (the
 * cache counts of the first part and the refresh ask of at_unknown_kid see what came before). */
static void test_access_tokens(hub_alg_t alg)
{
    static void (*const parts[])(at_fixture_t *) = {at_good_cached_tampered, at_alg_confusion, at_issuer_audience, at_times, at_typ,
                                                    at_unknown_kid,          at_malformed};
    at_fixture_t f;
    size_t i;

    at_setup(&f, alg);
    for (i = 0; i != sizeof(parts) / sizeof(parts[0]); ++i)
        parts[i](&f);
    at_teardown(&f);
}

static void test_cache_bound(void)
{
    hub_key_t *key;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    fed_verify_t *v = fed_verify_create(j, ISS, NULL, 0, SKEW, 32);
    char *jwks, *toks[200];
    uint64_t hits, sigs;
    size_t i;

    CHECK(hub_key_generate(&key, HUB_ALG_ES256) == 0);
    jwks = jwks_of(&key, 1);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0);
    for (i = 0; i != 200; ++i) {
        json_t *c = at_claims();
        char jti[32];
        snprintf(jti, sizeof(jti), "jti-%zu", i);
        json_object_set_new(c, "jti", json_string(jti));
        toks[i] = sign(key, "at+jwt", c);
        CHECK(verify_at(v, CLIENT, toks[i], NULL) == 0);
    }
    for (i = 0; i != 200; ++i)
        CHECK(verify_at(v, CLIENT, toks[i], NULL) == 0); /* evicted ones are checked again, still valid */
    fed_verify_stats(v, &hits, &sigs);
    CHECK(hits + sigs == 400);
    CHECK(sigs > 200); /* the cache holds at most 32 entries */
    for (i = 0; i != 200; ++i)
        free(toks[i]);
    fed_verify_destroy(v);
    fed_jwks_destroy(j);
    free(jwks);
    hub_key_free(key);
}

typedef struct {
    fed_verify_t *v;
    const char *tok;
    int bad;
} thr_arg_t;

static pthread_mutex_t park_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int parked;

/* The threads stay alive until the process exits: libh2o keeps recycled pool chunks in
 * thread-local storage, which a thread that ended would leak. */
static void *thr_main(void *p)
{
    thr_arg_t *a = p;
    int i;
    for (i = 0; i != 2000; ++i)
        if (verify_at(a->v, CLIENT, a->tok, NULL) != 0)
            ++a->bad;
    pthread_mutex_lock(&park_mutex);
    ++parked;
    pthread_cond_broadcast(&park_cond);
    for (;;)
        pthread_cond_wait(&park_cond, &park_mutex);
    return NULL;
}

static void test_threads(void)
{
    hub_key_t *key;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    fed_verify_t *v = fed_verify_create(j, ISS, NULL, 0, SKEW, 0);
    pthread_t t[4];
    thr_arg_t a[4];
    char *jwks, *tok;
    int i;

    CHECK(hub_key_generate(&key, HUB_ALG_RS256) == 0);
    jwks = jwks_of(&key, 1);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0);
    tok = sign(key, "at+jwt", at_claims());
    for (i = 0; i != 4; ++i) {
        a[i] = (thr_arg_t){v, tok, 0};
        pthread_create(&t[i], NULL, thr_main, &a[i]);
    }
    pthread_mutex_lock(&park_mutex);
    while (parked != 4)
        pthread_cond_wait(&park_cond, &park_mutex);
    pthread_mutex_unlock(&park_mutex);
    for (i = 0; i != 4; ++i) {
        pthread_detach(t[i]);
        CHECK(a[i].bad == 0);
    }
    free(tok);
    free(jwks);
    fed_verify_destroy(v);
    fed_jwks_destroy(j);
    hub_key_free(key);
}

static void test_id_and_logout_tokens(void)
{
    hub_key_t *key;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    fed_verify_t *v = fed_verify_create(j, ISS, NULL, 0, SKEW, 0);
    uint64_t now = hub_now();
    json_t *claims;
    char *jwks, *tok;

    CHECK(hub_key_generate(&key, HUB_ALG_EDDSA) == 0);
    jwks = jwks_of(&key, 1);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0);
#define IDT()                                                                                                                      \
    json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "iss", ISS, "sub", "u", "aud", CLIENT, "exp", (json_int_t)(now + 60), "iat",        \
              (json_int_t)now, "nonce", "n1", "sid", "s1")
    tok = sign(key, "JWT", IDT());
    CHECK(fed_verify_id_token(v, CLIENT, "n1", tok, strlen(tok), &claims, NULL) == 0);
    CHECK(claims != NULL && strcmp(json_string_value(json_object_get(claims, "sid")), "s1") == 0);
    json_decref(claims);
    CHECK(fed_verify_id_token(v, CLIENT, "n2", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED && claims == NULL);
    CHECK(fed_verify_id_token(v, "other", "n1", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    CHECK(fed_verify_id_token(v, NULL, "n1", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(key, "JWT", with(IDT(), "azp", json_string("other")));
    CHECK(fed_verify_id_token(v, CLIENT, "n1", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(key, "JWT", with(IDT(), "exp", json_integer((json_int_t)(now - 2 * SKEW))));
    CHECK(fed_verify_id_token(v, CLIENT, "n1", tok, strlen(tok), &claims, NULL) == HUB_E_EXPIRED);
    free(tok);
    /* an access token or a logout token with the right claims is still not an id_token */
    tok = sign(key, "at+jwt", IDT());
    CHECK(fed_verify_id_token(v, CLIENT, "n1", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(key, "logout+jwt", IDT());
    CHECK(fed_verify_id_token(v, CLIENT, "n1", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    free(tok);

#define LOT()                                                                                                                      \
    json_pack("{s:s,s:s,s:s,s:I,s:s,s:{s:{}}}", "iss", ISS, "sub", "u", "aud", CLIENT, "iat", (json_int_t)now, "sid", "s1",        \
              "events", "http://schemas.openid.net/event/backchannel-logout")
    tok = sign(key, "logout+jwt", LOT());
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == 0);
    json_decref(claims);
    CHECK(fed_verify_logout_token(v, "other", tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    free(tok);
    tok = sign(key, "logout+jwt", with(LOT(), "nonce", json_string("x")));
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_PARSE);
    free(tok);
    tok = sign(key, "logout+jwt", with(LOT(), "events", json_object()));
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_PARSE);
    free(tok);
    claims = LOT();
    json_object_del(claims, "sid");
    json_object_del(claims, "sub");
    tok = sign(key, "logout+jwt", claims);
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_PARSE);
    free(tok);
    tok = sign(key, "logout+jwt", with(LOT(), "iat", json_integer((json_int_t)(now - 3600))));
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_EXPIRED);
    free(tok);
    tok = sign(key, "at+jwt", LOT());
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_DENIED);
    free(tok);

    free(jwks);
    fed_verify_destroy(v);
    fed_jwks_destroy(j);
    hub_key_free(key);
}

static void test_jwks(void)
{
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    hub_key_t *key;
    char *jwks, *raw;
    const hub_key_t *k1, *k2;

    CHECK(fed_jwks_install(j, "{", 1) == HUB_E_PARSE);
    CHECK(fed_jwks_install(j, "{\"keys\":[]}", 11) == HUB_E_PARSE);
    CHECK(fed_jwks_install(j, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"alg\":\"HS256\",\"kid\":\"h\"}]}", 58) == HUB_E_PARSE);
    CHECK(fed_jwks_count(j) == 0 && fed_jwks_raw(j) == NULL);
    CHECK(hub_key_generate(&key, HUB_ALG_ES256) == 0);
    jwks = jwks_of(&key, 1);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0);
    k1 = fed_jwks_find(j, key->kid);
    CHECK(k1 != NULL && k1->alg == HUB_ALG_ES256);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0); /* unchanged: same snapshot */
    k2 = fed_jwks_find(j, key->kid);
    CHECK(k1 == k2);
    CHECK(fed_jwks_find(j, "nope") == NULL && fed_jwks_find(j, NULL) == NULL);
    raw = fed_jwks_raw(j);
    CHECK(raw != NULL && strcmp(raw, jwks) == 0);
    free(raw);
    CHECK(fed_jwks_install(j, "[]", 2) == HUB_E_PARSE && fed_jwks_count(j) == 1); /* a bad answer keeps the keys */

    CHECK(fed_jwks_max_age("public, max-age=300") == 300);
    CHECK(fed_jwks_max_age("max-age=0") == 0);
    CHECK(fed_jwks_max_age("no-store") == 0);
    CHECK(fed_jwks_max_age("s-maxage=5, MAX-AGE=7") == 7);
    CHECK(fed_jwks_max_age("max-age=x") == 0);
    CHECK(fed_jwks_max_age(NULL) == 0);
    /* a fetch from a closed port fails quickly and keeps the keys */
    uint64_t age = 1;
    CHECK(fed_jwks_fetch(j, "http://127.0.0.1:9/jwks", 2000, &age) != 0 && fed_jwks_count(j) == 1);
    free(jwks);
    hub_key_free(key);
    fed_jwks_destroy(j);
}

/* nbf (RFC 7519 §4.1.5) on every kind of token, jti (RFC 9068 §2.2) on access tokens. */
static void test_nbf_and_jti(void)
{
    hub_key_t *key;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    fed_verify_t *v = fed_verify_create(j, ISS, NULL, 0, SKEW, 0);
    uint64_t now = hub_now();
    json_t *claims, *c;
    char *jwks, *tok, long_jti[300];
    size_t i;

    CHECK(hub_key_generate(&key, HUB_ALG_ES256) == 0);
    jwks = jwks_of(&key, 1);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0);
    /* access tokens: nbf in the future beyond the skew, within it, in the past, and not a time */
    struct {
        json_t *nbf;
        int want;
    } nbfs[] = {
        {json_integer((json_int_t)(now + SKEW + 30)), HUB_E_EXPIRED},
        {json_integer((json_int_t)(now + 3600)), HUB_E_EXPIRED},
        {json_real((double)(now + SKEW + 5)), HUB_E_EXPIRED},
        {json_integer((json_int_t)(now + SKEW / 2)), 0},
        {json_integer((json_int_t)now), 0},
        {json_integer((json_int_t)(now - 600)), 0},
        {json_string("now"), HUB_E_PARSE},
        {json_string("1700000000"), HUB_E_PARSE},
        {json_null(), HUB_E_PARSE},
        {json_true(), HUB_E_PARSE},
        {json_integer(-5), HUB_E_PARSE},
        {json_real(1e15), HUB_E_PARSE},
        {json_pack("[I]", (json_int_t)now), HUB_E_PARSE},
    };
    for (i = 0; i != sizeof(nbfs) / sizeof(nbfs[0]); ++i) {
        json_incref(nbfs[i].nbf);
        tok = sign(key, "at+jwt", with(at_claims(), "nbf", nbfs[i].nbf));
        CHECK(verify_at(v, CLIENT, tok, NULL) == nbfs[i].want);
        CHECK(verify_at(v, CLIENT, tok, NULL) == nbfs[i].want); /* a refused token is not cached */
        free(tok);
        /* the same nbf in an id_token and a logout token */
        c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:O}", "iss", ISS, "sub", "u", "aud", CLIENT, "exp", (json_int_t)(now + 60), "iat",
                      (json_int_t)now, "nonce", "n1", "nbf", nbfs[i].nbf);
        tok = sign(key, "JWT", c);
        CHECK(fed_verify_id_token(v, CLIENT, "n1", tok, strlen(tok), &claims, NULL) == nbfs[i].want);
        json_decref(claims);
        free(tok);
        c = json_pack("{s:s,s:s,s:s,s:I,s:s,s:{s:{}},s:O}", "iss", ISS, "sub", "u", "aud", CLIENT, "iat", (json_int_t)now, "sid",
                      "s1", "events", "http://schemas.openid.net/event/backchannel-logout", "nbf", nbfs[i].nbf);
        tok = sign(key, "logout+jwt", c);
        CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == nbfs[i].want);
        json_decref(claims);
        free(tok);
        json_decref(nbfs[i].nbf);
    }
    /* jti: missing, empty, not a string, with a NUL, too long; a fair one passes */
    memset(long_jti, 'j', sizeof(long_jti) - 1);
    long_jti[sizeof(long_jti) - 1] = '\0';
    json_t *jtis[] = {json_string(""), json_integer(7),         json_null(),           json_pack("[s]", "j"),
                      json_object(),   json_stringn("a\0b", 3), json_string(long_jti), json_true()};
    for (i = 0; i != sizeof(jtis) / sizeof(jtis[0]); ++i) {
        tok = sign(key, "at+jwt", with(at_claims(), "jti", jtis[i]));
        CHECK(verify_at(v, CLIENT, tok, NULL) == HUB_E_PARSE);
        free(tok);
    }
    c = at_claims();
    json_object_del(c, "jti");
    tok = sign(key, "at+jwt", c);
    CHECK(verify_at(v, CLIENT, tok, NULL) == HUB_E_PARSE);
    free(tok);
    tok = sign(key, "at+jwt", with(at_claims(), "jti", json_string("a-fair-jti")));
    CHECK(verify_at(v, CLIENT, tok, NULL) == 0);
    free(tok);
    free(jwks);
    fed_verify_destroy(v);
    fed_jwks_destroy(j);
    hub_key_free(key);
}

/* exp, when a token carries one, is a NumericDate (RFC 7519 §4.1.4): a logout token (where exp is optional) with a
 * malformed exp is refused like one with a malformed nbf, not read as if it had none (found by the logout_token fuzz
 * target). Access tokens and id_tokens, which need exp, refuse it too. */
static void test_malformed_exp(void)
{
    hub_key_t *key;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    fed_verify_t *v = fed_verify_create(j, ISS, NULL, 0, SKEW, 0);
    uint64_t now = hub_now();
    json_t *claims = NULL, *c;
    char *jwks, *tok;
    size_t i;

    CHECK(hub_key_generate(&key, HUB_ALG_EDDSA) == 0);
    jwks = jwks_of(&key, 1);
    CHECK(fed_jwks_install(j, jwks, strlen(jwks)) == 0);
    json_t *exps[] = {json_string("tomorrow"), json_string("1700000000"), json_null(),   json_true(),
                      json_integer(-1),        json_real(1e15),           json_object(), json_pack("[I]", (json_int_t)now + 60)};
    for (i = 0; i != sizeof(exps) / sizeof(exps[0]); ++i) {
        c = LOGOUT_CLAIMS(now);
        json_object_set(c, "exp", exps[i]);
        tok = sign(key, "logout+jwt", c);
        CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_PARSE && claims == NULL);
        free(tok);
        tok = sign(key, "at+jwt", with(at_claims(), "exp", json_incref(exps[i])));
        CHECK(verify_at(v, CLIENT, tok, NULL) == HUB_E_PARSE);
        free(tok);
        json_decref(exps[i]);
    }
    /* without exp, and with a fair one, a logout token passes; an expired one does not */
    tok = sign(key, "logout+jwt", LOGOUT_CLAIMS(now));
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == 0);
    json_decref(claims);
    free(tok);
    tok = sign(key, "logout+jwt", with(LOGOUT_CLAIMS(now), "exp", json_integer((json_int_t)now + 120)));
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == 0);
    json_decref(claims);
    free(tok);
    tok = sign(key, "logout+jwt", with(LOGOUT_CLAIMS(now), "exp", json_integer((json_int_t)now - 2 * SKEW)));
    CHECK(fed_verify_logout_token(v, CLIENT, tok, strlen(tok), &claims, NULL) == HUB_E_EXPIRED);
    free(tok);
    free(jwks);
    fed_verify_destroy(v);
    fed_jwks_destroy(j);
    hub_key_free(key);
}

/* A key the primary stops publishing stops vouching at once, also for tokens verified before. */
static void test_dropped_key(void)
{
    hub_key_t *keep, *drop;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    fed_verify_t *v = fed_verify_create(j, ISS, NULL, 0, SKEW, 0);
    uint64_t hits, sigs, hits0;
    char *both, *one, *tok_keep, *tok_drop;

    CHECK(hub_key_generate(&keep, HUB_ALG_ES256) == 0);
    CHECK(hub_key_generate(&drop, HUB_ALG_RS256) == 0);
    hub_key_t *ks[] = {keep, drop};
    both = jwks_of(ks, 2);
    one = jwks_of(ks, 1);
    CHECK(fed_jwks_install(j, both, strlen(both)) == 0);
    tok_keep = sign(keep, "at+jwt", at_claims());
    tok_drop = sign(drop, "at+jwt", at_claims());
    CHECK(verify_at(v, CLIENT, tok_keep, NULL) == 0 && verify_at(v, CLIENT, tok_drop, NULL) == 0);
    CHECK(verify_at(v, CLIENT, tok_keep, NULL) == 0 && verify_at(v, CLIENT, tok_drop, NULL) == 0);
    fed_verify_stats(v, &hits0, &sigs);
    CHECK(hits0 == 2 && sigs == 2); /* both cached */
    /* the primary drops a key: its token is refused (never from the cache), the other one still served from it */
    CHECK(fed_jwks_install(j, one, strlen(one)) == 0 && fed_jwks_count(j) == 1);
    CHECK(verify_at(v, CLIENT, tok_drop, NULL) == HUB_E_NOTFOUND);
    CHECK(verify_at(v, CLIENT, tok_drop, NULL) == HUB_E_NOTFOUND);
    CHECK(verify_at(v, CLIENT, tok_keep, NULL) == 0);
    fed_verify_stats(v, &hits, &sigs);
    CHECK(hits == hits0 + 1 && sigs == 2);
    /* published again (a mistake undone at the primary): verified afresh */
    CHECK(fed_jwks_install(j, both, strlen(both)) == 0);
    CHECK(verify_at(v, CLIENT, tok_drop, NULL) == 0);
    fed_verify_stats(v, &hits, &sigs);
    CHECK(sigs == 3);
    free(tok_keep);
    free(tok_drop);
    free(both);
    free(one);
    fed_verify_destroy(v);
    fed_jwks_destroy(j);
    hub_key_free(keep);
    hub_key_free(drop);
}

/* POST /auth/jwks-changed: one refresh now, later asks kept for one more after the rate limit,
 * shared with the unknown-kid asks. */
static void test_jwks_changed(void)
{
    fed_jwks_t *j = fed_jwks_create(on_wake, NULL);
    uint64_t now = hub_now(), at;
    int i;

    wakes = 0;
    CHECK(fed_jwks_deferred(j, 0) == 0 && fed_jwks_deferred(j, 1) == 0);
    CHECK(fed_jwks_changed(j) == 1 && wakes == 1);
    CHECK(fed_jwks_deferred(j, 0) == 0); /* served now: nothing kept */
    for (i = 0; i != 100; ++i)
        CHECK(fed_jwks_changed(j) == 0);
    CHECK(wakes == 1);
    CHECK(fed_jwks_want_refresh(j) == 0 && wakes == 1); /* an unknown kid shares the limit */
    at = fed_jwks_deferred(j, 0);
    CHECK(at >= now + FED_JWKS_FORCE_INTERVAL && at <= hub_now() + FED_JWKS_FORCE_INTERVAL);
    CHECK(fed_jwks_deferred(j, 1) == 0);  /* not yet */
    CHECK(fed_jwks_deferred(j, 0) == at); /* and still kept */
    fed_jwks_destroy(j);
}

/* Rounds of refresh: a request that found an unknown kid waits for a round that started after it looked (the one asked,
 * else the one in flight), is told to check again when one ended since, and does not wait when none is coming. */
static void test_rounds(void)
{
    fed_jwks_t *j = fed_jwks_create(on_wake, NULL);
    uint64_t target = 99;

    CHECK(fed_jwks_rounds(j) == 0 && !fed_jwks_asked(j));
    CHECK(fed_jwks_round_target(j, 0, &target) == 0); /* nothing asked or in flight: answer now */
    CHECK(fed_jwks_round_take(j) == 0);               /* and nothing for the worker to take */
    CHECK(fed_jwks_want_refresh(j) == 1 && fed_jwks_asked(j));
    CHECK(fed_jwks_round_target(j, 0, &target) == 1 && target == 1); /* the round asked, not started yet */
    CHECK(fed_jwks_round_take(j) == 1 && !fed_jwks_asked(j));
    CHECK(fed_jwks_round_target(j, 0, &target) == 1 && target == 1); /* the round in flight */
    CHECK(fed_jwks_round_end(j) == 1 && fed_jwks_rounds(j) == 1);
    CHECK(fed_jwks_round_target(j, 0, &target) == 1 && target == 0); /* one ended since it looked: check again now */
    CHECK(fed_jwks_round_target(j, 1, &target) == 0);                /* looked after it: nothing coming */
    fed_jwks_round_begin(j);                                         /* a scheduled refresh */
    CHECK(fed_jwks_round_target(j, 1, &target) == 1 && target == 2);
    CHECK(fed_jwks_want_refresh(j) == 0); /* rate-limited: no ask */
    CHECK(fed_jwks_round_target(j, 1, &target) == 1 && target == 2);
    CHECK(fed_jwks_round_end(j) == 2 && fed_jwks_round_end(j) == 2); /* ending twice ends nothing more */
    fed_jwks_destroy(j);
}

static void test_safe_next(void)
{
    CHECK(strcmp(hub_safe_next("/app/x?y=1"), "/app/x?y=1") == 0);
    CHECK(strcmp(hub_safe_next("/"), "/") == 0);
    CHECK(strcmp(hub_safe_next(NULL), "/") == 0);
    CHECK(strcmp(hub_safe_next(""), "/") == 0);
    CHECK(strcmp(hub_safe_next("//evil.example/"), "/") == 0);
    CHECK(strcmp(hub_safe_next("/\\evil.example/"), "/") == 0);
    CHECK(strcmp(hub_safe_next("/a\\b"), "/") == 0);
    CHECK(strcmp(hub_safe_next("https://evil.example/"), "/") == 0);
    CHECK(strcmp(hub_safe_next("app"), "/") == 0);
    CHECK(strcmp(hub_safe_next("/a\r\nSet-Cookie: x"), "/") == 0);
    CHECK(strcmp(hub_safe_next("/a\tb"), "/") == 0);
}

static void test_strip_headers(void)
{
    h2o_mem_pool_t pool;
    h2o_headers_t headers = {NULL};
    h2o_mem_init_pool(&pool);
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-hub-sub"), 0, NULL, H2O_STRLIT("evil"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("accept"), 1, NULL, H2O_STRLIT("*/*"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("X-HUB-ROLES"), 0, NULL, H2O_STRLIT("admin"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-hubx"), 0, NULL, H2O_STRLIT("kept"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("X_Hub_Sub"), 0, NULL, H2O_STRLIT("forged"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-hub_roles"), 0, NULL, H2O_STRLIT("forged"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-hub-"), 0, NULL, H2O_STRLIT("gone"));
    fed_routes_strip_hub_headers(&headers);
    CHECK(headers.size == 2);
    CHECK(h2o_find_header_by_str(&headers, H2O_STRLIT("x-hubx"), -1) != -1);
    CHECK(h2o_find_header_by_str(&headers, H2O_STRLIT("x_hub_sub"), -1) == -1); /* CGI spelling of X-Hub-Sub */
    CHECK(h2o_find_header_by_str(&headers, H2O_STRLIT("x-hub_roles"), -1) == -1);
    CHECK(h2o_find_header(&headers, H2O_TOKEN_ACCEPT, -1) != -1);
    h2o_mem_clear_pool(&pool);
}

int main(void)
{
    test_access_tokens(HUB_ALG_RS256);
    test_access_tokens(HUB_ALG_ES256);
    test_access_tokens(HUB_ALG_EDDSA);
    test_cache_bound();
    test_threads();
    test_id_and_logout_tokens();
    test_nbf_and_jti();
    test_malformed_exp();
    test_dropped_key();
    test_jwks_changed();
    test_rounds();
    test_jwks();
    test_safe_next();
    test_strip_headers();
    return check_report("federation/verify");
}
