/* Tests group commit on both backends (LMDB, PostgreSQL): hub_store_write_batch (nested transactions or savepoints,
 * one commit, a failing write not undoing the others; LMDB: map growth mid-batch; PostgreSQL: the whole batch run again
 * after a serialization failure) and the store's writer (hub/writer.h: batching of writes from two loops, completions
 * on the submitting loop, the queue bound, a stop with writes queued, the synchronous fallback). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/store.h"
#include "hub/writer.h"
#include "tests/check.h"
#include "tests/support/backend.h"

#define MAX_WAIT_MS 20000 /* a safety bound so a broken writer cannot hang the suite; never an assertion */
#define BIG_VLEN 60000    /* 200 of these fill the initial 8 MiB map */

static test_backend_t *B; /* the backend of this run */

/* A new empty store of the backend. */
static int open_fresh(hub_store_t **s)
{
    *s = NULL;
    return test_backend_fresh(B) != 0 ? HUB_E_IO : test_backend_open(B, s, NULL, 0);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A gate a write waits at (on the writer thread, inside its transaction) until the test opens it. */
static pthread_mutex_t gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_is_open, gate_waiting;

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_mutex);
    gate_is_open = gate_waiting = 0;
    pthread_mutex_unlock(&gate_mutex);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate_mutex);
    gate_is_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mutex);
}

/* Waits until a write waits at the gate (the writer is inside its batch). */
static int gate_wait_for_writer(void)
{
    uint64_t end = now_ms() + MAX_WAIT_MS;
    int ok;

    pthread_mutex_lock(&gate_mutex);
    while (gate_waiting == 0 && now_ms() < end) {
        pthread_mutex_unlock(&gate_mutex);
        usleep(1000);
        pthread_mutex_lock(&gate_mutex);
    }
    ok = gate_waiting != 0;
    pthread_mutex_unlock(&gate_mutex);
    return ok;
}

/* One write: puts key -> val (vlen bytes of 'v') in USERS, then returns fail (0: keep it). */
typedef struct {
    char key[32];
    size_t vlen;
    int fail;         /* what fn returns after its put */
    int gate;         /* fn waits at the gate first */
    atomic_int runs;  /* fn ran (reruns after map growth count) */
    atomic_int dones; /* done() calls */
    int ret;          /* done()'s ret */
    pthread_t submitter;
    atomic_int done_off_submitter;
} w_t;

static int w_fn(hub_txn_t *txn, void *arg)
{
    w_t *w = arg;
    static char val[BIG_VLEN];
    int rc;

    w->runs++;
    if (w->gate) {
        pthread_mutex_lock(&gate_mutex);
        ++gate_waiting;
        while (!gate_is_open)
            pthread_cond_wait(&gate_cond, &gate_mutex);
        pthread_mutex_unlock(&gate_mutex);
    }
    memset(val, 'v', sizeof(val));
    if ((rc = hub_store_put(txn, HUB_T_USERS, w->key, strlen(w->key), val, w->vlen, 0, 0)) != 0)
        return rc;
    return w->fail;
}

static void w_done(void *arg, int ret)
{
    w_t *w = arg;
    w->ret = ret;
    w->done_off_submitter += !pthread_equal(pthread_self(), w->submitter);
    w->dones++;
}

static void w_init(w_t *w, const char *prefix, int i, size_t vlen, int fail)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->key, sizeof(w->key), "%s%05d", prefix, i);
    w->vlen = vlen;
    w->fail = fail;
    w->submitter = pthread_self();
}

/* 1 when key is stored (with vlen bytes), 0 when absent, -1 on another outcome. */
static int stored(hub_store_t *s, const char *key, size_t vlen)
{
    hub_txn_t *txn;
    hub_val_t v;
    int rc, out;

    if (hub_store_read_begin(s, &txn) != 0)
        return -1;
    rc = hub_store_get(txn, HUB_T_USERS, key, strlen(key), &v);
    out = rc == 0 ? (v.len == vlen ? 1 : -1) : rc == HUB_E_NOTFOUND ? 0 : -1;
    hub_store_read_end(txn);
    return out;
}

static int run_batch(hub_store_t *s, w_t *ws, size_t n)
{
    hub_store_job_t jobs[HUB_STORE_BATCH_MAX], *p[HUB_STORE_BATCH_MAX] = {0};

    for (size_t i = 0; i != n; ++i) {
        jobs[i] = (hub_store_job_t){w_fn, &ws[i], 12345};
        p[i] = &jobs[i];
    }
    int rc = hub_store_write_batch(s, p, n);
    for (size_t i = 0; i != n; ++i)
        ws[i].ret = jobs[i].ret;
    return rc;
}

/* A batch is one commit; a failing write (first, middle, last, after writing, of any error) leaves nothing, the others
 * keep theirs; a batch whose every write fails commits nothing of them. */
static void test_batch_isolation(void)
{
    static const int fails[] = {HUB_E_DENIED, HUB_E_NOTFOUND, HUB_E_EXISTS, HUB_E_INVAL};
    hub_store_t *s = NULL;
    w_t ws[40];
    uint64_t c0;

    CHECK(open_fresh(&s) == 0);
    if (s == NULL)
        goto out;
    for (int i = 0; i != 40; ++i) /* failing: 0, 1, 19, 38, 39 */
        w_init(&ws[i], "b", i, 100, (i <= 1 || i == 19 || i >= 38) ? fails[i % 4] : 0);
    c0 = hub_store_commits(s);
    CHECK(run_batch(s, ws, 40) == 0);
    CHECK(hub_store_commits(s) == c0 + 1);
    for (int i = 0; i != 40; ++i) {
        CHECK(ws[i].ret == ws[i].fail);
        CHECK(ws[i].runs == 1);
        CHECK(stored(s, ws[i].key, 100) == (ws[i].fail == 0));
    }
    /* all failing */
    for (int i = 0; i != 3; ++i)
        w_init(&ws[i], "allfail", i, 10, HUB_E_DENIED);
    CHECK(run_batch(s, ws, 3) == 0);
    for (int i = 0; i != 3; ++i)
        CHECK(ws[i].ret == HUB_E_DENIED && stored(s, ws[i].key, 10) == 0);
    /* bounds */
    CHECK(hub_store_write_batch(s, NULL, 0) == 0);
    CHECK(run_batch(s, ws, 0) == 0);
    hub_store_job_t one = {w_fn, &ws[0], 0}, *many[HUB_STORE_BATCH_MAX + 1];
    for (size_t i = 0; i != HUB_STORE_BATCH_MAX + 1; ++i)
        many[i] = &one;
    CHECK(hub_store_write_batch(s, many, HUB_STORE_BATCH_MAX + 1) == HUB_E_INVAL);
    /* durable: still there after a reopen */
    hub_store_close(s);
    s = NULL;
    CHECK(test_backend_open(B, &s, NULL, 0) == 0);
    for (int i = 0; s != NULL && i != 40; ++i) {
        char key[32];
        snprintf(key, sizeof(key), "b%05d", i);
        CHECK(stored(s, key, 100) == !(i <= 1 || i == 19 || i >= 38));
    }
out:
    hub_store_close(s);
}

/* A batch that fills the map is aborted, the map grown and every write run again: all of it stored, failures still
 * alone in failing. */
static void test_batch_growth(void)
{
    hub_store_t *s = NULL;
    static w_t ws[HUB_STORE_BATCH_MAX];
    size_t n = HUB_STORE_BATCH_MAX, initial;

    CHECK(open_fresh(&s) == 0);
    if (s == NULL)
        goto out;
    initial = hub_store_mapsize(s);
    for (size_t i = 0; i != n; ++i)
        w_init(&ws[i], "g", (int)i, BIG_VLEN, i % 50 == 7 ? HUB_E_DENIED : 0);
    CHECK(run_batch(s, ws, n) == 0);
    CHECK(hub_store_mapsize(s) > initial);
    CHECK(ws[0].runs >= 2); /* rerun after the growth */
    for (size_t i = 0; i != n; ++i) {
        CHECK(ws[i].ret == ws[i].fail);
        CHECK(stored(s, ws[i].key, BIG_VLEN) == (ws[i].fail == 0));
    }
out:
    hub_store_close(s);
}

/* A write that hides the map filling up (it answers its own error instead) still makes the whole batch run again after
 * the growth, never a commit followed by a second run: a counter bumped once by the batch reads 1. */
static int bump_fn(hub_txn_t *txn, void *arg)
{
    return hub_store_bump(txn, "batch-runs", NULL);
}

static int hiding_fn(hub_txn_t *txn, void *arg)
{
    return w_fn(txn, arg) != 0 ? HUB_E_DENIED : 0;
}

static void test_batch_hidden_mapfull(void)
{
    hub_store_t *s = NULL;
    static w_t ws[200];
    hub_store_job_t jobs[201], *p[201];
    hub_txn_t *txn = NULL, *child = NULL;
    uint64_t c0;

    CHECK(open_fresh(&s) == 0);
    if (s == NULL)
        goto out;
    jobs[0] = (hub_store_job_t){bump_fn, NULL, 0};
    p[0] = &jobs[0];
    for (int i = 0; i != 200; ++i) {
        w_init(&ws[i], "h", i, BIG_VLEN, 0);
        jobs[i + 1] = (hub_store_job_t){hiding_fn, &ws[i], 0};
        p[i + 1] = &jobs[i + 1];
    }
    c0 = hub_store_commits(s);
    CHECK(hub_store_write_batch(s, p, 201) == 0);
    CHECK(hub_store_commits(s) == c0 + 1);
    for (int i = 0; i != 201; ++i)
        CHECK(jobs[i].ret == 0);
    if (hub_store_read_begin(s, &txn) == 0) {
        CHECK(hub_store_counter(txn, "batch-runs") == 1);
        /* nothing nests in a read transaction */
        CHECK(hub_store_nest_begin(txn, &child) == HUB_E_INVAL && child == NULL);
        hub_store_read_end(txn);
    }
    CHECK(hub_store_nest_end(NULL, 1) == 0);
out:
    hub_store_close(s);
}

/* A write inside a batch cannot start another write transaction of the store (LMDB's lock is not recursive). */
static int nested_fn(hub_txn_t *txn, void *arg)
{
    w_t w;
    w_init(&w, "nested", 0, 1, 0);
    return hub_store_write(arg, w_fn, &w) == HUB_E_BUSY ? 0 : HUB_E_STORE;
}

static void test_batch_nested(void)
{
    hub_store_t *s = NULL;

    CHECK(open_fresh(&s) == 0);
    if (s != NULL) {
        hub_store_job_t j = {nested_fn, s, 1}, *p = &j;
        CHECK(hub_store_write_batch(s, &p, 1) == 0 && j.ret == 0);
        CHECK(stored(s, "nested00000", 1) == 0);
    }
    hub_store_close(s);
}

/* PostgreSQL: a batch whose job writes a record another handle changed since the batch read it meets a serialization
 * failure; the whole batch (one transaction) runs again and commits once, every job with its own result. */
typedef struct {
    w_t w;
    int read_first; /* reads "contested" before its write */
    int rewrite;    /* writes "contested" after its write (and the gate) */
} conflict_t;

static int conflict_fn(hub_txn_t *txn, void *arg)
{
    conflict_t *c = arg;
    hub_val_t v;
    int rc;

    if (c->read_first && (rc = hub_store_get(txn, HUB_T_USERS, "contested", 9, &v)) != 0)
        return rc;
    if ((rc = w_fn(txn, &c->w)) != 0) /* the gate, when set, is in w_fn */
        return rc;
    return c->rewrite ? hub_store_put(txn, HUB_T_USERS, "contested", 9, "batch", 5, 0, 0) : 0;
}

static int contested_fn(hub_txn_t *txn, void *arg)
{
    return hub_store_put(txn, HUB_T_USERS, "contested", 9, arg, strlen(arg), 0, 0);
}

typedef struct {
    hub_store_t *s;
    hub_store_job_t **p;
    int ret;
} batch_run_t;

static void *batch_thread(void *arg)
{
    batch_run_t *b = arg;
    b->ret = hub_store_write_batch(b->s, b->p, 3);
    return NULL;
}

static void test_batch_conflict(void)
{
    hub_store_t *s = NULL, *other = NULL;
    static conflict_t cs[3];
    hub_store_job_t jobs[3], *p[3];
    batch_run_t run = {NULL, p, -1};
    pthread_t th;
    char buf[32];
    uint64_t c0;

    gate_reset();
    CHECK(open_fresh(&s) == 0 && test_backend_open(B, &other, NULL, 0) == 0);
    if (s == NULL || other == NULL)
        goto out;
    CHECK(hub_store_write(s, contested_fn, "v0") == 0);
    for (int i = 0; i != 3; ++i) {
        w_init(&cs[i].w, "cf", i, 10, i == 2 ? HUB_E_DENIED : 0);
        jobs[i] = (hub_store_job_t){conflict_fn, &cs[i], 99};
        p[i] = &jobs[i];
    }
    cs[0].read_first = 1; /* job 0 reads the record, job 1 waits, then rewrites it: the batch overwrites a change */
    cs[1].w.gate = 1;
    cs[1].rewrite = 1;
    run.s = s;
    c0 = hub_store_commits(s);
    pthread_create(&th, NULL, batch_thread, &run);
    CHECK(gate_wait_for_writer());
    CHECK(hub_store_write(other, contested_fn, "other") == 0); /* committed while the batch waits */
    gate_open();
    pthread_join(th, NULL);
    CHECK(run.ret == 0);
    CHECK(hub_store_commits(s) == c0 + 1);
    CHECK(cs[0].w.runs >= 2 && cs[1].w.runs >= 2); /* the first run failed, the batch ran again */
    CHECK(jobs[0].ret == 0 && jobs[1].ret == 0 && jobs[2].ret == HUB_E_DENIED);
    CHECK(stored(s, cs[0].w.key, 10) == 1 && stored(s, cs[1].w.key, 10) == 1 && stored(s, cs[2].w.key, 10) == 0);
    CHECK(test_get(s, HUB_T_USERS, "contested", buf, sizeof(buf)) == 0 && strcmp(buf, "batch") == 0); /* after other's */
out:
    hub_store_close(other);
    hub_store_close(s);
}

/* ---- the writer ---- */

/* Runs loop until every write of ws has completed (or the safety bound passes). */
static void run_until_done(h2o_loop_t *loop, w_t *ws, size_t n)
{
    uint64_t end = now_ms() + MAX_WAIT_MS;

    for (;;) {
        size_t pending = 0;
        for (size_t i = 0; i != n; ++i)
            pending += ws[i].dones == 0;
        if (pending == 0 || now_ms() > end)
            return;
        h2o_evloop_run(loop, 10);
    }
}

#define PER_LOOP 150

typedef struct {
    hub_store_t *store;
    hub_workpool_t *writer;
    w_t *ws;
    atomic_int submitted;
    int submit_failures;
} loop_b_t;

static int fails_at(int i)
{
    return i % 37 == 5 ? HUB_E_DENIED : 0;
}

/* The second loop: submits its writes from its own thread and waits for their completions there. */
static void *loop_b_main(void *arg)
{
    loop_b_t *b = arg;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port = hub_workport_create(b->writer, loop);

    for (int i = 0; i != PER_LOOP; ++i) {
        w_init(&b->ws[i], "lb", i, 50, fails_at(i));
        b->submit_failures += hub_store_write_async(b->store, port, w_fn, &b->ws[i], w_done) != 0;
    }
    b->submitted = 1;
    run_until_done(loop, b->ws, PER_LOOP);
    hub_workport_destroy(port);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    return NULL;
}

/* Writes from two loops queued while the writer commits a batch go in few commits, each completing once on the loop
 * that submitted it with its own result; a failing write fails alone. */
static void test_writer_batching(void)
{
    hub_store_t *s = NULL;
    hub_workpool_t *writer = NULL;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port = NULL;
    static w_t gate_w, wa[PER_LOOP], wb[PER_LOOP];
    loop_b_t b = {0};
    pthread_t tb;
    uint64_t c0;
    int submit_failures = 0;

    gate_reset();
    CHECK(open_fresh(&s) == 0 && hub_writer_create(&writer, s, 1024) == 0);
    if (s == NULL || writer == NULL)
        goto out;
    port = hub_workport_create(writer, loop);
    c0 = hub_store_commits(s);
    w_init(&gate_w, "gate", 0, 10, 0);
    gate_w.gate = 1;
    CHECK(hub_store_write_async(s, port, w_fn, &gate_w, w_done) == 0);
    CHECK(gate_wait_for_writer()); /* the writer is inside a batch of the gate's write alone */
    b = (loop_b_t){s, writer, wb, 0, 0};
    pthread_create(&tb, NULL, loop_b_main, &b);
    for (int i = 0; i != PER_LOOP; ++i) {
        w_init(&wa[i], "la", i, 50, fails_at(i));
        submit_failures += hub_store_write_async(s, port, w_fn, &wa[i], w_done) != 0;
    }
    while (!b.submitted)
        usleep(1000);
    gate_open();
    run_until_done(loop, wa, PER_LOOP);
    run_until_done(loop, &gate_w, 1);
    pthread_join(tb, NULL);
    CHECK(submit_failures == 0 && b.submit_failures == 0);
    CHECK(gate_w.dones == 1 && gate_w.ret == 0 && gate_w.done_off_submitter == 0);
    /* the gate's batch, then 300 writes in batches of at most HUB_STORE_BATCH_MAX */
    CHECK(hub_store_commits(s) - c0 >= 2 && hub_store_commits(s) - c0 <= 1 + (2 * PER_LOOP + 255) / 256);
    for (int i = 0; i != PER_LOOP; ++i) {
        CHECK(wa[i].dones == 1 && wa[i].ret == fails_at(i) && wa[i].runs == 1 && wa[i].done_off_submitter == 0);
        CHECK(wb[i].dones == 1 && wb[i].ret == fails_at(i) && wb[i].runs == 1 && wb[i].done_off_submitter == 0);
        CHECK(stored(s, wa[i].key, 50) == (fails_at(i) == 0) && stored(s, wb[i].key, 50) == (fails_at(i) == 0));
    }
out:
    hub_workport_destroy(port);
    h2o_evloop_run(loop, 0);
    hub_workpool_destroy(writer);
    hub_store_close(s);
    h2o_evloop_destroy(loop);
}

/* With max_queued writes waiting, another is refused (HUB_E_BUSY: neither fn nor done runs); room comes back. */
static void test_writer_queue_bound(void)
{
    hub_store_t *s = NULL;
    hub_workpool_t *writer = NULL;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port = NULL;
    static w_t ws[6];

    gate_reset();
    CHECK(open_fresh(&s) == 0 && hub_writer_create(&writer, s, 3) == 0);
    if (s == NULL || writer == NULL)
        goto out;
    port = hub_workport_create(writer, loop);
    for (int i = 0; i != 6; ++i)
        w_init(&ws[i], "q", i, 10, 0);
    ws[0].gate = 1;
    CHECK(hub_store_write_async(s, port, w_fn, &ws[0], w_done) == 0);
    CHECK(gate_wait_for_writer());
    for (int i = 1; i != 4; ++i)
        CHECK(hub_store_write_async(s, port, w_fn, &ws[i], w_done) == 0);
    CHECK(hub_workpool_queued(writer) == 3);
    CHECK(hub_store_write_async(s, port, w_fn, &ws[4], w_done) == HUB_E_BUSY);
    gate_open();
    run_until_done(loop, ws, 4);
    for (int i = 0; i != 4; ++i)
        CHECK(ws[i].dones == 1 && ws[i].ret == 0 && stored(s, ws[i].key, 10) == 1);
    CHECK(ws[4].runs == 0 && ws[4].dones == 0 && stored(s, ws[4].key, 10) == 0);
    CHECK(hub_store_write_async(s, port, w_fn, &ws[5], w_done) == 0);
    run_until_done(loop, ws + 5, 1);
    CHECK(ws[5].dones == 1 && ws[5].ret == 0 && stored(s, ws[5].key, 10) == 1);
out:
    hub_workport_destroy(port);
    h2o_evloop_run(loop, 0);
    hub_workpool_destroy(writer);
    hub_store_close(s);
    h2o_evloop_destroy(loop);
}

static void *open_later(void *arg)
{
    usleep(50 * 1000);
    gate_open();
    return NULL;
}

/* Stopping the writer with writes queued: the running batch commits and completes on its port; the queued writes are
 * dropped unrun (done with HUB_E_CANCELLED, nothing stored). */
static void test_writer_stop(void)
{
    hub_store_t *s = NULL;
    hub_workpool_t *writer = NULL;
    h2o_loop_t *loop = h2o_evloop_create();
    hub_workport_t *port = NULL;
    static w_t ws[4];
    pthread_t opener;

    gate_reset();
    CHECK(open_fresh(&s) == 0 && hub_writer_create(&writer, s, 16) == 0);
    if (s == NULL || writer == NULL)
        goto out;
    port = hub_workport_create(writer, loop);
    for (int i = 0; i != 4; ++i)
        w_init(&ws[i], "stop", i, 10, 0);
    ws[0].gate = 1;
    CHECK(hub_store_write_async(s, port, w_fn, &ws[0], w_done) == 0);
    CHECK(gate_wait_for_writer());
    for (int i = 1; i != 4; ++i)
        CHECK(hub_store_write_async(s, port, w_fn, &ws[i], w_done) == 0);
    pthread_create(&opener, NULL, open_later, NULL);
    hub_workpool_destroy(writer); /* waits for the batch at the gate */
    writer = NULL;
    pthread_join(opener, NULL);
    for (int i = 1; i != 4; ++i)
        CHECK(ws[i].runs == 0 && ws[i].dones == 1 && ws[i].ret == HUB_E_CANCELLED && stored(s, ws[i].key, 10) == 0);
    CHECK(ws[0].dones == 0); /* posted to its port, not delivered yet */
    hub_workport_destroy(port);
    port = NULL;
    CHECK(ws[0].dones == 1 && ws[0].ret == 0 && ws[0].done_off_submitter == 0 && stored(s, ws[0].key, 10) == 1);
out:
    hub_workport_destroy(port);
    h2o_evloop_run(loop, 0);
    hub_workpool_destroy(writer);
    hub_store_close(s);
    h2o_evloop_destroy(loop);
}

/* Without a port the write runs at once and done before hub_store_write_async returns. */
static void test_writer_sync(void)
{
    hub_store_t *s = NULL;
    w_t ok, bad;

    CHECK(open_fresh(&s) == 0);
    if (s != NULL) {
        w_init(&ok, "sync", 0, 10, 0);
        w_init(&bad, "sync", 1, 10, HUB_E_DENIED);
        CHECK(hub_store_write_async(s, NULL, w_fn, &ok, w_done) == 0 && ok.dones == 1 && ok.ret == 0);
        CHECK(hub_store_write_async(s, NULL, w_fn, &bad, w_done) == 0 && bad.dones == 1 && bad.ret == HUB_E_DENIED);
        CHECK(stored(s, ok.key, 10) == 1 && stored(s, bad.key, 10) == 0);
    }
    hub_store_close(s);
}

static void run_all(test_backend_t *b)
{
    test_batch_isolation();
    if (b->pg) {
        test_batch_conflict();
    } else {
        test_batch_growth();
        test_batch_hidden_mapfull();
    }
    test_batch_nested();
    test_writer_batching();
    test_writer_queue_bound();
    test_writer_stop();
    test_writer_sync();
}

int main(void)
{
    failures += test_backend_each(&B, run_all);
    return check_report("store_async");
}
