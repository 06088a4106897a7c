/* The store's interface (hub/store.h) over its backends: each operation goes to the backend through one pointer; what
 * is the same for every backend lives here (choosing the backend, argument checks, JSON records, reading counters, the
 * sweeper thread). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/store.h"
#include "hub/store_impl.h"
#include "hub/store_lmdb.h"
#include "hub/store_pg.h"
#include "hub/util.h"

/* The longest start of a walk (hub_store_each_from): LMDB's longest search key. */
#define FROM_MAX 511
/* The longest password file (a password and one newline). */
#define PASSWORD_MAX 1024
/* The longest pause the sweeper thread takes after one batch of the expiry sweep (sweep_paced). */
#define SWEEP_PAUSE_MAX_MS 100
#define SWEEP_LOG_INFO_S 1.0 /* a sweep that took longer is logged at info, with its count and time */

/* The store whose write transaction this thread is inside (LMDB would self-deadlock on a second one). */
static __thread hub_store_t *tls_writer;

/* --- open / close --- */

/* Sets up what store.c keeps in the head of a store a backend opened. */
static void head_init(hub_store_t *store)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&store->sweep_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&store->sweep_cond, &ca);
    pthread_condattr_destroy(&ca);
}

/* The node's data dir, and the directories above it, with mode 0700 when missing (LMDB's files and the signing keys
 * live there, whatever the backend). */
static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return HUB_E_INVAL;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return HUB_E_IO;
        path[i] = dir[i];
    }
    return 0;
}

int hub_store_open(hub_store_t **out, const char *dir)
{
    int rc;

    *out = NULL;
    if ((rc = mkdir_p(dir)) != 0) {
        hub_log_error("store: cannot create %s: %s", dir, strerror(errno));
        return rc;
    }
    if ((rc = hub_store_lmdb_open(out, dir)) == 0)
        head_init(*out);
    return rc;
}

/* Reads the password of store.postgresql.password_file: a regular file that neither its group nor others may use (as
 * libpq asks of a .pgpass), one trailing newline dropped. 0 and *out (the caller wipes and frees it), or -1 with msg. */
static int read_password(const char *path, char **out, char *msg, size_t size)
{
    char buf[PASSWORD_MAX + 2];
    struct stat st;
    ssize_t n = -1;
    int fd;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, size, "store.postgresql.password_file: cannot read %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(msg, size, "store.postgresql.password_file: %s is not a regular file", path);
    } else if ((st.st_mode & 077) != 0) {
        snprintf(msg, size, "store.postgresql.password_file: %s is open to its group or others (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
    } else if ((n = read(fd, buf, sizeof(buf) - 1)) < 0) {
        snprintf(msg, size, "store.postgresql.password_file: cannot read %s: %s", path, strerror(errno));
    } else {
        if (n > 0 && buf[n - 1] == '\n')
            --n;
        buf[n] = '\0';
        if (n == 0 || n > PASSWORD_MAX || memchr(buf, '\0', (size_t)n) != NULL || strchr(buf, '\n') != NULL)
            snprintf(msg, size, "store.postgresql.password_file: %s must hold one line of at most %d bytes", path, PASSWORD_MAX);
        else
            *out = hub_strdup(buf);
    }
    if (fd >= 0)
        close(fd);
    OPENSSL_cleanse(buf, sizeof(buf));
    return *out != NULL ? 0 : -1;
}

/* The PostgreSQL store of cfg. */
static int open_pg(hub_store_t **out, const hub_config_t *cfg, int flags, char *msg, size_t size)
{
    char hint[300], why[400], *password = NULL;
    hub_store_pg_options_t opts = {cfg->store.pg_conninfo, NULL, cfg->store.pg_pool, (flags & HUB_STORE_INIT) != 0, hint};
    int rc, waiting = 0;

    if (cfg->store.pg_password_file != NULL && read_password(cfg->store.pg_password_file, &password, msg, size) != 0)
        return HUB_E_CONFIG;
    snprintf(hint, sizeof(hint), "hubctl -c %s init", cfg->file != NULL ? cfg->file : "CONFIG");
    opts.password = password;
    opts.wait = (flags & HUB_STORE_WAIT) != 0;
    opts.waiting = &waiting;
    rc = hub_store_pg_open(out, &opts, why, sizeof(why));
    snprintf(msg, size, "%s%s", rc != 0 || waiting ? "store.postgresql: " : "", why);
    if (rc == 0 && waiting)
        (*out)->held = 1;
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    return rc;
}

int hub_store_open_config(hub_store_t **out, const hub_config_t *cfg, int flags, char *msg, size_t msgsize)
{
    int rc;

    *out = NULL;
    if (msgsize != 0)
        msg[0] = '\0';
    if ((rc = mkdir_p(cfg->node.data_dir)) != 0) {
        snprintf(msg, msgsize, "node.data_dir: cannot create %s: %s", cfg->node.data_dir, strerror(errno));
        return rc;
    }
    if (cfg->store.backend == HUB_STORE_POSTGRESQL)
        rc = open_pg(out, cfg, flags, msg, msgsize);
    else if ((rc = hub_store_lmdb_open(out, cfg->node.data_dir)) != 0)
        snprintf(msg, msgsize, "node.data_dir: cannot open the store in %s: %s", cfg->node.data_dir, hub_strerror(rc));
    if (rc == 0)
        head_init(*out);
    return rc;
}

void hub_store_close(hub_store_t *store)
{
    if (store == NULL)
        return;
    if (store->sweeper_running) {
        pthread_mutex_lock(&store->sweep_lock);
        store->sweeper_stop = 1;
        pthread_cond_signal(&store->sweep_cond);
        pthread_mutex_unlock(&store->sweep_lock);
        pthread_join(store->sweeper, NULL);
    }
    pthread_cond_destroy(&store->sweep_cond);
    pthread_mutex_destroy(&store->sweep_lock);
    store->ops->close(store);
}

int hub_store_reads_inline(hub_store_t *store)
{
    return store->ops->reads_inline;
}

int hub_store_healthy(hub_store_t *store)
{
    return !hub_store_held(store) && (store->ops->healthy == NULL || store->ops->healthy(store));
}

int hub_store_held(hub_store_t *store)
{
    return __atomic_load_n(&store->held, __ATOMIC_ACQUIRE);
}

void hub_store_release(hub_store_t *store)
{
    __atomic_store_n(&store->held, 0, __ATOMIC_RELEASE);
}

size_t hub_store_mapsize(hub_store_t *store)
{
    return store->ops->mapsize(store);
}

/* --- transactions --- */

int hub_store_read_begin(hub_store_t *store, hub_txn_t **out)
{
    return store->ops->read_begin(store, out);
}

void hub_store_read_end(hub_txn_t *txn)
{
    if (txn != NULL)
        txn->ops->read_end(txn);
}

hub_store_t *hub_txn_store(hub_txn_t *txn)
{
    return txn->store;
}

int hub_store_write(hub_store_t *store, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    hub_store_t *outer = tls_writer;
    int rc;

    if (outer == store)
        return HUB_E_BUSY; /* nested write: LMDB's writer lock is not recursive */
    tls_writer = store;
    rc = store->ops->write(store, fn, arg);
    tls_writer = outer;
    return rc;
}

int hub_store_nest_begin(hub_txn_t *parent, hub_txn_t **child)
{
    *child = NULL;
    if (parent->rdonly)
        return HUB_E_INVAL;
    return parent->ops->nest_begin(parent, child);
}

int hub_store_nest_end(hub_txn_t *child, int commit)
{
    return child != NULL ? child->ops->nest_end(child, commit) : 0;
}

uint64_t hub_store_commits(hub_store_t *store)
{
    return __atomic_load_n(&store->commits, __ATOMIC_RELAXED);
}

/* --- records --- */

int hub_store_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, hub_val_t *val)
{
    return txn->ops->get(txn, t, key, klen, val, NULL);
}

int hub_store_expiry(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, uint64_t *expires_at)
{
    return txn->ops->get(txn, t, key, klen, NULL, expires_at);
}

int hub_store_put(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at,
                  int flags)
{
    return txn->ops->put(txn, t, key, klen, val, vlen, expires_at, flags);
}

int hub_store_del(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen)
{
    return txn->ops->del(txn, t, key, klen);
}

int hub_store_each(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen,
                   int (*cb)(void *arg, hub_val_t key, hub_val_t val), void *arg)
{
    return hub_store_each_from(txn, t, prefix, plen, prefix, plen, cb, arg);
}

int hub_store_each_from(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const void *from, size_t flen,
                        int (*cb)(void *arg, hub_val_t key, hub_val_t val), void *arg)
{
    if ((unsigned)t >= HUB_T__COUNT || (prefix == NULL && plen != 0) || (from == NULL && flen != 0))
        return HUB_E_INVAL;
    if (flen < plen || (plen > 0 && memcmp(from, prefix, plen) != 0))
        return HUB_E_INVAL; /* a start outside the prefix */
    if (flen > FROM_MAX)
        return HUB_E_TOOBIG;
    return txn->ops->each_from(txn, t, prefix, plen, from, flen, cb, arg);
}

/* --- JSON --- */

int hub_store_get_json(hub_txn_t *txn, hub_table_t t, const char *key, json_t **out)
{
    hub_val_t v;
    json_t *obj;
    int rc;

    *out = NULL;
    if ((rc = hub_store_get(txn, t, key, strlen(key), &v)) != 0)
        return rc;
    if ((obj = json_loadb(v.data, v.len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return HUB_E_PARSE;
    if (!json_is_object(obj)) {
        json_decref(obj);
        return HUB_E_PARSE;
    }
    *out = obj;
    return 0;
}

int hub_store_put_json(hub_txn_t *txn, hub_table_t t, const char *key, const json_t *obj, uint64_t expires_at, int flags)
{
    char *text;
    int rc;

    if (!json_is_object(obj))
        return HUB_E_INVAL;
    if ((text = json_dumps(obj, JSON_COMPACT)) == NULL)
        hub_oom();
    rc = hub_store_put(txn, t, key, strlen(key), text, strlen(text), expires_at, flags);
    free(text);
    return rc;
}

/* --- counters --- */

int hub_store_bump(hub_txn_t *txn, const char *name, uint64_t *value)
{
    if (txn->rdonly)
        return HUB_E_INVAL;
    return txn->ops->bump(txn, name, value);
}

uint64_t hub_store_counter(hub_txn_t *txn, const char *name)
{
    const unsigned char *p;
    hub_val_t v;
    uint64_t n = 0;

    if (hub_store_get(txn, HUB_T_META, name, strlen(name), &v) != 0 || v.len != 8)
        return 0;
    p = v.data;
    for (int i = 0; i < 8; i++)
        n = (n << 8) | p[i];
    return n;
}

uint64_t hub_store_gen(hub_store_t *store, const char *name)
{
    return store->ops->gen(store, name);
}

/* --- expiry sweep --- */

int hub_store_sweep(hub_store_t *store, uint64_t now, size_t *removed)
{
    size_t total = 0, n;
    int more = 1, rc = 0;

    while (more && (rc = store->ops->sweep(store, now, &n, &more)) == 0)
        total += n;
    if (removed != NULL)
        *removed = total;
    return rc;
}

/* Nanoseconds from a to b. */
static long long ns_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* Adds ns nanoseconds to a CLOCK_MONOTONIC time. */
static void ts_add(struct timespec *ts, long long ns)
{
    ns += ts->tv_nsec;
    ts->tv_sec += ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

/* The sweeper's sweep (sweep_lock held on entry and on return): batch after batch, each followed by a pause as long as
 * it took (at most SWEEP_PAUSE_MAX_MS), so that a sweep of a million expired records leaves the store's writer to the
 * requests about half the time instead of queueing them behind thousands of commits; a closing store stops it
 * between two batches. */
static int sweep_paced(hub_store_t *store, uint64_t now, size_t *removed)
{
    struct timespec t0, t1;
    size_t n;
    int more = 1, rc = 0;

    *removed = 0;
    while (more && !store->sweeper_stop) {
        pthread_mutex_unlock(&store->sweep_lock);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = store->ops->sweep(store, now, &n, &more);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&store->sweep_lock);
        if (rc != 0)
            break;
        *removed += n;
        long long took = ns_between(&t0, &t1);
        ts_add(&t1, took < SWEEP_PAUSE_MAX_MS * 1000000LL ? took : SWEEP_PAUSE_MAX_MS * 1000000LL);
        while (more && !store->sweeper_stop && pthread_cond_timedwait(&store->sweep_cond, &store->sweep_lock, &t1) != ETIMEDOUT)
            ;
    }
    return rc;
}

static void *sweeper_main(void *arg)
{
    hub_store_t *store = arg;
    struct timespec deadline;
    size_t removed;
    int rc;

    pthread_mutex_lock(&store->sweep_lock);
    while (!store->sweeper_stop) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += store->sweep_interval;
        while (!store->sweeper_stop && pthread_cond_timedwait(&store->sweep_cond, &store->sweep_lock, &deadline) != ETIMEDOUT)
            ;
        if (store->sweeper_stop)
            break;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = sweep_paced(store, hub_now(), &removed);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double took = (double)ns_between(&t0, &t1) / 1e9;
        if (rc != 0)
            hub_log_warn("store: sweep failed: %s", hub_strerror(rc));
        else if (removed > 0 && took >= SWEEP_LOG_INFO_S) /* a long one is worth an operator's eye (tools/bench/bigstore reads it) */
            hub_log_info("store: swept %zu expired records in %.1f s", removed, took);
        else if (removed > 0)
            hub_log_debug("store: swept %zu expired records in %.1f s", removed, took);
    }
    pthread_mutex_unlock(&store->sweep_lock);
    return NULL;
}

int hub_store_start_sweeper(hub_store_t *store, unsigned interval_s)
{
    if (interval_s == 0)
        return HUB_E_INVAL;
    if (store->sweeper_running)
        return HUB_E_EXISTS;
    store->sweep_interval = interval_s;
    store->sweeper_stop = 0;
    if (pthread_create(&store->sweeper, NULL, sweeper_main, store) != 0)
        return HUB_E_NOMEM;
    store->sweeper_running = 1;
    return 0;
}
