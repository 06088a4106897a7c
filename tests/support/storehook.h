/* The store's job hook (hub/reader.h) for the handler tests: every read or write job of a request (run on the store's
 * readers and writer, or in place) fails with an injected error, or waits at a gate inside its transaction until the
 * test opens it. Jobs outside the hook's reach (a store call made straight on a loop) see neither. */
#ifndef TESTS_SUPPORT_STOREHOOK_H
#define TESTS_SUPPORT_STOREHOOK_H

/* From now on, read jobs end with read_err and write jobs with write_err (0: they run); installs the hook. */
void test_store_fail(int read_err, int write_err);

/* From now on, read jobs wait at the gate inside their transaction (on a reader: a job run in place would block its own
 * loop, so hold only with readers); installs the hook. */
void test_store_hold_reads(void);
/* The same for write jobs (inside the writer's batch: hold only with the store's writer). */
void test_store_hold_writes(void);

/* Waits (at most ms, without running any loop) until n jobs wait at the gate; 1 when they do. */
int test_store_wait_held(int n, unsigned ms);

/* Opens the gate and removes the hook: jobs run as usual again. */
void test_store_hook_off(void);

/* The number of jobs the hook saw since it was installed: reads and writes. */
void test_store_hook_seen(int *reads, int *writes);

#endif
