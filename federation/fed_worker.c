/* The secondary's worker thread (fed_worker.h): every blocking call to the primary, on a schedule of its own. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "federation/fed_worker.h"
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"

#define KEY_JWKS "jwks" /* in HUB_T_FED: the primary's last JWKS, for a restart while it is down */
#define JWKS_TIMEOUT_MS 5000
/* seconds: the primary's max-age is publish_ahead / 2 so that caches fetch a next key before it
 * signs; it is honoured down to 1 s (a max-age of 0 must not turn into a refresh loop). */
#define JWKS_MIN_REFRESH 1
#define JWKS_MAX_REFRESH 3600
#define PROBE_INTERVAL 300
#define DOWN_RECHECK 2 /* seconds between two checks while the primary is unreachable */
#define BACKOFF_MAX 60

struct st_fed_worker_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_t thread;
    int started;
    int stopping;             /* under mutex */
    int want_check;           /* under mutex: someone found the primary unreachable and asks for a check now */
    uint64_t last_recheck;    /* atomic: hub_now() of the last check asked (fed_primary_recheck) */
    fed_park_line_t kid_wait; /* requests waiting for a JWKS round: ticket = the number of ended rounds they need */
};

/* When each of the worker's jobs is due next, and how long it backs off after a failure. */
typedef struct st_schedule_t {
    int discovered, reg_gave_up;
    uint64_t next_discover, next_register, next_jwks, next_probe, next_down_check; /* hub_now() seconds */
    unsigned b_discover, b_register, b_jwks;
    char *persisted; /* the JWKS text last stored */
} schedule_t;

void fed_worker_wake(void *arg)
{
    struct st_fed_worker_t *w = ((fed_t *)arg)->worker;
    pthread_mutex_lock(&w->mutex);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

uint64_t fed_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fed_primary_answered(fed_t *fed, int answered)
{
    int was_down = __atomic_exchange_n(&fed->primary_down, !answered, __ATOMIC_ACQ_REL);
    if (was_down && answered) {
        hub_log_info("federation: the primary %s answers again", fed->cfg->secondary.server_url);
    } else if (!was_down && !answered) {
        hub_log_warn("federation: the primary %s is unreachable; sign-ins wait for it, signed-in users and known tokens "
                     "keep working",
                     fed->cfg->secondary.server_url);
        fed_worker_wake(fed); /* the worker watches for its return, whoever noticed */
    }
}

void fed_primary_recheck(fed_t *fed)
{
    struct st_fed_worker_t *w = fed->worker;
    uint64_t now = hub_now(), last = __atomic_load_n(&w->last_recheck, __ATOMIC_ACQUIRE);
    if (now < last + 1 || !__atomic_compare_exchange_n(&w->last_recheck, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&w->mutex);
    w->want_check = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

int fed_kid_wait(fed_t *fed, h2o_req_t *req, uint64_t seen, fed_resume_cb resume, void *data)
{
    uint64_t target;

    if (resume == NULL || __atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE) || !fed_jwks_round_target(fed->jwks, seen, &target))
        return 0;
    return fed_park_wait(fed->park, &fed->worker->kid_wait, target, req, FED_KID_WAIT_MS, resume, data);
}

/* No answer at all (as opposed to an answer the node did not like). */
static int unreachable(int ret)
{
    return ret == HUB_E_NET || ret == HUB_E_TIMEOUT;
}

static void next_backoff(unsigned *b)
{
    *b = *b * 2 > BACKOFF_MAX ? BACKOFF_MAX : *b * 2;
}

static int put_jwks_txn(hub_txn_t *txn, void *arg)
{
    const char *raw = arg;
    return hub_store_put(txn, HUB_T_FED, KEY_JWKS, strlen(KEY_JWKS), raw, strlen(raw), 0, 0);
}

static void load_stored_jwks(fed_t *fed)
{
    hub_txn_t *txn;
    hub_val_t v;
    if (hub_store_read_begin(fed->store, &txn) != 0)
        return;
    if (hub_store_get(txn, HUB_T_FED, KEY_JWKS, strlen(KEY_JWKS), &v) == 0 && fed_jwks_install(fed->jwks, v.data, v.len) == 0)
        hub_log_info("federation: %zu stored signing keys of the primary loaded", fed_jwks_count(fed->jwks));
    hub_store_read_end(txn);
}

/* One JWKS refresh; returns seconds until the next one. */
static uint64_t refresh_jwks(fed_t *fed, const char *uri, char **persisted, unsigned *backoff)
{
    uint64_t max_age;
    char *raw;
    int ret;

    ret = fed_jwks_fetch(fed->jwks, uri, JWKS_TIMEOUT_MS, &max_age);
    fed_primary_answered(fed, !unreachable(ret));
    if (ret != 0) {
        uint64_t wait = unreachable(ret) && *backoff > DOWN_RECHECK ? DOWN_RECHECK : *backoff;
        hub_log_warn("federation: cannot refresh the primary's keys from %s: %s (the %zu known keys keep working)", uri,
                     hub_strerror(ret), fed_jwks_count(fed->jwks));
        next_backoff(backoff);
        return wait;
    }
    *backoff = 1;
    raw = fed_jwks_raw(fed->jwks);
    if (raw != NULL && (*persisted == NULL || strcmp(raw, *persisted) != 0)) {
        if (hub_store_write(fed->store, put_jwks_txn, raw) == 0) {
            hub_log_info("federation: %zu signing keys of the primary in use", fed_jwks_count(fed->jwks));
            free(*persisted);
            *persisted = raw;
            raw = NULL;
        }
    }
    free(raw);
    return max_age < JWKS_MIN_REFRESH ? JWKS_MIN_REFRESH : max_age > JWKS_MAX_REFRESH ? JWKS_MAX_REFRESH : max_age;
}

/* Discovery, until it succeeds once; with want_check it runs now, and is the check. Returns want_check as left. */
static int step_discover(fed_t *fed, schedule_t *s, uint64_t now, int want_check)
{
    int ret;

    if (s->discovered || !(want_check || now >= s->next_discover))
        return want_check;
    ret = fed_join_discover(fed->join);
    fed_primary_answered(fed, !unreachable(ret));
    if (ret == 0) {
        s->discovered = 1;
        s->next_jwks = 0;
        s->b_discover = 1;
    } else {
        s->next_discover = now + (unreachable(ret) && s->b_discover > DOWN_RECHECK ? DOWN_RECHECK : s->b_discover);
        next_backoff(&s->b_discover);
    }
    return 0; /* that was the check */
}

/* Whether registration is due at all: no credentials, or they were revoked (a new join token may be there). */
static int registration_due(fed_t *fed, const schedule_t *s)
{
    const fed_reg_t *reg = fed_join_current(fed->join);
    return s->discovered && !s->reg_gave_up &&
           (reg->client_id == NULL || reg->client_secret == NULL || fed_join_revoked(fed->join));
}

static void step_register(fed_t *fed, schedule_t *s, uint64_t now)
{
    int ret;

    if (!registration_due(fed, s) || now < s->next_register)
        return;
    ret = fed_join_register(fed->join);
    if (ret == 0) {
        s->b_register = 1;
        s->next_register = now + BACKOFF_MAX; /* still revoked without a new token: ask again later */
        s->next_probe = 0;
        return;
    }
    if (ret == HUB_E_CONFIG || ret == HUB_E_DENIED)
        s->reg_gave_up = fed_join_current(fed->join)->client_id == NULL; /* only a new token can help */
    s->next_register = now + (ret == HUB_E_DENIED || ret == HUB_E_CONFIG ? BACKOFF_MAX : s->b_register);
    next_backoff(&s->b_register);
}

/* A JWKS refresh when a round was taken, a check asked or the max-age ran out; a round ends even without a fetch (not
 * discovered yet): the requests parked for it get their answer. */
static void step_jwks(fed_t *fed, schedule_t *s, uint64_t now, int round, int want_check)
{
    const fed_reg_t *reg = fed_join_current(fed->join);

    if (reg->jwks_uri != NULL && (round || want_check || now >= s->next_jwks)) {
        if (!round)
            fed_jwks_round_begin(fed->jwks);
        round = 1;
        s->next_jwks = hub_now() + refresh_jwks(fed, reg->jwks_uri, &s->persisted, &s->b_jwks);
    }
    if (round)
        fed_park_release(fed->park, &fed->worker->kid_wait, fed_jwks_round_end(fed->jwks));
}

static void step_probe(fed_t *fed, schedule_t *s, uint64_t now)
{
    int ret;

    if (!s->discovered || fed_join_current(fed->join)->client_id == NULL || now < s->next_probe)
        return;
    ret = fed_join_probe(fed->join);
    fed_primary_answered(fed, !unreachable(ret));
    s->next_probe = hub_now() + (ret == 0 || ret == HUB_E_DENIED ? PROBE_INTERVAL : BACKOFF_MAX / 2);
    if (ret == HUB_E_DENIED)
        s->next_register = 0;
}

/* The earlier of wake and t when cond holds. */
static uint64_t earliest(uint64_t wake, int cond, uint64_t t)
{
    return cond && t < wake ? t : wake;
}

/* The hub_now() second of the earliest job due. */
static uint64_t next_wake(fed_t *fed, const schedule_t *s)
{
    const fed_reg_t *reg = fed_join_current(fed->join);
    uint64_t wake = hub_now() + BACKOFF_MAX, deferred = fed_jwks_deferred(fed->jwks, 0);

    wake = earliest(wake, reg->jwks_uri != NULL, s->next_jwks);
    wake = earliest(wake, deferred != 0, deferred);
    wake = earliest(wake, !s->discovered, s->next_discover);
    wake = earliest(wake, registration_due(fed, s), s->next_register);
    wake = earliest(wake, s->discovered && reg->client_id != NULL, s->next_probe);
    return earliest(wake, __atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE), s->next_down_check);
}

/* Sleeps until the second wake, an ask or stop; called and returns with the worker's mutex held. */
static void worker_sleep(fed_t *fed, uint64_t wake)
{
    struct st_fed_worker_t *w = fed->worker;
    if (!w->stopping && !fed_jwks_asked(fed->jwks) && !w->want_check && wake > hub_now()) {
        struct timespec ts = {.tv_sec = (time_t)wake, .tv_nsec = 0};
        pthread_cond_timedwait(&w->cond, &w->mutex, &ts);
    }
}

/* Talks to the primary: discovery (until it succeeds once), registration (when there are no credentials, or they were
 * revoked and a new join token is there), the JWKS on its max-age or when an unknown kid asks, and a periodic
 * credential probe. Blocking calls are bounded by their timeouts; stop is noticed between them. */
static void *worker_main(void *arg)
{
    fed_t *fed = arg;
    struct st_fed_worker_t *w = fed->worker;
    schedule_t s = {.b_discover = 1, .b_register = 1, .b_jwks = 1, .persisted = fed_jwks_raw(fed->jwks)};

    pthread_mutex_lock(&w->mutex);
    while (!w->stopping) {
        int want_check = w->want_check;
        w->want_check = 0;
        pthread_mutex_unlock(&w->mutex);

        int round = fed_jwks_round_take(fed->jwks);
        uint64_t now = hub_now();
        /* whoever found the primary unreachable (a sign-in, a session's refresh), the worker checks for its return */
        if (__atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE) && now >= s.next_down_check)
            want_check = 1;
        if (want_check)
            s.next_down_check = now + DOWN_RECHECK;
        want_check = step_discover(fed, &s, now, want_check);
        step_register(fed, &s, now);
        step_jwks(fed, &s, now, round, want_check);
        step_probe(fed, &s, now);
        uint64_t wake = next_wake(fed, &s);

        pthread_mutex_lock(&w->mutex);
        worker_sleep(fed, wake);
    }
    pthread_mutex_unlock(&w->mutex);
    free(s.persisted);
    return NULL;
}

int fed_worker_create(fed_t *fed)
{
    struct st_fed_worker_t *w = calloc(1, sizeof(*w));

    if (w == NULL)
        h2o_fatal("out of memory");
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->cond, NULL);
    fed_park_line_init(&w->kid_wait, FED_KID_WAIT_MAX);
    fed->worker = w;
    load_stored_jwks(fed);
    return 0;
}

int fed_worker_start(fed_t *fed)
{
    struct st_fed_worker_t *w = fed->worker;

    if (pthread_create(&w->thread, NULL, worker_main, fed) != 0) {
        hub_log_error("federation: cannot start the worker thread");
        return HUB_E_NOMEM;
    }
    w->started = 1;
    return 0;
}

void fed_worker_destroy(fed_t *fed)
{
    struct st_fed_worker_t *w = fed->worker;

    if (w == NULL)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mutex);
        w->stopping = 1;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mutex);
        pthread_join(w->thread, NULL);
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mutex);
    free(w);
    fed->worker = NULL;
}
