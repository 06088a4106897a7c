/* Tests hub/park.c with hub/reader.c and the writer, in process: a read and a write parked on the store's pools and
 * answered on the loop; a client that leaves before its read starts, while it runs (inside its transaction) and after
 * it ran but before its completion, each job freed and no answer written; a completion dropped because the node stops
 * while its request is still open (never answered, its guard cleared before the request goes); many parks at once; a
 * full queue and a store that cannot serve (an error injected through the store's job hook) answered 503 with
 * Retry-After in both styles; and the same routes with no readers, the store read in place. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/park.h"
#include "hub/reader.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "tests/check.h"
#include "tests/support/loopback.h"
#include "tests/support/tmpdir.h"

#define WAIT_MS 10000 /* a bound so a broken pool cannot hang the suite; never an assertion */
#define MANY 200

/* What the jobs did, for the checks: every job is counted made, and freed once. */
static struct {
    int made, freed, answered, dropped;
} jobs;
static int fn_count; /* atomic: read fns run */

typedef struct st_job_t {
    hub_park_t park;
    hub_style_t style;
    char key[32];
    char value[64];
} job_t;

/* ---- the store job hook: a gate a job waits at inside its transaction, or an error injected ---- */

static pthread_mutex_t gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_closed, gate_waiting, inject;

static int hook(void *ctx, int is_write)
{
    int ret;

    pthread_mutex_lock(&gate_mutex);
    ++gate_waiting;
    while (gate_closed)
        pthread_cond_wait(&gate_cond, &gate_mutex);
    --gate_waiting;
    ret = inject;
    pthread_mutex_unlock(&gate_mutex);
    return ret;
}

static void gate_set(int closed)
{
    pthread_mutex_lock(&gate_mutex);
    gate_closed = closed;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mutex);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits (without running the loop) until n jobs wait at the gate. */
static int gate_wait_for(int n)
{
    uint64_t end = now_ms() + WAIT_MS;
    int seen;

    for (;;) {
        pthread_mutex_lock(&gate_mutex);
        seen = gate_waiting;
        pthread_mutex_unlock(&gate_mutex);
        if (seen >= n || now_ms() > end)
            return seen >= n;
        usleep(1000);
    }
}

static void *open_later(void *arg)
{
    usleep(50 * 1000);
    gate_set(0);
    return NULL;
}

/* ---- the routes: /read/KEY and /page/KEY read KEY, /write/KEY writes it ---- */

static int read_fn(hub_txn_t *txn, void *arg)
{
    job_t *j = arg;
    hub_val_t v;
    int ret;

    if ((ret = hub_store_get(txn, HUB_T_SETTINGS, j->key, strlen(j->key), &v)) == 0)
        snprintf(j->value, sizeof(j->value), "%.*s", (int)v.len, (const char *)v.data);
    __atomic_fetch_add(&fn_count, 1, __ATOMIC_ACQ_REL);
    return ret;
}

static int write_fn(hub_txn_t *txn, void *arg)
{
    job_t *j = arg;

    snprintf(j->value, sizeof(j->value), "written");
    return hub_store_put(txn, HUB_T_SETTINGS, j->key, strlen(j->key), j->value, strlen(j->value), 0, 0);
}

static void job_free(job_t *j)
{
    ++jobs.freed;
    free(j);
}

static void on_done(void *arg, int ret)
{
    job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req == NULL) {
        ++jobs.dropped;
    } else {
        ++jobs.answered;
        if (ret == 0) {
            req->res.status = 200;
            req->res.reason = "OK";
            req->res.content_length = strlen(j->value);
            hub_send_inline(req, j->value, strlen(j->value));
        } else if (!hub_park_unavailable(req, ret, j->style)) {
            hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, hub_strerror(ret));
        }
    }
    job_free(j);
}

static int on_route(void *data, h2o_req_t *req)
{
    const char *prefix = data;
    size_t plen = strlen(prefix);
    job_t *j = calloc(1, sizeof(*j));
    int write = strcmp(prefix, "/write/") == 0, ret;

    ++jobs.made;
    j->style = strcmp(prefix, "/page/") == 0 ? HUB_STYLE_HTML : HUB_STYLE_OAUTH;
    snprintf(j->key, sizeof(j->key), "%.*s", (int)(req->path_normalized.len - plen), req->path_normalized.base + plen);
    ret = write ? hub_park_write(&j->park, req, write_fn, j, on_done) : hub_park_read(&j->park, req, read_fn, j, on_done);
    if (ret != 0) {
        CHECK(j->park.req == NULL && j->park.guard == NULL); /* not parked */
        CHECK(hub_park_unavailable(req, ret, j->style));
        job_free(j);
    }
    return 0;
}

static const hub_route_t routes[] = {
    {"/read/", NULL, HUB_GET, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL},
    {"/page/", NULL, HUB_GET, HUB_MATCH_PREFIX, HUB_STYLE_HTML, NULL},
    {"/write/", NULL, HUB_POST, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL},
};

/* ---- fixture: a store with a value under "k" and a server with the routes ---- */

typedef struct st_fixture_t {
    char *dir;
    hub_config_t cfg;
    hub_store_t *store;
    hub_server_t *server;
    test_loop_t loop;
} fixture_t;

static int put_k(hub_txn_t *txn, void *arg)
{
    return hub_store_put(txn, HUB_T_SETTINGS, "k", 1, "value-of-k", 10, 0, 0);
}

/* readers: the HUB_READ_POOL to force ("" for none), with max_queued reads waiting. */
static void fixture_start(fixture_t *f, const char *readers, size_t max_queued)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir("park");
    hub_config_defaults(&f->cfg);
    if (hub_store_open(&f->store, f->dir) != 0 || hub_store_write(f->store, put_k, NULL) != 0 ||
        hub_server_create(&f->server, &f->cfg, f->store, NULL) != 0) {
        fprintf(stderr, "cannot set up a store and a server\n");
        exit(2);
    }
    setenv("HUB_READ_POOL", readers, 1);
    CHECK(hub_server_use_readers(f->server, 2, max_queued) == 0 && hub_server_use_writer(f->server, MANY) == 0);
    unsetenv("HUB_READ_POOL");
    CHECK((hub_server_readers(f->server) != NULL) == (*readers != '\0'));
    for (size_t i = 0; i != sizeof(routes) / sizeof(routes[0]); ++i)
        hub_server_add_route(f->server, &routes[i], on_route, (void *)routes[i].path, NULL);
    test_loop_init(&f->loop, f->server, NULL);
    memset(&jobs, 0, sizeof(jobs));
}

static void fixture_stop(fixture_t *f)
{
    hub_store_set_hook(NULL, NULL);
    test_loop_dispose(&f->loop);
    hub_server_destroy(f->server);
    hub_store_close(f->store);
    hub_config_dispose(&f->cfg);
    test_tmpdir_remove(f->dir);
    CHECK(jobs.made == jobs.freed); /* every job freed once, answered or dropped */
}

static test_req_t *start(fixture_t *f, const char *method, const char *path)
{
    test_req_t *r = test_req_new(&f->loop, method, path);
    test_req_run(r, 0); /* handed to the route; parked (the loop runs no further) */
    return r;
}

/* Runs the loop until every job made was freed (or the bound passes). */
static void settle(fixture_t *f)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (jobs.freed != jobs.made && now_ms() < end)
        test_loop_run(&f->loop, 10);
}

static int fn_runs(void)
{
    return __atomic_load_n(&fn_count, __ATOMIC_ACQUIRE);
}

/* A read and a write parked on the pools, answered on the loop after their work. */
static void test_answers(fixture_t *f)
{
    test_req_t *r = start(f, "GET", "/read/k"), *w;

    CHECK(!test_req_done(r) || hub_server_readers(f->server) == NULL);
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 200 && strcmp(test_req_text(r), "value-of-k") == 0);
    test_req_free(r);
    r = start(f, "GET", "/read/missing");
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 500); /* fn's own error: not a 503 */
    test_req_free(r);
    w = start(f, "POST", "/write/w1");
    CHECK(test_req_wait(w, WAIT_MS) && test_req_status(w) == 200 && strcmp(test_req_text(w), "written") == 0);
    test_req_free(w);
    r = start(f, "GET", "/read/w1"); /* the write was committed before its answer */
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 200 && strcmp(test_req_text(r), "written") == 0);
    test_req_free(r);
    CHECK(jobs.answered == 4 && jobs.dropped == 0 && jobs.made == jobs.freed);
}

/* Clients leaving at every stage: while the read waits for a reader, while it runs (inside its transaction, at the
 * gate), after it ran but before its completion ran on the loop. Each job is freed, nothing is answered, and the one
 * request that stayed gets its own answer. */
static void test_clients_leave(fixture_t *f)
{
    test_req_t *kept, *running, *queued, *late;
    int runs;

    hub_store_set_hook(hook, NULL);
    gate_set(1);
    kept = start(f, "GET", "/read/k");
    running = start(f, "GET", "/read/k");
    CHECK(gate_wait_for(2)); /* both readers hold a job inside its transaction */
    queued = start(f, "GET", "/read/k");
    test_req_free(queued);  /* before its fn */
    test_req_free(running); /* during its fn */
    gate_set(0);
    CHECK(test_req_wait(kept, WAIT_MS) && test_req_status(kept) == 200 && strcmp(test_req_text(kept), "value-of-k") == 0);
    settle(f);
    CHECK(jobs.answered == 1 && jobs.dropped == 2 && jobs.made == jobs.freed);
    test_req_free(kept);

    runs = fn_runs();
    late = start(f, "GET", "/read/k");
    for (uint64_t end = now_ms() + WAIT_MS; fn_runs() == runs && now_ms() < end;)
        usleep(1000); /* fn ran on a reader; its completion waits for the loop */
    CHECK(fn_runs() == runs + 1 && !test_req_done(late));
    test_req_free(late); /* after fn, before done */
    settle(f);
    CHECK(jobs.answered == 1 && jobs.dropped == 3 && jobs.made == jobs.freed);
    hub_store_set_hook(NULL, NULL);
}

/* The node stops with a read queued behind a running one while both requests are open: the queued one is dropped
 * (HUB_E_CANCELLED, on the stopping thread) and never answered, the running one completes; freeing the requests
 * afterwards touches no job (the guards were cleared). The loop's reader port is swapped for one of a pool the test
 * stops. */
static void test_node_stops(fixture_t *f)
{
    hub_workpool_t *pool = NULL;
    hub_workport_t *port, *saved = f->loop.thr.read_port;
    test_req_t *running, *queued;
    pthread_t opener;

    CHECK(hub_workpool_create(&pool, 1, 8, 0) == 0);
    port = hub_workport_create(pool, f->loop.thr.ctx.loop);
    f->loop.thr.read_port = port;
    hub_store_set_hook(hook, NULL);
    gate_set(1);
    running = start(f, "GET", "/read/k");
    CHECK(gate_wait_for(1));
    queued = start(f, "GET", "/read/k");
    pthread_create(&opener, NULL, open_later, NULL);
    hub_workpool_destroy(pool); /* waits for the running read; drops the queued one here */
    pthread_join(opener, NULL);
    CHECK(jobs.dropped == 1 && jobs.answered == 0 && !test_req_done(queued));
    hub_workport_destroy(port); /* the running read's completion, posted to the port, runs now */
    f->loop.thr.read_port = saved;
    CHECK(jobs.answered == 1 && test_req_done(running) && test_req_status(running) == 200);
    test_req_free(queued);
    test_req_free(running);
    CHECK(jobs.made == 2 && jobs.freed == 2);
    hub_store_set_hook(NULL, NULL);
}

/* Many requests parked at once, each answered with its own value. */
static void test_many(fixture_t *f)
{
    static test_req_t *rs[MANY];
    char path[64];
    int good = 0;

    for (int i = 0; i != MANY; ++i) {
        snprintf(path, sizeof(path), i % 2 == 0 ? "/read/k" : "/write/many%d", i);
        rs[i] = start(f, i % 2 == 0 ? "GET" : "POST", path);
    }
    for (int i = 0; i != MANY; ++i) {
        const char *want = i % 2 == 0 ? "value-of-k" : "written";
        good += test_req_wait(rs[i], WAIT_MS) && test_req_status(rs[i]) == 200 && strcmp(test_req_text(rs[i]), want) == 0;
        test_req_free(rs[i]);
    }
    CHECK(good == MANY && jobs.answered == MANY && jobs.dropped == 0 && jobs.made == jobs.freed);
}

/* The answer of a store that cannot serve: 503, Retry-After, the route's style; any other store error is not one. */
static void check_unavailable(test_req_t *r, hub_style_t style)
{
    const char *ctype = test_req_resp_header(r, "content-type", 0);

    CHECK(test_req_done(r) && test_req_status(r) == 503);
    CHECK(strcmp(test_req_resp_header(r, "retry-after", 0) ?: "", "1") == 0);
    if (style == HUB_STYLE_OAUTH)
        CHECK(strstr(test_req_text(r), "\"temporarily_unavailable\"") != NULL && strstr(ctype ?: "", "json") != NULL);
    else
        CHECK(strstr(test_req_text(r), "<h1>") != NULL && strstr(ctype ?: "", "text/html") != NULL);
}

/* A full readers' queue (a pool of 2 readers and 4 places swapped in): the request is not parked, 503 at once in the
 * route's style; the others are answered. */
static void test_queue_full(fixture_t *f)
{
    hub_workpool_t *pool = NULL;
    hub_workport_t *saved = f->loop.thr.read_port;
    test_req_t *rs[6], *over, *page;

    CHECK(hub_workpool_create(&pool, 2, 4, 0) == 0);
    f->loop.thr.read_port = hub_workport_create(pool, f->loop.thr.ctx.loop);
    hub_store_set_hook(hook, NULL);
    gate_set(1);
    for (int i = 0; i != 6; ++i) {
        rs[i] = start(f, "GET", "/read/k");
        if (i == 1)
            CHECK(gate_wait_for(2)); /* both readers hold one: the next four wait in the queue */
    }
    over = start(f, "GET", "/read/k");
    page = start(f, "GET", "/page/k");
    check_unavailable(over, HUB_STYLE_OAUTH);
    check_unavailable(page, HUB_STYLE_HTML);
    gate_set(0);
    for (int i = 0; i != 6; ++i) {
        CHECK(test_req_wait(rs[i], WAIT_MS) && test_req_status(rs[i]) == 200);
        test_req_free(rs[i]);
    }
    test_req_free(over);
    test_req_free(page);
    hub_store_set_hook(NULL, NULL);
    hub_workport_destroy(f->loop.thr.read_port);
    f->loop.thr.read_port = saved;
    hub_workpool_destroy(pool);
}

/* A store error injected into the real jobs (reads and writes): HUB_E_UNAVAILABLE answers 503 in the route's style and
 * writes nothing; HUB_E_STORE is a 500. */
static void test_store_errors(fixture_t *f)
{
    static const struct {
        const char *method, *path;
        int err, status;
        hub_style_t style;
    } cases[] = {
        {"GET", "/read/k", HUB_E_UNAVAILABLE, 503, HUB_STYLE_OAUTH},   {"GET", "/page/k", HUB_E_UNAVAILABLE, 503, HUB_STYLE_HTML},
        {"POST", "/write/x", HUB_E_UNAVAILABLE, 503, HUB_STYLE_OAUTH}, {"GET", "/read/k", HUB_E_STORE, 500, HUB_STYLE_OAUTH},
        {"POST", "/write/x", HUB_E_STORE, 500, HUB_STYLE_OAUTH},
    };
    test_req_t *r;

    hub_store_set_hook(hook, NULL);
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        inject = cases[i].err;
        r = start(f, cases[i].method, cases[i].path);
        CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == cases[i].status);
        if (cases[i].status == 503)
            check_unavailable(r, cases[i].style);
        else
            CHECK(test_req_resp_header(r, "retry-after", 0) == NULL);
        test_req_free(r);
    }
    inject = 0;
    r = start(f, "GET", "/read/x"); /* no write went through */
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 500);
    test_req_free(r);
    hub_store_set_hook(NULL, NULL);
}

/* Runs one part with the job counters at zero. */
static void run_part(void (*part)(fixture_t *f), fixture_t *f)
{
    memset(&jobs, 0, sizeof(jobs));
    part(f);
    settle(f);
    CHECK(jobs.made == jobs.freed);
}

int main(void)
{
    fixture_t f;

    hub_log_init(HUB_LOG_ERROR, "park");
    fixture_start(&f, "2", MANY); /* the readers forced on LMDB, as HUB_READ_POOL does in the e2e runs */
    run_part(test_answers, &f);
    run_part(test_clients_leave, &f);
    run_part(test_node_stops, &f);
    run_part(test_many, &f);
    run_part(test_queue_full, &f);
    run_part(test_store_errors, &f);
    fixture_stop(&f);

    fixture_start(&f, "", MANY); /* no readers: LMDB read in place, fn and done before hub_park_read returns */
    run_part(test_answers, &f);
    run_part(test_store_errors, &f);
    fixture_stop(&f);
    return check_report("hub/park");
}
