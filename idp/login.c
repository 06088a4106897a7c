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
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "hub/workpool.h"
#include "hub/writer.h"
#include "idp/authz.h"
#include "idp/csrf.h"
#include "idp/endpoint.h"
#include "idp/issue.h"
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

/* A check that left the in-flight list after its outcome was recorded, kept for the admissions whose read may have
 * started before that record committed: hashes of its address and account key (a collision only counts one more). */
#define RECENT 256
typedef struct st_recent_t {
    uint64_t addr, user; /* user 0: no account, or not a failure */
} recent_t;

struct st_idp_login_t {
    pthread_mutex_t mutex;
    h2o_linklist_t inflight; /* check_t, under mutex */
    uint64_t removed;        /* checks that left inflight so far; under mutex */
    recent_t recent[RECENT]; /* the last RECENT of them, at removed % RECENT; under mutex */
    uint64_t rate;           /* password checks per second */
    uint64_t tokens;         /* token bucket, in thousandths of a check; under mutex */
    uint64_t refilled_ms;
    hub_metrics_t *metrics;
    size_t checks_counter; /* hub_password_checks_total: every Argon2id verification a sign-in cost */
};

/* One sign-in, parked on its loop at each step (hub/park.h): its read (the session, the account, the failures), the
 * password check on a worker, the write of its outcome; admitted and answered on the loop. Everything the jobs read
 * is copied out of the request, which may go away meanwhile: a failure is recorded all the same. */
typedef struct st_check_t {
    h2o_linklist_t link; /* in login->inflight once admitted */
    hub_park_t park;
    idp_t *idp;
    hub_workport_t *work_port, *write_port; /* the loop's */
    uint64_t removed;                       /* login->removed before the read: what it may not have seen */
    int ran, verified;                      /* written by the worker before the completion is posted */
    char *password, *hash, *sub;            /* malloc'ed; hash and sub NULL when no such user or password */
    char *username;                         /* malloc'ed, "" when none (or too long) */
    size_t plen;
    int enabled, locked, too_long;                          /* locked: the account's lock, or its last guesses are in flight */
    uint64_t addr_failures, addr_expires_at, user_failures; /* read */
    char addr[INET6_ADDRSTRLEN], addr_key[INET6_ADDRSTRLEN + 8];
    char session_hash[HUB_SECRET_HASH_LEN + 1];
    idp_session_t *session;  /* read: the request's session (binds the forms), or NULL */
    idp_session_new_t fresh; /* the session a good check starts */
    hub_form_t form;         /* the posted form (req->pool): read only on the loop, with the request */
    const char *next;        /* req->pool, the same */
    idp_authz_t *authz;      /* the authorization request next resumes, read with the account (its user), or NULL */
    idp_issue_t *issue;      /* its issue, when the sign-in's write carries it (issue_now), or NULL */
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

/* Reads a counter record: its count, lock end (0 = none) and store expiry. Absent (or damaged) = zeros. Returns 0, or
 * the store's error: a store that cannot be read never reads as no failures. */
static int read_counter(hub_txn_t *txn, const char *key, uint64_t *n, uint64_t *until, uint64_t *expires_at)
{
    json_t *rec = NULL;
    int ret;

    *n = *until = *expires_at = 0;
    if ((ret = hub_store_get_json(txn, HUB_T_LOGIN_FAILURES, key, &rec)) != 0)
        return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
    *n = (uint64_t)json_integer_value(json_object_get(rec, "n"));
    *until = (uint64_t)json_integer_value(json_object_get(rec, "until"));
    ret = hub_store_expiry(txn, HUB_T_LOGIN_FAILURES, key, strlen(key), expires_at);
    json_decref(rec);
    return ret == HUB_E_NOTFOUND ? 0 : ret;
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
    const char *user_key; /* NULL when no account was named, or the guess is not the account's to count (failure_txn) */
    uint64_t now;
} failure_ctx_t;

static int record_failure_txn(hub_txn_t *txn, void *arg)
{
    failure_ctx_t *c = arg;
    uint64_t n, until, exp;
    int ret;

    /* The address window is fixed from its first failure, so waiting it out always works. */
    if ((ret = read_counter(txn, c->addr_key, &n, &until, &exp)) != 0)
        return ret;
    if ((ret = write_counter(txn, c->addr_key, n + 1, 0, n == 0 || exp == 0 ? c->now + ADDR_WINDOW : exp)) != 0)
        return ret;
    if (c->user_key == NULL || c->cfg->primary.login_max_failures == 0)
        return 0;
    if ((ret = read_counter(txn, c->user_key, &n, &until, &exp)) != 0)
        return ret;
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

/* A good check's write: the account's failures forgotten, its new session stored, and what the authorization it resumes
 * grants when that goes through now (issue_now). */
static int success_txn(hub_txn_t *txn, void *arg)
{
    check_t *c = arg;
    char key[256];
    int ret;

    snprintf(key, sizeof(key), "u:%s", c->sub);
    if ((ret = hub_store_del(txn, HUB_T_LOGIN_FAILURES, key, strlen(key))) != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    if ((ret = idp_session_put(txn, &c->fresh, c->sub)) != 0)
        return ret;
    return c->issue != NULL ? idp_issue_txn(txn, c->issue) : 0;
}

/* A failed check's write: the address's failures, and the account's. Whether the account counts it is decided here, in
 * the write: a lock recorded by now leaves it out (record_failure_txn). A guess that admit checked as locked only
 * because enough others were in flight counts unless its password was right: one of those others may have been counted
 * twice (recorded before the guess's read took its snapshot and still listed as removed after its read began, as on a
 * store whose reads run on a reader pool), so the lock they "would start" may never be recorded. */
static int failure_txn(hub_txn_t *txn, void *arg)
{
    check_t *c = arg;
    failure_ctx_t fail = {c->idp->cfg, c->addr_key, NULL, hub_now()};
    char user_key[256];

    if (c->sub != NULL && !(c->locked && c->verified)) {
        snprintf(user_key, sizeof(user_key), "u:%s", c->sub);
        fail.user_key = user_key;
    }
    return record_failure_txn(txn, &fail);
}

/* ---- the module's state ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a, never 0 (0 marks no key in the ring). */
static uint64_t key_hash(const char *s)
{
    uint64_t h = 14695981039346656037u;

    for (; *s != '\0'; ++s)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h | 1;
}

/* The guesses c's limits must count besides the failures its read found (under mutex): the checks of its address (and
 * account) in flight, and those failed since its read began, whose record it may not have seen. Returns -1 when more
 * checks ended since than the ring remembers (the caller answers busy). */
static int count_inflight(idp_login_t *l, const check_t *c, uint64_t *by_addr, uint64_t *by_user)
{
    uint64_t addr = key_hash(c->addr_key), user = c->sub != NULL ? key_hash(c->sub) : 0;
    h2o_linklist_t *node;

    *by_addr = *by_user = 0;
    for (node = l->inflight.next; node != &l->inflight; node = node->next) {
        check_t *other = H2O_STRUCT_FROM_MEMBER(check_t, link, node);
        *by_addr += strcmp(other->addr_key, c->addr_key) == 0;
        *by_user += c->sub != NULL && other->sub != NULL && strcmp(other->sub, c->sub) == 0;
    }
    if (l->removed - c->removed > RECENT)
        return -1;
    for (uint64_t i = c->removed; i != l->removed; ++i) {
        const recent_t *r = &l->recent[i % RECENT];
        *by_addr += r->addr == addr;
        *by_user += user != 0 && r->user == user;
    }
    return 0;
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

/* c leaves the checks in flight (when it was admitted), once its outcome is recorded; failed: it was a wrong guess. */
static void forget(check_t *c, int failed)
{
    idp_login_t *l = c->idp->login;

    pthread_mutex_lock(&l->mutex);
    if (h2o_linklist_is_linked(&c->link)) {
        h2o_linklist_unlink(&c->link);
        l->recent[l->removed % RECENT] =
            failed ? (recent_t){key_hash(c->addr_key), c->sub != NULL ? key_hash(c->sub) : 0} : (recent_t){0, 0};
        ++l->removed;
    }
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
    free(c->username);
    idp_session_free(c->session);
    idp_authz_free(c->authz);
    if (c->issue != NULL)
        idp_issue_free(c->issue);
    OPENSSL_cleanse(&c->fresh, sizeof(c->fresh));
    free(c);
}

/* ---- POST /login ---- */

/* The read (any thread): the request's session, the address's failures, the account and its failures. */
static int look_up_txn(hub_txn_t *txn, void *arg)
{
    check_t *c = arg;
    idp_user_t *user = NULL;
    uint64_t now = hub_now(), until, exp;
    char key[256];
    int ret;

    if ((ret = idp_session_lookup(txn, c->session_hash, &c->session, NULL)) != 0 ||
        (ret = read_counter(txn, c->addr_key, &c->addr_failures, &until, &c->addr_expires_at)) != 0)
        return ret;
    if (c->username[0] == '\0')
        return 0;
    if ((ret = idp_user_find(txn, c->username, &user)) != 0)
        return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
    c->sub = hub_strdup(user->sub);
    c->hash = hub_strdup(user->password_hash);
    c->enabled = user->enabled;
    snprintf(key, sizeof(key), "u:%s", user->sub);
    if ((ret = read_counter(txn, key, &c->user_failures, &until, &exp)) == 0) {
        c->locked = until > now;
        if (until != 0 && !c->locked)
            c->user_failures = 0; /* a lock that has passed starts a new count */
    }
    if (ret == 0 && c->authz != NULL && user->enabled && (ret = idp_authz_read_for(txn, c->authz, user)) == 0) {
        c->authz->user = user; /* the authorization's, should the sign-in succeed */
        return 0;
    }
    idp_user_free(user);
    return ret;
}

typedef enum { ADMIT_OK = 0, ADMIT_ADDRESS, ADMIT_BUSY } admit_t;

/* Decides whether c may be checked now and, when it may, counts it in flight (on the loop, under the mutex, after the
 * read). *retry_after is set for ADMIT_ADDRESS. A check leaves the in-flight list only once its outcome is written
 * (on_recorded), and one that left after c's read began still counts (count_inflight), so every guess is seen in flight,
 * recorded or both, never neither, however many loops race. */
static admit_t admit(check_t *c, uint64_t now, char *retry_after, size_t size)
{
    idp_login_t *l = c->idp->login;
    const hub_config_t *cfg = c->idp->cfg;
    uint64_t by_addr, by_user;
    admit_t ret = ADMIT_OK;

    pthread_mutex_lock(&l->mutex);
    if (count_inflight(l, c, &by_addr, &by_user) != 0) {
        ret = ADMIT_BUSY;
    } else if (c->addr_failures + by_addr >= cfg->primary.login_address_max_failures) {
        /* the window of failures recorded, or a moment for the checks in flight to decide */
        snprintf(retry_after, size, "%llu",
                 c->addr_failures >= cfg->primary.login_address_max_failures && c->addr_expires_at > now
                     ? (unsigned long long)(c->addr_expires_at - now)
                     : 1ull);
        ret = ADMIT_ADDRESS;
    } else if (!take_budget(l)) {
        ret = ADMIT_BUSY;
    } else {
        /* Once the failures recorded plus the guesses in flight reach the limit, the next guess can only fall in the
         * lock they would start: it is checked as locked (it fails, and its write counts it only when that lock was
         * not recorded by then: failure_txn), as in a sequence of tries. */
        if (c->sub != NULL && c->user_failures + by_user >= cfg->primary.login_max_failures)
            c->locked = 1;
        h2o_linklist_insert(&l->inflight, &c->link);
    }
    pthread_mutex_unlock(&l->mutex);
    return ret;
}

/* On a worker. A request that went away before its turn costs nothing. */
static void check_work(void *arg)
{
    check_t *c = arg;

    if (hub_park_gone(&c->park))
        return;
    /* Always verify, even without a user or a password (a dummy hash of the same cost), so every kind of failure
     * costs the same time and the answer cannot tell them apart. */
    c->verified = idp_password_verify(c->hash, c->password, c->plen) == 0;
    c->ran = 1;
    hub_metrics_count(c->idp->login->metrics, c->idp->login->checks_counter, 1);
}

static int check_good(const check_t *c)
{
    return c->verified && c->sub != NULL && c->hash != NULL && c->enabled && !c->locked && !c->too_long;
}

/* The end of a check whose outcome's write came to ret (req NULL: its client left). */
static void finish(check_t *c, h2o_req_t *req, int ret)
{
    int good = check_good(c);

    forget(c, !good); /* after its outcome is recorded (admit) */
    if (ret != 0 && ret != HUB_E_CANCELLED)
        hub_log_error(good ? "login: cannot start a session: %s" : "login: cannot record a failure: %s", hub_strerror(ret));
    /* a store that cannot serve answers the same whatever the password was: the outcome was not recorded */
    if (req == NULL || (ret != 0 && hub_park_unavailable(req, ret, HUB_STYLE_HTML))) {
    } else if (!good) {
        login_page_t page = {c->session, c->username, c->next, FAILURE_MESSAGE, NULL};
        send_login_page(c->idp, req, 401, &page);
    } else if (ret == 0) {
        idp_session_set_cookie(c->idp, req, &c->fresh);
        idp_csrf_rotate(c->idp, req); /* no form token issued before the sign-in works after it */
        hub_log_info("login: user %s signed in", c->sub);
        if (c->issue != NULL)
            idp_issue_send(c->issue, req, 0);
        else
            hub_send_redirect(req, 302, hub_safe_next(c->next));
    } else {
        send_unavailable(req);
    }
    check_free(c);
}

/* The issue of the authorization the sign-in resumes (c->authz, taken) in the sign-in's own write, when with the new
 * session it goes straight through: what the browser would get from its next request, to /oauth2/authorize, one
 * request and one commit sooner. Anything else (a request that is not valid, consent to ask, prompt or max_age that
 * want another sign-in, an account the client refuses) is left to that request: NULL. */
static idp_issue_t *issue_now(check_t *c, h2o_req_t *req)
{
    idp_authz_t *a = c->authz;
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};
    if (a == NULL || a->user == NULL)
        return NULL;
    c->authz = NULL;
    a->req = req;
    a->session = idp_session_of(&c->fresh, c->sub);
    if (!idp_authz_valid(a) || idp_authz_route(a, &fail) != IDP_AUTHZ_TO_ISSUE) {
        idp_authz_free(a);
        return NULL;
    }
    return idp_issue_new(a, 0);
}

static void on_recorded(void *arg, int ret)
{
    check_t *c = arg;

    finish(c, hub_park_resume(&c->park, ret), ret);
}

/* On the loop that admitted the check: its outcome goes to the writer. */
static void on_checked(void *arg, int ret)
{
    check_t *c = arg;
    h2o_req_t *req = hub_park_resume(&c->park, ret);

    if (ret == HUB_E_CANCELLED || !c->ran || (req == NULL && check_good(c))) {
        /* the node stops (the request is not ours to answer any more); or nothing was tried for a client that left */
        if (ret == 0)
            hub_log_info(c->ran ? "login: the client of a good sign-in left before its answer; no session started"
                                : "login: the client from %s left before its password check; skipped",
                         c->addr);
        forget(c, 0);
        check_free(c);
        return;
    }
    if (check_good(c)) {
        idp_session_prepare(c->idp, &c->fresh);
        c->issue = issue_now(c, req);
        ret = hub_park_write(&c->park, req, success_txn, c, on_recorded);
    } else {
        /* counted even when the client left: the password was tried */
        hub_log_info("login: failed attempt from %s", c->addr);
        ret = req != NULL ? hub_park_write(&c->park, req, failure_txn, c, on_recorded)
                          : hub_store_write_async(c->idp->store, c->write_port, failure_txn, c, on_recorded);
    }
    if (ret != 0)
        finish(c, req, ret);
}

/* On the loop after the read: the form's CSRF token, the limits, then the password check on a worker. */
static void on_looked_up(void *arg, int ret)
{
    check_t *c = arg;
    h2o_req_t *req = hub_park_resume(&c->park, ret);
    login_page_t page = {c->session, c->username, c->next, NULL, NULL};
    char retry[32];

    if (req == NULL || (ret != 0 && hub_park_unavailable(req, ret, HUB_STYLE_HTML))) {
    } else if (ret != 0 || c->work_port == NULL) {
        send_unavailable(req);
    } else if (!idp_csrf_ok(c->idp, req, c->session, IDP_CSRF_LOGIN, &c->form)) {
        page.error = "This form has expired. Please sign in again.";
        send_login_page(c->idp, req, 400, &page);
    } else {
        switch (admit(c, hub_now(), retry, sizeof(retry))) {
        case ADMIT_ADDRESS:
            send_retry_page(c->idp, req, &page, 429, retry,
                            "Too many failed sign-in attempts from your network. Please wait a while and try again.");
            break;
        case ADMIT_BUSY:
            send_retry_page(c->idp, req, &page, 503, BUSY_RETRY_AFTER, BUSY_MESSAGE);
            break;
        case ADMIT_OK:
            if (hub_park_work(&c->park, req, c->work_port, check_work, c, on_checked) == 0)
                return;
            forget(c, 0);
            send_retry_page(c->idp, req, &page, 503, BUSY_RETRY_AFTER, BUSY_MESSAGE);
            break;
        }
    }
    check_free(c);
}

/* The authorization request that next resumes (a path of this node's authorization endpoint with a query, as
 * idp_authz_send_to_login makes it), or NULL. The query ends where a fragment would, as a browser would send it. */
static idp_authz_t *resumed_authz(idp_t *idp, h2o_req_t *req, const char *next)
{
    size_t plen = sizeof(IDP_PATH_AUTHORIZE) - 1;
    hub_form_t form;

    if (next == NULL || hub_safe_next(next) != next || strncmp(next, IDP_PATH_AUTHORIZE, plen) != 0 || next[plen] != '?' ||
        hub_form_parse(&req->pool, next + plen + 1, strcspn(next + plen + 1, "#"), &form) != 0)
        return NULL;
    return idp_authz_new(idp, &form);
}

/* A new check with copies of what its jobs read. */
static check_t *check_new(idp_t *idp, h2o_req_t *req, const hub_form_t *form)
{
    const char *username = hub_form_get(form, "username"), *password = hub_form_get(form, "password");
    check_t *c = hub_xcalloc(1, sizeof(*c));

    c->idp = idp;
    c->work_port = hub_req_thread(req)->work_port;
    c->write_port = hub_req_thread(req)->write_port;
    c->form = *form;
    if ((c->next = hub_form_get(form, "next")) != NULL && strlen(c->next) > MAX_NEXT)
        c->next = NULL;
    c->authz = resumed_authz(idp, req, c->next);
    c->username = hub_strdup(username != NULL && strlen(username) <= MAX_USERNAME ? username : "");
    password = password != NULL ? password : "";
    c->plen = strlen(password);
    c->too_long = c->plen > MAX_PASSWORD;
    c->plen = c->too_long ? MAX_PASSWORD : c->plen;
    c->password = h2o_mem_alloc(c->plen + 1);
    memcpy(c->password, password, c->plen);
    c->password[c->plen] = '\0';
    hub_req_peer(req, c->addr, sizeof(c->addr));
    snprintf(c->addr_key, sizeof(c->addr_key), "a:%s", c->addr);
    idp_session_cookie_hash(idp, req, c->session_hash);
    pthread_mutex_lock(&idp->login->mutex);
    c->removed = idp->login->removed; /* before the read begins: see count_inflight */
    pthread_mutex_unlock(&idp->login->mutex);
    return c;
}

static void on_login_post(idp_t *idp, h2o_req_t *req)
{
    hub_form_t form;
    check_t *c;
    int ret;

    if (hub_form_parse_body(&req->pool, req, &form) != 0) {
        hub_send_html_error(req, 400, "Bad request", "The sign-in form could not be read.");
        return;
    }
    c = check_new(idp, req, &form);
    if ((ret = hub_park_read(&c->park, req, look_up_txn, c, on_looked_up)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_HTML);
        check_free(c);
    }
}

/* ---- GET /login ---- */

/* The page's one read: the browser's session and its user (whose name the page shows). */
typedef struct st_page_job_t {
    hub_park_t park;
    idp_t *idp;
    char session_hash[HUB_SECRET_HASH_LEN + 1];
    idp_session_t *session;
    idp_user_t *user;
} page_job_t;

static int page_txn(hub_txn_t *txn, void *arg)
{
    page_job_t *j = arg;
    return idp_session_lookup(txn, j->session_hash, &j->session, &j->user);
}

static void page_free(page_job_t *j)
{
    idp_session_free(j->session);
    idp_user_free(j->user);
    free(j);
}

static void on_page_read(void *arg, int ret)
{
    page_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);
    login_page_t page = {j->session, NULL, NULL, NULL, j->user != NULL ? j->user->username : NULL};
    hub_form_t query;

    if (req == NULL || (ret != 0 && hub_park_unavailable(req, ret, HUB_STYLE_HTML))) {
    } else if (ret != 0) {
        send_unavailable(req);
    } else {
        if (hub_form_parse_query(&req->pool, req, &query) == 0) {
            page.next = hub_form_get(&query, "next");
            if (page.next != NULL && strlen(page.next) > MAX_NEXT)
                page.next = NULL;
        }
        send_login_page(j->idp, req, 200, &page);
    }
    page_free(j);
}

static void on_login_get(idp_t *idp, h2o_req_t *req)
{
    page_job_t *j = hub_xcalloc(1, sizeof(*j));
    int ret;

    j->idp = idp;
    idp_session_cookie_hash(idp, req, j->session_hash);
    if ((ret = hub_park_read(&j->park, req, page_txn, j, on_page_read)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_HTML);
        page_free(j);
    }
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
