/* Tests idp/keyrec.c, idp/keys.c and idp/keyring.c: the first key, PEM file mode, rotation publishing a next key that signs only
 * publish_ahead after the JWKS first served it (recorded once, durably, the earliest serving of two keyrings kept), retire rules,
 * the retiring state, revocation (JWKS, verification, hand-over, the report to the nodes), the claims every token of ours must
 * carry, legacy records and the saved rotation policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "idp/keyring.h"
#include "idp/keys.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

#define MAX_LISTED 16

typedef struct {
    idp_key_info_t info[MAX_LISTED];
    char kid[MAX_LISTED][64];
    size_t n;
} listing_t;

static hub_store_t *store;
static hub_config_t cfg;
static char *dir;             /* the test's data dir */
static idp_keyvault_t *vault; /* its private key files, as hubctl opens them */

static int list_cb(void *arg, const idp_key_info_t *info)
{
    listing_t *l = arg;
    if (l->n == MAX_LISTED)
        return 0;
    snprintf(l->kid[l->n], 64, "%s", info->kid);
    l->info[l->n] = *info;
    l->info[l->n].kid = l->kid[l->n];
    ++l->n;
    return 0;
}

/* The listing of kid (zeroed with state -1 when absent). */
static idp_key_info_t info_of(const char *kid)
{
    static listing_t l;
    idp_key_info_t none = {NULL, 0, (idp_key_state_t)-1};
    memset(&l, 0, sizeof(l));
    if (idp_keys_list(store, &cfg, list_cb, &l) != 0)
        return none;
    for (size_t i = 0; i != l.n; ++i)
        if (strcmp(l.kid[i], kid) == 0)
            return l.info[i];
    return none;
}

static int state_of(const char *kid)
{
    return (int)info_of(kid).state;
}

static int jwks_has(idp_keyring_t *kr, const char *kid, size_t *count)
{
    size_t len, i;
    const char *text = idp_keyring_jwks(kr, &len);
    json_t *doc = json_loadb(text, len, 0, NULL), *keys = json_object_get(doc, "keys"), *k;
    int found = 0;
    *count = json_array_size(keys);
    json_array_foreach(keys, i, k)
    {
        if (strcmp(json_string_value(json_object_get(k, "kid")) ?: "", kid) == 0) {
            found = 1;
            CHECK(strcmp(json_string_value(json_object_get(k, "use")) ?: "", "sig") == 0);
            CHECK(json_string_value(json_object_get(k, "kty")) != NULL && json_string_value(json_object_get(k, "alg")) != NULL);
            CHECK(json_object_get(k, "d") == NULL); /* never the private part */
        }
    }
    json_decref(doc);
    return found;
}

static const char *signer(idp_keyring_t *kr)
{
    return idp_keyring_signing_key(kr)->kid;
}

/* Waits up to 4 s for the keyring's background thread to satisfy cond. */
#define WAIT_FOR(cond)                                                                                                             \
    do {                                                                                                                           \
        for (int tries_ = 0; tries_ < 40 && !(cond); ++tries_)                                                                     \
            usleep(100000);                                                                                                        \
        CHECK(cond);                                                                                                               \
    } while (0)

/* A token signed by key with the given claims (JSON text). */
static char *sign(const hub_key_t *key, const char *claims_json)
{
    json_t *claims = json_loads(claims_json, 0, NULL);
    char *tok = NULL;
    CHECK(claims != NULL && hub_jws_sign(key, "at+jwt", claims, &tok) == 0);
    json_decref(claims);
    return tok;
}

static int verifies(idp_keyring_t *kr, const char *tok)
{
    hub_jws_t jws = {0};
    int ret = tok != NULL ? idp_keyring_verify(kr, tok, strlen(tok), &jws) : HUB_E_PARSE;
    if (ret == 0)
        hub_jws_dispose(&jws);
    return ret == 0;
}

static void test_first_key(idp_keyring_t *kr, char first[64])
{
    char path[512];
    struct stat st;
    size_t count;

    const hub_key_t *k = idp_keyring_signing_key(kr);
    CHECK(k != NULL && k->alg == HUB_ALG_ES256 && k->has_private);
    snprintf(first, 64, "%s", k->kid);
    snprintf(path, sizeof(path), "%s/keys/%s.pem", dir, first);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(jwks_has(kr, first, &count) && count == 1);
    /* the first key signs at once, before the JWKS served it */
    CHECK(state_of(first) == IDP_KEY_ACTIVE && info_of(first).first_served == 0 && info_of(first).activate_at != 0);
    CHECK(idp_keyring_find(kr, first) != NULL && idp_keyring_find(kr, "nope") == NULL);
    CHECK(idp_keys_init(store, vault, HUB_ALG_RS256) == HUB_E_EXISTS);
}

/* Verification pins the key and its algorithm, and wants what every token of ours carries: a jti, no nbf to come. */
static void test_verify_claims(idp_keyring_t *kr)
{
    const hub_key_t *k = idp_keyring_signing_key(kr);
    char good[256], later[256], past[256];
    uint64_t now = hub_now();

    snprintf(good, sizeof(good), "{\"sub\":\"x\",\"jti\":\"j-1\",\"exp\":%llu}", (unsigned long long)now + 60);
    snprintf(later, sizeof(later), "{\"sub\":\"x\",\"jti\":\"j-2\",\"nbf\":%llu}", (unsigned long long)now + 120);
    snprintf(past, sizeof(past), "{\"sub\":\"x\",\"jti\":\"j-3\",\"nbf\":%llu}", (unsigned long long)now - 5);
    const char *refused[] = {later,
                             "{\"sub\":\"x\"}",
                             "{\"sub\":\"x\",\"jti\":\"\"}",
                             "{\"sub\":\"x\",\"jti\":42}",
                             "{\"sub\":\"x\",\"jti\":null}",
                             "{\"sub\":\"x\",\"jti\":[\"a\"]}",
                             "{\"sub\":\"x\",\"jti\":\"j\",\"nbf\":\"0\"}",
                             "{\"sub\":\"x\",\"jti\":\"j\",\"nbf\":1.5}",
                             "{\"sub\":\"x\",\"jti\":\"j\",\"nbf\":null}",
                             "{\"sub\":\"x\",\"jti\":\"j\",\"nbf\":9223372036854775807}"};
    char *tok = sign(k, good);
    CHECK(verifies(kr, tok));
    if (tok != NULL) {
        tok[strlen(tok) - 3] ^= 1;
        CHECK(!verifies(kr, tok));
    }
    free(tok);
    CHECK(verifies(kr, tok = sign(k, past)));
    free(tok);
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        tok = sign(k, refused[i]);
        if (verifies(kr, tok)) {
            ++failures;
            fprintf(stderr, "keyring: a token with claims %s verified\n", refused[i]);
        }
        free(tok);
    }
}

/* A next key signs only publish_ahead after the JWKS first served it, however long ago it was written. */
static void test_served_activation(idp_keyring_t *kr, idp_keyring_t *kr2, const char *first, char second[64])
{
    char kid[64];
    size_t count, len;

    cfg.primary.key_publish_ahead = 2;
    CHECK(idp_keys_rotate(store, &cfg, vault, second) == 0);
    CHECK(strcmp(first, second) != 0);
    CHECK(state_of(second) == IDP_KEY_NEXT && state_of(first) == IDP_KEY_ACTIVE);
    CHECK(info_of(second).activate_at == 0 && info_of(second).first_served == 0); /* waits for the JWKS */
    WAIT_FOR(jwks_has(kr, second, &count) && count == 2);
    /* a second rotate leaves the scheduled next key alone */
    CHECK(idp_keys_rotate(store, &cfg, vault, kid) == HUB_E_EXISTS && strcmp(kid, second) == 0);
    /* written long enough ago, but never served: it does not sign (the old rule counted from the write) */
    sleep(3);
    CHECK(state_of(second) == IDP_KEY_NEXT && strcmp(signer(kr), first) == 0);
    CHECK(idp_keys_retire(store, &cfg, first) == HUB_E_BUSY);
    /* the other process reloads too; serving there counts: recorded once, rounded up, durably */
    WAIT_FOR(jwks_has(kr2, second, &count));
    uint64_t before = hub_now();
    CHECK(idp_keyring_jwks_serve(kr2, &len) != NULL && len != 0);
    WAIT_FOR(info_of(second).first_served != 0);
    uint64_t served = info_of(second).first_served;
    CHECK(served > before && served <= hub_now() + 1);
    CHECK(info_of(second).activate_at == served + 2);
    /* serving it again, here or there, keeps the earliest serving */
    sleep(1);
    CHECK(idp_keyring_jwks_serve(kr, &len) != NULL && idp_keyring_jwks_serve(kr2, &len) != NULL);
    sleep(1);
    CHECK(info_of(second).first_served == served);
    /* never signing before first_served + publish_ahead, then at once, in both processes */
    for (;;) {
        /* each answer was given at or before t: it must be the old key while t < served + publish_ahead */
        int old_signs = strcmp(signer(kr), first) == 0 && strcmp(signer(kr2), first) == 0 && state_of(second) == IDP_KEY_NEXT;
        if (hub_now() >= served + 2)
            break;
        CHECK(old_signs);
        usleep(50000);
    }
    WAIT_FOR(strcmp(signer(kr), second) == 0 && strcmp(signer(kr2), second) == 0);
    CHECK(state_of(second) == IDP_KEY_ACTIVE && state_of(first) == IDP_KEY_RETIRING);
    WAIT_FOR(jwks_has(kr, first, &count) && jwks_has(kr, second, &count) && count == 2);
    idp_key_info_t f = info_of(first);
    CHECK(f.publish_until == served + 2 + 120 + 60);
    /* retiring stays retiring until its last token expires */
    CHECK(idp_keys_retire(store, &cfg, first) == HUB_E_EXISTS && state_of(first) == IDP_KEY_RETIRING);
}

/* retire: a next key is withdrawn at once; the active key hands over only to a next key served for publish_ahead. */
static void test_retire(idp_keyring_t *kr, const char *active)
{
    char next[64];
    size_t count, len;

    cfg.primary.key_publish_ahead = 3600;
    CHECK(idp_keys_retire(store, &cfg, "unknown-kid") == HUB_E_NOTFOUND);
    CHECK(idp_keys_rotate(store, &cfg, vault, next) == 0);
    CHECK(idp_keys_retire(store, &cfg, active) == HUB_E_BUSY);
    CHECK(idp_keys_retire(store, &cfg, next) == 0);
    CHECK(state_of(next) == IDP_KEY_RETIRED);
    WAIT_FOR(!jwks_has(kr, next, &count));
    CHECK(strcmp(signer(kr), active) == 0);
    /* served but not for publish_ahead yet: still busy */
    cfg.primary.key_publish_ahead = 2;
    CHECK(idp_keys_rotate(store, &cfg, vault, next) == 0);
    WAIT_FOR(jwks_has(kr, next, &count));
    CHECK(idp_keyring_jwks_serve(kr, &len) != NULL);
    WAIT_FOR(info_of(next).first_served != 0);
    CHECK(idp_keys_retire(store, &cfg, active) == HUB_E_BUSY);
    /* the only active key, with no served next key, cannot go */
    WAIT_FOR(state_of(next) == IDP_KEY_ACTIVE);
    CHECK(idp_keys_retire(store, &cfg, next) == HUB_E_BUSY);
}

static int revoked_calls;
static void on_revoke(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/* revoke: out of the JWKS, nothing it signed verifies, a successor signs at once, the nodes are told once. */
static void test_revoke(idp_keyring_t *kr)
{
    idp_revoke_result_t res;
    char active[64], next[64], path[512];
    const char *old_active;
    size_t count;
    struct stat st;
    char claims[128];

    idp_keyring_on_revoke(kr, on_revoke, &revoked_calls);
    snprintf(active, sizeof(active), "%s", signer(kr));
    snprintf(claims, sizeof(claims), "{\"sub\":\"x\",\"jti\":\"j-r\",\"exp\":%llu}", (unsigned long long)hub_now() + 600);
    char *tok = sign(idp_keyring_signing_key(kr), claims);
    CHECK(verifies(kr, tok));
    CHECK(idp_keys_revoke(store, &cfg, vault, "no-such-kid", &res) == HUB_E_NOTFOUND);
    CHECK(idp_keys_revoke(store, &cfg, vault, "../keys/x", &res) == HUB_E_NOTFOUND);

    /* the active key with a next key (never served): the next key signs at once */
    cfg.primary.key_publish_ahead = 3600;
    CHECK(idp_keys_rotate(store, &cfg, vault, next) == 0);
    CHECK(idp_keys_revoke(store, &cfg, vault, active, &res) == 0);
    CHECK(strcmp(res.signer, next) == 0 && !res.already);
    CHECK(state_of(active) == IDP_KEY_REVOKED && info_of(active).revoked_at != 0 && state_of(next) == IDP_KEY_ACTIVE);
    snprintf(path, sizeof(path), "%s/keys/%s.pem", dir, active);
    CHECK(stat(path, &st) != 0); /* the compromised private key is gone */
    WAIT_FOR(!jwks_has(kr, active, &count) && strcmp(signer(kr), next) == 0);
    CHECK(idp_keyring_find(kr, active) == NULL && !verifies(kr, tok));
    WAIT_FOR(__atomic_load_n(&revoked_calls, __ATOMIC_SEQ_CST) == 1);
    free(tok);

    /* the active key alone: a fresh key signs at once */
    old_active = next;
    CHECK(idp_keys_revoke(store, &cfg, vault, old_active, &res) == 0);
    CHECK(res.signer[0] != '\0' && strcmp(res.signer, old_active) != 0 && state_of(res.signer) == IDP_KEY_ACTIVE);
    WAIT_FOR(strcmp(signer(kr), res.signer) == 0 && !jwks_has(kr, old_active, &count) && jwks_has(kr, res.signer, &count));
    WAIT_FOR(__atomic_load_n(&revoked_calls, __ATOMIC_SEQ_CST) == 2);

    /* a revoked key again: the nodes are told again, nothing else changes */
    snprintf(active, sizeof(active), "%s", res.signer);
    CHECK(idp_keys_revoke(store, &cfg, vault, old_active, &res) == 0 && res.already && res.signer[0] == '\0');
    CHECK(state_of(active) == IDP_KEY_ACTIVE && idp_keys_retire(store, &cfg, old_active) == HUB_E_DENIED);
    WAIT_FOR(__atomic_load_n(&revoked_calls, __ATOMIC_SEQ_CST) == 3);
    sleep(2);
    CHECK(__atomic_load_n(&revoked_calls, __ATOMIC_SEQ_CST) == 3); /* once per revocation */
}

/* A revocation made while no primary ran is reported when one starts. */
static void test_revoke_while_down(const char *kid)
{
    idp_keyring_t *kr = NULL;
    idp_revoke_result_t res;
    int calls = 0;

    CHECK(idp_keys_revoke(store, &cfg, vault, kid, &res) == 0);
    CHECK(idp_keyring_open(&kr, store, &cfg) == 0);
    if (kr == NULL)
        return;
    CHECK(idp_keyring_find(kr, kid) == NULL);
    idp_keyring_on_revoke(kr, on_revoke, &calls);
    WAIT_FOR(__atomic_load_n(&calls, __ATOMIC_SEQ_CST) == 1);
    idp_keyring_close(kr);
}

static int legacy_txn(hub_txn_t *txn, void *arg)
{
    /* a next key written before first_served existed: activated from its write, as promised then */
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b}", "kid", (const char *)arg, "alg", "ES256", "created_at", (json_int_t)1,
                          "activate_at", (json_int_t)hub_now() - 1, "retired", 0);
    int ret = hub_store_put_json(txn, HUB_T_KEYS, arg, o, 0, 0);
    json_decref(o);
    return ret != 0 ? ret : hub_store_bump(txn, "gen:keys", NULL);
}

static void test_legacy_record(void)
{
    char kid[64];
    hub_txn_t *txn;
    json_t *o = NULL;

    CHECK(idp_keys_rotate(store, &cfg, vault, kid) == 0);
    CHECK(hub_store_write(store, legacy_txn, kid) == 0);
    CHECK(state_of(kid) == IDP_KEY_ACTIVE);
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(hub_store_get_json(txn, HUB_T_KEYS, kid, &o) == 0 && json_object_get(o, "first_served") == NULL);
    hub_store_read_end(txn);
    json_decref(o);
}

int main(void)
{
    char first[64], second[64];
    hub_config_t cfg2;
    idp_keyring_t *kr = NULL, *kr2 = NULL;
    hub_txn_t *txn;

    hub_config_defaults(&cfg);
    hub_config_defaults(&cfg2);
    dir = test_tmpdir("idp-keyring");
    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    free(cfg.node.data_dir);
    cfg.node.data_dir = strdup(dir);
    cfg.primary.signing_alg = HUB_ALG_ES256;
    cfg.primary.access_token_ttl = 120;
    cfg.primary.id_token_ttl = 90;
    cfg.primary.key_publish_ahead = 3600;
    cfg.primary.key_rotation_every = 30 * 86400;
    CHECK(idp_keyvault_open(&vault, &cfg, dir, (char[128]){0}, 128) == 0 && !idp_keyvault_sealed(vault));

    /* a fresh data dir gets one active key, its PEM private to the owner */
    CHECK(idp_keyring_open(&kr, store, &cfg) == 0);
    if (kr == NULL)
        goto out;
    test_first_key(kr, first);
    test_verify_claims(kr);

    /* the running primary's policy reaches hubctl */
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(idp_keys_policy_load(txn, &cfg2) == 0);
    hub_store_read_end(txn);
    CHECK(cfg2.primary.signing_alg == HUB_ALG_ES256 && cfg2.primary.access_token_ttl == 120);
    CHECK(cfg2.primary.id_token_ttl == 90 && cfg2.primary.key_publish_ahead == 3600);
    CHECK(cfg2.primary.key_rotation_every == 30 * 86400);
    CHECK(strcmp(idp_key_state_name(IDP_KEY_RETIRING), "retiring") == 0);
    CHECK(strcmp(idp_key_state_name(IDP_KEY_REVOKED), "revoked") == 0);

    /* a second keyring on the same store stands for a second process (both rotate with the same policy) */
    cfg.primary.key_publish_ahead = 2;
    CHECK(idp_keyring_open(&kr2, store, &cfg) == 0);
    if (kr2 == NULL)
        goto out;
    test_served_activation(kr, kr2, first, second);
    idp_keyring_close(kr2);
    test_retire(kr, second);
    test_revoke(kr);
    idp_keyring_close(kr);
    kr = NULL;
    test_revoke_while_down(first);
    test_legacy_record();
out:
    idp_keyring_close(kr);
    idp_keyvault_close(vault);
    hub_store_close(store);
    hub_config_dispose(&cfg);
    hub_config_dispose(&cfg2);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/keyring");
}
