/* Tests federation/fed_logout.c in process: /auth/logout signs out only with the session's own form token (a GET, a
 * POST without a token, a wrong, doubled, empty or other session's token change nothing), then ends the session and
 * sends the browser to the primary; /auth/signed-out and "/"; /auth/backchannel-logout with bad forms and bad logout
 * tokens (nothing ended) and good ones (the sid's sessions ended, or the sub's), including one signed by a key the
 * node fetches while the request is parked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "tests/check.h"
#include "tests/support/secondary.h"

#define WAIT_MS 5000
#define BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"
static const char *const employee[] = {"Employee", NULL};

static test_req_t *post_form(test_secondary_t *t, const char *path, const char *cookie, const char *ctype, const char *body)
{
    test_req_t *r = test_req_new(&t->loop, "POST", path);
    if (cookie != NULL)
        test_req_header(r, "cookie", cookie);
    if (body != NULL)
        test_req_body(r, ctype, body);
    test_req_run(r, WAIT_MS);
    return r;
}

/* "hub_fedtest_session=<cookie>" in buf. */
static const char *cookie_header(char *buf, size_t size, const char *cookie)
{
    snprintf(buf, size, TEST_SECONDARY_SESSION_COOKIE "=%s", cookie);
    return buf;
}

/* Whether the session of a Cookie header value still answers /auth/me. */
static int alive(test_secondary_t *t, const char *header)
{
    test_req_t *r = test_secondary_get(t, "GET", "/auth/me", header, NULL);
    int ok = test_req_done(r) && test_req_status(r) == 200;
    test_req_free(r);
    return ok;
}

/* The csrf_token of the confirmation page a GET shows to this cookie, in out. */
static int form_token(test_secondary_t *t, const char *header, char *out, size_t size)
{
    test_req_t *r = test_secondary_get(t, "GET", "/auth/logout", header, NULL);
    const char *p = strstr(test_req_text(r), "name=\"csrf_token\" value=\"");
    int ok = test_req_done(r) && test_req_status(r) == 200 && p != NULL;

    if (ok) {
        p += strlen("name=\"csrf_token\" value=\"");
        snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
    }
    test_req_free(r);
    return ok;
}

static void test_confirmation(test_secondary_t *t)
{
    char cookie[FED_SESSION_COOKIE_LEN + 1], other[FED_SESSION_COOKIE_LEN + 1], h[128], ho[128], tok[128], tok_o[128],
        tok_none[128], body[512];
    static const char *const refused[] = {"PUT", "DELETE", "PATCH"};
    size_t i;

    test_secondary_session(t, "lo-user", "sid-lo", employee, 600, NULL, cookie);
    test_secondary_session(t, "lo-user", "sid-lo2", employee, 600, NULL, other);
    cookie_header(h, sizeof(h), cookie);
    cookie_header(ho, sizeof(ho), other);
    /* GET only shows the form: a link or an image elsewhere cannot sign anyone out */
    test_req_t *r = test_secondary_get(t, "GET", "/auth/logout", h, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && strstr(test_req_text(r), "<form method=\"post\"") != NULL);
    CHECK(strstr(test_req_resp_header(r, "content-security-policy", 0) ?: "", "frame-ancestors 'none'") != NULL);
    CHECK(strcmp(test_req_resp_header(r, "x-frame-options", 0) ?: "", "DENY") == 0);
    CHECK(test_req_set_cookie(r, TEST_SECONDARY_SESSION_COOKIE, NULL) == NULL);
    test_req_free(r);
    CHECK(alive(t, h));
    r = test_secondary_get(t, "HEAD", "/auth/logout", h, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && test_req_len(r) == 0);
    test_req_free(r);
    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        r = test_secondary_get(t, refused[i], "/auth/logout", h, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD, POST") == 0);
        CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0); /* a page's 405 is a page */
        test_req_free(r);
    }
    CHECK(form_token(t, h, tok, sizeof(tok)) && form_token(t, ho, tok_o, sizeof(tok_o)) &&
          form_token(t, NULL, tok_none, sizeof(tok_none)));
    CHECK(strcmp(tok, tok_o) != 0 && strcmp(tok, tok_none) != 0); /* bound to the session */

    /* a POST without a token (an app's plain "Sign out" button): the form again, nothing ended */
    static const char *const no_token[][2] = {{NULL, NULL},
                                              {"application/x-www-form-urlencoded", ""},
                                              {"application/x-www-form-urlencoded", "other=1"},
                                              {"text/plain", "csrf_token=x"},
                                              {"application/json", "{\"csrf_token\":\"x\"}"}};
    for (i = 0; i != sizeof(no_token) / sizeof(no_token[0]); ++i) {
        r = post_form(t, "/auth/logout", h, no_token[i][0], no_token[i][1]);
        CHECK(test_req_done(r) && test_req_status(r) == 200 && strstr(test_req_text(r), "csrf_token") != NULL);
        test_req_free(r);
    }
    /* a token that is not this session's: 403, nothing ended */
    char doubled[300], percent[300];
    snprintf(doubled, sizeof(doubled), "csrf_token=%s&csrf_token=%s", tok, tok);
    snprintf(percent, sizeof(percent), "csrf_token=%s%%00", tok);
    snprintf(body, sizeof(body), "csrf_token=%s", tok_o);
    const char *const wrong[] = {body, doubled, "csrf_token=", "csrf_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                 "csrf_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (i = 0; i != sizeof(wrong) / sizeof(wrong[0]); ++i) {
        r = post_form(t, "/auth/logout", h, "application/x-www-form-urlencoded", wrong[i]);
        CHECK(test_req_done(r) && test_req_status(r) == 403);
        CHECK(test_req_set_cookie(r, TEST_SECONDARY_SESSION_COOKIE, NULL) == NULL);
        test_req_free(r);
    }
    /* the right token with a NUL after it: the form does not parse, so it is a POST without a token (the form again) */
    r = post_form(t, "/auth/logout", h, "application/x-www-form-urlencoded", percent);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && strstr(test_req_text(r), "csrf_token") != NULL);
    CHECK(test_req_set_cookie(r, TEST_SECONDARY_SESSION_COOKIE, NULL) == NULL);
    test_req_free(r);
    snprintf(body, sizeof(body), "csrf_token=%s", tok_none); /* the no-session token does not end a session */
    r = post_form(t, "/auth/logout", h, "application/x-www-form-urlencoded", body);
    CHECK(test_req_done(r) && test_req_status(r) == 403);
    test_req_free(r);
    CHECK(alive(t, h) && alive(t, ho));

    /* the session's own token: ended here, cookie deleted, on to the primary's logout */
    const char *attrs = NULL;
    snprintf(body, sizeof(body), "csrf_token=%s", tok);
    r = post_form(t, "/auth/logout", h, "application/x-www-form-urlencoded; charset=UTF-8", body);
    CHECK(test_req_done(r) && test_req_status(r) == 303);
    CHECK(strncmp(test_req_resp_header(r, "location", 0) ?: "", test_stub_url(t->primary), strlen(test_stub_url(t->primary))) == 0);
    CHECK(strstr(test_req_resp_header(r, "location", 0) ?: "", "/oauth2/logout?client_id=" TEST_SECONDARY_CLIENT) != NULL);
    CHECK(test_req_set_cookie(r, TEST_SECONDARY_SESSION_COOKIE, &attrs) != NULL && strstr(attrs, "Max-Age=0") != NULL);
    test_req_free(r);
    CHECK(!alive(t, h) && alive(t, ho)); /* only that session */
}

static void test_landings(test_secondary_t *t)
{
    /* the landing is a page (its 404 and 405 are pages too); "/" answers every path no route takes, as the server's
     * 404 does (OAuth JSON) */
    static const struct {
        const char *method, *path;
        int status;
        const char *ctype;
    } cases[] = {{"GET", "/auth/signed-out", 200, "text/html"},
                 {"HEAD", "/auth/signed-out", 200, "text/html"},
                 {"POST", "/auth/signed-out", 405, "text/html"},
                 {"PUT", "/auth/signed-out", 405, "text/html"},
                 {"GET", "/", 200, "text/html"},
                 {"POST", "/", 405, "application/json"},
                 {"DELETE", "/", 405, "application/json"},
                 {"GET", "/x", 404, "application/json"},
                 {"POST", "/x", 404, "application/json"},
                 {"GET", "/auth/signed-out/x", 404, "text/html"},
                 {"GET", "/auth/signed-out/", 404, "text/html"},
                 {"GET", "/index.html", 404, "application/json"}};
    size_t i;

    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        test_req_t *r = test_secondary_get(t, cases[i].method, cases[i].path, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == cases[i].status);
        CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", cases[i].ctype, strlen(cases[i].ctype)) == 0);
        if (cases[i].status == 405)
            CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD") == 0);
        if (cases[i].status == 200 && strcmp(cases[i].method, "GET") == 0)
            CHECK(strstr(test_req_text(r), "href=\"/auth/login\"") != NULL);
        test_req_free(r);
    }
}

/* The claims of a logout token for this node; sid and sub may be NULL. */
static json_t *logout_claims(test_secondary_t *t, const char *sub, const char *sid)
{
    json_t *c = json_pack("{s:s,s:s,s:I,s:s,s:{s:{}}}", "iss", test_stub_url(t->primary), "aud", TEST_SECONDARY_CLIENT, "iat",
                          (json_int_t)hub_now(), "jti", "lt-1", "events", BCL_EVENT);
    if (sub != NULL)
        json_object_set_new(c, "sub", json_string(sub));
    if (sid != NULL)
        json_object_set_new(c, "sid", json_string(sid));
    return c;
}

static int bcl(test_secondary_t *t, const char *body)
{
    test_req_t *r = post_form(t, "/auth/backchannel-logout", NULL, "application/x-www-form-urlencoded", body);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    if (status == 400 && strstr(test_req_text(r), "\"invalid_request\"") == NULL)
        status = -400; /* a 400 that is not the OAuth error */
    test_req_free(r);
    return status;
}

static char *form_of(const char *token)
{
    size_t size = strlen(token) + 32;
    char *body = malloc(size);
    snprintf(body, size, "logout_token=%s", token);
    return body;
}

static void test_backchannel(test_secondary_t *t)
{
    char a[FED_SESSION_COOKIE_LEN + 1], b[FED_SESSION_COOKIE_LEN + 1], c[FED_SESSION_COOKIE_LEN + 1], ha[128], hb[128], hc[128];
    size_t i;

    test_secondary_session(t, "bc-user", "sid-a", employee, 600, NULL, a);
    test_secondary_session(t, "bc-user", "sid-b", employee, 600, NULL, b);
    test_secondary_session(t, "bc-other", "sid-c", employee, 600, NULL, c);
    cookie_header(ha, sizeof(ha), a), cookie_header(hb, sizeof(hb), b), cookie_header(hc, sizeof(hc), c);

    test_req_t *r = test_secondary_get(t, "GET", "/auth/backchannel-logout", NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "POST") == 0);
    test_req_free(r);
    /* the primary's call: OAuth errors, the 404 of a path under it too */
    r = test_secondary_get(t, "PUT", "/auth/backchannel-logout", NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 405 && strstr(test_req_text(r), "\"invalid_request\"") != NULL);
    test_req_free(r);
    r = post_form(t, "/auth/backchannel-logout/x", NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 404 && strstr(test_req_text(r), "\"not_found\"") != NULL);
    test_req_free(r);
    /* bad forms */
    r = post_form(t, "/auth/backchannel-logout", NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 400);
    test_req_free(r);
    r = post_form(t, "/auth/backchannel-logout", NULL, "application/json", "{\"logout_token\":\"x\"}");
    CHECK(test_req_done(r) && test_req_status(r) == 400);
    test_req_free(r);
    char *good = test_secondary_sign(t->key, NULL, logout_claims(t, "bc-user", "sid-a"));
    size_t two_size = 2 * strlen(good) + 64;
    char *two = malloc(two_size);
    snprintf(two, two_size, "logout_token=%s&logout_token=%s", good, good);
    const char *const forms[] = {"", "token=x", "logout_token=", "logout_token=a.b.c", two, "logout_token=%ZZ", NULL};
    for (i = 0; forms[i] != NULL; ++i)
        CHECK(bcl(t, forms[i]) == 400);

    /* bad tokens: an access token, another audience, a nonce, no event, neither sid nor sub, stale */
    json_t *bad[6];
    bad[0] = test_secondary_at_claims(t, "bc-user", employee, 600, NULL, NULL);
    bad[1] = logout_claims(t, "bc-user", "sid-a"), json_object_set_new(bad[1], "aud", json_string("other-node"));
    bad[2] = logout_claims(t, "bc-user", "sid-a"), json_object_set_new(bad[2], "nonce", json_string("n"));
    bad[3] = logout_claims(t, "bc-user", "sid-a"), json_object_del(bad[3], "events");
    bad[4] = logout_claims(t, NULL, NULL);
    bad[5] = logout_claims(t, "bc-user", "sid-a"), json_object_set_new(bad[5], "iat", json_integer((json_int_t)hub_now() - 86400));
    for (i = 0; i != 6; ++i) {
        char *tok = test_secondary_sign(t->key, i == 0 ? "at+jwt" : NULL, bad[i]), *body = form_of(tok);
        CHECK(bcl(t, body) == 400);
        free(body);
        free(tok);
    }
    CHECK(alive(t, ha) && alive(t, hb) && alive(t, hc));

    /* by sid: that session only */
    char *body = form_of(good);
    CHECK(bcl(t, body) == 200);
    CHECK(!alive(t, ha) && alive(t, hb) && alive(t, hc));
    CHECK(bcl(t, body) == 200); /* again: nothing left to end, the same answer */
    free(body);
    /* by sub: every session of the user */
    char *by_sub = test_secondary_sign(t->key, NULL, logout_claims(t, "bc-other", NULL));
    body = form_of(by_sub);
    CHECK(bcl(t, body) == 200);
    CHECK(alive(t, hb) && !alive(t, hc));
    free(body);
    free(by_sub);
    free(good);
    free(two);
}

/* A logout token signed by a key the node has not fetched: parked, resumed after the JWKS round brings the key. */
static void test_backchannel_new_key(void)
{
    test_secondary_t t;
    char cookie[FED_SESSION_COOKIE_LEN + 1], h[128];

    test_secondary_start(&t, "fed-logout-kid", NULL);
    test_secondary_session(&t, "k-user", "sid-k", employee, 600, NULL, cookie);
    cookie_header(h, sizeof(h), cookie);
    char *tok = test_secondary_sign(t.new_key, NULL, logout_claims(&t, "k-user", "sid-k")), *body = form_of(tok);
    test_stub_hold(t.primary, "/oauth2/jwks", 1);
    test_req_t *r = test_req_new(&t.loop, "POST", "/auth/backchannel-logout");
    test_req_body(r, "application/x-www-form-urlencoded", body);
    CHECK(test_req_run(r, 300) == 0); /* parked for the round */
    CHECK(alive(&t, h));
    test_secondary_publish(&t, 1);
    test_stub_hold(t.primary, "/oauth2/jwks", 0);
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 200);
    test_req_free(r);
    CHECK(!alive(&t, h));
    free(body);
    free(tok);
    test_secondary_stop(&t);
}

int main(void)
{
    test_secondary_t t;

    test_secondary_start(&t, "fed-logout", NULL);
    test_confirmation(&t);
    test_landings(&t);
    test_backchannel(&t);
    test_secondary_stop(&t);
    test_backchannel_new_key();
    return check_report("federation/logout");
}
