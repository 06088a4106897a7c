/* Tests the primary's endpoints with a store that cannot serve (SPEC §9: the database away): a store error injected into
 * the real store jobs (tests/support/storehook.h) answers 503 with Retry-After, as an OAuth error object on the APIs and a
 * short page on the browser's pages, and stores nothing: once the store is back the same request succeeds. Any other
 * store error is a 500, never a 503. A request refused before it needs the store makes no store job at all. The hook
 * sees only work that goes through the store's jobs (hub/park.h), so an endpoint that still read or wrote the store on
 * its loop would answer as if nothing failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "idp/join_token.h"
#include "tests/check.h"
#include "tests/support/console.h"
#include "tests/support/primary.h"
#include "tests/support/storehook.h"

#define CB "https://app.example/cb"

static test_primary_t p;
static char web_secret[44], svc_secret[44], alice[512], web_auth[256], svc_auth[256];

/* Runs one request while reads end with read_err and writes with write_err; the hook is off again afterwards. *reads
 * and *writes (may be NULL) get the store jobs it made. */
static test_req_t *failing(int read_err, int write_err, const char *method, const char *path, const char *cookie, const char *auth,
                           const char *body, int *reads, int *writes)
{
    test_req_t *r;
    int nr, nw;

    test_store_fail(read_err, write_err);
    r = test_primary_request(&p, method, path, cookie, auth, NULL, body);
    test_store_hook_seen(&nr, &nw);
    test_store_hook_off();
    if (reads != NULL)
        *reads = nr;
    if (writes != NULL)
        *writes = nw;
    return r;
}

/* 503, Retry-After: 1, and the body in the endpoint's style; frees r. */
static void expect_unavailable(test_req_t *r, int html)
{
    const char *ctype = test_req_resp_header(r, "content-type", 0);

    CHECK(test_req_done(r) && test_req_status(r) == 503);
    CHECK(strcmp(test_req_resp_header(r, "retry-after", 0) ?: "", "1") == 0);
    if (html)
        CHECK(strstr(ctype ?: "", "text/html") != NULL && strstr(test_req_text(r), "<h1>") != NULL);
    else
        CHECK(strstr(ctype ?: "", "application/json") != NULL && strstr(test_req_text(r), "\"temporarily_unavailable\"") != NULL);
    test_req_free(r);
}

/* Another status, without Retry-After; frees r. */
static void expect_status(test_req_t *r, int status)
{
    CHECK(test_req_done(r) && test_req_status(r) == status && test_req_resp_header(r, "retry-after", 0) == NULL);
    test_req_free(r);
}

/* A fresh code for web (the code flow's first half). */
static void new_code(char *code, size_t cap)
{
    char location[2048];

    CHECK(test_primary_authorize(&p, alice, "client_id=web&response_type=code&redirect_uri=" CB "&scope=openid", location,
                                 sizeof(location)) == 302);
    CHECK(test_url_param(location, "code", code, cap) == 0);
}

static void test_token(void)
{
    static const char *const read_bodies[] = {"grant_type=client_credentials", "grant_type=authorization_code&code=x",
                                              "grant_type=refresh_token&refresh_token=x"};
    char code[64], body[512];
    json_t *tokens;
    int reads, writes;

    for (size_t i = 0; i != sizeof(read_bodies) / sizeof(read_bodies[0]); ++i) {
        const char *auth = i == 0 ? svc_auth : web_auth;
        expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/token", NULL, auth, read_bodies[i], &reads, NULL), 0);
        CHECK(reads == 1);
        expect_status(failing(HUB_E_STORE, 0, "POST", "/oauth2/token", NULL, auth, read_bodies[i], NULL, NULL), 500);
    }
    /* credentials refused before any read: 401, no store job */
    expect_status(failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/token", NULL, "Basic %%%", read_bodies[0], &reads, NULL), 401);
    CHECK(reads == 0);
    /* the code exchange's write fails: 503, and the code is still good afterwards */
    new_code(code, sizeof(code));
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" CB, code);
    expect_unavailable(failing(0, HUB_E_UNAVAILABLE, "POST", "/oauth2/token", NULL, web_auth, body, &reads, &writes), 0);
    CHECK(reads == 1 && writes == 1);
    CHECK((tokens = test_primary_grant(&p, web_auth, body)) != NULL);
    /* the refresh grant's: 503, and the refresh token still rotates afterwards */
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", test_json_str(tokens, "refresh_token"));
    expect_unavailable(failing(0, HUB_E_UNAVAILABLE, "POST", "/oauth2/token", NULL, web_auth, body, NULL, NULL), 0);
    expect_status(failing(0, HUB_E_STORE, "POST", "/oauth2/token", NULL, web_auth, body, NULL, NULL), 500);
    json_decref(tokens);
    CHECK((tokens = test_primary_grant(&p, web_auth, body)) != NULL);
    json_decref(tokens);
}

static void test_introspect(void)
{
    json_t *cc = test_primary_grant(&p, svc_auth, "grant_type=client_credentials");
    char body[4096];
    int reads;

    snprintf(body, sizeof(body), "token=%s", test_json_str(cc, "access_token"));
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/introspect", NULL, svc_auth, body, &reads, NULL), 0);
    CHECK(reads == 1);
    expect_status(failing(HUB_E_STORE, 0, "POST", "/oauth2/introspect", NULL, svc_auth, body, NULL, NULL), 500);
    expect_status(failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/introspect", NULL, NULL, body, &reads, NULL), 401);
    CHECK(reads == 0);
    json_decref(cc);
}

static void test_userinfo(void)
{
    json_t *tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    char bearer[4096];
    test_req_t *r;
    int reads;

    snprintf(bearer, sizeof(bearer), "Bearer %s", test_json_str(tokens, "access_token"));
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", "/oauth2/userinfo", NULL, bearer, NULL, &reads, NULL), 0);
    CHECK(reads == 1);
    expect_status(failing(HUB_E_STORE, 0, "GET", "/oauth2/userinfo", NULL, bearer, NULL, NULL, NULL), 500);
    /* no token, or one that does not verify: refused before any read */
    expect_status(failing(HUB_E_UNAVAILABLE, 0, "GET", "/oauth2/userinfo", NULL, NULL, NULL, &reads, NULL), 401);
    CHECK(reads == 0);
    expect_status(failing(HUB_E_UNAVAILABLE, 0, "GET", "/oauth2/userinfo", NULL, "Bearer a.b.c", NULL, &reads, NULL), 401);
    CHECK(reads == 0);
    r = test_primary_request(&p, "GET", "/oauth2/userinfo", NULL, bearer, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    json_decref(tokens);
}

/* 1 when web's token is active by introspection. */
static int active(const char *token)
{
    char body[4096];
    test_req_t *r;
    json_t *doc;
    int a;

    snprintf(body, sizeof(body), "token=%s", token);
    r = test_primary_request(&p, "POST", "/oauth2/introspect", NULL, web_auth, NULL, body);
    doc = test_req_json(r);
    a = json_is_true(json_object_get(doc, "active"));
    json_decref(doc);
    test_req_free(r);
    return a;
}

static void test_revoke(void)
{
    json_t *tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    const char *kinds[] = {"access_token", "refresh_token"};
    char body[4096];
    int reads, writes;

    for (size_t i = 0; i != 2; ++i) {
        snprintf(body, sizeof(body), "token=%s", test_json_str(tokens, kinds[i]));
        expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/revoke", NULL, web_auth, body, &reads, &writes), 0);
        CHECK(reads == 1 && writes == 0);
        expect_unavailable(failing(0, HUB_E_UNAVAILABLE, "POST", "/oauth2/revoke", NULL, web_auth, body, &reads, &writes), 0);
        CHECK(reads == 1 && writes == 1);
        expect_status(failing(0, HUB_E_STORE, "POST", "/oauth2/revoke", NULL, web_auth, body, NULL, NULL), 500);
        CHECK(active(test_json_str(tokens, kinds[i]))); /* nothing was revoked */
    }
    expect_status(failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/revoke", NULL, NULL, body, &reads, NULL), 401);
    CHECK(reads == 0);
    expect_status(failing(0, 0, "POST", "/oauth2/revoke", NULL, web_auth, body, NULL, NULL), 200);
    CHECK(!active(test_json_str(tokens, "refresh_token")) && !active(test_json_str(tokens, "access_token")));
    json_decref(tokens);
}

/* Authorize and the consent decision: the read fails with a 503 page; issuing's write failing goes back to the
 * client's redirect URI (known good by then) as temporarily_unavailable (RFC 6749 §4.1.2.1), with no code stored. */
static void test_authorize(void)
{
    const char *query = "/oauth2/authorize?client_id=web&response_type=code&redirect_uri=" CB "&scope=openid&state=s9";
    size_t codes = test_primary_count(&p, HUB_T_CODES);
    test_req_t *r;
    int reads, writes;

    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", query, alice, NULL, NULL, &reads, NULL), 1);
    CHECK(reads == 1);
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", "/oauth2/authorize?client_id=web", NULL, NULL, NULL, NULL, NULL), 1);
    expect_unavailable(
        failing(HUB_E_UNAVAILABLE, 0, "POST", "/oauth2/approve", alice, NULL, "client_id=web&decision=allow", &reads, NULL), 1);
    CHECK(reads == 1);
    r = failing(HUB_E_STORE, 0, "GET", query, alice, NULL, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 500 && test_req_resp_header(r, "retry-after", 0) == NULL);
    test_req_free(r);
    r = failing(0, HUB_E_UNAVAILABLE, "GET", query, alice, NULL, NULL, &reads, &writes);
    CHECK(test_req_done(r) && test_req_status(r) == 302 && reads == 1 && writes == 1);
    CHECK(strstr(test_req_resp_header(r, "location", 0) ?: "", CB "?error=temporarily_unavailable&") != NULL);
    CHECK(strstr(test_req_resp_header(r, "location", 0) ?: "", "state=s9") != NULL);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes);
}

/* A sign-in form's token and pre-session cookie, and the form posted with them. */
static void login_form(const char *password, char *body, size_t cap, char *cookie, size_t ccap)
{
    test_req_t *r = test_primary_request(&p, "GET", "/login", NULL, NULL, NULL, NULL);
    char token[128];

    CHECK(test_req_done(r) && test_form_value(test_req_text(r), "csrf_token", token, sizeof(token)) == 0);
    snprintf(cookie, ccap, TEST_PRIMARY_CSRF_COOKIE "=%s", test_req_set_cookie(r, TEST_PRIMARY_CSRF_COOKIE, NULL) ?: "");
    snprintf(body, cap, "csrf_token=%s&username=alice&password=%s", token, password);
    test_req_free(r);
}

/* The sign-in page and form: a read that fails is a 503 page; a good or a wrong password whose outcome cannot be written
 * gets the same 503 page (nothing tells them apart, no session starts); the account's failures are not counted. */
static void test_login(void)
{
    static const char *const passwords[] = {"alice-password", "wrong"};
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS), failures = test_primary_count(&p, HUB_T_LOGIN_FAILURES);
    char body[512], cookie[256];
    test_req_t *r;
    int reads, writes;

    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", "/login", NULL, NULL, NULL, &reads, NULL), 1);
    CHECK(reads == 1);
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", "/login", alice, NULL, NULL, NULL, NULL), 1);
    for (size_t i = 0; i != 2; ++i) {
        login_form(passwords[i], body, sizeof(body), cookie, sizeof(cookie));
        expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "POST", "/login", cookie, NULL, body, &reads, &writes), 1);
        CHECK(reads == 1 && writes == 0);
        login_form(passwords[i], body, sizeof(body), cookie, sizeof(cookie));
        r = failing(0, HUB_E_UNAVAILABLE, "POST", "/login", cookie, NULL, body, &reads, &writes);
        CHECK(reads == 1 && writes == 1 && test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL) == NULL);
        expect_unavailable(r, 1);
    }
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions && test_primary_count(&p, HUB_T_LOGIN_FAILURES) == failures);
    login_form("alice-password", body, sizeof(body), cookie, sizeof(cookie));
    expect_status(failing(0, 0, "POST", "/login", cookie, NULL, body, NULL, NULL), 302);
}

/* Sign-out: a read that fails is a 503 page; the session's end failing is a 503 page and the session lives on. */
static void test_logout(void)
{
    char cookie[512], token[128], body[256];
    size_t sessions;
    test_req_t *r;
    int reads, writes;

    CHECK(test_primary_sign_in(&p, "alice", "alice-password", cookie, sizeof(cookie)) == 0);
    sessions = test_primary_count(&p, HUB_T_SESSIONS);
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", "/logout", cookie, NULL, NULL, &reads, NULL), 1);
    CHECK(reads == 1);
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", "/oauth2/logout", cookie, NULL, NULL, &reads, NULL), 1);
    CHECK(reads == 1);
    r = test_primary_request(&p, "GET", "/logout", cookie, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 &&
          test_form_value(test_req_text(r), "csrf_token", token, sizeof(token)) == 0);
    test_req_free(r);
    snprintf(body, sizeof(body), "csrf_token=%s&decision=yes", token);
    expect_unavailable(failing(0, HUB_E_UNAVAILABLE, "POST", "/logout", cookie, NULL, body, &reads, &writes), 1);
    CHECK(reads == 1 && writes == 1 && test_primary_count(&p, HUB_T_SESSIONS) == sessions);
    expect_status(failing(0, 0, "POST", "/logout", cookie, NULL, body, NULL, NULL), 200); /* signed out now */
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions - 2);
}

static int join_token_txn(hub_txn_t *txn, void *arg)
{
    return idp_join_token_create(txn, "node-u", 3600, arg);
}

/* Registration with a join token: the write failing is a 503 and the token is not used up; the RFC 7592 read failing
 * is a 503. */
static void test_register(void)
{
    static const char md[] = "{\"redirect_uris\":[\"https://node.example/auth/callback\"],\"client_name\":\"node-u\"}";
    char token[44], auth[64], path[256];
    size_t clients = test_primary_count(&p, HUB_T_CLIENTS);
    json_t *doc;
    test_req_t *r;
    int reads, writes;

    CHECK(hub_store_write(p.store, join_token_txn, token) == 0);
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    test_store_fail(0, HUB_E_UNAVAILABLE);
    r = test_primary_request(&p, "POST", "/oauth2/register", NULL, auth, "application/json", md);
    test_store_hook_seen(&reads, &writes);
    test_store_hook_off();
    CHECK(writes == 1 && test_primary_count(&p, HUB_T_CLIENTS) == clients);
    expect_unavailable(r, 0);
    r = test_primary_request(&p, "POST", "/oauth2/register", NULL, auth, "application/json", md); /* the token still works */
    CHECK(test_req_done(r) && test_req_status(r) == 201 && (doc = test_req_json(r)) != NULL);
    test_req_free(r);
    snprintf(path, sizeof(path), "/oauth2/register/%s", test_json_str(doc, "client_id"));
    snprintf(auth, sizeof(auth), "Bearer %s", test_json_str(doc, "registration_access_token"));
    expect_unavailable(failing(HUB_E_UNAVAILABLE, 0, "GET", path, NULL, auth, NULL, &reads, NULL), 0);
    CHECK(reads == 1);
    expect_status(failing(0, 0, "GET", path, NULL, auth, NULL, NULL, NULL), 200);
    json_decref(doc);
}

/* A CORS preflight of a client's origin: its index read failing allows nothing (204 without Access-Control-*). */
static void test_preflight(void)
{
    static const int errs[] = {HUB_E_UNAVAILABLE, HUB_E_STORE, 0};
    int reads, writes;

    for (size_t i = 0; i != sizeof(errs) / sizeof(errs[0]); ++i) {
        test_req_t *r = test_req_new(&p.loop, "OPTIONS", "/oauth2/token");
        test_req_header(r, "origin", "https://app.example");
        test_store_fail(errs[i], 0);
        CHECK(test_req_run(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 204);
        test_store_hook_seen(&reads, &writes);
        test_store_hook_off();
        CHECK(reads == 1 && writes == 0);
        CHECK((test_req_resp_header(r, "access-control-allow-origin", 0) != NULL) == (errs[i] == 0));
        test_req_free(r);
    }
}

/* The consoles: the gate's read failing is a 503 page; a page's own read, and a change's write (nothing changed, no
 * audit entry), too; a change refused for its own reasons is no 503. */
static void test_consoles(void)
{
    static const char *const pages[] = {"/account/",      "/admin/",      "/admin/settings", "/admin/audit",
                                        "/admin/clients", "/admin/users", "/admin/roles",    "/admin/nodes"};
    test_browser_t b;
    size_t audits;
    test_req_t *r;
    int reads, writes;

    test_browser_sign_in(&p, &b, "alice", "alice-password");
    for (size_t i = 0; i != sizeof(pages) / sizeof(pages[0]); ++i) {
        test_store_fail(HUB_E_UNAVAILABLE, 0);
        r = test_console_get(&p, &b, pages[i]);
        test_store_hook_seen(&reads, &writes);
        test_store_hook_off();
        CHECK(reads == 1 && writes == 0);
        expect_unavailable(r, 1);
        CHECK(test_console_status(&p, &b, pages[i]) == 200);
    }
    audits = test_console_audits(&p);
    test_store_fail(0, HUB_E_UNAVAILABLE);
    r = test_console_post(&p, &b, "/admin/settings", "skip_authorization=auto", 1);
    test_store_hook_seen(&reads, &writes);
    test_store_hook_off();
    CHECK(writes == 1);
    expect_unavailable(r, 1);
    test_store_fail(0, HUB_E_UNAVAILABLE);
    r = test_console_post(&p, &b, "/admin/roles/add", "role=Auditor", 1);
    test_store_hook_off();
    expect_unavailable(r, 1);
    CHECK(test_console_audits(&p) == audits);
    r = test_console_post(&p, &b, "/admin/roles/add", "role=Auditor", 1); /* the store back: done */
    CHECK(test_req_done(r) && test_req_status(r) == 303);
    test_req_free(r);
    r = test_console_post(&p, &b, "/admin/roles/delete", "role=System%20Manager&confirm=yes", 1);
    CHECK(test_req_done(r) && test_req_status(r) == 409); /* a refusal of its own: no 503 */
    test_req_free(r);
    CHECK(test_console_audits(&p) == audits + 1);
}

int main(void)
{
    static const char *const admin_roles[] = {"System Manager", NULL};
    char *sub;

    test_primary_start(&p, "idp-unavailable", NULL);
    sub = test_primary_user(&p, "alice", "alice-password", admin_roles);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", CB, NULL, 1, web_secret);
    test_primary_client(&p, "svc", "client_credentials", "client_secret_basic", NULL, "api", 0, svc_secret);
    test_basic("web", web_secret, web_auth, sizeof(web_auth));
    test_basic("svc", svc_secret, svc_auth, sizeof(svc_auth));
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    test_token();
    test_introspect();
    test_userinfo();
    test_revoke();
    test_authorize();
    test_login();
    test_logout();
    test_register();
    test_preflight();
    test_consoles();
    test_primary_stop(&p);
    free(sub);
    return check_report("idp/unavailable");
}
