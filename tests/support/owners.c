/* Fixtures of the owner index's tests: records the way an older store holds them, the index cleared or marked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/util.h"
#include "idp/family.h"
#include "idp/owner_index.h"
#include "tests/support/owners.h"

int test_family_old(hub_txn_t *txn, const char *client_id, const char *sub, const char *sid, uint64_t exp, char id[33])
{
    json_t *obj = json_object();
    int ret;

    hub_random_token(id, 24);
    if (client_id != NULL)
        json_object_set_new(obj, "client_id", json_string(client_id));
    if (sub != NULL)
        json_object_set_new(obj, "sub", json_string(sub));
    if (sid != NULL)
        json_object_set_new(obj, "sid", json_string(sid));
    json_object_set_new(obj, "revoked", json_false());
    json_object_set_new(obj, "expires_at", json_integer((json_int_t)exp));
    ret = hub_store_put_json(txn, HUB_T_FAMILIES, id, obj, exp, HUB_STORE_NOOVERWRITE);
    json_decref(obj);
    return ret;
}

int test_session_old(hub_txn_t *txn, const char *sub, uint64_t exp, char hash[44], char sid[33])
{
    char cookie[44], key[40];
    json_t *rec, *ptr;
    int ret;

    hub_random_token(cookie, 32);
    hub_random_token(sid, 24);
    hub_secret_hash(hash, cookie, strlen(cookie));
    rec = json_pack("{s:s, s:s, s:I, s:I, s:[]}", "sid", sid, "sub", sub, "auth_time", (json_int_t)hub_now(), "exp",
                    (json_int_t)exp, "clients");
    ptr = json_pack("{s:s}", "h", hash);
    snprintf(key, sizeof(key), "sid:%s", sid);
    if ((ret = hub_store_put_json(txn, HUB_T_SESSIONS, hash, rec, exp, HUB_STORE_NOOVERWRITE)) == 0)
        ret = hub_store_put_json(txn, HUB_T_SESSIONS, key, ptr, exp, HUB_STORE_NOOVERWRITE);
    json_decref(rec);
    json_decref(ptr);
    return ret;
}

typedef struct {
    char **keys;
    size_t *lens, n, cap;
} keys_t;

static int key_cb(void *arg, hub_val_t key, hub_val_t val)
{
    keys_t *k = arg;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->keys = hub_xrealloc(k->keys, k->cap * sizeof(*k->keys));
        k->lens = hub_xrealloc(k->lens, k->cap * sizeof(*k->lens));
    }
    k->keys[k->n] = hub_xstrndup(key.data, key.len);
    k->lens[k->n++] = key.len;
    return 0;
}

static int clear_txn(hub_txn_t *txn, void *arg)
{
    keys_t k = {NULL, NULL, 0, 0};
    int ret = hub_store_each(txn, HUB_T_OWNER_INDEX, NULL, 0, key_cb, &k);

    for (size_t i = 0; i != k.n; ++i) {
        if (ret == 0)
            ret = hub_store_del(txn, HUB_T_OWNER_INDEX, k.keys[i], k.lens[i]);
        free(k.keys[i]);
    }
    free(k.keys);
    free(k.lens);
    if (ret == 0 && (ret = hub_store_del(txn, HUB_T_META, IDP_OWNER_INDEX_MARK, strlen(IDP_OWNER_INDEX_MARK))) == HUB_E_NOTFOUND)
        ret = 0;
    return ret;
}

int test_owner_index_clear(hub_store_t *store)
{
    return hub_store_write(store, clear_txn, NULL);
}

static int mark_txn(hub_txn_t *txn, void *arg)
{
    return idp_owner_index_ready(txn) ? 0 : hub_store_bump(txn, IDP_OWNER_INDEX_MARK, NULL);
}

int test_owner_index_mark(hub_store_t *store)
{
    return hub_store_write(store, mark_txn, NULL);
}

int test_family_state(hub_store_t *store, const char *id)
{
    hub_txn_t *txn;
    idp_family_t *f = NULL;
    int r = -1;

    if (hub_store_read_begin(store, &txn) != 0)
        return -2;
    if (idp_family_get(txn, id, &f) == 0)
        r = f->revoked;
    idp_family_free(f);
    hub_store_read_end(txn);
    return r;
}

uint64_t test_family_expiry(hub_store_t *store, const char *id)
{
    hub_txn_t *txn;
    idp_family_t *f = NULL;
    uint64_t exp = 0;

    if (hub_store_read_begin(store, &txn) != 0)
        return 0;
    if (idp_family_get(txn, id, &f) == 0)
        exp = f->expires_at;
    idp_family_free(f);
    hub_store_read_end(txn);
    return exp;
}

int test_session_exists(hub_store_t *store, const char *hash)
{
    hub_txn_t *txn;
    hub_val_t v;
    int r;

    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    r = hub_store_get(txn, HUB_T_SESSIONS, hash, strlen(hash), &v) == 0;
    hub_store_read_end(txn);
    return r;
}
