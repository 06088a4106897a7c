/* A node's own secrets: the key in its store, HMAC-SHA256 and AES-256-GCM boxes on OpenSSL EVP, the cluster secret's
 * file and HKDF-SHA256. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
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

/* ---- the cluster secret ---- */

/* Reads at most HUB_CLUSTER_SECRET_FILE_MAX bytes of the regular file at path that only its owner may read into buf
 * (NUL-terminated); *len receives their number. */
static int read_secret_file(const char *path, char *buf, size_t *len, char *why, size_t whysize)
{
    struct stat st;
    ssize_t n;
    int fd, ret = HUB_E_IO;

    *len = 0;
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) == -1) {
        snprintf(why, whysize, "cannot read %s: %s", path, strerror(errno));
        return HUB_E_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whysize, "%s is not a regular file", path);
    } else if ((st.st_mode & 077) != 0) {
        snprintf(why, whysize, "%s may be read by its group or others (mode %04o): chmod 600 %s", path,
                 (unsigned)(st.st_mode & 07777), path);
        ret = HUB_E_DENIED;
    } else if ((n = read(fd, buf, HUB_CLUSTER_SECRET_FILE_MAX + 1)) < 0) {
        snprintf(why, whysize, "cannot read %s: %s", path, strerror(errno));
    } else if (n > HUB_CLUSTER_SECRET_FILE_MAX) {
        snprintf(why, whysize, "%s is longer than %d bytes", path, HUB_CLUSTER_SECRET_FILE_MAX);
        ret = HUB_E_TOOBIG;
    } else {
        buf[n] = '\0';
        *len = (size_t)n;
        ret = 0;
    }
    close(fd);
    return ret;
}

/* Rewrites text[0..len) in place as unpadded base64url: white space dropped, '+' and '/' mapped, '=' only at the end.
 * Returns the new length, or -1 when the text is no base64. */
static ssize_t to_b64url(char *text, size_t len)
{
    size_t o = 0, pad = 0;

    for (size_t i = 0; i != len; ++i) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            ++pad;
            continue;
        }
        if (pad != 0)
            return -1; /* text after the padding */
        text[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return pad > 2 ? -1 : (ssize_t)o;
}

int hub_cluster_secret_read(const char *path, uint8_t out[HUB_CLUSTER_SECRET_MAX], char *why, size_t whysize)
{
    char text[HUB_CLUSTER_SECRET_FILE_MAX + 1];
    uint8_t raw[HUB_CLUSTER_SECRET_FILE_MAX];
    size_t len;
    ssize_t b64;
    int n, ret;

    if ((ret = read_secret_file(path, text, &len, why, whysize)) != 0)
        goto out;
    ret = HUB_E_PARSE;
    if ((b64 = to_b64url(text, len)) < 0 || (n = hub_b64url_decode(raw, text, (size_t)b64)) < 0) {
        snprintf(why, whysize, "%s does not hold base64 text (make one with: openssl rand -base64 32 > %s)", path, path);
        goto out;
    }
    if (n < HUB_CLUSTER_SECRET_MIN || n > HUB_CLUSTER_SECRET_MAX) {
        snprintf(why, whysize, "%s holds %d bytes; a cluster secret is %d to %d random bytes (openssl rand -base64 32 > %s)", path,
                 n, HUB_CLUSTER_SECRET_MIN, HUB_CLUSTER_SECRET_MAX, path);
        ret = n < HUB_CLUSTER_SECRET_MIN ? HUB_E_INVAL : HUB_E_TOOBIG;
        goto out;
    }
    memcpy(out, raw, (size_t)n);
    ret = n;
out:
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(raw, sizeof(raw));
    return ret;
}

void hub_hkdf_sha256(uint8_t out[HUB_KEY_LEN], const uint8_t *ikm, size_t len, const char *info)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };

    if (ctx == NULL || EVP_KDF_derive(ctx, out, HUB_KEY_LEN, params) != 1)
        hub_fatal("HKDF-SHA256 failed (error %lu)", ERR_get_error());
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}
