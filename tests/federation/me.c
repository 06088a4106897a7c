/* Tests federation/fed_me.c (and the caller identity of fed_identify.c it answers with), in process: /auth/me's
 * methods and paths, Bearer tokens and session cookies good and bad, the JSON it writes for any claim text, and the
 * requests it parks: for a JWKS round (resumed with the new key, or out of time) and for a session's refresh
 * (renewed, refused, or the primary hanging). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "tests/check.h"
#include "tests/support/secondary.h"

#define WAIT_MS 5000
static const char *const employee[] = {"Employee", NULL};

/* "Bearer <token>" in a static buffer. */
static const char *bearer(const char *token)
{
    static char buf[20000];
    snprintf(buf, sizeof(buf), "Bearer %s", token);
    return buf;
}

/* The JSON body of a finished request (new reference), or NULL. */
static json_t *body_json(test_req_t *r)
{
    return json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
}

/* The "error" of a JSON error answer, in a static buffer ("" when none). */
static const char *error_of(test_req_t *r)
{
    static char err[64];
    json_t *doc = body_json(r);
    snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(doc, "error")) ?: "");
    json_decref(doc);
    return err;
}

static int status_of(test_secondary_t *t, const char *method, const char *path, const char *cookie, const char *auth)
{
    test_req_t *r = test_secondary_get(t, method, path, cookie, auth);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

static void test_methods_and_paths(test_secondary_t *t)
{
    static const char *const refused[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    char *token = test_secondary_sign(t->key, "at+jwt", test_secondary_at_claims(t, "u1", employee, 600, "U", NULL));
    size_t i;

    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_secondary_get(t, refused[i], "/auth/me", NULL, bearer(token));
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD") == 0);
        CHECK(strcmp(error_of(r), "invalid_request") == 0); /* a JSON error, as the other 405s of the node */
        test_req_free(r);
    }
    /* HEAD: the status and headers of GET, no body */
    test_req_t *r = test_secondary_get(t, "HEAD", "/auth/me", NULL, bearer(token));
    CHECK(test_req_done(r) && test_req_status(r) == 200 && test_req_len(r) == 0);
    test_req_free(r);
    /* a query is no other path */
    CHECK(status_of(t, "GET", "/auth/me?x=1", NULL, bearer(token)) == 200);
    /* paths that are not /auth/me exactly: none answers with an identity */
    CHECK(status_of(t, "GET", "/auth/me/", NULL, bearer(token)) == 404);
    CHECK(status_of(t, "GET", "/auth/me/x", NULL, bearer(token)) == 404);
    CHECK(status_of(t, "GET", "/auth/mex", NULL, bearer(token)) == 404);
    CHECK(status_of(t, "GET", "/AUTH/ME", NULL, bearer(token)) == 404);
    /* not canonical: the gate refuses it before any handler */
    CHECK(status_of(t, "GET", "/auth/./me", NULL, bearer(token)) == 400);
    CHECK(status_of(t, "GET", "/auth//me", NULL, bearer(token)) == 400);
    CHECK(status_of(t, "GET", "/auth/%6de", NULL, bearer(token)) == 400);
    free(token);
}

static void test_anonymous(test_secondary_t *t)
{
    static const char *const cookies[] = {"hub_fedtest_session=", "hub_fedtest_session=short",
                                          "hub_fedtest_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                          "other=1; hub_fedtest_session=%00%ff", "hub_other_session=x"};
    size_t i;

    test_req_t *r = test_secondary_get(t, "GET", "/auth/me", NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 401 && strcmp(error_of(r), "login_required") == 0);
    CHECK(strcmp(test_req_resp_header(r, "www-authenticate", 0) ?: "", "Bearer realm=\"hub\"") == 0);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    test_req_free(r);
    /* a cookie that names no live session is no identity, whatever it holds */
    for (i = 0; i != sizeof(cookies) / sizeof(cookies[0]); ++i) {
        r = test_secondary_get(t, "GET", "/auth/me", cookies[i], NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 401 && strcmp(error_of(r), "login_required") == 0);
        test_req_free(r);
    }
    /* another scheme is no Bearer token: the caller is anonymous */
    CHECK(status_of(t, "GET", "/auth/me", NULL, "Basic bm9kZTpzZWNyZXQ=") == 401);
}

static void test_bad_tokens(test_secondary_t *t)
{
    char *long_token = malloc(16400), *expired, *other_aud, *none, *typ;
    json_t *c;
    size_t i;

    memset(long_token, 'a', 16399);
    long_token[16399] = '\0';
    expired = test_secondary_sign(t->key, "at+jwt", test_secondary_at_claims(t, "u1", employee, -3600, NULL, NULL));
    c = test_secondary_at_claims(t, "u1", employee, 600, NULL, NULL);
    json_object_set_new(c, "aud", json_string("someone-else"));
    other_aud = test_secondary_sign(t->key, "at+jwt", c);
    typ = test_secondary_sign(t->key, "JWT", test_secondary_at_claims(t, "u1", employee, 600, NULL, NULL));
    none = strdup("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ1MSJ9.");
    /* "Bearer " and nothing after it names no token: anonymous, as without the header */
    CHECK(status_of(t, "GET", "/auth/me", NULL, "Bearer ") == 401);
    const char *const bad[] = {"Bearer      ", "bearer  x  ", bearer(long_token), "Bearer abc", "Bearer a.b.c", NULL};
    for (i = 0; bad[i] != NULL; ++i) {
        test_req_t *r = test_secondary_get(t, "GET", "/auth/me", NULL, bad[i]);
        CHECK(test_req_done(r) && test_req_status(r) == 401 && strcmp(error_of(r), "invalid_token") == 0);
        CHECK(strstr(test_req_resp_header(r, "www-authenticate", 0) ?: "", "error=\"invalid_token\"") != NULL);
        test_req_free(r);
    }
    const char *const tokens[] = {expired, other_aud, typ, none};
    for (i = 0; i != sizeof(tokens) / sizeof(tokens[0]); ++i) {
        char *auth = strdup(bearer(tokens[i]));
        test_req_t *r = test_secondary_get(t, "GET", "/auth/me", NULL, auth);
        CHECK(test_req_done(r) && test_req_status(r) == 401 && strcmp(error_of(r), "invalid_token") == 0);
        test_req_free(r);
        free(auth);
    }
    free(long_token);
    free(expired);
    free(other_aud);
    free(typ);
    free(none);
}

/* Whatever the claims hold, the answer is JSON that reads back to them (the writer escapes, nothing splits). */
static void test_identity_json(test_secondary_t *t)
{
    static const char *const names[] = {"Plain",
                                        "quote \" backslash \\ slash /",
                                        "line\nbreak\ttab\x01\x1f\x7f",
                                        "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                        "</script><b>&amp;",
                                        ""};
    static const char *const roles[] = {"System Manager", "a,b", "\"x\"", NULL};
    size_t i;

    for (i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        char *token = test_secondary_sign(t->key, "at+jwt",
                                          test_secondary_at_claims(t, "user \"1\"", roles, 600, names[i], i % 2 ? NULL : "e@x"));
        char *auth = strdup(bearer(token));
        test_req_t *r = test_secondary_get(t, "GET", "/auth/me", NULL, auth);
        json_t *doc = body_json(r);
        CHECK(test_req_done(r) && test_req_status(r) == 200 && doc != NULL);
        CHECK(strcmp(test_req_resp_header(r, "content-type", 0) ?: "", "application/json") == 0);
        CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
        CHECK(strcmp(test_req_resp_header(r, "pragma", 0) ?: "", "no-cache") == 0);
        CHECK(strcmp(json_string_value(json_object_get(doc, "sub")) ?: "", "user \"1\"") == 0);
        CHECK(strcmp(json_string_value(json_object_get(doc, "name")) ?: "-", names[i]) == 0);
        if (i % 2)
            CHECK(json_is_null(json_object_get(doc, "email"))); /* an absent claim is null, not missing */
        else
            CHECK(strcmp(json_string_value(json_object_get(doc, "email")) ?: "", "e@x") == 0);
        CHECK(json_array_size(json_object_get(doc, "roles")) == 3);
        CHECK(strcmp(json_string_value(json_array_get(json_object_get(doc, "roles"), 2)) ?: "", "\"x\"") == 0);
        CHECK(strcmp(json_string_value(json_object_get(doc, "client_id")) ?: "", TEST_SECONDARY_CLIENT) == 0);
        CHECK(json_integer_value(json_object_get(doc, "exp")) > (json_int_t)hub_now());
        CHECK(json_object_size(doc) == 6);
        json_decref(doc);
        test_req_free(r);
        free(auth);
        free(token);
    }
}

static void test_session(test_secondary_t *t)
{
    char cookie[FED_SESSION_COOKIE_LEN + 1], header[128];
    json_t *doc;

    test_secondary_session(t, "s-user", "sid-1", employee, 600, NULL, cookie);
    snprintf(header, sizeof(header), "a=1; " TEST_SECONDARY_SESSION_COOKIE "=%s; b=2", cookie);
    test_req_t *r = test_secondary_get(t, "GET", "/auth/me", header, NULL);
    doc = body_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(strcmp(json_string_value(json_object_get(doc, "sub")) ?: "", "s-user") == 0);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(doc, "roles"), 0)) ?: "", "Employee") == 0);
    json_decref(doc);
    test_req_free(r);
    /* a Bearer token that is not valid is not made good by a live session: the token is checked first */
    CHECK(status_of(t, "GET", "/auth/me", header, "Bearer nope") == 401);
    /* without a refresh token, a session past due is over: ended, not answered */
    test_secondary_session(t, "s-user", "sid-2", employee, -1, NULL, cookie);
    snprintf(header, sizeof(header), TEST_SECONDARY_SESSION_COOKIE "=%s", cookie);
    CHECK(status_of(t, "GET", "/auth/me", header, NULL) == 401);
}

/* A token signed by a key the node has not fetched: parked for the JWKS round, resumed when it ends. */
static void test_kid_wait_resumed(void)
{
    test_secondary_t t;
    char *token, *auth;
    unsigned before;

    test_secondary_start(&t, "fed-me-kid", NULL);
    token = test_secondary_sign(t.new_key, "at+jwt", test_secondary_at_claims(&t, "u2", employee, 600, "New", NULL));
    auth = strdup(bearer(token));
    before = test_stub_hits(t.primary, "/oauth2/jwks");
    test_stub_hold(t.primary, "/oauth2/jwks", 1); /* the primary is slow: the round stays in flight */
    test_req_t *r = test_req_new(&t.loop, "GET", "/auth/me");
    test_req_header(r, "authorization", auth);
    CHECK(test_req_run(r, 300) == 0); /* parked, not answered */
    CHECK(test_stub_wait_hits(t.primary, "/oauth2/jwks", before + 1, WAIT_MS) == before + 1);
    test_secondary_publish(&t, 1);
    test_stub_hold(t.primary, "/oauth2/jwks", 0);
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 200);
    CHECK(strstr(test_req_text(r), "\"sub\":\"u2\"") != NULL);
    test_req_free(r);
    /* the same key now verifies at once */
    CHECK(status_of(&t, "GET", "/auth/me", NULL, auth) == 200);
    free(auth);
    free(token);
    test_secondary_stop(&t);
}

/* The round does not end in time (the primary hangs): the request gets its 401 anyway; a client that left while
 * parked is never answered, and nothing breaks when the round ends without it. */
static void test_kid_wait_out_of_time(void)
{
    test_secondary_t t;
    char *token, *auth;

    test_secondary_start(&t, "fed-me-kid-slow", NULL);
    token = test_secondary_sign(t.new_key, "at+jwt", test_secondary_at_claims(&t, "u3", employee, 600, NULL, NULL));
    auth = strdup(bearer(token));
    test_stub_hold(t.primary, "/oauth2/jwks", 1);
    test_req_t *gone = test_req_new(&t.loop, "GET", "/auth/me"), *r = test_req_new(&t.loop, "GET", "/auth/me");
    test_req_header(gone, "authorization", auth);
    test_req_header(r, "authorization", auth);
    CHECK(test_req_run(gone, 100) == 0);
    CHECK(test_req_run(r, 100) == 0);
    test_req_free(gone); /* the client goes away while parked */
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 401 && strcmp(error_of(r), "invalid_token") == 0);
    test_req_free(r);
    /* the refresh is rate-limited now: another unknown kid is answered at once, not parked */
    r = test_secondary_get(&t, "GET", "/auth/me", NULL, auth);
    CHECK(test_req_done(r) && test_req_status(r) == 401);
    test_req_free(r);
    test_stub_hold(t.primary, "/oauth2/jwks", 0);
    test_loop_run(&t.loop, 200); /* the held answers come back to nobody */
    free(auth);
    free(token);
    test_secondary_stop(&t);
}

/* A session past due with a refresh token: its requests wait for the refresh grant, then answer with what it brought. */
static void test_refresh_wait(void)
{
    static const char *const manager[] = {"Manager", NULL};
    test_secondary_t t;
    char cookie[FED_SESSION_COOKIE_LEN + 1], header[128], *at, body[4096];

    test_secondary_start(&t, "fed-me-refresh", NULL);
    test_secondary_session(&t, "r-user", "sid-r", employee, -1, "rt-1", cookie);
    snprintf(header, sizeof(header), TEST_SECONDARY_SESSION_COOKIE "=%s", cookie);
    at = test_secondary_sign(t.key, "at+jwt", test_secondary_at_claims(&t, "r-user", manager, 600, NULL, NULL));
    snprintf(body, sizeof(body),
             "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":600,\"refresh_token\":\"rt-2\"}", at);
    test_stub_hold(t.primary, "/oauth2/token", 1);
    test_stub_answer(t.primary, "POST", "/oauth2/token", 200, "Content-Type: application/json\r\n", body);
    test_req_t *r = test_req_new(&t.loop, "GET", "/auth/me"), *r2 = test_req_new(&t.loop, "GET", "/auth/me");
    test_req_header(r, "cookie", header);
    test_req_header(r2, "cookie", header);
    CHECK(test_req_run(r, 200) == 0);  /* parked on the session's refresh */
    CHECK(test_req_run(r2, 200) == 0); /* and one refresh for both */
    CHECK(test_stub_wait_hits(t.primary, "/oauth2/token", 2, WAIT_MS) >= 1);
    test_stub_hold(t.primary, "/oauth2/token", 0);
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 200 && strstr(test_req_text(r), "\"Manager\"") != NULL);
    CHECK(test_req_wait(r2, WAIT_MS) && test_req_status(r2) == 200 && strstr(test_req_text(r2), "\"Manager\"") != NULL);
    test_req_free(r);
    test_req_free(r2);
    /* found among the last few: the secondary's own client_credentials check may have come after it */
    char *sent = test_stub_find(t.primary, "/oauth2/token", "grant_type=refresh_token&refresh_token=rt-1");
    CHECK(sent != NULL);
    free(sent);

    /* refused by the primary (RFC 6749 §5.2): the session ends, and the request that waited is anonymous */
    test_secondary_session(&t, "r-user", "sid-r2", employee, -1, "rt-x", cookie);
    snprintf(header, sizeof(header), TEST_SECONDARY_SESSION_COOKIE "=%s", cookie);
    test_stub_answer(t.primary, "POST", "/oauth2/token", 400, "Content-Type: application/json\r\n",
                     "{\"error\":\"invalid_grant\"}");
    CHECK(status_of(&t, "GET", "/auth/me", header, NULL) == 401);
    CHECK(status_of(&t, "GET", "/auth/me", header, NULL) == 401);

    /* the primary hangs: the request waits its second, then goes on with the session as it was (availability first) */
    test_secondary_session(&t, "r-user", "sid-r3", employee, -1, "rt-y", cookie);
    snprintf(header, sizeof(header), TEST_SECONDARY_SESSION_COOKIE "=%s", cookie);
    test_stub_hold(t.primary, "/oauth2/token", 1);
    r = test_secondary_get(&t, "GET", "/auth/me", header, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && strstr(test_req_text(r), "\"Employee\"") != NULL);
    test_req_free(r);
    /* and while that refresh is still in flight, the next request does not wait for it again */
    r = test_req_new(&t.loop, "GET", "/auth/me");
    test_req_header(r, "cookie", header);
    CHECK(test_req_run(r, 200) == 1 && test_req_status(r) == 200);
    test_req_free(r);
    test_stub_hold(t.primary, "/oauth2/token", 0);
    test_loop_run(&t.loop, 200); /* the held answers come back to nobody */
    free(at);
    test_secondary_stop(&t);
}

int main(void)
{
    test_secondary_t t;

    test_secondary_start(&t, "fed-me", NULL);
    test_methods_and_paths(&t);
    test_anonymous(&t);
    test_bad_tokens(&t);
    test_identity_json(&t);
    test_session(&t);
    test_secondary_stop(&t);
    test_kid_wait_resumed();
    test_kid_wait_out_of_time();
    test_refresh_wait();
    return check_report("federation/me");
}
