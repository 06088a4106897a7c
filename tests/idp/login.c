/* Tests idp/login.c in process (tests/support/primary.h): /login's methods and paths, the form and what it echoes, bad
 * forms and tokens, the sign-in parked for its password check on the worker pool (completing with a session, with the
 * failure page, or for a client that left), where a good sign-in goes next, the account lock and the address limit; a
 * client leaving at every stage of its sign-in (its read, after its check, during its outcome's write). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/check.h"
#include <unistd.h>
#include "hub/metrics.h"
#include "tests/support/primary.h"
#include "tests/support/storehook.h"

#define PASSWORD "correct horse battery"

static test_primary_t p;

static int status_of(const char *method, const char *path, const char *cookie, const char *ctype, const char *body)
{
    test_req_t *r = test_primary_request(&p, method, path, cookie, NULL, ctype, body);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

/* A fresh form: its token and the pre-session cookie it is bound to ("hub_..._csrf=..."). */
static void fresh_form(char token[128], char cookie[256])
{
    test_req_t *r = test_primary_request(&p, "GET", "/login", NULL, NULL, NULL, NULL);
    const char *v = test_req_set_cookie(r, TEST_PRIMARY_CSRF_COOKIE, NULL);

    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(test_form_value(test_req_text(r), "csrf_token", token, 128) == 0);
    snprintf(cookie, 256, TEST_PRIMARY_CSRF_COOKIE "=%s", v != NULL ? v : "");
    test_req_free(r);
}

static void test_methods_and_paths(void)
{
    static const char *const refused[] = {"PUT", "DELETE", "PATCH", "OPTIONS"};
    static const char *const other_paths[] = {"/login/", "/loginx", "/LOGIN", "/login/x", "/api/method/login"};
    size_t i;

    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/login", NULL, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD, POST") == 0);
        CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0); /* a page, as the form */
        test_req_free(r);
    }
    for (i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i)
        CHECK(status_of("GET", other_paths[i], NULL, NULL, NULL) == 404);
    /* not canonical: the gate refuses it before any handler */
    CHECK(status_of("GET", "/./login", NULL, NULL, NULL) == 400);
    CHECK(status_of("GET", "/login//", NULL, NULL, NULL) == 400);
    CHECK(status_of("GET", "//login", NULL, NULL, NULL) == 404); /* h2o reads it as another path: not the form */
    CHECK(status_of("GET", "/%6cogin", NULL, NULL, NULL) == 400);
    /* HEAD: the form's status and headers, no body */
    test_req_t *r = test_primary_request(&p, "HEAD", "/login", NULL, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && test_req_len(r) == 0);
    test_req_free(r);
}

static void test_form(void)
{
    test_req_t *r =
        test_primary_request(&p, "GET", "/login?next=%2Foauth2%2Fauthorize%3Fa%3D%22%3E%3Cscript%3E", NULL, NULL, NULL, NULL);
    char next[256];
    const char *attrs = NULL;

    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(test_req_set_cookie(r, TEST_PRIMARY_CSRF_COOKIE, &attrs) != NULL && strstr(attrs, "HttpOnly") != NULL);
    CHECK(strstr(test_req_resp_header(r, "content-security-policy", 0) ?: "", "frame-ancestors 'none'") != NULL);
    CHECK(strcmp(test_req_resp_header(r, "x-frame-options", 0) ?: "", "DENY") == 0);
    /* next goes back into the form escaped: no markup of the caller's reaches the page */
    CHECK(test_form_value(test_req_text(r), "next", next, sizeof(next)) == 0);
    CHECK(strcmp(next, "/oauth2/authorize?a=&quot;&gt;&lt;script&gt;") == 0);
    CHECK(strstr(test_req_text(r), "<script>") == NULL);
    test_req_free(r);
    /* a next too long is dropped, not echoed */
    char *path = malloc(5000);
    memcpy(path, "/login?next=%2F", 15);
    memset(path + 15, 'a', 4200);
    path[4215] = '\0';
    r = test_primary_request(&p, "GET", path, NULL, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(test_form_value(test_req_text(r), "next", next, sizeof(next)) == 0 && next[0] == '\0');
    test_req_free(r);
    free(path);
}

static void test_bad_forms(void)
{
    char token[128], cookie[256], other_token[128], other_cookie[256], body[512];
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS);

    fresh_form(token, cookie);
    fresh_form(other_token, other_cookie);
    /* the form cannot be read: no body type, JSON, a body that is no form */
    CHECK(status_of("POST", "/login", cookie, NULL, NULL) == 400);
    snprintf(body, sizeof(body), "{\"csrf_token\":\"%s\",\"username\":\"alice\",\"password\":\"" PASSWORD "\"}", token);
    CHECK(status_of("POST", "/login", cookie, "application/json", body) == 400);
    CHECK(status_of("POST", "/login", cookie, "multipart/form-data; boundary=x", "--x--") == 400);
    /* tokens: none, empty, another pre-session's, no cookie, two of them, a form from another site */
    const char *const forms[] = {"username=alice&password=" PASSWORD, "csrf_token=&username=alice&password=" PASSWORD, NULL};
    for (size_t i = 0; forms[i] != NULL; ++i)
        CHECK(status_of("POST", "/login", cookie, NULL, forms[i]) == 400);
    snprintf(body, sizeof(body), "csrf_token=%s&username=alice&password=" PASSWORD, other_token);
    CHECK(status_of("POST", "/login", cookie, NULL, body) == 400);
    snprintf(body, sizeof(body), "csrf_token=%s&username=alice&password=" PASSWORD, token);
    CHECK(status_of("POST", "/login", NULL, NULL, body) == 400);
    snprintf(body, sizeof(body), "csrf_token=%s&csrf_token=%s&username=alice&password=" PASSWORD, token, token);
    CHECK(status_of("POST", "/login", cookie, NULL, body) == 400);
    snprintf(body, sizeof(body), "csrf_token=%s&username=alice&password=" PASSWORD, token);
    test_req_t *r = test_req_new(&p.loop, "POST", "/login");
    test_req_header(r, "cookie", cookie);
    test_req_header(r, "sec-fetch-site", "cross-site");
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    CHECK(test_req_done(r) && test_req_status(r) == 400 && test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL) == NULL);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions); /* no refused form started a session */
}

/* POSTs the sign-in form and returns the request, parked (not complete) while its password is checked. */
static test_req_t *post_parked(const char *username, const char *password, const char *next)
{
    char token[128], cookie[256], body[512];
    test_req_t *r;

    fresh_form(token, cookie);
    snprintf(body, sizeof(body), "csrf_token=%s&username=%s&password=%s%s%s", token, username, password,
             next != NULL ? "&next=" : "", next != NULL ? next : "");
    r = test_req_new(&p.loop, "POST", "/login");
    test_req_header(r, "cookie", cookie);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    CHECK(test_req_run(r, 0) == 0); /* the loop's turn ends before the Argon2id check on a worker */
    return r;
}

static void test_parked_sign_in(void)
{
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS);
    test_req_t *r = post_parked("alice", PASSWORD, "%2Foauth2%2Fauthorize%3Fclient_id%3Dx");
    const char *attrs = NULL;
    char cookie[512];

    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 302);
    CHECK(strcmp(test_req_resp_header(r, "location", 0) ?: "", "/oauth2/authorize?client_id=x") == 0);
    CHECK(test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, &attrs) != NULL);
    CHECK(attrs != NULL && strstr(attrs, "HttpOnly") != NULL && strstr(attrs, "SameSite=Lax") != NULL);
    CHECK(test_req_set_cookie(r, TEST_PRIMARY_CSRF_COOKIE, NULL) != NULL); /* a new pre-session at sign-in */
    snprintf(cookie, sizeof(cookie), TEST_PRIMARY_SESSION_COOKIE "=%s", test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL));
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions + 2); /* the session and its "sid:" pointer */
    /* the session is the browser's: the form says who is signed in */
    r = test_primary_request(&p, "GET", "/login", cookie, NULL, NULL, NULL);
    CHECK(test_req_done(r) && strstr(test_req_text(r), "signed in as <strong>alice</strong>") != NULL);
    test_req_free(r);
    /* the e-mail signs in too */
    r = post_parked("alice%40example.com", PASSWORD, NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 302);
    CHECK(strcmp(test_req_resp_header(r, "location", 0) ?: "", "/") == 0);
    test_req_free(r);
}

/* Wherever next points, a sign-in goes to a path of this origin. */
static void test_next_stays_here(void)
{
    static const char *const nexts[] = {"https%3A%2F%2Fevil.example%2F",
                                        "%2F%2Fevil.example%2F",
                                        "%2F%5Cevil.example",
                                        "javascript%3Aalert(1)",
                                        "%2Fa%0D%0ALocation%3A%20x",
                                        "evil",
                                        "%2Fa%20b"};

    for (size_t i = 0; i != sizeof(nexts) / sizeof(nexts[0]); ++i) {
        test_req_t *r = post_parked("alice", PASSWORD, nexts[i]);
        CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 302);
        CHECK(strcmp(test_req_resp_header(r, "location", 0) ?: "", "/") == 0);
        test_req_free(r);
    }
}

static void test_failures(void)
{
    static const char *const users[] = {"alice", "nobody", "", "ALICE", "disabled", "nopassword"};
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS);
    char *first = NULL;

    for (size_t i = 0; i != sizeof(users) / sizeof(users[0]); ++i) {
        test_req_t *r = post_parked(users[i], "wrong", NULL);
        CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401);
        CHECK(test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL) == NULL);
        /* the same message whether or not the account exists */
        const char *msg = strstr(test_req_text(r), "<p id=\"error\"");
        CHECK(msg != NULL);
        if (msg != NULL && first == NULL)
            first = strndup(msg, strcspn(msg, "\n"));
        else if (msg != NULL)
            CHECK(strncmp(msg, first, strlen(first)) == 0);
        test_req_free(r);
    }
    free(first);
    /* a password over the limit fails, whatever it starts with */
    char *long_password = malloc(1200);
    snprintf(long_password, 1200, "%s", PASSWORD);
    memset(long_password + strlen(PASSWORD), 'x', 1100);
    long_password[strlen(PASSWORD) + 1100] = '\0';
    test_req_t *r = post_parked("alice", long_password, NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401);
    test_req_free(r);
    free(long_password);
    /* a NUL in the form is no form: refused in the request's own turn */
    char token[128], cookie[256], body[256];
    fresh_form(token, cookie);
    snprintf(body, sizeof(body), "csrf_token=%s&username=alice%%00&password=" PASSWORD, token);
    CHECK(status_of("POST", "/login", cookie, NULL, body) == 400);
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions);
}

/* A client that leaves while its check is parked: nothing is answered, no session starts, a failure still counts. */
static void test_client_leaves(void)
{
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS), failures = test_primary_count(&p, HUB_T_LOGIN_FAILURES);
    test_req_t *good = post_parked("alice", PASSWORD, NULL), *bad = post_parked("bob", "wrong", NULL);

    test_req_free(good);
    test_req_free(bad);
    test_loop_run(&p.loop, 1500); /* the checks finish (or are skipped) and complete on this loop */
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions);
    CHECK(test_primary_count(&p, HUB_T_LOGIN_FAILURES) >= failures);
    /* the node goes on serving */
    test_req_t *r = post_parked("alice", PASSWORD, NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 302);
    test_req_free(r);
}

/* Password checks done so far (the node's hub_password_checks_total). */
static unsigned long checks_done(void)
{
    size_t len;
    char *text = hub_metrics_render(hub_server_metrics(p.server), &len), *at = strstr(text, "\nhub_password_checks_total ");
    unsigned long n = at != NULL ? strtoul(at + strlen("\nhub_password_checks_total "), NULL, 10) : 0;

    free(text);
    return n;
}

/* A sign-in of username whose client leaves: while its read waits on the store's readers (stage 'r'), once its password
 * was checked and before its completion ran ('c'), or while its outcome's write waits in the writer's transaction
 * ('w'). */
static void leave_at(const char *username, const char *password, char stage)
{
    char token[128], cookie[256], body[512];
    unsigned long checks = checks_done();
    test_req_t *r;

    fresh_form(token, cookie);
    snprintf(body, sizeof(body), "csrf_token=%s&username=%s&password=%s", token, username, password);
    r = test_req_new(&p.loop, "POST", "/login");
    test_req_header(r, "cookie", cookie);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    if (stage == 'r')
        test_store_hold_reads();
    if (stage == 'w')
        test_store_hold_writes();
    CHECK(test_req_run(r, 0) == 0);
    /* the read's completion (with readers) comes through the loop, which runs no longer than until the check ran */
    for (int i = 0; stage == 'c' && i != 10000 && checks_done() == checks; ++i) {
        h2o_evloop_run(p.loop.thr.ctx.loop, 0);
        usleep(1000);
    }
    for (int i = 0; stage == 'w' && i != 1000 && !test_store_wait_held(1, 10); ++i)
        test_loop_run(&p.loop, 10); /* the check's completion queues the write */
    CHECK(stage == 'c' ? checks_done() == checks + 1 : test_store_wait_held(1, 10000));
    test_req_free(r);
    test_store_hook_off();
    test_loop_run(&p.loop, 50);
}

/* A client that leaves at every stage of its sign-in (max_failures 3): a guess whose password was tried counts
 * whatever the client did, so after two that left and one that stayed the account is locked; one that left during its
 * read tried nothing and counts nothing. */
static void test_leaves_every_stage(void)
{
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS);
    test_req_t *r;

    leave_at("erin", "wrong", 'c');
    leave_at("erin", "wrong", 'w');
    r = post_parked("erin", "wrong", NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401);
    test_req_free(r);
    r = post_parked("erin", PASSWORD, NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401); /* locked */
    test_req_free(r);
    if (p.loop.thr.read_port != NULL) {
        for (int i = 0; i != 3; ++i)
            leave_at("frank", "wrong", 'r');
        r = post_parked("frank", PASSWORD, NULL);
        CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 302); /* not locked */
        test_req_free(r);
        sessions += 2;
    }
    leave_at("frank", PASSWORD, 'c'); /* a good sign-in whose client left: no session */
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions);
}

/* max_failures 3: the account locks, and then the right password fails too. */
static void test_lockout(void)
{
    test_req_t *r;

    for (int i = 0; i != 3; ++i) {
        r = post_parked("carol", "wrong", NULL);
        CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401);
        test_req_free(r);
    }
    r = post_parked("carol", PASSWORD, NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401);
    CHECK(test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL) == NULL);
    test_req_free(r);
    /* another account is not locked by it */
    r = post_parked("alice", PASSWORD, NULL);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 302);
    test_req_free(r);
}

/* address_max_failures 2 on another node: the address waits (429 with Retry-After), before any password check. */
static void test_address_limit(void)
{
    char *sub;
    test_req_t *r;

    test_primary_start(&p, "idp-login-addr", "  login: {address_max_failures: 2}\n");
    sub = test_primary_user(&p, "dave", PASSWORD, NULL);
    for (int i = 0; i != 2; ++i) {
        r = post_parked("dave", "wrong", NULL);
        CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 401);
        test_req_free(r);
    }
    char token[128], cookie[256], body[256];
    fresh_form(token, cookie);
    snprintf(body, sizeof(body), "csrf_token=%s&username=dave&password=" PASSWORD, token);
    r = test_primary_request(&p, "POST", "/login", cookie, NULL, NULL, body);
    CHECK(test_req_done(r) && test_req_status(r) == 429); /* answered in its own turn: nothing was checked */
    const char *retry = test_req_resp_header(r, "retry-after", 0);
    CHECK(retry != NULL && atoi(retry) > 0 && atoi(retry) <= 900);
    test_req_free(r);
    free(sub);
    test_primary_stop(&p);
}

int main(void)
{
    static const char *const roles[] = {"Employee", NULL};
    char *subs[7];

    test_primary_start(&p, "idp-login", "  login: {max_failures: 3, address_max_failures: 1000}\n");
    subs[0] = test_primary_user(&p, "alice", PASSWORD, roles);
    subs[1] = test_primary_user(&p, "bob", PASSWORD, NULL);
    subs[2] = test_primary_user(&p, "carol", PASSWORD, NULL);
    subs[3] = test_primary_user(&p, "nopassword", NULL, NULL);
    subs[4] = test_primary_user(&p, "disabled", "wrong", NULL); /* its own password is refused too */
    subs[5] = test_primary_user(&p, "erin", PASSWORD, NULL);
    subs[6] = test_primary_user(&p, "frank", PASSWORD, NULL);
    CHECK(test_primary_disable_user(&p, "disabled") == 0);
    test_methods_and_paths();
    test_form();
    test_bad_forms();
    test_parked_sign_in();
    test_next_stays_here();
    test_failures();
    test_client_leaves();
    test_leaves_every_stage();
    test_lockout();
    test_primary_stop(&p);
    for (int i = 0; i != 7; ++i)
        free(subs[i]);
    test_address_limit();
    return check_report("idp/login");
}
