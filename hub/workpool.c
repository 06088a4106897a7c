/* Worker threads for CPU-heavy jobs, with completions handed back to the submitting loop through an h2o queue. */
#include "hub/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/log.h"

/* A job lives in the pool's queue, then on a worker, then in its port's receiver until done() ran. */
typedef struct st_work_job_t {
    h2o_multithread_message_t msg; /* its link is in pool->queue, then in the port's receiver */
    hub_workport_t *port;
    hub_work_fn work;
    hub_work_done_fn done;
    void *arg;
} work_job_t;

struct st_hub_workpool_t {
    pthread_mutex_t mutex;
    pthread_cond_t work_cond; /* a job was queued, or the pool stops */
    pthread_cond_t idle_cond; /* a job left a worker */
    h2o_linklist_t queue;     /* work_job_t waiting for a worker, oldest first */
    size_t queued, max_queued;
    int stopping;
    int nice;
    unsigned refs; /* the owner and every port; under mutex */
    pthread_t *threads;
    unsigned nthreads;
    hub_batch_fn batch; /* NULL: each job's work runs alone */
    size_t max_batch;
    void *batch_ctx;
};

struct st_hub_workport_t {
    hub_workpool_t *pool;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    size_t running; /* jobs of this port on a worker; under pool->mutex */
};

unsigned hub_cpu_count(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Takes up to max jobs off the queue (oldest first) for this worker, under the mutex; waits while it is empty. Returns
 * how many, 0 when the pool stops. */
static size_t take_jobs(hub_workpool_t *pool, work_job_t **jobs, size_t max)
{
    size_t n = 0;

    while (!pool->stopping && h2o_linklist_is_empty(&pool->queue))
        pthread_cond_wait(&pool->work_cond, &pool->mutex);
    if (pool->stopping)
        return 0; /* hub_workpool_destroy cancels what is still queued */
    while (n != max && !h2o_linklist_is_empty(&pool->queue)) {
        work_job_t *job = H2O_STRUCT_FROM_MEMBER(work_job_t, msg.link, pool->queue.next);
        h2o_linklist_unlink(&job->msg.link);
        --pool->queued;
        ++job->port->running;
        jobs[n++] = job;
    }
    return n;
}

static void *worker_main(void *arg)
{
    hub_workpool_t *pool = arg;
    size_t max = pool->batch != NULL ? pool->max_batch : 1, n, i;
    work_job_t **jobs = h2o_mem_alloc(max * sizeof(*jobs));
    void **args = h2o_mem_alloc(max * sizeof(*args));

    /* Linux applies a nice value to the calling thread only, so the loops keep theirs. */
    if (pool->nice > 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), pool->nice) != 0)
        hub_log_warn("workpool: cannot lower a worker's priority: %s", strerror(errno));
    pthread_mutex_lock(&pool->mutex);
    while ((n = take_jobs(pool, jobs, max)) != 0) {
        pthread_mutex_unlock(&pool->mutex);
        for (i = 0; i != n; ++i)
            args[i] = jobs[i]->arg;
        if (pool->batch != NULL)
            pool->batch(pool->batch_ctx, args, n);
        else
            jobs[0]->work(jobs[0]->arg);
        pthread_mutex_lock(&pool->mutex);
        /* Sent under the pool's mutex: hub_workport_destroy, which waits for running == 0 under it, then knows that
         * no worker will touch the port again. */
        for (i = 0; i != n; ++i) {
            --jobs[i]->port->running;
            h2o_multithread_send_message(&jobs[i]->port->receiver, &jobs[i]->msg);
        }
        pthread_cond_broadcast(&pool->idle_cond);
    }
    pthread_mutex_unlock(&pool->mutex);
    free(args);
    free(jobs);
    return NULL;
}

static void pool_release(hub_workpool_t *pool)
{
    int last;

    pthread_mutex_lock(&pool->mutex);
    last = --pool->refs == 0;
    pthread_mutex_unlock(&pool->mutex);
    if (!last)
        return;
    pthread_cond_destroy(&pool->idle_cond);
    pthread_cond_destroy(&pool->work_cond);
    pthread_mutex_destroy(&pool->mutex);
    free(pool);
}

/* A pool of nworkers threads; batch (may be NULL) runs up to max_batch jobs at once. */
static int pool_create(hub_workpool_t **out, unsigned nworkers, size_t max_queued, int nice, hub_batch_fn batch, size_t max_batch,
                       void *batch_ctx)
{
    hub_workpool_t *pool = h2o_mem_alloc(sizeof(*pool));
    unsigned i;

    memset(pool, 0, sizeof(*pool));
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->work_cond, NULL);
    pthread_cond_init(&pool->idle_cond, NULL);
    h2o_linklist_init_anchor(&pool->queue);
    pool->max_queued = max_queued > 0 ? max_queued : 1;
    pool->nice = nice;
    pool->refs = 1;
    pool->batch = batch;
    pool->max_batch = max_batch > 0 ? max_batch : 1;
    pool->batch_ctx = batch_ctx;
    nworkers = nworkers > 0 ? nworkers : 1;
    pool->threads = h2o_mem_alloc(nworkers * sizeof(*pool->threads));
    for (i = 0; i != nworkers; ++i) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0)
            break;
        ++pool->nthreads;
    }
    if (pool->nthreads == 0) {
        hub_workpool_destroy(pool);
        *out = NULL;
        return HUB_E_IO;
    }
    *out = pool;
    return 0;
}

int hub_workpool_create(hub_workpool_t **out, unsigned nworkers, size_t max_queued, int nice)
{
    return pool_create(out, nworkers, max_queued, nice, NULL, 1, NULL);
}

int hub_workpool_create_batched(hub_workpool_t **out, size_t max_queued, size_t max_batch, hub_batch_fn batch, void *ctx)
{
    return pool_create(out, 1, max_queued, 0, batch, max_batch, ctx);
}

/* Tells every job of list (taken off the queue, no worker holds it) that it was cancelled, and frees it. */
static void cancel_jobs(h2o_linklist_t *list)
{
    while (!h2o_linklist_is_empty(list)) {
        work_job_t *job = H2O_STRUCT_FROM_MEMBER(work_job_t, msg.link, list->next);
        h2o_linklist_unlink(&job->msg.link);
        job->done(job->arg, 1);
        free(job);
    }
}

void hub_workpool_destroy(hub_workpool_t *pool)
{
    h2o_linklist_t cancelled;
    unsigned i;

    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->mutex);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->work_cond);
    pthread_mutex_unlock(&pool->mutex);
    for (i = 0; i != pool->nthreads; ++i)
        pthread_join(pool->threads[i], NULL);
    /* no worker is left; ports only take their own jobs out, under the mutex */
    h2o_linklist_init_anchor(&cancelled);
    pthread_mutex_lock(&pool->mutex);
    h2o_linklist_insert_list(&cancelled, &pool->queue);
    pool->queued = 0;
    pthread_mutex_unlock(&pool->mutex);
    cancel_jobs(&cancelled);
    free(pool->threads);
    pool->threads = NULL;
    pool_release(pool);
}

/* On the loop thread: every completion posted since the last wake-up. */
static void on_port_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        work_job_t *job = H2O_STRUCT_FROM_MEMBER(work_job_t, msg.link, messages->next);
        h2o_linklist_unlink(&job->msg.link);
        job->done(job->arg, 0);
        free(job);
    }
}

hub_workport_t *hub_workport_create(hub_workpool_t *pool, h2o_loop_t *loop)
{
    hub_workport_t *port = h2o_mem_alloc(sizeof(*port));

    memset(port, 0, sizeof(*port));
    port->pool = pool;
    pthread_mutex_lock(&pool->mutex);
    ++pool->refs;
    pthread_mutex_unlock(&pool->mutex);
    port->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(port->queue, &port->receiver, on_port_messages);
    return port;
}

void hub_workport_destroy(hub_workport_t *port)
{
    hub_workpool_t *pool;
    h2o_linklist_t cancelled, *node, *next;

    if (port == NULL)
        return;
    pool = port->pool;
    h2o_linklist_init_anchor(&cancelled);
    pthread_mutex_lock(&pool->mutex);
    for (node = pool->queue.next; node != &pool->queue; node = next) {
        work_job_t *job = H2O_STRUCT_FROM_MEMBER(work_job_t, msg.link, node);
        next = node->next;
        if (job->port == port) {
            h2o_linklist_unlink(node);
            --pool->queued;
            h2o_linklist_insert(&cancelled, node);
        }
    }
    while (port->running != 0)
        pthread_cond_wait(&pool->idle_cond, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
    cancel_jobs(&cancelled);
    /* No worker sends to this port any more: its undelivered completions can be taken without the queue's lock. */
    on_port_messages(&port->receiver, &port->receiver._messages);
    h2o_multithread_unregister_receiver(port->queue, &port->receiver);
    h2o_multithread_destroy_queue(port->queue);
    free(port);
    pool_release(pool);
}

int hub_work_submit(hub_workport_t *port, hub_work_fn work, hub_work_done_fn done, void *arg)
{
    hub_workpool_t *pool = port->pool;
    work_job_t *job = h2o_mem_alloc(sizeof(*job));

    memset(job, 0, sizeof(*job));
    job->port = port;
    job->work = work;
    job->done = done;
    job->arg = arg;
    pthread_mutex_lock(&pool->mutex);
    if (pool->stopping || pool->queued >= pool->max_queued) {
        pthread_mutex_unlock(&pool->mutex);
        free(job);
        return HUB_E_BUSY;
    }
    h2o_linklist_insert(&pool->queue, &job->msg.link);
    ++pool->queued;
    pthread_cond_signal(&pool->work_cond);
    pthread_mutex_unlock(&pool->mutex);
    return 0;
}

size_t hub_workpool_queued(hub_workpool_t *pool)
{
    size_t n;

    pthread_mutex_lock(&pool->mutex);
    n = pool->queued;
    pthread_mutex_unlock(&pool->mutex);
    return n;
}
