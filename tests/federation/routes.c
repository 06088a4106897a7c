/* Tests for federation/fed_routes.c: which route a path falls under (as given, and read leniently), the request
 * headers the node sets itself toward upstreams (a client's are removed in every spelling), and the guards in process
 * in front of a scripted upstream: anonymous browsers and APIs, bad tokens, missing roles, the exact "/p" of a route
 * "/p/", paths a lenient upstream would give another route, what reaches the upstream and what comes back from it (its
 * redirects to itself rewritten onto the node), and a request parked for a JWKS round that goes on to the proxy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation/fed_routes.h"
#include "hub/path.h"
#include "tests/check.h"
#include "tests/support/secondary.h"

#define WAIT_MS 5000

static const char *const routes[] = {"/app/", "/app/admin/", "/api", "/", "/app/admin/keys/"};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static size_t pick(const char *path)
{
    return fed_routes_pick(routes, NROUTES, path, strlen(path));
}

/* The route the lenient reading of path falls under, against the lenient reading of the routes. */
static size_t pick_folded(const char *path)
{
    char *folded[NROUTES], out[256];
    size_t i, r;
    for (i = 0; i != NROUTES; ++i) {
        folded[i] = malloc(strlen(routes[i]) + 2);
        hub_path_fold(routes[i], strlen(routes[i]), folded[i]);
    }
    size_t n = hub_path_fold(path, strlen(path), out);
    r = fed_routes_pick((const char *const *)folded, NROUTES, out, n);
    for (i = 0; i != NROUTES; ++i)
        free(folded[i]);
    return r;
}

static void test_pick(void)
{
    CHECK(pick("/app/") == 0);
    CHECK(pick("/app") == 0);
    CHECK(pick("/app/x") == 0);
    CHECK(pick("/app/admin/") == 1);
    CHECK(pick("/app/admin") == 1); /* "/p/" covers "/p" */
    CHECK(pick("/app/admin/x/y") == 1);
    CHECK(pick("/app/administrator") == 0);
    CHECK(pick("/app/admin/keys") == 4);
    CHECK(pick("/app/admin/keys/1") == 4);
    CHECK(pick("/api") == 2);
    CHECK(pick("/api/v1") == 2);
    CHECK(pick("/apix") == 3);
    CHECK(pick("/APP/admin/") == 3); /* as given, letters count */
    CHECK(pick("/") == 3);
    CHECK(fed_routes_pick(routes, 2, "/other", 6) == 2); /* none: n */
    CHECK(fed_routes_pick(routes, 0, "/app/", 5) == 0);
}

static void test_pick_lenient(void)
{
    /* what a guard of "/app/" compares: the lenient reading names a more specific route, so it refuses */
    static const char *admin[] = {"/app/ADMIN/",       "/app/Admin",       "/app/admin./x",      "/app/admin%20/",
                                  "/app/admin::$DATA", "/app/adm%C4%B1n/", "/app/%EF%BD%81dmin", "/app/ad%E2%80%8Bmin/",
                                  "/app/admin;x/",     "/app/x/../admin/"};
    for (size_t i = 0; i != sizeof(admin) / sizeof(admin[0]); ++i) {
        if (pick_folded(admin[i]) != 1)
            fprintf(stderr, "%s read leniently is not under /app/admin/\n", admin[i]);
        CHECK(pick_folded(admin[i]) == 1);
    }
    CHECK(pick_folded("/app/ADMIN/KEYS/x") == 4);
    /* and ordinary paths keep their route */
    CHECK(pick_folded("/app/Readme.TXT") == 0);
    CHECK(pick_folded("/app/caf%C3%A9") == 0);
    CHECK(pick_folded("/app/administrator") == 0);
    CHECK(pick_folded("/API/v1") == 2);
    CHECK(pick_folded("/Other") == 3);
}

static void test_strip(void)
{
    static const char *gone[] = {"x-hub-sub",          "X-HUB-ROLES",         "X_Hub_Email",      "x-hub_name",
                                 "x-hub-anything",     "Forwarded",           "X-Forwarded-For",  "x_forwarded_for",
                                 "X-Forwarded-Host",   "X-FORWARDED-PROTO",   "X-Forwarded-Port", "x-forwarded-prefix",
                                 "X-Real-IP",          "True-Client-IP",      "X-Client-IP",      "X-Original-URL",
                                 "x-original-uri",     "X-Rewrite-URL",       "X-Original-Host",  "Via",
                                 "Front-End-Https",    "X-Forwarded-Server",  "X-Forwarded-Ssl",  "X-Forwarded-Uri",
                                 "X-Forwarded-Scheme", "x_forwarded_anything"};
    static const char *kept[] = {"Accept",     "Cookie", "X-Hubx",        "X-Forwarded",     "Forwarded-For",
                                 "X-Real-IPs", "Viax",   "Authorization", "X-Requested-With"};
    h2o_mem_pool_t pool;
    h2o_headers_t headers = {NULL};
    size_t i;

    h2o_mem_init_pool(&pool);
    for (i = 0; i != sizeof(gone) / sizeof(gone[0]); ++i)
        h2o_add_header_by_str(&pool, &headers, gone[i], strlen(gone[i]), 0, NULL, H2O_STRLIT("forged"));
    for (i = 0; i != sizeof(kept) / sizeof(kept[0]); ++i)
        h2o_add_header_by_str(&pool, &headers, kept[i], strlen(kept[i]), 0, NULL, H2O_STRLIT("kept"));
    h2o_add_header(&pool, &headers, H2O_TOKEN_X_FORWARDED_FOR, NULL, H2O_STRLIT("6.6.6.6")); /* h2o's token form */
    h2o_add_header(&pool, &headers, H2O_TOKEN_VIA, NULL, H2O_STRLIT("1.1 evil"));
    fed_routes_strip_hub_headers(&headers);
    CHECK(headers.size == sizeof(kept) / sizeof(kept[0]));
    for (i = 0; i != headers.size; ++i)
        CHECK(h2o_memis(headers.entries[i].value.base, headers.entries[i].value.len, H2O_STRLIT("kept")));
    h2o_mem_clear_pool(&pool);
}

static test_stub_t *app; /* the upstream of every route (h2o's proxy maps /app/x to <upstream>x: the same path here) */
static const char *const employee[] = {"Employee", NULL};

/* "Bearer <token of sub with roles>" (malloc'ed), signed by key. */
static char *bearer_of(test_secondary_t *t, const hub_key_t *key, const char *const *roles)
{
    char *token = test_secondary_sign(key, "at+jwt", test_secondary_at_claims(t, "g-user", roles, 600, "G User", "g@example.com"));
    size_t size = strlen(token) + 8;
    char *auth = malloc(size);
    snprintf(auth, size, "Bearer %s", token);
    free(token);
    return auth;
}

static test_req_t *guarded(test_secondary_t *t, const char *method, const char *path, const char *auth, const char *accept)
{
    test_req_t *r = test_req_new(&t->loop, method, path);
    if (auth != NULL)
        test_req_header(r, "authorization", auth);
    if (accept != NULL)
        test_req_header(r, "accept", accept);
    test_req_run(r, WAIT_MS);
    return r;
}

static void test_refusals(test_secondary_t *t)
{
    char *emp = bearer_of(t, t->key, employee), *none = bearer_of(t, t->key, NULL);
    static const char *const noncanonical[] = {"/app/ADMIN/x", "/app/Admin/", "/app/admin./x", "/app/admin;x/y"};
    unsigned before = test_stub_hits(app, "/app/x");
    test_req_t *r;

    /* a browser without a session goes to sign in, back to where it was */
    r = guarded(t, "GET", "/app/x?q=1", NULL, "text/html,application/xhtml+xml");
    CHECK(test_req_done(r) && test_req_status(r) == 302);
    CHECK(strcmp(test_req_resp_header(r, "location", 0) ?: "", "/auth/login?next=%2Fapp%2Fx%3Fq%3D1") == 0);
    test_req_free(r);
    /* an API without a token: 401 with the Bearer challenge */
    r = guarded(t, "GET", "/app/x", NULL, "application/json");
    CHECK(test_req_done(r) && test_req_status(r) == 401 && strstr(test_req_text(r), "login_required") != NULL);
    CHECK(strcmp(test_req_resp_header(r, "www-authenticate", 0) ?: "", "Bearer realm=\"hub\"") == 0);
    test_req_free(r);
    r = guarded(t, "GET", "/app/x", "Bearer x.y.z", NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 401 && strstr(test_req_text(r), "invalid_token") != NULL);
    test_req_free(r);
    /* signed in, without any of the roles: 403, as HTML to a browser */
    r = guarded(t, "GET", "/app/x", none, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 403 && strstr(test_req_text(r), "access_denied") != NULL);
    test_req_free(r);
    r = guarded(t, "GET", "/app/admin/x", emp, "text/html");
    CHECK(test_req_done(r) && test_req_status(r) == 403 && strstr(test_req_text(r), "<html") != NULL);
    test_req_free(r);
    /* a path a lenient upstream would read as the admin route's is judged by neither */
    for (size_t i = 0; i != sizeof(noncanonical) / sizeof(noncanonical[0]); ++i) {
        r = guarded(t, "GET", noncanonical[i], emp, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 400 && strstr(test_req_text(r), "invalid_request") != NULL);
        test_req_free(r);
    }
    CHECK(test_stub_hits(app, "/app/x") == before); /* none of it reached the upstream */
    /* "/app" of the route "/app/": on to "/app/" with the query, once the caller may */
    r = guarded(t, "POST", "/app?a=1", emp, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 308 && strcmp(test_req_resp_header(r, "location", 0) ?: "", "/app/?a=1") == 0);
    test_req_free(r);
    r = guarded(t, "GET", "/app", NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 401);
    test_req_free(r);
    free(emp);
    free(none);
}

/* What the upstream gets: the node's X-Hub-* and forwarding headers, never the client's, and no hub cookie; what the
 * client gets back: the upstream's answer without Set-Cookie of hub cookies. */
static void test_proxied(test_secondary_t *t)
{
    char *emp = bearer_of(t, t->key, employee), *seen;
    test_req_t *r = test_req_new(&t->loop, "GET", "/app/x?q=1");

    test_stub_answer(app, "GET", "/app/x", 200,
                     "Set-Cookie: hub_fedtest_session=planted; Path=/\r\nSet-Cookie: app=1\r\nSet-Cookie: __Host-hub_p_csrf=x\r\n",
                     "from the app");
    test_req_header(r, "authorization", emp);
    test_req_header(r, "x-hub-sub", "admin");
    test_req_header(r, "X_Hub_Roles", "System Manager");
    test_req_header(r, "x-forwarded-for", "6.6.6.6");
    test_req_header(r, "forwarded", "for=6.6.6.6;host=evil");
    test_req_header(r, "cookie", "hub_fedtest_session=s; app=2; hub_primary_session=p; __Host-hub_x_csrf=c");
    CHECK(test_req_run(r, WAIT_MS) && test_req_status(r) == 200 && strcmp(test_req_text(r), "from the app") == 0);
    CHECK(test_req_set_cookie(r, "app", NULL) != NULL);
    CHECK(test_req_set_cookie(r, "hub_fedtest_session", NULL) == NULL && test_req_set_cookie(r, "__Host-hub_p_csrf", NULL) == NULL);
    test_req_free(r);
    seen = test_stub_last(app, "/app/x");
    CHECK(seen != NULL);
    if (seen != NULL) {
        CHECK(strncmp(seen, "GET /app/x?q=1 HTTP/1.1\r\n", 25) == 0);
        CHECK(strcasestr(seen, "\r\nx-hub-sub: g-user\r\n") != NULL && strcasestr(seen, "x-hub-sub: admin") == NULL);
        CHECK(strcasestr(seen, "\r\nx-hub-roles: Employee\r\n") != NULL && strcasestr(seen, "System Manager") == NULL);
        CHECK(strcasestr(seen, "\r\nx-hub-email: g@example.com\r\n") != NULL);
        CHECK(strstr(seen, "6.6.6.6") == NULL && strstr(seen, "evil") == NULL);
        CHECK(strcasestr(seen, "\r\nforwarded: for=127.0.0.1;host=\"127.0.0.1:1\";proto=http\r\n") != NULL);
        CHECK(strstr(seen, "app=2") != NULL && strstr(seen, "hub_") == NULL);
        CHECK(strcasestr(seen, "authorization:") == NULL); /* the hub's token stays here (no pass_token) */
    }
    free(seen);
    free(emp);
}

/* The upstream's redirects to its own URLs under the route come back as the node's (h2o's Location rewriting, which the
 * guard asks for with the upstream URL it holds); any other Location passes as the upstream sent it. */
static void test_location(test_secondary_t *t)
{
    char *emp = bearer_of(t, t->key, employee), sent[4][256], headers[300];
    size_t i;

    snprintf(sent[0], sizeof(sent[0]), "%s/app/next?x=1", test_stub_url(app));
    snprintf(sent[1], sizeof(sent[1]), "%s/other/next", test_stub_url(app)); /* not under the upstream's path */
    snprintf(sent[2], sizeof(sent[2]), "http://elsewhere.example/app/next");
    snprintf(sent[3], sizeof(sent[3]), "/relative/next");
    for (i = 0; i != 4; ++i) {
        test_req_t *r = test_req_new(&t->loop, "GET", "/app/redirect");
        snprintf(headers, sizeof(headers), "Location: %s\r\n", sent[i]);
        test_stub_answer(app, "GET", "/app/redirect", 302, headers, "");
        test_req_header(r, "authorization", emp);
        CHECK(test_req_run(r, WAIT_MS) && test_req_status(r) == 302);
        const char *loc = test_req_resp_header(r, "location", 0) ?: "";
        if (i == 0) {
            size_t n = strlen(loc), want = strlen("/app/next?x=1");
            CHECK(strncmp(loc, "http://", 7) == 0 && n > want && strcmp(loc + n - want, "/app/next?x=1") == 0);
            CHECK(strstr(loc, test_stub_url(app)) == NULL);
        } else {
            CHECK(strcmp(loc, sent[i]) == 0);
        }
        test_req_free(r);
    }
    free(emp);
}

/* A token signed by a key the node fetches while the request waits: the guard checks again, then hands the request
 * to the reverse proxy. */
static void test_parked_then_proxied(test_secondary_t *t)
{
    char *auth = bearer_of(t, t->new_key, employee);
    unsigned before = test_stub_hits(app, "/app/late");
    test_req_t *r = test_req_new(&t->loop, "GET", "/app/late");

    test_stub_answer(app, "GET", "/app/late", 200, "", "late");
    test_req_header(r, "authorization", auth);
    test_stub_hold(t->primary, "/oauth2/jwks", 1);
    CHECK(test_req_run(r, 300) == 0);
    test_secondary_publish(t, 1);
    test_stub_hold(t->primary, "/oauth2/jwks", 0);
    CHECK(test_req_wait(r, WAIT_MS) && test_req_status(r) == 200 && strcmp(test_req_text(r), "late") == 0);
    CHECK(test_stub_hits(app, "/app/late") == before + 1);
    test_req_free(r);
    free(auth);
}

static void test_guards(void)
{
    test_secondary_t t;
    char yaml[1024];

    app = test_stub_start();
    snprintf(yaml, sizeof(yaml),
             "  routes:\n"
             "    - {path: /app/, upstream: \"%s/app/\", roles: [Employee]}\n"
             "    - {path: /app/admin/, upstream: \"%s/app/admin/\", roles: [System Manager]}\n",
             test_stub_url(app), test_stub_url(app));
    test_secondary_start(&t, "fed-routes", yaml);
    test_refusals(&t);
    test_proxied(&t);
    test_location(&t);
    test_parked_then_proxied(&t);
    test_secondary_stop(&t);
    test_stub_stop(app);
}

int main(void)
{
    test_pick();
    test_pick_lenient();
    test_strip();
    test_guards();
    return check_report("federation/routes");
}
