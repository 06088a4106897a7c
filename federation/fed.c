/* The secondary node: builds the federation context, runs the worker thread that talks to the
 * primary (never an event loop), and registers the routes of SPEC §6. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "federation/fed_ctx.h"
#include <openssl/crypto.h>
#include "federation/fed_login.h"
#include "federation/fed_refresh.h"
#include "federation/fed_routes.h"
#include "federation/fed_session.h"
#include "hub/cookie.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"

#define KEY_JWKS "jwks"
#define KEY_NODE_KEY "node_key" /* 256 bits: seals pending sign-ins, signs the sign-out form (HUB_T_FED) */
#define JWKS_TIMEOUT_MS 5000
/* seconds: the primary's max-age is publish_ahead / 2 so that caches fetch a next key before it
 * signs; it is honoured down to 1 s (a max-age of 0 must not turn into a refresh loop). */
#define JWKS_MIN_REFRESH 1
#define JWKS_MAX_REFRESH 3600
#define PROBE_INTERVAL 300
#define DOWN_RECHECK 2 /* seconds between two checks while the primary is unreachable */
#define BACKOFF_MAX 60
#define BEARER_MAX 16384
#define KID_WAIT_TICKS ((FED_KID_WAIT_MS + 999) / 1000) /* turns of the loop's one-second timeout */

/* A request parked by fed_kid_wait, in its req->pool: the pool's release unlinks it. */
typedef struct st_kid_waiter_t {
    h2o_linklist_t link;       /* in loop->waiters while parked, under fed->mutex */
    h2o_timeout_entry_t timer; /* the loop's one-second timeout (zero timeout when a round already ended) */
    fed_loop_t *loop;
    h2o_req_t *req;
    uint64_t target; /* parked until jwks_done reaches it */
    unsigned ticks_left;
    fed_resume_cb resume;
    void *data;
} kid_waiter_t;

/* secondary.scopes joined by spaces, with openid first when missing (sign-in needs an id_token). */
static char *join_scopes(const hub_config_t *cfg)
{
    size_t i, len = sizeof("openid"), o = 0;
    int has_openid = 0;
    char *s;

    if (cfg->secondary.nscopes == 0)
        return strdup("openid profile email roles");
    for (i = 0; i != cfg->secondary.nscopes; ++i) {
        len += strlen(cfg->secondary.scopes[i]) + 1;
        has_openid |= strcmp(cfg->secondary.scopes[i], "openid") == 0;
    }
    if ((s = malloc(len)) == NULL)
        abort();
    s[0] = '\0';
    if (!has_openid)
        o += (size_t)snprintf(s, len, "openid");
    for (i = 0; i != cfg->secondary.nscopes; ++i)
        o += (size_t)snprintf(s + o, len - o, "%s%s", o != 0 ? " " : "", cfg->secondary.scopes[i]);
    return s;
}

static void wake_worker(void *arg)
{
    fed_t *fed = arg;
    pthread_mutex_lock(&fed->mutex);
    fed->want_jwks = 1;
    pthread_cond_signal(&fed->cond);
    pthread_mutex_unlock(&fed->mutex);
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
        pthread_mutex_lock(&fed->mutex); /* the worker watches for its return, whoever noticed */
        pthread_cond_signal(&fed->cond);
        pthread_mutex_unlock(&fed->mutex);
    }
}

void fed_primary_recheck(fed_t *fed)
{
    uint64_t now = hub_now(), last = __atomic_load_n(&fed->last_recheck, __ATOMIC_ACQUIRE);
    if (now < last + 1 || !__atomic_compare_exchange_n(&fed->last_recheck, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&fed->mutex);
    fed->want_check = 1;
    pthread_cond_signal(&fed->cond);
    pthread_mutex_unlock(&fed->mutex);
}

/* No answer at all (as opposed to an answer the node did not like). */
static int unreachable(int ret)
{
    return ret == HUB_E_NET || ret == HUB_E_TIMEOUT;
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

/* Takes w off its loop's list; any thread. */
static void waiter_unpark(kid_waiter_t *w)
{
    fed_t *fed = w->loop->fed;
    pthread_mutex_lock(&fed->mutex);
    if (h2o_linklist_is_linked(&w->link)) {
        h2o_linklist_unlink(&w->link);
        --fed->nwaiting;
    }
    pthread_mutex_unlock(&fed->mutex);
}

/* Lets an unparked request go on; loop thread. w may be freed by resume (the request may end in it). */
static void waiter_resume(kid_waiter_t *w)
{
    fed_resume_cb resume = w->resume;
    h2o_req_t *req = w->req;
    void *data = w->data;

    if (h2o_timeout_is_linked(&w->timer))
        h2o_timeout_unlink(&w->timer);
    w->resume = NULL;
    resume(req, data);
}

/* The client went away (or the request ended): nothing may resume it any more. */
static void on_waiter_dispose(void *p)
{
    kid_waiter_t *w = p;
    waiter_unpark(w);
    if (h2o_timeout_is_linked(&w->timer))
        h2o_timeout_unlink(&w->timer);
}

static void on_waiter_timer(h2o_timeout_entry_t *entry)
{
    kid_waiter_t *w = H2O_STRUCT_FROM_MEMBER(kid_waiter_t, timer, entry);
    fed_t *fed = w->loop->fed;

    if (w->ticks_left != 0 && --w->ticks_left != 0 && fed_jwks_rounds(fed) < w->target) {
        h2o_timeout_link(w->req->conn->ctx->loop, &w->req->conn->ctx->one_sec_timeout, &w->timer);
        return;
    }
    waiter_unpark(w);
    waiter_resume(w);
}

/* Posted by the worker at the end of a JWKS round: resumes this loop's requests that waited for it. */
static void on_round_end(void *arg, const hub_fetch_res_t *res)
{
    fed_loop_t *loop = arg;
    fed_t *fed = loop->fed;
    (void)res;

    pthread_mutex_lock(&fed->mutex);
    loop->posted = 0;
    pthread_mutex_unlock(&fed->mutex);
    for (;;) {
        kid_waiter_t *w = NULL;
        pthread_mutex_lock(&fed->mutex);
        if (!h2o_linklist_is_empty(&loop->waiters)) {
            w = H2O_STRUCT_FROM_MEMBER(kid_waiter_t, link, loop->waiters.next);
            if (w->target <= fed->jwks_done) {
                h2o_linklist_unlink(&w->link);
                --fed->nwaiting;
            } else {
                w = NULL; /* targets never decrease along the list: the rest waits for a later round */
            }
        }
        pthread_mutex_unlock(&fed->mutex);
        if (w == NULL)
            break;
        waiter_resume(w);
    }
}

uint64_t fed_jwks_rounds(fed_t *fed)
{
    return __atomic_load_n(&fed->jwks_done, __ATOMIC_ACQUIRE);
}

int fed_kid_wait(fed_t *fed, h2o_req_t *req, uint64_t seen, fed_resume_cb resume, void *data)
{
    hub_thread_t *thr = hub_req_thread(req);
    h2o_context_t *ctx = req->conn->ctx;
    kid_waiter_t *w;
    int ended;

    if (resume == NULL || thr->index >= fed->nloops || thr->fetch_port == NULL ||
        __atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&fed->mutex);
    ended = fed->jwks_done != seen; /* a round ended since the caller looked: try again at once */
    if (fed->nwaiting >= FED_KID_WAIT_MAX || (!ended && !fed->want_jwks && fed->jwks_started == fed->jwks_done)) {
        pthread_mutex_unlock(&fed->mutex);
        return 0;
    }
    w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), on_waiter_dispose);
    memset(w, 0, sizeof(*w));
    w->loop = &fed->loops[thr->index];
    w->req = req;
    w->resume = resume;
    w->data = data;
    w->timer.cb = on_waiter_timer;
    w->ticks_left = ended ? 0 : KID_WAIT_TICKS;
    /* a round asked for but not started yet is the next one; else the one in flight, which
     * started after the keys this request was checked against */
    w->target = ended ? fed->jwks_done : fed->jwks_started + (fed->want_jwks ? 1 : 0);
    if (!ended) {
        w->loop->port = thr->fetch_port;
        h2o_linklist_insert(&w->loop->waiters, &w->link);
        ++fed->nwaiting;
    }
    pthread_mutex_unlock(&fed->mutex);
    h2o_timeout_link(ctx->loop, ended ? &ctx->zero_timeout : &ctx->one_sec_timeout, &w->timer);
    return 1;
}

static void round_begin(fed_t *fed)
{
    pthread_mutex_lock(&fed->mutex);
    ++fed->jwks_started;
    pthread_mutex_unlock(&fed->mutex);
}

/* A JWKS round ended (keys fetched or not): wakes every loop with a request waiting for it. */
static void round_end(fed_t *fed)
{
    size_t i;
    pthread_mutex_lock(&fed->mutex);
    __atomic_store_n(&fed->jwks_done, fed->jwks_started, __ATOMIC_RELEASE);
    for (i = 0; i != fed->nloops; ++i) {
        fed_loop_t *loop = &fed->loops[i];
        /* a parked request keeps its connection, so its loop and port are alive while it is listed */
        if (h2o_linklist_is_empty(&loop->waiters) || loop->posted ||
            H2O_STRUCT_FROM_MEMBER(kid_waiter_t, link, loop->waiters.next)->target > fed->jwks_done)
            continue;
        loop->posted = hub_fetch_port_post(loop->port, on_round_end, loop) == 0;
    }
    pthread_mutex_unlock(&fed->mutex);
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
        *backoff = *backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : *backoff * 2;
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

static void next_backoff(unsigned *b)
{
    *b = *b * 2 > BACKOFF_MAX ? BACKOFF_MAX : *b * 2;
}

/* The earlier of wake and t when cond holds. */
static uint64_t earliest(uint64_t wake, int cond, uint64_t t)
{
    return cond && t < wake ? t : wake;
}

/* Sleeps until the second wake, an ask or stop; called and returns with fed->mutex held. */
static void worker_sleep(fed_t *fed, uint64_t wake)
{
    if (!fed->stopping && !fed->want_jwks && !fed->want_check && wake > hub_now()) {
        struct timespec ts = {.tv_sec = (time_t)wake, .tv_nsec = 0};
        pthread_cond_timedwait(&fed->cond, &fed->mutex, &ts);
    }
}

/* Talks to the primary: discovery (until it succeeds once), registration (when there are no
 * credentials, or they were revoked and a new join token is there), the JWKS on its
 * max-age or when an unknown kid asks, and a periodic credential probe. Blocking calls are
 * bounded by their timeouts; stop is noticed between them. */
static void *worker_main(void *arg)
{
    fed_t *fed = arg;
    int discovered = 0, reg_gave_up = 0;
    uint64_t next_discover = 0, next_register = 0, next_jwks = 0, next_probe = 0, next_down_check = 0;
    unsigned b_discover = 1, b_register = 1, b_jwks = 1;
    char *persisted = fed_jwks_raw(fed->jwks);

    pthread_mutex_lock(&fed->mutex);
    while (!fed->stopping) {
        int want_jwks = fed->want_jwks || fed_jwks_deferred(fed->jwks, 1), want_check = fed->want_check, round = want_jwks;
        fed->want_jwks = fed->want_check = 0;
        if (want_jwks) /* taken under the lock with the ask, so a request parked now waits for this round */
            ++fed->jwks_started;
        pthread_mutex_unlock(&fed->mutex);

        uint64_t now = hub_now();
        const fed_reg_t *reg = fed_join_current(fed->join);
        /* whoever found the primary unreachable (a sign-in, a session's refresh), the worker checks for its return */
        if (__atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE) && now >= next_down_check)
            want_check = 1;
        if (want_check)
            next_down_check = now + DOWN_RECHECK;
        if (!discovered && (want_check || now >= next_discover)) {
            int ret = fed_join_discover(fed->join);
            fed_primary_answered(fed, !unreachable(ret));
            if (ret == 0) {
                discovered = 1;
                next_jwks = 0;
                b_discover = 1;
            } else {
                next_discover = now + (unreachable(ret) && b_discover > DOWN_RECHECK ? DOWN_RECHECK : b_discover);
                next_backoff(&b_discover);
            }
            reg = fed_join_current(fed->join);
            want_check = 0; /* that was the check */
        }
        int need_register = reg->client_id == NULL || reg->client_secret == NULL || fed_join_revoked(fed->join);
        if (discovered && need_register && !reg_gave_up && now >= next_register) {
            int ret = fed_join_register(fed->join);
            if (ret == 0) {
                b_register = 1;
                next_register = now + BACKOFF_MAX; /* still revoked without a new token: ask again later */
                next_probe = 0;
            } else {
                if (ret == HUB_E_CONFIG || ret == HUB_E_DENIED)
                    reg_gave_up = fed_join_current(fed->join)->client_id == NULL; /* only a new token can help */
                next_register = now + (ret == HUB_E_DENIED || ret == HUB_E_CONFIG ? BACKOFF_MAX : b_register);
                next_backoff(&b_register);
            }
            reg = fed_join_current(fed->join);
        }
        if (reg->jwks_uri != NULL && (want_jwks || want_check || now >= next_jwks)) {
            if (!round)
                round_begin(fed);
            round = 1;
            next_jwks = hub_now() + refresh_jwks(fed, reg->jwks_uri, &persisted, &b_jwks);
        }
        if (round) /* even without a fetch (not discovered yet): the parked requests get their answer */
            round_end(fed);
        if (discovered && reg->client_id != NULL && now >= next_probe) {
            int ret = fed_join_probe(fed->join);
            fed_primary_answered(fed, !unreachable(ret));
            next_probe = hub_now() + (ret == 0 || ret == HUB_E_DENIED ? PROBE_INTERVAL : BACKOFF_MAX / 2);
            if (ret == HUB_E_DENIED)
                next_register = 0;
        }

        /* sleep until the earliest timer, a wake-up or stop */
        uint64_t wake = hub_now() + BACKOFF_MAX, deferred = fed_jwks_deferred(fed->jwks, 0);
        wake = earliest(wake, reg->jwks_uri != NULL, next_jwks);
        wake = earliest(wake, deferred != 0, deferred);
        wake = earliest(wake, !discovered, next_discover);
        wake = earliest(wake, discovered && need_register && !reg_gave_up, next_register);
        wake = earliest(wake, discovered && reg->client_id != NULL, next_probe);
        wake = earliest(wake, __atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE), next_down_check);
        pthread_mutex_lock(&fed->mutex);
        worker_sleep(fed, wake);
    }
    pthread_mutex_unlock(&fed->mutex);
    free(persisted);
    return NULL;
}

fed_who_t fed_identify(fed_t *fed, h2o_req_t *req, fed_identity_t *id, const char **why, fed_resume_cb resume, void *data)
{
    ssize_t cursor = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *cookie;

    *why = NULL;
    if (cursor != -1) {
        h2o_iovec_t v = req->headers.entries[cursor].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0) {
            const char *t = v.base + 7;
            size_t len = v.len - 7;
            while (len != 0 && *t == ' ')
                ++t, --len;
            while (len != 0 && t[len - 1] == ' ')
                --len;
            if (len == 0 || len > BEARER_MAX) {
                *why = "the Bearer token is empty or too long";
                return FED_WHO_BAD_TOKEN;
            }
            uint64_t seen = fed_jwks_rounds(fed);
            int ret = fed_verify_access_token(fed->verify, fed_join_current(fed->join)->client_id, t, len, &req->pool, id, why);
            if (ret == HUB_E_NOTFOUND && fed_kid_wait(fed, req, seen, resume, data))
                return FED_WHO_WAIT;
            return ret == 0 ? FED_WHO_OK : FED_WHO_BAD_TOKEN;
        }
    }
    if ((cookie = hub_req_cookie(&req->pool, req, fed->session_cookie)) != NULL) {
        fed_session_t s;
        fed_who_t who;
        if (fed_session_load(fed->store, cookie, &req->pool, &s) != 0)
            return FED_WHO_NONE;
        /* a session past its access token's lifetime re-validates with the primary first */
        if ((who = fed_refresh_gate(fed, req, &s, resume, data)) == FED_WHO_OK)
            *id = s.id;
        return who;
    }
    return FED_WHO_NONE;
}

/* POST /auth/jwks-changed (SPEC §6): anyone may say the primary's keys changed; all it does is
 * ask for the shared, rate-limited JWKS refresh, which drops the keys the primary no longer
 * publishes. The answer is the same whether a refresh starts now or after the rate limit. */
static int on_jwks_changed(void *data, h2o_req_t *req)
{
    fed_t *fed = data;

    if (!hub_path_is(req, "/auth/jwks-changed"))
        return -1;
    if (!hub_method_is(req, "POST")) {
        hub_resp_header(req, "allow", "POST");
        hub_send_oauth_error(req, HUB_OAUTH_METHOD_NOT_ALLOWED, "use POST");
        return 0;
    }
    if (!fed_jwks_changed(fed->jwks)) { /* kept for later: the worker sets its alarm by it */
        pthread_mutex_lock(&fed->mutex);
        pthread_cond_signal(&fed->cond);
        pthread_mutex_unlock(&fed->mutex);
    }
    hub_resp_header(req, "cache-control", "no-store");
    hub_send_text(req, 204, "", 0);
    return 0;
}

/* The node key (created on the first start) and the keys derived from it. */
static int load_node_key(fed_t *fed)
{
    uint8_t key[HUB_KEY_LEN];
    int ret;

    if ((ret = hub_store_secret_key(fed->store, HUB_T_FED, KEY_NODE_KEY, key)) != 0) {
        hub_log_error("federation: cannot read or create the node key: %s", hub_strerror(ret));
        return ret;
    }
    fed_state_keys_init(&fed->state_keys, key);
    hub_key_derive(fed->logout_key, key, "hub secondary: sign-out form v1");
    OPENSSL_cleanse(key, sizeof(key));
    return 0;
}

void fed_send_unauthorized(h2o_req_t *req, fed_who_t who, const char *why)
{
    if (who == FED_WHO_BAD_TOKEN) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_TOKEN, why != NULL ? why : "the access token is not valid");
        return;
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"hub\""));
    hub_send_json(req, 401,
                  json_pack("{s:s,s:s}", "error", "login_required", "error_description",
                            "sign in at /auth/login or send a Bearer access token"),
                  1);
}

int fed_create(fed_t **out, hub_server_t *server)
{
    fed_t *fed = calloc(1, sizeof(*fed));
    const hub_config_t *cfg = hub_server_config(server);
    int ret;

    if (fed == NULL)
        abort();
    fed->server = server;
    fed->cfg = cfg;
    fed->store = hub_server_store(server);
    fed->fetcher = hub_server_fetcher(server);
    pthread_mutex_init(&fed->mutex, NULL);
    pthread_cond_init(&fed->cond, NULL);
    h2o_linklist_init_anchor(&fed->pending);
    h2o_linklist_init_anchor(&fed->flights);
    fed->nloops = cfg->node.threads > 0 ? cfg->node.threads : 1; /* as hub_server_run */
    if ((fed->loops = calloc(fed->nloops, sizeof(*fed->loops))) == NULL)
        abort();
    for (size_t i = 0; i != fed->nloops; ++i) {
        fed->loops[i].fed = fed;
        h2o_linklist_init_anchor(&fed->loops[i].waiters);
        h2o_linklist_init_anchor(&fed->loops[i].revalidated);
    }
    if (cfg->secondary.server_url == NULL || fed->store == NULL) {
        hub_log_error("secondary.server_url: required on a secondary");
        ret = HUB_E_CONFIG;
        goto fail;
    }
    fed->secure_cookies = hub_server_is_tls(server) || strncmp(cfg->node.public_url, "https://", 8) == 0;
    /* without __Host-, as a secondary always named them (its pending sign-ins' cookies have Path=/auth/, which __Host- forbids) */
    if (hub_cookie_name(fed->session_cookie, sizeof(fed->session_cookie), cfg->node.name, "session", 0) != 0 ||
        hub_cookie_name(fed->state_cookie, sizeof(fed->state_cookie), cfg->node.name, "state", 0) != 0) {
        hub_log_error("node.name: too long for a cookie name");
        ret = HUB_E_CONFIG;
        goto fail;
    }
    snprintf(fed->redirect_uri, sizeof(fed->redirect_uri), "%s/auth/callback", cfg->node.public_url);
    snprintf(fed->home_uri, sizeof(fed->home_uri), "%s/", cfg->node.public_url);
    if ((fed->scope = join_scopes(cfg)) == NULL)
        abort();

    if ((ret = load_node_key(fed)) != 0 || (ret = fed_join_create(&fed->join, cfg, fed->store)) != 0)
        goto fail;
    fed->jwks = fed_jwks_create(wake_worker, fed);
    load_stored_jwks(fed);
    fed->verify = fed_verify_create(fed->jwks, cfg->secondary.server_url, cfg->secondary.accept_audiences,
                                    cfg->secondary.naccept_audiences, cfg->secondary.clock_skew, 0);
    hub_server_route(server, "/auth/jwks-changed", on_jwks_changed, fed);
    fed_login_register(fed);
    if ((ret = fed_routes_register(fed)) != 0)
        goto fail;
    fed_login_register_home(fed);
    if (pthread_create(&fed->worker, NULL, worker_main, fed) != 0) {
        hub_log_error("federation: cannot start the worker thread");
        ret = HUB_E_NOMEM;
        goto fail;
    }
    fed->worker_started = 1;
    *out = fed;
    return 0;
fail:
    fed_destroy(fed);
    return ret;
}

void fed_destroy(fed_t *fed)
{
    if (fed == NULL)
        return;
    if (fed->worker_started) {
        pthread_mutex_lock(&fed->mutex);
        fed->stopping = 1;
        pthread_cond_signal(&fed->cond);
        pthread_mutex_unlock(&fed->mutex);
        pthread_join(fed->worker, NULL);
    }
    fed_login_dispose(fed);
    fed_refresh_dispose(fed);
    fed_routes_dispose(fed);
    fed_verify_destroy(fed->verify);
    fed_jwks_destroy(fed->jwks);
    fed_join_destroy(fed->join);
    free(fed->scope);
    free(fed->loops); /* the loops are gone, and every parked request with them */
    OPENSSL_cleanse(&fed->state_keys, sizeof(fed->state_keys));
    OPENSSL_cleanse(fed->logout_key, sizeof(fed->logout_key));
    pthread_cond_destroy(&fed->cond);
    pthread_mutex_destroy(&fed->mutex);
    free(fed);
}
