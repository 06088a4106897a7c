/* The durable store on LMDB: named tables, per-record expiry with a sweep index, and a map that grows on demand. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <lmdb.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/store.h"
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

struct st_hub_store_t {
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
    uint64_t commits; /* write transactions this process committed (atomic) */

    pthread_t sweeper;
    int sweeper_running, sweeper_stop;
    unsigned sweep_interval;
    pthread_mutex_t sweep_lock;
    pthread_cond_t sweep_cond;
};

struct st_hub_txn_t {
    hub_store_t *store;
    MDB_txn *txn;
    int rdonly;
    int mapfull;       /* an operation hit MDB_MAP_FULL: hub_store_write grows the map and retries */
    hub_txn_t *parent; /* of a nested transaction */
};

/* Transactions this thread holds, so a nested begin never waits for a resize that waits for it. */
static __thread unsigned tls_held;
/* The store whose write transaction this thread is inside (LMDB would self-deadlock on a second one). */
static __thread hub_store_t *tls_writer;

static const char *const table_names[HUB_T__COUNT] = {
#define XX(name, str) str,
    HUB_TABLES(XX)
#undef XX
};

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
static void txn_enter(hub_store_t *store, size_t *seen)
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

static void txn_leave(hub_store_t *store)
{
    tls_held--;
    pthread_mutex_lock(&store->lock);
    if (--store->active == 0)
        pthread_cond_broadcast(&store->cond);
    pthread_mutex_unlock(&store->lock);
}

/* Adopts the map size another process committed and, when grow is set, doubles the map the
 * failed transaction saw. Does nothing when someone else already resized since seen. */
static int resize_map(hub_store_t *store, size_t seen, int grow)
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
static int txn_begin(hub_store_t *store, int rdonly, MDB_txn **out, size_t *seen)
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

/* --- open / close --- */

static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return HUB_E_INVAL;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return HUB_E_IO;
        path[i] = dir[i];
    }
    return 0;
}

static int open_fn(hub_txn_t *txn, void *arg)
{
    hub_store_t *store = txn->store;
    unsigned char buf[8];
    hub_val_t v;
    int mrc, rc;

    for (int t = 0; t < HUB_T__COUNT; t++)
        if ((mrc = mdb_dbi_open(txn->txn, table_names[t], MDB_CREATE, &store->dbi[t])) != 0)
            return map_err(mrc);
    if ((mrc = mdb_dbi_open(txn->txn, "_expiry", MDB_CREATE, &store->expiry_dbi)) != 0)
        return map_err(mrc);

    rc = hub_store_get(txn, HUB_T_META, SCHEMA_KEY, strlen(SCHEMA_KEY), &v);
    if (rc == HUB_E_NOTFOUND) {
        put_be64(buf, HUB_STORE_SCHEMA_VERSION);
        return hub_store_put(txn, HUB_T_META, SCHEMA_KEY, strlen(SCHEMA_KEY), buf, sizeof(buf), 0, 0);
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

int hub_store_open(hub_store_t **out, const char *dir)
{
    hub_store_t *store = NULL;
    pthread_condattr_t ca;
    int rc, mrc;

    *out = NULL;
    if ((rc = mkdir_p(dir)) != 0) {
        hub_log_error("store: cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    store = hub_xcalloc(1, sizeof(*store));
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->cond, NULL);
    pthread_mutex_init(&store->sweep_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&store->sweep_cond, &ca);
    pthread_condattr_destroy(&ca);

    if ((mrc = mdb_env_create(&store->env)) != 0 || (mrc = mdb_env_set_maxdbs(store->env, HUB_T__COUNT + 2)) != 0 ||
        (mrc = mdb_env_set_maxreaders(store->env, MAX_READERS)) != 0) {
        rc = map_err(mrc);
        goto out;
    }
    /* No size set: LMDB takes the one recorded in the file, so a grown map stays grown. */
    if ((mrc = mdb_env_open(store->env, dir, MDB_NOTLS, 0600)) != 0) {
        hub_log_error("store: cannot open %s: %s", dir, mdb_strerror(mrc));
        rc = map_err(mrc);
        goto out;
    }
    if (env_mapsize(store->env) < INITIAL_MAPSIZE && (mrc = mdb_env_set_mapsize(store->env, INITIAL_MAPSIZE)) != 0) {
        rc = map_err(mrc);
        goto out;
    }
    store->mapsize = env_mapsize(store->env);
    store->maxkey = (size_t)mdb_env_get_maxkeysize(store->env) - IDX_HDR;
    if ((rc = hub_store_write(store, open_fn, NULL)) != 0)
        goto out;
    *out = store;
    store = NULL;
out:
    hub_store_close(store);
    return rc;
}

void hub_store_close(hub_store_t *store)
{
    if (store == NULL)
        return;
    if (store->sweeper_running) {
        pthread_mutex_lock(&store->sweep_lock);
        store->sweeper_stop = 1;
        pthread_cond_signal(&store->sweep_cond);
        pthread_mutex_unlock(&store->sweep_lock);
        pthread_join(store->sweeper, NULL);
    }
    if (store->env != NULL)
        mdb_env_close(store->env);
    pthread_cond_destroy(&store->sweep_cond);
    pthread_mutex_destroy(&store->sweep_lock);
    pthread_cond_destroy(&store->cond);
    pthread_mutex_destroy(&store->lock);
    free(store);
}

size_t hub_store_mapsize(hub_store_t *store)
{
    size_t size;

    pthread_mutex_lock(&store->lock);
    size = store->mapsize;
    pthread_mutex_unlock(&store->lock);
    return size;
}

/* --- transactions --- */

int hub_store_read_begin(hub_store_t *store, hub_txn_t **out)
{
    hub_txn_t *txn;
    size_t seen;
    int rc;

    *out = NULL;
    txn = hub_xcalloc(1, sizeof(*txn));
    if ((rc = txn_begin(store, 1, &txn->txn, &seen)) != 0) {
        free(txn);
        return rc;
    }
    txn->store = store;
    txn->rdonly = 1;
    *out = txn;
    return 0;
}

void hub_store_read_end(hub_txn_t *txn)
{
    if (txn == NULL)
        return;
    mdb_txn_abort(txn->txn);
    txn_leave(txn->store);
    free(txn);
}

int hub_store_write(hub_store_t *store, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    hub_txn_t txn;
    size_t seen;
    int rc, mrc;

    if (tls_writer == store)
        return HUB_E_BUSY; /* nested write: LMDB's writer lock is not recursive */
    for (int attempt = 0;; attempt++) {
        txn = (hub_txn_t){.store = store};
        if ((rc = txn_begin(store, 0, &txn.txn, &seen)) != 0)
            return rc;
        tls_writer = store;
        rc = fn(&txn, arg);
        tls_writer = NULL;
        if (rc == 0) {
            if ((mrc = mdb_txn_commit(txn.txn)) == MDB_MAP_FULL)
                txn.mapfull = 1;
            rc = map_err(mrc);
            if (mrc == 0)
                __atomic_add_fetch(&store->commits, 1, __ATOMIC_RELAXED);
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

int hub_store_nest_begin(hub_txn_t *parent, hub_txn_t **child)
{
    hub_txn_t *c;
    int mrc;

    *child = NULL;
    if (parent->rdonly)
        return HUB_E_INVAL;
    c = hub_xcalloc(1, sizeof(*c));
    c->store = parent->store;
    c->parent = parent;
    if ((mrc = mdb_txn_begin(parent->store->env, parent->txn, 0, &c->txn)) != 0) {
        parent->mapfull |= mrc == MDB_MAP_FULL;
        free(c);
        return map_err(mrc);
    }
    *child = c;
    return 0;
}

int hub_store_nest_end(hub_txn_t *child, int commit)
{
    int mrc = 0, mapfull;

    if (child == NULL)
        return 0;
    if (commit && !child->mapfull)
        mrc = mdb_txn_commit(child->txn); /* into the parent: no I/O */
    else
        mdb_txn_abort(child->txn);
    mapfull = child->mapfull || mrc == MDB_MAP_FULL;
    child->parent->mapfull |= mapfull;
    free(child);
    return mapfull ? HUB_E_MAPFULL : map_err(mrc);
}

uint64_t hub_store_commits(hub_store_t *store)
{
    return __atomic_load_n(&store->commits, __ATOMIC_RELAXED);
}

/* --- records --- */

static int txn_op_err(hub_txn_t *txn, int mrc)
{
    if (mrc == MDB_MAP_FULL)
        txn->mapfull = 1;
    return map_err(mrc);
}

static int check_key(hub_txn_t *txn, hub_table_t t, size_t klen)
{
    if ((unsigned)t >= HUB_T__COUNT || klen == 0)
        return HUB_E_INVAL;
    if (klen > txn->store->maxkey)
        return HUB_E_TOOBIG;
    return 0;
}

/* Looks up the raw record; *exp is its stamped expiry. Expired records are returned too; a
 * value too short to hold the header (never written by this code) reads as never expiring. */
static int raw_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, MDB_val *data, uint64_t *exp)
{
    MDB_val k = {klen, (void *)key};
    int mrc, rc;

    *exp = 0;
    if ((rc = check_key(txn, t, klen)) != 0)
        return rc;
    if ((mrc = mdb_get(txn->txn, txn->store->dbi[t], &k, data)) != 0)
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

static int index_del(hub_txn_t *txn, uint64_t exp, hub_table_t t, const void *key, size_t klen)
{
    unsigned char buf[IDX_HDR + 512];
    MDB_val k = {IDX_HDR + klen, buf};
    int mrc;

    index_key(buf, exp, t, key, klen);
    mrc = mdb_del(txn->txn, txn->store->expiry_dbi, &k, NULL);
    return mrc == MDB_NOTFOUND ? 0 : txn_op_err(txn, mrc);
}

/* The live record under key: its stored bytes (header included) and expiry; HUB_E_NOTFOUND when absent or expired. */
static int live_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, MDB_val *data, uint64_t *exp)
{
    int rc;

    if ((rc = raw_get(txn, t, key, klen, data, exp)) != 0)
        return rc;
    if (data->mv_size < VAL_HDR)
        return HUB_E_STORE;
    return is_live(*exp, hub_now()) ? 0 : HUB_E_NOTFOUND;
}

int hub_store_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, hub_val_t *val)
{
    MDB_val data;
    uint64_t exp;
    int rc;

    if ((rc = live_get(txn, t, key, klen, &data, &exp)) != 0)
        return rc;
    val->data = (const unsigned char *)data.mv_data + VAL_HDR;
    val->len = data.mv_size - VAL_HDR;
    return 0;
}

int hub_store_expiry(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, uint64_t *expires_at)
{
    MDB_val data;
    uint64_t exp;
    int rc;

    if ((rc = live_get(txn, t, key, klen, &data, &exp)) != 0)
        return rc;
    *expires_at = exp;
    return 0;
}

int hub_store_put(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at,
                  int flags)
{
    unsigned char ibuf[IDX_HDR + 512];
    MDB_val k = {klen, (void *)key}, data;
    uint64_t old_exp;
    int rc, mrc;

    if (txn->rdonly || (flags & ~HUB_STORE_NOOVERWRITE) != 0 || (val == NULL && vlen != 0))
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
    if ((mrc = mdb_put(txn->txn, txn->store->dbi[t], &k, &data, MDB_RESERVE)) != 0)
        return txn_op_err(txn, mrc);
    put_be64(data.mv_data, expires_at);
    if (vlen > 0)
        memcpy((unsigned char *)data.mv_data + VAL_HDR, val, vlen);
    if (expires_at != 0) {
        MDB_val ik = {IDX_HDR + klen, ibuf}, iv = {0, NULL};
        index_key(ibuf, expires_at, t, key, klen);
        if ((mrc = mdb_put(txn->txn, txn->store->expiry_dbi, &ik, &iv, 0)) != 0)
            return txn_op_err(txn, mrc);
    }
    return 0;
}

int hub_store_del(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key}, data;
    uint64_t exp;
    int rc, mrc;

    if (txn->rdonly)
        return HUB_E_INVAL;
    if ((rc = raw_get(txn, t, key, klen, &data, &exp)) != 0)
        return rc;
    if (exp != 0 && (rc = index_del(txn, exp, t, key, klen)) != 0)
        return rc;
    if ((mrc = mdb_del(txn->txn, txn->store->dbi[t], &k, NULL)) != 0)
        return txn_op_err(txn, mrc);
    /* An expired record was already absent to readers: it is removed, but reported as not found. */
    return is_live(exp, hub_now()) ? 0 : HUB_E_NOTFOUND;
}

int hub_store_each(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen,
                   int (*cb)(void *arg, hub_val_t key, hub_val_t val), void *arg)
{
    return hub_store_each_from(txn, t, prefix, plen, prefix, plen, cb, arg);
}

int hub_store_each_from(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const void *from, size_t flen,
                        int (*cb)(void *arg, hub_val_t key, hub_val_t val), void *arg)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {flen, (void *)from}, data;
    uint64_t now = hub_now();
    int rc = 0, mrc;

    if ((unsigned)t >= HUB_T__COUNT || (prefix == NULL && plen != 0) || (from == NULL && flen != 0))
        return HUB_E_INVAL;
    if (flen < plen || (plen > 0 && memcmp(from, prefix, plen) != 0))
        return HUB_E_INVAL; /* a start outside the prefix */
    if ((mrc = mdb_cursor_open(txn->txn, txn->store->dbi[t], &cur)) != 0)
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

/* --- JSON --- */

int hub_store_get_json(hub_txn_t *txn, hub_table_t t, const char *key, json_t **out)
{
    hub_val_t v;
    json_t *obj;
    int rc;

    *out = NULL;
    if ((rc = hub_store_get(txn, t, key, strlen(key), &v)) != 0)
        return rc;
    if ((obj = json_loadb(v.data, v.len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return HUB_E_PARSE;
    if (!json_is_object(obj)) {
        json_decref(obj);
        return HUB_E_PARSE;
    }
    *out = obj;
    return 0;
}

int hub_store_put_json(hub_txn_t *txn, hub_table_t t, const char *key, const json_t *obj, uint64_t expires_at, int flags)
{
    char *text;
    int rc;

    if (!json_is_object(obj))
        return HUB_E_INVAL;
    if ((text = json_dumps(obj, JSON_COMPACT)) == NULL)
        hub_oom();
    rc = hub_store_put(txn, t, key, strlen(key), text, strlen(text), expires_at, flags);
    free(text);
    return rc;
}

/* --- counters --- */

int hub_store_bump(hub_txn_t *txn, const char *name, uint64_t *value)
{
    unsigned char buf[8];
    hub_val_t v;
    uint64_t n = 0;
    int rc;

    if (txn->rdonly)
        return HUB_E_INVAL;
    rc = hub_store_get(txn, HUB_T_META, name, strlen(name), &v);
    if (rc == 0 && v.len == 8)
        n = get_be64(v.data);
    else if (rc != 0 && rc != HUB_E_NOTFOUND)
        return rc;
    put_be64(buf, ++n);
    if ((rc = hub_store_put(txn, HUB_T_META, name, strlen(name), buf, sizeof(buf), 0, 0)) != 0)
        return rc;
    if (value != NULL)
        *value = n;
    return 0;
}

uint64_t hub_store_counter(hub_txn_t *txn, const char *name)
{
    hub_val_t v;

    if (hub_store_get(txn, HUB_T_META, name, strlen(name), &v) != 0 || v.len != 8)
        return 0;
    return get_be64(v.data);
}

/* --- expiry sweep --- */

struct sweep_batch {
    uint64_t now;
    size_t removed, seen;
};

/* Removes up to SWEEP_BATCH expired index entries, always from the front of the index. */
static int sweep_fn(hub_txn_t *txn, void *arg)
{
    struct sweep_batch *b = arg;
    MDB_cursor *cur = NULL;
    MDB_val ik, iv, data;
    int rc = 0, mrc;

    b->removed = b->seen = 0; /* fn may run again after the map grew */
    if ((mrc = mdb_cursor_open(txn->txn, txn->store->expiry_dbi, &cur)) != 0)
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
            if ((mrc = mdb_get(txn->txn, txn->store->dbi[t], &k, &data)) == 0 && data.mv_size >= VAL_HDR &&
                get_be64(data.mv_data) == exp) {
                if ((mrc = mdb_del(txn->txn, txn->store->dbi[t], &k, NULL)) != 0)
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

int hub_store_sweep(hub_store_t *store, uint64_t now, size_t *removed)
{
    struct sweep_batch b = {.now = now};
    size_t total = 0;
    int rc;

    do {
        if ((rc = hub_store_write(store, sweep_fn, &b)) != 0)
            break;
        total += b.removed;
    } while (b.seen == SWEEP_BATCH);
    if (removed != NULL)
        *removed = total;
    return rc;
}

static void *sweeper_main(void *arg)
{
    hub_store_t *store = arg;
    struct timespec deadline;
    size_t removed;
    int rc;

    pthread_mutex_lock(&store->sweep_lock);
    while (!store->sweeper_stop) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += store->sweep_interval;
        while (!store->sweeper_stop && pthread_cond_timedwait(&store->sweep_cond, &store->sweep_lock, &deadline) != ETIMEDOUT)
            ;
        if (store->sweeper_stop)
            break;
        pthread_mutex_unlock(&store->sweep_lock);
        if ((rc = hub_store_sweep(store, hub_now(), &removed)) != 0)
            hub_log_warn("store: sweep failed: %s", hub_strerror(rc));
        else if (removed > 0)
            hub_log_debug("store: swept %zu expired records", removed);
        pthread_mutex_lock(&store->sweep_lock);
    }
    pthread_mutex_unlock(&store->sweep_lock);
    return NULL;
}

int hub_store_start_sweeper(hub_store_t *store, unsigned interval_s)
{
    if (interval_s == 0)
        return HUB_E_INVAL;
    if (store->sweeper_running)
        return HUB_E_EXISTS;
    store->sweep_interval = interval_s;
    store->sweeper_stop = 0;
    if (pthread_create(&store->sweeper, NULL, sweeper_main, store) != 0)
        return HUB_E_NOMEM;
    store->sweeper_running = 1;
    return 0;
}
