/* Tests hub/store.c on both backends (LMDB, PostgreSQL): records, expiry and sweeping, two processes, the schema
 * version, counters, JSON. LMDB's map and files: tests/hub/store_lmdb.c; transactions under concurrency:
 * tests/hub/store_txn.c; PostgreSQL's schema and connection: tests/hub/store_pg.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "tests/check.h"
#include "tests/support/backend.h"

static test_backend_t *B; /* the backend of this run */

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A new empty store of the backend. */
static int open_fresh(hub_store_t **s)
{
    *s = NULL;
    return test_backend_fresh(B) != 0 ? HUB_E_IO : test_backend_open(B, s, NULL, 0);
}

static int fail_fn(hub_txn_t *txn, void *arg)
{
    hub_store_put(txn, HUB_T_USERS, "aborted", 7, "x", 1, 0, 0);
    return HUB_E_DENIED;
}

static int nested_fn(hub_txn_t *txn, void *arg)
{
    hub_store_t *s = arg;
    hub_txn_t *r;
    int rc;

    CHECK_RC(hub_store_write(s, fail_fn, NULL), HUB_E_BUSY);
    /* a read txn inside a write txn is allowed */
    if ((rc = hub_store_read_begin(s, &r)) != 0)
        return rc;
    hub_store_read_end(r);
    return 0;
}

static void test_basic(void)
{
    char path[600], buf[64];
    hub_store_t *s = NULL;
    hub_txn_t *txn;
    hub_val_t v;
    char longkey[600];
    struct stat st;

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    /* the data dir is made, mode 0700, whatever the backend; LMDB's files are 0600 */
    CHECK(stat(B->data_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/data.mdb", B->data_dir);
    CHECK(B->pg ? stat(path, &st) != 0 : stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(hub_store_reads_inline(s) == !B->pg);

    CHECK_RC(test_put(s, HUB_T_USERS, "alice", "A1", 0, 0), 0);
    CHECK_RC(test_get(s, HUB_T_USERS, "alice", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "A1") == 0);
    CHECK_RC(test_get(s, HUB_T_CLIENTS, "alice", buf, sizeof(buf)), HUB_E_NOTFOUND); /* tables are separate */
    CHECK_RC(test_put(s, HUB_T_USERS, "alice", "A2", 0, HUB_STORE_NOOVERWRITE), HUB_E_EXISTS);
    CHECK_RC(test_put(s, HUB_T_USERS, "alice", "A3", 0, 0), 0);
    CHECK_RC(test_get(s, HUB_T_USERS, "alice", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "A3") == 0);
    CHECK_RC(test_put(s, HUB_T_USERS, "bob", "", 0, HUB_STORE_NOOVERWRITE), 0); /* empty value */
    CHECK_RC(test_get(s, HUB_T_USERS, "bob", buf, sizeof(buf)), 0);
    CHECK(buf[0] == '\0');
    CHECK_RC(test_del(s, HUB_T_USERS, "bob"), 0);
    CHECK_RC(test_del(s, HUB_T_USERS, "bob"), HUB_E_NOTFOUND);
    CHECK_RC(test_get(s, HUB_T_USERS, "bob", buf, sizeof(buf)), HUB_E_NOTFOUND);

    /* key limits */
    CHECK_RC(test_put(s, HUB_T_USERS, "", "x", 0, 0), HUB_E_INVAL);
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK_RC(test_put(s, HUB_T_USERS, longkey, "x", 0, 0), HUB_E_TOOBIG);
    longkey[500] = '\0';
    CHECK_RC(test_put(s, HUB_T_USERS, longkey, "x", 12345, 0), 0);

    /* a failing fn aborts everything it did; nested writes are refused */
    CHECK_RC(hub_store_write(s, fail_fn, NULL), HUB_E_DENIED);
    CHECK_RC(test_get(s, HUB_T_USERS, "aborted", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(hub_store_write(s, nested_fn, s), 0);

    /* read transactions reject writes */
    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    CHECK_RC(hub_store_put(txn, HUB_T_USERS, "carol", 5, "C", 1, 0, 0), HUB_E_INVAL);
    CHECK_RC(hub_store_del(txn, HUB_T_USERS, "alice", 5), HUB_E_INVAL);
    CHECK_RC(hub_store_bump(txn, "gen:x", NULL), HUB_E_INVAL);
    CHECK_RC(hub_store_get(txn, HUB_T_USERS, "carol", 5, &v), HUB_E_NOTFOUND);
    hub_store_read_end(txn);

    /* persistence across close/reopen */
    hub_store_close(s);
    s = NULL;
    CHECK_RC(test_backend_open(B, &s, NULL, 0), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(test_get(s, HUB_T_USERS, "alice", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "A3") == 0);
out:
    hub_store_close(s);
    hub_store_close(NULL);
}

struct collect {
    char keys[16][32];
    int n, stop_after;
};

static int collect_cb(void *arg, hub_val_t key, hub_val_t val)
{
    struct collect *c = arg;

    if (c->n < 16 && key.len < 32) {
        memcpy(c->keys[c->n], key.data, key.len);
        c->keys[c->n][key.len] = '\0';
    }
    c->n++;
    if (c->stop_after != 0 && c->n == c->stop_after)
        return 7;
    return 0;
}

static void test_each(void)
{
    hub_store_t *s = NULL;
    hub_txn_t *txn = NULL;
    struct collect c;
    uint64_t now = hub_now();

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(test_put(s, HUB_T_SESSIONS, "a:2", "2", 0, 0), 0);
    CHECK_RC(test_put(s, HUB_T_SESSIONS, "a:1", "1", now + 1000, 0), 0);
    CHECK_RC(test_put(s, HUB_T_SESSIONS, "a:0", "0", now - 5, 0), 0); /* expired: skipped */
    CHECK_RC(test_put(s, HUB_T_SESSIONS, "a:3", "3", 0, 0), 0);
    CHECK_RC(test_put(s, HUB_T_SESSIONS, "b:1", "4", 0, 0), 0);
    CHECK_RC(test_put(s, HUB_T_SESSIONS, "a", "5", 0, 0), 0); /* shorter than the prefix */

    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    if (txn == NULL)
        goto out;
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each(txn, HUB_T_SESSIONS, "a:", 2, collect_cb, &c), 0);
    CHECK(c.n == 3);
    CHECK(strcmp(c.keys[0], "a:1") == 0 && strcmp(c.keys[1], "a:2") == 0 && strcmp(c.keys[2], "a:3") == 0);

    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    CHECK_RC(hub_store_each(txn, HUB_T_SESSIONS, "a:", 2, collect_cb, &c), 7);
    CHECK(c.n == 2);

    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each(txn, HUB_T_SESSIONS, NULL, 0, collect_cb, &c), 0);
    CHECK(c.n == 5);
    CHECK(strcmp(c.keys[0], "a") == 0 && strcmp(c.keys[4], "b:1") == 0);

    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each(txn, HUB_T_SESSIONS, "c", 1, collect_cb, &c), 0);
    CHECK(c.n == 0);

    /* each_from: a page starts at a key, nothing before it is read; a walk goes on after K from K + NUL */
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each_from(txn, HUB_T_SESSIONS, "a:", 2, "a:2", 3, collect_cb, &c), 0);
    CHECK(c.n == 2 && strcmp(c.keys[0], "a:2") == 0 && strcmp(c.keys[1], "a:3") == 0);
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each_from(txn, HUB_T_SESSIONS, "a:", 2, "a:2", 4, collect_cb, &c), 0); /* "a:2\0": past a:2 */
    CHECK(c.n == 1 && strcmp(c.keys[0], "a:3") == 0);
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each_from(txn, HUB_T_SESSIONS, NULL, 0, "a:3", 4, collect_cb, &c), 0); /* no prefix: to the end */
    CHECK(c.n == 1 && strcmp(c.keys[0], "b:1") == 0);
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each_from(txn, HUB_T_SESSIONS, "a:", 2, "b", 1, collect_cb, &c), HUB_E_INVAL); /* outside the prefix */
    CHECK_RC(hub_store_each_from(txn, HUB_T_SESSIONS, "a:", 2, "a", 1, collect_cb, &c), HUB_E_INVAL);
    CHECK(c.n == 0);
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each_from(txn, HUB_T_SESSIONS, "a:", 2, "a:9", 3, collect_cb, &c), 0);
    CHECK(c.n == 0);
    memset(&c, 0, sizeof(c));
    CHECK_RC(hub_store_each(txn, HUB_T_CODES, NULL, 0, collect_cb, &c), 0);
    CHECK(c.n == 0);
out:
    hub_store_read_end(txn);
    hub_store_close(s);
}

static void test_expiry(void)
{
    char buf[64];
    hub_store_t *s = NULL;
    hub_txn_t *txn = NULL;
    uint64_t now = hub_now(), exp;
    size_t removed = 99;

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(test_put(s, HUB_T_CODES, "past", "p", now - 10, 0), 0);
    CHECK_RC(test_put(s, HUB_T_CODES, "future", "f", now + 1000, 0), 0);
    CHECK_RC(test_put(s, HUB_T_CODES, "never", "n", 0, 0), 0);
    CHECK_RC(test_get(s, HUB_T_CODES, "past", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(test_get(s, HUB_T_CODES, "future", buf, sizeof(buf)), 0);
    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    if (txn != NULL) {
        CHECK_RC(hub_store_expiry(txn, HUB_T_CODES, "past", 4, &exp), HUB_E_NOTFOUND);
        CHECK_RC(hub_store_expiry(txn, HUB_T_CODES, "future", 6, &exp), 0);
        CHECK(exp == now + 1000);
        CHECK_RC(hub_store_expiry(txn, HUB_T_CODES, "never", 5, &exp), 0);
        CHECK(exp == 0);
        hub_store_read_end(txn);
    }
    /* an expired key is absent for NOOVERWRITE, and can be deleted only as "not found" */
    CHECK_RC(test_put(s, HUB_T_CODES, "past2", "x", now - 3, 0), 0);
    CHECK_RC(test_put(s, HUB_T_CODES, "past2", "y", now - 2, HUB_STORE_NOOVERWRITE), 0);
    CHECK_RC(test_del(s, HUB_T_CODES, "past2"), HUB_E_NOTFOUND);

    /* many expired records: the sweep runs in several batches */
    CHECK_RC(test_write_many(s, "old%05d", 0, 1000, 16, now - 1), 0);
    CHECK_RC(hub_store_sweep(s, now, &removed), 0);
    CHECK(removed == 1002); /* 1000 + "past" + "past2" (its del failed, so that write rolled back) */
    CHECK_RC(test_get(s, HUB_T_CODES, "future", buf, sizeof(buf)), 0);
    CHECK_RC(hub_store_sweep(s, now, &removed), 0);
    CHECK(removed == 0);
    CHECK_RC(hub_store_sweep(s, now + 1000, &removed), 0); /* "at or before now" */
    CHECK(removed == 1);
    CHECK_RC(hub_store_sweep(s, now + 1000000, NULL), 0);
    hub_store_close(s);
    s = NULL;
    CHECK(test_backend_count(B, HUB_T_CODES, 0) == 1); /* "never" */
    CHECK(test_backend_count(B, HUB_T_TOKENS, 0) == 0);
    CHECK(test_backend_count(B, HUB_T__COUNT, 1) == 0);
out:
    hub_store_close(s);
}

static void test_index_overwrite(void)
{
    char buf[64];
    hub_store_t *s = NULL;
    uint64_t now = hub_now();
    size_t removed = 99;

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k1", "a", now + 100, 0), 0);
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k1", "b", now + 300, 0), 0); /* moves the index entry */
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k2", "a", now + 100, 0), 0);
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k2", "b", 0, 0), 0); /* drops the index entry */
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k3", "a", now + 100, 0), 0);
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k3", "b", now + 100, 0), 0); /* same expiry: one entry */
    CHECK_RC(test_put(s, HUB_T_REFRESH, "k4", "a", now + 100, 0), 0);
    CHECK_RC(test_del(s, HUB_T_REFRESH, "k4"), 0); /* del drops the index entry */
    hub_store_close(s);
    s = NULL;
    CHECK(test_backend_count(B, HUB_T__COUNT, 1) == 2); /* k1@+300, k3@+100 */
    CHECK(test_backend_count(B, HUB_T_REFRESH, 0) == 3);

    CHECK_RC(test_backend_open(B, &s, NULL, 0), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_sweep(s, now + 200, &removed), 0);
    CHECK(removed == 1); /* k3 only: k1 was rewritten */
    CHECK_RC(test_get(s, HUB_T_REFRESH, "k1", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "b") == 0);
    CHECK_RC(test_get(s, HUB_T_REFRESH, "k2", buf, sizeof(buf)), 0);
    CHECK_RC(test_get(s, HUB_T_REFRESH, "k3", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(hub_store_sweep(s, now + 400, &removed), 0);
    CHECK(removed == 1);
    hub_store_close(s);
    s = NULL;
    CHECK(test_backend_count(B, HUB_T__COUNT, 1) == 0);
    CHECK(test_backend_count(B, HUB_T_REFRESH, 0) == 1);
out:
    hub_store_close(s);
}

static int child_fail(const char *what)
{
    fprintf(stderr, "FAIL child: %s\n", what);
    return 1;
}

#define CONC_BATCHES 60
#define CONC_PER 20
#define CONC_VLEN 5000

static int child_concurrent(void *arg, int done_fd)
{
    hub_store_t *s = NULL;
    int rc = 0, n = CONC_BATCHES * CONC_PER;
    char c;

    if (test_backend_open(B, &s, NULL, 0) != 0)
        return child_fail("open");
    for (int b = 0; b < CONC_BATCHES && rc == 0; b++) {
        if (test_write_many(s, "c%05d", b * CONC_PER, (b + 1) * CONC_PER, CONC_VLEN, 0) != 0)
            rc = child_fail("write");
        if (test_verify_many(s, "p%05d", 0, n, 100) < 0)
            rc = child_fail("read");
    }
    /* wait for the parent to finish writing, then check both sets */
    if (read(done_fd, &c, 1) != 1)
        rc = child_fail("sync");
    if (rc == 0 && test_verify_many(s, "c%05d", 0, n, CONC_VLEN) != n)
        rc = child_fail("own records");
    if (rc == 0 && test_verify_many(s, "p%05d", 0, n, 100) != n)
        rc = child_fail("parent records");
    hub_store_close(s);
    return rc;
}

/* Two processes write and read one store at once (LMDB: the child grows the map as it goes): each sees the other's
 * transactions whole, never going back. */
static void test_two_processes(void)
{
    hub_store_t *s = NULL;
    int go[2], done[2], n = CONC_BATCHES * CONC_PER, last = 0;
    pid_t pid;

    CHECK(test_backend_fresh(B) == 0);
    pid = test_fork_child(go, done, child_concurrent, NULL); /* before the parent opens: nothing of it is copied */
    if (test_backend_open(B, &s, NULL, 0) != 0) {
        CHECK(!"the store opens");
        kill(pid, SIGKILL);
        test_wait_child(pid);
        return;
    }
    CHECK(write(go[1], "g", 1) == 1);
    for (int b = 0; b < CONC_BATCHES; b++) {
        int seen;
        CHECK_RC(test_write_many(s, "p%05d", b * CONC_PER, (b + 1) * CONC_PER, 100, 0), 0);
        seen = test_verify_many(s, "c%05d", 0, n, CONC_VLEN);
        CHECK(seen >= last && seen % CONC_PER == 0); /* whole transactions only, never going back */
        last = seen;
    }
    CHECK(write(done[1], "d", 1) == 1);
    CHECK(test_wait_child(pid) == 0);
    close(go[1]);
    close(done[1]);
    CHECK(test_verify_many(s, "c%05d", 0, n, CONC_VLEN) == n);
    CHECK(test_verify_many(s, "p%05d", 0, n, 100) == n);
    hub_store_close(s);
}

static int version_fn(hub_txn_t *txn, void *arg)
{
    unsigned char v[8] = {0, 0, 0, 0, 0, 0, 0, HUB_STORE_SCHEMA_VERSION + 1};
    return hub_store_put(txn, HUB_T_META, "schema_version", 14, v, sizeof(v), 0, 0);
}

static void test_version(void)
{
    hub_store_t *s = NULL;

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_write(s, version_fn, NULL), 0);
    hub_store_close(s);
    s = (hub_store_t *)1;
    CHECK_RC(test_backend_open(B, &s, NULL, 0), HUB_E_VERSION);
    CHECK(s == NULL);
out:
    hub_store_close(s);
}

static int bump_fn(hub_txn_t *txn, void *arg)
{
    return hub_store_bump(txn, "gen:keys", arg);
}

static void test_counters(void)
{
    hub_store_t *s = NULL;
    hub_txn_t *txn;
    uint64_t v = 0;

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    CHECK(hub_store_counter(txn, "gen:keys") == 0);
    hub_store_read_end(txn);
    CHECK_RC(hub_store_write(s, bump_fn, &v), 0);
    CHECK(v == 1);
    CHECK_RC(hub_store_write(s, bump_fn, &v), 0);
    CHECK_RC(hub_store_write(s, bump_fn, NULL), 0);
    CHECK(v == 2);
    hub_store_close(s);
    CHECK_RC(test_backend_open(B, &s, NULL, 0), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    CHECK(hub_store_counter(txn, "gen:keys") == 3);
    CHECK(hub_store_counter(txn, "gen:other") == 0);
    hub_store_read_end(txn);
out:
    hub_store_close(s);
}

static int json_fn(hub_txn_t *txn, void *arg)
{
    json_t *obj = json_pack("{s:i, s:s, s:[i,i]}", "a", 1, "b", "x", "c", 1, 2), *arr = json_array();
    int rc;

    CHECK_RC(hub_store_put_json(txn, HUB_T_CLIENTS, "arr", arr, 0, 0), HUB_E_INVAL);
    rc = hub_store_put_json(txn, HUB_T_CLIENTS, "c1", obj, 0, 0);
    if (rc == 0)
        CHECK_RC(hub_store_put_json(txn, HUB_T_CLIENTS, "c1", obj, 0, HUB_STORE_NOOVERWRITE), HUB_E_EXISTS);
    json_decref(obj);
    json_decref(arr);
    return rc;
}

static void test_json(void)
{
    char buf[64];
    hub_store_t *s = NULL;
    hub_txn_t *txn = NULL;
    json_t *obj = NULL, *want = json_pack("{s:i, s:s, s:[i,i]}", "a", 1, "b", "x", "c", 1, 2);

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_write(s, json_fn, NULL), 0);
    CHECK_RC(test_get(s, HUB_T_CLIENTS, "c1", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "{\"a\":1,\"b\":\"x\",\"c\":[1,2]}") == 0);
    CHECK_RC(test_put(s, HUB_T_CLIENTS, "bad", "not json", 0, 0), 0);
    CHECK_RC(test_put(s, HUB_T_CLIENTS, "list", "[1,2]", 0, 0), 0);
    CHECK_RC(test_put(s, HUB_T_CLIENTS, "empty", "", 0, 0), 0);

    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    if (txn == NULL)
        goto out;
    CHECK_RC(hub_store_get_json(txn, HUB_T_CLIENTS, "c1", &obj), 0);
    CHECK(obj != NULL && json_equal(obj, want));
    json_decref(obj);
    obj = NULL;
    CHECK_RC(hub_store_get_json(txn, HUB_T_CLIENTS, "bad", &obj), HUB_E_PARSE);
    CHECK(obj == NULL);
    CHECK_RC(hub_store_get_json(txn, HUB_T_CLIENTS, "list", &obj), HUB_E_PARSE);
    CHECK_RC(hub_store_get_json(txn, HUB_T_CLIENTS, "empty", &obj), HUB_E_PARSE);
    CHECK_RC(hub_store_get_json(txn, HUB_T_CLIENTS, "missing", &obj), HUB_E_NOTFOUND);
out:
    hub_store_read_end(txn);
    json_decref(want);
    hub_store_close(s);
}

static void test_sweeper(void)
{
    hub_store_t *s = NULL;
    uint64_t now = hub_now();
    double t0;

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_start_sweeper(s, 0), HUB_E_INVAL);
    CHECK_RC(hub_store_start_sweeper(s, 1), 0);
    CHECK_RC(hub_store_start_sweeper(s, 1), HUB_E_EXISTS);
    CHECK_RC(test_put(s, HUB_T_FED_STATES, "s1", "x", now - 1, 0), 0);
    CHECK_RC(test_put(s, HUB_T_FED_STATES, "s2", "y", now + 1000, 0), 0);
    usleep(1300 * 1000);
    t0 = mono_now();
    hub_store_close(s);
    s = NULL;
    CHECK(mono_now() - t0 < 0.5); /* close wakes the sleeping sweeper */
    CHECK(test_backend_count(B, HUB_T_FED_STATES, 0) == 1);
    CHECK(test_backend_count(B, HUB_T__COUNT, 1) == 1);
out:
    hub_store_close(s);
}

/* The sweeper thread sweeps batch after batch, with pauses between them (hub/store.c sweep_paced): every full batch
 * of expired records goes, then the last, partial one; a record that lives on stays. */
static void test_sweeper_batches(void)
{
    hub_store_t *s = NULL;
    uint64_t now = hub_now(), c0;
    unsigned batches = B->pg ? 3 : 11; /* 2,600 records in batches of 1,000 (PostgreSQL) or 256 (LMDB) */

    CHECK_RC(open_fresh(&s), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(test_write_many(s, "old%05d", 0, 2600, 100, now - 1), 0);
    CHECK_RC(test_put(s, HUB_T_TOKENS, "live", "x", now + 1000, 0), 0);
    c0 = hub_store_commits(s);
    CHECK_RC(hub_store_start_sweeper(s, 1), 0);
    for (int i = 0; i != 600 && hub_store_commits(s) - c0 < batches; ++i) /* at most 60 s */
        usleep(100 * 1000);
    CHECK(hub_store_commits(s) - c0 >= batches); /* a later sweep (every second) may have committed too */
    hub_store_close(s);
    s = NULL;
    CHECK(test_backend_count(B, HUB_T_TOKENS, 0) == 1); /* "live" */
    CHECK(test_backend_count(B, HUB_T__COUNT, 1) == 1);
out:
    hub_store_close(s);
}

static void run_all(test_backend_t *b)
{
    test_basic();
    test_each();
    test_expiry();
    test_index_overwrite();
    test_two_processes();
    test_version();
    test_counters();
    test_json();
    test_sweeper();
    test_sweeper_batches();
}

int main(void)
{
    failures += test_backend_each(&B, run_all);
    return check_report("hub/store");
}
