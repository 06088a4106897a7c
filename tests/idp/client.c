/* Tests idp/client.c: validation naming the field, redirect matching, allowed roles, the record and its id, enums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/client.h"
#include "idp/grants.h"
#include "idp/origins.h"
#include "idp/role.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

static char *xstrdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int roles_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_roles_add_builtin(txn) == 0);
    CHECK(idp_role_add(txn, "Employee") == 0);
    CHECK(idp_role_add(txn, "Temp") == 0);
    return 0;
}

static idp_client_t *new_client(const char *uris, const char *scopes)
{
    idp_client_t *c = calloc(1, sizeof(*c));
    c->app_name = xstrdup("app");
    c->enabled = 1;
    idp_strv_split(&c->redirect_uris, uris, 1);
    idp_strv_split(&c->scopes, scopes, 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    return c;
}

/* Expects validation to fail naming field, with a text that names no option and is one line of valid UTF-8. */
static void expect_invalid(idp_client_t *c, idp_field_t field)
{
    idp_invalid_t inv = {0};
    json_t *probe;

    CHECK(idp_client_validate(c, &inv) == HUB_E_INVAL);
    if (inv.field != field) {
        ++failures;
        fprintf(stderr, "expected an error on %s, got \"%s: %s\"\n", idp_field_option(field), idp_field_option(inv.field),
                inv.text);
    }
    CHECK(inv.text[0] != '\0' && strstr(inv.text, "--") == NULL && strchr(inv.text, '\n') == NULL);
    CHECK((probe = json_string(inv.text)) != NULL);
    json_decref(probe);
    idp_client_free(c);
}

/* A code-flow client with two URIs (the first one the default); token response types need the implicit grant, which needs a public
 * client. */
static void test_client_validate_flows(void)
{
    idp_client_t *c = new_client("https://app.example/cb http://127.0.0.1:8000/cb", "openid;profile");

    CHECK(idp_client_validate(c, NULL) == 0);
    CHECK(c->default_redirect_uri != NULL && strcmp(c->default_redirect_uri, "https://app.example/cb") == 0);
    idp_client_free(c);

    c = new_client("https://app.example/cb", "openid");
    c->response_type = IDP_RESPONSE_TOKEN;
    expect_invalid(c, IDP_FIELD_RESPONSE_TYPE);
    c = new_client("https://app.example/cb", "openid");
    c->grant_type = IDP_GRANT_IMPLICIT;
    expect_invalid(c, IDP_FIELD_RESPONSE_TYPE);
    c = new_client("https://app.example/cb", "openid");
    c->grant_type = IDP_GRANT_IMPLICIT;
    c->response_type = IDP_RESPONSE_TOKEN;
    c->auth_method = IDP_AUTH_NONE;
    CHECK(idp_client_validate(c, NULL) == 0);
    idp_client_free(c);
}

/* client_credentials: no redirect URI needed, response type ignored, a secret required; other grants need a URI. */
static void test_client_validate_client_credentials(void)
{
    idp_client_t *c;

    c = new_client("", "read");
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    c->response_type = IDP_RESPONSE_TOKEN;
    CHECK(idp_client_validate(c, NULL) == 0 && c->default_redirect_uri == NULL);
    c->auth_method = IDP_AUTH_NONE;
    expect_invalid(c, IDP_FIELD_AUTH_METHOD);
    c = new_client("", "openid");
    expect_invalid(c, IDP_FIELD_REDIRECT_URIS);
}

/* Redirect URIs refused: another scheme, relative, a fragment, no host, userinfo, bad ports, a zone id, a bad IPv4;
 * a default not among the registered ones. */
static void test_client_validate_redirect_uris(void)
{
    static const char *const bad_uris[] = {"ftp://x",
                                           "/relative",
                                           "https://app.example/cb#frag",
                                           "http:///nohost",
                                           "http://:80/cb",
                                           "javascript:alert",
                                           "https://user@evil/cb",
                                           "http://a b/",
                                           "http://127.0.0.1:65536/cb",
                                           "http://127.0.0.1:99999/cb",
                                           "http://127.0.0.1:0/cb",
                                           "http://127.0.0.1:080/cb",
                                           "http://127.0.0.1:/cb",
                                           "http://127.0.0.1:8a/cb",
                                           "http://app.example\\@evil.example/cb",
                                           "http://[fe80::1%25eth0]/cb",
                                           "http://999.1.1.1/cb"};
    idp_client_t *c;

    for (size_t i = 0; i != sizeof(bad_uris) / sizeof(bad_uris[0]); ++i) {
        c = new_client("", "openid");
        c->redirect_uris.v = realloc(c->redirect_uris.v, 2 * sizeof(char *));
        c->redirect_uris.v[0] = xstrdup(bad_uris[i]);
        c->redirect_uris.v[1] = NULL;
        c->redirect_uris.n = 1;
        expect_invalid(c, IDP_FIELD_REDIRECT_URIS);
    }
    c = new_client("https://app.example/cb", "openid");
    c->default_redirect_uri = xstrdup("https://other.example/cb");
    expect_invalid(c, IDP_FIELD_DEFAULT_REDIRECT_URI);
}

/* Empty or malformed scopes, back-channel logout URIs aimed at internal targets, a bad post-logout URI, no app name. */
static void test_client_validate_fields(void)
{
    static const char *const bad_bcl[] = {"javascript:x",       "http://169.254.169.254/",          "http://[fe80::1]:80/bcl",
                                          "http://0xa9fea9fe/", "http://metadata.google.internal/", "http://a@b.example/"};
    idp_client_t *c;

    c = new_client("https://app.example/cb", "");
    expect_invalid(c, IDP_FIELD_SCOPES);
    c = new_client("https://app.example/cb", "openid bad\"scope");
    expect_invalid(c, IDP_FIELD_SCOPES);
    for (size_t i = 0; i != sizeof(bad_bcl) / sizeof(bad_bcl[0]); ++i) {
        c = new_client("https://app.example/cb", "openid");
        c->backchannel_logout_uri = xstrdup(bad_bcl[i]);
        expect_invalid(c, IDP_FIELD_BACKCHANNEL_LOGOUT_URI);
    }
    c = new_client("https://app.example/cb", "openid");
    idp_strv_free(&c->post_logout_redirect_uris);
    idp_strv_split(&c->post_logout_redirect_uris, "https://ok.example/ ftp://bad", 1);
    expect_invalid(c, IDP_FIELD_POST_LOGOUT_REDIRECT_URIS);
    c = new_client("https://app.example/cb", "openid");
    free(c->app_name);
    c->app_name = xstrdup("");
    expect_invalid(c, IDP_FIELD_APP_NAME);
}

/* Introspecting any token: a confidential resource server's right, never a public client's or a node's. */
static void test_client_validate_introspect_any(void)
{
    idp_client_t *c;

    c = new_client("https://app.example/cb", "openid");
    c->introspect_any = 1;
    CHECK(idp_client_validate(c, NULL) == 0);
    c->auth_method = IDP_AUTH_NONE;
    expect_invalid(c, IDP_FIELD_INTROSPECT_ANY);
    c = new_client("https://app.example/cb", "openid");
    c->introspect_any = 1;
    c->node_id = xstrdup("node-1");
    expect_invalid(c, IDP_FIELD_INTROSPECT_ANY);
}

/* Expects match(c, uri) to give registered (NULL = no match). */
static void expect_match(const idp_client_t *c, const char *uri, const char *registered)
{
    const char *m = idp_client_match_redirect(c, uri);
    if (registered == NULL ? m != NULL : m == NULL || strcmp(m, registered) != 0) {
        ++failures;
        fprintf(stderr, "%s client: %s matched %s, expected %s\n", c->auth_method == IDP_AUTH_NONE ? "public" : "confidential",
                uri != NULL ? uri : "(null)", m != NULL ? m : "nothing", registered != NULL ? registered : "nothing");
    }
}

static void test_match_redirect(void)
{
    static const char uris[] = "https://app.example/cb http://127.0.0.1:8080/cb http://[::1]:9/native?x=1 "
                               "http://127.0.0.1/noport http://localhost:7000/cb";
    idp_client_t *conf = new_client(uris, "openid"), *pub = new_client(uris, "openid");
    pub->auth_method = IDP_AUTH_NONE;

    /* exact matches, for every client */
    for (int i = 0; i != 2; ++i) {
        idp_client_t *c = i == 0 ? conf : pub;
        expect_match(c, "https://app.example/cb", "https://app.example/cb");
        expect_match(c, "http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb");
        expect_match(c, "http://localhost:7000/cb", "http://localhost:7000/cb");
        expect_match(c, "https://app.example/cb/", NULL);
        expect_match(c, "https://app.example:444/cb", NULL); /* only loopback may change port */
        expect_match(c, "https://APP.example/cb", NULL);
        expect_match(c, NULL, NULL);
    }
    /* RFC 8252 §7.3 any port: a public (native) client only */
    expect_match(pub, "http://127.0.0.1:55123/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://127.0.0.1/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://127.0.0.1:1/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://127.0.0.1:65535/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://[::1]:40000/native?x=1", "http://[::1]:9/native?x=1");
    expect_match(pub, "http://127.0.0.1:7/noport", "http://127.0.0.1/noport");
    expect_match(conf, "http://127.0.0.1:55123/cb", NULL);
    expect_match(conf, "http://127.0.0.1/cb", NULL);
    expect_match(conf, "http://[::1]:40000/native?x=1", NULL);
    expect_match(conf, "http://127.0.0.1:7/noport", NULL);
    /* ports outside 1..65535 or not plain digits, other paths, queries, schemes and hosts never match */
    static const char *const never[] = {"http://127.0.0.1:65536/cb",
                                        "http://127.0.0.1:99999/cb",
                                        "http://127.0.0.1:123456/cb",
                                        "http://127.0.0.1:0/cb",
                                        "http://127.0.0.1:08080/cb",
                                        "http://127.0.0.1:/cb",
                                        "http://127.0.0.1:+80/cb",
                                        "http://127.0.0.1:8080:80/cb",
                                        "http://127.0.0.1:55123/other",
                                        "http://127.0.0.1:55123/cb?x",
                                        "http://127.0.0.1:55123/cb/",
                                        "https://127.0.0.1:55123/cb",
                                        "http://localhost:8080/cb",
                                        "http://localhost:7001/cb",
                                        "http://127.0.0.2:8080/cb",
                                        "http://2130706433:8080/cb",
                                        "http://127.1:8080/cb",
                                        "http://0x7f.0.0.1:8080/cb",
                                        "http://[::ffff:127.0.0.1]:8080/cb",
                                        "http://[0:0:0:0:0:0:0:1]:9/native?x=1",
                                        "http://127.0.0.1.evil.example:8080/cb",
                                        "http://evil@127.0.0.1:8080/cb",
                                        "http://[::1]:40000/native?x=2",
                                        "http://127.0.0.1:40000/native?x=1" /* hosts differ */};
    for (size_t i = 0; i != sizeof(never) / sizeof(never[0]); ++i) {
        expect_match(pub, never[i], NULL);
        expect_match(conf, never[i], NULL);
    }
    idp_client_free(conf);
    idp_client_free(pub);
}

static char web_id[64], cc_id[64], web_secret[44];

static int clients_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = new_client("https://app.example/cb", "openid profile"), *g = NULL;

    idp_client_new_secret(c, web_secret);
    CHECK(strlen(web_secret) == 43 && c->secret_hash != NULL && strcmp(c->secret_hash, web_secret) != 0);
    idp_strv_free(&c->allowed_roles);
    idp_strv_split(&c->allowed_roles, "Employee", 0);
    CHECK(idp_client_put(txn, c) == 0);
    CHECK(c->client_id != NULL && strlen(c->client_id) == 22 && c->created_at != 0);
    snprintf(web_id, sizeof(web_id), "%s", c->client_id);
    idp_client_free(c);

    c = new_client("", "read write");
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    idp_strv_free(&c->service_roles);
    idp_strv_split(&c->service_roles, "Temp", 0);
    CHECK(idp_client_put(txn, c) == 0);
    snprintf(cc_id, sizeof(cc_id), "%s", c->client_id);
    idp_client_free(c);

    c = new_client("https://app.example/cb", "openid");
    idp_strv_free(&c->allowed_roles);
    idp_strv_split(&c->allowed_roles, "Ghost", 0);
    CHECK(idp_client_put(txn, c) == HUB_E_NOTFOUND);
    idp_client_free(c);
    c = new_client("ftp://x", "openid");
    CHECK(idp_client_put(txn, c) == HUB_E_INVAL);
    idp_client_free(c);

    CHECK(idp_client_get(txn, web_id, &g) == 0 && g != NULL);
    if (g != NULL) {
        CHECK(strcmp(g->app_name, "app") == 0 && g->enabled && g->grant_type == IDP_GRANT_AUTHORIZATION_CODE);
        CHECK(g->scopes.n == 2 && strcmp(g->scopes.v[1], "profile") == 0);
        CHECK(strcmp(g->default_redirect_uri, "https://app.example/cb") == 0);
        CHECK(g->allowed_roles.n == 1 && strcmp(g->allowed_roles.v[0], "Employee") == 0);
        CHECK(idp_client_secret_ok(g, web_secret, strlen(web_secret)));
        CHECK(!idp_client_secret_ok(g, web_secret, strlen(web_secret) - 1));
        CHECK(!idp_client_secret_ok(g, "wrong", 5));
        json_t *j = idp_client_to_json(g);
        CHECK(json_object_get(j, "secret_hash") == NULL && json_object_get(j, "registration_token_hash") == NULL);
        CHECK(strcmp(json_string_value(json_object_get(j, "grant_type")), "authorization_code") == 0);
        CHECK(strcmp(json_string_value(json_object_get(j, "auth_method")), "client_secret_basic") == 0);
        CHECK(json_is_false(json_object_get(j, "introspect_any")));
        json_decref(j);
        /* an update keeps the id */
        g->skip_authorization = 1;
        g->introspect_any = 1;
        CHECK(idp_client_put(txn, g) == 0 && strcmp(g->client_id, web_id) == 0);
        idp_client_free(g);
    }
    CHECK(idp_client_get(txn, web_id, &g) == 0 && g != NULL && g->skip_authorization && g->introspect_any);
    if (g != NULL) {
        json_t *j = idp_client_to_json(g);
        CHECK(json_is_true(json_object_get(j, "introspect_any")));
        json_decref(j);
        g->introspect_any = 0;
        CHECK(idp_client_put(txn, g) == 0);
    }
    idp_client_free(g);
    CHECK(idp_client_get(txn, web_id, &g) == 0 && g != NULL && !g->introspect_any);
    idp_client_free(g);
    CHECK(idp_client_get(txn, cc_id, &g) == 0 && g != NULL && g->grant_type == IDP_GRANT_CLIENT_CREDENTIALS &&
          g->redirect_uris.n == 0 && g->default_redirect_uri == NULL && g->service_roles.n == 1);
    idp_client_free(g);
    CHECK(idp_client_get(txn, "nope", &g) == HUB_E_NOTFOUND && g == NULL);
    /* roles held by clients cannot be deleted */
    CHECK(idp_role_del(txn, "Temp") == HUB_E_BUSY);
    CHECK(idp_role_held_by_client(txn, "Temp") == 1 && idp_role_held_by_client(txn, "Employee") == 1);
    CHECK(idp_role_held_by_client(txn, IDP_ROLE_GUEST) == 0);
    return 0;
}

/* allowed_roles: any user when empty, else one of them held (whatever else the user holds) */
static void test_client_allows_user(void)
{
    idp_client_t *c = new_client("https://app.example/cb", "openid");
    idp_user_t u = {0};

    idp_strv_split(&u.roles, "", 0);
    CHECK(idp_client_allows_user(c, &u) == 1);
    idp_strv_free(&c->allowed_roles);
    idp_strv_split(&c->allowed_roles, "Employee;Manager", 0);
    CHECK(idp_client_allows_user(c, &u) == 0);
    idp_strv_free(&u.roles);
    idp_strv_split(&u.roles, "Guest;Manager", 0);
    CHECK(idp_client_allows_user(c, &u) == 1);
    idp_strv_free(&u.roles);
    idp_strv_split(&u.roles, "Guest;employee;MANAGER", 0); /* exact names only */
    CHECK(idp_client_allows_user(c, &u) == 0);
    idp_strv_free(&u.roles);
    idp_client_free(c);
}

static int count_client(void *arg, const idp_client_t *c)
{
    ++*(int *)arg;
    return 0;
}

static int clients_del_txn(hub_txn_t *txn, void *arg)
{
    int n = 0;
    CHECK(idp_client_each(txn, count_client, &n) == 0 && n == 2);
    CHECK(idp_client_del(txn, cc_id) == 0);
    CHECK(idp_client_del(txn, cc_id) == HUB_E_NOTFOUND);
    n = 0;
    CHECK(idp_client_each(txn, count_client, &n) == 0 && n == 1);
    CHECK(idp_role_del(txn, "Temp") == 0);
    return 0;
}

/* Disabling writes the stored record as it is (one an older validation accepted too) and drops its origins from the
 * index; it validates nothing. */
static int disable_txn(hub_txn_t *txn, void *arg)
{
    json_t *o = json_pack("{s:s,s:s,s:b,s:[],s:[s],s:s,s:s}", "client_id", "old-client", "app_name", "old", "enabled", 1, "scopes",
                          "redirect_uris", "https://old.example/cb", "grant_type", "authorization_code", "auth_method",
                          "client_secret_basic");
    idp_client_t *c = NULL;
    idp_strv_t none = {0};

    CHECK(hub_store_put_json(txn, HUB_T_CLIENTS, "old-client", o, 0, 0) == 0);
    json_decref(o);
    CHECK(idp_origins_update(txn, "old-client", NULL, &none) == 0);
    CHECK(idp_client_get(txn, "old-client", &c) == 0 && c != NULL && idp_client_validate(c, NULL) == HUB_E_INVAL);
    if (c != NULL) {
        CHECK(idp_origins_update(txn, "old-client", NULL, &c->redirect_uris) == 0);
        idp_client_free(c);
    }
    CHECK(idp_origins_known(txn, "https://old.example"));
    CHECK(idp_client_disable(txn, "old-client") == 0);
    CHECK(idp_client_get(txn, "old-client", &c) == 0 && c != NULL && !c->enabled && c->scopes.n == 0);
    idp_client_free(c);
    CHECK(!idp_origins_known(txn, "https://old.example"));
    CHECK(idp_client_disable(txn, "nope") == HUB_E_NOTFOUND);
    return 0;
}

/* Generated ids never begin with '-' (they must not read as options on a command line); the txn is rolled back. */
static int ids_txn(hub_txn_t *txn, void *arg)
{
    int dash = 0;
    for (int i = 0; i != 400; ++i) {
        idp_client_t *c = new_client("https://app.example/cb", "openid");
        CHECK(idp_client_put(txn, c) == 0);
        dash += c->client_id[0] == '-';
        idp_client_free(c);
    }
    CHECK(dash == 0);
    return HUB_E_BUSY;
}

static void test_enums(void)
{
    idp_grant_type_t g;
    idp_response_type_t r;
    idp_auth_method_t m;
    CHECK(idp_grant_type_parse("implicit", &g) == 0 && g == IDP_GRANT_IMPLICIT);
    CHECK(idp_grant_type_parse("password", &g) == HUB_E_INVAL);
    CHECK(strcmp(idp_grant_type_name(IDP_GRANT_CLIENT_CREDENTIALS), "client_credentials") == 0);
    CHECK(idp_response_type_parse("token", &r) == 0 && r == IDP_RESPONSE_TOKEN && idp_response_type_parse("id_token", &r) != 0);
    CHECK(strcmp(idp_response_type_name(IDP_RESPONSE_CODE), "code") == 0);
    CHECK(idp_auth_method_parse("none", &m) == 0 && m == IDP_AUTH_NONE && idp_auth_method_parse(NULL, &m) != 0);
    CHECK(strcmp(idp_auth_method_name(IDP_AUTH_SECRET_POST), "client_secret_post") == 0);
}

int main(void)
{
    char *dir = test_tmpdir("idp-client");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        test_tmpdir_remove(dir);
        return 1;
    }
    test_enums();
    test_client_validate_flows();
    test_client_validate_client_credentials();
    test_client_validate_redirect_uris();
    test_client_validate_fields();
    test_client_validate_introspect_any();
    test_match_redirect();
    test_client_allows_user();
    CHECK(in_write(roles_txn, NULL) == 0);
    CHECK(in_write(clients_txn, NULL) == 0);
    CHECK(in_write(clients_del_txn, NULL) == 0);
    CHECK(in_write(disable_txn, NULL) == 0);
    CHECK(in_write(ids_txn, NULL) == HUB_E_BUSY);

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/client");
}
