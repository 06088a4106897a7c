/* The store's PostgreSQL backend (hub/store_pg.h): transactions on pooled connections, records in hub_kv through
 * prepared statements with binary parameters and results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/store_impl.h"
#include "hub/store_pg.h"
#include "hub/store_pg_gen.h"
#include "hub/store_pg_pool.h"
#include "hub/store_pg_schema.h"
#include "hub/util.h"

#define INT8_OID 20
#define INT2_OID 21
#define TEXT_OID 25
#define BYTEA_OID 17
#define PAGE 256          /* records a walk reads per round trip */
#define BUMPS_AWAITED 4   /* counters one write transaction bumps whose new value it waits to see (pg_write) */
#define GEN_AWAIT_MS 1000 /* the longest it waits */
#define SWEEP_BATCH 1000  /* expired records one sweep statement deletes */
#define MAX_ATTEMPTS 64   /* runs of a write's fn that meet a serialization failure */
#define VAL_MAX (((size_t)1 << 30) - (1 << 16)) /* a bytea holds at most 1 GiB */
#define MAX_PARAMS 5
#define MAX_STALE 65 /* connections found lost one after another by a BEGIN: more than a pool holds */

typedef struct st_pg_store_t {
    hub_store_t super;
    hub_pg_pool_t *pool;
    hub_pg_gen_t *gen;
    int checked;          /* the schema was found at this build's version (atomic) */
    pthread_mutex_t lock; /* guards checking it, and check_rc */
    int check_rc;         /* the failure of the last check that reached the database (logged once per kind) */
    char hint[256];       /* the command that creates or migrates the schema */
} pg_store_t;

typedef struct st_pg_txn_t {
    hub_txn_t super;
    struct st_pg_txn_t *root, *parent;
    hub_pg_conn_t *conn; /* the root's: from its start (a write) or its first statement (a read) to its end */
    unsigned depth;      /* 0: the root; n: savepoint sn */
    int failed;          /* a statement of this level failed: PostgreSQL aborted it (at the root: the transaction) */
    int doom;            /* root: HUB_E_UNAVAILABLE, or HUB_E_BUSY with retry set: nothing more runs */
    int retry;           /* root: a serialization failure or a deadlock; the write runs fn again */
    PGresult **kept;     /* root: results whose values were handed out, cleared at the end */
    size_t nkept, capkept;
    struct {
        char name[HUB_STORE_GEN_NAME_MAX + 1];
        uint64_t value;
    } bumped[BUMPS_AWAITED]; /* the counters this level bumped (the first few; a released savepoint's join its parent's),
                                awaited after the root's commit (pg_write) */
    size_t nbumped;
} pg_txn_t;

/* Binary parameters of one statement. */
typedef struct st_params_t {
    const char *vals[MAX_PARAMS];
    int lens[MAX_PARAMS], fmts[MAX_PARAMS];
    unsigned char nums[MAX_PARAMS][8];
    int n;
} params_t;

#define S(store) ((pg_store_t *)(store))
#define T(txn) ((pg_txn_t *)(txn))

static const Oid tk_types[] = {INT2_OID, BYTEA_OID};
static const Oid put_types[] = {INT2_OID, BYTEA_OID, BYTEA_OID, INT8_OID, INT8_OID};
static const Oid page_types[] = {INT2_OID, BYTEA_OID, INT8_OID, INT8_OID, BYTEA_OID};
static const Oid bump_types[] = {BYTEA_OID, TEXT_OID, INT8_OID};
static const Oid sweep_types[] = {INT8_OID, INT8_OID};

#define UPSERT                                                                                                                     \
    "INSERT INTO hub_kv AS o (tbl, k, v, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v, "  \
    "expires_at = excluded.expires_at"
#define PAGE_SQL(bound)                                                                                                            \
    "SELECT k, v FROM hub_kv WHERE tbl = $1 AND k >= $2" bound " AND (expires_at = 0 OR expires_at > $3) ORDER BY k LIMIT $4"

/* Prepared on every connection. Expiry is decided with hub_now() (the one clock), passed as a parameter. */
static const hub_pg_stmt_t stmts[] = {
    {"get", "SELECT v, expires_at FROM hub_kv WHERE tbl = $1 AND k = $2", 2, tk_types},
    {"put", UPSERT, 4, put_types},
    /* NOOVERWRITE: only an expired record is replaced; no row affected = a live one is there */
    {"put_new", UPSERT " WHERE o.expires_at <> 0 AND o.expires_at <= $5", 5, put_types},
    {"del", "DELETE FROM hub_kv WHERE tbl = $1 AND k = $2 RETURNING expires_at", 2, tk_types},
    {"page", PAGE_SQL(""), 4, page_types},
    {"page_to", PAGE_SQL(" AND k < $5"), 5, page_types},
    /* one round trip: the increment (a value that is no live 8-byte counter counts from 0, as LMDB's) and the notice
     * hub/store_pg_gen.c listens for, sent at commit */
    {"bump",
     "WITH b AS (INSERT INTO hub_kv AS o (tbl, k, v, expires_at) VALUES (0, $1, int8send(1::int8), 0) ON CONFLICT (tbl, k) DO "
     "UPDATE SET v = int8send(CASE WHEN length(o.v) = 8 AND (o.expires_at = 0 OR o.expires_at > $3) THEN ('x' || encode(o.v, "
     "'hex'))::bit(64)::bigint ELSE 0 END + 1), expires_at = 0 RETURNING v) SELECT b.v, pg_notify('" HUB_PG_GEN_CHANNEL "', $2) "
     "FROM b",
     3, bump_types},
    /* in its own statement (READ COMMITTED): a record rewritten meanwhile is checked again and kept */
    {"sweep",
     "DELETE FROM hub_kv WHERE (tbl, k) IN (SELECT tbl, k FROM hub_kv WHERE expires_at <> 0 AND expires_at <= $1 LIMIT $2) "
     "AND expires_at <> 0 AND expires_at <= $1",
     2, sweep_types},
};

static const hub_store_ops_t pg_ops;
static void schema_message(int rc, unsigned version, const char *hint, char *msg, size_t size);

/* --- parameters and results --- */

static void p_int(params_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; --i, v >>= 8)
        p->nums[p->n][i] = (unsigned char)v;
    p->vals[p->n] = (const char *)p->nums[p->n];
    p->lens[p->n] = bytes;
    p->fmts[p->n++] = 1;
}

static void p_bytes(params_t *p, const void *data, size_t len)
{
    p->vals[p->n] = len != 0 ? data : ""; /* NULL would be SQL NULL */
    p->lens[p->n] = (int)len;
    p->fmts[p->n++] = 1;
}

static uint64_t be64(const char *s)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)s[i];
    return v;
}

static int is_live(uint64_t expires_at, uint64_t now)
{
    return expires_at == 0 || expires_at > now;
}

/* Keeps res until the transaction ends (values handed out point into it). */
static void keep(pg_txn_t *txn, PGresult *res)
{
    pg_txn_t *root = txn->root;

    if (root->nkept == root->capkept) {
        root->capkept = root->capkept != 0 ? root->capkept * 2 : 8;
        root->kept = hub_xrealloc(root->kept, root->capkept * sizeof(*root->kept));
    }
    root->kept[root->nkept++] = res;
}

/* --- transactions --- */

/* Records the failure of res on the level txn ran it at: a lost connection or a conflict dooms the whole transaction. */
static int fail(pg_txn_t *txn, const PGresult *res)
{
    pg_txn_t *root = txn->root;
    int retry = 0, rc = hub_pg_failure(S(txn->super.store)->pool, root->conn->conn, res, &retry);

    if (retry || rc == HUB_E_UNAVAILABLE) {
        root->doom = rc;
        root->retry = retry;
    } else if (txn->failed == 0) {
        txn->failed = rc;
    }
    return rc;
}

/* 0 once the schema of a store opened while its database was away was found at this build's version; checked on a
 * connection of its own (the pool's prepares statements on tables that may be missing) by the first transaction that
 * reaches the database. Else HUB_E_UNAVAILABLE: the database is still away, or its schema is missing or newer (logged
 * once, with what to do; checked again at the next transaction, so an init run meanwhile is seen). */
static int schema_ready(pg_store_t *store)
{
    char msg[400];
    unsigned version = 0;
    PGconn *conn;
    int rc = 0;

    if (__atomic_load_n(&store->checked, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&store->lock);
    if (!store->checked) {
        conn = hub_pg_connect(store->pool);
        if (PQstatus(conn) != CONNECTION_OK)
            rc = hub_pg_failure(store->pool, conn, NULL, &(int){0});
        else if ((rc = hub_pg_schema_check(store->pool, conn, 0, &version, msg, sizeof(msg))) == 0)
            hub_log_info("store: the database answers and its hub schema is at version %u", version);
        if (rc != 0 && rc != HUB_E_UNAVAILABLE && rc != store->check_rc) {
            schema_message(rc, version, store->hint, msg, sizeof(msg));
            hub_log_error("store.postgresql: %s; hubd keeps trying (drained, /healthz 503)", msg);
        }
        PQfinish(conn);
        if (rc != HUB_E_UNAVAILABLE)
            store->check_rc = rc;
        __atomic_store_n(&store->checked, rc == 0, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&store->lock);
    return rc == 0 ? 0 : HUB_E_UNAVAILABLE;
}

/* Checks out the root's connection and begins its transaction. A connection found lost by the BEGIN (the server
 * restarted since it was last used) is replaced, as many times as the pool may hold such connections: nothing had been
 * done on it. */
static int txn_start(pg_txn_t *root)
{
    pg_store_t *store = S(root->super.store);
    const char *begin =
        root->super.rdonly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN ISOLATION LEVEL SERIALIZABLE";
    PGresult *res;
    int rc, retry = 0, lost = 1;

    if ((rc = schema_ready(store)) != 0) {
        root->doom = rc;
        return rc;
    }
    for (int attempt = 0; lost && attempt != MAX_STALE; ++attempt) {
        if ((rc = hub_pg_pool_get(store->pool, &root->conn)) != 0)
            break;
        res = PQexec(root->conn->conn, begin);
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            PQclear(res);
            return 0;
        }
        lost = PQstatus(root->conn->conn) != CONNECTION_OK;
        rc = lost ? HUB_E_UNAVAILABLE : hub_pg_failure(store->pool, root->conn->conn, res, &retry);
        PQclear(res);
        hub_pg_pool_put(store->pool, root->conn); /* a lost one is reset at its next use */
        root->conn = NULL;
    }
    root->doom = rc;
    return rc;
}

/* Runs prepared statement stmt (with p) or, when stmt is NULL, sql, at the level of txn. Returns the result (the caller
 * clears or keeps it), or NULL with *rc set and the failure recorded. */
static PGresult *run(pg_txn_t *txn, const char *stmt, const params_t *p, const char *sql, int *rc)
{
    pg_txn_t *root = txn->root;
    PGresult *res;
    ExecStatusType st;

    if ((*rc = root->doom) != 0 || (*rc = txn->failed) != 0)
        return NULL;
    if (root->conn == NULL && (*rc = txn_start(root)) != 0)
        return NULL;
    if (stmt != NULL)
        res = PQexecPrepared(root->conn->conn, stmt, p->n, p->vals, p->lens, p->fmts, 1);
    else
        res = PQexec(root->conn->conn, sql);
    st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    *rc = fail(txn, res);
    PQclear(res);
    return NULL;
}

static int run_sql(pg_txn_t *txn, const char *sql)
{
    int rc;
    PQclear(run(txn, NULL, NULL, sql, &rc));
    return rc;
}

/* Ends the root: commits when commit is set and nothing failed, else rolls back; gives the connection back. Returns
 * what the transaction came to: its doom, its failure, rc, or the commit's failure. */
static int txn_end(pg_txn_t *root, int rc, int commit)
{
    pg_store_t *store = S(root->super.store);

    if (root->conn != NULL && commit && rc == 0 && root->doom == 0 && root->failed == 0) {
        PGresult *res = PQexec(root->conn->conn, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fail(root, res);
        else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
            rc = HUB_E_STORE; /* PostgreSQL rolled it back */
        else
            __atomic_add_fetch(&store->super.commits, 1, __ATOMIC_RELAXED);
        PQclear(res);
    }
    if (root->conn != NULL)
        hub_pg_pool_put(store->pool, root->conn); /* rolls back what is still open */
    root->conn = NULL;
    for (size_t i = 0; i != root->nkept; ++i)
        PQclear(root->kept[i]);
    free(root->kept);
    return root->doom != 0 ? root->doom : root->failed != 0 ? root->failed : rc;
}

static int pg_read_begin(hub_store_t *s, hub_txn_t **out)
{
    pg_txn_t *txn = hub_xcalloc(1, sizeof(*txn));

    txn->super = (hub_txn_t){&pg_ops, s, 1};
    txn->root = txn;
    *out = &txn->super; /* the connection is taken by the first statement */
    return 0;
}

static void pg_read_end(hub_txn_t *txn)
{
    txn_end(T(txn), 0, 0);
    free(txn);
}

/* A pause before running a write again after a conflict: random, up to 1, 2, 4 ... 64 ms. */
static void backoff(unsigned attempt, const void *salt)
{
    struct timespec ts;
    unsigned cap = 1000u << (attempt < 6 ? attempt : 6);

    clock_gettime(CLOCK_MONOTONIC, &ts);
    usleep((useconds_t)(((unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)salt) % cap));
}

static int pg_write(hub_store_t *s, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    for (unsigned attempt = 0;; ++attempt) {
        pg_txn_t txn = {.super = {&pg_ops, s, 0}};
        int rc;

        txn.root = &txn;
        if ((rc = txn_start(&txn)) == 0)
            rc = fn(&txn.super, arg);
        rc = txn_end(&txn, rc, 1);
        /* this node's next hub_store_gen sees the change it just made (others' within HUB_PG_GEN_POLL_MS at worst) */
        for (size_t i = 0; rc == 0 && i != txn.nbumped; ++i)
            hub_pg_gen_await(S(s)->gen, txn.bumped[i].name, txn.bumped[i].value, GEN_AWAIT_MS);
        if (!txn.retry)
            return rc;
        if (attempt + 1 == MAX_ATTEMPTS)
            return HUB_E_BUSY;
        backoff(attempt, &txn);
    }
}

static int pg_nest_begin(hub_txn_t *p, hub_txn_t **child)
{
    pg_txn_t *parent = T(p), *c = hub_xcalloc(1, sizeof(*c));
    char sql[32];
    int rc;

    c->super = (hub_txn_t){&pg_ops, p->store, 0};
    c->root = parent->root;
    c->parent = parent;
    c->depth = parent->depth + 1;
    snprintf(sql, sizeof(sql), "SAVEPOINT s%u", c->depth);
    if ((rc = run_sql(parent, sql)) != 0) {
        free(c);
        return rc;
    }
    *child = &c->super;
    return 0;
}

/* Remembers that txn's level bumped name to value (pg_write awaits it once the root committed). */
static void note_bump(pg_txn_t *txn, const char *name, uint64_t value)
{
    size_t len = strlen(name);

    if (txn->nbumped == BUMPS_AWAITED || len > HUB_STORE_GEN_NAME_MAX)
        return; /* beyond the first few, or a name no one follows: the notification alone */
    memcpy(txn->bumped[txn->nbumped].name, name, len + 1);
    txn->bumped[txn->nbumped++].value = value;
}

static int pg_nest_end(hub_txn_t *txn, int commit)
{
    pg_txn_t *c = T(txn);
    char sql[80];
    int rc = c->failed, rc2;

    if (commit && rc == 0)
        snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT s%u", c->depth);
    else
        snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT s%u; RELEASE SAVEPOINT s%u", c->depth, c->depth);
    rc2 = run_sql(c->parent, sql); /* a doomed transaction answers its doom */
    for (size_t i = 0; commit && rc == 0 && rc2 == 0 && i != c->nbumped; ++i)
        note_bump(c->parent, c->bumped[i].name, c->bumped[i].value); /* a rolled-back level's bumps never happened */
    free(c);
    return rc2 != 0 ? rc2 : rc;
}

/* --- records --- */

static int check_key(hub_table_t t, size_t klen)
{
    if ((unsigned)t >= HUB_T__COUNT || klen == 0)
        return HUB_E_INVAL;
    return klen > HUB_STORE_KEY_MAX ? HUB_E_TOOBIG : 0;
}

static int pg_get(hub_txn_t *tx, hub_table_t t, const void *key, size_t klen, hub_val_t *val, uint64_t *expires_at)
{
    params_t p = {0};
    PGresult *res;
    uint64_t exp;
    int rc;

    if ((rc = check_key(t, klen)) != 0)
        return rc;
    p_int(&p, (uint64_t)t, 2);
    p_bytes(&p, key, klen);
    if ((res = run(T(tx), "get", &p, NULL, &rc)) == NULL)
        return rc;
    if (PQntuples(res) != 1 || PQgetlength(res, 0, 1) != 8 || !is_live(exp = be64(PQgetvalue(res, 0, 1)), hub_now())) {
        PQclear(res);
        return HUB_E_NOTFOUND;
    }
    if (expires_at != NULL)
        *expires_at = exp;
    if (val == NULL) {
        PQclear(res);
        return 0;
    }
    val->data = PQgetvalue(res, 0, 0);
    val->len = (size_t)PQgetlength(res, 0, 0);
    keep(T(tx), res);
    return 0;
}

static int pg_put(hub_txn_t *tx, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at,
                  int flags)
{
    params_t p = {0};
    PGresult *res;
    int rc;

    if (tx->rdonly || (flags & ~HUB_STORE_NOOVERWRITE) != 0 || (val == NULL && vlen != 0))
        return HUB_E_INVAL;
    if ((rc = check_key(t, klen)) != 0)
        return rc;
    if (vlen > VAL_MAX || expires_at > INT64_MAX)
        return HUB_E_TOOBIG;
    p_int(&p, (uint64_t)t, 2);
    p_bytes(&p, key, klen);
    p_bytes(&p, val, vlen);
    p_int(&p, expires_at, 8);
    if (flags & HUB_STORE_NOOVERWRITE)
        p_int(&p, hub_now(), 8);
    if ((res = run(T(tx), flags & HUB_STORE_NOOVERWRITE ? "put_new" : "put", &p, NULL, &rc)) == NULL)
        return rc;
    rc = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : HUB_E_EXISTS;
    PQclear(res);
    return rc;
}

static int pg_del(hub_txn_t *tx, hub_table_t t, const void *key, size_t klen)
{
    params_t p = {0};
    PGresult *res;
    int rc;

    if (tx->rdonly)
        return HUB_E_INVAL;
    if ((rc = check_key(t, klen)) != 0)
        return rc;
    p_int(&p, (uint64_t)t, 2);
    p_bytes(&p, key, klen);
    if ((res = run(T(tx), "del", &p, NULL, &rc)) == NULL)
        return rc;
    /* an expired record was already absent to readers: it is removed, but reported as not found (as LMDB does) */
    rc = PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8 && is_live(be64(PQgetvalue(res, 0, 0)), hub_now()) ? 0 : HUB_E_NOTFOUND;
    PQclear(res);
    return rc;
}

/* The smallest key above every key that starts with prefix, into end: its length, 0 when there is none (no prefix, or
 * one of 0xff bytes only). */
static size_t prefix_end(const unsigned char *prefix, size_t plen, unsigned char *end)
{
    if (plen == 0)
        return 0;
    memcpy(end, prefix, plen);
    while (plen > 0 && end[plen - 1] == 0xff)
        --plen;
    if (plen > 0)
        ++end[plen - 1];
    return plen;
}

/* One page of the walk from cur: calls cb for its records in prefix; *more when the page was full. */
static int each_page(pg_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const unsigned char *bound, size_t blen,
                     unsigned char *cur, size_t *clen, hub_store_each_cb_t cb, void *arg, int *more)
{
    params_t p = {0};
    PGresult *res;
    int rc = 0, n;

    p_int(&p, (uint64_t)t, 2);
    p_bytes(&p, cur, *clen);
    p_int(&p, hub_now(), 8);
    p_int(&p, PAGE, 8);
    if (blen != 0)
        p_bytes(&p, bound, blen);
    if ((res = run(txn, blen != 0 ? "page_to" : "page", &p, NULL, &rc)) == NULL)
        return rc;
    n = PQntuples(res);
    *more = n == PAGE;
    for (int i = 0; rc == 0 && i != n; ++i) {
        hub_val_t k = {PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0)};
        hub_val_t v = {PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1)};
        if (k.len > HUB_STORE_KEY_MAX || (plen > 0 && (k.len < plen || memcmp(k.data, prefix, plen) != 0))) {
            *more = 0; /* past the prefix (a prefix of 0xff bytes has no bound) */
            break;
        }
        rc = cb(arg, k, v);
        if (i == n - 1) { /* the next page starts right after this key */
            memcpy(cur, k.data, k.len);
            cur[k.len] = '\0';
            *clen = k.len + 1;
        }
    }
    PQclear(res);
    return rc;
}

static int pg_each_from(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const void *from, size_t flen,
                        hub_store_each_cb_t cb, void *arg)
{
    unsigned char bound[HUB_STORE_KEY_MAX + 1], cur[512 + 1];
    size_t blen, clen = flen;
    int rc, more = 1;

    if (plen > HUB_STORE_KEY_MAX)
        return 0; /* no key is that long */
    blen = prefix_end(prefix, plen, bound);
    if (flen != 0)
        memcpy(cur, from, flen);
    while (more)
        if ((rc = each_page(T(txn), t, prefix, plen, bound, blen, cur, &clen, cb, arg, &more)) != 0)
            return rc;
    return 0;
}

/* --- counters --- */

static int pg_bump(hub_txn_t *tx, const char *name, uint64_t *value)
{
    size_t len = strlen(name);
    params_t p = {0};
    PGresult *res;
    int rc;

    if ((rc = check_key(HUB_T_META, len)) != 0)
        return rc;
    p_bytes(&p, name, len);
    p_bytes(&p, name, len);
    p_int(&p, hub_now(), 8);
    if ((res = run(T(tx), "bump", &p, NULL, &rc)) == NULL)
        return rc;
    if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 8) {
        PQclear(res);
        return HUB_E_STORE;
    }
    note_bump(T(tx), name, be64(PQgetvalue(res, 0, 0)));
    if (value != NULL)
        *value = be64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static uint64_t pg_gen(hub_store_t *s, const char *name)
{
    return hub_pg_gen_get(S(s)->gen, S(s)->pool, name);
}

/* --- expiry sweep --- */

/* One batch: deletes up to SWEEP_BATCH expired records in one statement (its own transaction). */
static int pg_sweep(hub_store_t *s, uint64_t now, size_t *removed, int *more)
{
    pg_store_t *store = S(s);
    hub_pg_conn_t *c;
    params_t p = {0};
    int rc, retry = 0;

    *removed = 0;
    *more = 0;
    if (now > INT64_MAX)
        now = INT64_MAX;
    if ((rc = schema_ready(store)) != 0 || (rc = hub_pg_pool_get(store->pool, &c)) != 0)
        return rc;
    p_int(&p, now, 8);
    p_int(&p, SWEEP_BATCH, 8);
    PGresult *res = PQexecPrepared(c->conn, "sweep", p.n, p.vals, p.lens, p.fmts, 1);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        *removed = strtoul(PQcmdTuples(res), NULL, 10);
        *more = *removed == SWEEP_BATCH;
        __atomic_add_fetch(&s->commits, 1, __ATOMIC_RELAXED);
    } else {
        rc = hub_pg_failure(store->pool, c->conn, res, &retry);
    }
    PQclear(res);
    hub_pg_pool_put(store->pool, c);
    return rc;
}

/* --- open / close --- */

static void pg_close(hub_store_t *s)
{
    hub_pg_gen_stop(S(s)->gen);
    hub_pg_pool_destroy(S(s)->pool);
    pthread_mutex_destroy(&S(s)->lock);
    free(s);
}

/* The counters' thread's view (its own connection, tried every HUB_PG_GEN_POLL_MS or reconnected every half second), and
 * no outage since it last read: a statement that found the link lost counts at once. Without the thread, the pool's. */
static int pg_healthy(hub_store_t *s)
{
    return __atomic_load_n(&S(s)->checked, __ATOMIC_ACQUIRE) && (S(s)->gen == NULL || hub_pg_gen_up(S(s)->gen)) &&
           !hub_pg_pool_down(S(s)->pool);
}

static size_t pg_mapsize(hub_store_t *s)
{
    return 0;
}

/* The one line of a schema check's failure rc (the schema at version). */
static void schema_message(int rc, unsigned version, const char *hint, char *msg, size_t size)
{
    if (rc == HUB_E_NOTFOUND && version == 0)
        snprintf(msg, size, "the database has no hub schema yet: run %s", hint);
    else if (rc == HUB_E_NOTFOUND)
        snprintf(msg, size, "the database's hub schema is at version %u, older than this build's %d: run %s", version,
                 HUB_PG_SCHEMA_VERSION, hint);
    else if (rc == HUB_E_VERSION && version > HUB_PG_SCHEMA_VERSION)
        snprintf(msg, size, "the database's hub schema is at version %u, newer than this build knows (%d): run a newer hub",
                 version, HUB_PG_SCHEMA_VERSION);
    else if (rc == HUB_E_VERSION)
        snprintf(msg, size, "the database holds records of an encoding newer than this build reads (%d): run a newer hub",
                 HUB_STORE_SCHEMA_VERSION);
    else
        snprintf(msg, size, "cannot read the database's hub schema: %s", hub_strerror(rc));
}

/* The first connection of an open failed: HUB_E_UNAVAILABLE, or with o->wait and a database away for now 0 (and
 * *o->waiting). msg says which database and why. */
static int first_connect_failed(pg_store_t *store, const hub_store_pg_options_t *o, PGconn *conn, char *msg, size_t size)
{
    char why[256], where[200];

    hub_pg_where(o->conninfo, where, sizeof(where));
    hub_pg_message(conn, why, sizeof(why));
    if (!o->wait || !hub_pg_away(store->pool)) {
        snprintf(msg, size, "cannot connect to %s: %s", where, why);
        return HUB_E_UNAVAILABLE;
    }
    snprintf(msg, size, "cannot reach %s now (%s); hubd starts drained (/healthz 503) and keeps trying", where, why);
    *o->waiting = 1;
    hub_pg_pool_set_down(store->pool); /* this line is the outage's */
    return 0;
}

int hub_store_pg_open(hub_store_t **out, const hub_store_pg_options_t *o, char *msg, size_t msgsize)
{
    pg_store_t *store = hub_xcalloc(1, sizeof(*store));
    unsigned version;
    PGconn *conn;
    int rc;

    *out = NULL;
    if (o->wait)
        *o->waiting = 0;
    store->super.ops = &pg_ops;
    pthread_mutex_init(&store->lock, NULL);
    snprintf(store->hint, sizeof(store->hint), "%s", o->init_hint != NULL ? o->init_hint : "hubctl -c CONFIG init");
    store->pool = hub_pg_pool_create(o->conninfo, o->password, o->pool, stmts, sizeof(stmts) / sizeof(stmts[0]));
    conn = hub_pg_connect(store->pool);
    if (PQstatus(conn) != CONNECTION_OK)
        rc = first_connect_failed(store, o, conn, msg, msgsize);
    else if ((rc = hub_pg_schema_check(store->pool, conn, o->init, &version, msg, msgsize)) != 0)
        schema_message(rc, version, store->hint, msg, msgsize);
    else
        store->checked = 1;
    PQfinish(conn);
    if (rc != 0) {
        pg_close(&store->super);
        return rc;
    }
    store->gen = hub_pg_gen_start(store->pool);
    *out = &store->super;
    return 0;
}

void hub_store_pg_where(const char *conninfo, char *buf, size_t size)
{
    hub_pg_where(conninfo, buf, size);
}

static const hub_store_ops_t pg_ops = {
    .name = "postgresql",
    .reads_inline = 0,
    .close = pg_close,
    .read_begin = pg_read_begin,
    .read_end = pg_read_end,
    .write = pg_write,
    .nest_begin = pg_nest_begin,
    .nest_end = pg_nest_end,
    .get = pg_get,
    .put = pg_put,
    .del = pg_del,
    .each_from = pg_each_from,
    .bump = pg_bump,
    .sweep = pg_sweep,
    .gen = pg_gen,
    .mapsize = pg_mapsize,
    .healthy = pg_healthy,
};
