/* Tests for hub/cookie.c: the hub's cookie namespace, the names a node or a cluster of primaries gives its cookies, and
 * removing the hub's cookies from forwarded requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/cookie.h"
#include "hub/err.h"
#include "tests/check.h"

static h2o_mem_pool_t pool;

static int is_hub(const char *name)
{
    return hub_cookie_is_hub(name, strlen(name));
}

static void test_names(void)
{
    static const char *hub[] = {"hub_primary_session",
                                "hub_primary_csrf",
                                "hub_web1_session",
                                "hub_web1_state",
                                "hub_a_b_c",
                                "HUB_primary_session",
                                "Hub_X",
                                "hUb_",
                                "__Host-hub_p_csrf",
                                "__host-HUB_p_session",
                                "__Secure-hub_x",
                                "__SECURE-hub_x",
                                " hub_x ",
                                "\thub_x"};
    static const char *app[] = {"session",   "sid",      "hub",     "hubx_session",         "my_hub_session",
                                "_hub_x",    "__Host-x", "__Host-", "__Secure-hubx",        "hub-x",
                                "csrftoken", "",         "h ub_x",  "__Host-__Secure-hub_x"};
    for (size_t i = 0; i != sizeof(hub) / sizeof(hub[0]); ++i) {
        if (!is_hub(hub[i]))
            fprintf(stderr, "not the hub's: %s\n", hub[i]);
        CHECK(is_hub(hub[i]));
    }
    for (size_t i = 0; i != sizeof(app) / sizeof(app[0]); ++i) {
        if (is_hub(app[i]))
            fprintf(stderr, "taken for the hub's: %s\n", app[i]);
        CHECK(!is_hub(app[i]));
    }
}

/* Strips the hub's cookies from request headers made of the given Cookie values (and one other header); returns the
 * Cookie header left, or NULL when there is none, and checks the other header survived. */
static const char *strip(size_t *removed, size_t n, const char **values)
{
    h2o_headers_t headers = {NULL};
    const char *left = NULL;
    size_t i, cookies = 0, others = 0;

    h2o_add_header(&pool, &headers, H2O_TOKEN_ACCEPT, NULL, H2O_STRLIT("text/html"));
    for (i = 0; i != n; ++i)
        h2o_add_header(&pool, &headers, H2O_TOKEN_COOKIE, NULL, values[i], strlen(values[i]));
    *removed = hub_cookie_strip_hub(&pool, &headers);
    for (i = 0; i != headers.size; ++i) {
        if (headers.entries[i].name == &H2O_TOKEN_COOKIE->buf) {
            ++cookies;
            left = h2o_strdup(&pool, headers.entries[i].value.base, headers.entries[i].value.len).base;
        } else {
            ++others;
        }
    }
    CHECK(cookies <= 1);
    CHECK(others == 1);
    return left;
}

static int left_is(const char *got, const char *want)
{
    if (want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "left %s, want %s\n", got != NULL ? got : "(none)", want != NULL ? want : "(none)");
    return 0;
}

static void test_strip_positions(void)
{
    size_t removed;
    const char *v[3];

    v[0] = "hub_web1_session=SECRET; theme=dark; lang=en";
    CHECK(left_is(strip(&removed, 1, v), "theme=dark; lang=en") && removed == 1);
    v[0] = "theme=dark; hub_web1_session=SECRET; lang=en";
    CHECK(left_is(strip(&removed, 1, v), "theme=dark; lang=en") && removed == 1);
    v[0] = "theme=dark; lang=en; hub_web1_session=SECRET";
    CHECK(left_is(strip(&removed, 1, v), "theme=dark; lang=en") && removed == 1);
    v[0] = "hub_web1_session=SECRET";
    CHECK(left_is(strip(&removed, 1, v), NULL) && removed == 1);
    /* the primary's cookies and every other node's on the same host, the state cookie, any case, __Host- */
    v[0] = "hub_primary_session=S1; a=1; hub_primary_csrf=C1; hub_web1_state=ST; HUB_other_session=S2; "
           "__Host-hub_primary_csrf=C2; b=2; Hub_cluster_session=S3";
    CHECK(left_is(strip(&removed, 1, v), "a=1; b=2") && removed == 6);
    /* nothing of the hub's: the header is kept (rebuilt the same) */
    v[0] = "a=1; b=2";
    CHECK(left_is(strip(&removed, 1, v), "a=1; b=2") && removed == 0);
}

static void test_strip_shapes(void)
{
    size_t removed;
    const char *v[3];

    /* several Cookie headers (HTTP/2 sends one per cookie) become one */
    v[0] = "a=1";
    v[1] = "hub_web1_session=SECRET";
    v[2] = "b=2; hub_primary_session=S";
    CHECK(left_is(strip(&removed, 3, v), "a=1; b=2") && removed == 2);
    v[0] = "hub_a_session=1";
    v[1] = "hub_b_session=2";
    CHECK(left_is(strip(&removed, 2, v), NULL) && removed == 2);
    /* odd spacing, tabs, empty pairs, a trailing ';' */
    v[0] = "  a=1 ;;\thub_web1_session=SECRET\t;   b = 2 ;  ;";
    CHECK(left_is(strip(&removed, 1, v), "a=1; b = 2") && removed == 1);
    /* quotes do not hide a ';': a quoted value cannot carry a hub cookie upstream */
    v[0] = "a=\"x; hub_web1_session=SECRET; y\"; b=2";
    CHECK(left_is(strip(&removed, 1, v), "a=\"x; y\"; b=2") && removed == 1);
    /* a pair without '=' is judged by its whole text; values are never looked at */
    v[0] = "hub_web1_session; flag; c=hub_web1_session=x";
    CHECK(left_is(strip(&removed, 1, v), "flag; c=hub_web1_session=x") && removed == 1);
    /* an empty header */
    v[0] = "";
    CHECK(left_is(strip(&removed, 1, v), NULL) && removed == 0);
    v[0] = " ; ;";
    CHECK(left_is(strip(&removed, 1, v), NULL) && removed == 0);
}

static void test_no_cookie_header(void)
{
    h2o_headers_t headers = {NULL};
    h2o_add_header(&pool, &headers, H2O_TOKEN_ACCEPT, NULL, H2O_STRLIT("*/*"));
    CHECK(hub_cookie_strip_hub(&pool, &headers) == 0);
    CHECK(headers.size == 1);
    /* a header named "Cookie" that is not h2o's token (added by name) is a Cookie header all the same */
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("Cookie"), 0, NULL, H2O_STRLIT("hub_x_session=1; k=v"));
    CHECK(hub_cookie_strip_hub(&pool, &headers) == 1);
    CHECK(headers.size == 2 && h2o_memis(headers.entries[1].value.base, headers.entries[1].value.len, H2O_STRLIT("k=v")));
}

static void test_set_cookie(void)
{
    static const char *hub[] = {"hub_web1_session=planted; Path=/; HttpOnly",
                                "HUB_primary_csrf=x",
                                "__Host-hub_primary_csrf=x; Secure; Path=/",
                                "  hub_web1_state=s ; Max-Age=60",
                                "=hub_web1_session=planted; Path=/", /* nameless: sent back as "hub_web1_session=planted" */
                                " = hub_primary_session=p",
                                "hub_web1_session",
                                "hub_x=; Max-Age=0"};
    static const char *app[] = {"session=1; Path=/", "theme=dark", "x=hub_web1_session=v", "=plain", "my_hub_session=1", "",
                                "; hub_x=1"};
    for (size_t i = 0; i != sizeof(hub) / sizeof(hub[0]); ++i)
        CHECK(hub_cookie_set_is_hub(hub[i], strlen(hub[i])));
    for (size_t i = 0; i != sizeof(app) / sizeof(app[0]); ++i)
        CHECK(!hub_cookie_set_is_hub(app[i], strlen(app[i])));

    h2o_headers_t headers = {NULL};
    h2o_add_header(&pool, &headers, H2O_TOKEN_SET_COOKIE, NULL, H2O_STRLIT("a=1; Path=/"));
    h2o_add_header(&pool, &headers, H2O_TOKEN_SET_COOKIE, NULL, H2O_STRLIT("hub_web1_session=planted; Path=/"));
    h2o_add_header(&pool, &headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/html"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("Set-Cookie"), 0, NULL, H2O_STRLIT("=hub_primary_csrf=t"));
    h2o_add_header(&pool, &headers, H2O_TOKEN_SET_COOKIE, NULL, H2O_STRLIT("b=2"));
    CHECK(hub_cookie_strip_hub_set(&headers) == 2);
    CHECK(headers.size == 3);
    CHECK(h2o_memis(headers.entries[0].value.base, headers.entries[0].value.len, H2O_STRLIT("a=1; Path=/")));
    CHECK(headers.entries[1].name == &H2O_TOKEN_CONTENT_TYPE->buf);
    CHECK(h2o_memis(headers.entries[2].value.base, headers.entries[2].value.len, H2O_STRLIT("b=2")));
}

/* The names nodes give their cookies: per node, tokens only, __Host- only when asked, never truncated. */
static void test_make_names(void)
{
    static const struct {
        const char *node, *what;
        int host;
        const char *want;
    } cases[] = {
        {"primary", "session", 0, "hub_primary_session"},
        {"primary", "csrf", 1, "__Host-hub_primary_csrf"},
        {"web.1", "state", 0, "hub_web_1_state"},         /* '.' is no token character */
        {"a b;c=d", "session", 0, "hub_a_b_c_d_session"}, /* nor space, ';' or '=' (a name from elsewhere) */
        {"node-2_x", "session", 1, "__Host-hub_node-2_x_session"},
        {"\xc3\xa9t\xc3\xa9", "session", 0, "hub___t___session"}, /* every byte of non-ASCII */
    };
    char out[HUB_COOKIE_NAME_MAX], small[16], node64[65];
    size_t i;

    for (i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        CHECK(hub_cookie_name(out, sizeof(out), cases[i].node, cases[i].what, cases[i].host) == 0);
        CHECK(strcmp(out, cases[i].want) == 0);
        CHECK(hub_cookie_is_hub(out, strlen(out))); /* what the node makes is what it strips */
    }
    /* the longest node.name fits with the longest prefix and suffix the nodes use */
    memset(node64, 'n', 64);
    node64[64] = '\0';
    CHECK(hub_cookie_name(out, sizeof(out), node64, "session", 1) == 0 && strlen(out) == 7 + 4 + 64 + 8);
    /* too small: an error and an empty name, never a shorter one that another node's could equal */
    memset(small, 'x', sizeof(small));
    CHECK(hub_cookie_name(small, sizeof(small), "primary", "session", 0) == HUB_E_TOOBIG && small[0] == '\0');
    CHECK(hub_cookie_name(small, sizeof(small), "p", "session", 1) == HUB_E_TOOBIG && small[0] == '\0');
    CHECK(hub_cookie_name(small, sizeof(small), "p", "session", 0) == 0 && strcmp(small, "hub_p_session") == 0);
}

/* A node's config: role, node.name, public_url, and whether it has a cluster secret. */
static void node_config(hub_config_t *cfg, hub_role_t role, const char *name, const char *url, int cluster)
{
    hub_config_defaults(cfg);
    cfg->node.role = role;
    free(cfg->node.name);
    cfg->node.name = strdup(name);
    free(cfg->node.public_url);
    cfg->node.public_url = strdup(url);
    cfg->primary.cluster_secret_file = cluster ? strdup("/cluster.secret") : NULL;
}

/* The name of cookie what of such a node (static). */
static const char *node_cookie(hub_role_t role, const char *name, const char *url, int cluster, const char *what, int host)
{
    static char out[4][HUB_COOKIE_NAME_MAX];
    static int turn;
    hub_config_t cfg;
    char *o = out[turn++ % 4];

    node_config(&cfg, role, name, url, cluster);
    if (hub_cookie_node_name(o, HUB_COOKIE_NAME_MAX, &cfg, what, host) != 0)
        snprintf(o, HUB_COOKIE_NAME_MAX, "(error)");
    hub_config_dispose(&cfg);
    return o;
}

/* A cluster's primaries name their cookies after public_url, not node.name; everything else after node.name. */
static void test_cluster_names(void)
{
    const hub_role_t P = HUB_ROLE_PRIMARY;
    const char *a = node_cookie(P, "pa", "https://idp.example.com", 1, "session", 1);
    char copy[HUB_COOKIE_NAME_MAX], small[24];
    hub_config_t cfg;

    snprintf(copy, sizeof(copy), "%s", a);
    CHECK(strncmp(copy, "__Host-hub_c.", 13) == 0 && strlen(copy) == 13 + 16 + 8 && strcmp(copy + 29, "_session") == 0);
    CHECK(strstr(copy, "pa") == NULL && hub_cookie_is_hub(copy, strlen(copy)));
    for (const char *p = copy + 7; *p != '\0'; ++p) /* an RFC 6265 token */
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.');
    /* the same cluster: another node.name, the same origin however written */
    CHECK(strcmp(node_cookie(P, "pb", "https://idp.example.com", 1, "session", 1), copy) == 0);
    CHECK(strcmp(node_cookie(P, "pb", "https://IDP.Example.COM:443", 1, "session", 1), copy) == 0);
    /* another cluster: another host, port, scheme or path */
    CHECK(strcmp(node_cookie(P, "pa", "https://idp2.example.com", 1, "session", 1), copy) != 0);
    CHECK(strcmp(node_cookie(P, "pa", "https://idp.example.com:8443", 1, "session", 1), copy) != 0);
    CHECK(strcmp(node_cookie(P, "pa", "http://idp.example.com", 1, "session", 1), copy) != 0);
    CHECK(strcmp(node_cookie(P, "pa", "https://idp.example.com/tenant", 1, "session", 1), copy) != 0);
    /* the purpose and the __Host- prefix as for any node */
    CHECK(strcmp(node_cookie(P, "pa", "https://idp.example.com", 1, "csrf", 1) + 29, "_csrf") == 0);
    CHECK(strcmp(node_cookie(P, "pa", "https://idp.example.com", 1, "session", 0), copy + 7) == 0);
    /* no cluster secret, or a secondary: node.name as before */
    CHECK(strcmp(node_cookie(P, "pa", "https://idp.example.com", 0, "session", 1), "__Host-hub_pa_session") == 0);
    CHECK(strcmp(node_cookie(HUB_ROLE_SECONDARY, "web.1", "http://127.0.0.1:8081", 1, "state", 0), "hub_web_1_state") == 0);
    /* no node.name makes a cluster's name: hub_cookie_name writes '.' as '_' */
    char owner[19];
    snprintf(owner, sizeof(owner), "%.18s", copy + 11); /* "c." and the 16 digits */
    CHECK(strcmp(node_cookie(P, owner, "https://idp.example.com", 0, "session", 1), copy) != 0);
    /* too small: an error and an empty name */
    node_config(&cfg, P, "pa", "https://idp.example.com", 1);
    memset(small, 'x', sizeof(small));
    CHECK(hub_cookie_node_name(small, sizeof(small), &cfg, "session", 0) == HUB_E_TOOBIG && small[0] == '\0');
    hub_config_dispose(&cfg);
}

int main(void)
{
    h2o_mem_init_pool(&pool);
    test_names();
    test_make_names();
    test_cluster_names();
    test_strip_positions();
    test_strip_shapes();
    test_no_cookie_header();
    test_set_cookie();
    h2o_mem_clear_pool(&pool);
    return check_report("hub/cookie");
}
