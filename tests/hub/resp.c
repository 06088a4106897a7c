/* Tests hub/resp.c through routes of the loopback harness: JSON, text, HTML and redirects with their status, reason,
 * Content-Length and content type; the SPEC §8 page headers; no-store where promised; bodies and values copied (the
 * caller's buffer may change right after); HEAD without a body; HTML escaping of error pages whatever their size; every
 * OAuth error with its status, body and WWW-Authenticate challenge; formatted failures; cookies (HttpOnly, SameSite=Lax,
 * Secure, Path, Max-Age, a __Host- name); and the deferred flush of the responses one loop turn made. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hub/cookie.h"
#include "hub/log.h"
#include "hub/form.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "tests/check.h"
#include "tests/support/loopback.h"

#define WAIT_MS 2000
#define CSP                                                                                                                        \
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' http: https:; frame-ancestors "       \
    "'none'; base-uri 'none'"

static test_loop_t loop;
static char big[20000]; /* a long text some handlers send: '&' and '<' alternating */

/* The number after the route's prefix in the request's path ("/oauth/7" -> 7). */
static long arg_of(h2o_req_t *req)
{
    const char *slash = memchr(req->path_normalized.base + 1, '/', req->path_normalized.len - 1);
    return slash != NULL ? strtol(slash + 1, NULL, 10) : 0;
}

static void on_json(h2o_req_t *req)
{
    hub_send_json(req, arg_of(req) == 0 ? 201 : 200, json_pack("{s:s, s:i}", "a", "<b>\"", "n", 7), arg_of(req) == 0);
}

static void on_json_text(h2o_req_t *req)
{
    char text[] = "{\"k\":\"v\"}trailing";
    hub_send_json_text(req, 200, text, 9, 1);
    memset(text, 'X', sizeof(text) - 1); /* copied: the answer keeps what was sent */
}

static void on_html(h2o_req_t *req)
{
    char page[] = "<p>hello</p>";
    hub_send_html(req, 200, page, strlen(page));
    page[0] = 'X';
}

static void on_html_error(h2o_req_t *req)
{
    if (arg_of(req) == 0)
        hub_send_html_error(req, 403, "<T>&\"'", "<script>alert('x')</script> & \"more\"");
    else
        hub_send_html_error(req, 400, big, big);
}

static void on_text(h2o_req_t *req)
{
    hub_send_text(req, 503, "busy\n", 5);
}

static void on_redirect(h2o_req_t *req)
{
    char location[] = "https://app.example/cb?code=a&state=b";
    hub_send_redirect(req, (int)arg_of(req), location);
    location[0] = 'X';
}

static void on_oauth(h2o_req_t *req)
{
    long e = arg_of(req);
    hub_send_oauth_error(req, (hub_oauth_err_t)(e % 1000), e >= 1000 ? NULL : "why \"it\" failed\n<here>");
}

static void on_oauth_fail(h2o_req_t *req)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};
    CHECK(hub_oauth_failf(&req->pool, &fail, HUB_OAUTH_INVALID_GRANT, "code %s expired %d s ago: %s", "abc", 42, big) ==
          HUB_OAUTH_INVALID_GRANT);
    CHECK(fail.error == HUB_OAUTH_INVALID_GRANT && fail.description != NULL);
    hub_send_oauth_fail(req, &fail);
}

static void on_cookie(h2o_req_t *req)
{
    char name[HUB_COOKIE_NAME_MAX], value[] = "v4lue";
    switch (arg_of(req)) {
    case 0:
        hub_set_cookie(req, "hub_n_session", value, -1, 0);
        break;
    case 1:
        hub_set_cookie(req, "hub_n_session", value, 3600, 1);
        hub_set_cookie(req, "hub_n_csrf", "c", 0, 1); /* a second cookie: a second header */
        break;
    case 2:
        hub_set_cookie_at(req, "hub_n_pending", value, "/auth/", LONG_MAX, 0);
        break;
    case 3:
        hub_set_cookie(req, "hub_n_big", big, 60, 0);
        break;
    default:
        CHECK(hub_cookie_name(name, sizeof(name), "n", "session", 1) == 0);
        hub_set_cookie(req, name, value, 0, 1);
        break;
    }
    char xname[] = "x-test"; /* not one of h2o's tokens */
    hub_resp_header(req, xname, value);
    value[0] = 'X'; /* the cookie's value and the header's name and value were copied */
    memcpy(xname, "x-gone", 6);
    hub_send_text(req, 200, "ok", 2);
}

static void on_method(h2o_req_t *req)
{
    char reply[8] = {'0' + hub_method_is(req, "GET"), '0' + hub_method_is(req, "POST"), '0' + hub_method_is(req, "GE"),
                     '0' + hub_method_is(req, "GETX"), '0' + hub_method_is(req, "get")};
    hub_send_text(req, 200, reply, 5);
}

static const struct st_handler_t {
    const char *prefix;
    void (*fn)(h2o_req_t *req);
} handlers[] = {{"/json", on_json},     {"/jsontext", on_json_text}, {"/html", on_html},   {"/htmlerror", on_html_error},
                {"/text", on_text},     {"/redirect", on_redirect},  {"/oauth", on_oauth}, {"/oauthfail", on_oauth_fail},
                {"/cookie", on_cookie}, {"/method", on_method}};

static int on_req(void *data, h2o_req_t *req)
{
    ((const struct st_handler_t *)data)->fn(req);
    return 0;
}

static test_req_t *run(const char *method, const char *path)
{
    test_req_t *r = test_req_new(&loop, method, path);
    CHECK(test_req_run(r, WAIT_MS));
    return r;
}

static const char *header(test_req_t *r, const char *name)
{
    return test_req_resp_header(r, name, 0) ?: "";
}

/* Status, reason, content type, and a Content-Length that is the body's (for GET: the HEAD request's is the same). */
static void check_answer(test_req_t *r, int status, const char *reason, const char *ctype)
{
    h2o_req_t *req = test_req_h2o(r);
    CHECK(test_req_status(r) == status && req->res.reason != NULL && strcmp(req->res.reason, reason) == 0);
    CHECK(ctype == NULL ? test_req_resp_header(r, "content-type", 0) == NULL : strcmp(header(r, "content-type"), ctype) == 0);
    CHECK(test_req_resp_header(r, "content-type", 1) == NULL);
    if (strcmp(req->input.method.base, "HEAD") != 0)
        CHECK(req->res.content_length == test_req_len(r));
    else
        CHECK(test_req_len(r) == 0 && req->res.content_length != SIZE_MAX);
}

static int no_store(test_req_t *r)
{
    return strcmp(header(r, "cache-control"), "no-store") == 0 && strcmp(header(r, "pragma"), "no-cache") == 0;
}

static int page_headers(test_req_t *r)
{
    return strcmp(header(r, "content-security-policy"), CSP) == 0 && strcmp(header(r, "x-frame-options"), "DENY") == 0 &&
           strcmp(header(r, "referrer-policy"), "no-referrer") == 0 && strcmp(header(r, "x-content-type-options"), "nosniff") == 0;
}

static void test_bodies(void)
{
    static const char *const methods[] = {"GET", "HEAD", "POST"};
    for (size_t m = 0; m != 3; ++m) {
        int head = m == 1;
        test_req_t *r = run(methods[m], "/json/0");
        check_answer(r, 201, "Created", "application/json");
        CHECK(no_store(r) && (head || strcmp(test_req_text(r), "{\"a\":\"<b>\\\"\",\"n\":7}") == 0));
        CHECK(test_req_resp_header(r, "content-security-policy", 0) == NULL);
        test_req_free(r);
        r = run(methods[m], "/json/1"); /* without no_store: nothing says how to cache */
        check_answer(r, 200, "OK", "application/json");
        CHECK(test_req_resp_header(r, "cache-control", 0) == NULL && test_req_resp_header(r, "pragma", 0) == NULL);
        test_req_free(r);
        r = run(methods[m], "/jsontext");
        check_answer(r, 200, "OK", "application/json");
        CHECK(no_store(r) && (head || strcmp(test_req_text(r), "{\"k\":\"v\"}") == 0));
        test_req_free(r);
        r = run(methods[m], "/html");
        check_answer(r, 200, "OK", "text/html; charset=utf-8");
        CHECK(page_headers(r) && no_store(r) && (head || strcmp(test_req_text(r), "<p>hello</p>") == 0));
        test_req_free(r);
        r = run(methods[m], "/text");
        check_answer(r, 503, "Service Unavailable", "text/plain; charset=utf-8");
        CHECK(head || strcmp(test_req_text(r), "busy\n") == 0);
        CHECK(test_req_resp_header(r, "content-security-policy", 0) == NULL);
        test_req_free(r);
    }
}

static void test_html_errors(void)
{
    test_req_t *r = run("GET", "/htmlerror/0");
    const char *page = test_req_text(r);
    check_answer(r, 403, "Forbidden", "text/html; charset=utf-8");
    CHECK(page_headers(r) && no_store(r));
    CHECK(strstr(page, "<title>&lt;T&gt;&amp;&quot;&#39;</title>") != NULL &&
          strstr(page, "<h1>&lt;T&gt;&amp;&quot;&#39;</h1>") != NULL);
    CHECK(strstr(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;") != NULL);
    CHECK(strstr(page, "<script") == NULL && strstr(page, "<T>") == NULL);
    CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0 && strcmp(page + test_req_len(r) - 8, "</html>\n") == 0);
    test_req_free(r);
    /* escaping that grows the text five-fold, in the title (twice) and the message: nothing cut */
    r = run("GET", "/htmlerror/1");
    page = test_req_text(r);
    check_answer(r, 400, "Bad Request", "text/html; charset=utf-8");
    size_t escaped = 0;
    for (size_t i = 0; big[i] != '\0'; ++i)
        escaped += big[i] == '&' ? 5 : 4;
    CHECK(test_req_len(r) > 3 * escaped && test_req_len(r) < 3 * escaped + 512);
    CHECK(strcmp(page + test_req_len(r) - 8, "</html>\n") == 0);
    CHECK(strchr(page + 200, '<') == strstr(page, "</title>"));
    test_req_free(r);
}

static void test_redirects(void)
{
    static const struct {
        int status;
        const char *reason;
    } cases[] = {{302, "Found"}, {303, "See Other"}, {308, "Permanent Redirect"}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        for (int head = 0; head != 2; ++head) {
            char path[32];
            snprintf(path, sizeof(path), "/redirect/%d", cases[i].status);
            test_req_t *r = run(head ? "HEAD" : "GET", path);
            check_answer(r, cases[i].status, cases[i].reason, NULL);
            CHECK(strcmp(header(r, "location"), "https://app.example/cb?code=a&state=b") == 0 && no_store(r));
            CHECK(test_req_len(r) == 0 && test_req_h2o(r)->res.content_length == 0);
            test_req_free(r);
        }
    }
}

/* The JSON body's "error" and "error_description" ("" / NULL when absent). */
static void body_of(test_req_t *r, char *error, size_t size, char *desc, size_t dsize, int *has_desc)
{
    json_t *doc = json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
    snprintf(error, size, "%s", json_string_value(json_object_get(doc, "error")) ?: "");
    *has_desc = json_object_get(doc, "error_description") != NULL;
    snprintf(desc, dsize, "%s", json_string_value(json_object_get(doc, "error_description")) ?: "");
    CHECK(doc != NULL && json_object_size(doc) == 2u - !*has_desc);
    json_decref(doc);
}

static void test_oauth_errors(void)
{
    for (int e = 0; e <= HUB_OAUTH__COUNT + 1; ++e) {
        for (int with_desc = 0; with_desc != 2; ++with_desc) {
            char path[32], error[64], desc[128];
            int has_desc, in_enum = e > HUB_OAUTH_OK && e < HUB_OAUTH__COUNT;
            hub_oauth_err_t sent = in_enum ? (hub_oauth_err_t)e : HUB_OAUTH_SERVER_ERROR; /* OK and strays: server_error */
            snprintf(path, sizeof(path), "/oauth/%d", e + (with_desc ? 0 : 1000));
            test_req_t *r = run("GET", path);
            check_answer(r, hub_oauth_status(sent), test_req_h2o(r)->res.reason, "application/json");
            CHECK(test_req_status(r) >= 400 && strcmp(test_req_h2o(r)->res.reason, "Status") != 0 && no_store(r));
            body_of(r, error, sizeof(error), desc, sizeof(desc), &has_desc);
            CHECK(strcmp(error, hub_oauth_error(sent)) == 0 && has_desc == with_desc);
            CHECK(!with_desc || strcmp(desc, "why \"it\" failed\n<here>") == 0);
            const char *challenge = test_req_resp_header(r, "www-authenticate", 0);
            switch (sent) {
            case HUB_OAUTH_INVALID_CLIENT:
                CHECK(challenge != NULL && strcmp(challenge, "Basic realm=\"hub\"") == 0);
                break;
            case HUB_OAUTH_TOKEN_MISSING:
                CHECK(challenge != NULL && strcmp(challenge, "Bearer realm=\"hub\"") == 0 && test_req_status(r) == 401);
                break;
            case HUB_OAUTH_INVALID_TOKEN:
                CHECK(challenge != NULL && strcmp(challenge, "Bearer realm=\"hub\", error=\"invalid_token\"") == 0);
                break;
            case HUB_OAUTH_INSUFFICIENT_SCOPE:
                CHECK(challenge != NULL && strcmp(challenge, "Bearer realm=\"hub\", error=\"insufficient_scope\"") == 0);
                break;
            default:
                CHECK(challenge == NULL);
            }
            CHECK(test_req_resp_header(r, "www-authenticate", 1) == NULL);
            test_req_free(r);
        }
    }
    /* a formatted failure, of any length */
    test_req_t *r = run("POST", "/oauthfail");
    char error[64];
    json_t *doc = json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
    const char *desc = json_string_value(json_object_get(doc, "error_description"));
    snprintf(error, sizeof(error), "%s", json_string_value(json_object_get(doc, "error")) ?: "");
    CHECK(test_req_status(r) == 400 && strcmp(error, "invalid_grant") == 0 && desc != NULL);
    CHECK(desc != NULL && strncmp(desc, "code abc expired 42 s ago: &<&<", 31) == 0 && strlen(desc) == 27 + sizeof(big) - 1);
    json_decref(doc);
    test_req_free(r);
}

static void test_cookies(void)
{
    static const struct {
        const char *path, *first, *second;
    } cases[] = {
        {"/cookie/0", "hub_n_session=v4lue; Path=/; HttpOnly; SameSite=Lax", NULL},
        {"/cookie/1", "hub_n_session=v4lue; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=3600",
         "hub_n_csrf=c; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0"},
        {"/cookie/2", "hub_n_pending=v4lue; Path=/auth/; HttpOnly; SameSite=Lax; Max-Age=9223372036854775807", NULL},
        {"/cookie/4", "__Host-hub_n_session=v4lue; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0", NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        test_req_t *r = run("GET", cases[i].path);
        CHECK(test_req_status(r) == 200 && strcmp(header(r, "set-cookie"), cases[i].first) == 0);
        CHECK(cases[i].second == NULL ? test_req_resp_header(r, "set-cookie", 1) == NULL
                                      : strcmp(header(r, "set-cookie"), cases[i].first) == 0 &&
                                            strcmp(test_req_resp_header(r, "set-cookie", 1) ?: "", cases[i].second) == 0);
        CHECK(test_req_resp_header(r, "set-cookie", 2) == NULL);
        CHECK(strcmp(header(r, "x-test"), "v4lue") == 0 && test_req_resp_header(r, "x-gone", 0) == NULL);
        /* a __Host- cookie as browsers take it: Secure, Path=/, no Domain */
        const char *line = header(r, "set-cookie");
        if (strncmp(line, "__Host-", 7) == 0)
            CHECK(strstr(line, "; Secure") != NULL && strstr(line, "; Path=/;") != NULL && strstr(line, "Domain") == NULL);
        test_req_free(r);
    }
    test_req_t *r = run("GET", "/cookie/3"); /* a value of any length, whole */
    const char *attrs = NULL, *value = test_req_set_cookie(r, "hub_n_big", &attrs);
    CHECK(value != NULL && strlen(value) == sizeof(big) - 1 && memcmp(value, big, sizeof(big) - 1) == 0);
    static const char tail[] = "; Path=/; HttpOnly; SameSite=Lax; Max-Age=60";
    CHECK(attrs != NULL && strlen(attrs) == strlen("hub_n_big=") + strlen(value) + strlen(tail) &&
          strcmp(attrs + strlen(attrs) - strlen(tail), tail) == 0);
    test_req_free(r);
}

static void test_method_is(void)
{
    static const struct {
        const char *method, *expect; /* "GET", "POST", "GE", "GETX", "get" */
    } cases[] = {{"GET", "10000"}, {"POST", "01000"}, {"HEAD", "00000"}, {"GETX", "00010"}, {"get", "00001"}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        test_req_t *r = run(cases[i].method, "/method");
        CHECK(strcmp(cases[i].method, "HEAD") == 0 ? test_req_status(r) == 200 : strcmp(test_req_text(r), cases[i].expect) == 0);
        test_req_free(r);
    }
}

/* A request started now; its response is made but, deferred, not yet sent. */
static test_req_t *start(const char *path)
{
    test_req_t *r = test_req_new(&loop, "GET", path);
    CHECK(test_req_run(r, 0) == 0 && test_req_status(r) != 0 && test_req_len(r) == 0);
    return r;
}

static void test_deferred(void)
{
    h2o_linklist_t anchor;

    hub_resp_flush(); /* nothing deferred, no list: nothing happens */
    hub_resp_defer_begin(&anchor);
    hub_resp_flush(); /* an empty list */
    test_req_t *json = start("/json/0"), *gone = start("/html"), *text = start("/text");
    test_req_free(gone); /* the client went away before the turn ended: its response leaves the list */
    CHECK(!test_req_done(json) && !test_req_done(text));
    hub_resp_flush(); /* the end of the turn */
    CHECK(test_req_done(json) && strcmp(test_req_text(json), "{\"a\":\"<b>\\\"\",\"n\":7}") == 0);
    CHECK(test_req_done(text) && strcmp(test_req_text(text), "busy\n") == 0);
    test_req_free(json);
    test_req_free(text);
    test_req_t *next = start("/redirect/303"), *head = test_req_new(&loop, "HEAD", "/json/0");
    CHECK(test_req_run(head, 0) == 0);
    hub_resp_defer_end(); /* flushes what waits, and stops deferring */
    CHECK(test_req_done(next) && test_req_status(next) == 303 && test_req_len(next) == 0);
    CHECK(test_req_done(head) && test_req_status(head) == 201 && test_req_len(head) == 0);
    test_req_free(next);
    test_req_free(head);
    test_req_t *now = test_req_new(&loop, "GET", "/text"); /* after the end: sent at once */
    CHECK(test_req_run(now, 0) == 1 && strcmp(test_req_text(now), "busy\n") == 0);
    test_req_free(now);
}

int main(void)
{
    hub_config_t cfg;
    hub_server_t *server = NULL;

    for (size_t i = 0; i + 1 < sizeof(big); ++i)
        big[i] = i % 2 == 0 ? '&' : '<';
    hub_log_init(HUB_LOG_WARN, "resp");
    hub_config_defaults(&cfg);
    if (hub_server_create(&server, &cfg, NULL, NULL) != 0)
        return 1;
    for (size_t i = 0; i != sizeof(handlers) / sizeof(handlers[0]); ++i) {
        hub_route_t route = {handlers[i].prefix, NULL, HUB_METHODS_ANY, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL};
        hub_server_add_route(server, &route, on_req, (void *)&handlers[i], NULL);
    }
    test_loop_init(&loop, server, NULL);
    test_bodies();
    test_html_errors();
    test_redirects();
    test_oauth_errors();
    test_cookies();
    test_method_is();
    test_deferred();
    test_loop_dispose(&loop);
    hub_server_destroy(server);
    hub_config_dispose(&cfg);
    return check_report("hub/resp");
}
