/* The store job hook of the handler tests (tests/support/storehook.h). */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "hub/reader.h"
#include "tests/support/storehook.h"

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int fail_read, fail_write, hold[2], waiting, seen[2];

static int hook(void *ctx, int is_write)
{
    int ret;

    pthread_mutex_lock(&mutex);
    ++seen[is_write != 0];
    ++waiting;
    while (hold[is_write != 0])
        pthread_cond_wait(&cond, &mutex);
    --waiting;
    ret = is_write ? fail_write : fail_read;
    pthread_mutex_unlock(&mutex);
    return ret;
}

static void install(int read_err, int write_err, int hold_reads, int hold_writes)
{
    pthread_mutex_lock(&mutex);
    fail_read = read_err;
    fail_write = write_err;
    hold[0] = hold_reads;
    hold[1] = hold_writes;
    seen[0] = seen[1] = 0;
    pthread_mutex_unlock(&mutex);
    hub_store_set_hook(hook, NULL);
}

void test_store_fail(int read_err, int write_err)
{
    install(read_err, write_err, 0, 0);
}

void test_store_hold_reads(void)
{
    install(0, 0, 1, 0);
}

void test_store_hold_writes(void)
{
    install(0, 0, 0, 1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int test_store_wait_held(int n, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    int got;

    for (;;) {
        pthread_mutex_lock(&mutex);
        got = waiting;
        pthread_mutex_unlock(&mutex);
        if (got >= n || now_ms() >= end)
            return got >= n;
        usleep(1000);
    }
}

void test_store_hook_off(void)
{
    pthread_mutex_lock(&mutex);
    hold[0] = hold[1] = fail_read = fail_write = 0;
    pthread_cond_broadcast(&cond);
    while (waiting != 0) { /* a job at the gate leaves it before the hook goes */
        pthread_mutex_unlock(&mutex);
        usleep(1000);
        pthread_mutex_lock(&mutex);
    }
    pthread_mutex_unlock(&mutex);
    hub_store_set_hook(NULL, NULL);
}

void test_store_hook_seen(int *reads, int *writes)
{
    pthread_mutex_lock(&mutex);
    *reads = seen[0];
    *writes = seen[1];
    pthread_mutex_unlock(&mutex);
}
