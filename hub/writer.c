/* Group commit (hub/writer.h): a batched work pool whose one worker commits the queued writes together. */
#include "hub/writer.h"

#include <stdlib.h>
#include "hub/err.h"
#include "hub/reader.h"
#include "hub/util.h"

/* One queued write, owned by the writer from submission until its done ran. */
typedef struct st_write_t {
    hub_store_job_t job; /* fn, arg, and its result */
    hub_write_done_fn done;
} write_t;

typedef struct st_batch_t {
    hub_store_job_t *const *jobs;
    size_t n;
} batch_t;

/* Every job in its own nested transaction; a map that filled makes hub_store_write grow it and run this again. */
static int batch_txn(hub_txn_t *txn, void *arg)
{
    batch_t *b = arg;

    for (size_t i = 0; i != b->n; ++i) {
        hub_store_job_t *job = b->jobs[i];
        hub_txn_t *child;
        int ret;
        job->ret = 0; /* a run again starts afresh */
        if ((ret = hub_store_nest_begin(txn, &child)) == 0) {
            if ((job->ret = hub_store_hook_run(1)) == 0)
                job->ret = job->fn(child, job->arg);
            ret = hub_store_nest_end(child, job->ret == 0);
        }
        if (job->ret == 0)
            job->ret = ret;
        /* whatever fn made of it: the parent is marked, nothing may commit, the whole batch runs again */
        if (ret == HUB_E_MAPFULL)
            return HUB_E_MAPFULL;
    }
    return 0;
}

int hub_store_write_batch(hub_store_t *store, hub_store_job_t *const *jobs, size_t n)
{
    batch_t b = {jobs, n};
    int ret;

    if (n == 0 || n > HUB_STORE_BATCH_MAX)
        return n == 0 ? 0 : HUB_E_INVAL;
    for (size_t i = 0; i != n; ++i)
        jobs[i]->ret = 0;
    if ((ret = hub_store_write(store, batch_txn, &b)) != 0)
        for (size_t i = 0; i != n; ++i)
            if (jobs[i]->ret == 0 || jobs[i]->ret == HUB_E_MAPFULL)
                jobs[i]->ret = ret;
    return ret;
}

/* On the writer thread: one commit for every write taken off the queue together. */
static void write_batch(void *ctx, void **args, size_t n)
{
    hub_store_job_t *jobs[HUB_STORE_BATCH_MAX];

    for (size_t i = 0; i != n; ++i)
        jobs[i] = &((write_t *)args[i])->job;
    hub_store_write_batch(ctx, jobs, n); /* the outcome of each write is in its job */
}

/* On the submitting loop, after the batch's commit (or when the write was dropped). */
static void on_written(void *arg, int cancelled)
{
    write_t *w = arg;

    w->done(w->job.arg, cancelled ? HUB_E_CANCELLED : w->job.ret);
    free(w);
}

int hub_writer_create(hub_workpool_t **out, hub_store_t *store, size_t max_queued)
{
    return hub_workpool_create_batched(out, max_queued, HUB_STORE_BATCH_MAX, write_batch, store);
}

int hub_store_write_async(hub_store_t *store, hub_workport_t *port, int (*fn)(hub_txn_t *txn, void *arg), void *arg,
                          hub_write_done_fn done)
{
    write_t *w;
    int ret;

    if (port == NULL) {
        done(arg, (ret = hub_store_hook_run(1)) != 0 ? ret : hub_store_write(store, fn, arg));
        return 0;
    }
    w = hub_xcalloc(1, sizeof(*w));
    w->job = (hub_store_job_t){fn, arg, 0};
    w->done = done;
    if ((ret = hub_work_submit(port, NULL, on_written, w)) != 0)
        free(w);
    return ret;
}
