/* A node's secret keys kept in its store (hub/secret_key.h). */
#include <string.h>
#include <openssl/crypto.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/secret_key.h"

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
