/* A pool of worker threads for CPU-heavy jobs (Argon2id), or one thread running jobs in batches (the store's group
 * commit, hub/writer.h): a loop thread submits a job through its port, the job runs on a worker, and its completion
 * runs back on the submitting loop's thread. */
#ifndef HUB_WORKPOOL_H
#define HUB_WORKPOOL_H

#include <h2o.h>
#include <stddef.h>

typedef struct st_hub_workpool_t hub_workpool_t;
typedef struct st_hub_workport_t hub_workport_t;

/* The job's work, on a worker thread: it must not touch memory owned by a loop (h2o requests and their pools). */
typedef void (*hub_work_fn)(void *arg);
/* Runs exactly once for every job hub_work_submit accepted. cancelled is 0 when work(arg) ran, 1 when the job was
 * dropped before it started. It runs on the port's loop thread (inside h2o_evloop_run, or inside
 * hub_workport_destroy), except for jobs still queued when hub_workpool_destroy runs: those are cancelled on the
 * thread calling it. */
typedef void (*hub_work_done_fn)(void *arg, int cancelled);

/* The number of CPUs this process may run on (sched_getaffinity; at least 1). */
unsigned hub_cpu_count(void);

/* Starts nworkers threads (at least 1) at the given nice value (0 = the caller's; a positive value lets the loops
 * go first when the CPUs are busy). At most max_queued jobs (at least 1) wait for a worker at once. Returns 0 and
 * *out, or HUB_E_IO when no thread could be started. */
int hub_workpool_create(hub_workpool_t **out, unsigned nworkers, size_t max_queued, int nice);

/* A batched pool's work, on its one worker: the args of up to max_batch jobs taken off the queue together (oldest
 * first); every job's done runs after it returns. */
typedef void (*hub_batch_fn)(void *ctx, void **args, size_t n);

/* Starts a pool of one worker that runs jobs in batches through batch(ctx, ...) instead of each job's work (which
 * hub_work_submit then takes as NULL): the jobs queued while a batch runs make the next one. Returns as
 * hub_workpool_create. */
int hub_workpool_create_batched(hub_workpool_t **out, size_t max_queued, size_t max_batch, hub_batch_fn batch, void *ctx);

/* Stops the workers: a running job finishes and is posted to its port; jobs still queued are cancelled here (on the
 * calling thread). Ports may be destroyed before or after (they keep the pool's memory until then). NULL is ignored. */
void hub_workpool_destroy(hub_workpool_t *pool);

/* Binds the pool to an event loop; call on the loop's own thread (libh2o ties the queue's socket to it). */
hub_workport_t *hub_workport_create(hub_workpool_t *pool, h2o_loop_t *loop);

/* Unbinds the port, on its loop's thread: its queued jobs are cancelled, running ones are waited for (at most one
 * job's time per worker) and every completion not delivered yet runs now, so no callback of this port runs after it
 * returns. NULL is ignored. */
void hub_workport_destroy(hub_workport_t *port);

/* Queues work(arg), then done(arg, 0) on the port's loop; call on that loop's thread. Returns 0, or HUB_E_BUSY when
 * max_queued jobs are waiting already or the pool is stopping (then neither callback runs). */
int hub_work_submit(hub_workport_t *port, hub_work_fn work, hub_work_done_fn done, void *arg);

/* Jobs waiting for a worker right now (for tests and metrics). */
size_t hub_workpool_queued(hub_workpool_t *pool);

#endif
