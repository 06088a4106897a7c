/* Tests idp/endpoint.c: the primary's endpoint table (each endpoint once, its Frappe alias, the discovery keys in the
 * order discovery lists them, the CORS rules of SPEC §10), and every endpoint registered from it in process, each
 * path and alias answering the router's 404, 405 and preflights in the endpoint's style before any handler runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hub/log.h"
#include "hub/resp.h"
#include "idp/cors.h"
#include "idp/endpoint.h"
#include "tests/check.h"
#include "tests/support/loopback.h"

#define WAIT_MS 2000

static test_loop_t loop;
static unsigned calls[IDP_EP__COUNT];

static void test_table(void)
{
    /* discovery names these, in this order (its documents must not change) */
    static const char *const keys[] = {
        "authorization_endpoint", "token_endpoint",         "userinfo_endpoint",   "jwks_uri",
        "registration_endpoint",  "introspection_endpoint", "revocation_endpoint", "end_session_endpoint"};
    size_t i, j, k = 0;

    for (i = 0; i != IDP_EP__COUNT; ++i) {
        const idp_endpoint_t *e = &idp_endpoints[i];
        CHECK(e->route.path != NULL && e->route.path[0] == '/');
        CHECK(e->route.alias == NULL || strncmp(e->route.alias, IDP_FRAPPE, strlen(IDP_FRAPPE)) == 0);
        CHECK(e->route.alias == NULL || e->route.match == HUB_MATCH_EXACT);
        CHECK(e->route.methods != 0 && e->route.methods != HUB_METHODS_ANY);
        /* a prefix route names a folder: "/oauth2/register/" takes "/oauth2/register/<id>", never "/oauth2/registerx" */
        CHECK(e->route.match == HUB_MATCH_EXACT || e->route.path[strlen(e->route.path) - 1] == '/');
        if (e->discovery != NULL) {
            CHECK(k < sizeof(keys) / sizeof(keys[0]) && strcmp(e->discovery, keys[k]) == 0);
            CHECK(e->route.match == HUB_MATCH_EXACT);
            ++k;
        }
        for (j = 0; j != i; ++j) { /* each path once */
            const idp_endpoint_t *o = &idp_endpoints[j];
            CHECK(strcmp(e->route.path, o->route.path) != 0);
            CHECK(e->route.alias == NULL || o->route.alias == NULL || strcmp(e->route.alias, o->route.alias) != 0);
        }
    }
    CHECK(k == sizeof(keys) / sizeof(keys[0]));
    /* SPEC §10: a single-page app's endpoints open to registered clients' origins, the public documents to any */
    CHECK(idp_endpoints[IDP_EP_TOKEN].route.cors == &idp_cors_clients);
    CHECK(idp_endpoints[IDP_EP_REVOKE].route.cors == &idp_cors_clients);
    CHECK(idp_endpoints[IDP_EP_USERINFO].route.cors == &idp_cors_clients);
    CHECK(idp_endpoints[IDP_EP_JWKS].route.cors == &idp_cors_public);
    CHECK(idp_endpoints[IDP_EP_OPENID_CONFIGURATION].route.cors == &idp_cors_public);
    CHECK(idp_endpoints[IDP_EP_AUTHORIZATION_SERVER].route.cors == &idp_cors_public);
    CHECK(idp_endpoints[IDP_EP_INTROSPECT].route.cors == NULL); /* for resource servers, not browsers */
    CHECK(idp_cors_public.any_origin && !idp_cors_clients.any_origin && idp_cors_clients.origin_check != NULL);
    /* what clients see: the methods each endpoint takes (SPEC §4), pages answering in HTML, the rest with OAuth errors */
    static const struct {
        idp_endpoint_id_t id;
        unsigned methods;
        hub_style_t style;
    } want[] = {
        {IDP_EP_AUTHORIZE, HUB_GET | HUB_POST, HUB_STYLE_HTML},
        {IDP_EP_APPROVE, HUB_POST, HUB_STYLE_HTML},
        {IDP_EP_TOKEN, HUB_POST, HUB_STYLE_OAUTH},
        {IDP_EP_USERINFO, HUB_GET | HUB_POST, HUB_STYLE_OAUTH},
        {IDP_EP_JWKS, HUB_GET | HUB_HEAD, HUB_STYLE_OAUTH},
        {IDP_EP_CLIENT_READ, HUB_GET, HUB_STYLE_OAUTH},
        {IDP_EP_REGISTER, HUB_POST, HUB_STYLE_OAUTH},
        {IDP_EP_INTROSPECT, HUB_POST, HUB_STYLE_OAUTH},
        {IDP_EP_REVOKE, HUB_POST, HUB_STYLE_OAUTH},
        {IDP_EP_END_SESSION, HUB_GET | HUB_POST, HUB_STYLE_HTML},
        {IDP_EP_LOGIN, HUB_GET | HUB_HEAD | HUB_POST, HUB_STYLE_HTML},
        {IDP_EP_LOGOUT, HUB_GET | HUB_HEAD | HUB_POST, HUB_STYLE_HTML},
        {IDP_EP_OPENID_CONFIGURATION, HUB_GET | HUB_HEAD, HUB_STYLE_OAUTH},
        {IDP_EP_AUTHORIZATION_SERVER, HUB_GET | HUB_HEAD, HUB_STYLE_OAUTH},
    };
    CHECK(sizeof(want) / sizeof(want[0]) == IDP_EP__COUNT);
    for (i = 0; i != sizeof(want) / sizeof(want[0]); ++i) {
        CHECK(idp_endpoints[want[i].id].route.methods == want[i].methods);
        CHECK(idp_endpoints[want[i].id].route.style == want[i].style);
    }
    /* the Frappe aliases of SPEC §4 */
    CHECK(strcmp(idp_endpoints[IDP_EP_TOKEN].route.alias, IDP_FRAPPE "get_token") == 0);
    CHECK(strcmp(idp_endpoints[IDP_EP_USERINFO].route.alias, IDP_FRAPPE "openid_profile") == 0);
    CHECK(strcmp(idp_endpoints[IDP_EP_REGISTER].route.alias, IDP_FRAPPE "register_client") == 0);
}

/* Each endpoint's handler: counts and answers 200. */
#define X(name, path, alias, key, methods, match, style, cors)                                                                     \
    static int on_##name(void *data, h2o_req_t *req)                                                                               \
    {                                                                                                                              \
        ++calls[IDP_EP_##name];                                                                                                    \
        hub_send_text(req, 200, "ok", 2);                                                                                          \
        return 0;                                                                                                                  \
    }
IDP_ENDPOINTS(X)
#undef X

static const hub_route_cb handlers[IDP_EP__COUNT] = {
#define X(name, path, alias, key, methods, match, style, cors) [IDP_EP_##name] = on_##name,
    IDP_ENDPOINTS(X)
#undef X
};

static test_req_t *run(const char *method, const char *path)
{
    test_req_t *r = test_req_new(&loop, method, path);
    CHECK(test_req_run(r, WAIT_MS));
    return r;
}

/* 1 when r's body is in the style of endpoint e: an HTML page, or an OAuth error with the given code. */
static int in_style(test_req_t *r, const idp_endpoint_t *e, const char *oauth_error)
{
    const char *ctype = test_req_resp_header(r, "content-type", 0) ?: "";
    if (e->route.style == HUB_STYLE_HTML)
        return strncmp(ctype, "text/html", 9) == 0 && strstr(test_req_text(r), "<!DOCTYPE html>") != NULL;
    json_t *doc = json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
    int ok =
        strcmp(ctype, "application/json") == 0 && strcmp(json_string_value(json_object_get(doc, "error")) ?: "", oauth_error) == 0;
    json_decref(doc);
    return ok;
}

/* The expected Allow of e. */
static void allow_of(const idp_endpoint_t *e, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s%s", e->route.cors != NULL ? "OPTIONS" : "", e->route.methods & HUB_GET ? ", GET" : "",
             e->route.methods & HUB_HEAD ? ", HEAD" : "", e->route.methods & HUB_POST ? ", POST" : "");
    if (e->route.cors == NULL)
        memmove(out, out + 2, strlen(out + 2) + 1);
}

/* Every method an endpoint does not take is the router's 405 at its path and its alias. */
static void test_refusals(size_t i, const char *path)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {{"GET", HUB_GET}, {"HEAD", HUB_HEAD}, {"POST", HUB_POST}, {"PUT", 0}, {"DELETE", 0}, {"PATCH", 0}};
    const idp_endpoint_t *e = &idp_endpoints[i];
    char allow[64];

    allow_of(e, allow, sizeof(allow));
    for (size_t m = 0; m != sizeof(methods) / sizeof(methods[0]); ++m) {
        unsigned before = calls[i];
        test_req_t *r = run(methods[m].name, path);
        if (methods[m].bit & e->route.methods) {
            CHECK(test_req_status(r) == 200 && calls[i] == before + 1);
        } else {
            CHECK(test_req_status(r) == 405 && calls[i] == before);
            CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", allow) == 0);
            CHECK(strcmp(methods[m].name, "HEAD") == 0 ? test_req_len(r) == 0 : in_style(r, e, "invalid_request"));
        }
        test_req_free(r);
    }
    /* OPTIONS: the preflight where the endpoint has a CORS rule, a 405 like any other method elsewhere */
    unsigned before = calls[i];
    test_req_t *r = run("OPTIONS", path);
    CHECK(test_req_status(r) == (e->route.cors != NULL ? 204 : 405) && calls[i] == before);
    CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", allow) == 0);
    test_req_free(r);
}

/* Nothing under an exact path, neither under its alias: the router's 404 in the endpoint's style. */
static void test_under(size_t i, const char *path)
{
    const idp_endpoint_t *e = &idp_endpoints[i];
    const char *client_read = idp_endpoints[IDP_EP_CLIENT_READ].route.path;
    static const char *const tails[] = {"/", "/x", "/x/y"};
    char under[256];

    if (e->route.match != HUB_MATCH_EXACT)
        return;
    for (size_t t = 0; t != sizeof(tails) / sizeof(tails[0]); ++t) {
        unsigned before = calls[i];
        snprintf(under, sizeof(under), "%s%s", path, tails[t]);
        if (strncmp(under, client_read, strlen(client_read)) == 0)
            continue; /* under /oauth2/register is the client read endpoint's */
        test_req_t *r = run("GET", under);
        CHECK(test_req_status(r) == 404 && calls[i] == before && in_style(r, e, "not_found"));
        test_req_free(r);
    }
}

int main(void)
{
    hub_config_t cfg;
    hub_server_t *server = NULL;
    idp_t idp;

    test_table();
    hub_log_init(HUB_LOG_WARN, "endpoint");
    hub_config_defaults(&cfg);
    if (hub_server_create(&server, &cfg, NULL, NULL) != 0) {
        fprintf(stderr, "cannot create a server\n");
        return 1;
    }
    memset(&idp, 0, sizeof(idp));
    idp.server = server;
    idp_endpoint_route(&idp, IDP_EP_CLIENT_READ, handlers[IDP_EP_CLIENT_READ]); /* before its prefix */
    for (size_t i = 0; i != IDP_EP__COUNT; ++i)
        if (i != IDP_EP_CLIENT_READ)
            idp_endpoint_route(&idp, (idp_endpoint_id_t)i, handlers[i]);
    test_loop_init(&loop, server, NULL);
    for (size_t i = 0; i != IDP_EP__COUNT; ++i) {
        const idp_endpoint_t *e = &idp_endpoints[i];
        const char *path = e->route.match == HUB_MATCH_PREFIX ? "/oauth2/register/some-client" : e->route.path;
        test_refusals(i, path);
        test_under(i, path);
        if (e->route.alias != NULL) {
            test_refusals(i, e->route.alias);
            test_under(i, e->route.alias);
        }
    }
    test_loop_dispose(&loop);
    hub_server_destroy(server);
    hub_config_dispose(&cfg);
    return check_report("idp/endpoint");
}
