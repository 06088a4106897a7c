/* Tests idp/keyrec.c's private keys carried out and in (hubctl store export / import): a key's PEM read back and kept
 * again in another data dir signs the same (its public JWK equal), kept with mode 0600 and never twice; a PEM of another
 * algorithm or no PEM at all refused; a kid that is not a plain kid (a path, too long, empty) never reaches the file
 * system; a stored key record decoded, and one whose kid names a path refused. The rest of keyrec.c is tested with the
 * keyring (tests/idp/keyring.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/jws.h"
#include "idp/keyrec.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static char *src, *dst; /* two data dirs: the key's and the one it moves to */

/* The public JWK of the key kept for rec in dir, as text (malloc'ed), or NULL. */
static char *jwk_in(const char *dir, const idp_keyrec_t *rec)
{
    hub_key_t *key = NULL;
    json_t *jwk;
    char *text;

    if (idp_keyrec_load_key(dir, rec, &key) != 0)
        return NULL;
    jwk = hub_key_to_jwk(key);
    text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    hub_key_free(key);
    return text;
}

static void file_mode(const char *dir, const char *kid, mode_t *mode, int *exists)
{
    char path[4200];
    struct stat st;

    snprintf(path, sizeof(path), "%s/keys/%s.pem", dir, kid);
    *exists = stat(path, &st) == 0;
    *mode = *exists ? st.st_mode & 0777 : 0;
}

static void test_carry(hub_store_t *store, hub_alg_t alg)
{
    char kid[64], *pem = NULL, *a, *b;
    idp_keyrec_t rec;
    hub_txn_t *txn;
    size_t len;
    mode_t mode;
    int exists;

    CHECK(idp_keyrec_create(store, src, alg, 1000, 1, 0, kid) == 0);
    CHECK(hub_store_read_begin(store, &txn) == 0 && idp_keyrec_get(txn, kid, &rec) == 0);
    hub_store_read_end(txn);
    CHECK(idp_keyrec_private_pem(src, kid, &pem, &len) == 0 && pem != NULL && strlen(pem) == len);
    if (pem == NULL)
        return;
    CHECK(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK(idp_keyrec_put_private_pem(dst, &rec, pem, len) == 0);
    file_mode(dst, kid, &mode, &exists);
    CHECK(exists && mode == 0600);
    a = jwk_in(src, &rec);
    b = jwk_in(dst, &rec);
    CHECK(a != NULL && b != NULL && strcmp(a, b) == 0); /* the same key */
    free(a);
    free(b);
    /* never twice, and the first one stays */
    CHECK(idp_keyrec_put_private_pem(dst, &rec, pem, len) == HUB_E_EXISTS);
    OPENSSL_cleanse(pem, len);
    free(pem);
    CHECK(idp_keyrec_private_pem(dst, kid, &pem, &len) == 0);
    free(pem);
}

/* PEMs that are not a private key of the record's algorithm: refused, nothing written. */
static void test_wrong_pem(hub_store_t *store)
{
    static const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    char kid[64], *pem = NULL;
    idp_keyrec_t rec;
    hub_txn_t *txn;
    size_t len = 0;
    mode_t mode;
    int exists;

    CHECK(idp_keyrec_create(store, src, HUB_ALG_ES256, 1000, 1, 0, kid) == 0);
    CHECK(hub_store_read_begin(store, &txn) == 0 && idp_keyrec_get(txn, kid, &rec) == 0);
    hub_store_read_end(txn);
    CHECK(idp_keyrec_private_pem(src, kid, &pem, &len) == 0);
    rec.alg = HUB_ALG_RS256; /* an EC key under an RSA record */
    CHECK(idp_keyrec_put_private_pem(dst, &rec, pem, len) == HUB_E_PARSE);
    rec.alg = HUB_ALG_EDDSA;
    CHECK(idp_keyrec_put_private_pem(dst, &rec, pem, len) == HUB_E_PARSE);
    rec.alg = HUB_ALG_ES256;
    CHECK(idp_keyrec_put_private_pem(dst, &rec, junk, sizeof(junk) - 1) == HUB_E_PARSE);
    CHECK(idp_keyrec_put_private_pem(dst, &rec, "", 0) == HUB_E_PARSE);
    CHECK(idp_keyrec_put_private_pem(dst, &rec, pem, len / 2) == HUB_E_PARSE);
    file_mode(dst, kid, &mode, &exists);
    CHECK(!exists);
    OPENSSL_cleanse(pem, len);
    free(pem);
}

/* Kids that are no key's: refused before any path is made of them. */
static void test_kids(void)
{
    static const char *bad[] = {"",          "../x",        "..",
                                "a/b",       "a.b",         "x\n",
                                "k\xc3\xa9", "/etc/passwd", "0123456789012345678901234567890123456789012345678901234567890123"};
    char *pem = NULL, path[4200];
    idp_keyrec_t rec = {.alg = HUB_ALG_ES256};
    size_t len;
    hub_key_t *key;

    CHECK(hub_key_generate(&key, HUB_ALG_ES256) == 0);
    CHECK(hub_key_to_pem(key, &pem, &len) == 0);
    hub_key_free(key);
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        char *out = NULL;
        size_t n;
        snprintf(rec.kid, sizeof(rec.kid), "%s", bad[i]);
        if (strlen(bad[i]) < sizeof(rec.kid))
            CHECK(idp_keyrec_put_private_pem(dst, &rec, pem, len) == HUB_E_INVAL);
        CHECK(idp_keyrec_private_pem(dst, bad[i], &out, &n) == HUB_E_INVAL && out == NULL);
    }
    snprintf(path, sizeof(path), "%s/x.pem", dst);
    CHECK(access(path, F_OK) != 0); /* "../x" wrote nothing beside keys/ */
    CHECK(idp_keyrec_private_pem(dst, "NoSuchKid", &pem, &len) == HUB_E_NOTFOUND);
    OPENSSL_cleanse(pem, len);
    free(pem);
}

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
    hub_store_t *store = NULL;

    src = test_tmpdir("idp-keyrec-src");
    dst = test_tmpdir("idp-keyrec-dst");
    if (hub_store_open(&store, src) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", src);
        return 1;
    }
    test_carry(store, HUB_ALG_RS256);
    test_carry(store, HUB_ALG_ES256);
    test_carry(store, HUB_ALG_EDDSA);
    test_wrong_pem(store);
    test_kids();
    test_decode();
    hub_store_close(store);
    test_tmpdir_remove(src);
    test_tmpdir_remove(dst);
    return check_report("idp/keyrec");
}
