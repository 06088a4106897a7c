/* Tests idp/keyrec.c's private keys: the pair idp_keyrec_private_load/_store on a vault of files and on a sealed one
 * (nothing readable at rest, no file), every way a sealed record can be wrong (another cluster secret, a box moved to
 * another kid, a flipped byte anywhere, a truncated box, an unknown version, a damaged record, a sealed key read without
 * a secret or a file key added to a sealed store), the keyring refusing to start on such a key without making one of its
 * own, key files sealed into the store when a primary joins a cluster, and the claim: of keyrings and operators deciding
 * at once, exactly one adds the successor. For hubctl store export / import: a key's PEM carried from files into
 * another store's sealed vault and on into a third one's files, byte for byte, signing the same in each (three
 * algorithms); kids that name paths never reach the file system; a dump's key record decoded, and bad ones refused. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "idp/keyring.h"
#include "idp/keyrec.h"
#include "idp/keys.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

#define SECRET_A "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=\n"
#define SECRET_B "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

typedef struct {
    char *dir; /* the data dir of the store */
    hub_store_t *store;
    hub_config_t files;    /* a primary without a cluster secret */
    hub_config_t sealed_a; /* a primary of cluster A */
    hub_config_t sealed_b; /* a primary of another cluster */
} fixture_t;

static void write_secret(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL && fputs(text, fp) >= 0 && fclose(fp) == 0);
    CHECK(chmod(path, 0600) == 0);
}

static void config_for(fixture_t *f, hub_config_t *cfg, const char *secret_name, const char *secret)
{
    char path[512];
    hub_config_defaults(cfg);
    free(cfg->node.data_dir);
    cfg->node.data_dir = strdup(f->dir);
    cfg->primary.signing_alg = HUB_ALG_ES256;
    if (secret_name != NULL) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, secret_name);
        write_secret(path, secret);
        cfg->primary.cluster_secret_file = strdup(path);
    }
}

static idp_keyvault_t *vault_of(const hub_config_t *cfg)
{
    idp_keyvault_t *v = NULL;
    char why[512];
    CHECK(idp_keyvault_open(&v, cfg, cfg->node.data_dir, why, sizeof(why)) == 0);
    return v;
}

typedef struct {
    const idp_keyvault_t *v;
    const char *kid, *pem;
    int ret;
} put_arg_t;

static int put_txn(hub_txn_t *txn, void *arg)
{
    put_arg_t *a = arg;
    return a->ret = idp_keyrec_private_store(a->v, txn, a->kid, a->pem, strlen(a->pem));
}

static int store_pem(fixture_t *f, const idp_keyvault_t *v, const char *kid, const char *pem)
{
    put_arg_t a = {v, kid, pem, 0};
    int ret = hub_store_write(f->store, put_txn, &a);
    return ret != 0 ? ret : a.ret;
}

/* Loads kid through v: the error, or 0 with *out (freed by the caller) when out is not NULL. */
static int load_pem(fixture_t *f, const idp_keyvault_t *v, const char *kid, char **out)
{
    hub_txn_t *txn;
    char *pem = NULL;
    size_t len = 0;
    int ret;

    CHECK(hub_store_read_begin(f->store, &txn) == 0);
    ret = idp_keyrec_private_load(v, txn, kid, &pem, &len);
    hub_store_read_end(txn);
    CHECK(ret != 0 || (pem != NULL && strlen(pem) == len));
    if (out != NULL)
        *out = pem;
    else
        free(pem);
    return ret;
}

static int file_exists(fixture_t *f, const char *kid, mode_t *mode)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/keys/%s.pem", f->dir, kid);
    if (stat(path, &st) != 0)
        return 0;
    if (mode != NULL)
        *mode = st.st_mode & 0777;
    return 1;
}

/* Files: the pair writes and reads data_dir/keys/KID.pem, private to the owner; bad kids name nothing. */
static void test_files(fixture_t *f)
{
    static const char *const bad[] = {
        "",    "../x",  "..",        "a/b",         "a.b",
        "a b", "kid\n", "k\xc3\xa9", "/etc/passwd", "0123456789012345678901234567890123456789012345678901234567890123"};
    idp_keyvault_t *v = vault_of(&f->files);
    char *pem = NULL, path[512];
    mode_t mode = 0;

    CHECK(!idp_keyvault_sealed(v));
    CHECK(store_pem(f, v, "file-kid", "-----PEM one-----\n") == 0);
    CHECK(file_exists(f, "file-kid", &mode) && mode == 0600);
    CHECK(store_pem(f, v, "file-kid", "-----PEM two-----\n") == 0); /* written again whole: a rerun transaction */
    CHECK(load_pem(f, v, "file-kid", &pem) == 0 && strcmp(pem, "-----PEM two-----\n") == 0);
    free(pem);
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        CHECK(store_pem(f, v, bad[i], "x") == HUB_E_INVAL);
        CHECK(load_pem(f, v, bad[i], NULL) == HUB_E_INVAL);
    }
    snprintf(path, sizeof(path), "%s/x.pem", f->dir);
    CHECK(access(path, F_OK) != 0); /* "../x" wrote nothing beside keys/ */
    CHECK(load_pem(f, v, "NoSuchKid", NULL) == HUB_E_NOTFOUND);
    idp_keyrec_private_remove(v, f->store, "file-kid");
    CHECK(!file_exists(f, "file-kid", NULL) && load_pem(f, v, "file-kid", NULL) == HUB_E_NOTFOUND);
    idp_keyrec_private_remove(v, f->store, "file-kid"); /* a missing one is fine */
    idp_keyvault_close(v);
}

static int get_box(fixture_t *f, const char *kid, char *text, size_t size)
{
    hub_txn_t *txn;
    json_t *obj = NULL;
    int ret;
    CHECK(hub_store_read_begin(f->store, &txn) == 0);
    if ((ret = hub_store_get_json(txn, HUB_T_KEY_SECRETS, kid, &obj)) == 0)
        snprintf(text, size, "%s", json_string_value(json_object_get(obj, "box")) ?: "");
    hub_store_read_end(txn);
    json_decref(obj);
    return ret;
}

typedef struct {
    const char *kid, *value;
} raw_arg_t;

static int put_raw_txn(hub_txn_t *txn, void *arg)
{
    raw_arg_t *a = arg;
    return hub_store_put(txn, HUB_T_KEY_SECRETS, a->kid, strlen(a->kid), a->value, strlen(a->value), 0, 0);
}

/* Writes kid's record as {"box": box}, or as the raw value when box is not JSON-worthy (raw set). */
static void put_box(fixture_t *f, const char *kid, const char *box, int raw)
{
    char value[8192];
    raw_arg_t a = {kid, value};
    if (raw)
        snprintf(value, sizeof(value), "%s", box);
    else
        snprintf(value, sizeof(value), "{\"box\":\"%s\"}", box);
    CHECK(hub_store_write(f->store, put_raw_txn, &a) == 0);
}

/* The box of text with byte i of its decoded form xor-ed with x, re-encoded into out. */
static void flip_box(const char *text, size_t i, uint8_t x, char *out)
{
    uint8_t raw[4096];
    int n = hub_b64url_decode(raw, text, strlen(text));
    CHECK(n > 0 && (size_t)n > i);
    raw[i] ^= x;
    hub_b64url_encode(out, raw, (size_t)n);
}

/* Truncates the decoded box of text to n bytes into out. */
static void cut_box(const char *text, size_t n, char *out)
{
    uint8_t raw[4096];
    CHECK(hub_b64url_decode(raw, text, strlen(text)) >= (int)n);
    hub_b64url_encode(out, raw, n);
}

/* Sealed: nothing in a file, nothing readable in the store, and only this cluster's secret opens it, for this kid. */
static void test_sealed(fixture_t *f)
{
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\nTHE-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n";
    idp_keyvault_t *a = vault_of(&f->sealed_a), *b = vault_of(&f->sealed_b), *files = vault_of(&f->files);
    char box[4096], bad[4096], *out = NULL;

    CHECK(idp_keyvault_sealed(a) && idp_keyvault_sealed(b));
    CHECK(store_pem(f, a, "sealed-kid", pem) == 0);
    CHECK(!file_exists(f, "sealed-kid", NULL));
    CHECK(get_box(f, "sealed-kid", box, sizeof(box)) == 0 && strstr(box, "THE-SECRET") == NULL);
    CHECK(load_pem(f, a, "sealed-kid", &out) == 0 && out != NULL && strcmp(out, pem) == 0);
    free(out);
    /* another cluster's secret does not open it; a node without one is told it is sealed, and adds no file key */
    CHECK(load_pem(f, b, "sealed-kid", NULL) == HUB_E_CRYPTO);
    CHECK(load_pem(f, files, "sealed-kid", NULL) == HUB_E_DENIED);
    CHECK(store_pem(f, files, "plain-kid", pem) == HUB_E_DENIED && !file_exists(f, "plain-kid", NULL));
    /* a box moved to another kid does not open (the kid is associated data) */
    put_box(f, "moved-kid", box, 0);
    CHECK(load_pem(f, a, "moved-kid", NULL) == HUB_E_CRYPTO);
    /* a flipped bit in the version byte, the IV, the ciphertext or the tag */
    size_t n = strlen(box) * 3 / 4;
    size_t at[] = {1, 5, 12, 13, 20, n / 2, n - 17, n - 1};
    for (size_t i = 0; i != sizeof(at) / sizeof(at[0]); ++i) {
        flip_box(box, at[i], 0x01, bad);
        put_box(f, "moved-kid", bad, 0);
        CHECK(load_pem(f, a, "moved-kid", NULL) == HUB_E_CRYPTO);
    }
    put_box(f, "sealed-kid", bad, 0); /* the kid's own record altered */
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_CRYPTO);
    flip_box(box, 0, 0x03, bad); /* version 2 */
    put_box(f, "sealed-kid", bad, 0);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_VERSION);
    cut_box(box, 20, bad);
    put_box(f, "sealed-kid", bad, 0);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_CRYPTO);
    cut_box(box, 1, bad); /* the version byte alone */
    put_box(f, "sealed-kid", bad, 0);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_CRYPTO);
    put_box(f, "sealed-kid", "", 0);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_PARSE);
    put_box(f, "sealed-kid", "not*base64", 0);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_PARSE);
    put_box(f, "sealed-kid", "{\"box\":42}", 1);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_PARSE);
    put_box(f, "sealed-kid", "\x01\x02 not json", 1);
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_PARSE);
    /* stored again: it opens again; removed: gone */
    CHECK(store_pem(f, a, "sealed-kid", pem) == 0 && load_pem(f, a, "sealed-kid", NULL) == 0);
    idp_keyrec_private_remove(a, f->store, "sealed-kid");
    idp_keyrec_private_remove(a, f->store, "moved-kid");
    CHECK(load_pem(f, a, "sealed-kid", NULL) == HUB_E_NOTFOUND && load_pem(f, a, "moved-kid", NULL) == HUB_E_NOTFOUND);
    idp_keyvault_close(a);
    idp_keyvault_close(b);
    idp_keyvault_close(files);
}

static void open_store(fixture_t *f, const char *tag)
{
    f->dir = test_tmpdir(tag);
    CHECK(hub_store_open(&f->store, f->dir) == 0);
    config_for(f, &f->files, NULL, NULL);
    config_for(f, &f->sealed_a, "a.secret", SECRET_A);
    config_for(f, &f->sealed_b, "b.secret", SECRET_B);
}

static void close_store(fixture_t *f)
{
    hub_store_close(f->store);
    hub_config_dispose(&f->files);
    hub_config_dispose(&f->sealed_a);
    hub_config_dispose(&f->sealed_b);
    CHECK(test_tmpdir_remove(f->dir) == 0);
}

/* The JWK of the key signing in kr (new reference). */
static json_t *signer_jwk(idp_keyring_t *kr)
{
    return hub_key_to_jwk(idp_keyring_signing_key(kr));
}

/* A primary joining a cluster seals the key files it finds (hubctl -d DIR init made them) and signs with the same key. */
static void test_seal_files(fixture_t *f, char kid[64])
{
    idp_keyvault_t *files = vault_of(&f->files);
    idp_keyring_t *kr = NULL;
    json_t *before = NULL, *after = NULL;

    CHECK(idp_keys_init(f->store, files, HUB_ALG_ES256) == 0);
    CHECK(idp_keyring_open(&kr, f->store, &f->files) == 0);
    if (kr == NULL)
        return;
    snprintf(kid, 64, "%s", idp_keyring_signing_key(kr)->kid);
    before = signer_jwk(kr);
    idp_keyring_close(kr);
    CHECK(file_exists(f, kid, NULL));

    CHECK(idp_keyring_open(&kr, f->store, &f->sealed_a) == 0);
    if (kr != NULL) {
        after = signer_jwk(kr);
        CHECK(strcmp(idp_keyring_signing_key(kr)->kid, kid) == 0 && json_equal(before, after));
        idp_keyring_close(kr);
    }
    CHECK(!file_exists(f, kid, NULL) && idp_keyrec_count(f->store) == 1);
    /* the file vault now finds the key sealed: it refuses to start rather than make a key of its own */
    CHECK(load_pem(f, files, kid, NULL) == HUB_E_DENIED);
    kr = NULL;
    CHECK(idp_keyring_open(&kr, f->store, &f->files) == HUB_E_DENIED && kr == NULL);
    CHECK(idp_keyrec_count(f->store) == 1);
    json_decref(before);
    json_decref(after);
    idp_keyvault_close(files);
}

/* Another cluster's secret, or an altered record: a clear error at start, and nothing created. */
static void test_wrong_secret(fixture_t *f, const char *kid)
{
    idp_keyring_t *kr = NULL;
    char box[4096], bad[4096];

    CHECK(idp_keyring_open(&kr, f->store, &f->sealed_b) == HUB_E_CRYPTO && kr == NULL);
    CHECK(idp_keyrec_count(f->store) == 1);
    /* the refused primary left the secret hubctl seals with as it was: the one whose keyring opened */
    hub_config_t saved;
    hub_txn_t *txn;
    hub_config_defaults(&saved);
    CHECK(hub_store_read_begin(f->store, &txn) == 0);
    CHECK(idp_keys_policy_load(txn, &saved) == 0);
    hub_store_read_end(txn);
    char *want = realpath(f->sealed_a.primary.cluster_secret_file, NULL);
    CHECK(saved.primary.cluster_secret_file != NULL && want != NULL && strcmp(saved.primary.cluster_secret_file, want) == 0);
    free(want);
    hub_config_dispose(&saved);
    CHECK(get_box(f, kid, box, sizeof(box)) == 0);
    flip_box(box, strlen(box) * 3 / 8, 0x80, bad);
    put_box(f, kid, bad, 0);
    CHECK(idp_keyring_open(&kr, f->store, &f->sealed_a) == HUB_E_CRYPTO && kr == NULL);
    CHECK(idp_keyrec_count(f->store) == 1);
    put_box(f, kid, box, 0); /* put back: it opens again */
    CHECK(idp_keyring_open(&kr, f->store, &f->sealed_a) == 0 && kr != NULL);
    idp_keyring_close(kr);
    /* an unreadable cluster secret stops the start too */
    chmod(f->sealed_a.primary.cluster_secret_file, 0644);
    kr = NULL;
    CHECK(idp_keyring_open(&kr, f->store, &f->sealed_a) == HUB_E_DENIED && kr == NULL);
    chmod(f->sealed_a.primary.cluster_secret_file, 0600);
}

typedef struct {
    hub_store_t *store;
    const hub_config_t *cfg;
    const idp_keyvault_t *vault;
    pthread_barrier_t *start;
    int ret;
    char kid[64];
} racer_t;

static void *rotate_racer(void *arg)
{
    racer_t *r = arg;
    pthread_barrier_wait(r->start);
    r->ret = idp_keys_rotate(r->store, r->cfg, r->vault, r->kid);
    return NULL;
}

/* Operators (or consoles) on several primaries rotating at once: one next key, the others told it exists. */
static void test_rotate_race(fixture_t *f)
{
    enum { N = 6 };
    idp_keyvault_t *v = vault_of(&f->sealed_a);
    racer_t r[N];
    pthread_t t[N];
    pthread_barrier_t start;
    size_t before = idp_keyrec_count(f->store), made = 0;

    f->sealed_a.primary.key_publish_ahead = 3600;
    pthread_barrier_init(&start, NULL, N);
    for (size_t i = 0; i != N; ++i) {
        r[i] = (racer_t){f->store, &f->sealed_a, v, &start, -1, ""};
        CHECK(pthread_create(&t[i], NULL, rotate_racer, &r[i]) == 0);
    }
    for (size_t i = 0; i != N; ++i)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i != N; ++i) {
        CHECK(r[i].ret == 0 || r[i].ret == HUB_E_EXISTS);
        made += r[i].ret == 0;
        CHECK(strcmp(r[i].kid, r[0].kid) == 0); /* every one names the same next key */
    }
    CHECK(made == 1 && idp_keyrec_count(f->store) == before + 1);
    pthread_barrier_destroy(&start);
    idp_keyvault_close(v);
}

/* How many keys are next now, and the creation times of every key (sorted by the list: activation). */
static size_t count_next(hub_store_t *store, const hub_config_t *cfg)
{
    idp_keyrec_list_t *list = idp_keyrec_read(store);
    uint64_t until, now = hub_now();
    size_t n = 0;
    for (size_t i = 0; list != NULL && i != list->n; ++i)
        n += idp_keyrec_state(list, i, now, idp_keyrec_token_life(cfg), &until) == IDP_KEY_NEXT;
    free(list);
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Two primaries rotating on a short period on one store (their JWKS served all along): never two next keys, and the keys
 * made after the first are each a rotation's one successor, seconds apart, not twins of one second. */
static void test_auto_rotation(fixture_t *f)
{
    idp_keyring_t *kr1 = NULL, *kr2 = NULL;
    idp_keyrec_list_t *list;
    uint64_t created[64], end;
    size_t len, most = 0, n = 0;

    f->sealed_a.primary.key_rotation_every = 3;
    f->sealed_a.primary.key_publish_ahead = 1;
    f->sealed_a.primary.access_token_ttl = f->sealed_a.primary.id_token_ttl = 1;
    CHECK(idp_keyring_open(&kr1, f->store, &f->sealed_a) == 0 && idp_keyring_open(&kr2, f->store, &f->sealed_a) == 0);
    if (kr1 == NULL || kr2 == NULL)
        goto out;
    for (end = hub_now() + 9; hub_now() < end;) {
        CHECK(idp_keyring_jwks_serve(kr1, &len) != NULL && idp_keyring_jwks_serve(kr2, &len) != NULL);
        size_t next = count_next(f->store, &f->sealed_a);
        most = next > most ? next : most;
        usleep(50000);
    }
    CHECK(most == 1);
    if ((list = idp_keyrec_read(f->store)) != NULL) {
        for (size_t i = 0; i != list->n && n != 64; ++i)
            if (list->recs[i].revoked_at == 0 && !list->recs[i].immediate)
                created[n++] = list->recs[i].created_at;
        free(list);
    }
    qsort(created, n, sizeof(created[0]), cmp_u64);
    CHECK(n >= 2); /* rotations happened */
    for (size_t i = 1; i < n; ++i)
        CHECK(created[i] >= created[i - 1] + 2); /* one successor per rotation */
out:
    idp_keyring_close(kr1);
    idp_keyring_close(kr2);
}

/* The public JWK of rec's key as f's vault v keeps it (text, freed by the caller), or NULL. */
static char *jwk_in(fixture_t *f, const idp_keyvault_t *v, const idp_keyrec_t *rec)
{
    hub_key_t *key = NULL;
    hub_txn_t *txn;
    json_t *jwk;
    char *text;
    int ret;

    CHECK(hub_store_read_begin(f->store, &txn) == 0);
    ret = idp_keyrec_load_key(v, txn, rec, &key);
    hub_store_read_end(txn);
    if (ret != 0)
        return NULL;
    jwk = hub_key_to_jwk(key);
    text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    hub_key_free(key);
    return text;
}

/* hubctl store export / import's path: a key made in src's files, its PEM read back and kept in dst's sealed vault
 * (no file), read back there and kept in far's files (mode 0600): the same bytes and the same key all along; under a
 * record of another algorithm it does not load. */
static void test_carry(fixture_t *src, fixture_t *dst, fixture_t *far, hub_alg_t alg)
{
    idp_keyvault_t *from = vault_of(&src->files), *sealed = vault_of(&dst->sealed_a), *files = vault_of(&far->files);
    char kid[64] = "", *pem = NULL, *again = NULL, *a, *b, *c;
    idp_keyrec_t rec;
    hub_key_t *key = NULL;
    hub_txn_t *txn;
    mode_t mode = 0;

    CHECK(idp_keyrec_create(src->store, from, alg, 1000, 1, 0, NULL, NULL, kid) == 0);
    CHECK(hub_store_read_begin(src->store, &txn) == 0 && idp_keyrec_get(txn, kid, &rec) == 0);
    hub_store_read_end(txn);
    CHECK(load_pem(src, from, kid, &pem) == 0 && pem != NULL);
    if (pem == NULL)
        goto out;
    CHECK(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK(store_pem(dst, sealed, kid, pem) == 0 && !file_exists(dst, kid, NULL));
    CHECK(load_pem(dst, sealed, kid, &again) == 0 && again != NULL && strcmp(again, pem) == 0);
    CHECK(store_pem(far, files, kid, again != NULL ? again : "") == 0);
    CHECK(file_exists(far, kid, &mode) && mode == 0600);
    a = jwk_in(src, from, &rec);
    b = jwk_in(dst, sealed, &rec);
    c = jwk_in(far, files, &rec);
    CHECK(a != NULL && b != NULL && c != NULL && strcmp(a, b) == 0 && strcmp(a, c) == 0); /* the same key */
    free(a);
    free(b);
    free(c);
    rec.alg = alg == HUB_ALG_ES256 ? HUB_ALG_RS256 : HUB_ALG_ES256; /* another algorithm's record */
    CHECK(hub_store_read_begin(far->store, &txn) == 0);
    CHECK(idp_keyrec_load_key(files, txn, &rec, &key) != 0 && key == NULL);
    hub_store_read_end(txn);
out:
    if (pem != NULL)
        OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    free(again);
    idp_keyvault_close(from);
    idp_keyvault_close(sealed);
    idp_keyvault_close(files);
}

/* A dump's key record: decoded whole; not JSON, not a record, a duplicate name or a kid the vault refuses: HUB_E_PARSE. */
static void test_decode(void)
{
    static const char good[] = "{\"kid\":\"Ab-_9\",\"alg\":\"EdDSA\",\"created_at\":5,\"activate_at\":6,\"first_served\":7,"
                               "\"publish_ahead\":8,\"immediate\":false,\"retired\":true,\"revoked_at\":0,\"notify\":false}";
    static const char *bad[] = {"",
                                "[]",
                                "{}",
                                "{\"kid\":\"a\"}",
                                "{\"kid\":\"a\",\"alg\":\"HS256\"}",
                                "{\"kid\":\"../a\",\"alg\":\"ES256\"}",
                                "{\"kid\":\"a b\",\"alg\":\"ES256\"}",
                                "{\"kid\":\"\",\"alg\":\"ES256\"}",
                                "{\"kid\":\"a\",\"kid\":\"b\",\"alg\":\"ES256\"}",
                                "{\"kid\":"};
    idp_keyrec_t rec;

    CHECK(idp_keyrec_decode(good, sizeof(good) - 1, &rec) == 0);
    CHECK(strcmp(rec.kid, "Ab-_9") == 0 && rec.alg == HUB_ALG_EDDSA && rec.created_at == 5 && rec.activate_at == 6);
    CHECK(rec.first_served == 7 && rec.publish_ahead == 8 && !rec.immediate && rec.retired && rec.revoked_at == 0);
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        CHECK(idp_keyrec_decode(bad[i], strlen(bad[i]), &rec) == HUB_E_PARSE);
}

int main(void)
{
    fixture_t f = {0}, g = {0}, h = {0};
    char kid[64] = "";

    open_store(&f, "idp-keyrec");
    test_files(&f);
    test_sealed(&f);
    close_store(&f);

    open_store(&f, "idp-keyrec-ring");
    test_seal_files(&f, kid);
    test_wrong_secret(&f, kid);
    test_rotate_race(&f);
    close_store(&f);

    open_store(&f, "idp-keyrec-auto");
    test_auto_rotation(&f);
    close_store(&f);

    open_store(&f, "idp-keyrec-src");
    open_store(&g, "idp-keyrec-sealed");
    open_store(&h, "idp-keyrec-files");
    test_carry(&f, &g, &h, HUB_ALG_RS256);
    test_carry(&f, &g, &h, HUB_ALG_ES256);
    test_carry(&f, &g, &h, HUB_ALG_EDDSA);
    close_store(&f);
    close_store(&g);
    close_store(&h);
    test_decode();
    return check_report("idp/keyrec");
}
