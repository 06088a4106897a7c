/* The store's backends for the C tests: one test body runs on LMDB and on PostgreSQL. For PostgreSQL a throwaway server
 * (tests/support/pg-start and pg-stop, found through HUB_SOURCE_DIR) runs for the whole test program; each fresh store
 * is a new schema of its database. When the server cannot start the PostgreSQL run fails loudly: it is never skipped
 * (tools/bootstrap installs postgresql-15). */
#ifndef TESTS_SUPPORT_BACKEND_H
#define TESTS_SUPPORT_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <libpq-fe.h>
#include "hub/err.h"
#include "hub/store.h"

typedef struct st_test_backend_t {
    const char *name; /* "lmdb" or "postgresql" */
    int pg;
    char *tmp;          /* a temp dir of the test: LMDB stores, the server's dir */
    char server[300];   /* the server's dir (pg-start DIR) */
    char conninfo[300]; /* the server's database */
    char location[700]; /* the current store: LMDB's data dir, or a conninfo bound to the current schema */
    char data_dir[400]; /* node.data_dir of the current store (PostgreSQL: made, holds nothing of the store) */
    unsigned seq;
    int fresh; /* the next open creates the schema */
} test_backend_t;

/* Sets b up for the backend named name (PostgreSQL: starts the server). 0, or -1 after saying why on stderr. */
int test_backend_init(test_backend_t *b, const char *name);
/* Stops the server and removes everything b made. */
void test_backend_fini(test_backend_t *b);
/* Runs run(b) on each backend in turn (LMDB, then PostgreSQL), *current pointing at it meanwhile. Returns how many did not
 * start, for the caller's failure count (CI installs PostgreSQL: it is never skipped). */
int test_backend_each(test_backend_t **current, void (*run)(test_backend_t *b));

/* A new, empty store location for the next test_backend_open (LMDB: a new data dir; PostgreSQL: a new schema). */
int test_backend_fresh(test_backend_t *b);
/* Opens the current location through hub_store_open_config (as hubd does; the first open of a fresh PostgreSQL schema
 * creates it as hubctl init does). Returns the store's code; msg (may be NULL) gets its message. */
int test_backend_open(test_backend_t *b, hub_store_t **out, char *msg, size_t msgsize);
/* Records of table t in the current location, read past the store (-1 on error); expiring: only those with an
 * expiry (LMDB: its expiry index's entries, of every table when t is HUB_T__COUNT). The store must be closed for
 * LMDB. */
long test_backend_count(test_backend_t *b, hub_table_t t, int expiring);

/* Small store operations, each in one transaction of its own: key -> val (NUL-terminated text), key's value into buf
 * (NUL-terminated, cut to size), key deleted. They return the store's code. */
int test_put(hub_store_t *s, hub_table_t t, const char *key, const char *val, uint64_t exp, int flags);
int test_get(hub_store_t *s, hub_table_t t, const char *key, char *buf, size_t size);
int test_del(hub_store_t *s, hub_table_t t, const char *key);
/* TOKENS records fmt % i for i in [from, to), vlen bytes (at most 8192) made from the key, expiring at exp, in one write;
 * and how many of them read back with the right content (-1 when no read transaction began). */
int test_write_many(hub_store_t *s, const char *fmt, int from, int to, size_t vlen, uint64_t exp);
int test_verify_many(hub_store_t *s, const char *fmt, int from, int to, size_t vlen);

/* A child process that waits for a byte on go[0] (pipes made here), then exits with body(arg, done[0]); its pid. The
 * parent writes go[1] to start it, done[1] when body may finish; test_wait_child reaps it: its exit code (128 + signal
 * when killed, -1 on error). */
pid_t test_fork_child(int go[2], int done[2], int (*body)(void *arg, int done_fd), void *arg);
int test_wait_child(pid_t pid);

/* Fails the check of the calling test when expr is not want (the store's codes named). */
#define CHECK_RC(expr, want)                                                                                                       \
    do {                                                                                                                           \
        int rc_ = (expr);                                                                                                          \
        if (rc_ != (want)) {                                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, #expr, rc_, hub_strerror(rc_), (want));     \
            failures++;                                                                                                            \
        }                                                                                                                          \
    } while (0)

/* PostgreSQL: a connection to the current schema (the caller PQfinishes it), for statements past the store. */
PGconn *test_backend_sql(test_backend_t *b);
/* PostgreSQL: the server stopped (keep: its data stays for test_backend_restart) or started again. 0 or -1. */
int test_backend_stop(test_backend_t *b);
int test_backend_restart(test_backend_t *b);

#endif
