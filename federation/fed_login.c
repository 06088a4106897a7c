/* Sign-in on a secondary (fed_login.h): the authorization code flow with PKCE against the primary, pending sign-ins
 * in sealed cookies, the code exchange on the request's loop, and the local session it starts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "federation/fed_login.h"
#include "federation/fed_refresh.h"
#include "federation/fed_session.h"
#include "federation/fed_state.h"
#include "federation/fed_worker.h"
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/util.h"

#define EXCHANGE_TIMEOUT_MS 10000
#define REACH_TIMEOUT_MS 3000 /* a sign-in waits this long at most to learn whether the primary is there */
#define REACH_FRESH_MS 500    /* an answer this recent spares the next sign-ins the check (bursts share one) */
#define REACH_HUNG_MS 2000    /* after a check timed out, sign-ins answer at once for this long */
#define DISCOVERY_PATH "/.well-known/openid-configuration"
/* Pending sign-ins travel to /auth/login (the bound) and /auth/callback only; under HTTPS they take Path=/ and the
 * __Host- prefix instead, so a sibling host or a plain-HTTP port cannot plant one (login CSRF). */
#define STATE_COOKIE_PATH "/auth/"
#define CODE_MAX 1024 /* bytes of an authorization code */

struct st_fed_login_t {
    pthread_mutex_t mutex;
    h2o_linklist_t pending; /* under mutex: calls to the primary in flight for sign-ins (exchange_t) */
    /* what sign-ins saw of the primary (atomics, fed_now_ms()): the last answer, the last check that timed out */
    uint64_t primary_ok_ms, primary_timeout_ms;
    char state_cookie[FED_COOKIE_NAME_MAX]; /* hub_<node.name>_state: the prefix of each pending sign-in's cookie */
    fed_state_keys_t state_keys;            /* seal pending sign-ins (fed_state.h) */
    char redirect_uri[FED_URL_MAX];         /* <public_url>/auth/callback */
    char *scope;                            /* secondary.scopes joined by spaces */
};

/* A call to the primary in flight for a request: a code exchange, or the reachability check of
 * a sign-in (nonce NULL). The request may go away before the primary answers (the client
 * disconnects): the guard, allocated in req->pool, clears req when the pool is released. */
typedef struct st_exchange_t {
    h2o_linklist_t link; /* in fed->login->pending */
    fed_t *fed;
    h2o_req_t *req; /* NULL once the request is gone */
    struct st_exchange_t **guard;
    char *next, *nonce;
} exchange_t;

static void page_unavailable(fed_t *fed, h2o_req_t *req)
{
    if (fed_join_revoked(fed->join)) {
        hub_send_html_error(req, 503, "Sign-in unavailable",
                            "This site's registration with its identity provider was revoked or is unknown there, so nobody "
                            "can sign in here. Please tell the site's operator.");
        return;
    }
    hub_resp_header(req, "retry-after", "10");
    hub_send_html_error(req, 503, "Sign-in unavailable",
                        "This site has not joined its identity provider yet. Please try again in a moment.");
}

static void page_unreachable(fed_t *fed, h2o_req_t *req)
{
    fed_primary_recheck(fed);
    hub_resp_header(req, "retry-after", "5");
    hub_send_html_error(req, 503, "Sign-in unavailable", "The sign-in service (primary) is unreachable; try again shortly.");
}

static const char *enc(h2o_req_t *req, const char *s)
{
    return hub_url_encode(&req->pool, s, strlen(s)).base;
}

/* Set-Cookie for a pending sign-in: only under /auth/ over plain HTTP, so it does not ride along on every request;
 * under HTTPS its name carries __Host-, which requires Path=/. */
static void set_state_cookie(fed_t *fed, h2o_req_t *req, const char *name, const char *value, long max_age)
{
    hub_set_cookie_at(req, name, value, fed->secure_cookies ? "/" : STATE_COOKIE_PATH, max_age, fed->secure_cookies);
}

/* Keeps at most FED_STATE_MAX_PENDING - 1 pending sign-ins of this browser before one more
 * starts: the ones that expire first, and any this node cannot open, are deleted. */
static void prune_pending(fed_t *fed, h2o_req_t *req)
{
    struct {
        const char *name;
        uint64_t exp; /* 0: cannot be opened */
    } seen[HUB_COOKIE_MAX_FIELDS];
    const struct st_fed_login_t *l = fed->login;
    size_t n = 0, plen = strlen(l->state_cookie), i, j;
    ssize_t c = -1;

    while ((c = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, c)) >= 0) {
        const h2o_iovec_t *hv = &req->headers.entries[c].value;
        hub_form_t jar;
        if (hub_cookie_parse(&req->pool, hv->base, hv->len, &jar) != 0)
            continue;
        for (i = 0; i != jar.n && n != HUB_COOKIE_MAX_FIELDS; ++i) {
            const h2o_iovec_t *name = &jar.items[i].name;
            fed_pending_t p;
            if (name->len != plen + 1 + FED_STATE_ID_LEN || memcmp(name->base, l->state_cookie, plen) != 0 ||
                name->base[plen] != '_')
                continue;
            seen[n].name = name->base;
            seen[n++].exp = fed_pending_open(&l->state_keys, name->base, jar.items[i].value.base, hub_now(), &p) == 0 ? p.exp : 0;
            OPENSSL_cleanse(&p, sizeof(p));
        }
    }
    for (i = 0; i != n;) { /* expired, altered, or sealed by an earlier node key */
        if (seen[i].exp != 0) {
            ++i;
            continue;
        }
        set_state_cookie(fed, req, seen[i].name, "", 0);
        seen[i] = seen[--n];
    }
    while (n >= FED_STATE_MAX_PENDING) { /* the sign-ins that would expire first give way */
        for (i = j = 0; i != n; ++i)
            if (seen[i].exp < seen[j].exp)
                j = i;
        set_state_cookie(fed, req, seen[j].name, "", 0);
        seen[j] = seen[--n];
    }
}

/* Starts the sign-in: a pending sign-in sealed in its own cookie, then off to the primary.
 * Nothing is stored on the node. */
static void send_authorize(fed_t *fed, h2o_req_t *req, const char *next)
{
    struct st_fed_login_t *l = fed->login;
    const fed_reg_t *reg = fed_join_current(fed->join);
    char state[FED_STATE_LEN + 1], challenge[HUB_B64URL_LEN(HUB_SHA256_LEN) + 1], name[FED_COOKIE_NAME_MAX + 16];
    uint8_t digest[HUB_SHA256_LEN];
    fed_pending_t p;

    if (fed_join_revoked(fed->join) || reg->authorization_endpoint == NULL || reg->client_id == NULL) {
        page_unavailable(fed, req);
        return;
    }
    if (fed_pending_new(&p, next, hub_now()) != 0) { /* on_login checked the length */
        hub_send_html_error(req, 400, "Bad request", "The address to return to after signing in is too long.");
        return;
    }
    fed_pending_state(&l->state_keys, &p, state);
    hub_sha256(digest, p.verifier, strlen(p.verifier));
    hub_b64url_encode(challenge, digest, sizeof(digest));
    fed_state_cookie_name(name, sizeof(name), l->state_cookie, state);
    prune_pending(fed, req);
    set_state_cookie(fed, req, name, fed_pending_seal(&l->state_keys, name, &p, &req->pool), FED_STATE_TTL);
    const char *ep = reg->authorization_endpoint, *ec = enc(req, reg->client_id), *er = enc(req, l->redirect_uri),
               *es = enc(req, l->scope);
    size_t len = strlen(ep) + strlen(ec) + strlen(er) + strlen(es) + 3 * FED_STATE_LEN + 256;
    char *url = h2o_mem_alloc_pool(&req->pool, len);
    snprintf(url, len,
             "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s&nonce=%s&code_challenge=%s"
             "&code_challenge_method=S256",
             ep, strchr(ep, '?') != NULL ? "&" : "?", ec, er, es, state, p.nonce, challenge);
    OPENSSL_cleanse(&p, sizeof(p));
    hub_send_redirect(req, 302, url);
}

/* The pending sign-in a callback's state names, from this browser's cookie, which is deleted
 * whatever comes of it (a sign-in is finished or failed once per browser; the code itself is
 * single use at the primary). 0 and *p, or HUB_E_NOTFOUND. */
static int take_pending(fed_t *fed, h2o_req_t *req, const char *state, fed_pending_t *p)
{
    char name[FED_COOKIE_NAME_MAX + 16];
    const char *value;

    memset(p, 0, sizeof(*p));
    if (!fed_state_valid(state))
        return HUB_E_NOTFOUND;
    fed_state_cookie_name(name, sizeof(name), fed->login->state_cookie, state);
    if ((value = hub_req_cookie(&req->pool, req, name)) == NULL)
        return HUB_E_NOTFOUND;
    set_state_cookie(fed, req, name, "", 0);
    if (fed_pending_open(&fed->login->state_keys, name, value, hub_now(), p) != 0 ||
        !fed_pending_matches(&fed->login->state_keys, p, state)) {
        OPENSSL_cleanse(p, sizeof(*p));
        return HUB_E_NOTFOUND;
    }
    return 0;
}

static void exchange_unlink(fed_t *fed, exchange_t *ex)
{
    pthread_mutex_lock(&fed->login->mutex);
    if (h2o_linklist_is_linked(&ex->link))
        h2o_linklist_unlink(&ex->link);
    pthread_mutex_unlock(&fed->login->mutex);
}

static void exchange_free(exchange_t *ex)
{
    free(ex->next);
    free(ex->nonce);
    free(ex);
}

static void on_guard_dispose(void *p)
{
    exchange_t *ex = *(exchange_t **)p;
    if (ex != NULL)
        ex->req = NULL; /* the fetch callback frees ex and answers nobody */
}

/* Sends fr for req, tracked in fed->login->pending until cb (on this loop) has run. nonce may be NULL.
 * Returns 0, or the error of hub_fetch_start (nothing is then pending and req is untouched). */
static int exchange_start(fed_t *fed, h2o_req_t *req, const char *next, const char *nonce, const hub_fetch_req_t *fr,
                          hub_fetch_cb cb)
{
    exchange_t *ex;
    int ret;

    if ((ex = calloc(1, sizeof(*ex))) == NULL)
        h2o_fatal("out of memory");
    ex->next = hub_strdup(next);
    ex->nonce = hub_strdup(nonce);
    ex->fed = fed;
    ex->req = req;
    ex->guard = h2o_mem_alloc_shared(&req->pool, sizeof(exchange_t *), on_guard_dispose);
    *ex->guard = ex;
    pthread_mutex_lock(&fed->login->mutex);
    h2o_linklist_insert(&fed->login->pending, &ex->link);
    pthread_mutex_unlock(&fed->login->mutex);
    if ((ret = hub_fetch_start(fed->fetcher, hub_req_thread(req)->fetch_port, fr, cb, ex)) != 0) {
        exchange_unlink(fed, ex);
        *ex->guard = NULL;
        exchange_free(ex);
    }
    return ret;
}

/* The tokens of a sign-in, in req->pool: they outlive the exchange while the id_token's kid
 * waits for a JWKS refresh. */
typedef struct st_signin_t {
    fed_t *fed;
    const char *id_token, *access_token, *refresh_token, *nonce, *next; /* refresh_token may be NULL */
    uint64_t expires_in;                                                /* the access token's, 0 when unknown */
} signin_t;

static void on_signin_resume(h2o_req_t *req, void *data);

/* Starts the local session of the verified id_token's claims: roles from the access token when
 * it verifies (what the primary grants access with), re-validation due when it expires. */
static int start_session(signin_t *si, h2o_req_t *req, const json_t *claims, char cookie[FED_SESSION_COOKIE_LEN + 1])
{
    fed_t *fed = si->fed;
    const char *client_id = fed_join_current(fed->join)->client_id, *why = NULL;
    fed_session_t s = {.id_token = si->id_token, .refresh_token = si->refresh_token};
    fed_identity_t at;

    fed_identity_from_claims(&req->pool, claims, &s.id);
    if (s.id.name == NULL)
        s.id.name = json_string_value(json_object_get(claims, "preferred_username"));
    if (fed_verify_access_token(fed->verify, client_id, si->access_token, strlen(si->access_token), &req->pool, &at, &why) == 0) {
        s.id.roles = at.roles, s.id.nroles = at.nroles;
        s.due = at.exp;
        s.life = si->expires_in;
    } else {
        hub_log_warn("federation: the access token from the primary does not verify (%s); using the id_token alone", why);
        s.due = hub_now() + FED_REFRESH_RETRY;
    }
    if (si->refresh_token == NULL)
        hub_log_warn("federation: the primary issued no refresh token: the session ends when its access token expires");
    s.id.client_id = client_id;
    return fed_session_create(fed->store, &s, fed->cfg->secondary.session_ttl, cookie);
}

/* Verifies the tokens, starts the session and redirects; with may_wait, an id_token signed by
 * a key not known yet parks req until the JWKS refresh (on_signin_resume goes on). */
static void complete_login(signin_t *si, h2o_req_t *req, int may_wait)
{
    fed_t *fed = si->fed;
    const fed_reg_t *reg = fed_join_current(fed->join);
    json_t *claims = NULL;
    const char *why = NULL;
    char cookie[FED_SESSION_COOKIE_LEN + 1];
    uint64_t seen = fed_jwks_rounds(fed->jwks);
    int ret;

    ret = fed_verify_id_token(fed->verify, reg->client_id, si->nonce, si->id_token, strlen(si->id_token), &claims, &why);
    if (ret == HUB_E_NOTFOUND && may_wait && fed_kid_wait(fed, req, seen, on_signin_resume, si))
        return;
    if (ret != 0) {
        hub_log_warn("federation: rejected the id_token from the primary: %s", why);
        hub_send_html_error(req, 502, "Sign-in failed",
                            ret == HUB_E_NOTFOUND ? "The identity provider's keys changed. Please sign in again."
                                                  : "The identity provider's answer could not be verified.");
        goto out;
    }
    if ((ret = start_session(si, req, claims, cookie)) != 0) {
        hub_log_error("federation: cannot start a session: %s", hub_strerror(ret));
        hub_send_html_error(req, 500, "Sign-in failed", "The session could not be started. Please try again.");
        goto out;
    }
    hub_set_cookie(req, fed->session_cookie, cookie, (long)fed->cfg->secondary.session_ttl, fed->secure_cookies);
    OPENSSL_cleanse(cookie, sizeof(cookie));
    hub_send_redirect(req, 302, si->next);
out:
    json_decref(claims);
}

static void on_signin_resume(h2o_req_t *req, void *data)
{
    complete_login(data, req, 0);
}

static const char *pool_str(h2o_req_t *req, const char *s)
{
    return s != NULL ? h2o_strdup(&req->pool, s, SIZE_MAX).base : NULL;
}

/* The primary's token answer arrived: check it, then complete_login. */
static void finish_login(exchange_t *ex, const hub_fetch_res_t *res)
{
    fed_t *fed = ex->fed;
    h2o_req_t *req = ex->req;
    json_t *doc = NULL;
    const char *err, *id_token, *access_token;
    signin_t *si;

    if (res->err != 0) {
        hub_log_warn("federation: the primary's token endpoint did not answer: %s", hub_strerror(res->err));
        hub_send_html_error(req, 504, "Sign-in failed", "The identity provider did not answer. Please try again later.");
        goto out;
    }
    doc = json_loadb(res->body, res->body_len, 0, NULL);
    err = json_string_value(json_object_get(doc, "error"));
    if (res->status == 401 || (err != NULL && strcmp(err, "invalid_client") == 0)) {
        fed_join_set_revoked(fed->join, 1);
        page_unavailable(fed, req);
        goto out;
    }
    if (res->status != 200 || !json_is_object(doc)) {
        hub_log_warn("federation: the primary refused the authorization code: HTTP %ld %s", res->status, err != NULL ? err : "");
        hub_send_html_error(req, res->status == 400 ? 400 : 502, "Sign-in failed",
                            "The identity provider refused this sign-in (it may have expired). Please sign in again.");
        goto out;
    }
    id_token = json_string_value(json_object_get(doc, "id_token"));
    access_token = json_string_value(json_object_get(doc, "access_token"));
    if (id_token == NULL || access_token == NULL) {
        hub_log_warn("federation: the primary's token answer lacks an id_token or access_token");
        hub_send_html_error(req, 502, "Sign-in failed", "The identity provider's answer was incomplete.");
        goto out;
    }
    json_int_t expires_in = json_integer_value(json_object_get(doc, "expires_in"));
    si = h2o_mem_alloc_pool(&req->pool, sizeof(*si));
    si->fed = fed;
    si->id_token = pool_str(req, id_token);
    si->access_token = pool_str(req, access_token);
    si->refresh_token = pool_str(req, json_string_value(json_object_get(doc, "refresh_token")));
    si->expires_in = expires_in > 0 && expires_in <= FED_REFRESH_LIFE_MAX ? (uint64_t)expires_in : 0;
    si->nonce = pool_str(req, ex->nonce);
    si->next = pool_str(req, ex->next);
    complete_login(si, req, 1);
out:
    json_decref(doc);
}

/* Records what a call made for a sign-in says about the primary's reachability. */
static void note_reach(fed_t *fed, const hub_fetch_res_t *res)
{
    int answered = res->err == 0 && res->status < 500;
    if (answered)
        __atomic_store_n(&fed->login->primary_ok_ms, fed_now_ms(), __ATOMIC_RELEASE);
    else if (res->err == HUB_E_TIMEOUT)
        __atomic_store_n(&fed->login->primary_timeout_ms, fed_now_ms(), __ATOMIC_RELEASE);
    fed_primary_answered(fed, answered);
    if (!answered)
        fed_primary_recheck(fed);
}

static void on_token_answer(void *arg, const hub_fetch_res_t *res)
{
    exchange_t *ex = arg;
    exchange_unlink(ex->fed, ex);
    note_reach(ex->fed, res);
    if (ex->req != NULL) {
        *ex->guard = NULL;
        finish_login(ex, res);
    }
    exchange_free(ex);
}

/* Sends the code to the primary's token endpoint; the answer comes back on this loop. */
static void start_exchange(fed_t *fed, h2o_req_t *req, const fed_reg_t *reg, const char *code, const fed_pending_t *p)
{
    const char *next = p->next, *nonce = p->nonce;
    char *auth;

    const char *ec = enc(req, code), *er = enc(req, fed->login->redirect_uri), *ev = enc(req, p->verifier);
    size_t blen = strlen(ec) + strlen(er) + strlen(ev) + 128;
    char *body = h2o_mem_alloc_pool(&req->pool, blen);
    int n = snprintf(body, blen, "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", ec, er, ev);
    auth = fed_join_basic_auth(reg);
    const char *headers[] = {auth, "Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
    hub_fetch_req_t fr = {.method = "POST",
                          .url = reg->token_endpoint,
                          .headers = headers,
                          .nheaders = 3,
                          .body = body,
                          .body_len = (size_t)n,
                          .timeout_ms = EXCHANGE_TIMEOUT_MS};

    if (exchange_start(fed, req, hub_safe_next(next), nonce, &fr, on_token_answer) != 0)
        page_unavailable(fed, req);
    OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
}

/* The primary answered a sign-in's reachability check, or did not. */
static void on_reach_answer(void *arg, const hub_fetch_res_t *res)
{
    exchange_t *ex = arg;
    exchange_unlink(ex->fed, ex);
    note_reach(ex->fed, res);
    if (ex->req != NULL) {
        *ex->guard = NULL;
        if (res->err == 0 && res->status < 500)
            send_authorize(ex->fed, ex->req, ex->next);
        else
            page_unreachable(ex->fed, ex->req);
    }
    exchange_free(ex);
}

/* Sends the browser to the primary only when the primary answers: a redirect to a dead primary
 * strands the user on a browser error. The worker's flag cannot tell (it may have stopped or come
 * back a moment ago), so the sign-in asks the primary's discovery document itself, on this loop
 * and without blocking it; an answer in the last REACH_FRESH_MS, or a timeout in the last
 * REACH_HUNG_MS while the primary is down, decides without asking. */
static void check_reach(fed_t *fed, h2o_req_t *req, const char *next)
{
    static const char *const headers[] = {"Accept: application/json"};
    uint64_t now = fed_now_ms();
    int down = __atomic_load_n(&fed->primary_down, __ATOMIC_ACQUIRE);
    const char *server = fed->cfg->secondary.server_url;
    size_t len = strlen(server) + sizeof(DISCOVERY_PATH);
    char *url;

    if (!down && now < __atomic_load_n(&fed->login->primary_ok_ms, __ATOMIC_ACQUIRE) + REACH_FRESH_MS) {
        send_authorize(fed, req, next);
        return;
    }
    if (down && now < __atomic_load_n(&fed->login->primary_timeout_ms, __ATOMIC_ACQUIRE) + REACH_HUNG_MS) {
        page_unreachable(fed, req);
        return;
    }
    if (fed->fetcher == NULL || hub_req_thread(req)->fetch_port == NULL) { /* no way to ask: the worker's word */
        if (down)
            page_unreachable(fed, req);
        else
            send_authorize(fed, req, next);
        return;
    }
    url = h2o_mem_alloc_pool(&req->pool, len);
    snprintf(url, len, "%s%s", server, DISCOVERY_PATH);
    hub_fetch_req_t fr = {.method = "GET", .url = url, .headers = headers, .nheaders = 1, .timeout_ms = REACH_TIMEOUT_MS};
    if (exchange_start(fed, req, next, NULL, &fr, on_reach_answer) != 0)
        send_authorize(fed, req, next); /* cannot check: do not stop the sign-in for that */
}

static int on_login(void *data, h2o_req_t *req)
{
    fed_t *fed = data;
    const fed_reg_t *reg = fed_join_current(fed->join);
    hub_form_t q;

    if (hub_form_parse_query(&req->pool, req, &q) != 0 || hub_form_count(&q, "next") > 1) {
        hub_send_html_error(req, 400, "Bad request", "The sign-in link is malformed.");
        return 0;
    }
    if (hub_form_get(&q, "next") != NULL && strlen(hub_form_get(&q, "next")) > FED_STATE_NEXT_MAX) {
        hub_send_html_error(req, 400, "Bad request", "The address to return to after signing in is too long.");
        return 0;
    }
    if (fed_join_revoked(fed->join) || reg->authorization_endpoint == NULL || reg->client_id == NULL) {
        page_unavailable(fed, req);
        return 0;
    }
    check_reach(fed, req, hub_safe_next(hub_form_get(&q, "next")));
    return 0;
}

/* What the sign-in page says for each error the primary may send back (RFC 6749 §4.1.2.1, OIDC
 * Core §3.1.2.6): fixed text, never the error_description, which whoever made the URL chose. */
static const struct {
    const char *error;
    int status;
    const char *text;
} callback_errors[] = {
    {"access_denied", 403, "You did not allow this site to sign you in, or your account may not use it."},
    {"login_required", 401, "You need to sign in at the identity provider first. Please sign in again."},
    {"interaction_required", 401, "The identity provider needs you to sign in there. Please sign in again."},
    {"consent_required", 403, "The identity provider needs your consent for this site. Please sign in again."},
    {"account_selection_required", 401, "The identity provider needs you to choose an account. Please sign in again."},
    {"invalid_request", 400, "The identity provider could not understand this sign-in request."},
    {"invalid_scope", 400, "The identity provider refused the access this site asked for."},
    {"unauthorized_client", 400, "This site may not sign users in with its identity provider. Please tell its operator."},
    {"unsupported_response_type", 400, "This site may not sign users in with its identity provider. Please tell its operator."},
    {"server_error", 502, "The identity provider failed. Please try again later."},
    {"temporarily_unavailable", 503, "The identity provider is busy. Please try again in a moment."},
};

static void callback_error(fed_t *fed, h2o_req_t *req, const char *error)
{
    size_t i;
    for (i = 0; i != sizeof(callback_errors) / sizeof(callback_errors[0]); ++i) {
        if (strcmp(error, callback_errors[i].error) == 0) {
            hub_send_html_error(req, callback_errors[i].status, "Sign-in failed", callback_errors[i].text);
            return;
        }
    }
    hub_send_html_error(req, 400, "Sign-in failed", "The identity provider did not sign you in. Please try again.");
}

/* The callback's query: exactly one state, and one code or one error. 0 or HUB_E_PARSE. */
static int callback_params(h2o_req_t *req, const char **state, const char **code, const char **error)
{
    hub_form_t q;
    if (hub_form_parse_query(&req->pool, req, &q) != 0 || hub_form_count(&q, "state") != 1 || hub_form_count(&q, "code") > 1 ||
        hub_form_count(&q, "error") > 1)
        return HUB_E_PARSE;
    *state = hub_form_get(&q, "state");
    *code = hub_form_get(&q, "code");
    *error = hub_form_get(&q, "error");
    if ((*code == NULL) == (*error == NULL) || (*code != NULL && (**code == '\0' || strlen(*code) > CODE_MAX)))
        return HUB_E_PARSE;
    return 0;
}

static int on_callback(void *data, h2o_req_t *req)
{
    fed_t *fed = data;
    const fed_reg_t *reg = fed_join_current(fed->join);
    const char *code, *state, *error;
    fed_pending_t p;

    if (callback_params(req, &state, &code, &error) != 0) {
        hub_send_html_error(req, 400, "Sign-in failed", "The sign-in answer is malformed or lacks its state.");
        return 0;
    }
    /* an answer, error or not, counts only for the browser that started that sign-in (login CSRF) */
    if (take_pending(fed, req, state, &p) != 0) {
        hub_send_html_error(req, 400, "Sign-in failed",
                            "This sign-in was not started in this browser, or it took too long. Please sign in again.");
        return 0;
    }
    if (error != NULL)
        callback_error(fed, req, error);
    else if (fed_join_revoked(fed->join) || reg->token_endpoint == NULL || reg->client_id == NULL || reg->client_secret == NULL ||
             fed->fetcher == NULL || hub_req_thread(req)->fetch_port == NULL)
        page_unavailable(fed, req);
    else
        start_exchange(fed, req, reg, code, &p);
    OPENSSL_cleanse(&p, sizeof(p));
    return 0;
}

/* Browser pages: their 404 and 405 are HTML, as their other errors. */
static const hub_route_t login_route = {"/auth/login", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL};
static const hub_route_t callback_route = {"/auth/callback", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL};

/* secondary.scopes joined by spaces, with openid first when missing (sign-in needs an id_token). */
static char *join_scopes(const hub_config_t *cfg)
{
    size_t i, len = sizeof("openid"), o = 0;
    int has_openid = 0;
    char *s;

    if (cfg->secondary.nscopes == 0)
        return hub_strdup("openid profile email roles");
    for (i = 0; i != cfg->secondary.nscopes; ++i) {
        len += strlen(cfg->secondary.scopes[i]) + 1;
        has_openid |= strcmp(cfg->secondary.scopes[i], "openid") == 0;
    }
    if ((s = malloc(len)) == NULL)
        h2o_fatal("out of memory");
    s[0] = '\0';
    if (!has_openid)
        o += (size_t)snprintf(s, len, "openid");
    for (i = 0; i != cfg->secondary.nscopes; ++i)
        o += (size_t)snprintf(s + o, len - o, "%s%s", o != 0 ? " " : "", cfg->secondary.scopes[i]);
    return s;
}

int fed_login_register(fed_t *fed, const uint8_t node_key[HUB_KEY_LEN])
{
    struct st_fed_login_t *l = calloc(1, sizeof(*l));

    if (l == NULL)
        h2o_fatal("out of memory");
    pthread_mutex_init(&l->mutex, NULL);
    h2o_linklist_init_anchor(&l->pending);
    fed->login = l;
    if (hub_cookie_name(l->state_cookie, sizeof(l->state_cookie), fed->cfg->node.name, "state", fed->secure_cookies) != 0) {
        hub_log_error("node.name: too long for a cookie name");
        return HUB_E_CONFIG;
    }
    fed_state_keys_init(&l->state_keys, node_key);
    snprintf(l->redirect_uri, sizeof(l->redirect_uri), "%s/auth/callback", fed->cfg->node.public_url);
    l->scope = join_scopes(fed->cfg);
    hub_server_add_route(fed->server, &login_route, on_login, fed, NULL);
    hub_server_add_route(fed->server, &callback_route, on_callback, fed, NULL);
    return 0;
}

void fed_login_dispose(fed_t *fed)
{
    struct st_fed_login_t *l = fed->login;

    if (l == NULL)
        return;
    while (!h2o_linklist_is_empty(&l->pending)) {
        exchange_t *ex = H2O_STRUCT_FROM_MEMBER(exchange_t, link, l->pending.next);
        h2o_linklist_unlink(&ex->link);
        exchange_free(ex);
    }
    free(l->scope);
    OPENSSL_cleanse(&l->state_keys, sizeof(l->state_keys));
    pthread_mutex_destroy(&l->mutex);
    free(l);
    fed->login = NULL;
}
