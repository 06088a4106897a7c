/* The primary's sign-in page (/login: form, password check, lockout, throttling) and sign-out (/logout). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "hub/util.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "idp/idp.h"
#include "idp/model.h"
#include "idp/session.h"

#include "idp/logout.h"

#define MAX_USERNAME 256
#define MAX_PASSWORD 1024
#define MAX_NEXT 4096
/* Attempts from one address: after ADDR_MAX_FAILURES failures within ADDR_WINDOW seconds
 * the address gets 429 until the window (counted from its first failure) ends. */
#define ADDR_MAX_FAILURES 10
#define ADDR_WINDOW 900
/* Consecutive failures of an account are forgotten after this long without another one. */
#define USER_FAILURE_WINDOW 900

static const char FAILURE_MESSAGE[] = "Incorrect username or password, or the account is temporarily locked.";

/* ---- the page ---- */

typedef struct st_login_page_t {
    const char *username;  /* echoed back into the form, may be NULL */
    const char *next;      /* may be NULL */
    const char *error;     /* may be NULL */
    const char *signed_in; /* username of the current session, may be NULL */
} login_page_t;

static h2o_iovec_t esc(h2o_req_t *req, const char *s)
{
    if (s == NULL)
        return h2o_iovec_init("", 0);
    return hub_html_escape(&req->pool, s, strlen(s));
}

static void send_login_page(idp_t *idp, h2o_req_t *req, int status, const login_page_t *p)
{
    static const char fmt[] =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in</title>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
        "<body style=\"font-family:sans-serif;max-width:24em;margin:3em auto;padding:0 1em;line-height:1.4\">\n"
        "<main>\n<h1>Sign in</h1>\n%s%.*s%s%s%.*s%s"
        "<form method=\"post\" action=\"/login\">\n"
        "<input type=\"hidden\" name=\"csrf_token\" value=\"%.*s\">\n"
        "<input type=\"hidden\" name=\"next\" value=\"%.*s\">\n"
        "<p><label for=\"username\">Username or e-mail</label><br>\n"
        "<input id=\"username\" name=\"username\" type=\"text\" value=\"%.*s\" autocomplete=\"username\" "
        "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"256\" required%s style=\"width:100%%;padding:.4em\"></p>\n"
        "<p><label for=\"password\">Password</label><br>\n"
        "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" maxlength=\"1024\" "
        "required%s style=\"width:100%%;padding:.4em\"></p>\n"
        "<p><button type=\"submit\" style=\"padding:.4em 1.2em\">Sign in</button></p>\n"
        "</form>\n</main>\n</body></html>\n";
    const char *invalid = p->error != NULL ? " aria-invalid=\"true\" aria-describedby=\"error\"" : "";
    h2o_iovec_t csrf = esc(req, idp_csrf_token(idp, req)), next = esc(req, p->next), user = esc(req, p->username),
                err = esc(req, p->error), who = esc(req, p->signed_in);
    const char *err_open = p->error != NULL ? "<p id=\"error\" role=\"alert\" style=\"color:#a00000\">" : "";
    const char *err_close = p->error != NULL ? "</p>\n" : "";
    const char *who_open = p->signed_in != NULL ? "<p id=\"signed-in\">You are signed in as <strong>" : "";
    const char *who_close = p->signed_in != NULL ? "</strong>. <a href=\"/logout\">Sign out</a></p>\n" : "";
    int n = snprintf(NULL, 0, fmt, who_open, (int)who.len, who.base, who_close, err_open, (int)err.len, err.base, err_close,
                     (int)csrf.len, csrf.base, (int)next.len, next.base, (int)user.len, user.base, invalid, invalid);
    char *page;

    if (n < 0)
        h2o_fatal("login page");
    page = h2o_mem_alloc_pool(&req->pool, (size_t)n + 1);
    snprintf(page, (size_t)n + 1, fmt, who_open, (int)who.len, who.base, who_close, err_open, (int)err.len, err.base, err_close,
             (int)csrf.len, csrf.base, (int)next.len, next.base, (int)user.len, user.base, invalid, invalid);
    hub_send_html(req, status, page, (size_t)n);
}

/* ---- redirects after sign-in ---- */

/* Only a same-origin path may be a target: one leading '/', never "//" or "/\" (which
 * browsers read as another host), no backslash, and printable ASCII only (no control
 * characters that could split a header or be stripped into a different URL). */

/* ---- failure counters (LOGIN_FAILURES: "u:" sub and "a:" address -> {"n", "until"}) ---- */

static void peer_address(h2o_req_t *req, char *out, size_t size)
{
    struct sockaddr_storage ss;

    snprintf(out, size, "unknown");
    if (req->conn->callbacks->get_peername == NULL || req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, size);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, size);
}

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
        h2o_fatal("out of memory");
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

/* ---- POST /login ---- */

/* What the read transaction learned about the attempt (copied out of the txn). */
typedef struct st_attempt_t {
    char *sub;           /* pool copy, NULL when no such user */
    char *password_hash; /* pool copy, NULL when none */
    int enabled;
    int locked;
    uint64_t addr_failures, addr_expires_at;
} attempt_t;

static int look_up(idp_t *idp, h2o_req_t *req, const char *username, const char *addr_key, uint64_t now, attempt_t *a)
{
    hub_txn_t *txn = NULL;
    idp_user_t *user = NULL;
    uint64_t n, until, exp;
    int ret;

    memset(a, 0, sizeof(*a));
    if ((ret = hub_store_read_begin(idp->store, &txn)) != 0)
        return ret;
    read_counter(txn, addr_key, &a->addr_failures, &until, &a->addr_expires_at);
    if (username[0] != '\0' && idp_user_find(txn, username, &user) == 0) {
        char key[256];
        a->sub = h2o_strdup(&req->pool, user->sub, SIZE_MAX).base;
        if (user->password_hash != NULL)
            a->password_hash = h2o_strdup(&req->pool, user->password_hash, SIZE_MAX).base;
        a->enabled = user->enabled;
        snprintf(key, sizeof(key), "u:%s", user->sub);
        read_counter(txn, key, &n, &until, &exp);
        a->locked = until > now;
    }
    idp_user_free(user);
    hub_store_read_end(txn);
    return 0;
}

static void send_unavailable(h2o_req_t *req)
{
    hub_send_html_error(req, 503, "Sign-in unavailable", "Signing in is not possible right now. Please try again later.");
}

static int on_login_post(idp_t *idp, h2o_req_t *req)
{
    hub_form_t form;
    login_page_t page = {NULL, NULL, NULL, NULL};
    const char *username, *password;
    char addr[INET6_ADDRSTRLEN], addr_key[INET6_ADDRSTRLEN + 8], user_key[256];
    failure_ctx_t fail = {idp->cfg, addr_key, NULL, hub_now()};
    attempt_t a;
    size_t plen;
    int ret, verified;

    if (hub_form_parse_body(&req->pool, req, &form) != 0) {
        hub_send_html_error(req, 400, "Bad request", "The sign-in form could not be read.");
        return 0;
    }
    page.next = hub_form_get(&form, "next");
    page.username = hub_form_get(&form, "username");
    if (page.next != NULL && strlen(page.next) > MAX_NEXT)
        page.next = NULL;
    if (!idp_csrf_ok(idp, req, &form)) {
        page.error = "This form has expired. Please sign in again.";
        send_login_page(idp, req, 400, &page);
        return 0;
    }
    username = page.username != NULL ? page.username : "";
    password = hub_form_get(&form, "password");
    if (password == NULL)
        password = "";
    plen = strlen(password);
    if (strlen(username) > MAX_USERNAME) {
        username = "";
        page.username = NULL;
    }

    peer_address(req, addr, sizeof(addr));
    snprintf(addr_key, sizeof(addr_key), "a:%s", addr);
    if (look_up(idp, req, username, addr_key, fail.now, &a) != 0) {
        send_unavailable(req);
        return 0;
    }
    if (a.addr_failures >= ADDR_MAX_FAILURES && a.addr_expires_at > fail.now) {
        char retry[32];
        snprintf(retry, sizeof(retry), "%llu", (unsigned long long)(a.addr_expires_at - fail.now));
        hub_resp_header(req, "retry-after", retry);
        page.error = "Too many failed sign-in attempts from your network. Please wait a while and try again.";
        send_login_page(idp, req, 429, &page);
        return 0;
    }

    /* Always verify, even without a user or a password, so every kind of failure costs the
     * same time and the answer cannot tell them apart. */
    verified = idp_password_verify(a.password_hash, password, plen > MAX_PASSWORD ? MAX_PASSWORD : plen) == 0;
    if (!(verified && a.sub != NULL && a.password_hash != NULL && a.enabled && !a.locked && plen <= MAX_PASSWORD)) {
        if (a.sub != NULL && !a.locked) {
            snprintf(user_key, sizeof(user_key), "u:%s", a.sub);
            fail.user_key = user_key;
        }
        if ((ret = hub_store_write(idp->store, record_failure_txn, &fail)) != 0)
            hub_log_error("login: cannot record a failure: %s", hub_strerror(ret));
        hub_log_info("login: failed attempt from %s", addr);
        page.error = FAILURE_MESSAGE;
        send_login_page(idp, req, 401, &page);
        return 0;
    }

    snprintf(user_key, sizeof(user_key), "u:%s", a.sub);
    if ((ret = hub_store_write(idp->store, clear_user_failures_txn, user_key)) != 0 ||
        (ret = idp_session_start(idp, req, a.sub, NULL)) != 0) {
        hub_log_error("login: cannot start a session: %s", hub_strerror(ret));
        send_unavailable(req);
        return 0;
    }
    hub_log_info("login: user %s signed in", a.sub);
    hub_send_redirect(req, 302, hub_safe_next(page.next));
    return 0;
}

/* The username of the request's live session, or NULL (pool memory). */
static const char *signed_in_name(idp_t *idp, h2o_req_t *req)
{
    idp_session_t *s = idp_session_current(idp, req);
    idp_user_t *user = NULL;
    hub_txn_t *txn = NULL;
    const char *name = NULL;

    if (s == NULL)
        return NULL;
    if (hub_store_read_begin(idp->store, &txn) == 0) {
        if (idp_user_get(txn, s->sub, &user) == 0 && user->username != NULL)
            name = h2o_strdup(&req->pool, user->username, SIZE_MAX).base;
        idp_user_free(user);
        hub_store_read_end(txn);
    }
    idp_session_free(s);
    return name;
}

static int on_login(void *data, h2o_req_t *req)
{
    idp_t *idp = data;

    if (!hub_path_is(req, "/login"))
        return -1;
    if (hub_method_is(req, "POST"))
        return on_login_post(idp, req);
    if (hub_method_is(req, "GET") || hub_method_is(req, "HEAD")) {
        hub_form_t query;
        login_page_t page = {NULL, NULL, NULL, signed_in_name(idp, req)};
        if (hub_form_parse_query(&req->pool, req, &query) == 0) {
            page.next = hub_form_get(&query, "next");
            if (page.next != NULL && strlen(page.next) > MAX_NEXT)
                page.next = NULL;
        }
        send_login_page(idp, req, 200, &page);
        return 0;
    }
    hub_resp_header(req, "allow", "GET, HEAD, POST");
    hub_send_html_error(req, 405, "Method not allowed", "Use GET or POST.");
    return 0;
}

/* ---- /logout ---- */

static int on_logout(void *data, h2o_req_t *req)
{
    static const char page[] =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
        "<body style=\"font-family:sans-serif;max-width:24em;margin:3em auto;padding:0 1em\">\n"
        "<main>\n<h1>Signed out</h1>\n<p id=\"signed-out\">You are signed out.</p>\n<p><a href=\"/login\">Sign in again</a></p>\n"
        "</main>\n</body></html>\n";
    idp_t *idp = data;
    hub_form_t form;
    const char *next = NULL;
    idp_session_t *ended = NULL;
    int ret;

    if (!hub_path_is(req, "/logout"))
        return -1;
    if (!hub_method_is(req, "GET") && !hub_method_is(req, "HEAD") && !hub_method_is(req, "POST")) {
        hub_resp_header(req, "allow", "GET, HEAD, POST");
        hub_send_html_error(req, 405, "Method not allowed", "Use GET or POST.");
        return 0;
    }
    if (hub_form_parse_query(&req->pool, req, &form) == 0)
        next = hub_form_get(&form, "next");
    if (next == NULL && hub_method_is(req, "POST") && hub_form_parse_body(&req->pool, req, &form) == 0)
        next = hub_form_get(&form, "next");

    if ((ret = idp_session_end_current(idp, req, &ended)) != 0 && ret != HUB_E_NOTFOUND) {
        hub_log_error("logout: cannot end the session: %s", hub_strerror(ret));
        send_unavailable(req);
        return 0;
    }
    if (ended != NULL) {
        hub_log_info("logout: session ended");
        idp_logout_notify(idp, ended);
        idp_session_free(ended);
    }
    if (next != NULL && hub_safe_next(next) == next) {
        hub_send_redirect(req, 302, next);
        return 0;
    }
    hub_send_html(req, 200, page, sizeof(page) - 1);
    return 0;
}

void idp_login_register(idp_t *idp)
{
    hub_server_route(idp->server, "/login", on_login, idp);
    hub_server_route(idp->server, "/logout", on_logout, idp);
}
