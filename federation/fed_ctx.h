/* The secondary's shared context (private to federation/): what fed_create builds and every
 * handler module of the secondary reads. */
#ifndef FED_CTX_H
#define FED_CTX_H

#include <pthread.h>
#include <h2o.h>
#include "federation/fed.h"
#include "federation/fed_join.h"
#include "federation/fed_jwks.h"
#include "federation/fed_state.h"
#include "federation/fed_verify.h"
#include "hub/cookie.h"
#include "hub/fetch.h"
#include "hub/seal.h"

#define FED_URL_MAX 2048
#define FED_COOKIE_NAME_MAX HUB_COOKIE_NAME_MAX
/* A request naming an unknown kid waits this long at most for the JWKS refresh: a primary answers its JWKS in
 * milliseconds, and while it hangs such requests must still be answered promptly (SPEC §6 never blocking). */
#define FED_KID_WAIT_MS 1000
#define FED_KID_WAIT_MAX 1024 /* requests parked at once per node; more are answered at once */

/* The requests of one loop thread parked by fed_kid_wait (fed.c). */
typedef struct st_fed_loop_t {
    struct st_fed_t *fed;
    hub_fetch_port_t *port;     /* the loop's queue, where the worker posts the end of a JWKS round */
    h2o_linklist_t waiters;     /* under fed->mutex; targets never decrease along the list */
    int posted;                 /* under fed->mutex: a wake-up is queued and not yet run */
    h2o_linklist_t revalidated; /* under fed->mutex: requests whose session refresh ended, to go on here (fed_refresh.c) */
    int revalidated_posted;     /* under fed->mutex: their wake-up is queued and not yet run */
} fed_loop_t;

struct st_fed_t {
    hub_server_t *server;
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    fed_join_t *join;
    fed_jwks_t *jwks;
    fed_verify_t *verify;
    int secure_cookies;
    char session_cookie[FED_COOKIE_NAME_MAX]; /* hub_<node.name>_session */
    char state_cookie[FED_COOKIE_NAME_MAX];   /* hub_<node.name>_state: the prefix of each pending sign-in's cookie */
    fed_state_keys_t state_keys;              /* seal pending sign-ins (fed_state.h) */
    uint8_t logout_key[HUB_KEY_LEN];          /* signs the sign-out form's CSRF token */
    char redirect_uri[FED_URL_MAX];           /* <public_url>/auth/callback */
    char home_uri[FED_URL_MAX];               /* <public_url>/ */
    char *scope;                              /* secondary.scopes joined by spaces */

    /* the worker thread: discovery, registration, JWKS refresh, credential probe */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_t worker;
    int worker_started;
    int stopping;   /* under mutex */
    int want_jwks;  /* under mutex */
    int want_check; /* under mutex: a sign-in found the primary unreachable */
    /* JWKS rounds: a round starts when the worker takes an ask (want_jwks) or starts a scheduled
     * refresh, and ends, fetched or failed, after it; parked requests wait for the end of a round
     * that started after they asked (fed_kid_wait) */
    uint64_t jwks_started; /* under mutex */
    uint64_t jwks_done;    /* under mutex; written atomically so loops may read it without the lock */
    fed_loop_t *loops;     /* one per loop thread, by hub_thread_t.index */
    size_t nloops;
    size_t nwaiting; /* under mutex: requests parked on every loop */

    /* reachability of the primary (atomics): the worker re-checks every few seconds while it is
     * down; sign-ins check it themselves before sending a browser there (fed_login.c) */
    int primary_down;            /* the last call to the primary got no answer */
    uint64_t primary_ok_ms;      /* fed_now_ms() of the last answer to a sign-in call */
    uint64_t primary_timeout_ms; /* fed_now_ms() of the last sign-in call that timed out */
    uint64_t last_recheck;       /* hub_now() of the last re-check a sign-in asked for */

    h2o_linklist_t pending;         /* code exchanges waiting for the primary; under mutex */
    h2o_linklist_t flights;         /* session refreshes waiting for the primary (fed_refresh.c); under mutex */
    size_t nflights;                /* under mutex */
    struct st_fed_routes_t *routes; /* fed_routes.c: the route guards, freed at destroy */
};

/* Milliseconds on a monotonic clock. */
uint64_t fed_now_ms(void);

/* Records whether a call to the primary got an answer (answered = 1) or found it unreachable
 * (no connection, a timeout, a 5xx); logs each change once. Thread-safe, never blocks. */
void fed_primary_answered(fed_t *fed, int answered);

/* Asks the worker to check the primary now (at most once a second). Thread-safe, never blocks. */
void fed_primary_recheck(fed_t *fed);

/* Called on req's loop when a parked request may go on: it must check its token again, with
 * no resume callback this time, and answer (or hand req on to the next handler). */
typedef void (*fed_resume_cb)(h2o_req_t *req, void *data);

/* The number of JWKS rounds ended so far: read it before verifying and hand it to fed_kid_wait. */
uint64_t fed_jwks_rounds(fed_t *fed);

/* After a verification for req failed with HUB_E_NOTFOUND (a kid this node does not know),
 * parks req until the JWKS round that is asked or in flight ends (every loop is woken through
 * its fetch port), FED_KID_WAIT_MS pass, or the client goes away; then calls resume(req, data)
 * on req's loop (never once req is disposed). seen is fed_jwks_rounds() from before the
 * verification: when a round ended since, resume runs on the next turn of the loop. Returns 1
 * when parked (the caller answers nothing), 0 when the caller must answer now: no refresh is
 * asked or in flight (FED_JWKS_FORCE_INTERVAL stops random kids from parking requests), the
 * primary is known to be unreachable (the last known keys are all there is),
 * FED_KID_WAIT_MAX requests wait already, resume is NULL, or the loop has no fetch port. */
int fed_kid_wait(fed_t *fed, h2o_req_t *req, uint64_t seen, fed_resume_cb resume, void *data);

/* What fed_identify found. */
typedef enum { FED_WHO_NONE = 0, FED_WHO_OK, FED_WHO_BAD_TOKEN, FED_WHO_WAIT } fed_who_t;

/* The caller's identity from a Bearer token (checked first) or the session cookie; strings in
 * req->pool. FED_WHO_BAD_TOKEN when a token was sent but is not valid (*why says why).
 * FED_WHO_WAIT when the token names an unknown kid and resume is not NULL: req is parked by
 * fed_kid_wait and resume(req, data) calls fed_identify again later (with resume NULL). */
fed_who_t fed_identify(fed_t *fed, h2o_req_t *req, fed_identity_t *id, const char **why, fed_resume_cb resume, void *data);

/* 401 for an API caller: WWW-Authenticate: Bearer realm="hub" (with error="invalid_token"
 * when who is FED_WHO_BAD_TOKEN). */
void fed_send_unauthorized(h2o_req_t *req, fed_who_t who, const char *why);

#endif
