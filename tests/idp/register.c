/* Tests idp/register.c's metadata parsing (idp_register_parse): the shapes clients register, the limits (body size,
 * URIs per array, name and scope lengths), malformed JSON, forbidden targets, and the one shape a join token allows,
 * each refusal with its OAuth error and no client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/client.h"
#include "idp/register.h"
#include "tests/check.h"

#define NODE "http://127.0.0.1:8301"
#define NODE_MD                                                                                                                    \
    "{\"client_name\":\"sec\",\"redirect_uris\":[\"" NODE "/auth/callback\"],\"backchannel_logout_uri\":\"" NODE                   \
    "/auth/backchannel-logout\",\"post_logout_redirect_uris\":[\"" NODE "/auth/signed-out\"],\"grant_types\":"                     \
    "[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"],\"token_endpoint_auth_method\":"                     \
    "\"client_secret_basic\",\"scope\":\"openid profile email roles\"}"

/* Parses body; returns HUB_OAUTH_OK or the failure's error (also in *err, -1 when accepted), the client freed unless
 * kept. */
static hub_oauth_err_t parse(const char *body, size_t len, int as_node, int *err, idp_client_t **keep)
{
    idp_client_t *c = NULL;
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};
    h2o_mem_pool_t pool;
    hub_oauth_err_t ret;
    int named;

    h2o_mem_init_pool(&pool);
    ret = idp_register_parse(&pool, body, len, as_node, &c, &named, &fail);
    *err = -1;
    if (ret != HUB_OAUTH_OK) {
        CHECK(c == NULL && fail.error == ret && fail.description != NULL && fail.description[0] != '\0');
        *err = (int)ret;
    } else {
        CHECK(c != NULL && c->enabled && c->client_id == NULL && c->secret_hash == NULL);
    }
    h2o_mem_clear_pool(&pool);
    if (keep != NULL)
        *keep = c;
    else
        idp_client_free(c);
    return ret;
}

static int refused(const char *body, int as_node)
{
    int err;
    parse(body, strlen(body), as_node, &err, NULL);
    return err;
}

static void test_shapes(void)
{
    idp_client_t *c;
    int err;

    CHECK(parse(NODE_MD, strlen(NODE_MD), 1, &err, &c) == HUB_OAUTH_OK);
    if (c != NULL) {
        CHECK(c->grant_type == IDP_GRANT_AUTHORIZATION_CODE && c->auth_method == IDP_AUTH_SECRET_BASIC);
        CHECK(c->redirect_uris.n == 1 && strcmp(c->redirect_uris.v[0], NODE "/auth/callback") == 0);
        CHECK(c->backchannel_logout_uri != NULL && c->post_logout_redirect_uris.n == 1 && c->scopes.n == 4);
        CHECK(strcmp(c->app_name, "sec") == 0);
        idp_client_free(c);
    }
    /* anonymous registrations: a native app, an SPA, a service, defaults */
    CHECK(refused("{\"redirect_uris\":[\"http://127.0.0.1/cb\"],\"token_endpoint_auth_method\":\"none\"}", 0) == -1);
    CHECK(refused("{\"redirect_uris\":[\"https://spa.example/\"],\"grant_types\":[\"implicit\"],\"response_types\":"
                  "[\"id_token token\"],\"token_endpoint_auth_method\":\"none\"}",
                  0) == -1);
    CHECK(refused("{\"grant_types\":[\"client_credentials\"],\"scope\":\"read\"}", 0) == -1);
    static const char dup[] = "{\"redirect_uris\":[\"https://a.example/cb\",\"https://a.example/cb\"]}";
    CHECK(parse(dup, strlen(dup), 0, &err, &c) == HUB_OAUTH_OK);
    if (c != NULL) {
        CHECK(c->redirect_uris.n == 1 && strcmp(c->app_name, "client") == 0 && c->scopes.n == 4); /* duplicates dropped */
        idp_client_free(c);
    }
}

static void test_limits(void)
{
    size_t cap = IDP_REGISTER_MAX_BODY + 2, len;
    char *body = malloc(cap), name[160];
    int err, i;

    /* 32 redirect URIs register; 33 do not */
    for (int n = 32; n <= 33; ++n) {
        len = (size_t)snprintf(body, cap, "{\"redirect_uris\":[");
        for (i = 0; i != n; ++i)
            len += (size_t)snprintf(body + len, cap - len, "%s\"https://a.example/cb%d\"", i ? "," : "", i);
        len += (size_t)snprintf(body + len, cap - len, "]}");
        CHECK(parse(body, len, 0, &err, NULL) == (n == 32 ? HUB_OAUTH_OK : HUB_OAUTH_INVALID_REDIRECT_URI));
        CHECK(n == 32 || err == HUB_OAUTH_INVALID_REDIRECT_URI);
    }
    /* the body: at most IDP_REGISTER_MAX_BODY bytes (white space counts), checked before parsing */
    len = (size_t)snprintf(body, cap, "{\"redirect_uris\":[\"https://a.example/cb\"]}");
    memset(body + len, ' ', IDP_REGISTER_MAX_BODY - len);
    CHECK(parse(body, IDP_REGISTER_MAX_BODY, 0, &err, NULL) == HUB_OAUTH_OK);
    body[IDP_REGISTER_MAX_BODY] = ' ';
    CHECK(parse(body, IDP_REGISTER_MAX_BODY + 1, 0, &err, NULL) == HUB_OAUTH_TOO_LARGE && err == HUB_OAUTH_TOO_LARGE);
    /* client_name up to 140 bytes, scope up to 1024 */
    for (int n = 140; n <= 141; ++n) {
        memset(name, 'n', (size_t)n);
        name[n] = '\0';
        snprintf(body, cap, "{\"redirect_uris\":[\"https://a.example/cb\"],\"client_name\":\"%s\"}", name);
        CHECK(refused(body, 0) == (n == 140 ? -1 : HUB_OAUTH_INVALID_CLIENT_METADATA));
    }
    for (int n = 1024; n <= 1025; ++n) {
        len = (size_t)snprintf(body, cap, "{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"");
        for (i = 0; i < n; i += 2)
            len += (size_t)snprintf(body + len, cap - len, i + 2 <= n ? "s " : "s");
        snprintf(body + len, cap - len, "\"}");
        CHECK(refused(body, 0) == (n == 1024 ? -1 : HUB_OAUTH_INVALID_CLIENT_METADATA));
    }
    free(body);
}

static void test_malformed(void)
{
    static const char *const bodies[] = {
        "",
        "{",
        "[]",
        "\"x\"",
        "null",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"redirect_uris\":[\"https://evil.example/cb\"]}",
        "{\"redirect_uris\":[\"https://a.example/cb\\u0000.evil.example\"]}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"client_name\":\"\"}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"client_name\":7}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"openid \\\"x\\\"\"}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"a;b\"}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"  \"}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[]}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[\"refresh_token\"]}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[\"authorization_code\",\"implicit\"]}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[\"password\"]}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"response_types\":[\"token\"]}",
        "{\"redirect_uris\":[\"https://a.example/cb\"],\"token_endpoint_auth_method\":\"private_key_jwt\"}",
        "{\"grant_types\":[\"client_credentials\"],\"token_endpoint_auth_method\":\"none\"}",
        "{\"client_name\":\"no redirect\"}",
        "{\"redirect_uris\":\"https://a.example/cb\"}",
        "{\"redirect_uris\":[7]}",
    };
    for (size_t i = 0; i != sizeof(bodies) / sizeof(bodies[0]); ++i) {
        int err = refused(bodies[i], 0);
        if (err != HUB_OAUTH_INVALID_CLIENT_METADATA && err != HUB_OAUTH_INVALID_REDIRECT_URI) {
            fprintf(stderr, "accepted or wrongly refused: %s\n", bodies[i]);
            CHECK(0);
        }
    }
}

/* URIs the hub would be made to call or send browsers to: refused in every array, however the address is spelt. */
static void test_forbidden_targets(void)
{
    static const char *const uris[] = {"http://169.254.169.254/latest/meta-data/",
                                       "http://2852039166/",
                                       "http://0xa9.0xfe.0xa9.0xfe/",
                                       "http://[::ffff:169.254.169.254]/",
                                       "http://[fe80::1]/",
                                       "http://metadata.google.internal./",
                                       "http://0.0.0.0/",
                                       "http://127.1/cb",
                                       "http://user@a.example/cb",
                                       "https://a.example/cb#frag",
                                       "javascript:alert(1)"};
    char body[512];

    for (size_t i = 0; i != sizeof(uris) / sizeof(uris[0]); ++i) {
        snprintf(body, sizeof(body), "{\"redirect_uris\":[\"%s\"]}", uris[i]);
        CHECK(refused(body, 0) == HUB_OAUTH_INVALID_REDIRECT_URI);
        snprintf(body, sizeof(body), "{\"redirect_uris\":[\"https://a.example/cb\"],\"backchannel_logout_uri\":\"%s\"}", uris[i]);
        CHECK(refused(body, 0) == HUB_OAUTH_INVALID_CLIENT_METADATA);
        snprintf(body, sizeof(body), "{\"redirect_uris\":[\"https://a.example/cb\"],\"post_logout_redirect_uris\":[\"%s\"]}",
                 uris[i]);
        CHECK(refused(body, 0) == HUB_OAUTH_INVALID_CLIENT_METADATA);
    }
}

/* A join token registers the node shape only; the same bodies register without one. */
static void test_node_shape(void)
{
    static const struct {
        const char *from, *to;
        int err;
    } changes[] = {
        {"[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"]",
         "[\"implicit\"],\"response_types\":[\"token\"]", HUB_OAUTH_INVALID_CLIENT_METADATA},
        {"\"client_secret_basic\"", "\"none\"", HUB_OAUTH_INVALID_CLIENT_METADATA},
        {"[\"" NODE "/auth/callback\"]", "[\"" NODE "/auth/callback\",\"http://127.0.0.1:8302/cb\"]",
         HUB_OAUTH_INVALID_REDIRECT_URI},
        {"\"" NODE "/auth/backchannel-logout\"", "\"http://localhost:8301/auth/backchannel-logout\"",
         HUB_OAUTH_INVALID_CLIENT_METADATA},
        {"[\"" NODE "/auth/signed-out\"]", "[\"https://evil.example/\"]", HUB_OAUTH_INVALID_CLIENT_METADATA},
    };
    char body[2048];

    for (size_t i = 0; i != sizeof(changes) / sizeof(changes[0]); ++i) {
        const char *at = strstr(NODE_MD, changes[i].from);
        CHECK(at != NULL);
        if (at == NULL)
            continue;
        snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - NODE_MD), NODE_MD, changes[i].to, at + strlen(changes[i].from));
        CHECK(refused(body, 1) == changes[i].err);
        CHECK(refused(body, 0) == -1);
    }
    CHECK(refused("{\"grant_types\":[\"client_credentials\"]}", 1) == HUB_OAUTH_INVALID_CLIENT_METADATA);
    CHECK(refused("{\"redirect_uris\":[\"" NODE "/auth/callback\"]}", 1) == -1); /* defaults are the node shape */
}

int main(void)
{
    test_shapes();
    test_limits();
    test_malformed();
    test_forbidden_targets();
    test_node_shape();
    return check_report("idp/register");
}
