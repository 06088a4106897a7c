/* Per-route request counters and latency histograms in Prometheus text format. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/metrics.h"
#include "hub/util.h"

/* Upper bounds of the latency buckets in microseconds (the last bucket is +Inf). */
static const uint64_t bucket_us[HUB_METRICS_BUCKETS] = {100,   250,   500,    1000,   2500,    5000,
                                                        10000, 25000, 100000, 250000, 1000000, 5000000};

typedef struct st_route_metrics_t {
    char *label; /* whole: two routes that differ only past any fixed length are two series */
    uint64_t status[600];
    uint64_t buckets[HUB_METRICS_BUCKETS + 1];
    uint64_t sum_us;
    uint64_t count;
} route_metrics_t;

typedef struct st_counter_t {
    const char *name, *help;
    uint64_t value;
} counter_t;

struct st_hub_metrics_t {
    route_metrics_t routes[HUB_METRICS_MAX_ROUTES];
    size_t nroutes;
    counter_t counters[HUB_METRICS_MAX_COUNTERS];
    size_t ncounters;
    long inflight;
};

hub_metrics_t *hub_metrics_create(void)
{
    hub_metrics_t *m = hub_xcalloc(1, sizeof(*m));
    return m;
}

void hub_metrics_destroy(hub_metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i != m->nroutes; ++i)
        free(m->routes[i].label);
    free(m);
}

size_t hub_metrics_add_route(hub_metrics_t *m, const char *label)
{
    size_t i;
    for (i = 0; i != m->nroutes; ++i)
        if (strcmp(m->routes[i].label, label) == 0)
            return i;
    /* the last place is the catch-all: what it counts is no one route's, so it carries none's label */
    if (m->nroutes == HUB_METRICS_MAX_ROUTES - 1)
        label = HUB_METRICS_OTHER;
    else if (m->nroutes == HUB_METRICS_MAX_ROUTES)
        return HUB_METRICS_MAX_ROUTES - 1;
    m->routes[m->nroutes].label = hub_strdup(label);
    return m->nroutes++;
}

void hub_metrics_observe(hub_metrics_t *m, size_t route, int status, uint64_t micros)
{
    route_metrics_t *r = &m->routes[route < m->nroutes ? route : 0];
    size_t b;

    if (status < 100 || status > 599)
        status = 0;
    __atomic_add_fetch(&r->status[status], 1, __ATOMIC_RELAXED);
    for (b = 0; b != HUB_METRICS_BUCKETS && micros > bucket_us[b]; ++b)
        ;
    __atomic_add_fetch(&r->buckets[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->sum_us, micros, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
}

size_t hub_metrics_add_counter(hub_metrics_t *m, const char *name, const char *help)
{
    if (m->ncounters == HUB_METRICS_MAX_COUNTERS)
        hub_fatal("more than %d metrics counters", HUB_METRICS_MAX_COUNTERS);
    m->counters[m->ncounters].name = name;
    m->counters[m->ncounters].help = help;
    return m->ncounters++;
}

void hub_metrics_count(hub_metrics_t *m, size_t counter, uint64_t n)
{
    if (counter < m->ncounters)
        __atomic_add_fetch(&m->counters[counter].value, n, __ATOMIC_RELAXED);
}

void hub_metrics_inflight_add(hub_metrics_t *m, int delta)
{
    __atomic_add_fetch(&m->inflight, delta, __ATOMIC_RELAXED);
}

long hub_metrics_inflight(hub_metrics_t *m)
{
    return __atomic_load_n(&m->inflight, __ATOMIC_RELAXED);
}

/* A growing text buffer; out of memory is fatal. */
typedef struct {
    char *buf;
    size_t len, cap;
} text_t;

static void text_printf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_t *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len)
            break;
        t->cap = t->cap * 2 + (size_t)n + 1;
        t->buf = hub_xrealloc(t->buf, t->cap);
    }
    t->len += n;
}

char *hub_metrics_render(hub_metrics_t *m, size_t *len)
{
    text_t t = {hub_xmalloc(4096), 0, 4096};
    size_t i, b;
    int s;

    text_printf(&t, "# HELP hub_http_requests_total HTTP requests by route and status.\n"
                    "# TYPE hub_http_requests_total counter\n");
    for (i = 0; i != m->nroutes; ++i)
        for (s = 0; s != 600; ++s) {
            uint64_t n = __atomic_load_n(&m->routes[i].status[s], __ATOMIC_RELAXED);
            if (n != 0)
                text_printf(&t, "hub_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->routes[i].label, s,
                            (unsigned long long)n);
        }
    text_printf(&t, "# HELP hub_http_request_duration_seconds Time from request start to response end.\n"
                    "# TYPE hub_http_request_duration_seconds histogram\n");
    for (i = 0; i != m->nroutes; ++i) {
        route_metrics_t *r = &m->routes[i];
        uint64_t cum = 0, count = __atomic_load_n(&r->count, __ATOMIC_RELAXED);
        if (count == 0)
            continue;
        for (b = 0; b != HUB_METRICS_BUCKETS; ++b) {
            cum += __atomic_load_n(&r->buckets[b], __ATOMIC_RELAXED);
            text_printf(&t, "hub_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", r->label, bucket_us[b] / 1e6,
                        (unsigned long long)cum);
        }
        cum += __atomic_load_n(&r->buckets[HUB_METRICS_BUCKETS], __ATOMIC_RELAXED);
        text_printf(&t, "hub_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", r->label,
                    (unsigned long long)cum);
        text_printf(&t, "hub_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", r->label,
                    __atomic_load_n(&r->sum_us, __ATOMIC_RELAXED) / 1e6);
        text_printf(&t, "hub_http_request_duration_seconds_count{route=\"%s\"} %llu\n", r->label, (unsigned long long)cum);
    }
    text_printf(&t,
                "# HELP hub_http_inflight_requests Requests being served.\n# TYPE hub_http_inflight_requests gauge\n"
                "hub_http_inflight_requests %ld\n",
                hub_metrics_inflight(m));
    for (i = 0; i != m->ncounters; ++i)
        text_printf(&t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", m->counters[i].name, m->counters[i].help, m->counters[i].name,
                    m->counters[i].name, (unsigned long long)__atomic_load_n(&m->counters[i].value, __ATOMIC_RELAXED));
    *len = t.len;
    return t.buf;
}
