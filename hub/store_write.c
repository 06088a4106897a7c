/* The store's write transactions (hub/store.h): one function per commit, or a batch of them in one commit (group
 * commit), each in a transaction nested in the batch's, with the map grown and the write run again when it fills. */
#include "hub/err.h"
#include "hub/store.h"
#include "hub/store_impl.h"

/* The store whose write transaction this thread is inside (LMDB would self-deadlock on a second one). */
static __thread hub_store_t *tls_writer;

static void count_commit(hub_store_t *store)
{
    __atomic_add_fetch(&store->commits, 1, __ATOMIC_RELAXED);
}

uint64_t hub_store_commits(hub_store_t *store)
{
    return __atomic_load_n(&store->commits, __ATOMIC_RELAXED);
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
        if ((rc = hub_store_int_begin(store, 0, &txn.txn, &seen)) != 0)
            return rc;
        tls_writer = store;
        rc = fn(&txn, arg);
        tls_writer = NULL;
        if (rc == 0) {
            if ((mrc = mdb_txn_commit(txn.txn)) == MDB_MAP_FULL)
                txn.mapfull = 1;
            else if (mrc == 0)
                count_commit(store);
            rc = hub_store_int_err(mrc);
        } else {
            mdb_txn_abort(txn.txn);
        }
        hub_store_int_leave(store);
        if (!txn.mapfull)
            return rc;
        if (attempt >= HUB_STORE_MAX_GROW_ATTEMPTS)
            return HUB_E_MAPFULL;
        if ((rc = hub_store_int_resize(store, seen, 1)) != 0)
            return rc;
    }
}

/* Runs job inside a transaction nested in parent, keeping its writes when fn succeeds. Returns 1 when the map filled
 * (the whole batch is to run again), else 0 with job->ret set. */
static int run_nested(hub_store_t *store, MDB_txn *parent, hub_store_job_t *job)
{
    hub_txn_t child = {.store = store};
    int mrc;

    if ((mrc = mdb_txn_begin(store->env, parent, 0, &child.txn)) != 0) {
        job->ret = hub_store_int_err(mrc);
        return mrc == MDB_MAP_FULL;
    }
    job->ret = job->fn(&child, job->arg);
    if (job->ret != 0 || child.mapfull) {
        mdb_txn_abort(child.txn);
        return child.mapfull;
    }
    if ((mrc = mdb_txn_commit(child.txn)) != 0) /* into the parent: no I/O */
        job->ret = hub_store_int_err(mrc);
    return mrc == MDB_MAP_FULL;
}

/* Gives ret to every job of the batch whose fn succeeded (its writes are lost with the batch). */
static void fail_batch(hub_store_job_t *const *jobs, size_t n, int ret)
{
    for (size_t i = 0; i != n; ++i)
        if (jobs[i]->ret == 0)
            jobs[i]->ret = ret;
}

/* One run of the batch in one write transaction. *mapfull is set when the map filled (nothing was stored). */
static int batch_once(hub_store_t *store, hub_store_job_t *const *jobs, size_t n, size_t *seen, int *mapfull)
{
    MDB_txn *parent;
    int rc, mrc;

    *mapfull = 0;
    for (size_t i = 0; i != n; ++i)
        jobs[i]->ret = 0;
    if ((rc = hub_store_int_begin(store, 0, &parent, seen)) != 0)
        return rc;
    tls_writer = store;
    for (size_t i = 0; i != n && !*mapfull; ++i)
        *mapfull = run_nested(store, parent, jobs[i]);
    tls_writer = NULL;
    if (*mapfull) {
        mdb_txn_abort(parent);
        hub_store_int_leave(store);
        return HUB_E_MAPFULL;
    }
    mrc = mdb_txn_commit(parent);
    hub_store_int_leave(store);
    if (mrc == 0)
        count_commit(store);
    *mapfull = mrc == MDB_MAP_FULL;
    return hub_store_int_err(mrc);
}

int hub_store_write_batch(hub_store_t *store, hub_store_job_t *const *jobs, size_t n)
{
    size_t seen;
    int rc = 0, mapfull;

    if (n == 0 || n > HUB_STORE_BATCH_MAX)
        return n == 0 ? 0 : HUB_E_INVAL;
    if (tls_writer == store) {
        rc = HUB_E_BUSY;
        goto fail;
    }
    for (int attempt = 0;; attempt++) {
        if ((rc = batch_once(store, jobs, n, &seen, &mapfull)) == 0)
            return 0;
        if (!mapfull)
            break;
        if (attempt >= HUB_STORE_MAX_GROW_ATTEMPTS || (rc = hub_store_int_resize(store, seen, 1)) != 0) {
            rc = rc != 0 && rc != HUB_E_MAPFULL ? rc : HUB_E_MAPFULL;
            break;
        }
    }
fail:
    fail_batch(jobs, n, rc);
    return rc;
}
