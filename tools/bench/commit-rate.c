/* Bench helper, not a test: how many durable commits per second the store makes on this disk, each one
 * hub_store_write with one record the size of an authorization code's (and its expiry index entry), from N threads.
 * tools/bench/flows prints it next to the flows: one commit per request caps refresh grants and code flows there. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/store.h"

#define MAX_SAMPLES (1u << 22)

typedef struct st_worker_t {
    hub_store_t *store;
    double deadline;
    unsigned long commits, failures;
    double *lat; /* ms, the first MAX_SAMPLES / threads commits */
    size_t nlat, cap;
} worker_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One record like a code's: a 43-char hashed key, ~280 bytes of JSON, a 60 s expiry. */
static int put_one(hub_txn_t *txn, void *arg)
{
    static const char body[] = "{\"client_id\":\"bench-client-0000000000\",\"redirect_uri\":\"https://app.bench.example/cb\","
                               "\"sub\":\"bench-subject-000000\",\"sid\":\"bench-session-id-0000000000000000\","
                               "\"scope\":\"openid profile email roles\",\"nonce\":\"n\",\"family\":\"bench-family-000000000000"
                               "0000000\",\"auth_time\":1,\"used\":false}";
    char key[HUB_B64URL_LEN(32) + 1];

    (void)arg;
    hub_random_token(key, 32);
    return hub_store_put(txn, HUB_T_CODES, key, strlen(key), body, sizeof(body) - 1, hub_now() + 60, HUB_STORE_NOOVERWRITE);
}

static void *run(void *arg)
{
    worker_t *w = arg;
    double t0, t1;

    while ((t0 = now()) < w->deadline) {
        if (hub_store_write(w->store, put_one, NULL) != 0) {
            w->failures++;
            continue;
        }
        t1 = now();
        w->commits++;
        if (w->nlat < w->cap)
            w->lat[w->nlat++] = (t1 - t0) * 1000;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s -D DATA_DIR (created; use an empty scratch directory) [-t THREADS (default 1)] [-d SECONDS]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned threads = 1, i;
    double seconds = 5, start, elapsed;
    unsigned long commits = 0, failures = 0;
    double *all = NULL;
    size_t nall = 0;
    hub_store_t *store = NULL;
    pthread_t tids[64];
    worker_t w[64];
    int opt, ret;

    while ((opt = getopt(argc, argv, "D:t:d:h")) != -1) {
        char *end = NULL;
        unsigned long t;
        if (opt == 'D')
            dir = optarg;
        else if (opt == 't' && (t = strtoul(optarg, &end, 10)) > 0 && t <= 64 && *end == '\0')
            threads = (unsigned)t;
        else if (opt == 'd' && (seconds = strtod(optarg, &end)) > 0 && seconds <= 3600 && *end == '\0')
            continue;
        else
            return usage(argv[0]);
    }
    if (dir == NULL || optind != argc)
        return usage(argv[0]);
    if ((ret = hub_store_open(&store, dir)) != 0) {
        fprintf(stderr, "%s: cannot open a store in %s: %s\n", argv[0], dir, hub_strerror(ret));
        return 1;
    }
    if ((all = calloc(MAX_SAMPLES, sizeof(*all))) == NULL)
        return 1;
    start = now();
    for (i = 0; i != threads; ++i) {
        w[i] = (worker_t){
            .store = store, .deadline = start + seconds, .lat = all + i * (MAX_SAMPLES / threads), .cap = MAX_SAMPLES / threads};
        pthread_create(&tids[i], NULL, run, &w[i]);
    }
    for (i = 0; i != threads; ++i) {
        pthread_join(tids[i], NULL);
        commits += w[i].commits;
        failures += w[i].failures;
        memmove(all + nall, w[i].lat, w[i].nlat * sizeof(*all));
        nall += w[i].nlat;
    }
    elapsed = now() - start;
    qsort(all, nall, sizeof(*all), cmp_double);
    printf("threads %u seconds %.2f commits %lu rate %.1f p50_ms %.3f p99_ms %.3f failures %lu\n", threads, elapsed, commits,
           commits / elapsed, nall ? all[nall / 2] : 0.0, nall ? all[(size_t)(nall * 0.99)] : 0.0, failures);
    free(all);
    hub_store_close(store);
    return failures == 0 && commits > 0 ? 0 : 1;
}
