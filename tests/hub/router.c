/* Tests the router (hub/route.c, hub/cors.c and the registration in hub/server.c) in process: a route's methods and
 * the Allow of its 405, HEAD, exact and prefix paths, aliases, the 404 and 405 of each error style, a handler asking
 * for a 404, OPTIONS preflights with a hook that decides on origins and for public documents, every method passed to a
 * proxy-like route, the gate before the router, the server's own routes, and each route's dispose hook run once when the
 * server is destroyed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "tests/check.h"
#include "tests/support/loopback.h"

#define WAIT_MS 2000
#define APP_ORIGIN "https://app.example"
#define LATER_ORIGIN "https://later.example"

/* What a route's handler and hooks saw. */
typedef struct st_seen_t {
    unsigned calls;    /* the handler ran */
    unsigned asked;    /* the CORS hook was asked */
    char origin[128];  /* the origin it was asked about last */
    unsigned disposed; /* the dispose hook ran */
} seen_t;

static seen_t thing, page, files, html_files, cors, public_doc, any;
static test_loop_t loop;

/* Answers 200 "ok"; under a prefix route, a path ending in "/missing" is not there (the router's 404). */
static int on_req(void *data, h2o_req_t *req)
{
    seen_t *s = data;
    ++s->calls;
    if (req->path_normalized.len >= 8 && memcmp(req->path_normalized.base + req->path_normalized.len - 8, "/missing", 8) == 0)
        return -1;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = 2;
    hub_send_inline(req, "ok", 2);
    return 0;
}

static void on_dispose(void *data)
{
    ++((seen_t *)data)->disposed;
}

/* Decides at once: APP_ORIGIN is allowed; LATER_ORIGIN is decided later, by the test (as a hook reading the store). */
static struct {
    hub_cors_decided_fn decided;
    void *ctx;
    h2o_req_t *req;
} later;

static void origin_check(void *data, h2o_req_t *req, const char *origin, hub_cors_decided_fn decided, void *ctx)
{
    seen_t *s = data;
    ++s->asked;
    snprintf(s->origin, sizeof(s->origin), "%s", origin);
    if (strcmp(origin, LATER_ORIGIN) == 0) {
        later.decided = decided;
        later.ctx = ctx;
        later.req = req;
        return;
    }
    decided(ctx, req, strcmp(origin, APP_ORIGIN) == 0);
}

static const hub_cors_t clients_cors = {0, origin_check};
static const hub_cors_t public_cors = {1, NULL};

static const hub_route_t routes[] = {
    {"/api/thing", "/api/method/frappe.thing", HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL},
    {"/page", NULL, HUB_GET | HUB_HEAD | HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL},
    {"/files/", NULL, HUB_GET, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL},
    {"/html-files", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_PREFIX, HUB_STYLE_HTML, NULL},
    {"/cors", NULL, HUB_GET | HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, &clients_cors},
    {"/public", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, &public_cors},
    {"/any/", NULL, HUB_METHODS_ANY, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL},
};
static seen_t *const seen_of[] = {&thing, &page, &files, &html_files, &cors, &public_doc, &any};

/* One request: method path with up to two extra headers (name, value pairs; NULL ends). Returns it done. */
static test_req_t *run(const char *method, const char *path, const char *h1, const char *v1, const char *h2, const char *v2)
{
    test_req_t *r = test_req_new(&loop, method, path);
    if (h1 != NULL)
        test_req_header(r, h1, v1);
    if (h2 != NULL)
        test_req_header(r, h2, v2);
    CHECK(test_req_run(r, WAIT_MS));
    return r;
}

static const char *header(test_req_t *r, const char *name)
{
    return test_req_resp_header(r, name, 0) ?: "";
}

/* The "error" of a JSON answer ("" when it is none). */
static const char *error_of(test_req_t *r)
{
    static char err[64];
    json_t *doc = json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
    snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(doc, "error")) ?: "");
    json_decref(doc);
    return err;
}

static int is_html(test_req_t *r)
{
    return strncmp(header(r, "content-type"), "text/html", 9) == 0 && *header(r, "content-security-policy") != '\0';
}

/* A refusal the router made: status, Allow, the style's body, and the handler of s never ran. */
static void check_refused(test_req_t *r, int status, const char *allow, int html, const char *method, seen_t *s, unsigned calls)
{
    CHECK(test_req_status(r) == status);
    CHECK(allow == NULL ? test_req_resp_header(r, "allow", 0) == NULL : strcmp(header(r, "allow"), allow) == 0);
    if (strcmp(method, "HEAD") == 0)
        CHECK(test_req_len(r) == 0);
    else if (html)
        CHECK(is_html(r) && strstr(test_req_text(r), "<html") != NULL);
    else
        CHECK(strcmp(header(r, "content-type"), "application/json") == 0 &&
              strcmp(error_of(r), status == 404 ? "not_found" : "invalid_request") == 0);
    CHECK(s->calls == calls);
}

static void test_methods(void)
{
    static const char *const others[] = {"GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW", "post", "POSTX", "GE"};
    for (size_t i = 0; i != sizeof(others) / sizeof(others[0]); ++i) {
        unsigned calls = thing.calls;
        test_req_t *r = run(others[i], "/api/thing", NULL, NULL, NULL, NULL);
        check_refused(r, 405, "POST", 0, others[i], &thing, calls);
        test_req_free(r);
        /* the HTML style: the same refusal as a page */
        if (strcmp(others[i], "GET") != 0 && strcmp(others[i], "HEAD") != 0) {
            calls = page.calls;
            r = run(others[i], "/page", NULL, NULL, NULL, NULL);
            check_refused(r, 405, "GET, HEAD, POST", 1, others[i], &page, calls);
            test_req_free(r);
        }
    }
    /* the methods a route takes reach its handler, HEAD with the status and headers of GET and no body */
    static const char *const taken[] = {"GET", "HEAD", "POST"};
    for (size_t i = 0; i != 3; ++i) {
        unsigned calls = page.calls;
        test_req_t *r = run(taken[i], "/page?x=1", NULL, NULL, NULL, NULL);
        CHECK(test_req_status(r) == 200 && page.calls == calls + 1);
        CHECK(test_req_len(r) == (strcmp(taken[i], "HEAD") == 0 ? 0 : 2));
        test_req_free(r);
    }
    test_req_t *r = run("POST", "/api/thing", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 200 && strcmp(test_req_text(r), "ok") == 0);
    test_req_free(r);
    /* a proxy-like route takes every method, named or not */
    static const char *const every[] = {"GET", "PUT", "DELETE", "OPTIONS", "PROPFIND", "BREW"};
    for (size_t i = 0; i != sizeof(every) / sizeof(every[0]); ++i) {
        unsigned calls = any.calls;
        r = run(every[i], "/any/x/y", NULL, NULL, NULL, NULL);
        CHECK(test_req_status(r) == 200 && any.calls == calls + 1);
        test_req_free(r);
    }
}

static void test_paths(void)
{
    /* exact: the path and the alias, nothing under them; a 404 in the route's style */
    static const struct {
        const char *path;
        int status;
        seen_t *s;
        int html;
    } cases[] = {
        {"/api/thing", 200, &thing, 0},
        {"/api/method/frappe.thing", 200, &thing, 0},
        {"/api/method/frappe.thing?a=b", 200, &thing, 0},
        {"/api/thing/", 404, &thing, 0},
        {"/api/thing/x", 404, &thing, 0},
        {"/api/method/frappe.thing/", 404, &thing, 0},
        {"/api/method/frappe.thing/x/y", 404, &thing, 0},
        {"/page/", 404, &page, 1},
        {"/page/x", 404, &page, 1},
        {"/cors/x", 404, &cors, 0},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *method = cases[i].s == &thing ? "POST" : "GET";
        unsigned calls = cases[i].s->calls;
        test_req_t *r = run(method, cases[i].path, "origin", APP_ORIGIN, NULL, NULL);
        if (cases[i].status == 200) {
            CHECK(test_req_status(r) == 200 && cases[i].s->calls == calls + 1);
        } else {
            check_refused(r, 404, NULL, cases[i].html, method, cases[i].s, calls);
            CHECK(test_req_resp_header(r, "vary", 0) == NULL); /* not the endpoint: no CORS header */
        }
        test_req_free(r);
    }
    /* a method the alias does not take: the route's 405 */
    test_req_t *r = run("GET", "/api/method/frappe.thing", NULL, NULL, NULL, NULL);
    check_refused(r, 405, "POST", 0, "GET", &thing, thing.calls);
    test_req_free(r);
    /* prefix: every path under it reaches the handler, which may ask for the 404 in the route's style */
    unsigned calls = files.calls;
    r = run("GET", "/files/a/b/c", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 200 && files.calls == calls + 1);
    test_req_free(r);
    r = run("GET", "/files/a/missing", NULL, NULL, NULL, NULL);
    check_refused(r, 404, NULL, 0, "GET", &files, calls + 2);
    test_req_free(r);
    r = run("DELETE", "/files/a", NULL, NULL, NULL, NULL); /* the method first: the handler never sees it */
    check_refused(r, 405, "GET", 0, "DELETE", &files, calls + 2);
    test_req_free(r);
    calls = html_files.calls;
    r = run("GET", "/html-files/missing", NULL, NULL, NULL, NULL);
    check_refused(r, 404, NULL, 1, "GET", &html_files, calls + 1);
    test_req_free(r);
    r = run("HEAD", "/html-files/x/missing", NULL, NULL, NULL, NULL);
    check_refused(r, 404, NULL, 1, "HEAD", &html_files, calls + 2);
    test_req_free(r);
    r = run("GET", "/html-files", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 200 && html_files.calls == calls + 3);
    test_req_free(r);
    /* a prefix without '/' never takes a longer name, and an exact path is no prefix of one either */
    unsigned before[] = {thing.calls, html_files.calls};
    r = run("POST", "/api/thingx", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 404 && thing.calls == before[0]);
    test_req_free(r);
    r = run("GET", "/html-filesx", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 404 && html_files.calls == before[1]);
    test_req_free(r);
}

/* The gate runs before the router: a path that is not canonical is a 400, whatever the route would say. */
static void test_gate_first(void)
{
    static const char *const paths[] = {"/api/thing/.", "/api/thing//", "/api/%74hing", "/api/thing/../thing", "/page/./"};
    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        unsigned calls = thing.calls + page.calls;
        test_req_t *r = run("PUT", paths[i], NULL, NULL, NULL, NULL);
        CHECK(test_req_status(r) == 400 && test_req_resp_header(r, "allow", 0) == NULL);
        CHECK(thing.calls + page.calls == calls);
        test_req_free(r);
    }
}

static void check_preflight_allowed(test_req_t *r, const char *origin, const char *methods)
{
    char allow[64];
    snprintf(allow, sizeof(allow), "OPTIONS, %s", methods);
    CHECK(test_req_status(r) == 204 && test_req_len(r) == 0);
    CHECK(strcmp(header(r, "allow"), allow) == 0);
    CHECK(strcmp(header(r, "access-control-allow-origin"), origin) == 0);
    CHECK(strcmp(header(r, "access-control-allow-methods"), methods) == 0);
    CHECK(strcmp(header(r, "access-control-allow-headers"), "authorization, content-type") == 0);
    CHECK(strcmp(header(r, "access-control-max-age"), "600") == 0);
    CHECK(test_req_resp_header(r, "access-control-allow-credentials", 0) == NULL);
}

static void test_preflights(void)
{
    unsigned calls = cors.calls, asked = cors.asked;
    test_req_t *r = run("OPTIONS", "/cors", "origin", APP_ORIGIN, "access-control-request-method", "POST");
    check_preflight_allowed(r, APP_ORIGIN, "GET, POST");
    CHECK(strcmp(header(r, "vary"), "Origin") == 0);
    CHECK(cors.asked == asked + 1 && strcmp(cors.origin, APP_ORIGIN) == 0 && cors.calls == calls);
    test_req_free(r);
    /* an origin the hook refuses: 204 and Allow, nothing that lets a browser go on */
    static const char *const refused[] = {"https://evil.example", "http://app.example", "https://app.example:8443"};
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        asked = cors.asked;
        r = run("OPTIONS", "/cors", "origin", refused[i], NULL, NULL);
        CHECK(test_req_status(r) == 204 && strcmp(header(r, "allow"), "OPTIONS, GET, POST") == 0);
        CHECK(test_req_resp_header(r, "access-control-allow-origin", 0) == NULL &&
              test_req_resp_header(r, "access-control-allow-methods", 0) == NULL);
        CHECK(cors.asked == asked + 1 && strcmp(cors.origin, refused[i]) == 0);
        test_req_free(r);
    }
    /* spellings that are no origin as browsers send one never reach the hook */
    static const char *const spelt[] = {"https://APP.example",
                                        "https://app.example/",
                                        "https://app.example:443",
                                        "null",
                                        "https://app.example/x",
                                        "app.example",
                                        "https://app.example, https://app.example",
                                        "",
                                        "https://u@app.example",
                                        "HTTPS://app.example"};
    for (size_t i = 0; i != sizeof(spelt) / sizeof(spelt[0]); ++i) {
        asked = cors.asked;
        r = run("OPTIONS", "/cors", "origin", spelt[i], NULL, NULL);
        CHECK(test_req_status(r) == 204 && test_req_resp_header(r, "access-control-allow-origin", 0) == NULL);
        CHECK(cors.asked == asked);
        test_req_free(r);
    }
    asked = cors.asked;
    r = run("OPTIONS", "/cors", "origin", APP_ORIGIN, "origin", APP_ORIGIN); /* twice: no single origin */
    CHECK(test_req_status(r) == 204 && test_req_resp_header(r, "access-control-allow-origin", 0) == NULL && cors.asked == asked);
    test_req_free(r);
    /* other methods: 405 naming OPTIONS too, varying by origin, the handler untouched */
    static const char *const others[] = {"PUT", "DELETE", "HEAD", "PATCH"};
    for (size_t i = 0; i != sizeof(others) / sizeof(others[0]); ++i) {
        r = run(others[i], "/cors", "origin", APP_ORIGIN, NULL, NULL);
        check_refused(r, 405, "OPTIONS, GET, POST", 0, others[i], &cors, calls);
        CHECK(strcmp(header(r, "vary"), "Origin") == 0 && test_req_resp_header(r, "access-control-allow-origin", 0) == NULL);
        test_req_free(r);
    }
    /* an actual request: the handler, with Vary: Origin (which origin it opens to is the handler's business) */
    r = run("GET", "/cors", "origin", APP_ORIGIN, NULL, NULL);
    CHECK(test_req_status(r) == 200 && cors.calls == calls + 1 && strcmp(header(r, "vary"), "Origin") == 0);
    CHECK(test_req_resp_header(r, "access-control-allow-origin", 0) == NULL);
    test_req_free(r);
    /* a route without a CORS rule: OPTIONS is a method like any other */
    r = run("OPTIONS", "/page", "origin", APP_ORIGIN, "access-control-request-method", "POST");
    check_refused(r, 405, "GET, HEAD, POST", 1, "OPTIONS", &page, page.calls);
    CHECK(test_req_resp_header(r, "access-control-allow-origin", 0) == NULL && test_req_resp_header(r, "vary", 0) == NULL);
    test_req_free(r);
}

static void test_public(void)
{
    /* any origin, or none: a preflight is allowed; every answer carries Access-Control-Allow-Origin: * */
    static const char *const origins[] = {APP_ORIGIN, "https://evil.example", "null", NULL};
    for (size_t i = 0; i != sizeof(origins) / sizeof(origins[0]); ++i) {
        test_req_t *r = run("OPTIONS", "/public", origins[i] != NULL ? "origin" : NULL, origins[i], NULL, NULL);
        check_preflight_allowed(r, "*", "GET, HEAD");
        CHECK(test_req_resp_header(r, "access-control-allow-origin", 1) == NULL); /* once */
        test_req_free(r);
    }
    unsigned calls = public_doc.calls;
    static const char *const others[] = {"POST", "PUT", "DELETE"};
    for (size_t i = 0; i != sizeof(others) / sizeof(others[0]); ++i) {
        test_req_t *r = run(others[i], "/public", "origin", APP_ORIGIN, NULL, NULL);
        check_refused(r, 405, "OPTIONS, GET, HEAD", 0, others[i], &public_doc, calls);
        CHECK(strcmp(header(r, "access-control-allow-origin"), "*") == 0 && test_req_resp_header(r, "vary", 0) == NULL);
        test_req_free(r);
    }
    test_req_t *r = run("GET", "/public", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 200 && strcmp(header(r, "access-control-allow-origin"), "*") == 0);
    CHECK(public_doc.calls == calls + 1);
    test_req_free(r);
}

/* The server's own routes: /healthz and /metrics take GET and HEAD; the rest is the router's, in the OAuth style. */
static void test_server_routes(void)
{
    static const char *const paths[] = {"/healthz", "/metrics"};
    for (size_t i = 0; i != 2; ++i) {
        test_req_t *r = run("HEAD", paths[i], NULL, NULL, NULL, NULL);
        CHECK(test_req_status(r) != 405 && test_req_len(r) == 0);
        test_req_free(r);
        static const char *const others[] = {"POST", "PUT", "DELETE", "OPTIONS"};
        for (size_t j = 0; j != sizeof(others) / sizeof(others[0]); ++j) {
            r = run(others[j], paths[i], NULL, NULL, NULL, NULL);
            CHECK(test_req_status(r) == 405 && strcmp(header(r, "allow"), "GET, HEAD") == 0);
            CHECK(strcmp(error_of(r), "invalid_request") == 0);
            test_req_free(r);
        }
        char under[32];
        snprintf(under, sizeof(under), "%s/x", paths[i]);
        r = run("GET", under, NULL, NULL, NULL, NULL);
        CHECK(test_req_status(r) == 404 && strcmp(error_of(r), "not_found") == 0);
        test_req_free(r);
    }
    test_req_t *r = run("GET", "/healthz", NULL, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "\"ok\"") != NULL);
    test_req_free(r);
}

/* A preflight whose hook decides later: answered only then, with the headers of the decision; one whose client left
 * before the decision is never answered (nothing of it is touched: the hook does not call back). */
static void test_preflight_later(void)
{
    test_req_t *r = test_req_new(&loop, "OPTIONS", "/cors");

    test_req_header(r, "origin", LATER_ORIGIN);
    CHECK(!test_req_run(r, 0) && later.req == test_req_h2o(r));
    later.decided(later.ctx, later.req, 1);
    CHECK(test_req_wait(r, WAIT_MS));
    check_preflight_allowed(r, LATER_ORIGIN, "GET, POST");
    test_req_free(r);
    r = test_req_new(&loop, "OPTIONS", "/cors");
    test_req_header(r, "origin", LATER_ORIGIN);
    CHECK(!test_req_run(r, 0));
    test_req_free(r);
    r = run("OPTIONS", "/cors", "origin", APP_ORIGIN, NULL, NULL); /* the next one is answered as usual */
    check_preflight_allowed(r, APP_ORIGIN, "GET, POST");
    test_req_free(r);
}

int main(void)
{
    hub_config_t cfg;
    hub_server_t *server = NULL;
    size_t i;

    hub_log_init(HUB_LOG_WARN, "router"); /* no access log: the output stays readable */
    hub_config_defaults(&cfg);
    if (hub_server_create(&server, &cfg, NULL, NULL) != 0) {
        fprintf(stderr, "cannot create a server\n");
        return 1;
    }
    for (i = 0; i != sizeof(routes) / sizeof(routes[0]); ++i) {
        /* the server keeps its own copy of the declaration and its paths: these go away */
        char path[64], alias[64];
        hub_route_t copy = routes[i];
        snprintf(path, sizeof(path), "%s", routes[i].path);
        snprintf(alias, sizeof(alias), "%s", routes[i].alias ?: "");
        copy.path = path;
        copy.alias = routes[i].alias != NULL ? alias : NULL;
        hub_server_add_route(server, &copy, on_req, seen_of[i], on_dispose);
        memset(path, 'x', sizeof(path) - 1);
        memset(alias, 'x', sizeof(alias) - 1);
        memset(&copy, 0, sizeof(copy));
    }
    test_loop_init(&loop, server, NULL);
    test_methods();
    test_paths();
    test_gate_first();
    test_preflights();
    test_preflight_later();
    test_public();
    test_server_routes();
    test_loop_dispose(&loop);
    for (i = 0; i != sizeof(seen_of) / sizeof(seen_of[0]); ++i)
        CHECK(seen_of[i]->disposed == 0);
    hub_server_destroy(server);
    for (i = 0; i != sizeof(seen_of) / sizeof(seen_of[0]); ++i)
        CHECK(seen_of[i]->disposed == 1); /* once, though a route with an alias has two paths */
    hub_config_dispose(&cfg);
    return check_report("hub/router");
}
