/* Tests hub/metrics.c: the Prometheus text format (every line a comment or a well-formed sample, no series twice),
 * counts per route and status with out-of-range statuses as 0, the latency histogram's bucket edges, cumulative
 * buckets, sum and count, the route table (one index per label, long labels kept apart, a full table counting the
 * rest under a catch-all), plain counters and their limit (a programming error: the process ends), the in-flight
 * gauge, and exact counts from several threads at once. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hub/metrics.h"
#include "tests/check.h"

/* Whether every line of text[0..len) is a "# HELP"/"# TYPE" comment or "name{labels} value" / "name value" with a
 * Prometheus metric name, quoted label values without '"', '\\' or newline, and a number; and no series repeats. */
static int well_formed(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t nseries = 0;
    char *series[2048];
    int ok = len != 0 && text[len - 1] == '\n' && strlen(text) == len;

    while (ok && p < end) {
        const char *nl = memchr(p, '\n', end - p), *q = p;
        if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0) {
            p = nl + 1;
            continue;
        }
        ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_';
        q += strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
        if (ok && *q == '{') {
            while (ok && *q != '}') {
                ++q;
                q += strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
                ok = q[0] == '=' && q[1] == '"';
                q += 2;
                q += strcspn(q, "\"\\\n");
                ok = ok && *q == '"';
                ++q;
                ok = ok && (*q == ',' || *q == '}');
            }
            ++q;
        }
        ok = ok && *q == ' ' && q + 1 < nl && nseries < sizeof(series) / sizeof(series[0]);
        if (!ok)
            break;
        char *stop;
        strtod(q + 1, &stop);
        ok = stop == nl;
        for (size_t i = 0; ok && i != nseries; ++i) /* one sample per series */
            ok = !(strlen(series[i]) == (size_t)(q - p) && memcmp(series[i], p, q - p) == 0);
        series[nseries++] = strndup(p, q - p);
        p = nl + 1;
    }
    for (size_t i = 0; i != nseries; ++i)
        free(series[i]);
    return ok;
}

/* The value of the sample whose series (name and labels) is exactly series, or -1 when there is none. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static char *render(hub_metrics_t *m)
{
    size_t len = 0;
    char *text = hub_metrics_render(m, &len);
    CHECK(text != NULL && well_formed(text, len));
    return text;
}

static void test_empty(void)
{
    hub_metrics_t *m = hub_metrics_create();
    char *text = render(m);
    CHECK(strstr(text, "# TYPE hub_http_requests_total counter\n") != NULL);
    CHECK(strstr(text, "# TYPE hub_http_request_duration_seconds histogram\n") != NULL);
    CHECK(strstr(text, "# TYPE hub_http_inflight_requests gauge\n") != NULL);
    CHECK(sample(text, "hub_http_inflight_requests") == 0);
    CHECK(strstr(text, "hub_http_requests_total{") == NULL && strstr(text, "_bucket{") == NULL);
    free(text);
    /* a route that served nothing shows no series */
    hub_metrics_add_route(m, "/idle");
    text = render(m);
    CHECK(strstr(text, "/idle") == NULL);
    free(text);
    hub_metrics_destroy(m);
}

static void test_statuses(void)
{
    hub_metrics_t *m = hub_metrics_create();
    size_t a = hub_metrics_add_route(m, "/a"), b = hub_metrics_add_route(m, "/b");
    static const int odd[] = {0, 99, 600, 1000, -1, -200};

    CHECK(a == 0 && b == 1 && hub_metrics_add_route(m, "/a") == a && hub_metrics_add_route(m, "/b") == b);
    for (int i = 0; i != 3; ++i)
        hub_metrics_observe(m, a, 200, 10);
    hub_metrics_observe(m, a, 404, 10);
    hub_metrics_observe(m, b, 100, 10);
    hub_metrics_observe(m, b, 599, 10);
    for (size_t i = 0; i != sizeof(odd) / sizeof(odd[0]); ++i)
        hub_metrics_observe(m, b, odd[i], 10);
    hub_metrics_observe(m, 7, 503, 10); /* an index never handed out: the first route's */
    char *text = render(m);
    CHECK(sample(text, "hub_http_requests_total{route=\"/a\",status=\"200\"}") == 3);
    CHECK(sample(text, "hub_http_requests_total{route=\"/a\",status=\"404\"}") == 1);
    CHECK(sample(text, "hub_http_requests_total{route=\"/a\",status=\"503\"}") == 1);
    CHECK(sample(text, "hub_http_requests_total{route=\"/b\",status=\"100\"}") == 1);
    CHECK(sample(text, "hub_http_requests_total{route=\"/b\",status=\"599\"}") == 1);
    CHECK(sample(text, "hub_http_requests_total{route=\"/b\",status=\"0\"}") == 6);
    CHECK(sample(text, "hub_http_requests_total{route=\"/b\",status=\"200\"}") == -1);
    CHECK(strstr(text, "status=\"600\"") == NULL && strstr(text, "status=\"-") == NULL && strstr(text, "status=\"99\"") == NULL);
    CHECK(sample(text, "hub_http_request_duration_seconds_count{route=\"/a\"}") == 5);
    CHECK(sample(text, "hub_http_request_duration_seconds_count{route=\"/b\"}") == 8);
    free(text);
    hub_metrics_destroy(m);
}

static void test_histogram(void)
{
    /* a bucket takes what is at most its bound: 100 us is in le=0.0001, 101 us is not */
    static const struct {
        uint64_t us;
        const char *le; /* the first bucket that counts it */
    } cases[] = {{0, "0.0001"},   {100, "0.0001"},   {101, "0.00025"},    {250, "0.00025"}, {999, "0.001"},
                 {1000, "0.001"}, {1001, "0.0025"},  {100000, "0.1"},     {1000000, "1"},   {1000001, "5"},
                 {5000000, "5"},  {5000001, "+Inf"}, {UINT32_MAX, "+Inf"}};
    static const char *const les[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
                                      "0.025",  "0.1",     "0.25",   "1",     "5",      "+Inf"};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hub_metrics_t *m = hub_metrics_create();
        size_t r = hub_metrics_add_route(m, "/h");
        hub_metrics_observe(m, r, 200, cases[i].us);
        char *text = render(m), series[128];
        int reached = 0;
        for (size_t b = 0; b != sizeof(les) / sizeof(les[0]); ++b) { /* cumulative: 0 below the bucket, 1 from it on */
            reached |= strcmp(les[b], cases[i].le) == 0;
            snprintf(series, sizeof(series), "hub_http_request_duration_seconds_bucket{route=\"/h\",le=\"%s\"}", les[b]);
            CHECK(sample(text, series) == reached);
        }
        CHECK(reached);
        CHECK(sample(text, "hub_http_request_duration_seconds_sum{route=\"/h\"}") == cases[i].us / 1e6);
        free(text);
        hub_metrics_destroy(m);
    }
    /* sum and count over several */
    hub_metrics_t *m = hub_metrics_create();
    size_t r = hub_metrics_add_route(m, "/s");
    hub_metrics_observe(m, r, 200, 1500);
    hub_metrics_observe(m, r, 500, 2500);
    hub_metrics_observe(m, r, 302, 7000000);
    char *text = render(m);
    CHECK(sample(text, "hub_http_request_duration_seconds_sum{route=\"/s\"}") == 7.004);
    CHECK(sample(text, "hub_http_request_duration_seconds_count{route=\"/s\"}") == 3);
    CHECK(sample(text, "hub_http_request_duration_seconds_bucket{route=\"/s\",le=\"0.0025\"}") == 2);
    CHECK(sample(text, "hub_http_request_duration_seconds_bucket{route=\"/s\",le=\"5\"}") == 2);
    CHECK(sample(text, "hub_http_request_duration_seconds_bucket{route=\"/s\",le=\"+Inf\"}") == 3);
    free(text);
    hub_metrics_destroy(m);
}

/* Labels are kept whole: two long routes that differ only at the end are two series, and each registers once. */
static void test_route_table(void)
{
    hub_metrics_t *m = hub_metrics_create();
    char a[301], b[301], series[512];

    memset(a, 'x', 300);
    a[0] = '/';
    a[300] = '\0';
    memcpy(b, a, sizeof(b));
    b[299] = 'y';
    size_t ia = hub_metrics_add_route(m, a), ib = hub_metrics_add_route(m, b);
    CHECK(ia != ib && hub_metrics_add_route(m, a) == ia && hub_metrics_add_route(m, b) == ib);
    hub_metrics_observe(m, ia, 200, 1);
    hub_metrics_observe(m, ib, 200, 1);
    hub_metrics_observe(m, ib, 200, 1);
    char *text = render(m); /* well_formed: no series twice */
    snprintf(series, sizeof(series), "hub_http_requests_total{route=\"%s\",status=\"200\"}", a);
    CHECK(sample(text, series) == 1);
    snprintf(series, sizeof(series), "hub_http_requests_total{route=\"%s\",status=\"200\"}", b);
    CHECK(sample(text, series) == 2);
    free(text);
    hub_metrics_destroy(m);

    /* a full table: every route past it is counted under one catch-all, never under another route's label */
    m = hub_metrics_create();
    size_t idx[HUB_METRICS_MAX_ROUTES + 3];
    char label[32];
    for (size_t i = 0; i != HUB_METRICS_MAX_ROUTES + 3; ++i) {
        snprintf(label, sizeof(label), "/r%zu", i);
        idx[i] = hub_metrics_add_route(m, label);
        CHECK(idx[i] < HUB_METRICS_MAX_ROUTES);
        hub_metrics_observe(m, idx[i], 200, 1);
    }
    for (size_t i = 0; i + 1 < HUB_METRICS_MAX_ROUTES; ++i) /* the ones that fit have their own index */
        for (size_t j = 0; j != i; ++j)
            CHECK(idx[i] != idx[j]);
    text = render(m);
    for (size_t i = 0; i != HUB_METRICS_MAX_ROUTES + 3; ++i) {
        snprintf(series, sizeof(series), "hub_http_requests_total{route=\"/r%zu\",status=\"200\"}", i);
        double n = sample(text, series);
        CHECK(i + 1 < HUB_METRICS_MAX_ROUTES ? n == 1 : n == -1); /* no route's own label carries another's count */
    }
    double other = -1;
    for (const char *p = strstr(text, "hub_http_requests_total{route=\""); p != NULL;
         p = strstr(p + 1, "hub_http_requests_total{route=\""))
        if (strncmp(p + 31, "/r", 2) != 0) /* the catch-all's label */
            other = strtod(strchr(p, ' ') + 1, NULL);
    CHECK(other == 4); /* the last place and the three past it */
    free(text);
    hub_metrics_destroy(m);
}

static void test_counters(void)
{
    hub_metrics_t *m = hub_metrics_create();
    size_t a = hub_metrics_add_counter(m, "hub_a_total", "Things a."), b = hub_metrics_add_counter(m, "hub_b_total", "Things b.");

    CHECK(a == 0 && b == 1);
    hub_metrics_count(m, a, 3);
    hub_metrics_count(m, a, 4);
    hub_metrics_count(m, b, 0);
    hub_metrics_count(m, 2, 100);  /* not handed out: nothing counts it */
    hub_metrics_count(m, 99, 100); /* not even past the table */
    hub_metrics_inflight_add(m, 3);
    hub_metrics_inflight_add(m, -1);
    CHECK(hub_metrics_inflight(m) == 2);
    char *text = render(m);
    CHECK(strstr(text, "# HELP hub_a_total Things a.\n# TYPE hub_a_total counter\nhub_a_total 7\n") != NULL);
    CHECK(strstr(text, "# HELP hub_b_total Things b.\n# TYPE hub_b_total counter\nhub_b_total 0\n") != NULL);
    CHECK(sample(text, "hub_http_inflight_requests") == 2 && strstr(text, " 100\n") == NULL);
    free(text);
    hub_metrics_inflight_add(m, -2);
    CHECK(hub_metrics_inflight(m) == 0);
    hub_metrics_destroy(m);
}

/* One counter past HUB_METRICS_MAX_COUNTERS ends the process with a fatal line (a child's, here). */
static void test_counter_limit(void)
{
    int fds[2], status = 0;
    char out[512] = "";
    ssize_t n, got = 0;
    pid_t pid;

    CHECK(pipe(fds) == 0);
    if ((pid = fork()) == 0) {
        hub_metrics_t *m = hub_metrics_create();
        dup2(fds[1], 2);
        for (int i = 0; i != HUB_METRICS_MAX_COUNTERS; ++i)
            if (hub_metrics_add_counter(m, "hub_x_total", "X.") != (size_t)i)
                _exit(3);
        write(2, "full\n", 5);
        hub_metrics_add_counter(m, "hub_one_too_many_total", "X.");
        _exit(0); /* not reached */
    }
    close(fds[1]);
    while ((n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
        got += n;
    out[got] = '\0';
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strncmp(out, "full\n", 5) == 0 && strstr(out, "more than 16 metrics counters") != NULL);
}

#define NTHREADS 4
#define PER_THREAD 20000

static void *observer(void *arg)
{
    hub_metrics_t *m = arg;
    for (int i = 0; i != PER_THREAD; ++i) {
        hub_metrics_observe(m, (size_t)(i % 2), i % 3 == 0 ? 500 : 200, (uint64_t)(i % 7) * 1000);
        hub_metrics_count(m, 0, 1);
        hub_metrics_inflight_add(m, i % 2 == 0 ? 1 : -1);
    }
    return NULL;
}

static void test_threads(void)
{
    hub_metrics_t *m = hub_metrics_create();
    pthread_t tid[NTHREADS];
    char series[128];

    hub_metrics_add_route(m, "/even");
    hub_metrics_add_route(m, "/odd");
    hub_metrics_add_counter(m, "hub_seen_total", "Seen.");
    for (int i = 0; i != NTHREADS; ++i)
        CHECK(pthread_create(&tid[i], NULL, observer, m) == 0);
    for (int i = 0; i != NTHREADS; ++i)
        pthread_join(tid[i], NULL);
    char *text = render(m);
    unsigned fives = 0; /* i % 3 == 0 among the even (and the odd) i below PER_THREAD */
    for (int i = 0; i < PER_THREAD; i += 2)
        fives += i % 3 == 0;
    snprintf(series, sizeof(series), "hub_http_requests_total{route=\"/even\",status=\"500\"}");
    CHECK(sample(text, series) == (double)fives * NTHREADS);
    CHECK(sample(text, "hub_http_request_duration_seconds_count{route=\"/even\"}") == PER_THREAD / 2 * NTHREADS);
    CHECK(sample(text, "hub_http_request_duration_seconds_count{route=\"/odd\"}") == PER_THREAD / 2 * NTHREADS);
    CHECK(sample(text, "hub_seen_total") == PER_THREAD * NTHREADS);
    CHECK(sample(text, "hub_http_inflight_requests") == 0);
    free(text);
    hub_metrics_destroy(m);
}

int main(void)
{
    test_empty();
    test_statuses();
    test_histogram();
    test_route_table();
    test_counters();
    test_counter_limit();
    test_threads();
    return check_report("hub/metrics");
}
