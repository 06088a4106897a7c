/* The secondary's shared context (private to federation/): what fed_create builds and every
 * handler module of the secondary reads. */
#ifndef FED_CTX_H
#define FED_CTX_H

#include <pthread.h>
#include <h2o.h>
#include "federation/fed.h"
#include "federation/fed_join.h"
#include "federation/fed_jwks.h"
#include "federation/fed_verify.h"
#include "hub/fetch.h"

#define FED_URL_MAX 2048
#define FED_COOKIE_NAME_MAX 96

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
    char state_cookie[FED_COOKIE_NAME_MAX];   /* hub_<node.name>_state */
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

    /* reachability of the primary (atomics): the worker re-checks every few seconds while it is
     * down; sign-ins check it themselves before sending a browser there (fed_login.c) */
    int primary_down;            /* the last call to the primary got no answer */
    uint64_t primary_ok_ms;      /* fed_now_ms() of the last answer to a sign-in call */
    uint64_t primary_timeout_ms; /* fed_now_ms() of the last sign-in call that timed out */
    uint64_t last_recheck;       /* hub_now() of the last re-check a sign-in asked for */

    h2o_linklist_t pending; /* code exchanges waiting for the primary; under mutex */
    void **guards;          /* route guards, freed at destroy */
    size_t nguards;
};

/* Milliseconds on a monotonic clock. */
uint64_t fed_now_ms(void);

/* Records whether a call to the primary got an answer (answered = 1) or found it unreachable
 * (no connection, a timeout, a 5xx); logs each change once. Thread-safe, never blocks. */
void fed_primary_answered(fed_t *fed, int answered);

/* Asks the worker to check the primary now (at most once a second). Thread-safe, never blocks. */
void fed_primary_recheck(fed_t *fed);

/* What fed_identify found. */
typedef enum { FED_WHO_NONE = 0, FED_WHO_OK, FED_WHO_BAD_TOKEN } fed_who_t;

/* The caller's identity from a Bearer token (checked first) or the session cookie; strings in
 * req->pool. FED_WHO_BAD_TOKEN when a token was sent but is not valid (*why says why). */
fed_who_t fed_identify(fed_t *fed, h2o_req_t *req, fed_identity_t *id, const char **why);

/* 401 for an API caller: WWW-Authenticate: Bearer realm="hub" (with error="invalid_token"
 * when who is FED_WHO_BAD_TOKEN). */
void fed_send_unauthorized(h2o_req_t *req, fed_who_t who, const char *why);

#endif
