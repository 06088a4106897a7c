/* Tests hub/workpool.c: jobs run on workers and complete on the submitting loop's thread, the queue is bounded, and
 * destroying a port or the pool cancels or waits for jobs cleanly. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/workpool.h"
#include "tests/check.h"

#define MAX_WAIT_MS 20000 /* a safety bound so a broken pool cannot hang the suite; never an assertion */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A gate a job can wait at until the test opens it. */
typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int open, waiting;
} gate_t;

static void gate_init(gate_t *g)
{
    pthread_mutex_init(&g->mutex, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = g->waiting = 0;
}

static void gate_pass(gate_t *g)
{
    pthread_mutex_lock(&g->mutex);
    ++g->waiting;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->mutex);
    pthread_mutex_unlock(&g->mutex);
}

/* Waits until n jobs wait at the gate (they are running on a worker). */
static int gate_wait_for(gate_t *g, int n)
{
    uint64_t end = now_ms() + MAX_WAIT_MS;
    int ok;
    pthread_mutex_lock(&g->mutex);
    while (g->waiting < n && now_ms() < end) {
        pthread_mutex_unlock(&g->mutex);
        usleep(1000);
        pthread_mutex_lock(&g->mutex);
    }
    ok = g->waiting >= n;
    pthread_mutex_unlock(&g->mutex);
    return ok;
}

static void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->mutex);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mutex);
}

static void gate_dispose(gate_t *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mutex);
}

typedef struct {
    gate_t *gate; /* NULL: no waiting */
    pthread_t submitter;
    atomic_int ran; /* work() ran */
    atomic_int work_on_submitter;
    atomic_int done;      /* done() calls */
    atomic_int cancelled; /* the last done()'s flag */
    atomic_int done_on_submitter;
} job_t;

static void job_init(job_t *j, gate_t *gate)
{
    memset(j, 0, sizeof(*j));
    j->gate = gate;
    j->submitter = pthread_self();
    j->cancelled = -1;
}

static void work(void *arg)
{
    job_t *j = arg;
    j->work_on_submitter = pthread_equal(pthread_self(), j->submitter);
    if (j->gate != NULL)
        gate_pass(j->gate);
    j->ran++;
}

static void done(void *arg, int cancelled)
{
    job_t *j = arg;
    j->done++;
    j->cancelled = cancelled;
    j->done_on_submitter = pthread_equal(pthread_self(), j->submitter);
}

/* Runs loop until every job has completed (or the safety bound passes). */
static void run_until_done(h2o_loop_t *loop, job_t *jobs, size_t n)
{
    uint64_t end = now_ms() + MAX_WAIT_MS;
    for (;;) {
        size_t i, pending = 0;
        for (i = 0; i != n; ++i)
            pending += jobs[i].done == 0;
        if (pending == 0 || now_ms() > end)
            return;
        h2o_evloop_run(loop, 10);
    }
}

static void test_cpu_count(void)
{
    unsigned n = hub_cpu_count();
    CHECK(n >= 1 && n <= 4096);
}

/* Every job runs off the loop thread and completes once on it, without cancellation. */
static void test_roundtrip(void)
{
    enum { N = 64 };
    hub_workpool_t *pool = NULL;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port;
    static job_t jobs[N];
    size_t i;

    CHECK(hub_workpool_create(&pool, 3, N, 5) == 0 && pool != NULL);
    port = hub_workport_create(pool, loop);
    for (i = 0; i != N; ++i) {
        job_init(&jobs[i], NULL);
        CHECK(hub_work_submit(port, work, done, &jobs[i]) == 0);
    }
    run_until_done(loop, jobs, N);
    for (i = 0; i != N; ++i) {
        CHECK(jobs[i].ran == 1 && jobs[i].done == 1 && jobs[i].cancelled == 0);
        CHECK(!jobs[i].work_on_submitter && jobs[i].done_on_submitter);
    }
    CHECK(hub_workpool_queued(pool) == 0);
    hub_workport_destroy(port);
    hub_workpool_destroy(pool);
    h2o_evloop_destroy(loop);
}

/* One worker held at a gate, two jobs queued: a fourth is refused (nothing runs for it); the rest all complete. */
static void test_bounded_queue(void)
{
    hub_workpool_t *pool = NULL;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port;
    job_t jobs[4];
    gate_t gate;
    size_t i;

    gate_init(&gate);
    CHECK(hub_workpool_create(&pool, 1, 2, 0) == 0);
    port = hub_workport_create(pool, loop);
    for (i = 0; i != 4; ++i)
        job_init(&jobs[i], &gate);
    CHECK(hub_work_submit(port, work, done, &jobs[0]) == 0);
    CHECK(gate_wait_for(&gate, 1)); /* the worker holds job 0: the queue is empty */
    CHECK(hub_work_submit(port, work, done, &jobs[1]) == 0);
    CHECK(hub_work_submit(port, work, done, &jobs[2]) == 0);
    CHECK(hub_workpool_queued(pool) == 2);
    CHECK(hub_work_submit(port, work, done, &jobs[3]) == HUB_E_BUSY);
    gate_open(&gate);
    run_until_done(loop, jobs, 3);
    for (i = 0; i != 3; ++i)
        CHECK(jobs[i].ran == 1 && jobs[i].done == 1 && jobs[i].cancelled == 0 && jobs[i].done_on_submitter);
    CHECK(jobs[3].ran == 0 && jobs[3].done == 0);
    /* the queue has room again */
    job_init(&jobs[3], NULL);
    CHECK(hub_work_submit(port, work, done, &jobs[3]) == 0);
    run_until_done(loop, jobs + 3, 1);
    CHECK(jobs[3].done == 1 && jobs[3].cancelled == 0);
    hub_workport_destroy(port);
    hub_workpool_destroy(pool);
    h2o_evloop_destroy(loop);
    gate_dispose(&gate);
}

static void *open_later(void *arg)
{
    usleep(50 * 1000);
    gate_open(arg);
    return NULL;
}

/* Destroying a port while one of its jobs runs and another waits: the running one is waited for and completes, the
 * queued one is cancelled without running, both on the loop thread, and nothing runs afterwards. A job of another
 * port in the same pool is untouched. */
static void test_port_destroy(void)
{
    hub_workpool_t *pool = NULL;
    h2o_loop_t *loop = h2o_evloop_create(), *loop2 = h2o_evloop_create();
    hub_workport_t *port, *port2;
    job_t running, queued, other;
    gate_t gate;
    pthread_t opener;

    gate_init(&gate);
    CHECK(hub_workpool_create(&pool, 1, 8, 0) == 0);
    port = hub_workport_create(pool, loop);
    port2 = hub_workport_create(pool, loop2);
    job_init(&running, &gate);
    job_init(&queued, NULL);
    job_init(&other, NULL);
    CHECK(hub_work_submit(port, work, done, &running) == 0);
    CHECK(gate_wait_for(&gate, 1));
    CHECK(hub_work_submit(port, work, done, &queued) == 0);
    CHECK(hub_work_submit(port2, work, done, &other) == 0);
    pthread_create(&opener, NULL, open_later, &gate);
    hub_workport_destroy(port); /* blocks until the running job is off the worker */
    CHECK(running.ran == 1 && running.done == 1 && running.cancelled == 0 && running.done_on_submitter);
    CHECK(queued.ran == 0 && queued.done == 1 && queued.cancelled == 1 && queued.done_on_submitter);
    pthread_join(opener, NULL);
    run_until_done(loop2, &other, 1);
    CHECK(other.ran == 1 && other.done == 1 && other.cancelled == 0);
    h2o_evloop_run(loop, 0); /* nothing of the destroyed port may run now */
    CHECK(running.done == 1 && queued.done == 1);
    hub_workport_destroy(port2);
    hub_workpool_destroy(pool);
    h2o_evloop_destroy(loop);
    h2o_evloop_destroy(loop2);
    gate_dispose(&gate);
}

/* Destroying the pool first: the running job finishes and is delivered by its port later, the queued one is cancelled
 * at once, and new submissions are refused. */
static void test_pool_destroy_first(void)
{
    hub_workpool_t *pool = NULL;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port;
    job_t running, queued, late;
    gate_t gate;
    pthread_t opener;

    gate_init(&gate);
    CHECK(hub_workpool_create(&pool, 1, 8, 0) == 0);
    port = hub_workport_create(pool, loop);
    job_init(&running, &gate);
    job_init(&queued, NULL);
    job_init(&late, NULL);
    CHECK(hub_work_submit(port, work, done, &running) == 0);
    CHECK(gate_wait_for(&gate, 1));
    CHECK(hub_work_submit(port, work, done, &queued) == 0);
    pthread_create(&opener, NULL, open_later, &gate);
    hub_workpool_destroy(pool); /* joins the worker after the running job */
    pthread_join(opener, NULL);
    CHECK(queued.ran == 0 && queued.done == 1 && queued.cancelled == 1);
    CHECK(running.ran == 1);
    CHECK(hub_work_submit(port, work, done, &late) == HUB_E_BUSY);
    run_until_done(loop, &running, 1);
    CHECK(running.done == 1 && running.cancelled == 0 && running.done_on_submitter);
    hub_workport_destroy(port);
    CHECK(late.done == 0);
    h2o_evloop_destroy(loop);
    gate_dispose(&gate);
}

/* Two loops on their own threads share the pool: each job completes on the loop that submitted it. */
typedef struct {
    hub_workpool_t *pool;
    job_t jobs[32];
    int ok;
} loop_thread_t;

static void *loop_main(void *arg)
{
    loop_thread_t *t = arg;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port = hub_workport_create(t->pool, loop);
    size_t i;

    t->ok = 1;
    for (i = 0; i != 32; ++i) {
        job_init(&t->jobs[i], NULL);
        if (hub_work_submit(port, work, done, &t->jobs[i]) != 0)
            t->ok = 0;
    }
    run_until_done(loop, t->jobs, 32);
    for (i = 0; i != 32; ++i)
        if (t->jobs[i].done != 1 || t->jobs[i].cancelled != 0 || !t->jobs[i].done_on_submitter)
            t->ok = 0;
    hub_workport_destroy(port);
    h2o_evloop_destroy(loop);
    return NULL;
}

static void test_two_loops(void)
{
    static loop_thread_t a, b;
    pthread_t ta, tb;
    hub_workpool_t *pool = NULL;

    CHECK(hub_workpool_create(&pool, 2, 64, 0) == 0);
    a.pool = b.pool = pool;
    pthread_create(&ta, NULL, loop_main, &a);
    pthread_create(&tb, NULL, loop_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.ok && b.ok);
    hub_workpool_destroy(pool);
}

int main(void)
{
    test_cpu_count();
    test_roundtrip();
    test_bounded_queue();
    test_port_destroy();
    test_pool_destroy_first();
    test_two_loops();
    return check_report("hub/workpool");
}
