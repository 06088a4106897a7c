/* Tests for federation/fed_routes.c: which route a path falls under (as given, and read leniently), and the request
 * headers the node sets itself toward upstreams (a client's are removed in every spelling). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation/fed_routes.h"
#include "hub/path.h"
#include "tests/check.h"

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

int main(void)
{
    test_pick();
    test_pick_lenient();
    test_strip();
    return check_report("federation/routes");
}
