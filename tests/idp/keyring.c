/* Tests idp/keyring.c: the first key, PEM file mode, rotation publishing a next key before it signs, retire rules, the
 * retiring state, JWKS contents and the saved rotation policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/jws.h"
#include "idp/keyring.h"
#include "tests/check.h"

#define MAX_LISTED 8

typedef struct {
    char kid[MAX_LISTED][64];
    idp_key_state_t state[MAX_LISTED];
    uint64_t publish_until[MAX_LISTED];
    size_t n;
} listing_t;

static int list_cb(void *arg, const idp_key_info_t *info)
{
    listing_t *l = arg;
    if (l->n == MAX_LISTED)
        return 0;
    snprintf(l->kid[l->n], 64, "%s", info->kid);
    l->state[l->n] = info->state;
    l->publish_until[l->n] = info->publish_until;
    ++l->n;
    return 0;
}

/* The state of kid in the listing, or -1. */
static int state_of(hub_store_t *store, const hub_config_t *cfg, const char *kid)
{
    listing_t l = {0};
    size_t i;
    if (idp_keys_list(store, cfg, list_cb, &l) != 0)
        return -1;
    for (i = 0; i != l.n; ++i)
        if (strcmp(l.kid[i], kid) == 0)
            return (int)l.state[i];
    return -1;
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

/* Waits up to 4 s for the keyring's background reload to satisfy cond. */
#define WAIT_FOR(cond)                                                                                                             \
    do {                                                                                                                           \
        for (int tries_ = 0; tries_ < 40 && !(cond); ++tries_)                                                                     \
            usleep(100000);                                                                                                        \
        CHECK(cond);                                                                                                               \
    } while (0)

int main(void)
{
    char dir[] = "/tmp/hub-test-keyring-XXXXXX", path[512], cmd[256], first[64], second[64], third[64], kid[64];
    hub_config_t cfg, cfg2;
    hub_store_t *store = NULL;
    idp_keyring_t *kr = NULL;
    hub_txn_t *txn;
    struct stat st;
    size_t count;

    hub_config_defaults(&cfg);
    hub_config_defaults(&cfg2);
    if (mkdtemp(dir) == NULL || hub_store_open(&store, dir) != 0) {
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

    /* a fresh data dir gets one active key, its PEM private to the owner */
    CHECK(idp_keyring_open(&kr, store, &cfg) == 0);
    if (kr == NULL)
        goto out;
    const hub_key_t *k = idp_keyring_signing_key(kr);
    CHECK(k != NULL && k->alg == HUB_ALG_ES256 && k->has_private);
    snprintf(first, sizeof(first), "%s", k->kid);
    snprintf(path, sizeof(path), "%s/keys/%s.pem", dir, first);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(jwks_has(kr, first, &count) && count == 1);
    CHECK(state_of(store, &cfg, first) == IDP_KEY_ACTIVE);
    CHECK(idp_keyring_find(kr, first) != NULL && idp_keyring_find(kr, "nope") == NULL);
    CHECK(idp_keys_init(store, dir, HUB_ALG_RS256) == HUB_E_EXISTS);

    /* verification pins the key and its algorithm */
    json_t *claims = json_pack("{s:s}", "sub", "x");
    char *tok = NULL;
    hub_jws_t jws = {0};
    CHECK(hub_jws_sign(k, "at+jwt", claims, &tok) == 0);
    CHECK(tok != NULL && idp_keyring_verify(kr, tok, strlen(tok), &jws) == 0);
    hub_jws_dispose(&jws);
    if (tok != NULL) {
        tok[strlen(tok) - 3] ^= 1;
        CHECK(idp_keyring_verify(kr, tok, strlen(tok), &jws) != 0);
    }
    free(tok);
    json_decref(claims);

    /* rotate: a next key is published before it signs */
    CHECK(idp_keys_rotate(store, &cfg, dir, second) == 0);
    CHECK(strcmp(first, second) != 0);
    CHECK(state_of(store, &cfg, second) == IDP_KEY_NEXT && state_of(store, &cfg, first) == IDP_KEY_ACTIVE);
    WAIT_FOR(jwks_has(kr, second, &count) && count == 2);
    CHECK(jwks_has(kr, first, &count));
    CHECK(strcmp(idp_keyring_signing_key(kr)->kid, first) == 0);
    CHECK(idp_keyring_find(kr, second) != NULL);
    /* a second rotate leaves the scheduled next key alone */
    CHECK(idp_keys_rotate(store, &cfg, dir, kid) == HUB_E_EXISTS);
    CHECK(strcmp(kid, second) == 0);

    /* the active key cannot retire before its successor has been published for publish_ahead */
    CHECK(idp_keys_retire(store, &cfg, "unknown-kid") == HUB_E_NOTFOUND);
    CHECK(idp_keys_retire(store, &cfg, first) == HUB_E_BUSY);
    CHECK(state_of(store, &cfg, first) == IDP_KEY_ACTIVE && state_of(store, &cfg, second) == IDP_KEY_NEXT);
    /* a next key never signed anything: withdrawn at once */
    CHECK(idp_keys_retire(store, &cfg, second) == 0);
    CHECK(state_of(store, &cfg, second) == IDP_KEY_RETIRED);
    WAIT_FOR(!jwks_has(kr, second, &count) && count == 1);
    CHECK(strcmp(idp_keyring_signing_key(kr)->kid, first) == 0);

    /* natural rotation: the old key stays published (retiring) while its tokens may live */
    cfg.primary.key_publish_ahead = 1;
    CHECK(idp_keys_rotate(store, &cfg, dir, third) == 0);
    sleep(2);
    CHECK(state_of(store, &cfg, third) == IDP_KEY_ACTIVE);
    CHECK(state_of(store, &cfg, first) == IDP_KEY_RETIRING);
    WAIT_FOR(strcmp(idp_keyring_signing_key(kr)->kid, third) == 0);
    WAIT_FOR(jwks_has(kr, first, &count) && jwks_has(kr, third, &count) && count == 2);
    listing_t l = {0};
    CHECK(idp_keys_list(store, &cfg, list_cb, &l) == 0);
    for (size_t i = 0; i != l.n; ++i)
        if (strcmp(l.kid[i], first) == 0)
            CHECK(l.publish_until[i] > hub_now() && l.publish_until[i] <= hub_now() + 120 + 60 + 2);
    /* retiring stays retiring until its last token expires */
    CHECK(idp_keys_retire(store, &cfg, first) == HUB_E_EXISTS);
    CHECK(state_of(store, &cfg, first) == IDP_KEY_RETIRING);
    /* the only active key, with no next key, cannot go */
    CHECK(idp_keys_retire(store, &cfg, third) == HUB_E_BUSY);

    /* the running primary's policy reaches hubctl */
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(idp_keys_policy_load(txn, &cfg2) == 0);
    hub_store_read_end(txn);
    CHECK(cfg2.primary.signing_alg == HUB_ALG_ES256 && cfg2.primary.access_token_ttl == 120);
    CHECK(cfg2.primary.id_token_ttl == 90 && cfg2.primary.key_publish_ahead == 3600);
    CHECK(cfg2.primary.key_rotation_every == 30 * 86400);
    CHECK(strcmp(idp_key_state_name(IDP_KEY_RETIRING), "retiring") == 0);
out:
    idp_keyring_close(kr);
    hub_store_close(store);
    hub_config_dispose(&cfg);
    hub_config_dispose(&cfg2);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("idp/keyring");
}
