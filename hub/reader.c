/* Store reads off the loop (hub/reader.h): one read transaction per job on a worker of the reader pool. */
#include "hub/reader.h"

#include <stdlib.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/util.h"

/* One queued read, owned by the pool from submission until its done ran. */
typedef struct st_read_t {
    hub_store_t *store;
    int (*fn)(hub_txn_t *txn, void *arg);
    void *arg;
    hub_read_done_fn done;
    int ret;
} read_t;

static struct {
    hub_store_hook_fn fn;
    void *ctx;
} hook;

unsigned hub_store_readers_wanted(hub_store_t *store, unsigned nworkers)
{
    const char *forced = getenv("HUB_READ_POOL");
    unsigned long n;
    char *end = NULL;

    if (forced != NULL && *forced != '\0') {
        n = strtoul(forced, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 64 && forced[0] != '-') {
            hub_log_info("store: %lu readers (HUB_READ_POOL)", n);
            return (unsigned)n;
        }
        hub_log_warn("HUB_READ_POOL=%.32s: expected a number of readers from 1 to 64; ignored", forced);
    }
    return hub_store_reads_inline(store) ? 0 : nworkers;
}

void hub_store_set_hook(hub_store_hook_fn fn, void *ctx)
{
    __atomic_store_n(&hook.ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&hook.fn, fn, __ATOMIC_RELEASE);
}

int hub_store_hook_run(int is_write)
{
    hub_store_hook_fn fn = __atomic_load_n(&hook.fn, __ATOMIC_ACQUIRE);

    return fn != NULL ? fn(__atomic_load_n(&hook.ctx, __ATOMIC_RELAXED), is_write) : 0;
}

/* The read itself, wherever it runs: its transaction's error, else the hook's verdict, else fn's result. */
static int run_read(hub_store_t *store, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    hub_txn_t *txn = NULL;
    int ret;

    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    if ((ret = hub_store_hook_run(0)) == 0)
        ret = fn(txn, arg);
    hub_store_read_end(txn);
    return ret;
}

/* On a worker. */
static void read_work(void *arg)
{
    read_t *r = arg;

    r->ret = run_read(r->store, r->fn, r->arg);
}

/* On the submitting loop (or on the thread stopping the pool, for a job dropped unrun: hub/workpool.h). */
static void on_read(void *arg, int cancelled)
{
    read_t *r = arg;

    r->done(r->arg, cancelled ? HUB_E_CANCELLED : r->ret);
    free(r);
}

int hub_store_read_async(hub_store_t *store, hub_workport_t *port, int (*fn)(hub_txn_t *txn, void *arg), void *arg,
                         hub_read_done_fn done)
{
    read_t *r;
    int ret;

    if (port == NULL) {
        done(arg, run_read(store, fn, arg));
        return 0;
    }
    r = hub_xcalloc(1, sizeof(*r));
    *r = (read_t){store, fn, arg, done, 0};
    if ((ret = hub_work_submit(port, read_work, on_read, r)) != 0)
        free(r);
    return ret;
}
