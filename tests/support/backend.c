/* The store's backends for the C tests (tests/support/backend.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <lmdb.h>
#include "hub/config.h"
#include "hub/err.h"
#include "tests/support/backend.h"
#include "tests/support/tmpdir.h"

static const char *const table_names[HUB_T__COUNT] = {
#define XX(name, str) str,
    HUB_TABLES(XX)
#undef XX
};

/* Runs tests/support/SCRIPT ARGS; its first line of output into out (may be NULL). 0 when it exited 0. */
static int script(const char *name, const char *args, char *out, size_t size)
{
    const char *src = getenv("HUB_SOURCE_DIR");
    char cmd[1200], line[512] = "";
    FILE *fp;

    if (src == NULL) {
        fprintf(stderr, "backend: HUB_SOURCE_DIR is not set (ctest sets it)\n");
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "'%s/tests/support/%s' %s", src, name, args);
    if ((fp = popen(cmd, "r")) == NULL)
        return -1;
    if (fgets(line, sizeof(line), fp) == NULL)
        line[0] = '\0';
    while (fgetc(fp) != EOF) /* to its end, so that it is never killed by a closed pipe */
        ;
    line[strcspn(line, "\n")] = '\0';
    if (out != NULL)
        snprintf(out, size, "%s", line);
    return pclose(fp) == 0 ? 0 : -1;
}

static int start_server(test_backend_t *b)
{
    char args[400];

    snprintf(args, sizeof(args), "--owner %ld '%s'", (long)getpid(), b->server);
    if (script("pg-start", args, b->conninfo, sizeof(b->conninfo)) != 0 || b->conninfo[0] == '\0') {
        fprintf(stderr, "FAIL backend postgresql: tests/support/pg-start could not start a server (is postgresql-15 "
                        "installed? tools/bootstrap installs it)\n");
        return -1;
    }
    return 0;
}

int test_backend_init(test_backend_t *b, const char *name)
{
    memset(b, 0, sizeof(*b));
    b->name = name;
    b->pg = strcmp(name, "postgresql") == 0;
    b->tmp = test_tmpdir(b->pg ? "store-pg" : "store-lmdb");
    if (!b->pg)
        return 0;
    chmod(b->tmp, 0711); /* the server runs as nobody when the tests run as root */
    snprintf(b->server, sizeof(b->server), "%s/pg", b->tmp);
    return start_server(b);
}

void test_backend_fini(test_backend_t *b)
{
    char args[400];

    if (b->pg) {
        snprintf(args, sizeof(args), "'%s'", b->server);
        script("pg-stop", args, NULL, 0);
    }
    test_tmpdir_remove(b->tmp);
    b->tmp = NULL;
}

int test_backend_stop(test_backend_t *b)
{
    char args[400];

    snprintf(args, sizeof(args), "--keep '%s'", b->server);
    return script("pg-stop", args, NULL, 0);
}

int test_backend_restart(test_backend_t *b)
{
    return start_server(b);
}

PGconn *test_backend_sql(test_backend_t *b)
{
    PGconn *conn = PQconnectdb(b->location);
    if (PQstatus(conn) != CONNECTION_OK)
        fprintf(stderr, "backend: cannot connect: %s", PQerrorMessage(conn));
    return conn;
}

int test_backend_fresh(test_backend_t *b)
{
    char sql[64];
    PGconn *conn;
    PGresult *res;
    int ok;

    ++b->seq;
    snprintf(b->data_dir, sizeof(b->data_dir), "%s/d%u", b->tmp, b->seq);
    if (!b->pg) {
        snprintf(b->location, sizeof(b->location), "%s", b->data_dir);
        return 0;
    }
    snprintf(b->location, sizeof(b->location), "%s", b->conninfo);
    if (PQstatus(conn = test_backend_sql(b)) != CONNECTION_OK) {
        PQfinish(conn);
        return -1;
    }
    snprintf(sql, sizeof(sql), "CREATE SCHEMA t%u", b->seq);
    res = PQexec(conn, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    PQfinish(conn);
    snprintf(b->location, sizeof(b->location), "%s options='-c search_path=t%u'", b->conninfo, b->seq);
    b->fresh = 1;
    return ok ? 0 : -1;
}

int test_backend_open(test_backend_t *b, hub_store_t **out, char *msg, size_t msgsize)
{
    hub_config_t cfg;
    char buf[600];
    int rc;

    hub_config_defaults(&cfg);
    free(cfg.node.data_dir);
    cfg.node.data_dir = strdup(b->data_dir);
    if (b->pg) {
        cfg.store.backend = HUB_STORE_POSTGRESQL;
        cfg.store.pg_conninfo = strdup(b->location);
        cfg.store.pg_pool = 4;
    }
    rc = hub_store_open_config(out, &cfg, b->fresh ? HUB_STORE_INIT : 0, buf, sizeof(buf));
    if (rc == 0)
        b->fresh = 0;
    if (msg != NULL)
        snprintf(msg, msgsize, "%s", buf);
    hub_config_dispose(&cfg);
    return rc;
}

/* LMDB: entries of table name, or of the expiry index (of table t, or all when t is HUB_T__COUNT). */
static long lmdb_count(const char *dir, hub_table_t t, int expiring)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_dbi dbi;
    MDB_stat st;
    long n = -1;

    if (mdb_env_create(&env) != 0)
        return -1;
    mdb_env_set_maxdbs(env, 64);
    if (mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
        goto out;
    if (mdb_dbi_open(txn, expiring ? "_expiry" : table_names[t], 0, &dbi) != 0)
        goto out;
    if (!expiring || t == HUB_T__COUNT) {
        n = mdb_stat(txn, dbi, &st) == 0 ? (long)st.ms_entries : -1;
    } else if (mdb_cursor_open(txn, dbi, &cur) == 0) {
        int rc;
        for (n = 0, rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            n += k.mv_size > 9 && ((const unsigned char *)k.mv_data)[8] == (unsigned char)t;
        mdb_cursor_close(cur);
    }
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

long test_backend_count(test_backend_t *b, hub_table_t t, int expiring)
{
    char sql[160];
    PGconn *conn;
    PGresult *res;
    long n = -1;

    if (!b->pg)
        return lmdb_count(b->location, t, expiring);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM hub_kv WHERE %s%d%s", t == HUB_T__COUNT ? "tbl < " : "tbl = ", (int)t,
             expiring ? " AND expires_at <> 0" : "");
    if (PQstatus(conn = test_backend_sql(b)) == CONNECTION_OK) {
        res = PQexec(conn, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    PQfinish(conn);
    return n;
}

/* ---- small operations ---- */

struct put_args {
    hub_table_t t;
    const char *key, *val;
    uint64_t exp;
    int flags;
};

static int put_fn(hub_txn_t *txn, void *arg)
{
    struct put_args *a = arg;
    return hub_store_put(txn, a->t, a->key, strlen(a->key), a->val, strlen(a->val), a->exp, a->flags);
}

int test_put(hub_store_t *s, hub_table_t t, const char *key, const char *val, uint64_t exp, int flags)
{
    struct put_args a = {t, key, val, exp, flags};
    return hub_store_write(s, put_fn, &a);
}

static int del_fn(hub_txn_t *txn, void *arg)
{
    struct put_args *a = arg;
    return hub_store_del(txn, a->t, a->key, strlen(a->key));
}

int test_del(hub_store_t *s, hub_table_t t, const char *key)
{
    struct put_args a = {t, key, NULL, 0, 0};
    return hub_store_write(s, del_fn, &a);
}

int test_get(hub_store_t *s, hub_table_t t, const char *key, char *buf, size_t size)
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

int test_write_many(hub_store_t *s, const char *fmt, int from, int to, size_t vlen, uint64_t exp)
{
    struct many_args a = {fmt, from, to, vlen, exp};
    return hub_store_write(s, many_fn, &a);
}

int test_verify_many(hub_store_t *s, const char *fmt, int from, int to, size_t vlen)
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

/* ---- child processes ---- */

pid_t test_fork_child(int go[2], int done[2], int (*body)(void *arg, int done_fd), void *arg)
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
        _exit(body(arg, done[0]));
    }
    close(go[0]);
    close(done[0]);
    return pid;
}

int test_wait_child(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int test_backend_each(test_backend_t **current, void (*run)(test_backend_t *b))
{
    static const char *const backends[] = {"lmdb", "postgresql"};
    test_backend_t b;
    int failed = 0;

    for (size_t i = 0; i != sizeof(backends) / sizeof(backends[0]); ++i) {
        *current = &b;
        if (test_backend_init(&b, backends[i]) != 0) {
            fprintf(stderr, "FAIL the %s backend does not start\n", backends[i]);
            ++failed;
        } else {
            printf("backend %s\n", backends[i]);
            run(&b);
        }
        test_backend_fini(&b);
        *current = NULL;
    }
    return failed;
}
