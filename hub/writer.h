/* Group commit: the durable writes of requests run on one writer thread per store, which takes every write queued
 * while the previous batch committed and commits them together (hub_store_write_batch: one fsync for the batch); each
 * write's completion runs back on the loop that submitted it, after its batch is durable. */
#ifndef HUB_WRITER_H
#define HUB_WRITER_H

#include <stddef.h>
#include "hub/store.h"
#include "hub/workpool.h"

/* One write of a batch: fn(txn, arg) as for hub_store_write; ret is what it came to. */
typedef struct st_hub_store_job_t {
    int (*fn)(hub_txn_t *txn, void *arg);
    void *arg;
    int ret;
} hub_store_job_t;

/* Group commit: runs every job's fn in order, each inside its own transaction nested in one write transaction
 * (hub_store_nest_begin; on PostgreSQL one transaction with a savepoint per job), and commits that once (one fsync for
 * them all). A job whose fn returns non-zero has its nested transaction aborted and its ret set to that value; the
 * others keep their writes. When the map fills (LMDB) or the transaction meets a serialization failure (PostgreSQL),
 * everything is aborted and every fn run again (fn must have no effects outside the txn, as for hub_store_write).
 * Returns 0 when the commit is durable (each job's ret is then its fn's result), else the error, which every job whose
 * fn had succeeded gets in ret too (none of the batch is stored). Safe from any thread; n at most HUB_STORE_BATCH_MAX. */
#define HUB_STORE_BATCH_MAX 256
int hub_store_write_batch(hub_store_t *store, hub_store_job_t *const *jobs, size_t n);

/* After the write: ret is fn's result when the batch committed (0: its writes are durable), else the commit's error;
 * HUB_E_CANCELLED when the write was dropped unrun (the node stops). */
typedef void (*hub_write_done_fn)(void *arg, int ret);

/* Starts the writer of store (borrowed: it must outlive the writer): one thread, at most max_queued writes waiting
 * (at least 1), batches of at most HUB_STORE_BATCH_MAX. Loops bind to it with hub_workport_create and stop it with
 * hub_workpool_destroy (a running batch finishes). Returns as hub_workpool_create_batched. */
int hub_writer_create(hub_workpool_t **out, hub_store_t *store, size_t max_queued);

/* Queues fn(txn, arg) for the writer behind port (a port of hub_writer_create's pool for the same store), then
 * done(arg, ret) on the port's loop; call on that loop's thread. fn runs on the writer thread, maybe more than once
 * (see hub_store_write_batch): everything it reads through arg must stay valid and unshared until done. With port
 * NULL the write runs here, now (hub_store_write), and done before this returns. Returns 0, or HUB_E_BUSY when the
 * queue is full or the writer stops (then neither fn nor done runs). */
int hub_store_write_async(hub_store_t *store, hub_workport_t *port, int (*fn)(hub_txn_t *txn, void *arg), void *arg,
                          hub_write_done_fn done);

#endif
