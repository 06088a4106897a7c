/* Tests what is PostgreSQL's own in hub/store_pg*.c: the schema (missing, newer, records of a newer encoding, two inits
 * at once), the configuration's refusals (the password file, an unreachable server), the connection lost and found
 * again under a running store, the store's health through that (hub_store_healthy), and hub_store_gen's poll when a
 * notification never comes. */
#include <fcntl.h>
#include <pthread.h>
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

static test_backend_t b;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs sql on the current schema; 0 when it worked. */
static int sql(const char *text)
{
    PGconn *conn = test_backend_sql(&b);
    PGresult *res = PQexec(conn, text);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "sql: %s: %s", text, PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return ok ? 0 : -1;
}

/* ---- the schema ---- */

static void test_schema_missing(void)
{
    hub_store_t *s = (hub_store_t *)1;
    char msg[600];

    CHECK(test_backend_fresh(&b) == 0);
    b.fresh = 0; /* opened as hubd does: no init */
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), HUB_E_NOTFOUND);
    CHECK(s == NULL);
    CHECK(strstr(msg, "store.postgresql: the database has no hub schema yet: run hubctl -c ") != NULL);
    CHECK(strstr(msg, " init") != NULL && strchr(msg, '\n') == NULL);
    CHECK(sql("SELECT 1 FROM pg_tables WHERE tablename = 'hub_kv' AND schemaname = current_schema() HAVING count(*) = 0") ==
          0); /* nothing was created */
    /* hubctl init's open creates it and says so; the next one has nothing to do */
    b.fresh = 1;
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), 0);
    CHECK(strcmp(msg, "created the schema (version 1)") == 0);
    hub_store_close(s);
    b.fresh = 1;
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), 0);
    CHECK(msg[0] == '\0');
    hub_store_close(s);
}

static void test_schema_newer(void)
{
    hub_store_t *s = NULL;
    char msg[600];

    CHECK(test_backend_fresh(&b) == 0);
    CHECK_RC(test_backend_open(&b, &s, NULL, 0), 0);
    hub_store_close(s);
    s = NULL;
    CHECK(sql("UPDATE hub_schema SET version = 2") == 0);
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), HUB_E_VERSION);
    CHECK(s == NULL && strstr(msg, "schema is at version 2, newer than this build knows (1)") != NULL);
    b.fresh = 1; /* init refuses to touch it too */
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), HUB_E_VERSION);
    CHECK(s == NULL);
    b.fresh = 0;
    /* records of a newer encoding (META's schema_version, as in LMDB) */
    CHECK(sql("UPDATE hub_schema SET version = 1") == 0);
    CHECK(sql("UPDATE hub_kv SET v = int8send(7::int8) WHERE tbl = 0 AND k = 'schema_version'") == 0);
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), HUB_E_VERSION);
    CHECK(s == NULL && strstr(msg, "encoding newer than this build reads") != NULL);
    /* a table of that name without its row is not ours */
    CHECK(sql("DELETE FROM hub_schema") == 0);
    CHECK_RC(test_backend_open(&b, &s, msg, sizeof(msg)), HUB_E_STORE);
    CHECK(s == NULL && strstr(msg, "cannot read the database's hub schema") != NULL);
}

static void *init_open(void *arg)
{
    test_backend_t *copy = arg;
    hub_store_t *s = NULL;
    char msg[600];
    int rc = test_backend_open(copy, &s, msg, sizeof(msg));

    hub_store_close(s);
    return (void *)(intptr_t)(rc != 0 ? -1 : strcmp(msg, "created the schema (version 1)") == 0 ? 1 : 0);
}

/* Two inits at once on a fresh database: both succeed, one creates. */
static void test_schema_two_inits(void)
{
    static test_backend_t copies[3];
    pthread_t th[3];
    int created = 0, failed = 0;
    void *ret;

    CHECK(test_backend_fresh(&b) == 0);
    for (int i = 0; i != 3; ++i) {
        copies[i] = b;
        pthread_create(&th[i], NULL, init_open, &copies[i]);
    }
    for (int i = 0; i != 3; ++i) {
        pthread_join(th[i], &ret);
        created += (intptr_t)ret == 1;
        failed += (intptr_t)ret == -1;
    }
    CHECK(created == 1 && failed == 0);
    b.fresh = 0;
}

/* ---- the configuration's refusals ---- */

static int open_with(const char *conninfo, const char *password_file, char *msg, size_t size)
{
    hub_config_t cfg;
    hub_store_t *s = NULL;
    int rc;

    hub_config_defaults(&cfg);
    free(cfg.node.data_dir);
    cfg.node.data_dir = strdup(b.data_dir);
    cfg.store.backend = HUB_STORE_POSTGRESQL;
    cfg.store.pg_conninfo = strdup(conninfo);
    cfg.store.pg_password_file = password_file != NULL ? strdup(password_file) : NULL;
    cfg.store.pg_pool = 2;
    rc = hub_store_open_config(&s, &cfg, 0, msg, size);
    hub_store_close(s);
    hub_config_dispose(&cfg);
    return rc;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    if (fd >= 0)
        close(fd);
    CHECK(chmod(path, mode) == 0);
}

static void test_password_file(void)
{
    static const struct {
        const char *text;
        mode_t mode;
        int rc;
        const char *msg;
    } cases[] = {
        {"s3cr3t-pw\n", 0600, 0, ""}, /* the server trusts: any password connects */
        {"s3cr3t-pw", 0400, 0, ""},
        {"s3cr3t-pw\n", 0640, HUB_E_CONFIG, "is open to its group or others (mode 640): chmod 600 it"},
        {"s3cr3t-pw\n", 0604, HUB_E_CONFIG, "(mode 604)"},
        {"s3cr3t-pw\n", 0620, HUB_E_CONFIG, "(mode 620)"},
        {"\n", 0600, HUB_E_CONFIG, "must hold one line of at most 1024 bytes"},
        {"", 0600, HUB_E_CONFIG, "must hold one line"},
        {"two\nlines\n", 0600, HUB_E_CONFIG, "must hold one line"},
    };
    char path[600], msg[600];

    hub_store_t *st = NULL;

    CHECK(test_backend_fresh(&b) == 0);
    CHECK_RC(test_backend_open(&b, &st, NULL, 0), 0); /* the schema */
    hub_store_close(st);
    snprintf(path, sizeof(path), "%s/pg.password", b.tmp);
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        write_file(path, cases[i].text, cases[i].mode);
        CHECK_RC(open_with(b.location, path, msg, sizeof(msg)), cases[i].rc);
        CHECK(strstr(msg, cases[i].msg) != NULL && strstr(msg, "s3cr3t") == NULL);
        if (cases[i].rc != 0)
            CHECK(strncmp(msg, "store.postgresql.password_file: ", 32) == 0);
    }
    unlink(path);
    CHECK_RC(open_with(b.location, path, msg, sizeof(msg)), HUB_E_CONFIG); /* missing */
    CHECK(strstr(msg, "cannot read") != NULL);
    CHECK_RC(open_with(b.location, b.tmp, msg, sizeof(msg)), HUB_E_CONFIG); /* a directory */
    CHECK(strstr(msg, "is not a regular file") != NULL || strstr(msg, "open to its group") != NULL);
}

/* A server nobody listens at: HUB_E_UNAVAILABLE at once, one line naming what failed. */
static void test_unreachable(void)
{
    char conninfo[128], msg[600];
    double t0 = mono_now();

    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=1 dbname=hub user=hub connect_timeout=3");
    CHECK_RC(open_with(conninfo, NULL, msg, sizeof(msg)), HUB_E_UNAVAILABLE);
    CHECK(strstr(msg, "store.postgresql: cannot connect to the database \"hub\" on 127.0.0.1 port 1: ") == msg &&
          strchr(msg, '\n') == NULL);
    CHECK(mono_now() - t0 < 10);
}

static int health_becomes(hub_store_t *s, int want);

/* Opens the current schema as hubd does (HUB_STORE_WAIT): the store, or NULL with rc set. */
static hub_store_t *open_wait(int *rc, char *msg, size_t size)
{
    hub_config_t cfg;
    hub_store_t *s = NULL;

    hub_config_defaults(&cfg);
    free(cfg.node.data_dir);
    cfg.node.data_dir = strdup(b.data_dir);
    cfg.store.backend = HUB_STORE_POSTGRESQL;
    cfg.store.pg_conninfo = strdup(b.location);
    cfg.store.pg_pool = 2;
    *rc = hub_store_open_config(&s, &cfg, HUB_STORE_WAIT, msg, size);
    hub_config_dispose(&cfg);
    return s;
}

/* A write that works within 10 s (the first after the server's return checks the schema). */
static int put_becomes_ok(hub_store_t *s)
{
    int rc;
    for (double t0 = mono_now(); (rc = test_put(s, HUB_T_USERS, "late", "l", 0, 0)) != 0 && mono_now() - t0 < 10;)
        usleep(50000);
    return rc;
}

/* HUB_STORE_WAIT: a server away at the open gives a held store that fails every call HUB_E_UNAVAILABLE, and is not
 * healthy, until the server is back (its schema checked then) and the owner released it; a schema missing when the
 * server returns keeps it failing until an init made it. Without the flag the same open fails (test_unreachable). */
static void test_wait(void)
{
    hub_store_t *s, *init = NULL;
    size_t removed;
    char msg[600];
    int rc = -1;

    for (int missing = 0; missing != 2; ++missing) {
        CHECK(test_backend_fresh(&b) == 0);
        if (!missing) { /* the schema made before the server goes */
            CHECK_RC(test_backend_open(&b, &init, NULL, 0), 0);
            hub_store_close(init);
        }
        CHECK(test_backend_stop(&b) == 0);
        if ((s = open_wait(&rc, msg, sizeof(msg))) == NULL) {
            CHECK(!"a store held while the server is away");
            CHECK(test_backend_restart(&b) == 0);
            continue;
        }
        CHECK(rc == 0 && hub_store_held(s) == 1 && hub_store_healthy(s) == 0);
        CHECK(strstr(msg, "store.postgresql: cannot reach the database \"") == msg && strstr(msg, "keeps trying") != NULL);
        CHECK(strchr(msg, '\n') == NULL);
        CHECK_RC(test_put(s, HUB_T_USERS, "late", "l", 0, 0), HUB_E_UNAVAILABLE);
        CHECK_RC(hub_store_sweep(s, hub_now(), &removed), HUB_E_UNAVAILABLE);
        CHECK(test_backend_restart(&b) == 0);
        if (missing) { /* the server answers, without the schema: still failing, until an init */
            usleep(300000);
            CHECK_RC(test_put(s, HUB_T_USERS, "late", "l", 0, 0), HUB_E_UNAVAILABLE);
            CHECK(hub_store_healthy(s) == 0);
            b.fresh = 1;
            CHECK_RC(test_backend_open(&b, &init, NULL, 0), 0);
            hub_store_close(init);
        }
        CHECK_RC(put_becomes_ok(s), 0);
        CHECK(hub_store_healthy(s) == 0); /* held: its owner has not loaded what start-up loads yet */
        hub_store_release(s);
        CHECK(health_becomes(s, 1) == 1);
        hub_store_close(s);
    }
}

/* ---- the connection lost and found ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int inside, go_on;

/* A write that has run a statement when the server goes away, and runs another after. */
static int cut_fn(hub_txn_t *txn, void *arg)
{
    int rc = hub_store_put(txn, HUB_T_USERS, "cut1", 4, "x", 1, 0, 0);

    pthread_mutex_lock(&gate_lock);
    inside = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!go_on)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    if (rc == 0)
        rc = hub_store_put(txn, HUB_T_USERS, "cut2", 4, "x", 1, 0, 0);
    return rc == HUB_E_UNAVAILABLE ? HUB_E_DENIED : rc; /* fn hides it: the store still says what happened */
}

static void *cut_writer(void *arg)
{
    return (void *)(intptr_t)hub_store_write(arg, cut_fn, NULL);
}

static int bump_fn(hub_txn_t *txn, void *arg)
{
    return hub_store_bump(txn, "gen:x", NULL);
}

static int count_cb(void *arg, hub_val_t key, hub_val_t val)
{
    ++*(int *)arg;
    return 0;
}

/* While the server is away: every operation fails with HUB_E_UNAVAILABLE, nothing crashes, hub_store_gen keeps the
 * last value it knew. */
static void check_away(hub_store_t *s)
{
    hub_txn_t *txn = NULL;
    hub_val_t v;
    char buf[16];
    size_t removed = 7;
    int n = 0;

    for (int i = 0; i != 3; ++i) { /* every pooled connection is found lost, and no new one comes */
        CHECK_RC(test_put(s, HUB_T_USERS, "away", "x", 0, 0), HUB_E_UNAVAILABLE);
        CHECK_RC(test_get(s, HUB_T_USERS, "before", buf, sizeof(buf)), HUB_E_UNAVAILABLE);
    }
    CHECK_RC(hub_store_read_begin(s, &txn), 0); /* takes no connection yet */
    CHECK_RC(hub_store_get(txn, HUB_T_USERS, "before", 6, &v), HUB_E_UNAVAILABLE);
    CHECK_RC(hub_store_each(txn, HUB_T_USERS, NULL, 0, count_cb, &n), HUB_E_UNAVAILABLE);
    hub_store_read_end(txn);
    CHECK_RC(hub_store_sweep(s, hub_now(), &removed), HUB_E_UNAVAILABLE);
    CHECK(removed == 0 && n == 0);
    CHECK_RC(hub_store_write(s, bump_fn, NULL), HUB_E_UNAVAILABLE);
    CHECK(hub_store_gen(s, "gen:x") == 1);
}

static void test_connection_lost(void)
{
    hub_store_t *s = NULL;
    pthread_t th;
    void *ret;
    char buf[16];
    double t0;

    CHECK(test_backend_fresh(&b) == 0);
    CHECK_RC(test_backend_open(&b, &s, NULL, 0), 0);
    if (s == NULL)
        return;
    CHECK_RC(test_put(s, HUB_T_USERS, "before", "b", 0, 0), 0);
    CHECK_RC(hub_store_write(s, bump_fn, NULL), 0);
    for (t0 = mono_now(); hub_store_gen(s, "gen:x") != 1 && mono_now() - t0 < 5;)
        usleep(10000);
    /* a write cut in the middle */
    inside = go_on = 0;
    pthread_create(&th, NULL, cut_writer, s);
    pthread_mutex_lock(&gate_lock);
    while (!inside)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    CHECK(test_backend_stop(&b) == 0);
    pthread_mutex_lock(&gate_lock);
    go_on = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    pthread_join(th, &ret);
    CHECK((intptr_t)ret == HUB_E_UNAVAILABLE);
    check_away(s);
    /* back: the same store works again, without reopening; what was committed stayed, the cut write did not */
    CHECK(test_backend_restart(&b) == 0);
    CHECK_RC(test_put(s, HUB_T_USERS, "after", "a", 0, 0), 0);
    CHECK_RC(test_get(s, HUB_T_USERS, "before", buf, sizeof(buf)), 0);
    CHECK_RC(test_get(s, HUB_T_USERS, "cut1", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(test_get(s, HUB_T_USERS, "away", buf, sizeof(buf)), HUB_E_NOTFOUND);
    CHECK_RC(hub_store_write(s, bump_fn, NULL), 0);
    for (t0 = mono_now(); hub_store_gen(s, "gen:x") != 2 && mono_now() - t0 < 5;) /* its thread reconnected */
        usleep(10000);
    CHECK(hub_store_gen(s, "gen:x") == 2);
    hub_store_close(s);
}

/* hub_store_healthy waits up to 10 s for the store's health to become want, without a store call; what it came to. */
static int health_becomes(hub_store_t *s, int want)
{
    for (double t0 = mono_now(); hub_store_healthy(s) != want && mono_now() - t0 < 10;)
        usleep(10000);
    return hub_store_healthy(s);
}

/* hub_store_healthy: 1 on a store that serves; 0 soon after the server went away, with no store call to find it (the
 * counters' thread does), and it stays 0 while every call fails; 1 again by itself once the server is back, before any
 * store call (a node a load balancer drained sees its database return), and the store serves again. Twice over. */
static void test_health(void)
{
    hub_store_t *s = NULL;
    char buf[16];

    CHECK(test_backend_fresh(&b) == 0);
    CHECK_RC(test_backend_open(&b, &s, NULL, 0), 0);
    if (s == NULL)
        return;
    CHECK(hub_store_healthy(s) == 1);
    for (int round = 0; round != 2; ++round) {
        CHECK_RC(test_put(s, HUB_T_USERS, "up", "u", 0, 0), 0);
        CHECK(hub_store_healthy(s) == 1);
        CHECK(test_backend_stop(&b) == 0);
        CHECK(health_becomes(s, 0) == 0);
        for (int i = 0; i != 3; ++i) {
            CHECK_RC(test_get(s, HUB_T_USERS, "up", buf, sizeof(buf)), HUB_E_UNAVAILABLE);
            usleep(200000); /* past the counters' thread's poll and reconnect */
            CHECK(hub_store_healthy(s) == 0);
        }
        CHECK(test_backend_restart(&b) == 0);
        CHECK(health_becomes(s, 1) == 1);
        CHECK_RC(test_get(s, HUB_T_USERS, "up", buf, sizeof(buf)), 0);
        CHECK(hub_store_healthy(s) == 1);
    }
    hub_store_close(s);
}

/* ---- hub_store_gen without notifications ---- */

/* A counter changed past the store (no notification) is seen by the poll within a second (three tries). */
static void test_gen_poll(void)
{
    hub_store_t *s = NULL;
    char text[160];
    int within = 0;

    CHECK(test_backend_fresh(&b) == 0);
    CHECK_RC(test_backend_open(&b, &s, NULL, 0), 0);
    if (s == NULL)
        return;
    CHECK_RC(hub_store_write(s, bump_fn, NULL), 0);
    for (int v = 10; v != 13; ++v) {
        double t0 = mono_now();
        snprintf(text, sizeof(text), "UPDATE hub_kv SET v = int8send(%d::int8) WHERE tbl = 0 AND k = 'gen:x'", v);
        CHECK(sql(text) == 0);
        while (hub_store_gen(s, "gen:x") != (uint64_t)v && mono_now() - t0 < 5)
            usleep(5000);
        CHECK(hub_store_gen(s, "gen:x") == (uint64_t)v);
        within += mono_now() - t0 < 1.0;
    }
    CHECK(within >= 1);
    hub_store_close(s);
}

int main(void)
{
    if (test_backend_init(&b, "postgresql") != 0) {
        CHECK(!"the backend starts");
    } else {
        test_schema_missing();
        test_schema_newer();
        test_schema_two_inits();
        test_password_file();
        test_unreachable();
        test_wait();
        test_connection_lost();
        test_health();
        test_gen_poll();
    }
    test_backend_fini(&b);
    return check_report("hub/store_pg");
}
