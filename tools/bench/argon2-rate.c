/* Bench helper, not a test: how many idp_password_verify calls (Argon2id, the parameters hubctl hashes with) N threads
 * complete per second together; tools/bench/signin compares the node's sign-ins per second with it. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include "hub/workpool.h"
#include "idp/password.h"

typedef struct {
    const char *hash;
    double deadline;
    unsigned long count;
} worker_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    while (now() < w->deadline) {
        (void)idp_password_verify(w->hash, "not the password", 16); /* a wrong password: the storm's case */
        ++w->count;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned threads = hub_cpu_count(), i;
    double seconds = 5, start, elapsed;
    unsigned long total = 0;
    char *hash = NULL;
    pthread_t *tids;
    worker_t *w;
    int opt;

    while ((opt = getopt(argc, argv, "t:d:h")) != -1) {
        char *end = NULL;
        unsigned long t;
        if (opt == 't' && (t = strtoul(optarg, &end, 10)) > 0 && t <= 1024 && *end == '\0')
            threads = (unsigned)t;
        else if (opt == 'd' && (seconds = strtod(optarg, &end)) > 0 && seconds <= 3600 && *end == '\0')
            continue;
        else {
            fprintf(stderr, "usage: %s [-t THREADS (default: the CPUs)] [-d SECONDS (default 5)]\n", argv[0]);
            return 2;
        }
    }
    if (idp_password_hash("the bench password", 18, &hash) != 0) {
        fprintf(stderr, "cannot hash\n");
        return 1;
    }
    (void)idp_password_dummy_hash(); /* made once, outside the measured time */
    tids = calloc(threads, sizeof(*tids));
    w = calloc(threads, sizeof(*w));
    if (tids == NULL || w == NULL)
        return 1;
    start = now();
    for (i = 0; i != threads; ++i) {
        w[i].hash = hash;
        w[i].deadline = start + seconds;
        pthread_create(&tids[i], NULL, run, &w[i]);
    }
    for (i = 0; i != threads; ++i) {
        pthread_join(tids[i], NULL);
        total += w[i].count;
    }
    elapsed = now() - start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    /* per CPU-second as well: what a core gives when other work shares the machine */
    printf("threads %u seconds %.2f verifications %lu rate %.1f cpu %.2f per_cpu_second %.1f\n", threads, elapsed, total,
           total / elapsed, cpu, cpu > 0 ? total / cpu : 0.0);
    free(hash);
    free(tids);
    free(w);
    return 0;
}
