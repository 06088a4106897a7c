/* Tests for hub/store.c: records, expiry and sweeping, map growth, two processes, schema version, counters, JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <lmdb.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

#define CHECK_RC(expr, want)                                                                                                       \
    do {                                                                                                                           \
        int rc_ = (expr);                                                                                                          \
        if (rc_ != (want)) {                                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, #expr, rc_, hub_strerror(rc_), (want));     \
            failures++;                                                                                                            \
        }                                                                                                                          \
    } while (0)

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Entries in a named database, read with raw LMDB after the store was closed (-1 on error). */
static long raw_entries(const char *dir, const char *name)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_stat st;
    long n = -1;

    if (mdb_env_create(&env) != 0)
        return -1;
    mdb_env_set_maxdbs(env, 64);
    if (mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
        goto out;
    if (mdb_dbi_open(txn, name, 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0)
        n = (long)st.ms_entries;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* A write function driven by a small script of puts. */
struct put_args {
    hub_table_t t;
    const char *key;
    const void *val;
    size_t vlen;
    uint64_t exp;
    int flags;
};

static int put_fn(hub_txn_t *txn, void *arg)
{
    struct put_args *a = arg;
    return hub_store_put(txn, a->t, a->key, strlen(a->key), a->val, a->vlen, a->exp, a->flags);
}

static int put1(hub_store_t *s, hub_table_t t, const char *key, const char *val, uint64_t exp, int flags)
{
    struct put_args a = {t, key, val, strlen(val), exp, flags};
    return hub_store_write(s, put_fn, &a);
}

struct del_args {
    hub_table_t t;
    const char *key;
};

static int del_fn(hub_txn_t *txn, void *arg)
{
    struct del_args *a = arg;
    return hub_store_del(txn, a->t, a->key, strlen(a->key));
}

static int del1(hub_store_t *s, hub_table_t t, const char *key)
{
    struct del_args a = {t, key};
    return hub_store_write(s, del_fn, &a);
}

/* Reads key into buf (NUL-terminated); returns the store's code. */
static int get1(hub_store_t *s, hub_table_t t, const char *key, char *buf, size_t size)
{
    hub_txn_t *txn;
    hub_val_t v;
    int rc;

    if ((rc = hub_store_read_begin(s, &txn)) != 0)
        return rc;
    if ((rc = hub_store_get(txn, t, key, strlen(key), &v)) == 0) {
        size_t n = v.len < size - 1 ? v.len : size - 1;
        memcpy(buf, v.data, n);
        buf[n] = '\0';
    }
    hub_store_read_end(txn);
    return rc;
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
    char *dir = test_tmpdir("store"), sub[256], path[300], buf[64];
    hub_store_t *s = NULL;
    hub_txn_t *txn;
    hub_val_t v;
    char longkey[600];
    struct stat st;

    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    CHECK_RC(hub_store_open(&s, sub), 0);
    if (s == NULL)
        goto out;
    CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);
    snprintf(path, sizeof(path), "%s/data.mdb", sub);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

    CHECK_RC(put1(s, HUB_T_USERS, "alice", "A1", 0, 0), 0);
    CHECK_RC(get1(s, HUB_T_USERS, "alice", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "A1") == 0);
    CHECK_RC(get1(s, HUB_T_CLIENTS, "alice", buf, sizeof(buf)), HUB_E_NOTFOUND); /* tables are separate */
    CHECK_RC(put1(s, HUB_T_USERS, "alice", "A2", 0, HUB_STORE_NOOVERWRITE), HUB_E_EXISTS);
    CHECK_RC(put1(s, HUB_T_USERS, "alice", "A3", 0, 0), 0);
    CHECK_RC(get1(s, HUB_T_USERS, "alice", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "A3") == 0);
    CHECK_RC(put1(s, HUB_T_USERS, "bob", "", 0, HUB_STORE_NOOVERWRITE), 0); /* empty value */
    CHECK_RC(get1(s, HUB_T_USERS, "bob", buf, sizeof(buf)), 0);
    CHECK(buf[0] == '\0');
    CHECK_RC(del1(s, HUB_T_USERS, "bob"), 0);
    CHECK_RC(del1(s, HUB_T_USERS, "bob"), HUB_E_NOTFOUND);
    CHECK_RC(get1(s, HUB_T_USERS, "bob", buf, sizeof(buf)), HUB_E_NOTFOUND);

    /* key limits */
    CHECK_RC(put1(s, HUB_T_USERS, "", "x", 0, 0), HUB_E_INVAL);
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK_RC(put1(s, HUB_T_USERS, longkey, "x", 0, 0), HUB_E_TOOBIG);
    longkey[500] = '\0';
    CHECK_RC(put1(s, HUB_T_USERS, longkey, "x", 12345, 0), 0);

    /* a failing fn aborts everything it did; nested writes are refused */
    CHECK_RC(hub_store_write(s, fail_fn, NULL), HUB_E_DENIED);
    CHECK_RC(get1(s, HUB_T_USERS, "aborted", buf, sizeof(buf)), HUB_E_NOTFOUND);
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
    CHECK_RC(hub_store_open(&s, sub), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(get1(s, HUB_T_USERS, "alice", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "A3") == 0);
out:
    hub_store_close(s);
    hub_store_close(NULL);
    CHECK(test_tmpdir_remove(dir) == 0);
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
    char *dir = test_tmpdir("store");
    hub_store_t *s = NULL;
    hub_txn_t *txn = NULL;
    struct collect c;
    uint64_t now = hub_now();

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(put1(s, HUB_T_SESSIONS, "a:2", "2", 0, 0), 0);
    CHECK_RC(put1(s, HUB_T_SESSIONS, "a:1", "1", now + 1000, 0), 0);
    CHECK_RC(put1(s, HUB_T_SESSIONS, "a:0", "0", now - 5, 0), 0); /* expired: skipped */
    CHECK_RC(put1(s, HUB_T_SESSIONS, "a:3", "3", 0, 0), 0);
    CHECK_RC(put1(s, HUB_T_SESSIONS, "b:1", "4", 0, 0), 0);
    CHECK_RC(put1(s, HUB_T_SESSIONS, "a", "5", 0, 0), 0); /* shorter than the prefix */

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
    CHECK(test_tmpdir_remove(dir) == 0);
}

struct many_args {
    const char *fmt;
    int from, to;
    size_t vlen;
    uint64_t exp;
};

static void fill_value(char *buf, size_t len, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < len; i++)
        buf[i] = key[i % klen] ^ (char)(i * 31);
}

static int many_fn(hub_txn_t *txn, void *arg)
{
    struct many_args *a = arg;
    char key[32], val[8192];
    int rc;

    for (int i = a->from; i < a->to; i++) {
        snprintf(key, sizeof(key), a->fmt, i);
        fill_value(val, a->vlen, key);
        if ((rc = hub_store_put(txn, HUB_T_TOKENS, key, strlen(key), val, a->vlen, a->exp, 0)) != 0)
            return rc;
    }
    return 0;
}

static int write_many(hub_store_t *s, const char *fmt, int from, int to, size_t vlen, uint64_t exp)
{
    struct many_args a = {fmt, from, to, vlen, exp};
    return hub_store_write(s, many_fn, &a);
}

/* Counts how many of fmt[from,to) read back with the right content (live ones only). */
static int verify_many(hub_store_t *s, const char *fmt, int from, int to, size_t vlen)
{
    hub_txn_t *txn;
    hub_val_t v;
    char key[32], val[8192];
    int ok = 0;

    if (hub_store_read_begin(s, &txn) != 0)
        return -1;
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof(key), fmt, i);
        fill_value(val, vlen, key);
        if (hub_store_get(txn, HUB_T_TOKENS, key, strlen(key), &v) == 0 && v.len == vlen && memcmp(v.data, val, vlen) == 0)
            ok++;
    }
    hub_store_read_end(txn);
    return ok;
}

static void test_expiry(void)
{
    char *dir = test_tmpdir("store"), buf[64];
    hub_store_t *s = NULL;
    hub_txn_t *txn = NULL;
    uint64_t now = hub_now(), exp;
    size_t removed = 99;

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(put1(s, HUB_T_CODES, "past", "p", now - 10, 0), 0);
    CHECK_RC(put1(s, HUB_T_CODES, "future", "f", now + 1000, 0), 0);
    CHECK_RC(put1(s, HUB_T_CODES, "never", "n", 0, 0), 0);
    CHECK_RC(get1(s, HUB_T_CODES, "past", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(get1(s, HUB_T_CODES, "future", buf, sizeof(buf)), 0);
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
    CHECK_RC(put1(s, HUB_T_CODES, "past2", "x", now - 3, 0), 0);
    CHECK_RC(put1(s, HUB_T_CODES, "past2", "y", now - 2, HUB_STORE_NOOVERWRITE), 0);
    CHECK_RC(del1(s, HUB_T_CODES, "past2"), HUB_E_NOTFOUND);

    /* many expired records: the sweep runs in several batches */
    CHECK_RC(write_many(s, "old%05d", 0, 1000, 16, now - 1), 0);
    CHECK_RC(hub_store_sweep(s, now, &removed), 0);
    CHECK(removed == 1002); /* 1000 + "past" + "past2" (its del failed, so that write rolled back) */
    CHECK_RC(get1(s, HUB_T_CODES, "future", buf, sizeof(buf)), 0);
    CHECK_RC(hub_store_sweep(s, now, &removed), 0);
    CHECK(removed == 0);
    CHECK_RC(hub_store_sweep(s, now + 1000, &removed), 0); /* "at or before now" */
    CHECK(removed == 1);
    CHECK_RC(hub_store_sweep(s, now + 1000000, NULL), 0);
    hub_store_close(s);
    s = NULL;
    CHECK(raw_entries(dir, "codes") == 1); /* "never" */
    CHECK(raw_entries(dir, "tokens") == 0);
    CHECK(raw_entries(dir, "_expiry") == 0);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

static void test_index_overwrite(void)
{
    char *dir = test_tmpdir("store"), buf[64];
    hub_store_t *s = NULL;
    uint64_t now = hub_now();
    size_t removed = 99;

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(put1(s, HUB_T_REFRESH, "k1", "a", now + 100, 0), 0);
    CHECK_RC(put1(s, HUB_T_REFRESH, "k1", "b", now + 300, 0), 0); /* moves the index entry */
    CHECK_RC(put1(s, HUB_T_REFRESH, "k2", "a", now + 100, 0), 0);
    CHECK_RC(put1(s, HUB_T_REFRESH, "k2", "b", 0, 0), 0); /* drops the index entry */
    CHECK_RC(put1(s, HUB_T_REFRESH, "k3", "a", now + 100, 0), 0);
    CHECK_RC(put1(s, HUB_T_REFRESH, "k3", "b", now + 100, 0), 0); /* same expiry: one entry */
    CHECK_RC(put1(s, HUB_T_REFRESH, "k4", "a", now + 100, 0), 0);
    CHECK_RC(del1(s, HUB_T_REFRESH, "k4"), 0); /* del drops the index entry */
    hub_store_close(s);
    s = NULL;
    CHECK(raw_entries(dir, "_expiry") == 2); /* k1@+300, k3@+100 */
    CHECK(raw_entries(dir, "refresh") == 3);

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_sweep(s, now + 200, &removed), 0);
    CHECK(removed == 1); /* k3 only: k1 was rewritten */
    CHECK_RC(get1(s, HUB_T_REFRESH, "k1", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "b") == 0);
    CHECK_RC(get1(s, HUB_T_REFRESH, "k2", buf, sizeof(buf)), 0);
    CHECK_RC(get1(s, HUB_T_REFRESH, "k3", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(hub_store_sweep(s, now + 400, &removed), 0);
    CHECK(removed == 1);
    hub_store_close(s);
    s = NULL;
    CHECK(raw_entries(dir, "_expiry") == 0);
    CHECK(raw_entries(dir, "refresh") == 1);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

#define GROW_VLEN 1000

static void test_growth(void)
{
    char *dir = test_tmpdir("store");
    hub_store_t *s = NULL;
    size_t initial;
    int n = 0;

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    initial = hub_store_mapsize(s);
    CHECK(initial == (size_t)8 << 20);
    /* 24 MB in six calls, then 16 MB in a single call that needs more than one doubling */
    for (int i = 0; i < 6; i++, n += 4000)
        CHECK_RC(write_many(s, "g%06d", n, n + 4000, GROW_VLEN, 0), 0);
    CHECK_RC(write_many(s, "g%06d", n, n + 16000, GROW_VLEN, 0), 0);
    n += 16000;
    CHECK(hub_store_mapsize(s) >= (size_t)40 << 20);
    CHECK(verify_many(s, "g%06d", 0, n, GROW_VLEN) == n);
    hub_store_close(s);
    s = NULL;
    /* the grown size is kept */
    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK(hub_store_mapsize(s) >= (size_t)40 << 20);
    CHECK(verify_many(s, "g%06d", 0, n, GROW_VLEN) == n);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

/* Forks a child that waits for a byte on go[0] before running body; returns its pid. */
static pid_t fork_child(int go[2], int done[2], int (*body)(const char *dir, int done_fd), const char *dir)
{
    pid_t pid;
    char c;

    if (pipe(go) != 0 || pipe(done) != 0) {
        perror("pipe");
        exit(2);
    }
    if ((pid = fork()) < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(go[1]);
        close(done[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        _exit(body(dir, done[0]));
    }
    close(go[0]);
    close(done[0]);
    return pid;
}

static int child_fail(const char *what)
{
    fprintf(stderr, "FAIL child: %s\n", what);
    return 1;
}

#define BIG_N 24000

static int child_grow(const char *dir, int done_fd)
{
    hub_store_t *s = NULL;
    int rc = 0;

    if (hub_store_open(&s, dir) != 0)
        return child_fail("open");
    for (int i = 0; i < BIG_N && rc == 0; i += 6000)
        if (write_many(s, "c%06d", i, i + 6000, GROW_VLEN, 0) != 0)
            rc = child_fail("write");
    if (rc == 0 && hub_store_mapsize(s) <= (size_t)8 << 20)
        rc = child_fail("map did not grow");
    hub_store_close(s);
    return rc;
}

#define CONC_BATCHES 60
#define CONC_PER 20
#define CONC_VLEN 5000

static int child_concurrent(const char *dir, int done_fd)
{
    hub_store_t *s = NULL;
    int rc = 0, n = CONC_BATCHES * CONC_PER;
    char c;

    if (hub_store_open(&s, dir) != 0)
        return child_fail("open");
    for (int b = 0; b < CONC_BATCHES && rc == 0; b++) {
        if (write_many(s, "c%05d", b * CONC_PER, (b + 1) * CONC_PER, CONC_VLEN, 0) != 0)
            rc = child_fail("write");
        if (verify_many(s, "p%05d", 0, n, 100) < 0)
            rc = child_fail("read");
    }
    /* wait for the parent to finish writing, then check both sets */
    if (read(done_fd, &c, 1) != 1)
        rc = child_fail("sync");
    if (rc == 0 && verify_many(s, "c%05d", 0, n, CONC_VLEN) != n)
        rc = child_fail("own records");
    if (rc == 0 && verify_many(s, "p%05d", 0, n, 100) != n)
        rc = child_fail("parent records");
    hub_store_close(s);
    return rc;
}

static int wait_child(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_two_processes(void)
{
    char *dir = test_tmpdir("store"), buf[64];
    hub_store_t *s = NULL;
    int go[2], done[2], n = CONC_BATCHES * CONC_PER, last = 0;
    pid_t pid;

    /* 1. a child grows the map while the parent sits on a small one: MDB_MAP_RESIZED */
    pid = fork_child(go, done, child_grow, dir);
    CHECK_RC(hub_store_open(&s, dir), 0);
    CHECK(write(go[1], "g", 1) == 1);
    CHECK(wait_child(pid) == 0);
    close(go[1]);
    close(done[1]);
    if (s == NULL)
        goto out;
    CHECK(hub_store_mapsize(s) == (size_t)8 << 20);
    CHECK(verify_many(s, "c%06d", 0, BIG_N, GROW_VLEN) == BIG_N);
    CHECK(hub_store_mapsize(s) > (size_t)8 << 20);
    CHECK_RC(put1(s, HUB_T_USERS, "after", "x", 0, 0), 0);
    CHECK_RC(get1(s, HUB_T_USERS, "after", buf, sizeof(buf)), 0);
    hub_store_close(s);
    s = NULL;
    CHECK(test_tmpdir_remove(dir) == 0);

    /* 2. both processes write and read at once, the child growing the map as it goes */
    dir = test_tmpdir("store");
    pid = fork_child(go, done, child_concurrent, dir);
    CHECK_RC(hub_store_open(&s, dir), 0);
    CHECK(write(go[1], "g", 1) == 1);
    if (s != NULL) {
        for (int b = 0; b < CONC_BATCHES; b++) {
            int seen;
            CHECK_RC(write_many(s, "p%05d", b * CONC_PER, (b + 1) * CONC_PER, 100, 0), 0);
            seen = verify_many(s, "c%05d", 0, n, CONC_VLEN);
            CHECK(seen >= last && seen % CONC_PER == 0); /* whole transactions only, never going back */
            last = seen;
        }
    }
    CHECK(write(done[1], "d", 1) == 1);
    CHECK(wait_child(pid) == 0);
    close(go[1]);
    close(done[1]);
    if (s == NULL)
        goto out;
    CHECK(verify_many(s, "c%05d", 0, n, CONC_VLEN) == n);
    CHECK(verify_many(s, "p%05d", 0, n, 100) == n);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

static int version_fn(hub_txn_t *txn, void *arg)
{
    unsigned char v[8] = {0, 0, 0, 0, 0, 0, 0, HUB_STORE_SCHEMA_VERSION + 1};
    return hub_store_put(txn, HUB_T_META, "schema_version", 14, v, sizeof(v), 0, 0);
}

static void test_version(void)
{
    char *dir = test_tmpdir("store");
    hub_store_t *s = NULL;

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_write(s, version_fn, NULL), 0);
    hub_store_close(s);
    s = (hub_store_t *)1;
    CHECK_RC(hub_store_open(&s, dir), HUB_E_VERSION);
    CHECK(s == NULL);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

static int bump_fn(hub_txn_t *txn, void *arg)
{
    return hub_store_bump(txn, "gen:keys", arg);
}

static void test_counters(void)
{
    char *dir = test_tmpdir("store");
    hub_store_t *s = NULL;
    hub_txn_t *txn;
    uint64_t v = 0;

    CHECK_RC(hub_store_open(&s, dir), 0);
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
    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_read_begin(s, &txn), 0);
    CHECK(hub_store_counter(txn, "gen:keys") == 3);
    CHECK(hub_store_counter(txn, "gen:other") == 0);
    hub_store_read_end(txn);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
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
    char *dir = test_tmpdir("store"), buf[64];
    hub_store_t *s = NULL;
    hub_txn_t *txn = NULL;
    json_t *obj = NULL, *want = json_pack("{s:i, s:s, s:[i,i]}", "a", 1, "b", "x", "c", 1, 2);

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_write(s, json_fn, NULL), 0);
    CHECK_RC(get1(s, HUB_T_CLIENTS, "c1", buf, sizeof(buf)), 0);
    CHECK(strcmp(buf, "{\"a\":1,\"b\":\"x\",\"c\":[1,2]}") == 0);
    CHECK_RC(put1(s, HUB_T_CLIENTS, "bad", "not json", 0, 0), 0);
    CHECK_RC(put1(s, HUB_T_CLIENTS, "list", "[1,2]", 0, 0), 0);
    CHECK_RC(put1(s, HUB_T_CLIENTS, "empty", "", 0, 0), 0);

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
    CHECK(test_tmpdir_remove(dir) == 0);
}

static void test_sweeper(void)
{
    char *dir = test_tmpdir("store");
    hub_store_t *s = NULL;
    uint64_t now = hub_now();
    double t0;

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK_RC(hub_store_start_sweeper(s, 0), HUB_E_INVAL);
    CHECK_RC(hub_store_start_sweeper(s, 1), 0);
    CHECK_RC(hub_store_start_sweeper(s, 1), HUB_E_EXISTS);
    CHECK_RC(put1(s, HUB_T_FED_STATES, "s1", "x", now - 1, 0), 0);
    CHECK_RC(put1(s, HUB_T_FED_STATES, "s2", "y", now + 1000, 0), 0);
    usleep(1300 * 1000);
    t0 = mono_now();
    hub_store_close(s);
    s = NULL;
    CHECK(mono_now() - t0 < 0.5); /* close wakes the sleeping sweeper */
    CHECK(raw_entries(dir, "fed_states") == 1);
    CHECK(raw_entries(dir, "_expiry") == 1);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

int main(void)
{
    test_basic();
    test_each();
    test_expiry();
    test_index_overwrite();
    test_growth();
    test_two_processes();
    test_version();
    test_counters();
    test_json();
    test_sweeper();
    return check_report("hub/store");
}
