/* The PostgreSQL store's counters in memory (hub/store_pg_gen.h): a table of names published to readers without a
 * lock, and the thread that keeps their values fresh. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "hub/log.h"
#include "hub/store_pg_gen.h"
#include "hub/store_types.h"
#include "hub/util.h"

#define SLOTS 32
#define RECONNECT_MS 500
#define BYTEA_OID 17

typedef struct st_gen_slot_t {
    char name[HUB_STORE_GEN_NAME_MAX + 1]; /* written before the slot is published, never after */
    uint64_t value;                        /* atomic */
    int filled;                            /* value was read (atomic; set under lock, after value) */
} gen_slot_t;

struct st_hub_pg_gen_t {
    hub_pg_pool_t *pool;
    pthread_mutex_t lock; /* guards adding slots and writing values */
    gen_slot_t slots[SLOTS];
    size_t n; /* published slots (atomic: release after a slot's name is written) */
    int wake; /* eventfd: stop */
    int stop;
    int up; /* its connection read the database last time it tried (atomic) */
    pthread_t thread;
};

static uint64_t be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads the n counters of names on conn into values (0 for one never bumped); 0, or -1 when the query failed. */
static int read_counters(PGconn *conn, const char *const *names, size_t n, uint64_t *values)
{
    char sql[64 + SLOTS * 5];
    const char *vals[SLOTS];
    int lens[SLOTS], fmts[SLOTS];
    Oid types[SLOTS];
    size_t used = (size_t)snprintf(sql, sizeof(sql), "SELECT k, v FROM hub_kv WHERE tbl = 0 AND k IN (");
    PGresult *res;
    int ret = -1;

    for (size_t i = 0; i != n; ++i) {
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s$%zu", i == 0 ? "" : ",", i + 1);
        vals[i] = names[i];
        lens[i] = (int)strlen(names[i]);
        fmts[i] = 1;
        types[i] = BYTEA_OID;
        values[i] = 0;
    }
    snprintf(sql + used, sizeof(sql) - used, ")");
    res = PQexecParams(conn, sql, (int)n, types, vals, lens, fmts, 1);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int r = 0; r != PQntuples(res); ++r)
            for (size_t i = 0; i != n; ++i)
                if ((size_t)PQgetlength(res, r, 0) == (size_t)lens[i] && memcmp(PQgetvalue(res, r, 0), names[i], lens[i]) == 0 &&
                    PQgetlength(res, r, 1) == 8)
                    values[i] = be64(PQgetvalue(res, r, 1));
        ret = 0;
    }
    PQclear(res);
    return ret;
}

/* Sets slot i's value: always from the thread (always the newest read), from a first read only while nothing was. */
static void fill(hub_pg_gen_t *gen, size_t i, uint64_t value, int thread)
{
    pthread_mutex_lock(&gen->lock);
    if (thread || !gen->slots[i].filled) {
        __atomic_store_n(&gen->slots[i].value, value, __ATOMIC_RELAXED);
        __atomic_store_n(&gen->slots[i].filled, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&gen->lock);
}

/* The thread: every published counter read again on conn. */
static int refresh(hub_pg_gen_t *gen, PGconn *conn)
{
    const char *names[SLOTS];
    uint64_t values[SLOTS];
    size_t n = __atomic_load_n(&gen->n, __ATOMIC_ACQUIRE);

    if (n == 0) { /* nothing to follow yet: a statement all the same, so that a dead link is found (hub_store_healthy) */
        PGresult *res = PQexec(conn, "SELECT 1");
        int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        return ok ? 0 : -1;
    }
    for (size_t i = 0; i != n; ++i)
        names[i] = gen->slots[i].name;
    if (read_counters(conn, names, n, values) != 0)
        return -1;
    for (size_t i = 0; i != n; ++i)
        fill(gen, i, values[i], 1);
    return 0;
}

/* Whether a notification names a published counter. */
static int watched(hub_pg_gen_t *gen, const PGnotify *note)
{
    size_t n = __atomic_load_n(&gen->n, __ATOMIC_ACQUIRE);

    if (strcmp(note->relname, HUB_PG_GEN_CHANNEL) != 0)
        return 0;
    for (size_t i = 0; i != n; ++i)
        if (strcmp(gen->slots[i].name, note->extra) == 0)
            return 1;
    return 0;
}

/* A listening connection with every counter read, or NULL. */
static PGconn *listen_conn(hub_pg_gen_t *gen)
{
    PGconn *conn = hub_pg_connect(gen->pool);
    PGresult *res;
    int ok;

    if (PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        return NULL;
    }
    res = PQexec(conn, "LISTEN " HUB_PG_GEN_CHANNEL);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok || refresh(gen, conn) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Waits for the socket (or the stop) at most ms; 1 when the socket is readable. */
static int wait_for(hub_pg_gen_t *gen, PGconn *conn, uint64_t ms)
{
    struct pollfd fds[2] = {{gen->wake, POLLIN, 0}, {conn != NULL ? PQsocket(conn) : -1, POLLIN, 0}};
    uint64_t v;

    if (poll(fds, conn != NULL ? 2 : 1, (int)ms) <= 0)
        return 0;
    if (fds[0].revents != 0) {
        ssize_t r = read(gen->wake, &v, sizeof(v)); /* nonblocking: nothing to do when it was drained */
        (void)r;
    }
    return conn != NULL && fds[1].revents != 0;
}

/* Whether the database answered this thread's last try; an answer ends the pool's outage too, so that a node no request
 * reaches (a load balancer drained it) still sees its database come back. */
static void set_up(hub_pg_gen_t *gen, int up)
{
    __atomic_store_n(&gen->up, up, __ATOMIC_RELAXED);
    if (up)
        hub_pg_reachable(gen->pool);
}

static void *gen_main(void *arg)
{
    hub_pg_gen_t *gen = arg;
    PGconn *conn = NULL;
    uint64_t next = 0;

    while (!__atomic_load_n(&gen->stop, __ATOMIC_ACQUIRE)) {
        int dirty = 0;
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            if ((conn = listen_conn(gen)) == NULL) {
                set_up(gen, 0);
                wait_for(gen, NULL, RECONNECT_MS);
                continue;
            }
            set_up(gen, 1);
            next = now_ms() + HUB_PG_GEN_POLL_MS;
        }
        uint64_t now = now_ms();
        if (now < next && wait_for(gen, conn, next - now)) {
            PGnotify *note;
            PQconsumeInput(conn);
            while ((note = PQnotifies(conn)) != NULL) {
                dirty |= watched(gen, note);
                PQfreemem(note);
            }
        }
        if (dirty || now_ms() >= next) {
            if (refresh(gen, conn) != 0) { /* a new connection after a pause, whatever failed */
                set_up(gen, 0);
                PQfinish(conn);
                conn = NULL;
                wait_for(gen, NULL, RECONNECT_MS);
                continue;
            }
            set_up(gen, 1);
            next = now_ms() + HUB_PG_GEN_POLL_MS;
        }
    }
    PQfinish(conn);
    return NULL;
}

hub_pg_gen_t *hub_pg_gen_start(hub_pg_pool_t *pool)
{
    hub_pg_gen_t *gen = hub_xcalloc(1, sizeof(*gen));

    gen->pool = pool;
    gen->up = 1; /* the store's open just read the database */
    pthread_mutex_init(&gen->lock, NULL);
    if ((gen->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 || pthread_create(&gen->thread, NULL, gen_main, gen) != 0) {
        hub_log_error("store: cannot start the thread that follows the counters");
        if (gen->wake >= 0)
            close(gen->wake);
        pthread_mutex_destroy(&gen->lock);
        free(gen);
        return NULL;
    }
    return gen;
}

void hub_pg_gen_stop(hub_pg_gen_t *gen)
{
    uint64_t one = 1;

    if (gen == NULL)
        return;
    __atomic_store_n(&gen->stop, 1, __ATOMIC_RELEASE);
    if (write(gen->wake, &one, sizeof(one)) < 0)
        hub_log_warn("store: cannot wake the counters' thread"); /* it stops at its next poll */
    pthread_join(gen->thread, NULL);
    close(gen->wake);
    pthread_mutex_destroy(&gen->lock);
    free(gen);
}

/* The slot of name, added when there is room: its index, or -1. */
static int slot_of(hub_pg_gen_t *gen, const char *name, size_t len)
{
    size_t n = __atomic_load_n(&gen->n, __ATOMIC_ACQUIRE);
    int idx = -1;

    for (size_t i = 0; i != n; ++i)
        if (strcmp(gen->slots[i].name, name) == 0)
            return (int)i;
    pthread_mutex_lock(&gen->lock);
    for (size_t i = n; idx < 0 && i != gen->n; ++i) /* added meanwhile */
        if (strcmp(gen->slots[i].name, name) == 0)
            idx = (int)i;
    if (idx < 0 && gen->n != SLOTS) {
        memcpy(gen->slots[gen->n].name, name, len + 1);
        idx = (int)gen->n;
        __atomic_store_n(&gen->n, gen->n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&gen->lock);
    return idx;
}

int hub_pg_gen_up(hub_pg_gen_t *gen)
{
    return __atomic_load_n(&gen->up, __ATOMIC_RELAXED);
}

uint64_t hub_pg_gen_get(hub_pg_gen_t *gen, hub_pg_pool_t *pool, const char *name)
{
    size_t len = strlen(name);
    hub_pg_conn_t *c;
    uint64_t value = 0;
    int idx = -1;

    if (gen != NULL && len <= HUB_STORE_GEN_NAME_MAX && (idx = slot_of(gen, name, len)) >= 0 &&
        __atomic_load_n(&gen->slots[idx].filled, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&gen->slots[idx].value, __ATOMIC_RELAXED);
    if (hub_pg_pool_get(pool, &c) != 0)
        return 0;
    if (read_counters(c->conn, &name, 1, &value) == 0 && idx >= 0)
        fill(gen, (size_t)idx, value, 0);
    hub_pg_pool_put(pool, c);
    return value;
}

void hub_pg_gen_await(hub_pg_gen_t *gen, const char *name, uint64_t value, unsigned timeout_ms)
{
    size_t n = gen != NULL ? __atomic_load_n(&gen->n, __ATOMIC_ACQUIRE) : 0;
    uint64_t end = now_ms() + timeout_ms;

    for (size_t i = 0; i != n; ++i) {
        gen_slot_t *slot = &gen->slots[i];
        if (strcmp(slot->name, name) != 0)
            continue;
        while (__atomic_load_n(&slot->filled, __ATOMIC_ACQUIRE) && __atomic_load_n(&slot->value, __ATOMIC_RELAXED) < value &&
               hub_pg_gen_up(gen) && now_ms() < end)
            usleep(500);
        return;
    }
}
