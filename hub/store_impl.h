/* The store's insides shared by its files (hub/store.c: tables and records; hub/store_write.c: write transactions):
 * not for any other module. */
#ifndef HUB_STORE_IMPL_H
#define HUB_STORE_IMPL_H

#include <pthread.h>
#include <lmdb.h>
#include "hub/store.h"

/* How often a write grows the map and runs again before giving up with HUB_E_MAPFULL. */
#define HUB_STORE_MAX_GROW_ATTEMPTS 12

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
    int mapfull; /* an operation hit MDB_MAP_FULL: the writer grows the map and runs the write again */
};

/* The hub error for an LMDB return code. */
int hub_store_int_err(int mrc);
/* Begins a top-level LMDB transaction counted in store->active (following a map another process grew); *seen is the
 * map size it runs with. 0, or the error (then nothing is to be ended). */
int hub_store_int_begin(hub_store_t *store, int rdonly, MDB_txn **out, size_t *seen);
/* Ends the accounting of a transaction begun with hub_store_int_begin (after its commit or abort). */
void hub_store_int_leave(hub_store_t *store);
/* Adopts the map size another process set and, when grow is set, doubles the map a failed transaction saw (seen);
 * call with no transaction of this thread open. */
int hub_store_int_resize(hub_store_t *store, size_t seen, int grow);

#endif
