/* Tests hub/cors.c on requests of the loopback harness: hub_cors_origin takes exactly the origins browsers serialize
 * (lower-case host, no default port, no path, IPv6 in its shortest form) and nothing else (case, default ports, paths,
 * "null", lists, userinfo, other IPv4 and IPv6 spellings, NUL bytes, two headers, oversize); hub_cors_vary's header
 * per rule; a preflight's headers only for an origin the hook allows, the hook never asked about a non-canonical
 * spelling, and never Access-Control-Allow-Credentials. */
#include <stdio.h>
#include <string.h>
#include "hub/cors.h"
#include "hub/log.h"
#include "hub/server.h"
#include "hub/url.h"
#include "tests/check.h"
#include "tests/support/loopback.h"

static test_loop_t loop;

/* A request with one Origin header of value[0..len) (none when value is NULL). */
static test_req_t *with_origin(const char *value, size_t len)
{
    test_req_t *r = test_req_new(&loop, "OPTIONS", "/x");
    h2o_req_t *req = test_req_h2o(r);
    if (value != NULL) {
        h2o_iovec_t v = h2o_strdup(&req->pool, value, len);
        h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("origin"), 1, NULL, v.base, v.len);
    }
    return r;
}

static void test_canonical(void)
{
    static const char *const taken[] = {
        "https://app.example",   "http://app.example:8080", "http://127.0.0.1:8080",     "http://[::1]:8080",
        "https://[2001:db8::1]", "http://localhost",        "https://a-b.c_d.example:1", "http://[::ffff:102:304]",
        "https://[1::]",         "http://10.0.0.1",         "https://app.example:65535", "http://[1:0:2:3:4:5:6:7]",
    };
    for (size_t i = 0; i != sizeof(taken) / sizeof(taken[0]); ++i) {
        test_req_t *r = with_origin(taken[i], strlen(taken[i]));
        const char *o = hub_cors_origin(test_req_h2o(r));
        CHECK(o != NULL && strcmp(o, taken[i]) == 0 && o != taken[i]);
        test_req_free(r);
    }
}

/* Spellings of origins no browser sends, and what is no origin at all. */
static const char *const refused[] = {
    "https://APP.example",
    "HTTPS://app.example",
    "Https://app.example",
    "https://app.example:443",
    "http://app.example:80",
    "https://app.example/",
    "https://app.example/x",
    "https://app.example?x",
    "https://app.example#f",
    "null",
    "",
    "https://u@app.example",
    "https://u:p@app.example",
    "http://[::0001]",
    "http://[0:0:0:0:0:0:0:1]",
    "http://[::1]:80",
    "http://[2001:DB8::1]",
    "http://[2001:db8:0:0:1:0:0:1]",
    "http://[::ffff:1.2.3.4]",
    "http://[1:0:0:0:0:0:0:0]",
    "http://0x7f.0.0.1",
    "http://127.1",
    "http://0177.0.0.1",
    "https://app.example:08443",
    "https://app.example:0",
    "https://app.example, https://b.example",
    "https://app.example https://b.example",
    "ftp://app.example",
    " https://app.example",
    "https://app.example ",
    "https://app.example.:443",
    "https:app.example",
    "//app.example",
    "app.example",
    "https://",
    "http://[fe80::1%25eth0]",
    "https://app.example:8443:1",
    "https://app\\.example",
};

static void test_other_spellings(void)
{
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = with_origin(refused[i], strlen(refused[i]));
        const char *o = hub_cors_origin(test_req_h2o(r));
        if (o != NULL)
            fprintf(stderr, "taken: \"%s\"\n", refused[i]);
        CHECK(o == NULL);
        test_req_free(r);
    }
    /* a NUL inside: "https://app.example" followed by more */
    static const char nul[] = "https://app.example\0.evil.example";
    test_req_t *r = with_origin(nul, sizeof(nul) - 1);
    CHECK(hub_cors_origin(test_req_h2o(r)) == NULL);
    test_req_free(r);
    r = with_origin("https://app.example", 19); /* the same bytes up to the NUL are an origin */
    CHECK(hub_cors_origin(test_req_h2o(r)) != NULL);
    test_req_free(r);
    /* no header; two headers, whether they agree or not */
    r = with_origin(NULL, 0);
    CHECK(hub_cors_origin(test_req_h2o(r)) == NULL);
    test_req_free(r);
    static const char *const second[] = {"https://app.example", "https://b.example"};
    for (size_t i = 0; i != 2; ++i) {
        r = with_origin("https://app.example", 19);
        test_req_header(r, "origin", second[i]);
        CHECK(hub_cors_origin(test_req_h2o(r)) == NULL);
        test_req_free(r);
    }
    /* as long as an origin may be, and longer */
    static char big[HUB_ORIGIN_MAX + 64];
    static const size_t lens[] = {HUB_URL_MAX - 1,    HUB_URL_MAX,    HUB_URL_MAX + 1,
                                  HUB_ORIGIN_MAX - 1, HUB_ORIGIN_MAX, HUB_ORIGIN_MAX + 9};
    for (size_t k = 0; k != sizeof(lens) / sizeof(lens[0]); ++k) {
        size_t len = lens[k];
        memcpy(big, "https://", 8);
        memset(big + 8, 'a', len - 8);
        big[len] = '\0';
        r = with_origin(big, len);
        const char *o = hub_cors_origin(test_req_h2o(r));
        CHECK(len <= HUB_URL_MAX ? o != NULL && strlen(o) == len : o == NULL);
        test_req_free(r);
    }
}

/* What the hook was asked. */
static struct {
    unsigned asked;
    char origin[HUB_ORIGIN_MAX];
} hook;

/* A hook that decides at once: the origin data names is allowed. */
static void allow_app(void *data, h2o_req_t *req, const char *origin, hub_cors_decided_fn decided, void *ctx)
{
    ++hook.asked;
    snprintf(hook.origin, sizeof(hook.origin), "%s", origin);
    decided(ctx, req, data != NULL && strcmp(origin, (const char *)data) == 0);
}

/* A hook that decides later (as one reading the store): it keeps what it needs to call back. */
static struct {
    hub_cors_decided_fn decided;
    void *ctx;
    h2o_req_t *req;
} later;

static void decide_later(void *data, h2o_req_t *req, const char *origin, hub_cors_decided_fn decided, void *ctx)
{
    ++hook.asked;
    later.decided = decided;
    later.ctx = ctx;
    later.req = req;
}

static unsigned answered;

static void on_answered(void *ctx, h2o_req_t *req)
{
    ++answered;
}

/* A preflight through hub_cors_preflight, answered (at once, for these hooks) by the time it returns. */
static void preflight(test_req_t *r, const hub_cors_t *cors, void *data, const char *methods)
{
    unsigned before = answered;

    hub_cors_preflight(test_req_h2o(r), cors, data, methods, on_answered, NULL);
    CHECK(answered == before + 1);
}

static const char *header(test_req_t *r, const char *name)
{
    return test_req_resp_header(r, name, 0);
}

static void test_vary(void)
{
    static const hub_cors_t any = {1, NULL}, hooked = {0, allow_app};
    test_req_t *r = with_origin("https://app.example", 19);
    hub_cors_vary(test_req_h2o(r), &any);
    CHECK(strcmp(header(r, "access-control-allow-origin") ?: "", "*") == 0 && header(r, "vary") == NULL);
    test_req_free(r);
    r = with_origin("https://app.example", 19);
    hub_cors_vary(test_req_h2o(r), &hooked);
    CHECK(strcmp(header(r, "vary") ?: "", "Origin") == 0 && header(r, "access-control-allow-origin") == NULL);
    CHECK(hook.asked == 0); /* varying asks nobody */
    test_req_free(r);
}

/* The preflight's headers: all four with origin (NULL: none at all); never credentials. */
static void check_preflight(test_req_t *r, const char *origin, const char *methods)
{
    if (origin == NULL) {
        CHECK(header(r, "access-control-allow-origin") == NULL && header(r, "access-control-allow-methods") == NULL &&
              header(r, "access-control-allow-headers") == NULL && header(r, "access-control-max-age") == NULL);
    } else {
        CHECK(strcmp(header(r, "access-control-allow-origin") ?: "", origin) == 0);
        CHECK(header(r, "access-control-allow-origin") != NULL &&
              test_req_resp_header(r, "access-control-allow-origin", 1) == NULL);
        CHECK(strcmp(header(r, "access-control-allow-methods") ?: "", methods) == 0);
        CHECK(strcmp(header(r, "access-control-allow-headers") ?: "", "authorization, content-type") == 0);
        CHECK(strcmp(header(r, "access-control-max-age") ?: "", "600") == 0);
    }
    CHECK(header(r, "access-control-allow-credentials") == NULL);
    CHECK(test_req_status(r) == 0); /* nothing sent: the router answers */
}

static void test_preflight(void)
{
    static const hub_cors_t hooked = {0, allow_app}, no_hook = {0, NULL}, any = {1, NULL};
    static char app[] = "https://app.example";

    /* allowed, with the canonical origin handed to the hook */
    test_req_t *r = with_origin(app, strlen(app));
    preflight(r, &hooked, app, "GET, POST");
    check_preflight(r, app, "GET, POST");
    CHECK(hook.asked == 1 && strcmp(hook.origin, app) == 0);
    test_req_free(r);
    /* refused by the hook: nothing tells the origin which ones are registered */
    static const char *const others[] = {"https://evil.example", "http://app.example", "https://app.example:8443"};
    for (size_t i = 0; i != sizeof(others) / sizeof(others[0]); ++i) {
        unsigned asked = hook.asked;
        r = with_origin(others[i], strlen(others[i]));
        preflight(r, &hooked, app, "GET");
        check_preflight(r, NULL, NULL);
        CHECK(hook.asked == asked + 1 && strcmp(hook.origin, others[i]) == 0);
        test_req_free(r);
    }
    /* spellings no browser sends, and no Origin: the hook is not asked */
    static const char *const spelt[] = {"https://APP.example", "https://app.example/", "https://app.example:443", "null", NULL};
    for (size_t i = 0; i != sizeof(spelt) / sizeof(spelt[0]); ++i) {
        unsigned asked = hook.asked;
        r = with_origin(spelt[i], spelt[i] != NULL ? strlen(spelt[i]) : 0);
        preflight(r, &hooked, app, "GET");
        check_preflight(r, NULL, NULL);
        CHECK(hook.asked == asked);
        test_req_free(r);
    }
    /* a rule without a hook allows no origin */
    r = with_origin(app, strlen(app));
    preflight(r, &no_hook, app, "GET");
    check_preflight(r, NULL, NULL);
    test_req_free(r);
    /* a public document: the methods, headers and age whatever the origin; its "*" comes from hub_cors_vary alone */
    static const char *const any_origin[] = {"https://evil.example", "null", NULL};
    for (size_t i = 0; i != sizeof(any_origin) / sizeof(any_origin[0]); ++i) {
        unsigned asked = hook.asked;
        r = with_origin(any_origin[i], any_origin[i] != NULL ? strlen(any_origin[i]) : 0);
        hub_cors_vary(test_req_h2o(r), &any);
        preflight(r, &any, NULL, "GET, HEAD");
        check_preflight(r, "*", "GET, HEAD");
        CHECK(hook.asked == asked);
        test_req_free(r);
    }
}

/* A hook that decides later: nothing is added and nothing answered until it calls back, then the headers and the answer;
 * a request whose client left before the decision is simply never called back (its state went with its pool). */
static void test_preflight_later(void)
{
    static const hub_cors_t deferred = {0, decide_later};
    static const char app[] = "https://app.example";
    unsigned before = answered;
    test_req_t *r = with_origin(app, strlen(app));

    hub_cors_preflight(test_req_h2o(r), &deferred, NULL, "GET", on_answered, NULL);
    CHECK(answered == before && later.req == test_req_h2o(r) && header(r, "access-control-allow-methods") == NULL);
    later.decided(later.ctx, later.req, 1);
    CHECK(answered == before + 1);
    check_preflight(r, app, "GET");
    test_req_free(r);
    r = with_origin(app, strlen(app));
    hub_cors_preflight(test_req_h2o(r), &deferred, NULL, "GET", on_answered, NULL);
    later.decided(later.ctx, later.req, 0);
    CHECK(answered == before + 2);
    check_preflight(r, NULL, NULL);
    test_req_free(r);
    r = with_origin(app, strlen(app));
    hub_cors_preflight(test_req_h2o(r), &deferred, NULL, "GET", on_answered, NULL);
    test_req_free(r); /* the client left: the hook never calls back */
    CHECK(answered == before + 2);
}

int main(void)
{
    hub_config_t cfg;
    hub_server_t *server = NULL;

    hub_log_init(HUB_LOG_WARN, "cors");
    hub_config_defaults(&cfg);
    if (hub_server_create(&server, &cfg, NULL, NULL) != 0)
        return 1;
    test_loop_init(&loop, server, NULL);
    test_canonical();
    test_other_spellings();
    test_vary();
    test_preflight();
    test_preflight_later();
    test_loop_dispose(&loop);
    hub_server_destroy(server);
    hub_config_dispose(&cfg);
    return check_report("hub/cors");
}
