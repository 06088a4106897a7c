/* Tests hub/seal.c: HMAC-SHA256 against RFC 4231, AES-256-GCM boxes (round trip, every byte
 * flipped, truncated, another key, other associated data, fresh IVs), the node key kept in
 * the store (created once, the same for every later reader, refused when malformed), HKDF-SHA256
 * against RFC 5869 and the cluster secret's file (the bytes it holds; hub/config's test has the refusals). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/seal.h"
#include "hub/store.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static void test_hmac(void)
{
    /* RFC 4231 test case 2 */
    static const uint8_t want[HUB_MAC_LEN] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                              0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                              0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    uint8_t mac[HUB_MAC_LEN], k1[HUB_KEY_LEN], k2[HUB_KEY_LEN], node[HUB_KEY_LEN] = {7};
    const char *data = "what do ya want for nothing?";

    hub_hmac_sha256(mac, "Jefe", 4, data, strlen(data));
    CHECK(memcmp(mac, want, sizeof(mac)) == 0);
    hub_key_derive(k1, node, "purpose one");
    hub_key_derive(k2, node, "purpose two");
    CHECK(memcmp(k1, k2, HUB_KEY_LEN) != 0);
    hub_key_derive(k2, node, "purpose one");
    CHECK(memcmp(k1, k2, HUB_KEY_LEN) == 0);
}

static void test_boxes(void)
{
    uint8_t key[HUB_KEY_LEN], other[HUB_KEY_LEN], box[64 + HUB_SEAL_OVERHEAD], box2[sizeof(box)], out[sizeof(box)];
    const char *msg = "a pending sign-in: nonce, verifier, next";
    size_t len = strlen(msg), blen = len + HUB_SEAL_OVERHEAD, i;

    memset(key, 0x11, sizeof(key));
    memset(other, 0x22, sizeof(other));
    hub_seal(key, "cookie-a", 8, msg, len, box);
    CHECK(hub_open(key, "cookie-a", 8, box, blen, out) == (int)len && memcmp(out, msg, len) == 0);
    CHECK(memmem(box, blen, "pending", 7) == NULL); /* the content is not readable */
    /* the same content sealed twice gives different boxes (a fresh IV each time) */
    hub_seal(key, "cookie-a", 8, msg, len, box2);
    CHECK(memcmp(box, box2, blen) != 0);
    /* any flipped bit anywhere (IV, ciphertext, tag) is refused */
    for (i = 0; i != blen; ++i) {
        memcpy(box2, box, blen);
        box2[i] ^= (uint8_t)(1u << (i % 8));
        CHECK(hub_open(key, "cookie-a", 8, box2, blen, out) == HUB_E_CRYPTO);
    }
    /* another key, other associated data, none, truncated, too short, a tag moved */
    CHECK(hub_open(other, "cookie-a", 8, box, blen, out) == HUB_E_CRYPTO);
    CHECK(hub_open(key, "cookie-b", 8, box, blen, out) == HUB_E_CRYPTO);
    CHECK(hub_open(key, NULL, 0, box, blen, out) == HUB_E_CRYPTO);
    CHECK(hub_open(key, "cookie-a", 8, box, blen - 1, out) == HUB_E_CRYPTO);
    CHECK(hub_open(key, "cookie-a", 8, box, HUB_SEAL_OVERHEAD - 1, out) == HUB_E_CRYPTO);
    CHECK(hub_open(key, "cookie-a", 8, box, 0, out) == HUB_E_CRYPTO);
    /* an empty message is a valid box too */
    hub_seal(key, NULL, 0, "", 0, box2);
    CHECK(hub_open(key, NULL, 0, box2, HUB_SEAL_OVERHEAD, out) == 0);
    CHECK(hub_open(key, "x", 1, box2, HUB_SEAL_OVERHEAD, out) == HUB_E_CRYPTO);
}

static int put_bad_key(hub_txn_t *txn, void *arg)
{
    return hub_store_put(txn, HUB_T_FED, "bad_key", 7, "short", 5, 0, 0);
}

static void test_store_key(void)
{
    char *dir = test_tmpdir("seal");
    hub_store_t *store = NULL, *again = NULL;
    uint8_t k1[HUB_KEY_LEN], k2[HUB_KEY_LEN], k3[HUB_KEY_LEN], zero[HUB_KEY_LEN] = {0};

    if (hub_store_open(&store, dir) != 0) {
        CHECK(!"a store in a temporary directory");
        test_tmpdir_remove(dir);
        return;
    }
    CHECK(hub_store_secret_key(store, HUB_T_FED, "node_key", k1) == 0);
    CHECK(memcmp(k1, zero, sizeof(zero)) != 0);
    CHECK(hub_store_secret_key(store, HUB_T_FED, "node_key", k2) == 0);
    CHECK(memcmp(k1, k2, HUB_KEY_LEN) == 0);
    CHECK(hub_store_secret_key(store, HUB_T_FED, "other_key", k3) == 0);
    CHECK(memcmp(k1, k3, HUB_KEY_LEN) != 0);
    /* a second opening of the same directory (another process, a restart) reads the same key */
    hub_store_close(store);
    CHECK(hub_store_open(&again, dir) == 0);
    CHECK(hub_store_secret_key(again, HUB_T_FED, "node_key", k2) == 0);
    CHECK(memcmp(k1, k2, HUB_KEY_LEN) == 0);
    /* a value that is not a key is an error, never used as one */
    CHECK(hub_store_write(again, put_bad_key, NULL) == 0);
    memset(k3, 0x5a, sizeof(k3));
    CHECK(hub_store_secret_key(again, HUB_T_FED, "bad_key", k3) == HUB_E_PARSE);
    CHECK(memcmp(k3, zero, sizeof(zero)) == 0);
    hub_store_close(again);
    CHECK(test_tmpdir_remove(dir) == 0);
}

static void test_hkdf(void)
{
    /* RFC 5869 A.3: IKM 22 x 0x0b, no salt, no info; the first 32 bytes of its OKM */
    static const uint8_t want[HUB_KEY_LEN] = {0x8d, 0xa4, 0xe7, 0x75, 0xa5, 0x63, 0xc1, 0x8f, 0x71, 0x5f, 0x80,
                                              0x2a, 0x06, 0x3c, 0x5a, 0x31, 0xb8, 0xa1, 0x1f, 0x5c, 0x5e, 0xe1,
                                              0x87, 0x9e, 0xc3, 0x45, 0x4e, 0x5f, 0x3c, 0x73, 0x8d, 0x2d};
    uint8_t ikm[22], out[HUB_KEY_LEN], other[HUB_KEY_LEN];

    memset(ikm, 0x0b, sizeof(ikm));
    hub_hkdf_sha256(out, ikm, sizeof(ikm), "");
    CHECK(memcmp(out, want, sizeof(want)) == 0);
    hub_hkdf_sha256(other, ikm, sizeof(ikm), "hub cluster: signing key seal v1");
    CHECK(memcmp(out, other, sizeof(out)) != 0); /* another purpose, another key */
}

/* The bytes a secret file holds, whatever base64 alphabet, padding and line breaks it was written with. */
static void test_cluster_secret_file(void)
{
    static const char *const texts[] = {
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "AAECAwQFBgcICQoLDA0O\r\nDxAREhMUFRYXGBkaGxwdHh8=\r\n", " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= "};
    char *dir = test_tmpdir("secret"), path[512], why[512];
    uint8_t secret[HUB_CLUSTER_SECRET_MAX], want[32];
    FILE *fp;

    for (size_t i = 0; i != sizeof(want); ++i)
        want[i] = (uint8_t)i;
    snprintf(path, sizeof(path), "%s/cluster.secret", dir);
    for (size_t i = 0; i != sizeof(texts) / sizeof(texts[0]); ++i) {
        CHECK((fp = fopen(path, "w")) != NULL && fputs(texts[i], fp) >= 0 && fclose(fp) == 0);
        CHECK(chmod(path, 0600) == 0);
        CHECK(hub_cluster_secret_read(path, secret, why, sizeof(why)) == 32 && memcmp(secret, want, 32) == 0);
    }
    /* "+" and "/" (standard) and "-" and "_" (URL) read alike */
    CHECK((fp = fopen(path, "w")) != NULL && fputs("+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/", fp) >= 0 && fclose(fp) == 0);
    CHECK(hub_cluster_secret_read(path, secret, why, sizeof(why)) == 33 && secret[0] == 0xfb && secret[1] == 0xff);
    CHECK(chmod(path, 0644) == 0);
    CHECK(hub_cluster_secret_read(path, secret, why, sizeof(why)) == HUB_E_DENIED && strstr(why, "chmod 600") != NULL);
    CHECK(strstr(why, "+/+/") == NULL); /* the reason never quotes the secret */
    unlink(path);
    CHECK(hub_cluster_secret_read(path, secret, why, sizeof(why)) == HUB_E_IO && strstr(why, "cannot read") != NULL);
    CHECK(test_tmpdir_remove(dir) == 0);
}

int main(void)
{
    test_hmac();
    test_boxes();
    test_store_key();
    test_hkdf();
    test_cluster_secret_file();
    return check_report("hub/seal");
}
