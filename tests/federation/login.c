/* Tests federation/fed_login.c in process: /auth/login (methods, bad queries, the authorize URL with state, nonce and
 * PKCE, the pending sign-in's cookie and the bound on pending sign-ins per browser, a primary that does not answer) and
 * /auth/callback (malformed answers, states not bound to this browser, the primary's errors, and the code exchange:
 * a session started, or refused, revoked, incomplete or unverifiable answers, and a client that leaves meanwhile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "tests/check.h"
#include "tests/support/secondary.h"

#define WAIT_MS 5000
#define STATE_PREFIX TEST_SECONDARY_STATE_COOKIE "_"

/* One sign-in started at /auth/login: what the authorize URL and the pending sign-in's cookie held. */
typedef struct {
    char location[4096], state[64], nonce[64], cookie_name[64], cookie_value[3000];
} signin_t;

/* The value of query parameter name in url (up to '&'), in out; 0 when absent. */
static int param(const char *url, const char *name, char *out, size_t size)
{
    char key[64];
    const char *p;
    snprintf(key, sizeof(key), "%s=", name);
    for (p = strchr(url, '?'); p != NULL; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, key, strlen(key)) == 0) {
            p += 1 + strlen(key);
            snprintf(out, size, "%.*s", (int)strcspn(p, "&"), p);
            return 1;
        }
    }
    return 0;
}

/* GET /auth/login?<query> with the Cookie header cookies (may be NULL); fills s from the answer. Returns the status. */
static int start_signin(test_secondary_t *t, const char *query, const char *cookies, signin_t *s)
{
    char path[2048];
    const char *loc, *line = NULL;
    size_t i;
    int status;

    snprintf(path, sizeof(path), "/auth/login%s%s", query != NULL ? "?" : "", query != NULL ? query : "");
    test_req_t *r = test_secondary_get(t, "GET", path, cookies, NULL);
    status = test_req_done(r) ? test_req_status(r) : -1;
    memset(s, 0, sizeof(*s));
    if ((loc = test_req_resp_header(r, "location", 0)) != NULL) {
        snprintf(s->location, sizeof(s->location), "%s", loc);
        param(loc, "state", s->state, sizeof(s->state));
        param(loc, "nonce", s->nonce, sizeof(s->nonce));
    }
    for (i = 0; (line = test_req_resp_header(r, "set-cookie", i)) != NULL; ++i) {
        if (strncmp(line, STATE_PREFIX, strlen(STATE_PREFIX)) != 0 || strstr(line, "Max-Age=0") != NULL)
            continue;
        snprintf(s->cookie_name, sizeof(s->cookie_name), "%.*s", (int)strcspn(line, "="), line);
        snprintf(s->cookie_value, sizeof(s->cookie_value), "%.*s", (int)strcspn(line + strlen(s->cookie_name) + 1, ";"),
                 line + strlen(s->cookie_name) + 1);
    }
    test_req_free(r);
    return status;
}

static test_req_t *callback(test_secondary_t *t, const char *query, const signin_t *cookie_of)
{
    char path[4096], cookie[3200];
    snprintf(path, sizeof(path), "/auth/callback?%s", query);
    if (cookie_of != NULL)
        snprintf(cookie, sizeof(cookie), "%s=%s", cookie_of->cookie_name, cookie_of->cookie_value);
    return test_secondary_get(t, "GET", path, cookie_of != NULL ? cookie : NULL, NULL);
}

static int callback_status(test_secondary_t *t, const char *query, const signin_t *cookie_of)
{
    test_req_t *r = callback(t, query, cookie_of);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

/* 1 when the callback was refused with the page that names why (text is a phrase of it). */
static int refused_with(test_secondary_t *t, const char *query, const signin_t *cookie_of, const char *text)
{
    test_req_t *r = callback(t, query, cookie_of);
    int ok = test_req_done(r) && test_req_status(r) == 400 && strstr(test_req_text(r), text) != NULL;
    test_req_free(r);
    return ok;
}

static void test_login(test_secondary_t *t)
{
    signin_t s, s2;
    char want[256], big[1100];
    const char *attrs = NULL;

    CHECK(start_signin(t, "next=/app/x", NULL, &s) == 302);
    snprintf(want, sizeof(want),
             "%s/oauth2/authorize?response_type=code&client_id=" TEST_SECONDARY_CLIENT "&redirect_uri=", test_stub_url(t->primary));
    CHECK(strncmp(s.location, want, strlen(want)) == 0);
    CHECK(strstr(s.location, "redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fauth%2Fcallback&") != NULL);
    CHECK(strstr(s.location, "&scope=openid%20profile%20email%20roles&") != NULL);
    CHECK(strstr(s.location, "&code_challenge_method=S256") != NULL && strstr(s.location, "&code_challenge=") != NULL);
    CHECK(strlen(s.state) == 43 && strlen(s.nonce) == 43);
    CHECK(strlen(s.cookie_name) == strlen(STATE_PREFIX) + 8 && strncmp(s.cookie_name + strlen(STATE_PREFIX), s.state, 8) == 0);
    /* the pending sign-in travels under /auth/ only */
    test_req_t *r = test_secondary_get(t, "GET", "/auth/login", NULL, NULL);
    CHECK(test_req_set_cookie(r, s.cookie_name, &attrs) == NULL);
    for (size_t i = 0; (attrs = test_req_resp_header(r, "set-cookie", i)) != NULL; ++i)
        CHECK(strstr(attrs, "; Path=/auth/; HttpOnly; SameSite=Lax; Max-Age=600") != NULL);
    test_req_free(r);
    /* two sign-ins: two states, two nonces */
    CHECK(start_signin(t, NULL, NULL, &s2) == 302 && strcmp(s.state, s2.state) != 0 && strcmp(s.nonce, s2.nonce) != 0);

    /* methods and bad queries */
    static const char *const refused[] = {"POST", "PUT", "DELETE"};
    for (size_t i = 0; i != 3; ++i) {
        r = test_secondary_get(t, refused[i], "/auth/login", NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD") == 0);
        CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0); /* a page's 405 is a page */
        test_req_free(r);
    }
    /* only the exact path; a path under it is the page's 404, a page too */
    static const char *const under[] = {"/auth/login/", "/auth/login/x", "/auth/login/x/y?next=/app/"};
    for (size_t i = 0; i != sizeof(under) / sizeof(under[0]); ++i) {
        r = test_secondary_get(t, "GET", under[i], NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0);
        CHECK(test_req_resp_header(r, "set-cookie", 0) == NULL); /* no pending sign-in started */
        test_req_free(r);
    }
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    char too_long[1200];
    snprintf(too_long, sizeof(too_long), "next=%s", big);
    static const char *const bad[] = {"next=/a&next=/b", "next=%zz", "next=%00"};
    for (size_t i = 0; i != 3; ++i)
        CHECK(start_signin(t, bad[i], NULL, &s2) == 400 && s2.cookie_name[0] == '\0');
    CHECK(start_signin(t, too_long, NULL, &s2) == 400 && s2.cookie_name[0] == '\0');
}

/* At most FED_STATE_MAX_PENDING sign-ins per browser: the one that expires first gives way; cookies that do not open
 * (altered, another node's) are deleted. */
static void test_pending_bound(test_secondary_t *t)
{
    signin_t s[4];
    char jar[8192] = "";
    size_t i;

    for (i = 0; i != 4; ++i) {
        CHECK(start_signin(t, NULL, NULL, &s[i]) == 302);
        snprintf(jar + strlen(jar), sizeof(jar) - strlen(jar), "%s%s=%s", i ? "; " : "", s[i].cookie_name, s[i].cookie_value);
    }
    snprintf(jar + strlen(jar), sizeof(jar) - strlen(jar), "; " STATE_PREFIX "AAAAAAAA=junk; hub_other_state_BBBBBBBB=x");
    test_req_t *r = test_secondary_get(t, "GET", "/auth/login", jar, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 302);
    int deleted_junk = 0, deleted_real = 0;
    const char *line;
    for (i = 0; (line = test_req_resp_header(r, "set-cookie", i)) != NULL; ++i) {
        if (strstr(line, "Max-Age=0") == NULL)
            continue;
        deleted_junk += strncmp(line, STATE_PREFIX "AAAAAAAA=", strlen(STATE_PREFIX) + 9) == 0;
        deleted_real += strncmp(line, s[0].cookie_name, strlen(s[0].cookie_name)) == 0 ||
                        strncmp(line, s[1].cookie_name, strlen(s[1].cookie_name)) == 0 ||
                        strncmp(line, s[2].cookie_name, strlen(s[2].cookie_name)) == 0 ||
                        strncmp(line, s[3].cookie_name, strlen(s[3].cookie_name)) == 0;
        CHECK(strncmp(line, "hub_other_state", 15) != 0); /* another node's cookies are not this node's to delete */
    }
    CHECK(deleted_junk == 1 && deleted_real == 1);
    test_req_free(r);
}

static void test_callback_refusals(test_secondary_t *t)
{
    signin_t a, b;
    char q[512], long_code[1100];
    size_t i;

    CHECK(start_signin(t, NULL, NULL, &a) == 302 && start_signin(t, NULL, NULL, &b) == 302);
    test_req_t *r = test_req_new(&t->loop, "POST", "/auth/callback");
    CHECK(test_req_run(r, WAIT_MS) && test_req_status(r) == 405);
    CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD") == 0);
    CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0);
    test_req_free(r);
    /* malformed answers */
    memset(long_code, 'c', sizeof(long_code) - 1);
    long_code[sizeof(long_code) - 1] = '\0';
    char with_long[1300];
    snprintf(with_long, sizeof(with_long), "code=%s&state=%s", long_code, a.state);
    char two_states[256], both[256], neither[256], empty_code[256];
    snprintf(two_states, sizeof(two_states), "code=c&state=%s&state=%s", a.state, a.state);
    snprintf(both, sizeof(both), "code=c&error=access_denied&state=%s", a.state);
    snprintf(neither, sizeof(neither), "state=%s", a.state);
    snprintf(empty_code, sizeof(empty_code), "code=&state=%s", a.state);
    const char *const malformed[] = {"code=c", "", "code=c&state=%zz", two_states, both, neither, empty_code, with_long};
    for (i = 0; i != sizeof(malformed) / sizeof(malformed[0]); ++i)
        CHECK(refused_with(t, malformed[i], &a, "malformed or lacks its state"));
    /* states not bound to this browser: no cookie, another sign-in's cookie, a state of the right shape, junk */
    static const char not_here[] = "not started in this browser";
    snprintf(q, sizeof(q), "code=c&state=%s", a.state);
    CHECK(refused_with(t, q, NULL, not_here));
    CHECK(refused_with(t, q, &b, not_here));
    signin_t forged = a;
    forged.cookie_value[10] = forged.cookie_value[10] == 'A' ? 'B' : 'A';
    CHECK(refused_with(t, q, &forged, not_here));
    signin_t renamed = b; /* b's sealed value under a's name: the name is part of the seal */
    snprintf(renamed.cookie_name, sizeof(renamed.cookie_name), "%s", a.cookie_name);
    CHECK(refused_with(t, q, &renamed, not_here));
    CHECK(refused_with(t, "code=c&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &a, not_here));
    CHECK(refused_with(t, "code=c&state=short", &a, not_here));
    CHECK(test_stub_hits(t->primary, "/oauth2/token") <= 1); /* no code went to the primary (at most the node's probe) */

    /* the primary's errors: a fixed text for each, never the description the URL carries */
    static const struct {
        const char *error;
        int status;
    } errors[] = {{"access_denied", 403},           {"login_required", 401}, {"server_error", 502},
                  {"temporarily_unavailable", 503}, {"invalid_scope", 400},  {"made_up", 400}};
    for (i = 0; i != sizeof(errors) / sizeof(errors[0]); ++i) {
        signin_t s;
        CHECK(start_signin(t, NULL, NULL, &s) == 302);
        snprintf(q, sizeof(q), "error=%s&error_description=%%3Cscript%%3Ex&state=%s", errors[i].error, s.state);
        r = callback(t, q, &s);
        CHECK(test_req_done(r) && test_req_status(r) == errors[i].status && strstr(test_req_text(r), "script") == NULL);
        const char *attrs = NULL;
        CHECK(test_req_set_cookie(r, s.cookie_name, &attrs) != NULL && strstr(attrs, "Max-Age=0") != NULL);
        test_req_free(r);
    }
}

/* The token endpoint's answer for a sign-in whose authorize URL was s. */
static void serve_tokens(test_secondary_t *t, const signin_t *s, const char *nonce_override, int with_id_token)
{
    static const char *const roles[] = {"Employee", NULL};
    uint64_t now = hub_now();
    json_t *idc = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "iss", test_stub_url(t->primary), "sub", "cb-user", "aud",
                            TEST_SECONDARY_CLIENT, "exp", (json_int_t)now + 600, "iat", (json_int_t)now, "nonce",
                            nonce_override != NULL ? nonce_override : s->nonce, "sid", "cb-sid");
    char *idt = test_secondary_sign(t->key, "JWT", idc);
    char *at = test_secondary_sign(t->key, "at+jwt", test_secondary_at_claims(t, "cb-user", roles, 600, "CB", NULL));
    json_t *doc =
        json_pack("{s:s,s:s,s:i,s:s}", "access_token", at, "token_type", "Bearer", "expires_in", 600, "refresh_token", "rt-cb");
    if (with_id_token)
        json_object_set_new(doc, "id_token", json_string(idt));
    char *text = json_dumps(doc, JSON_COMPACT);
    test_stub_answer(t->primary, "POST", "/oauth2/token", 200, "Content-Type: application/json\r\n", text);
    free(text);
    json_decref(doc);
    free(idt);
    free(at);
}

static void test_exchange(test_secondary_t *t)
{
    signin_t s;
    char q[512], cookie[128];
    const char *attrs = NULL, *session;

    /* a session started: on to next, with the session cookie; the code went to the primary with the PKCE verifier */
    CHECK(start_signin(t, "next=/app/page%3Fa%3D1", NULL, &s) == 302);
    serve_tokens(t, &s, NULL, 1);
    snprintf(q, sizeof(q), "code=the-code&state=%s", s.state);
    test_req_t *r = callback(t, q, &s);
    CHECK(test_req_done(r) && test_req_status(r) == 302);
    CHECK(strcmp(test_req_resp_header(r, "location", 0) ?: "", "/app/page?a=1") == 0);
    CHECK((session = test_req_set_cookie(r, TEST_SECONDARY_SESSION_COOKIE, &attrs)) != NULL && strlen(session) == 43);
    CHECK(attrs != NULL && strstr(attrs, "Path=/; HttpOnly; SameSite=Lax") != NULL);
    snprintf(cookie, sizeof(cookie), TEST_SECONDARY_SESSION_COOKIE "=%s", session != NULL ? session : "");
    test_req_free(r);
    char *sent = test_stub_find(t->primary, "/oauth2/token", "grant_type=authorization_code&code=the-code&");
    CHECK(sent != NULL && strstr(sent, "grant_type=authorization_code&code=the-code&redirect_uri=") != NULL &&
          strstr(sent, "&code_verifier=") != NULL && strstr(sent, "Authorization: Basic ") != NULL);
    free(sent);
    r = test_secondary_get(t, "GET", "/auth/me", cookie, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && strstr(test_req_text(r), "\"sub\":\"cb-user\"") != NULL);
    test_req_free(r);

    /* an unsafe next becomes "/" */
    CHECK(start_signin(t, "next=//evil.example/", NULL, &s) == 302);
    serve_tokens(t, &s, NULL, 1);
    snprintf(q, sizeof(q), "code=c2&state=%s", s.state);
    r = callback(t, q, &s);
    CHECK(test_req_done(r) && test_req_status(r) == 302 && strcmp(test_req_resp_header(r, "location", 0) ?: "", "/") == 0);
    test_req_free(r);

    /* answers that start nothing: another nonce, no id_token, a refusal */
    CHECK(start_signin(t, NULL, NULL, &s) == 302);
    serve_tokens(t, &s, "another-nonce", 1);
    snprintf(q, sizeof(q), "code=c3&state=%s", s.state);
    CHECK(callback_status(t, q, &s) == 502);
    CHECK(start_signin(t, NULL, NULL, &s) == 302);
    serve_tokens(t, &s, NULL, 0);
    snprintf(q, sizeof(q), "code=c4&state=%s", s.state);
    CHECK(callback_status(t, q, &s) == 502);
    CHECK(start_signin(t, NULL, NULL, &s) == 302);
    test_stub_answer(t->primary, "POST", "/oauth2/token", 400, "", "{\"error\":\"invalid_grant\"}");
    snprintf(q, sizeof(q), "code=c5&state=%s", s.state);
    CHECK(callback_status(t, q, &s) == 400);
    CHECK(start_signin(t, NULL, NULL, &s) == 302);
    test_stub_answer(t->primary, "POST", "/oauth2/token", 502, "", "<html>proxy</html>");
    snprintf(q, sizeof(q), "code=c6&state=%s", s.state);
    CHECK(callback_status(t, q, &s) == 502);

    /* the client leaves while the code exchange waits for the primary: the answer comes back to nobody */
    CHECK(start_signin(t, NULL, NULL, &s) == 302);
    serve_tokens(t, &s, NULL, 1);
    unsigned before = test_stub_hits(t->primary, "/oauth2/token");
    test_stub_hold(t->primary, "/oauth2/token", 1);
    snprintf(q, sizeof(q), "/auth/callback?code=c7&state=%s", s.state);
    size_t jar_size = strlen(s.cookie_name) + strlen(s.cookie_value) + 2;
    char *jar = malloc(jar_size);
    snprintf(jar, jar_size, "%s=%s", s.cookie_name, s.cookie_value);
    r = test_req_new(&t->loop, "GET", q);
    test_req_header(r, "cookie", jar);
    /* the client's loop runs (sending the request needs it) until the stub holds the exchange; never answered */
    for (int i = 0; i != WAIT_MS / 50 && test_stub_wait_hits(t->primary, "/oauth2/token", before + 1, 0) < before + 1; ++i)
        CHECK(test_req_run(r, 50) == 0);
    CHECK(test_stub_wait_hits(t->primary, "/oauth2/token", before + 1, 0) == before + 1);
    test_req_free(r);
    test_stub_hold(t->primary, "/oauth2/token", 0);
    test_loop_run(&t->loop, 300);
    free(jar);
}

/* A primary that says the node's credentials are unknown (401): the node stops sending browsers there. */
static void test_revoked(test_secondary_t *t)
{
    signin_t s;
    char q[512];

    CHECK(start_signin(t, NULL, NULL, &s) == 302);
    test_stub_answer(t->primary, "POST", "/oauth2/token", 401, "WWW-Authenticate: Basic\r\n", "{\"error\":\"invalid_client\"}");
    snprintf(q, sizeof(q), "code=c8&state=%s", s.state);
    test_req_t *r = callback(t, q, &s);
    CHECK(test_req_done(r) && test_req_status(r) == 503 && strstr(test_req_text(r), "revoked") != NULL);
    test_req_free(r);
    CHECK(start_signin(t, NULL, NULL, &s) == 503 && s.cookie_name[0] == '\0');
}

/* A primary that is down: the sign-in says so instead of sending the browser to a dead host. */
static void test_unreachable(void)
{
    test_secondary_t t;
    signin_t s;

    test_secondary_start(&t, "fed-login-down", NULL);
    test_stub_answer(t.primary, "GET", "/.well-known/openid-configuration", 503, "", "down");
    test_req_t *r = test_secondary_get(&t, "GET", "/auth/login", NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 503 && strcmp(test_req_resp_header(r, "retry-after", 0) ?: "", "5") == 0);
    CHECK(test_req_set_cookie(r, TEST_SECONDARY_STATE_COOKIE, NULL) == NULL);
    test_req_free(r);
    test_stub_answer(t.primary, "GET", "/.well-known/openid-configuration", 200, "", "{}"); /* answers again */
    CHECK(start_signin(&t, NULL, NULL, &s) == 302);
    test_secondary_stop(&t);
}

int main(void)
{
    test_secondary_t t;

    test_secondary_start(&t, "fed-login", NULL);
    test_login(&t);
    test_pending_bound(&t);
    test_callback_refusals(&t);
    test_exchange(&t);
    test_revoked(&t);
    test_secondary_stop(&t);
    test_unreachable();
    return check_report("federation/login");
}
