/* The primary's sign-in page (/login): the form, the password check on the worker pool (never on a loop), account
 * lockout, per-address throttling and the node's cap on password checks per second. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/metrics.h"
#include "hub/page.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "hub/workpool.h"
#include "idp/csrf.h"
#include "idp/endpoint.h"
#include "idp/login.h"
#include "idp/password.h"
#include "idp/user.h"
#include "idp/session.h"

#define MAX_USERNAME 256
#define MAX_PASSWORD 1024
#define MAX_NEXT 4096
/* After primary.login.address_max_failures failures within ADDR_WINDOW seconds an address gets 429 until the window
 * (counted from its first failure) ends. */
#define ADDR_WINDOW 900
/* Consecutive failures of an account are forgotten after this long without another one. */
#define USER_FAILURE_WINDOW 900
/* Defaults sized from the CPUs: an Argon2id check (19 MiB, t=2) takes a core ~25-40 ms, so 100 per CPU per second only
 * bounds bursts unless set lower, and 32 waiting per CPU is about a second of work. */
#define CHECKS_PER_CPU 100
#define QUEUED_PER_CPU 32
/* Workers yield to the loops when the CPUs are busy, so /healthz and token requests stay fast in a sign-in storm. */
#define WORKER_NICE 10
#define BUSY_RETRY_AFTER "1"

static const char FAILURE_MESSAGE[] = "Incorrect username or password, or the account is temporarily locked.";
static const char BUSY_MESSAGE[] = "Too many sign-ins are being checked right now. Please try again in a moment.";

/* What the module keeps between requests: the checks admitted and not finished (per-address and per-account limits
 * count them, so a burst of parallel requests cannot get more guesses than a sequence would) and the node's rate. */
typedef struct st_idp_login_t idp_login_t;

struct st_idp_login_t {
    pthread_mutex_t mutex;
    h2o_linklist_t inflight; /* check_t, under mutex */
    uint64_t rate;           /* password checks per second */
    uint64_t tokens;         /* token bucket, in thousandths of a check; under mutex */
    uint64_t refilled_ms;
    hub_metrics_t *metrics;
    size_t checks_counter; /* hub_password_checks_total: every Argon2id verification a sign-in cost */
};

/* One password check: admitted on a loop, run on a worker, finished on the same loop. Everything the worker and the
 * completion read is copied out of the request, which may go away meanwhile (req is then NULL). */
typedef struct st_check_t {
    h2o_linklist_t link; /* in login->inflight */
    idp_t *idp;
    h2o_req_t *req;              /* NULL once the request is gone */
    struct st_check_t **guard;   /* in req->pool: its dispose callback clears req */
    int abandoned;               /* atomic: set with req = NULL, read by the worker */
    int ran, verified;           /* written by the worker before the completion is posted */
    char *password, *hash, *sub; /* malloc'ed; hash and sub NULL when no such user or password */
    size_t plen;
    int enabled, locked, too_long; /* locked: the account's lock, or its last guesses are in flight */
    char addr[INET6_ADDRSTRLEN], addr_key[INET6_ADDRSTRLEN + 8];
    idp_session_t *session;      /* the request's session when it was admitted (binds the next form), or NULL */
    const char *username, *next; /* req->pool: only read while req is set */
} check_t;

/* ---- the page ---- */

typedef struct st_login_page_t {
    const idp_session_t *session; /* the request's live session: binds the form's token; may be NULL */
    const char *username;         /* echoed back into the form, may be NULL */
    const char *next;             /* may be NULL */
    const char *error;            /* may be NULL */
    const char *signed_in;        /* username of the current session, may be NULL */
} login_page_t;

static void put_esc(FILE *f, h2o_req_t *req, const char *s)
{
    h2o_iovec_t e = hub_html_escape(&req->pool, s, strlen(s));
    fwrite(e.base, 1, e.len, f);
}

static void put_signed_in(FILE *f, idp_t *idp, h2o_req_t *req, const login_page_t *p)
{
    fputs("<form method=\"post\" action=\"/logout\"><p class=\"signed-in\" id=\"signed-in\">You are signed in as <strong>", f);
    put_esc(f, req, p->signed_in);
    fputs("</strong>. <input type=\"hidden\" name=\"csrf_token\" value=\"", f);
    put_esc(f, req, idp_csrf_token(idp, req, p->session, IDP_CSRF_LOGOUT));
    fputs("\"><button type=\"submit\" name=\"decision\" value=\"yes\">Sign out</button></p></form>\n", f);
}

static void send_login_page(idp_t *idp, h2o_req_t *req, int status, const login_page_t *p)
{
    const char *invalid = p->error != NULL ? " aria-invalid=\"true\" aria-describedby=\"error\"" : "";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        hub_oom();
    hub_page_open(f, req, "Sign in");
    fputs("<main class=\"narrow\">\n<div class=\"card\">\n<h1>Sign in</h1>\n", f);
    if (p->signed_in != NULL)
        put_signed_in(f, idp, req, p);
    if (p->error != NULL) {
        fputs("<p id=\"error\" role=\"alert\" class=\"error-box\">", f);
        put_esc(f, req, p->error);
        fputs("</p>\n", f);
    }
    fputs("<form method=\"post\" action=\"/login\">\n<input type=\"hidden\" name=\"csrf_token\" value=\"", f);
    put_esc(f, req, idp_csrf_token(idp, req, p->session, IDP_CSRF_LOGIN));
    fputs("\">\n<input type=\"hidden\" name=\"next\" value=\"", f);
    put_esc(f, req, p->next != NULL ? p->next : "");
    fputs("\">\n<div class=\"field\"><label for=\"username\">Username or e-mail</label>\n"
          "<input id=\"username\" name=\"username\" type=\"text\" value=\"",
          f);
    put_esc(f, req, p->username != NULL ? p->username : "");
    fprintf(f,
            "\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"256\" required%s></div>\n"
            "<div class=\"field\"><label for=\"password\">Password</label>\n"
            "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" maxlength=\"1024\" "
            "required%s></div>\n"
            "<div class=\"actions\"><button type=\"submit\">Sign in</button></div>\n"
            "</form>\n</div>\n</main>\n</body></html>\n",
            invalid, invalid);
    if (fclose(f) != 0 || buf == NULL)
        hub_oom();
    hub_send_html_csp(req, status, HUB_PAGE_CSP_FORMS, buf, len); /* copied */
    free(buf);
}

static void send_unavailable(h2o_req_t *req)
{
    hub_send_html_error(req, 503, "Sign-in unavailable", "Signing in is not possible right now. Please try again later.");
}

/* The form again with a message and Retry-After: 429 for this address, 503 when the node is busy. */
static void send_retry_page(idp_t *idp, h2o_req_t *req, login_page_t *page, int status, const char *retry_after,
                            const char *message)
{
    hub_resp_header(req, "retry-after", retry_after);
    page->error = message;
    send_login_page(idp, req, status, page);
}

/* ---- failure counters (LOGIN_FAILURES: "u:" sub and "a:" address -> {"n", "until"}) ---- */

/* Reads a counter record: its count, lock end (0 = none) and store expiry. Absent = zeros. */
static void read_counter(hub_txn_t *txn, const char *key, uint64_t *n, uint64_t *until, uint64_t *expires_at)
{
    json_t *rec = NULL;

    *n = *until = *expires_at = 0;
    if (hub_store_get_json(txn, HUB_T_LOGIN_FAILURES, key, &rec) != 0)
        return;
    *n = (uint64_t)json_integer_value(json_object_get(rec, "n"));
    *until = (uint64_t)json_integer_value(json_object_get(rec, "until"));
    hub_store_expiry(txn, HUB_T_LOGIN_FAILURES, key, strlen(key), expires_at);
    json_decref(rec);
}

static int write_counter(hub_txn_t *txn, const char *key, uint64_t n, uint64_t until, uint64_t expires_at)
{
    json_t *rec = json_pack("{s:I, s:I}", "n", (json_int_t)n, "until", (json_int_t)until);
    int ret;

    if (rec == NULL)
        hub_oom();
    ret = hub_store_put_json(txn, HUB_T_LOGIN_FAILURES, key, rec, expires_at, 0);
    json_decref(rec);
    return ret;
}

typedef struct st_failure_ctx_t {
    const hub_config_t *cfg;
    const char *addr_key;
    const char *user_key; /* NULL when no account was named, or it is locked already */
    uint64_t now;
} failure_ctx_t;

static int record_failure_txn(hub_txn_t *txn, void *arg)
{
    failure_ctx_t *c = arg;
    uint64_t n, until, exp;
    int ret;

    /* The address window is fixed from its first failure, so waiting it out always works. */
    read_counter(txn, c->addr_key, &n, &until, &exp);
    if ((ret = write_counter(txn, c->addr_key, n + 1, 0, n == 0 || exp == 0 ? c->now + ADDR_WINDOW : exp)) != 0)
        return ret;
    if (c->user_key == NULL || c->cfg->primary.login_max_failures == 0)
        return 0;
    read_counter(txn, c->user_key, &n, &until, &exp);
    if (until > c->now)
        return 0; /* locked: attempts during the lock neither count nor extend it */
    if (until != 0)
        n = 0; /* a lock that has passed starts a new count */
    if (++n >= c->cfg->primary.login_max_failures) {
        until = c->now + c->cfg->primary.login_lockout;
        hub_log_warn("login: account locked for %llus after %llu failures", (unsigned long long)c->cfg->primary.login_lockout,
                     (unsigned long long)n);
        /* The record lives exactly as long as the lock, so the count restarts afterwards. */
        return write_counter(txn, c->user_key, n, until, until);
    }
    return write_counter(txn, c->user_key, n, 0, c->now + USER_FAILURE_WINDOW);
}

static int clear_user_failures_txn(hub_txn_t *txn, void *arg)
{
    const char *key = arg;
    int ret = hub_store_del(txn, HUB_T_LOGIN_FAILURES, key, strlen(key));
    return ret == HUB_E_NOTFOUND ? 0 : ret;
}

/* ---- the module's state ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Checks of the given address (and, when sub is not NULL, of that account) admitted and not finished; under mutex. */
static void count_inflight(idp_login_t *l, const char *addr_key, const char *sub, uint64_t *by_addr, uint64_t *by_user)
{
    h2o_linklist_t *node;

    *by_addr = *by_user = 0;
    for (node = l->inflight.next; node != &l->inflight; node = node->next) {
        check_t *c = H2O_STRUCT_FROM_MEMBER(check_t, link, node);
        *by_addr += strcmp(c->addr_key, addr_key) == 0;
        *by_user += sub != NULL && c->sub != NULL && strcmp(c->sub, sub) == 0;
    }
}

/* Takes one check from the node's budget; 0 when it is spent for now. Under mutex. */
static int take_budget(idp_login_t *l)
{
    uint64_t now = now_ms(), cap = l->rate * 1000;

    l->tokens += (now - l->refilled_ms) * l->rate; /* thousandths: rate per second = rate thousandths per ms */
    l->refilled_ms = now;
    if (l->tokens > cap)
        l->tokens = cap;
    if (l->tokens < 1000)
        return 0;
    l->tokens -= 1000;
    return 1;
}

static void forget(check_t *c)
{
    idp_login_t *l = c->idp->login;

    pthread_mutex_lock(&l->mutex);
    if (h2o_linklist_is_linked(&c->link))
        h2o_linklist_unlink(&c->link);
    pthread_mutex_unlock(&l->mutex);
}

static void check_free(check_t *c)
{
    if (c->password != NULL)
        OPENSSL_cleanse(c->password, c->plen);
    free(c->password);
    if (c->hash != NULL)
        OPENSSL_cleanse(c->hash, strlen(c->hash));
    free(c->hash);
    free(c->sub);
    idp_session_free(c->session);
    free(c);
}

/* ---- POST /login ---- */

/* Fills c from one read transaction: the address's failures, the account and whether it is locked. */
static int look_up(check_t *c, const char *username, uint64_t now, uint64_t *addr_failures, uint64_t *addr_expires_at,
                   uint64_t *user_failures)
{
    hub_txn_t *txn = NULL;
    idp_user_t *user = NULL;
    uint64_t until, exp;
    int ret;

    *user_failures = 0;
    if ((ret = hub_store_read_begin(c->idp->store, &txn)) != 0)
        return ret;
    read_counter(txn, c->addr_key, addr_failures, &until, addr_expires_at);
    if (username[0] != '\0' && idp_user_find(txn, username, &user) == 0) {
        char key[256];
        c->sub = hub_strdup(user->sub);
        c->hash = hub_strdup(user->password_hash);
        c->enabled = user->enabled;
        snprintf(key, sizeof(key), "u:%s", user->sub);
        read_counter(txn, key, user_failures, &until, &exp);
        c->locked = until > now;
        if (until != 0 && !c->locked)
            *user_failures = 0; /* a lock that has passed starts a new count */
    }
    idp_user_free(user);
    hub_store_read_end(txn);
    return 0;
}

typedef enum { ADMIT_OK = 0, ADMIT_ADDRESS, ADMIT_BUSY, ADMIT_UNAVAILABLE } admit_t;

/* Decides whether c may be checked now and, when it may, counts it in flight. *retry_after is set for ADMIT_ADDRESS.
 * The failures recorded are read under the mutex: a check leaves the in-flight list only once its failure is written
 * (on_checked), so every guess is seen either in flight or recorded, never in neither, however many loops race. */
static admit_t admit(check_t *c, uint64_t now, char *retry_after, size_t size)
{
    idp_login_t *l = c->idp->login;
    const hub_config_t *cfg = c->idp->cfg;
    uint64_t by_addr, by_user, addr_failures, addr_expires_at, user_failures;
    admit_t ret = ADMIT_OK;

    pthread_mutex_lock(&l->mutex);
    if (look_up(c, c->username, now, &addr_failures, &addr_expires_at, &user_failures) != 0) {
        ret = ADMIT_UNAVAILABLE;
        goto out;
    }
    count_inflight(l, c->addr_key, c->sub, &by_addr, &by_user);
    if (addr_failures + by_addr >= cfg->primary.login_address_max_failures) {
        /* the window of failures recorded, or a moment for the checks in flight to decide */
        snprintf(retry_after, size, "%llu",
                 addr_failures >= cfg->primary.login_address_max_failures && addr_expires_at > now
                     ? (unsigned long long)(addr_expires_at - now)
                     : 1ull);
        ret = ADMIT_ADDRESS;
    } else if (!take_budget(l)) {
        ret = ADMIT_BUSY;
    } else {
        /* Once the failures recorded plus the guesses in flight reach the limit, the next guess can only fall in the
         * lock they would start: it is checked as locked (it fails and does not count), as in a sequence of tries. */
        if (c->sub != NULL && user_failures + by_user >= cfg->primary.login_max_failures)
            c->locked = 1;
        h2o_linklist_insert(&l->inflight, &c->link);
    }
out:
    pthread_mutex_unlock(&l->mutex);
    return ret;
}

/* On a worker. A request that went away before its turn costs nothing. */
static void check_work(void *arg)
{
    check_t *c = arg;

    if (__atomic_load_n(&c->abandoned, __ATOMIC_ACQUIRE))
        return;
    /* Always verify, even without a user or a password (a dummy hash of the same cost), so every kind of failure
     * costs the same time and the answer cannot tell them apart. */
    c->verified = idp_password_verify(c->hash, c->password, c->plen) == 0;
    c->ran = 1;
    hub_metrics_count(c->idp->login->metrics, c->idp->login->checks_counter, 1);
}

static void on_req_dispose(void *p)
{
    check_t *c = *(check_t **)p;

    if (c == NULL)
        return;
    c->req = NULL;
    __atomic_store_n(&c->abandoned, 1, __ATOMIC_RELEASE);
}

static void finish_failure(check_t *c)
{
    failure_ctx_t fail = {c->idp->cfg, c->addr_key, NULL, hub_now()};
    char user_key[256];
    int ret;

    if (c->sub != NULL && !c->locked) {
        snprintf(user_key, sizeof(user_key), "u:%s", c->sub);
        fail.user_key = user_key;
    }
    /* counted even when the client left: the password was tried */
    if ((ret = hub_store_write(c->idp->store, record_failure_txn, &fail)) != 0)
        hub_log_error("login: cannot record a failure: %s", hub_strerror(ret));
    hub_log_info("login: failed attempt from %s", c->addr);
    if (c->req != NULL) {
        login_page_t page = {c->session, c->username, c->next, FAILURE_MESSAGE, NULL};
        send_login_page(c->idp, c->req, 401, &page);
    }
}

static void finish_success(check_t *c)
{
    h2o_req_t *req = c->req;
    char user_key[256];
    int ret;

    if (req == NULL) {
        hub_log_info("login: the client of a good sign-in left before its answer; no session started");
        return;
    }
    snprintf(user_key, sizeof(user_key), "u:%s", c->sub);
    if ((ret = hub_store_write(c->idp->store, clear_user_failures_txn, user_key)) != 0 ||
        (ret = idp_session_start(c->idp, req, c->sub, NULL)) != 0) {
        hub_log_error("login: cannot start a session: %s", hub_strerror(ret));
        send_unavailable(req);
        return;
    }
    idp_csrf_rotate(c->idp, req); /* no form token issued before the sign-in works after it */
    hub_log_info("login: user %s signed in", c->sub);
    hub_send_redirect(req, 302, hub_safe_next(c->next));
}

/* On the loop that admitted the check. */
static void on_checked(void *arg, int cancelled)
{
    check_t *c = arg;

    if (c->req != NULL)
        *c->guard = NULL;
    if (cancelled) {
        /* the node is stopping; the request, if any, is not ours to answer any more */
        forget(c);
        check_free(c);
        return;
    }
    if (!c->ran)
        hub_log_info("login: the client from %s left before its password check; skipped", c->addr);
    else if (c->verified && c->sub != NULL && c->hash != NULL && c->enabled && !c->locked && !c->too_long)
        finish_success(c);
    else
        finish_failure(c);
    forget(c); /* after its outcome is recorded (admit) */
    check_free(c);
}

/* Builds the check from the form; returns NULL when the form was refused (the answer is sent). */
static check_t *check_from_form(idp_t *idp, h2o_req_t *req, const hub_form_t *form, idp_session_t **session)
{
    login_page_t page = {*session, hub_form_get(form, "username"), hub_form_get(form, "next"), NULL, NULL};
    const char *password = hub_form_get(form, "password");
    check_t *c;

    if (page.next != NULL && strlen(page.next) > MAX_NEXT)
        page.next = NULL;
    if (page.username != NULL && strlen(page.username) > MAX_USERNAME)
        page.username = NULL;
    if (!idp_csrf_ok(idp, req, *session, IDP_CSRF_LOGIN, form)) {
        page.error = "This form has expired. Please sign in again.";
        send_login_page(idp, req, 400, &page);
        return NULL;
    }
    c = hub_xcalloc(1, sizeof(*c));
    c->idp = idp;
    c->req = req;
    c->session = *session;
    *session = NULL;
    c->username = page.username != NULL ? page.username : "";
    c->next = page.next;
    password = password != NULL ? password : "";
    c->plen = strlen(password);
    c->too_long = c->plen > MAX_PASSWORD;
    c->plen = c->too_long ? MAX_PASSWORD : c->plen;
    c->password = h2o_mem_alloc(c->plen + 1);
    memcpy(c->password, password, c->plen);
    c->password[c->plen] = '\0';
    hub_req_peer(req, c->addr, sizeof(c->addr));
    snprintf(c->addr_key, sizeof(c->addr_key), "a:%s", c->addr);
    return c;
}

static void on_login_post(idp_t *idp, h2o_req_t *req)
{
    hub_workport_t *port = hub_req_thread(req)->work_port;
    idp_session_t *session = idp_session_current(idp, req);
    uint64_t now = hub_now();
    hub_form_t form;
    check_t *c;
    char retry[32];

    if (hub_form_parse_body(&req->pool, req, &form) != 0) {
        idp_session_free(session);
        hub_send_html_error(req, 400, "Bad request", "The sign-in form could not be read.");
        return;
    }
    if ((c = check_from_form(idp, req, &form, &session)) == NULL) {
        idp_session_free(session);
        return;
    }
    login_page_t page = {c->session, c->username, c->next, NULL, NULL};
    switch (port == NULL ? ADMIT_UNAVAILABLE : admit(c, now, retry, sizeof(retry))) {
    case ADMIT_UNAVAILABLE:
        send_unavailable(req);
        check_free(c);
        return;
    case ADMIT_ADDRESS:
        send_retry_page(idp, req, &page, 429, retry,
                        "Too many failed sign-in attempts from your network. Please wait a while and try again.");
        check_free(c);
        return;
    case ADMIT_BUSY:
        send_retry_page(idp, req, &page, 503, BUSY_RETRY_AFTER, BUSY_MESSAGE);
        check_free(c);
        return;
    case ADMIT_OK:
        break;
    }
    c->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*c->guard), on_req_dispose);
    *c->guard = c;
    if (hub_work_submit(port, check_work, on_checked, c) != 0) {
        *c->guard = NULL;
        forget(c);
        check_free(c);
        send_retry_page(idp, req, &page, 503, BUSY_RETRY_AFTER, BUSY_MESSAGE);
    }
}

/* ---- GET /login ---- */

/* The username of session s, or NULL (pool memory). */
static const char *username_of(idp_t *idp, h2o_req_t *req, const idp_session_t *s)
{
    idp_user_t *user = NULL;
    hub_txn_t *txn = NULL;
    const char *name = NULL;

    if (s == NULL || hub_store_read_begin(idp->store, &txn) != 0)
        return NULL;
    if (idp_user_get(txn, s->sub, &user) == 0 && user->username != NULL)
        name = h2o_strdup(&req->pool, user->username, SIZE_MAX).base;
    idp_user_free(user);
    hub_store_read_end(txn);
    return name;
}

static void on_login_get(idp_t *idp, h2o_req_t *req)
{
    idp_session_t *s = idp_session_current(idp, req);
    login_page_t page = {s, NULL, NULL, NULL, username_of(idp, req, s)};
    hub_form_t query;

    if (hub_form_parse_query(&req->pool, req, &query) == 0) {
        page.next = hub_form_get(&query, "next");
        if (page.next != NULL && strlen(page.next) > MAX_NEXT)
            page.next = NULL;
    }
    send_login_page(idp, req, 200, &page);
    idp_session_free(s);
}

static int on_login(void *data, h2o_req_t *req)
{
    idp_t *idp = data;

    if (hub_method_is(req, "POST"))
        on_login_post(idp, req);
    else
        on_login_get(idp, req); /* GET, HEAD */
    return 0;
}

int idp_login_register(idp_t *idp)
{
    const hub_config_t *cfg = idp->cfg;
    unsigned cpus = hub_cpu_count();
    size_t queued = cfg->primary.login_max_queued != 0 ? cfg->primary.login_max_queued : (size_t)QUEUED_PER_CPU * cpus;
    idp_login_t *l;
    int ret;

    (void)idp_password_dummy_hash(); /* made now, so the first sign-in costs what every other one does */
    if ((ret = hub_server_use_workpool(idp->server, cpus, queued, WORKER_NICE)) != 0) {
        hub_log_error("login: cannot start the password-check workers: %s", hub_strerror(ret));
        return ret;
    }
    l = hub_xcalloc(1, sizeof(*l));
    pthread_mutex_init(&l->mutex, NULL);
    h2o_linklist_init_anchor(&l->inflight);
    l->rate =
        cfg->primary.login_max_checks_per_second != 0 ? cfg->primary.login_max_checks_per_second : (uint64_t)CHECKS_PER_CPU * cpus;
    l->tokens = l->rate * 1000; /* a full second's budget to start */
    l->refilled_ms = now_ms();
    l->metrics = hub_server_metrics(idp->server);
    l->checks_counter =
        hub_metrics_add_counter(l->metrics, "hub_password_checks_total",
                                "Argon2id verifications done for sign-ins (unknown users and locked accounts included).");
    idp->login = l;
    hub_log_info("login: %u password-check workers, at most %zu waiting, %llu checks per second", cpus, queued,
                 (unsigned long long)l->rate);
    idp_endpoint_route(idp, IDP_EP_LOGIN, on_login);
    return 0;
}

void idp_login_dispose(idp_t *idp)
{
    if (idp->login == NULL)
        return;
    /* the loops and the pool have stopped: every check has finished or been cancelled */
    pthread_mutex_destroy(&idp->login->mutex);
    free(idp->login);
    idp->login = NULL;
}
