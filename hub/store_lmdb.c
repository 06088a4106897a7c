/* The store's LMDB backend: named tables, per-record expiry with a sweep index, and a map that grows on demand. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/store_impl.h"
#include "hub/store_lmdb.h"
#include "hub/util.h"

/* Every stored value starts with its big-endian expires_at (0 = never). */
#define VAL_HDR 8
/* Expiry index key: be64(expires_at) || table id || key. */
#define IDX_HDR 9
#define INITIAL_MAPSIZE ((size_t)8 << 20)
#define MAX_READERS 256
#define MAX_GROW_ATTEMPTS 12
#define MAX_RESIZED_RETRIES 8
#define SWEEP_BATCH 256
#define SCHEMA_KEY "schema_version"
#define GEN_NAMES 32 /* counters hub_store_gen remembers */

typedef struct st_lmdb_gen_t {
    char name[64];
    uint64_t value;
    size_t txnid; /* the last committed transaction when value was read: exact while nothing committed since */
} lmdb_gen_t;

typedef struct st_lmdb_store_t {
    hub_store_t super;
    MDB_env *env;
    MDB_dbi dbi[HUB_T__COUNT];
    MDB_dbi expiry_dbi;
    size_t maxkey; /* longest user key: LMDB's limit minus the index header */

    /* Resizing the map needs every transaction of this process to have ended. A counter
     * with a condition variable (rather than a rwlock) lets a txn end on any thread and
     * gives a pending resize priority over new transactions. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned active;
    int resizing;
    size_t mapsize;

    pthread_mutex_t gen_lock; /* guards gens */
    lmdb_gen_t gens[GEN_NAMES];
    size_t ngens;
} lmdb_store_t;

typedef struct st_lmdb_txn_t {
    hub_txn_t super;
    MDB_txn *txn;
    int mapfull;                  /* an operation hit MDB_MAP_FULL: hub_store_write grows the map and retries */
    struct st_lmdb_txn_t *parent; /* of a nested transaction */
} lmdb_txn_t;

static const hub_store_ops_t lmdb_ops;
/* Transactions this thread holds, so a nested begin never waits for a resize that waits for it. */
static __thread unsigned tls_held;

static const char *const table_names[HUB_T__COUNT] = {
#define XX(name, str) str,
    HUB_TABLES(XX)
#undef XX
};

/* The backend's structs behind the heads it hands out (each head is its struct's first member). */
#define S(store) ((lmdb_store_t *)(store))
#define T(txn) ((lmdb_txn_t *)(txn))

static int map_err(int mrc)
{
    switch (mrc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return HUB_E_NOTFOUND;
    case MDB_KEYEXIST:
        return HUB_E_EXISTS;
    case MDB_MAP_FULL:
        return HUB_E_MAPFULL;
    case MDB_TXN_FULL:
    case MDB_BAD_VALSIZE:
        return HUB_E_TOOBIG;
    case MDB_READERS_FULL:
        return HUB_E_BUSY;
    case MDB_VERSION_MISMATCH:
        return HUB_E_VERSION;
    case ENOMEM:
        return HUB_E_NOMEM;
    case EINVAL:
        return HUB_E_INVAL;
    case EACCES:
    case EPERM:
    case EIO:
    case ENOSPC:
    case EROFS:
    case ENOENT:
        return HUB_E_IO;
    default:
        return HUB_E_STORE;
    }
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int is_live(uint64_t expires_at, uint64_t now)
{
    return expires_at == 0 || expires_at > now;
}

/* --- transaction accounting and map resizing --- */

static size_t env_mapsize(MDB_env *env)
{
    MDB_envinfo info;

    mdb_env_info(env, &info);
    return info.me_mapsize;
}

/* Registers a transaction about to begin; *seen is the map size it will run with. */
static void txn_enter(lmdb_store_t *store, size_t *seen)
{
    pthread_mutex_lock(&store->lock);
    while (store->resizing && tls_held == 0)
        pthread_cond_wait(&store->cond, &store->lock);
    store->active++;
    if (seen != NULL)
        *seen = store->mapsize;
    pthread_mutex_unlock(&store->lock);
    tls_held++;
}

static void txn_leave(lmdb_store_t *store)
{
    tls_held--;
    pthread_mutex_lock(&store->lock);
    if (--store->active == 0)
        pthread_cond_broadcast(&store->cond);
    pthread_mutex_unlock(&store->lock);
}

/* Adopts the map size another process committed and, when grow is set, doubles the map the
 * failed transaction saw. Does nothing when someone else already resized since seen. */
static int resize_map(lmdb_store_t *store, size_t seen, int grow)
{
    int mrc = 0;
    size_t cur, target;

    if (tls_held > 0)
        return grow ? HUB_E_MAPFULL : HUB_E_BUSY; /* our own open txn would wait forever */
    pthread_mutex_lock(&store->lock);
    while (store->resizing)
        pthread_cond_wait(&store->cond, &store->lock);
    if (store->mapsize != seen)
        goto out;
    store->resizing = 1;
    while (store->active > 0)
        pthread_cond_wait(&store->cond, &store->lock);
    if ((mrc = mdb_env_set_mapsize(store->env, 0)) != 0)
        goto done;
    cur = env_mapsize(store->env);
    target = cur > seen ? cur : seen;
    if (grow && cur <= seen)
        target = seen * 2;
    if (target != cur)
        mrc = mdb_env_set_mapsize(store->env, target);
done:
    store->mapsize = env_mapsize(store->env);
    store->resizing = 0;
    pthread_cond_broadcast(&store->cond);
    if (mrc == 0)
        hub_log_debug("store: map is now %zu bytes", store->mapsize);
    else
        hub_log_error("store: resizing the map failed: %s", mdb_strerror(mrc));
out:
    pthread_mutex_unlock(&store->lock);
    return map_err(mrc);
}

/* Begins an LMDB transaction, following a map another process grew. */
static int txn_begin(lmdb_store_t *store, int rdonly, MDB_txn **out, size_t *seen)
{
    int mrc, rc;

    for (int i = 0;; i++) {
        txn_enter(store, seen);
        mrc = mdb_txn_begin(store->env, NULL, rdonly ? MDB_RDONLY : 0, out);
        if (mrc == 0)
            return 0;
        txn_leave(store);
        if (mrc != MDB_MAP_RESIZED || i >= MAX_RESIZED_RETRIES)
            return map_err(mrc);
        if ((rc = resize_map(store, *seen, 0)) != 0)
            return rc;
    }
}

/* --- transactions --- */

static int lmdb_read_begin(hub_store_t *s, hub_txn_t **out)
{
    lmdb_txn_t *txn;
    size_t seen;
    int rc;

    *out = NULL;
    txn = hub_xcalloc(1, sizeof(*txn));
    if ((rc = txn_begin(S(s), 1, &txn->txn, &seen)) != 0) {
        free(txn);
        return rc;
    }
    txn->super = (hub_txn_t){&lmdb_ops, s, 1};
    *out = &txn->super;
    return 0;
}

static void lmdb_read_end(hub_txn_t *txn)
{
    mdb_txn_abort(T(txn)->txn);
    txn_leave(S(txn->store));
    free(txn);
}

static int lmdb_write(hub_store_t *s, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    lmdb_store_t *store = S(s);
    lmdb_txn_t txn;
    size_t seen;
    int rc, mrc;

    for (int attempt = 0;; attempt++) {
        txn = (lmdb_txn_t){.super = {&lmdb_ops, s, 0}};
        if ((rc = txn_begin(store, 0, &txn.txn, &seen)) != 0)
            return rc;
        rc = fn(&txn.super, arg);
        if (rc == 0) {
            if ((mrc = mdb_txn_commit(txn.txn)) == MDB_MAP_FULL)
                txn.mapfull = 1;
            rc = map_err(mrc);
            if (mrc == 0)
                __atomic_add_fetch(&s->commits, 1, __ATOMIC_RELAXED);
        } else {
            mdb_txn_abort(txn.txn);
        }
        txn_leave(store);
        if (!txn.mapfull)
            return rc;
        if (attempt >= MAX_GROW_ATTEMPTS)
            return HUB_E_MAPFULL;
        if ((rc = resize_map(store, seen, 1)) != 0)
            return rc;
    }
}

static int lmdb_nest_begin(hub_txn_t *p, hub_txn_t **child)
{
    lmdb_txn_t *parent = T(p), *c;
    int mrc;

    *child = NULL;
    c = hub_xcalloc(1, sizeof(*c));
    c->super = (hub_txn_t){&lmdb_ops, p->store, 0};
    c->parent = parent;
    if ((mrc = mdb_txn_begin(S(p->store)->env, parent->txn, 0, &c->txn)) != 0) {
        parent->mapfull |= mrc == MDB_MAP_FULL;
        free(c);
        return map_err(mrc);
    }
    *child = &c->super;
    return 0;
}

static int lmdb_nest_end(hub_txn_t *txn, int commit)
{
    lmdb_txn_t *child = T(txn);
    int mrc = 0, mapfull;

    if (commit && !child->mapfull)
        mrc = mdb_txn_commit(child->txn); /* into the parent: no I/O */
    else
        mdb_txn_abort(child->txn);
    mapfull = child->mapfull || mrc == MDB_MAP_FULL;
    child->parent->mapfull |= mapfull;
    free(child);
    return mapfull ? HUB_E_MAPFULL : map_err(mrc);
}

/* --- records --- */

static int txn_op_err(lmdb_txn_t *txn, int mrc)
{
    if (mrc == MDB_MAP_FULL)
        txn->mapfull = 1;
    return map_err(mrc);
}

static int check_key(lmdb_txn_t *txn, hub_table_t t, size_t klen)
{
    if ((unsigned)t >= HUB_T__COUNT || klen == 0)
        return HUB_E_INVAL;
    if (klen > S(txn->super.store)->maxkey)
        return HUB_E_TOOBIG;
    return 0;
}

/* Looks up the raw record; *exp is its stamped expiry. Expired records are returned too; a
 * value too short to hold the header (never written by this code) reads as never expiring. */
static int raw_get(lmdb_txn_t *txn, hub_table_t t, const void *key, size_t klen, MDB_val *data, uint64_t *exp)
{
    MDB_val k = {klen, (void *)key};
    int mrc, rc;

    *exp = 0;
    if ((rc = check_key(txn, t, klen)) != 0)
        return rc;
    if ((mrc = mdb_get(txn->txn, S(txn->super.store)->dbi[t], &k, data)) != 0)
        return map_err(mrc);
    if (data->mv_size >= VAL_HDR)
        *exp = get_be64(data->mv_data);
    return 0;
}

static void index_key(unsigned char *buf, uint64_t exp, hub_table_t t, const void *key, size_t klen)
{
    put_be64(buf, exp);
    buf[8] = (unsigned char)t;
    memcpy(buf + IDX_HDR, key, klen);
}

static int index_del(lmdb_txn_t *txn, uint64_t exp, hub_table_t t, const void *key, size_t klen)
{
    unsigned char buf[IDX_HDR + 512];
    MDB_val k = {IDX_HDR + klen, buf};
    int mrc;

    index_key(buf, exp, t, key, klen);
    mrc = mdb_del(txn->txn, S(txn->super.store)->expiry_dbi, &k, NULL);
    return mrc == MDB_NOTFOUND ? 0 : txn_op_err(txn, mrc);
}

static int lmdb_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, hub_val_t *val, uint64_t *expires_at)
{
    MDB_val data;
    uint64_t exp;
    int rc;

    if ((rc = raw_get(T(txn), t, key, klen, &data, &exp)) != 0)
        return rc;
    if (data.mv_size < VAL_HDR)
        return HUB_E_STORE;
    if (!is_live(exp, hub_now()))
        return HUB_E_NOTFOUND;
    if (val != NULL) {
        val->data = (const unsigned char *)data.mv_data + VAL_HDR;
        val->len = data.mv_size - VAL_HDR;
    }
    if (expires_at != NULL)
        *expires_at = exp;
    return 0;
}

static int lmdb_put(hub_txn_t *tx, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at,
                    int flags)
{
    lmdb_txn_t *txn = T(tx);
    lmdb_store_t *store = S(tx->store);
    unsigned char ibuf[IDX_HDR + 512];
    MDB_val k = {klen, (void *)key}, data;
    uint64_t old_exp;
    int rc, mrc;

    if (tx->rdonly || (flags & ~HUB_STORE_NOOVERWRITE) != 0 || (val == NULL && vlen != 0))
        return HUB_E_INVAL;
    if (vlen > (size_t)UINT32_MAX - VAL_HDR)
        return HUB_E_TOOBIG;
    rc = raw_get(txn, t, key, klen, &data, &old_exp);
    if (rc == 0) {
        if ((flags & HUB_STORE_NOOVERWRITE) && is_live(old_exp, hub_now()))
            return HUB_E_EXISTS;
        if (old_exp != 0 && old_exp != expires_at && (rc = index_del(txn, old_exp, t, key, klen)) != 0)
            return rc;
    } else if (rc != HUB_E_NOTFOUND) {
        return rc;
    }
    data.mv_size = VAL_HDR + vlen;
    data.mv_data = NULL;
    if ((mrc = mdb_put(txn->txn, store->dbi[t], &k, &data, MDB_RESERVE)) != 0)
        return txn_op_err(txn, mrc);
    put_be64(data.mv_data, expires_at);
    if (vlen > 0)
        memcpy((unsigned char *)data.mv_data + VAL_HDR, val, vlen);
    if (expires_at != 0) {
        MDB_val ik = {IDX_HDR + klen, ibuf}, iv = {0, NULL};
        index_key(ibuf, expires_at, t, key, klen);
        if ((mrc = mdb_put(txn->txn, store->expiry_dbi, &ik, &iv, 0)) != 0)
            return txn_op_err(txn, mrc);
    }
    return 0;
}

static int lmdb_del(hub_txn_t *tx, hub_table_t t, const void *key, size_t klen)
{
    lmdb_txn_t *txn = T(tx);
    MDB_val k = {klen, (void *)key}, data;
    uint64_t exp;
    int rc, mrc;

    if (tx->rdonly)
        return HUB_E_INVAL;
    if ((rc = raw_get(txn, t, key, klen, &data, &exp)) != 0)
        return rc;
    if (exp != 0 && (rc = index_del(txn, exp, t, key, klen)) != 0)
        return rc;
    if ((mrc = mdb_del(txn->txn, S(tx->store)->dbi[t], &k, NULL)) != 0)
        return txn_op_err(txn, mrc);
    /* An expired record was already absent to readers: it is removed, but reported as not found. */
    return is_live(exp, hub_now()) ? 0 : HUB_E_NOTFOUND;
}

static int lmdb_each_from(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const void *from, size_t flen,
                          hub_store_each_cb_t cb, void *arg)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {flen, (void *)from}, data;
    uint64_t now = hub_now();
    int rc = 0, mrc;

    if ((mrc = mdb_cursor_open(T(txn)->txn, S(txn->store)->dbi[t], &cur)) != 0)
        return map_err(mrc);
    for (mrc = mdb_cursor_get(cur, &k, &data, flen > 0 ? MDB_SET_RANGE : MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &data, MDB_NEXT)) {
        if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break;
        if (data.mv_size < VAL_HDR || !is_live(get_be64(data.mv_data), now))
            continue;
        hub_val_t kv = {k.mv_data, k.mv_size}, vv = {(const unsigned char *)data.mv_data + VAL_HDR, data.mv_size - VAL_HDR};
        if ((rc = cb(arg, kv, vv)) != 0)
            goto out;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = map_err(mrc);
out:
    mdb_cursor_close(cur);
    return rc;
}

/* --- counters --- */

static int lmdb_bump(hub_txn_t *txn, const char *name, uint64_t *value)
{
    unsigned char buf[8];
    hub_val_t v;
    uint64_t n = 0;
    int rc;

    if (txn->rdonly)
        return HUB_E_INVAL;
    rc = lmdb_get(txn, HUB_T_META, name, strlen(name), &v, NULL);
    if (rc == 0 && v.len == 8)
        n = get_be64(v.data);
    else if (rc != 0 && rc != HUB_E_NOTFOUND)
        return rc;
    put_be64(buf, ++n);
    if ((rc = lmdb_put(txn, HUB_T_META, name, strlen(name), buf, sizeof(buf), 0, 0)) != 0)
        return rc;
    if (value != NULL)
        *value = n;
    return 0;
}

static uint64_t counter_in(hub_txn_t *txn, const char *name)
{
    hub_val_t v;

    if (lmdb_get(txn, HUB_T_META, name, strlen(name), &v, NULL) != 0 || v.len != 8)
        return 0;
    return get_be64(v.data);
}

/* Reads every remembered counter in one read transaction, stamped with the transaction it saw. */
static void gen_refresh(lmdb_store_t *store)
{
    hub_txn_t *txn;
    char names[GEN_NAMES][64];
    uint64_t values[GEN_NAMES];
    size_t n, txnid;

    if (lmdb_read_begin(&store->super, &txn) != 0)
        return;
    txnid = mdb_txn_id(T(txn)->txn);
    pthread_mutex_lock(&store->gen_lock);
    n = store->ngens;
    for (size_t i = 0; i != n; ++i)
        memcpy(names[i], store->gens[i].name, sizeof(names[i]));
    pthread_mutex_unlock(&store->gen_lock);
    for (size_t i = 0; i != n; ++i)
        values[i] = counter_in(txn, names[i]);
    lmdb_read_end(txn);
    pthread_mutex_lock(&store->gen_lock);
    for (size_t i = 0; i != n; ++i) {
        if (store->gens[i].txnid <= txnid) {
            store->gens[i].value = values[i];
            store->gens[i].txnid = txnid;
        }
    }
    pthread_mutex_unlock(&store->gen_lock);
}

/* The slot of name (len bytes) under gen_lock, registering it when there is room; NULL when the table is full. Slots
 * are never removed, so a slot's address stays valid. */
static lmdb_gen_t *gen_slot(lmdb_store_t *store, const char *name, size_t len)
{
    for (size_t i = 0; i != store->ngens; ++i)
        if (strcmp(store->gens[i].name, name) == 0)
            return &store->gens[i];
    if (store->ngens == GEN_NAMES)
        return NULL;
    lmdb_gen_t *g = &store->gens[store->ngens++];
    memcpy(g->name, name, len + 1);
    g->value = 0;
    g->txnid = 0; /* never read (a read transaction's id is at least 1: opening the store committed one) */
    return g;
}

static uint64_t counter_once(hub_store_t *s, const char *name)
{
    hub_txn_t *txn;
    uint64_t value = 0;

    if (lmdb_read_begin(s, &txn) == 0) {
        value = counter_in(txn, name);
        lmdb_read_end(txn);
    }
    return value;
}

/* Exact: a remembered value is used while no transaction has committed since it was read (the last committed id is
 * read from the map's meta page, no transaction needed); otherwise every remembered counter is read again. */
static uint64_t lmdb_gen(hub_store_t *s, const char *name)
{
    lmdb_store_t *store = S(s);
    size_t len = strlen(name);
    MDB_envinfo info;
    lmdb_gen_t *g;
    uint64_t value;
    int fresh;

    if (len > HUB_STORE_GEN_NAME_MAX)
        return counter_once(s, name);
    txn_enter(store, NULL); /* no resize unmaps the meta pages meanwhile */
    mdb_env_info(store->env, &info);
    txn_leave(store);
    pthread_mutex_lock(&store->gen_lock);
    g = gen_slot(store, name, len);
    fresh = g != NULL && g->txnid != 0 && g->txnid >= info.me_last_txnid;
    value = g != NULL ? g->value : 0;
    pthread_mutex_unlock(&store->gen_lock);
    if (g == NULL)
        return counter_once(s, name);
    if (fresh)
        return value;
    gen_refresh(store); /* a snapshot at least as new as info's: the value is exact as of this call */
    pthread_mutex_lock(&store->gen_lock);
    value = g->value;
    pthread_mutex_unlock(&store->gen_lock);
    return value;
}

/* --- expiry sweep --- */

struct sweep_batch {
    uint64_t now;
    size_t removed, seen;
};

/* Removes up to SWEEP_BATCH expired index entries, always from the front of the index. */
static int sweep_fn(hub_txn_t *tx, void *arg)
{
    struct sweep_batch *b = arg;
    lmdb_txn_t *txn = T(tx);
    lmdb_store_t *store = S(tx->store);
    MDB_cursor *cur = NULL;
    MDB_val ik, iv, data;
    int rc = 0, mrc;

    b->removed = b->seen = 0; /* fn may run again after the map grew */
    if ((mrc = mdb_cursor_open(txn->txn, store->expiry_dbi, &cur)) != 0)
        return map_err(mrc);
    while (b->seen < SWEEP_BATCH) {
        if ((mrc = mdb_cursor_get(cur, &ik, &iv, MDB_FIRST)) != 0)
            break;
        if (ik.mv_size <= IDX_HDR) { /* cannot happen: drop the malformed entry */
            if ((mrc = mdb_cursor_del(cur, 0)) != 0)
                break;
            continue;
        }
        const unsigned char *p = ik.mv_data;
        uint64_t exp = get_be64(p);
        unsigned t = p[8];
        if (exp > b->now)
            break;
        b->seen++;
        if (t < HUB_T__COUNT) {
            MDB_val k = {ik.mv_size - IDX_HDR, (void *)(p + IDX_HDR)};
            /* The record may have been rewritten with another expiry: only a match goes. */
            if ((mrc = mdb_get(txn->txn, store->dbi[t], &k, &data)) == 0 && data.mv_size >= VAL_HDR &&
                get_be64(data.mv_data) == exp) {
                if ((mrc = mdb_del(txn->txn, store->dbi[t], &k, NULL)) != 0)
                    break;
                b->removed++;
            } else if (mrc != 0 && mrc != MDB_NOTFOUND) {
                break;
            }
        }
        if ((mrc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = txn_op_err(txn, mrc);
    mdb_cursor_close(cur);
    return rc;
}

static int lmdb_sweep(hub_store_t *store, uint64_t now, size_t *removed)
{
    struct sweep_batch b = {.now = now};
    size_t total = 0;
    int rc;

    do {
        if ((rc = lmdb_write(store, sweep_fn, &b)) != 0)
            break;
        total += b.removed;
    } while (b.seen == SWEEP_BATCH);
    if (removed != NULL)
        *removed = total;
    return rc;
}

/* --- open / close --- */

static int open_fn(hub_txn_t *txn, void *arg)
{
    lmdb_store_t *store = S(txn->store);
    unsigned char buf[8];
    hub_val_t v;
    int mrc, rc;

    for (int t = 0; t < HUB_T__COUNT; t++)
        if ((mrc = mdb_dbi_open(T(txn)->txn, table_names[t], MDB_CREATE, &store->dbi[t])) != 0)
            return map_err(mrc);
    if ((mrc = mdb_dbi_open(T(txn)->txn, "_expiry", MDB_CREATE, &store->expiry_dbi)) != 0)
        return map_err(mrc);

    rc = lmdb_get(txn, HUB_T_META, SCHEMA_KEY, strlen(SCHEMA_KEY), &v, NULL);
    if (rc == HUB_E_NOTFOUND) {
        put_be64(buf, HUB_STORE_SCHEMA_VERSION);
        return lmdb_put(txn, HUB_T_META, SCHEMA_KEY, strlen(SCHEMA_KEY), buf, sizeof(buf), 0, 0);
    }
    if (rc != 0)
        return rc;
    if (v.len != 8)
        return HUB_E_STORE;
    if (get_be64(v.data) > HUB_STORE_SCHEMA_VERSION) {
        hub_log_error("store: data has schema version %llu, this build reads up to %d", (unsigned long long)get_be64(v.data),
                      HUB_STORE_SCHEMA_VERSION);
        return HUB_E_VERSION;
    }
    return 0;
}

static void lmdb_close(hub_store_t *s)
{
    lmdb_store_t *store = S(s);

    if (store->env != NULL)
        mdb_env_close(store->env);
    pthread_mutex_destroy(&store->gen_lock);
    pthread_cond_destroy(&store->cond);
    pthread_mutex_destroy(&store->lock);
    free(store);
}

/* Opens the environment in dir (created first) at a map of at least INITIAL_MAPSIZE. */
static int env_open(lmdb_store_t *store, const char *dir)
{
    int mrc;

    if ((mrc = mdb_env_create(&store->env)) != 0 || (mrc = mdb_env_set_maxdbs(store->env, HUB_T__COUNT + 2)) != 0 ||
        (mrc = mdb_env_set_maxreaders(store->env, MAX_READERS)) != 0)
        return map_err(mrc);
    /* No size set: LMDB takes the one recorded in the file, so a grown map stays grown. */
    if ((mrc = mdb_env_open(store->env, dir, MDB_NOTLS, 0600)) != 0) {
        hub_log_error("store: cannot open %s: %s", dir, mdb_strerror(mrc));
        return map_err(mrc);
    }
    if (env_mapsize(store->env) < INITIAL_MAPSIZE && (mrc = mdb_env_set_mapsize(store->env, INITIAL_MAPSIZE)) != 0)
        return map_err(mrc);
    store->mapsize = env_mapsize(store->env);
    store->maxkey = (size_t)mdb_env_get_maxkeysize(store->env) - IDX_HDR;
    return 0;
}

int hub_store_lmdb_open(hub_store_t **out, const char *dir)
{
    lmdb_store_t *store = NULL;
    int rc;

    *out = NULL;
    store = hub_xcalloc(1, sizeof(*store));
    store->super.ops = &lmdb_ops;
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->cond, NULL);
    pthread_mutex_init(&store->gen_lock, NULL);
    if ((rc = env_open(store, dir)) != 0 || (rc = lmdb_write(&store->super, open_fn, NULL)) != 0) {
        lmdb_close(&store->super);
        return rc;
    }
    *out = &store->super;
    return 0;
}

static size_t lmdb_mapsize(hub_store_t *s)
{
    lmdb_store_t *store = S(s);
    size_t size;

    pthread_mutex_lock(&store->lock);
    size = store->mapsize;
    pthread_mutex_unlock(&store->lock);
    return size;
}

static const hub_store_ops_t lmdb_ops = {
    .name = "lmdb",
    .reads_inline = 1,
    .close = lmdb_close,
    .read_begin = lmdb_read_begin,
    .read_end = lmdb_read_end,
    .write = lmdb_write,
    .nest_begin = lmdb_nest_begin,
    .nest_end = lmdb_nest_end,
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .each_from = lmdb_each_from,
    .bump = lmdb_bump,
    .sweep = lmdb_sweep,
    .gen = lmdb_gen,
    .mapsize = lmdb_mapsize,
};
