/* Verifying the primary's JWTs locally, with a sharded cache of verified access tokens so a
 * repeated token costs one SHA-256 and a lookup instead of a signature check. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "federation/fed_verify.h"
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/store.h"

#define TOKEN_MAX 16384
#define SHARDS 16
#define LOGOUT_TOKEN_MAX_AGE 300 /* seconds a logout token stays acceptable after its iat, besides the skew */
#define BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define JTI_MAX 256 /* a longer jti is not one the primary issued */

/* A cached identity: one malloc'ed copy of every string. */
typedef struct st_entry_t {
    uint8_t hash[HUB_SHA256_LEN];
    uint64_t exp;
    char *kid; /* the key that signed the token: the entry is good only while the primary publishes it */
    char *sub, *name, *email, *client_id, *sid;
    char **roles;
    size_t nroles;
} entry_t;

typedef struct st_shard_t {
    pthread_mutex_t mutex;
    entry_t **slots; /* direct-mapped by hash: a collision replaces the older entry */
    size_t nslots;
} shard_t;

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;     /* fetched once: an implicit fetch per call costs locks in OpenSSL 3 */
static pthread_key_t sha_key; /* a digest context per thread, freed when the thread ends */

static void sha_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha_init(void)
{
    if ((sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL || pthread_key_create(&sha_key, sha_ctx_free) != 0)
        abort();
}

/* SHA-256 on the hot path (every Bearer request): no fetch, no allocation after the first. */
static void token_hash(uint8_t out[HUB_SHA256_LEN], const char *token, size_t len)
{
    EVP_MD_CTX *ctx;
    pthread_once(&sha_once, sha_init);
    if ((ctx = pthread_getspecific(sha_key)) == NULL) {
        if ((ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(sha_key, ctx) != 0)
            abort();
    }
    if (EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1 || EVP_DigestUpdate(ctx, token, len) != 1 ||
        EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        hub_sha256(out, token, len);
}

struct st_fed_verify_t {
    fed_jwks_t *jwks;
    char *issuer;
    char **accept;
    size_t naccept;
    uint64_t skew;
    shard_t shards[SHARDS];
    uint64_t hits, sigs; /* atomic counters */
};

fed_verify_t *fed_verify_create(fed_jwks_t *jwks, const char *issuer, char *const *accept, size_t naccept, uint64_t clock_skew,
                                size_t cache_size)
{
    fed_verify_t *v = calloc(1, sizeof(*v));
    size_t i;

    if (v == NULL)
        abort();
    v->jwks = jwks;
    v->issuer = hub_strdup(issuer);
    v->skew = clock_skew;
    if (naccept != 0 && (v->accept = calloc(naccept, sizeof(*v->accept))) == NULL)
        abort();
    for (i = 0; i != naccept; ++i)
        v->accept[i] = hub_strdup(accept[i]);
    v->naccept = naccept;
    if (cache_size == 0)
        cache_size = FED_VERIFY_CACHE_DEFAULT;
    for (i = 0; i != SHARDS; ++i) {
        pthread_mutex_init(&v->shards[i].mutex, NULL);
        v->shards[i].nslots = (cache_size + SHARDS - 1) / SHARDS;
        if ((v->shards[i].slots = calloc(v->shards[i].nslots, sizeof(entry_t *))) == NULL)
            abort();
    }
    return v;
}

static void entry_free(entry_t *e)
{
    size_t i;
    if (e == NULL)
        return;
    free(e->kid);
    free(e->sub);
    free(e->name);
    free(e->email);
    free(e->client_id);
    free(e->sid);
    for (i = 0; i != e->nroles; ++i)
        free(e->roles[i]);
    free(e->roles);
    free(e);
}

void fed_verify_destroy(fed_verify_t *v)
{
    size_t i, s;
    if (v == NULL)
        return;
    for (s = 0; s != SHARDS; ++s) {
        for (i = 0; i != v->shards[s].nslots; ++i)
            entry_free(v->shards[s].slots[i]);
        free(v->shards[s].slots);
        pthread_mutex_destroy(&v->shards[s].mutex);
    }
    for (i = 0; i != v->naccept; ++i)
        free(v->accept[i]);
    free(v->accept);
    free(v->issuer);
    free(v);
}

void fed_verify_stats(fed_verify_t *v, uint64_t *cache_hits, uint64_t *sig_checks)
{
    *cache_hits = __atomic_load_n(&v->hits, __ATOMIC_RELAXED);
    *sig_checks = __atomic_load_n(&v->sigs, __ATOMIC_RELAXED);
}

static const char *str_claim(const json_t *claims, const char *name)
{
    const json_t *s = json_object_get(claims, name);
    /* a string with an embedded NUL is treated as absent */
    return json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s) ? json_string_value(s) : NULL;
}

static int time_claim(const json_t *claims, const char *name, uint64_t *out)
{
    const json_t *t = json_object_get(claims, name);
    double d;
    if (!json_is_number(t) || (d = json_number_value(t)) < 0 || d > 1e12)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

static const char *pool_dup(h2o_mem_pool_t *pool, const char *s)
{
    return s != NULL ? h2o_strdup(pool, s, SIZE_MAX).base : NULL;
}

void fed_identity_from_claims(h2o_mem_pool_t *pool, const json_t *claims, fed_identity_t *id)
{
    const json_t *roles = json_object_get(claims, "roles"), *r;
    size_t i;

    memset(id, 0, sizeof(*id));
    id->sub = pool_dup(pool, str_claim(claims, "sub"));
    id->name = pool_dup(pool, str_claim(claims, "name"));
    id->email = pool_dup(pool, str_claim(claims, "email"));
    id->client_id = pool_dup(pool, str_claim(claims, "client_id"));
    id->sid = pool_dup(pool, str_claim(claims, "sid"));
    time_claim(claims, "exp", &id->exp);
    if (json_is_array(roles) && json_array_size(roles) != 0) {
        id->roles = h2o_mem_alloc_pool(pool, sizeof(char *) * json_array_size(roles));
        json_array_foreach(roles, i, r)
        {
            if (id->nroles == FED_MAX_ROLES)
                break;
            if (json_is_string(r) && strlen(json_string_value(r)) == json_string_length(r))
                id->roles[id->nroles++] = pool_dup(pool, json_string_value(r));
        }
    }
}

/* Parses, finds the key by kid, checks the algorithm is the key's and the signature, and the
 * issuer. On success *jws owns the parsed token. */
static int verify_signed(fed_verify_t *v, const char *token, size_t len, hub_jws_t *jws, const char **why)
{
    const hub_key_t *key;
    const char *iss;

    memset(jws, 0, sizeof(*jws));
    if (len == 0 || len > TOKEN_MAX || hub_jws_parse(token, len, jws) != 0) {
        *why = "the token is malformed";
        return HUB_E_PARSE;
    }
    if (jws->alg == NULL || jws->kid == NULL) {
        *why = jws->alg == NULL ? "the token has no alg" : "the token has no kid";
        return HUB_E_PARSE;
    }
    if ((key = fed_jwks_find(v->jwks, jws->kid)) == NULL) {
        fed_jwks_want_refresh(v->jwks);
        *why = "the token is signed with an unknown key";
        return HUB_E_NOTFOUND;
    }
    /* the algorithm is pinned by the key: "none" and HMAC never match one of ours */
    if (strcmp(jws->alg, hub_alg_name(key->alg)) != 0) {
        *why = "the token's algorithm does not match its key";
        return HUB_E_BADSIG;
    }
    __atomic_add_fetch(&v->sigs, 1, __ATOMIC_RELAXED);
    if (hub_jws_verify(key, token, len) != 0) {
        *why = "the token's signature is invalid";
        return HUB_E_BADSIG;
    }
    if ((iss = str_claim(jws->payload, "iss")) == NULL || strcmp(iss, v->issuer) != 0) {
        *why = "the token was issued by someone else";
        return HUB_E_DENIED;
    }
    return 0;
}

static int aud_has(const json_t *aud, const char *want)
{
    size_t i;
    const json_t *a;
    if (want == NULL)
        return 0;
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    json_array_foreach(aud, i, a) if (json_is_string(a) && strcmp(json_string_value(a), want) == 0) return 1;
    return 0;
}

/* exp > now - skew (exp required when need_exp), iat <= now + skew (iat required), and nbf,
 * when present, a number <= now + skew (RFC 7519 §4.1.5). A time claim present but not a
 * NumericDate is malformed, required or not. */
static int check_times(fed_verify_t *v, const json_t *claims, int need_exp, const char **why)
{
    uint64_t now = hub_now(), exp, iat, nbf;

    if (json_object_get(claims, "nbf") != NULL) {
        if (!time_claim(claims, "nbf", &nbf)) {
            *why = "the token's nbf is malformed";
            return HUB_E_PARSE;
        }
        if (nbf > now + v->skew) {
            *why = "the token is not valid yet (nbf)";
            return HUB_E_EXPIRED;
        }
    }
    if (!time_claim(claims, "exp", &exp)) {
        if (need_exp || json_object_get(claims, "exp") != NULL) {
            *why = json_object_get(claims, "exp") != NULL ? "the token's exp is malformed" : "the token has no exp";
            return HUB_E_PARSE;
        }
    } else if (exp + v->skew <= now) {
        *why = "the token has expired";
        return HUB_E_EXPIRED;
    }
    if (!time_claim(claims, "iat", &iat)) {
        *why = "the token has no iat";
        return HUB_E_PARSE;
    }
    if (iat > now + v->skew) {
        *why = "the token was issued in the future";
        return HUB_E_EXPIRED;
    }
    return 0;
}

/* check_times with exp required, then a sub claim (no_sub is the reason given without one). */
static int check_times_and_sub(fed_verify_t *v, const json_t *payload, const char *no_sub, const char **why)
{
    int ret;

    if ((ret = check_times(v, payload, 1, why)) != 0)
        return ret;
    if (str_claim(payload, "sub") == NULL) {
        *why = no_sub;
        return HUB_E_PARSE;
    }
    return 0;
}

static int typ_is_at_jwt(const char *typ)
{
    return typ != NULL && (strcasecmp(typ, "at+jwt") == 0 || strcasecmp(typ, "application/at+jwt") == 0);
}

static shard_t *shard_of(fed_verify_t *v, const uint8_t hash[HUB_SHA256_LEN], size_t *slot)
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    shard_t *s = &v->shards[hash[31] % SHARDS];
    *slot = (size_t)(h % s->nslots);
    return s;
}

static int cache_lookup(fed_verify_t *v, const uint8_t hash[HUB_SHA256_LEN], h2o_mem_pool_t *pool, fed_identity_t *id)
{
    size_t slot, i;
    shard_t *s = shard_of(v, hash, &slot);
    entry_t *e;
    int found = 0;

    pthread_mutex_lock(&s->mutex);
    e = s->slots[slot];
    if (e != NULL && memcmp(e->hash, hash, HUB_SHA256_LEN) == 0) {
        /* a key the primary dropped (revoked) stops vouching for the tokens it signed at once */
        if (e->exp + v->skew > hub_now() && fed_jwks_find(v->jwks, e->kid) != NULL) {
            id->sub = pool_dup(pool, e->sub);
            id->name = pool_dup(pool, e->name);
            id->email = pool_dup(pool, e->email);
            id->client_id = pool_dup(pool, e->client_id);
            id->sid = pool_dup(pool, e->sid);
            id->exp = e->exp;
            id->nroles = e->nroles;
            id->roles = e->nroles != 0 ? h2o_mem_alloc_pool(pool, sizeof(char *) * e->nroles) : NULL;
            for (i = 0; i != e->nroles; ++i)
                id->roles[i] = pool_dup(pool, e->roles[i]);
            found = 1;
        } else { /* expired, or its key is gone: drop it now */
            entry_free(e);
            s->slots[slot] = NULL;
        }
    }
    pthread_mutex_unlock(&s->mutex);
    return found;
}

static void cache_insert(fed_verify_t *v, const uint8_t hash[HUB_SHA256_LEN], const char *kid, const fed_identity_t *id)
{
    size_t slot, i;
    shard_t *s = shard_of(v, hash, &slot);
    entry_t *e = calloc(1, sizeof(*e)), *old;

    if (e == NULL)
        abort();
    memcpy(e->hash, hash, HUB_SHA256_LEN);
    e->exp = id->exp;
    e->kid = hub_strdup(kid);
    e->sub = hub_strdup(id->sub);
    e->name = hub_strdup(id->name);
    e->email = hub_strdup(id->email);
    e->client_id = hub_strdup(id->client_id);
    e->sid = hub_strdup(id->sid);
    if (id->nroles != 0 && (e->roles = calloc(id->nroles, sizeof(char *))) == NULL)
        abort();
    for (i = 0; i != id->nroles; ++i)
        e->roles[i] = hub_strdup(id->roles[i]);
    e->nroles = id->nroles;
    pthread_mutex_lock(&s->mutex);
    old = s->slots[slot];
    s->slots[slot] = e;
    pthread_mutex_unlock(&s->mutex);
    entry_free(old);
}

int fed_verify_access_token(fed_verify_t *v, const char *client_id, const char *token, size_t len, h2o_mem_pool_t *pool,
                            fed_identity_t *id, const char **why)
{
    uint8_t hash[HUB_SHA256_LEN];
    hub_jws_t jws;
    const json_t *aud;
    const char *dummy, *jti;
    size_t i;
    int ret, ok;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    memset(id, 0, sizeof(*id));
    if (len == 0 || len > TOKEN_MAX) {
        *why = "the token is malformed";
        return HUB_E_PARSE;
    }
    token_hash(hash, token, len);
    if (cache_lookup(v, hash, pool, id)) {
        __atomic_add_fetch(&v->hits, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if ((ret = verify_signed(v, token, len, &jws, why)) != 0)
        goto out;
    if (!typ_is_at_jwt(jws.typ)) {
        *why = "the token is not an access token (typ at+jwt)";
        ret = HUB_E_DENIED;
        goto out;
    }
    aud = json_object_get(jws.payload, "aud");
    ok = aud_has(aud, client_id);
    for (i = 0; !ok && i != v->naccept; ++i)
        ok = aud_has(aud, v->accept[i]);
    if (!ok) {
        *why = "the token is meant for another audience";
        ret = HUB_E_DENIED;
        goto out;
    }
    if ((ret = check_times_and_sub(v, jws.payload, "the token has no sub", why)) != 0)
        goto out;
    if ((jti = str_claim(jws.payload, "jti")) == NULL || jti[0] == '\0' || strlen(jti) > JTI_MAX) {
        *why = "the token has no jti"; /* RFC 9068 §2.2: required */
        ret = HUB_E_PARSE;
        goto out;
    }
    fed_identity_from_claims(pool, jws.payload, id);
    cache_insert(v, hash, jws.kid, id);
out:
    hub_jws_dispose(&jws);
    return ret;
}

int fed_verify_id_token(fed_verify_t *v, const char *client_id, const char *nonce, const char *token, size_t len, json_t **claims,
                        const char **why)
{
    hub_jws_t jws;
    const json_t *aud;
    const char *got_nonce, *azp, *dummy;
    int ret;

    if (why == NULL)
        why = &dummy;
    *claims = NULL;
    if ((ret = verify_signed(v, token, len, &jws, why)) != 0)
        goto out;
    /* explicit typing keeps access and logout tokens from passing for an id_token */
    if (typ_is_at_jwt(jws.typ) || (jws.typ != NULL && strcasecmp(jws.typ, "logout+jwt") == 0)) {
        *why = "the token is not an id_token";
        ret = HUB_E_DENIED;
        goto out;
    }
    aud = json_object_get(jws.payload, "aud");
    azp = str_claim(jws.payload, "azp");
    if (client_id == NULL || !aud_has(aud, client_id) || (json_is_array(aud) && json_array_size(aud) > 1 && azp == NULL) ||
        (azp != NULL && strcmp(azp, client_id) != 0)) {
        *why = "the id_token is meant for another client";
        ret = HUB_E_DENIED;
        goto out;
    }
    got_nonce = str_claim(jws.payload, "nonce");
    if (nonce != NULL && (got_nonce == NULL || !hub_ct_equal(got_nonce, strlen(got_nonce), nonce, strlen(nonce)))) {
        *why = "the id_token's nonce does not match";
        ret = HUB_E_DENIED;
        goto out;
    }
    if ((ret = check_times_and_sub(v, jws.payload, "the id_token has no sub", why)) != 0)
        goto out;
    *claims = json_incref(jws.payload);
out:
    hub_jws_dispose(&jws);
    return ret;
}

int fed_verify_logout_token(fed_verify_t *v, const char *client_id, const char *token, size_t len, json_t **claims,
                            const char **why)
{
    hub_jws_t jws;
    const json_t *events;
    const char *dummy;
    uint64_t iat = 0;
    int ret;

    if (why == NULL)
        why = &dummy;
    *claims = NULL;
    if ((ret = verify_signed(v, token, len, &jws, why)) != 0)
        goto out;
    if (typ_is_at_jwt(jws.typ)) { /* an access token must never pass for a logout token */
        *why = "an access token is not a logout token";
        ret = HUB_E_DENIED;
        goto out;
    }
    if (client_id == NULL || !aud_has(json_object_get(jws.payload, "aud"), client_id)) {
        *why = "the logout token is meant for another client";
        ret = HUB_E_DENIED;
        goto out;
    }
    if ((ret = check_times(v, jws.payload, 0, why)) != 0)
        goto out;
    time_claim(jws.payload, "iat", &iat);
    if (iat + v->skew + LOGOUT_TOKEN_MAX_AGE < hub_now()) {
        *why = "the logout token is stale";
        ret = HUB_E_EXPIRED;
        goto out;
    }
    events = json_object_get(jws.payload, "events");
    if (!json_is_object(events) || !json_is_object(json_object_get(events, BCL_EVENT))) {
        *why = "the logout token has no back-channel logout event";
        ret = HUB_E_PARSE;
        goto out;
    }
    if (json_object_get(jws.payload, "nonce") != NULL) {
        *why = "a logout token must not carry a nonce";
        ret = HUB_E_PARSE;
        goto out;
    }
    if (str_claim(jws.payload, "sid") == NULL && str_claim(jws.payload, "sub") == NULL) {
        *why = "the logout token names neither sid nor sub";
        ret = HUB_E_PARSE;
        goto out;
    }
    *claims = json_incref(jws.payload);
out:
    hub_jws_dispose(&jws);
    return ret;
}
