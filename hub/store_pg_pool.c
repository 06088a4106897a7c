/* The PostgreSQL store's pool of libpq connections (hub/store_pg_pool.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/store_pg_pool.h"
#include "hub/util.h"

#define WAIT_S 30     /* for a connection while every one is out */
#define WAIT_HELD_S 2 /* the same for a thread that holds one already: maybe every holder waits like it */

struct st_hub_pg_pool_t {
    char *conninfo, *password;
    const hub_pg_stmt_t *stmts;
    size_t nstmts;
    pthread_mutex_t lock; /* guards free and nfree */
    pthread_cond_t cond;
    hub_pg_conn_t *conns;
    hub_pg_conn_t **free;
    size_t size, nfree;
    int down; /* an outage was logged and has not ended (atomic) */
};

/* Connections this thread has checked out (of any pool). */
static __thread unsigned tls_held;

hub_pg_pool_t *hub_pg_pool_create(const char *conninfo, const char *password, unsigned size, const hub_pg_stmt_t *stmts,
                                  size_t nstmts)
{
    hub_pg_pool_t *pool = hub_xcalloc(1, sizeof(*pool));
    pthread_condattr_t ca;

    pool->conninfo = hub_strdup(conninfo);
    pool->password = password != NULL ? hub_strdup(password) : NULL;
    pool->stmts = stmts;
    pool->nstmts = nstmts;
    pool->size = size != 0 ? size : 1;
    pool->conns = hub_xcalloc(pool->size, sizeof(*pool->conns));
    pool->free = hub_xcalloc(pool->size, sizeof(*pool->free));
    for (size_t i = 0; i != pool->size; ++i)
        pool->free[pool->nfree++] = &pool->conns[i];
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->cond, &ca);
    pthread_condattr_destroy(&ca);
    return pool;
}

void hub_pg_pool_destroy(hub_pg_pool_t *pool)
{
    if (pool == NULL)
        return;
    for (size_t i = 0; i != pool->size; ++i)
        if (pool->conns[i].conn != NULL)
            PQfinish(pool->conns[i].conn);
    if (pool->password != NULL) {
        OPENSSL_cleanse(pool->password, strlen(pool->password));
        free(pool->password);
    }
    free(pool->conninfo);
    free(pool->conns);
    free(pool->free);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

/* libpq's notices and the errors a server sends an idle session (a shutdown's FATAL) through the hub's log, one line each
 * at their severity, instead of libpq's own lines on stderr. The server's message names no password. A FATAL ends one
 * session (each pooled one says so at a shutdown): a warning; the outage itself is the pool's one error line. */
static void notice(void *arg, const PGresult *res)
{
    static const struct {
        const char *severity;
        hub_log_level_t level;
    } levels[] = {{"PANIC", HUB_LOG_ERROR}, {"FATAL", HUB_LOG_WARN}, {"ERROR", HUB_LOG_WARN}, {"WARNING", HUB_LOG_WARN},
                  {"NOTICE", HUB_LOG_INFO}, {"INFO", HUB_LOG_INFO},  {"LOG", HUB_LOG_INFO}};
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    hub_log_level_t level = HUB_LOG_DEBUG;
    char line[512];

    for (size_t i = 0; sev != NULL && i != sizeof(levels) / sizeof(levels[0]); ++i)
        if (strcmp(sev, levels[i].severity) == 0)
            level = levels[i].level;
    if (msg == NULL)
        msg = PQresultErrorMessage(res);
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(msg, "\n"), msg);
    for (char *p = line; *p != '\0'; ++p) /* a line of the log, whatever the server sent */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    hub_log(level, "store: the database says: %s%s%s", sev != NULL ? sev : "", sev != NULL ? ": " : "", line);
}

/* PQconnectdbParams's keywords and values for pool (later keywords win: the defaults come first, the operator's conninfo
 * overrides them, the password file comes last); with timeout, a connect_timeout that overrides the conninfo's. */
static void params(hub_pg_pool_t *pool, const char **keys, const char **vals, const char *timeout)
{
    size_t n = 0;

    keys[n] = "connect_timeout", vals[n++] = "5";
    keys[n] = "tcp_user_timeout", vals[n++] = "10000";
    keys[n] = "fallback_application_name", vals[n++] = "hubd";
    keys[n] = "dbname", vals[n++] = pool->conninfo;
    if (pool->password != NULL)
        keys[n] = "password", vals[n++] = pool->password;
    if (timeout != NULL)
        keys[n] = "connect_timeout", vals[n++] = timeout;
    keys[n] = vals[n] = NULL;
}

PGconn *hub_pg_connect(hub_pg_pool_t *pool)
{
    const char *keys[8], *vals[8];
    PGconn *conn;

    params(pool, keys, vals, NULL);
    if ((conn = PQconnectdbParams(keys, vals, 1)) == NULL)
        hub_oom();
    PQsetNoticeReceiver(conn, notice, NULL);
    return conn;
}

int hub_pg_away(hub_pg_pool_t *pool)
{
    const char *keys[8], *vals[8];
    PGPing ping;

    params(pool, keys, vals, "2"); /* a server that does not answer within 2 s is away as much as one that refuses */
    ping = PQpingParams(keys, vals, 1);
    return ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT;
}

void hub_pg_where(const char *conninfo, char *buf, size_t size)
{
    static const char *const keys[] = {"dbname", "host", "port"};
    const char *vals[3] = {NULL, NULL, NULL};
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *defs = PQconndefaults();

    for (size_t k = 0; k != 3; ++k) {
        for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL && vals[k] == NULL; ++o)
            if (strcmp(o->keyword, keys[k]) == 0 && o->val != NULL && o->val[0] != '\0')
                vals[k] = o->val;
        for (PQconninfoOption *o = defs; o != NULL && o->keyword != NULL && vals[k] == NULL; ++o)
            if (strcmp(o->keyword, keys[k]) == 0 && o->val != NULL && o->val[0] != '\0')
                vals[k] = o->val;
    }
    snprintf(buf, size, "the database \"%s\" on %s port %s", vals[0] != NULL ? vals[0] : "?",
             vals[1] != NULL ? vals[1] : "the local socket", vals[2] != NULL ? vals[2] : "5432");
    PQconninfoFree(opts);
    PQconninfoFree(defs);
}

const char *hub_pg_message(PGconn *conn, char *buf, size_t size)
{
    const char *msg = conn != NULL ? PQerrorMessage(conn) : "";
    size_t len = strcspn(msg, "\n");

    if (len >= size)
        len = size - 1;
    memcpy(buf, msg, len);
    buf[len] = '\0';
    return buf;
}

void hub_pg_reachable(hub_pg_pool_t *pool)
{
    if (__atomic_load_n(&pool->down, __ATOMIC_RELAXED) && __atomic_exchange_n(&pool->down, 0, __ATOMIC_RELAXED))
        hub_log_info("store: the database answers again");
}

void hub_pg_pool_set_down(hub_pg_pool_t *pool)
{
    __atomic_store_n(&pool->down, 1, __ATOMIC_RELAXED);
}

int hub_pg_pool_down(hub_pg_pool_t *pool)
{
    return __atomic_load_n(&pool->down, __ATOMIC_RELAXED);
}

static int unavailable(hub_pg_pool_t *pool, PGconn *conn, const PGresult *res)
{
    char buf[256];
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (!__atomic_exchange_n(&pool->down, 1, __ATOMIC_RELAXED))
        hub_log_error("store: the database is unreachable: %s", msg != NULL ? msg : hub_pg_message(conn, buf, sizeof(buf)));
    return HUB_E_UNAVAILABLE;
}

int hub_pg_failure(hub_pg_pool_t *pool, PGconn *conn, const PGresult *res, int *retry)
{
    /* 08: connection exceptions; 57P01-3: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections */
    static const char *const gone[] = {"57P01", "57P02", "57P03", "53300"};
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg;

    if (conn == NULL || PQstatus(conn) != CONNECTION_OK || state == NULL || strncmp(state, "08", 2) == 0)
        return unavailable(pool, conn, res);
    for (size_t i = 0; i != sizeof(gone) / sizeof(gone[0]); ++i)
        if (strcmp(state, gone[i]) == 0)
            return unavailable(pool, conn, res);
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        *retry = 1;
        return HUB_E_BUSY;
    }
    if (strcmp(state, "54000") == 0)
        return HUB_E_TOOBIG;
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    hub_log_warn("store: the database refused a statement: %s %s", state, msg != NULL ? msg : "");
    return HUB_E_STORE;
}

/* Connects (or resets) c and prepares the statements on it: 0, or the failure. */
static int conn_ready(hub_pg_pool_t *pool, hub_pg_conn_t *c)
{
    PGresult *res;
    int retry = 0, rc = 0;

    if (c->conn == NULL) {
        c->conn = hub_pg_connect(pool);
        c->prepared = 0;
    } else if (PQstatus(c->conn) != CONNECTION_OK) {
        PQreset(c->conn);
        c->prepared = 0;
    }
    if (PQstatus(c->conn) != CONNECTION_OK)
        return unavailable(pool, c->conn, NULL);
    for (size_t i = 0; !c->prepared && rc == 0 && i != pool->nstmts; ++i) {
        const hub_pg_stmt_t *s = &pool->stmts[i];
        res = PQprepare(c->conn, s->name, s->sql, s->nparams, s->types);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = hub_pg_failure(pool, c->conn, res, &retry);
        PQclear(res);
    }
    if (rc != 0) { /* a session with some statements prepared: start a new one next time */
        PQfinish(c->conn);
        c->conn = NULL;
        return rc;
    }
    c->prepared = 1;
    hub_pg_reachable(pool);
    return 0;
}

int hub_pg_pool_get(hub_pg_pool_t *pool, hub_pg_conn_t **out)
{
    struct timespec deadline;
    hub_pg_conn_t *c;
    int rc;

    *out = NULL;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += tls_held != 0 ? WAIT_HELD_S : WAIT_S;
    pthread_mutex_lock(&pool->lock);
    while (pool->nfree == 0) {
        if (pthread_cond_timedwait(&pool->cond, &pool->lock, &deadline) == ETIMEDOUT && pool->nfree == 0) {
            pthread_mutex_unlock(&pool->lock);
            hub_log_warn("store: every database connection stayed busy; a transaction gave up waiting");
            return HUB_E_BUSY;
        }
    }
    c = pool->free[--pool->nfree];
    pthread_mutex_unlock(&pool->lock);
    ++tls_held;
    if ((rc = conn_ready(pool, c)) != 0) {
        hub_pg_pool_put(pool, c);
        return rc;
    }
    *out = c;
    return 0;
}

void hub_pg_pool_put(hub_pg_pool_t *pool, hub_pg_conn_t *c)
{
    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK) {
        PGTransactionStatusType ts = PQtransactionStatus(c->conn);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PQclear(PQexec(c->conn, "ROLLBACK"));
            ts = PQtransactionStatus(c->conn);
        }
        if (ts != PQTRANS_IDLE) {
            PQfinish(c->conn);
            c->conn = NULL;
        }
    }
    --tls_held;
    pthread_mutex_lock(&pool->lock);
    pool->free[pool->nfree++] = c;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}
