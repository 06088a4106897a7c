/* The primary node: builds the shared idp context and registers every handler module. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "hub/cookie.h"
#include "hub/err.h"
#include "hub/log.h"
#include "idp/approve.h"
#include "idp/authorize.h"
#include "idp/backchannel.h"
#include "idp/client.h"
#include "idp/consoles.h"
#include "idp/csrf.h"
#include "idp/ctx.h"
#include "idp/discovery.h"
#include "idp/family.h"
#include "idp/idp.h"
#include "idp/introspect.h"
#include "idp/login.h"
#include "idp/logout.h"
#include "idp/owner_index.h"
#include "idp/register.h"
#include "idp/revoke.h"
#include "idp/role.h"
#include "idp/session.h"
#include "idp/token.h"
#include "idp/userinfo.h"
#include "hub/util.h"

/* Writes of requests waiting for the store's writer (group commit, hub/writer.h): a full queue answers 503. Each
 * batch takes up to HUB_STORE_BATCH_MAX, so this is a few batches, well under a second of commits. */
#define WRITE_QUEUE 2048
/* Reads of requests waiting for the store's readers, when it has any (hub/reader.h: a store whose reads are round
 * trips): a full queue answers 503. READERS is their number unless the store's configuration says otherwise. */
#define READ_QUEUE 4096
#define READERS 4

/* The longest pause the owner index's build takes between two of its transactions (index_between). */
#define INDEX_PAUSE_MAX_MS 1000
/* The longest pause between two tries of start-up's loads while the database is away. */
#define STARTUP_BACKOFF_MAX_MS 2000

/* The thread of start-up's work that can wait: the loads of a node whose store opened held (its database away), retried
 * until they are done, then the owner index of a store written before it (built while the node serves: revocations
 * scan until it is done). */
typedef struct st_idp_startup_t {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;    /* under lock */
    size_t next; /* the first of loads[] not done */
} idp_startup_t;

const idp_owner_source_t idp_owner_sources[] = {
    {HUB_T_FAMILIES, "token families", idp_family_index_record},
    {HUB_T_SESSIONS, "session records (with their \"sid:\" pointers)", idp_session_index_record},
};
const size_t idp_owner_nsources = sizeof(idp_owner_sources) / sizeof(idp_owner_sources[0]);

static int ensure_data_txn(hub_txn_t *txn, void *arg)
{
    int ret = idp_roles_add_builtin(txn);
    return ret != 0 ? ret : idp_client_prepare(txn);
}

/* hubd creates a missing data dir: a fresh one gets the two built-in roles and a key (and any gets the client cache's
 * generation counter and the index of client origins). */
static int load_data(idp_t *idp)
{
    return hub_store_write(idp->store, ensure_data_txn, NULL);
}

static int load_csrf(idp_t *idp)
{
    return idp_csrf_key_load(idp->store, idp->csrf_key);
}

static int load_keys(idp_t *idp)
{
    return idp_keyring_load(idp->keyring);
}

/* What the primary reads from the store before it serves, in order; each may run again after it failed. */
static const struct {
    int (*load)(idp_t *idp);
    const char *failed;
} loads[] = {
    {load_data, "cannot prepare the data dir"},
    {load_csrf, "cannot read or create the CSRF key"},
    {load_keys, "cannot load the signing keys"},
};
#define NLOADS (sizeof(loads) / sizeof(loads[0]))

/* Runs the loads from *next on; 0 when all are done, else the failure of loads[*next]. */
static int run_loads(idp_t *idp, size_t *next)
{
    int ret;

    for (; *next != NLOADS; ++*next)
        if ((ret = loads[*next].load(idp)) != 0)
            return ret;
    return 0;
}

/* Sleeps ms unless stopped; 1 when stopped. */
static int startup_pause(idp_startup_t *st, unsigned ms)
{
    struct timespec ts;
    int stop;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ++ts.tv_sec;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&st->lock);
    while (!st->stop && pthread_cond_timedwait(&st->cond, &st->lock, &ts) != ETIMEDOUT)
        ;
    stop = st->stop;
    pthread_mutex_unlock(&st->lock);
    return stop;
}

static int startup_stopped(void *arg)
{
    idp_startup_t *st = arg;
    int stop;

    pthread_mutex_lock(&st->lock);
    stop = st->stop;
    pthread_mutex_unlock(&st->lock);
    return stop;
}

/* Between two of the owner index's build transactions: a pause as long as the last one held the store's writer (at
 * most INDEX_PAUSE_MAX_MS), so that requests get the writer about half the time while an old store is indexed; 1 when
 * the node stops. */
static int index_between(void *arg, unsigned took_ms)
{
    return startup_pause(arg, took_ms < INDEX_PAUSE_MAX_MS ? took_ms : INDEX_PAUSE_MAX_MS);
}

/* Runs step until it returns 0 (1) or the node stops (0); pauses 100 ms doubling to STARTUP_BACKOFF_MAX_MS. A failure
 * other than the database's absence (the store logs that) is logged once per kind. */
static int startup_retry(idp_t *idp, int (*step)(idp_t *idp, const char **failed))
{
    const char *failed = NULL;
    unsigned ms = 100;
    int ret, logged = 0;

    while ((ret = step(idp, &failed)) != 0) {
        if (ret == HUB_E_CANCELLED || startup_stopped(idp->startup))
            return 0;
        if (ret != HUB_E_UNAVAILABLE && ret != HUB_E_BUSY && ret != logged) {
            hub_log_error("%s: %s; tried again every few seconds", failed, hub_strerror(ret));
            logged = ret;
        }
        if (startup_pause(idp->startup, ms))
            return 0;
        ms = ms * 2 < STARTUP_BACKOFF_MAX_MS ? ms * 2 : STARTUP_BACKOFF_MAX_MS;
    }
    return 1;
}

static int loads_step(idp_t *idp, const char **failed)
{
    int ret = run_loads(idp, &idp->startup->next);
    if (ret != 0)
        *failed = loads[idp->startup->next].failed;
    return ret;
}

static int index_step(idp_t *idp, const char **failed)
{
    *failed = "cannot index the token families and sessions";
    return idp_owner_index_build(idp->store, idp_owner_sources, idp_owner_nsources, index_between, idp->startup);
}

/* The loads not done yet (a node whose store opened held: then the store is released, the node turns healthy with its
 * database), then the owner index. A node that cannot load stays drained rather than serve without its keys. */
static void *startup_main(void *arg)
{
    idp_t *idp = arg;

    if (idp->startup->next != NLOADS) {
        if (!startup_retry(idp, loads_step))
            return NULL;
        hub_store_release(idp->store);
        hub_log_info("the database answered: data, CSRF key and signing keys loaded; the node serves");
    }
    startup_retry(idp, index_step);
    return NULL;
}

/* Runs the loads now, unless the store opened held (its database away): startup_defer runs them later. */
static int startup(idp_t *idp)
{
    size_t next = 0;
    int ret = 0;

    if (!hub_store_held(idp->store) && (ret = run_loads(idp, &next)) != 0)
        hub_log_error("%s: %s", loads[next].failed, hub_strerror(ret));
    return ret;
}

/* Starts the thread that runs the loads a store opened held could not run yet, then builds the owner index. */
static void startup_defer(idp_t *idp)
{
    idp_startup_t *st = hub_xcalloc(1, sizeof(*st));
    pthread_condattr_t ca;

    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cond, &ca);
    pthread_condattr_destroy(&ca);
    st->next = hub_store_held(idp->store) ? 0 : NLOADS;
    idp->startup = st;
    if (pthread_create(&st->thread, NULL, startup_main, idp) != 0)
        hub_oom();
}

static void startup_stop(idp_startup_t *st)
{
    if (st == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    st->stop = 1;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->thread, NULL);
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int idp_create(idp_t **out, hub_server_t *server)
{
    idp_t *idp = hub_xcalloc(1, sizeof(*idp));
    int ret;

    idp->server = server;
    idp->cfg = hub_server_config(server);
    idp->store = hub_server_store(server);
    idp->fetcher = hub_server_fetcher(server);
    idp->secure_cookies = hub_server_is_tls(server) || strncmp(idp->cfg->node.public_url, "https://", 8) == 0;
    snprintf(idp->issuer, sizeof(idp->issuer), "%s", idp->cfg->node.public_url);
    /* after node.name (at most 64 characters, hub/config.c), or a cluster's after public_url: both fit
     * HUB_COOKIE_NAME_MAX, and public_url parsed when the configuration was read */
    if (hub_cookie_node_name(idp->session_cookie, sizeof(idp->session_cookie), idp->cfg, "session", idp->secure_cookies) != 0 ||
        hub_cookie_node_name(idp->csrf_cookie, sizeof(idp->csrf_cookie), idp->cfg, "csrf", idp->secure_cookies) != 0) {
        hub_log_error("node.public_url: cannot name the cookies after it");
        free(idp);
        return HUB_E_CONFIG;
    }

    if ((ret = hub_server_use_writer(server, WRITE_QUEUE)) != 0) {
        hub_log_error("cannot start the store's writer: %s", hub_strerror(ret));
        goto fail;
    }
    /* on PostgreSQL one reader per connection of store.postgresql.pool (the writer and the counters' listener share them) */
    if ((ret = hub_server_use_readers(server, idp->cfg->store.backend == HUB_STORE_POSTGRESQL ? idp->cfg->store.pg_pool : READERS,
                                      READ_QUEUE)) != 0) {
        hub_log_error("cannot start the store's readers: %s", hub_strerror(ret));
        goto fail;
    }
    /* the keyring first (the cluster secret is read now, whatever the database does), then start-up's loads */
    if ((ret = idp_keyring_create(&idp->keyring, idp->store, idp->cfg)) != 0) {
        hub_log_error("cannot load the signing keys: %s", hub_strerror(ret));
        goto fail;
    }
    if ((ret = startup(idp)) != 0) {
        idp_keyring_close(idp->keyring);
        goto fail;
    }

    idp->clients = idp_client_cache_create(IDP_CLIENT_CACHE_DEFAULT);
    /* signs with the keyring: started after it, stopped before it closes */
    if ((ret = idp_backchannel_start(idp, &idp->backchannel)) != 0) {
        hub_log_error("cannot start the back-channel logout thread: %s", hub_strerror(ret));
        idp_client_cache_destroy(idp->clients);
        idp_keyring_close(idp->keyring);
        goto fail;
    }

    /* each module registers its endpoints from the table of idp/endpoint.h */
    if ((ret = idp_login_register(idp)) != 0) {
        idp_backchannel_stop(idp->backchannel);
        idp_keyring_close(idp->keyring);
        idp_client_cache_destroy(idp->clients);
        goto fail;
    }
    idp_authorize_register(idp);
    idp_approve_register(idp);
    idp_token_register(idp);
    idp_introspect_register(idp);
    idp_revoke_register(idp);
    idp_userinfo_register(idp);
    idp_register_register(idp);
    idp_discovery_register(idp);
    idp_logout_register(idp);
    idp_consoles_register(idp); /* /admin/, /account/ and the stylesheet (SPEC §11) */
    startup_defer(idp);
    *out = idp;
    return 0;
fail:
    OPENSSL_cleanse(idp->csrf_key, sizeof(idp->csrf_key));
    free(idp);
    return ret;
}

void idp_destroy(idp_t *idp)
{
    if (idp == NULL)
        return;
    startup_stop(idp->startup); /* before what its loads use */
    idp_backchannel_stop(idp->backchannel);
    idp_login_dispose(idp);
    idp_keyring_close(idp->keyring);
    idp_client_cache_destroy(idp->clients);
    OPENSSL_cleanse(idp->csrf_key, sizeof(idp->csrf_key));
    free(idp);
}
