/* A node's own secrets: the key in its store, HMAC-SHA256 and AES-256-GCM boxes on OpenSSL EVP. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/seal.h"
#include "hub/util.h"

static EVP_CIPHER *gcm;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

/* Fetched once: an implicit fetch per call costs locks in OpenSSL 3. */
static void gcm_fetch(void)
{
    if ((gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL) {
        hub_fatal("no AES-256-GCM in OpenSSL (error %lu)", ERR_get_error());
    }
}

static EVP_CIPHER_CTX *gcm_ctx(void)
{
    EVP_CIPHER_CTX *ctx;
    pthread_once(&gcm_once, gcm_fetch);
    if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
        hub_oom();
    }
    return ctx;
}

void hub_hmac_sha256(uint8_t out[HUB_MAC_LEN], const void *key, size_t keylen, const void *data, size_t len)
{
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n) == NULL || n != HUB_MAC_LEN) {
        hub_fatal("HMAC-SHA256 failed (error %lu)", ERR_get_error());
    }
}

void hub_key_derive(uint8_t out[HUB_KEY_LEN], const uint8_t node_key[HUB_KEY_LEN], const char *label)
{
    hub_hmac_sha256(out, node_key, HUB_KEY_LEN, label, strlen(label));
}

void hub_seal(const uint8_t key[HUB_KEY_LEN], const void *ad, size_t adlen, const void *in, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = gcm_ctx();
    uint8_t *iv = out, *ct = out + HUB_SEAL_IV_LEN, *tag = out + HUB_SEAL_IV_LEN + len;
    int n = 0, fin = 0;

    hub_random_bytes(iv, HUB_SEAL_IV_LEN);
    if (EVP_EncryptInit_ex2(ctx, gcm, key, iv, NULL) != 1 ||
        (adlen != 0 && EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1) ||
        EVP_EncryptUpdate(ctx, ct, &n, in, (int)len) != 1 || EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
        (size_t)(n + fin) != len || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HUB_SEAL_TAG_LEN, tag) != 1) {
        hub_fatal("AES-256-GCM sealing failed (error %lu)", ERR_get_error());
    }
    EVP_CIPHER_CTX_free(ctx);
}

int hub_open(const uint8_t key[HUB_KEY_LEN], const void *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx;
    size_t ctlen;
    int n = 0, fin = 0, ret = HUB_E_CRYPTO;

    if (len < HUB_SEAL_OVERHEAD || len > (size_t)1 << 30)
        return HUB_E_CRYPTO;
    ctlen = len - HUB_SEAL_OVERHEAD;
    ctx = gcm_ctx();
    if (EVP_DecryptInit_ex2(ctx, gcm, key, in, NULL) != 1 ||
        (adlen != 0 && EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1) ||
        EVP_DecryptUpdate(ctx, out, &n, in + HUB_SEAL_IV_LEN, (int)ctlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HUB_SEAL_TAG_LEN, (void *)(in + HUB_SEAL_IV_LEN + ctlen)) != 1)
        goto out;
    if (EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) { /* the tag does not match: nothing of out may be used */
        OPENSSL_cleanse(out, ctlen);
        goto out;
    }
    ret = n + fin;
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return ret;
}

typedef struct st_key_args_t {
    const char *name;
    hub_table_t table;
    uint8_t *key;
} key_args_t;

static int read_key(hub_txn_t *txn, const key_args_t *a)
{
    hub_val_t v;
    int ret;
    if ((ret = hub_store_get(txn, a->table, a->name, strlen(a->name), &v)) != 0)
        return ret;
    if (v.len != HUB_KEY_LEN)
        return HUB_E_PARSE;
    memcpy(a->key, v.data, HUB_KEY_LEN);
    return 0;
}

static int create_key_txn(hub_txn_t *txn, void *arg)
{
    key_args_t *a = arg;
    int ret = read_key(txn, a); /* another process may have written it since the read */
    if (ret != HUB_E_NOTFOUND)
        return ret;
    hub_random_bytes(a->key, HUB_KEY_LEN);
    return hub_store_put(txn, a->table, a->name, strlen(a->name), a->key, HUB_KEY_LEN, 0, HUB_STORE_NOOVERWRITE);
}

int hub_store_secret_key(hub_store_t *store, hub_table_t t, const char *name, uint8_t key[HUB_KEY_LEN])
{
    key_args_t a = {name, t, key};
    hub_txn_t *txn;
    int ret;

    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ret = read_key(txn, &a);
    hub_store_read_end(txn);
    if (ret == HUB_E_NOTFOUND)
        ret = hub_store_write(store, create_key_txn, &a);
    if (ret != 0)
        OPENSSL_cleanse(key, HUB_KEY_LEN);
    return ret;
}
