/* Session re-validation: one refresh grant in flight per session (a "flight", keyed by the
 * session's record key), requests of a session past due parked on it, the answer applied to
 * the store before the flight ends so the next one reads the rotated refresh token. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "federation/fed_refresh.h"
#include "federation/fed_worker.h"
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/form.h"
#include "hub/log.h"

struct st_fed_refresh_t {
    pthread_mutex_t mutex;
    h2o_linklist_t flights; /* under mutex */
    size_t nflights;        /* under mutex */
};

/* One refresh grant in flight for a session, and the requests of that session parked until it ends. */
typedef struct st_flight_t {
    h2o_linklist_t link; /* in fed->refresh->flights, under its mutex */
    fed_t *fed;
    char hash[HUB_SECRET_HASH_LEN + 1];
    fed_park_line_t waiting; /* released (all tickets) when the flight ends; gave_up: the next ones do not wait */
} flight_t;

/* The flight is over (its answer, if any, is in the store): it leaves the list, so no request parks on it any more,
 * and its requests go on, each on its own loop. Frees f. */
static void flight_end(flight_t *f)
{
    fed_t *fed = f->fed;

    pthread_mutex_lock(&fed->refresh->mutex);
    h2o_linklist_unlink(&f->link);
    --fed->refresh->nflights;
    pthread_mutex_unlock(&fed->refresh->mutex);
    fed_park_release(fed->park, &f->waiting, UINT64_MAX);
    free(f);
}

/* The outcome of a refresh grant. */
typedef enum { ANSWER_RENEWED, ANSWER_REFUSED, ANSWER_UNREACHABLE, ANSWER_UNUSABLE } answer_t;

/* A 200 answer: the new access token (and id_token, when it verifies) renew the session. */
static answer_t apply_tokens(flight_t *f, const json_t *doc, h2o_mem_pool_t *pool)
{
    fed_t *fed = f->fed;
    const char *client_id = fed_join_current(fed->join)->client_id, *why = NULL;
    const char *at = json_string_value(json_object_get(doc, "access_token"));
    const char *idt = json_string_value(json_object_get(doc, "id_token"));
    const char *rt = json_string_value(json_object_get(doc, "refresh_token"));
    json_int_t expires_in = json_integer_value(json_object_get(doc, "expires_in"));
    fed_session_t fresh = {.refresh_token = rt};
    json_t *claims = NULL;
    int ret;

    if (at == NULL || fed_verify_access_token(fed->verify, client_id, at, strlen(at), pool, &fresh.id, &why) != 0) {
        hub_log_warn("federation: a session's refresh brought an access token that does not verify (%s); kept as it was",
                     why != NULL ? why : "none");
        fed_session_postpone(fed->store, f->hash, rt, hub_now() + FED_REFRESH_RETRY);
        return ANSWER_UNUSABLE;
    }
    if (idt != NULL && fed_verify_id_token(fed->verify, client_id, NULL, idt, strlen(idt), &claims, &why) == 0) {
        fed_identity_t p;
        fed_identity_from_claims(pool, claims, &p);
        if (p.sub != NULL && strcmp(p.sub, fresh.id.sub) == 0)
            fresh.id.name = p.name, fresh.id.email = p.email, fresh.id_token = idt;
        json_decref(claims);
    }
    fresh.due = fresh.id.exp;
    fresh.life = expires_in > 0 && expires_in <= FED_REFRESH_LIFE_MAX ? (uint64_t)expires_in : 0;
    if ((ret = fed_session_update(fed->store, f->hash, &fresh)) == HUB_E_DENIED) {
        hub_log_warn("federation: a session's refresh named another user; session ended");
        fed_session_end_hash(fed->store, f->hash);
        return ANSWER_REFUSED;
    }
    if (ret != 0 && ret != HUB_E_NOTFOUND)
        hub_log_error("federation: cannot store a session's re-validation: %s", hub_strerror(ret));
    else if (ret == 0)
        hub_log_debug("federation: a session of %s re-validated (%zu roles)", fresh.id.sub, fresh.id.nroles);
    return ANSWER_RENEWED;
}

/* Reads the primary's answer into the store. */
static answer_t apply_answer(flight_t *f, const hub_fetch_res_t *res)
{
    fed_t *fed = f->fed;
    json_t *doc = NULL;
    const char *err;
    h2o_mem_pool_t pool;
    answer_t a;

    if (res->err != 0 || res->status >= 500) {
        fed_session_postpone(fed->store, f->hash, NULL, hub_now() + FED_REFRESH_RETRY);
        return ANSWER_UNREACHABLE;
    }
    doc = json_loadb(res->body, res->body_len, 0, NULL);
    err = json_string_value(json_object_get(doc, "error"));
    /* RFC 6749 §5.2: a refusal is a 400 with an error code, or a 401 (invalid_client); any other
     * answer (a proxy's error page, say) proves nothing about the session */
    if ((res->status == 400 && err != NULL) || res->status == 401) {
        hub_log_info("federation: the primary refused to re-validate a session (%.64s); session ended",
                     err != NULL ? err : "no error code");
        if (res->status == 401 || (err != NULL && strcmp(err, "invalid_client") == 0))
            fed_join_set_revoked(fed->join, 1);
        fed_session_end_hash(fed->store, f->hash);
        json_decref(doc);
        return ANSWER_REFUSED;
    }
    if (res->status != 200 || !json_is_object(doc)) {
        hub_log_warn("federation: the primary answered a session's refresh with HTTP %ld; tried again later", res->status);
        fed_session_postpone(fed->store, f->hash, NULL, hub_now() + FED_REFRESH_RETRY);
        json_decref(doc);
        return ANSWER_UNUSABLE;
    }
    h2o_mem_init_pool(&pool);
    a = apply_tokens(f, doc, &pool);
    h2o_mem_clear_pool(&pool);
    json_decref(doc);
    return a;
}

static void on_answer(void *arg, const hub_fetch_res_t *res)
{
    flight_t *f = arg;
    fed_t *fed = f->fed;

    if (apply_answer(f, res) == ANSWER_UNREACHABLE) {
        fed_primary_answered(fed, 0);
        fed_primary_recheck(fed); /* the worker watches for its return */
    } else {
        fed_primary_answered(fed, 1);
    }
    flight_end(f);
}

/* Sends the refresh grant with the session's refresh token as stored now: read after the flight
 * was listed, so after the previous flight of this session stored its rotated token. Ends f at
 * once when there is nothing to send. */
static void flight_send(flight_t *f, hub_fetch_port_t *port)
{
    fed_t *fed = f->fed;
    const fed_reg_t *reg = fed_join_current(fed->join);
    fed_session_t s;
    h2o_mem_pool_t pool;
    char *auth = NULL, *body = NULL;
    int ret = HUB_E_NOTFOUND;

    h2o_mem_init_pool(&pool);
    if (fed_session_load_hash(fed->store, f->hash, &pool, &s) != 0 || s.refresh_token == NULL || hub_now() + s.life / 4 < s.due)
        goto out; /* ended, or renewed meanwhile */
    h2o_iovec_t rt = hub_url_encode(&pool, s.refresh_token, strlen(s.refresh_token));
    if (asprintf(&body, "grant_type=refresh_token&refresh_token=%s", rt.base) < 0)
        h2o_fatal("out of memory");
    auth = fed_join_basic_auth(reg);
    const char *headers[] = {auth, "Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
    hub_fetch_req_t fr = {.method = "POST",
                          .url = reg->token_endpoint,
                          .headers = headers,
                          .nheaders = 3,
                          .body = body,
                          .body_len = strlen(body),
                          .timeout_ms = FED_REFRESH_TIMEOUT_MS};
    ret = hub_fetch_start(fed->fetcher, port, &fr, on_answer, f);
out:
    if (body != NULL)
        OPENSSL_cleanse(body, strlen(body));
    if (auth != NULL)
        OPENSSL_cleanse(auth, strlen(auth));
    free(body);
    free(auth);
    h2o_mem_clear_pool(&pool);
    if (ret != 0)
        flight_end(f);
}

/* The flight of the session hash; under r->mutex. */
static flight_t *flight_find(struct st_fed_refresh_t *r, const char *hash)
{
    h2o_linklist_t *l;
    for (l = r->flights.next; l != &r->flights; l = l->next) {
        flight_t *f = H2O_STRUCT_FROM_MEMBER(flight_t, link, l);
        if (strcmp(f->hash, hash) == 0)
            return f;
    }
    return NULL;
}

/* 1 when the node can send a refresh grant from req's loop now. */
static int can_refresh(fed_t *fed, h2o_req_t *req)
{
    const fed_reg_t *reg = fed_join_current(fed->join);
    return fed->fetcher != NULL && hub_req_thread(req)->fetch_port != NULL && reg->token_endpoint != NULL &&
           reg->client_id != NULL && reg->client_secret != NULL && !__atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE);
}

fed_gate_t fed_refresh_gate(fed_t *fed, h2o_req_t *req, const fed_session_t *s, fed_resume_cb resume, void *data)
{
    struct st_fed_refresh_t *r = fed->refresh;
    uint64_t now = hub_now();
    flight_t *f, *started = NULL;
    int parked = 0;

    if (s->refresh_token == NULL) { /* nothing to re-validate with: the identity is good until due */
        if (now < s->due)
            return FED_GATE_OK;
        fed_session_end_hash(fed->store, s->hash);
        return FED_GATE_ENDED;
    }
    if (now + s->life / 4 < s->due || !can_refresh(fed, req))
        return FED_GATE_OK; /* not due yet; or no way to ask (availability first) */
    pthread_mutex_lock(&r->mutex);
    if ((f = flight_find(r, s->hash)) == NULL && r->nflights < FED_REFRESH_MAX) {
        if ((f = started = calloc(1, sizeof(*f))) == NULL)
            h2o_fatal("out of memory");
        f->fed = fed;
        memcpy(f->hash, s->hash, sizeof(f->hash));
        fed_park_line_init(&f->waiting, 0);
        h2o_linklist_insert(&r->flights, &f->link);
        ++r->nflights;
    }
    /* parked under the mutex: the flight cannot end (and be freed) before req is in its line */
    if (f != NULL && now >= s->due && resume != NULL && !fed_park_gave_up(fed->park, &f->waiting))
        parked = fed_park_wait(fed->park, &f->waiting, 1, req, FED_REFRESH_WAIT_MS, resume, data);
    pthread_mutex_unlock(&r->mutex);
    if (started != NULL)
        flight_send(started, hub_req_thread(req)->fetch_port);
    return parked ? FED_GATE_WAIT : FED_GATE_OK;
}

void fed_refresh_create(fed_t *fed)
{
    struct st_fed_refresh_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        h2o_fatal("out of memory");
    pthread_mutex_init(&r->mutex, NULL);
    h2o_linklist_init_anchor(&r->flights);
    fed->refresh = r;
}

void fed_refresh_destroy(fed_t *fed)
{
    struct st_fed_refresh_t *r = fed->refresh;

    if (r == NULL)
        return;
    while (!h2o_linklist_is_empty(&r->flights)) {
        flight_t *f = H2O_STRUCT_FROM_MEMBER(flight_t, link, r->flights.next);
        h2o_linklist_unlink(&f->link);
        free(f);
    }
    pthread_mutex_destroy(&r->mutex);
    free(r);
    fed->refresh = NULL;
}
