/* The store's reads off the loop: for a store whose reads are round trips to a database server, a work pool whose
 * workers each run a job's read transaction, the completion back on the loop that submitted it; for a store whose
 * reads are cheap in-process (LMDB's memory map), no pool and the read right there, as before. */
#ifndef HUB_READER_H
#define HUB_READER_H

#include <stddef.h>
#include "hub/store.h"
#include "hub/workpool.h"

/* How many readers store wants when a node would give it nworkers: none when its reads are cheap, else nworkers; the
 * environment variable HUB_READ_POOL=N (1 to 64) makes it N whatever the store (tests run the parked paths that way
 * on LMDB; any other value is ignored with a warning). */
unsigned hub_store_readers_wanted(hub_store_t *store, unsigned nworkers);

/* After the read: ret is fn's result, or the error that kept the transaction from starting (HUB_E_UNAVAILABLE while
 * the database is unreachable), or HUB_E_CANCELLED when the job was dropped unrun (the node stops). */
typedef void (*hub_read_done_fn)(void *arg, int ret);

/* Queues fn(txn, arg), inside one read transaction of store, on the reader pool behind port (hub_workpool_create:
 * any number of workers), then done(arg, ret) on the port's loop; call on that loop's thread. fn runs on a worker:
 * everything it reads or writes through arg must stay valid and be left alone by the loop until done. With port NULL
 * the read runs here, now, and done before this returns. Returns 0, or HUB_E_BUSY when the pool's queue is full or the
 * pool stops (then neither fn nor done runs). */
int hub_store_read_async(hub_store_t *store, hub_workport_t *port, int (*fn)(hub_txn_t *txn, void *arg), void *arg,
                         hub_read_done_fn done);

/* For tests: hook(ctx, is_write) runs inside every job's transaction before its fn, on the thread that runs it (read
 * jobs of hub_store_read_async, writes of hub_store_write_async, queued or run in place); a non-zero return is the
 * job's result and its fn does not run (a store error injected into the real path, or a pause while the job is
 * inside its transaction). NULL removes it. Set it while no job runs. */
typedef int (*hub_store_hook_fn)(void *ctx, int is_write);
void hub_store_set_hook(hub_store_hook_fn hook, void *ctx);

/* The hook's verdict on a job (0 when none is set): for the writer (hub/writer.c). */
int hub_store_hook_run(int is_write);

#endif
