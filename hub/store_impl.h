/* What hub/store.c shares with the store's backends (hub/store_lmdb.c, hub/store_pg.c), private to them: the operations
 * a backend implements and the heads of its store and transaction structs. The rest of the code sees hub/store.h. */
#ifndef HUB_STORE_IMPL_H
#define HUB_STORE_IMPL_H

#include <pthread.h>
#include "hub/store_types.h"

/* The longest key: LMDB's 511 bytes less its expiry index's 9-byte head. PostgreSQL takes the same, so records move
 * between the backends unchanged. */
#define HUB_STORE_KEY_MAX 502

typedef int (*hub_store_each_cb_t)(void *arg, hub_val_t key, hub_val_t val);

/* One backend. Each operation has the contract of the hub_store_* function of the same name (hub/store.h); store.c
 * checks nothing a backend checks again, and calls each operation through one pointer. */
typedef struct st_hub_store_ops_t {
    const char *name; /* "lmdb", "postgresql" */
    int reads_inline;
    void (*close)(hub_store_t *store); /* frees the store; the head's threads are stopped */
    int (*read_begin)(hub_store_t *store, hub_txn_t **out);
    void (*read_end)(hub_txn_t *txn);
    int (*write)(hub_store_t *store, int (*fn)(hub_txn_t *txn, void *arg), void *arg);
    int (*nest_begin)(hub_txn_t *parent, hub_txn_t **child);
    int (*nest_end)(hub_txn_t *child, int commit);
    /* the live record: its value and expiry (either may be NULL), or HUB_E_NOTFOUND */
    int (*get)(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, hub_val_t *val, uint64_t *expires_at);
    int (*put)(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at,
               int flags);
    int (*del)(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen);
    int (*each_from)(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const void *from, size_t flen,
                     hub_store_each_cb_t cb, void *arg);
    int (*bump)(hub_txn_t *txn, const char *name, uint64_t *value);
    int (*sweep)(hub_store_t *store, uint64_t now, size_t *removed);
    uint64_t (*gen)(hub_store_t *store, const char *name);
    size_t (*mapsize)(hub_store_t *store);
    int (*healthy)(hub_store_t *store); /* NULL: always (an embedded store has no link to lose) */
} hub_store_ops_t;

/* The head of every backend's store (its first member): the operations, and what store.c runs for every backend. */
struct st_hub_store_t {
    const hub_store_ops_t *ops;
    uint64_t commits; /* write transactions committed (atomic; the backend counts) */
    /* the sweeper thread (hub_store_start_sweeper) */
    pthread_t sweeper;
    int sweeper_running, sweeper_stop;
    unsigned sweep_interval;
    pthread_mutex_t sweep_lock;
    pthread_cond_t sweep_cond;
    int held; /* opened while its database was away: unhealthy until hub_store_release (atomic) */
};

/* The head of every backend's transaction (its first member). */
struct st_hub_txn_t {
    const hub_store_ops_t *ops;
    hub_store_t *store;
    int rdonly;
};

#endif
