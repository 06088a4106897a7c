/* Tests idp/register.c in process (tests/support/primary.h): RFC 7591 registration with join tokens (methods, paths,
 * the Frappe alias), tokens missing, wrong or used; bodies that are no metadata; metadata refused with the error its
 * field calls for (invalid_redirect_uri for the redirect URIs, invalid_client_metadata otherwise) and a node's shape;
 * the 201 answer; and the RFC 7592 read of a registration with its access token. A refusal stores nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/join_token.h"
#include "tests/check.h"
#include "tests/support/primary.h"

#define NODE_MD                                                                                                                    \
    "{\"client_name\":\"node-a\",\"redirect_uris\":[\"https://node.example/auth/callback\"],"                                      \
    "\"backchannel_logout_uri\":\"https://node.example/auth/backchannel-logout\"}"

static test_primary_t p;

static int token_txn(hub_txn_t *txn, void *arg)
{
    return idp_join_token_create(txn, "node-a", 3600, arg);
}

/* A new join token, "Bearer <token>" into auth. */
static void join_token(char auth[64])
{
    char token[44];
    CHECK(hub_store_write(p.store, token_txn, token) == 0);
    snprintf(auth, 64, "Bearer %s", token);
}

static test_req_t *post(const char *path, const char *auth, const char *ctype, const char *body)
{
    return test_primary_request(&p, "POST", path, NULL, auth, ctype != NULL ? ctype : "application/json", body);
}

#define expect_error(...) expect_error_at(__LINE__, __VA_ARGS__)
static void expect_error_at(int line, test_req_t *r, int status, const char *error, const char *description)
{
    json_t *doc = test_req_json(r);
    int before = failures;

    CHECK(test_req_done(r) && test_req_status(r) == status && strcmp(test_json_str(doc, "error"), error) == 0);
    if (description != NULL)
        CHECK(strcmp(test_json_str(doc, "error_description"), description) == 0);
    if (failures != before)
        fprintf(stderr, "  (line %d: %d %s)\n", line, test_req_status(r), test_req_text(r));
    json_decref(doc);
    test_req_free(r);
}

static void test_methods_and_paths(void)
{
    static const char *const refused[] = {"GET", "PUT", "DELETE", "OPTIONS"};
    char auth[64];

    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/register", NULL, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "POST") == 0);
        expect_error(r, 405, "invalid_request", "use POST");
    }
    static const char *const other_paths[] = {"/oauth2/registerx", "/oauth2/Register", "/oauth2/register_client"};
    for (size_t i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        test_req_t *r = post(other_paths[i], NULL, NULL, NODE_MD);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
    /* under /oauth2/register/ is the RFC 7592 read (GET, one segment): no registration there, and nothing to read at
     * no segment or at two */
    static const char *const under[] = {"/oauth2/register/", "/oauth2/register/a/b", "/oauth2/register/a/"};
    for (size_t i = 0; i != sizeof(under) / sizeof(under[0]); ++i) {
        test_req_t *r = post(under[i], NULL, NULL, NODE_MD);
        CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET") == 0);
        test_req_free(r);
        expect_error(test_primary_request(&p, "GET", under[i], NULL, "Bearer x", NULL, NULL), 404, "not_found", NULL);
    }
    /* the Frappe alias registers as the native path does */
    join_token(auth);
    test_req_t *r = post("/api/method/frappe.integrations.oauth2.register_client", auth, NULL, NODE_MD);
    CHECK(test_req_done(r) && test_req_status(r) == 201);
    test_req_free(r);
}

static void test_join_tokens(void)
{
    size_t clients = test_primary_count(&p, HUB_T_CLIENTS), tokens;
    char auth[64];

    expect_error(post("/oauth2/register", NULL, NULL, NODE_MD), 401, "invalid_token",
                 "a join token is required (Authorization: Bearer)");
    expect_error(post("/oauth2/register", "Basic bm9kZTpzZWNyZXQ=", NULL, NODE_MD), 401, "invalid_token", NULL);
    expect_error(post("/oauth2/register", "Bearer ", NULL, NODE_MD), 401, "invalid_token", NULL);
    static const char *const wrong[] = {"Bearer x", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "bearer nope"};
    for (size_t i = 0; i != sizeof(wrong) / sizeof(wrong[0]); ++i)
        expect_error(post("/oauth2/register", wrong[i], NULL, NODE_MD), 401, "invalid_token",
                     "unknown, used or expired join token");
    CHECK(test_primary_count(&p, HUB_T_CLIENTS) == clients);
    /* a token registers one node: used once, gone */
    join_token(auth);
    tokens = test_primary_count(&p, HUB_T_JOIN_TOKENS);
    test_req_t *r = post("/oauth2/register", auth, NULL, NODE_MD);
    CHECK(test_req_done(r) && test_req_status(r) == 201);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_JOIN_TOKENS) == tokens - 1);
    expect_error(post("/oauth2/register", auth, NULL, NODE_MD), 401, "invalid_token", "unknown, used or expired join token");
}

static void test_bad_bodies(void)
{
    size_t clients = test_primary_count(&p, HUB_T_CLIENTS), tokens;
    char auth[64], *big = malloc(70000);

    join_token(auth);
    tokens = test_primary_count(&p, HUB_T_JOIN_TOKENS);
    static const char *const bodies[] = {"",  "not json", "[]", "\"x\"", "{\"client_name\":\"a\",\"client_name\":\"b\"}",
                                         "{", "null"};
    for (size_t i = 0; i != sizeof(bodies) / sizeof(bodies[0]); ++i)
        expect_error(post("/oauth2/register", auth, NULL, bodies[i]), 400, "invalid_client_metadata",
                     "body: expected a JSON object");
    memset(big, ' ', 69999);
    big[0] = '{';
    big[69998] = '}';
    big[69999] = '\0';
    expect_error(post("/oauth2/register", auth, NULL, big), 413, "invalid_request", "request body too large");
    free(big);
    /* nothing consumed, nothing written */
    CHECK(test_primary_count(&p, HUB_T_JOIN_TOKENS) == tokens && test_primary_count(&p, HUB_T_CLIENTS) == clients);
}

static void test_bad_metadata(void)
{
    static const struct {
        const char *md, *error, *description;
    } cases[] = {
        {"{\"client_name\":\"n\"}", "invalid_redirect_uri", "redirect_uris: required for this grant type"},
        {"{\"redirect_uris\":\"https://node.example/cb\"}", "invalid_redirect_uri", "redirect_uris: expected an array of URLs"},
        {"{\"redirect_uris\":[\"https://u:p@node.example/cb\"]}", "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"https://node.example/cb#f\"]}", "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"ftp://node.example/cb\"]}", "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"http://169.254.169.254/cb\"]}", "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"http://0x7f.1/cb\"]}", "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"https://node.example/cb\",\"https://other.example/cb\"]}", "invalid_redirect_uri",
         "redirect_uris: a node's redirect URIs must share one origin"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"backchannel_logout_uri\":\"https://other.example/bc\"}",
         "invalid_client_metadata", "backchannel_logout_uri: must be on the origin of the redirect URIs"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"backchannel_logout_uri\":\"http://[fe80::1]/bc\"}",
         "invalid_client_metadata", NULL},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"grant_types\":[\"implicit\"],\"response_types\":[\"token\"]}",
         "invalid_client_metadata", "grant_types: a node registers authorization_code (with refresh_token) only"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"grant_types\":[\"password\"]}", "invalid_client_metadata",
         "grant_types: unsupported grant type"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"response_types\":[\"token\"]}", "invalid_client_metadata",
         "response_types: does not match grant_types"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"token_endpoint_auth_method\":\"none\"}", "invalid_client_metadata",
         "token_endpoint_auth_method: a node is a confidential client (client_secret_basic or client_secret_post)"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"token_endpoint_auth_method\":\"private_key_jwt\"}",
         "invalid_client_metadata", "token_endpoint_auth_method: unsupported method"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"scope\":\"openid;profile\"}", "invalid_client_metadata",
         "scope: invalid character"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"client_name\":\"\"}", "invalid_client_metadata",
         "client_name: expected a non-empty string"},
        {"{\"redirect_uris\":[\"https://node.example/cb\"],\"client_name\":7}", "invalid_client_metadata",
         "client_name: expected a non-empty string"},
    };
    size_t clients = test_primary_count(&p, HUB_T_CLIENTS), tokens;
    char auth[64];

    join_token(auth);
    tokens = test_primary_count(&p, HUB_T_JOIN_TOKENS);
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i)
        expect_error(post("/oauth2/register", auth, NULL, cases[i].md), 400, cases[i].error, cases[i].description);
    CHECK(test_primary_count(&p, HUB_T_JOIN_TOKENS) == tokens && test_primary_count(&p, HUB_T_CLIENTS) == clients);
}

static void test_register_and_read(void)
{
    char auth[64], path[256], rat[128], other_rat[128];
    test_req_t *r;
    json_t *doc, *other;

    join_token(auth);
    r = post("/oauth2/register", auth, NULL, NODE_MD);
    doc = test_req_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == 201);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    CHECK(strlen(test_json_str(doc, "client_id")) > 0 && strlen(test_json_str(doc, "client_secret")) == 43);
    CHECK(strcmp(test_json_str(doc, "client_name"), "node-a") == 0);
    CHECK(strcmp(test_json_str(doc, "token_endpoint_auth_method"), "client_secret_basic") == 0);
    CHECK(strcmp(test_json_str(doc, "backchannel_logout_uri"), "https://node.example/auth/backchannel-logout") == 0);
    snprintf(path, sizeof(path), TEST_PRIMARY_ISSUER "/oauth2/register/%s", test_json_str(doc, "client_id"));
    CHECK(strcmp(test_json_str(doc, "registration_client_uri"), path) == 0);
    snprintf(rat, sizeof(rat), "Bearer %s", test_json_str(doc, "registration_access_token"));
    test_req_free(r);
    join_token(auth);
    r = post("/oauth2/register", auth, NULL, NODE_MD);
    other = test_req_json(r);
    snprintf(other_rat, sizeof(other_rat), "Bearer %s", test_json_str(other, "registration_access_token"));
    test_req_free(r);
    /* RFC 7592 read: with its own access token only; no secret in it */
    snprintf(path, sizeof(path), "/oauth2/register/%s", test_json_str(doc, "client_id"));
    r = test_primary_request(&p, "GET", path, NULL, rat, NULL, NULL);
    json_t *read = test_req_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == 200 &&
          strcmp(test_json_str(read, "client_id"), test_json_str(doc, "client_id")) == 0);
    CHECK(json_object_get(read, "client_secret") == NULL && json_object_get(read, "registration_access_token") == NULL);
    json_decref(read);
    test_req_free(r);
    const char *const wrong[] = {NULL, "Bearer x", other_rat, "Basic eDp5"};
    for (size_t i = 0; i != sizeof(wrong) / sizeof(wrong[0]); ++i)
        expect_error(test_primary_request(&p, "GET", path, NULL, wrong[i], NULL, NULL), 401, "invalid_token",
                     "invalid registration access token");
    expect_error(test_primary_request(&p, "GET", "/oauth2/register/nobody", NULL, rat, NULL, NULL), 401, "invalid_token", NULL);
    r = test_primary_request(&p, "POST", path, NULL, rat, "application/json", "{}");
    CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET") == 0);
    expect_error(r, 405, "invalid_request", "use GET");
    json_decref(doc);
    json_decref(other);
}

int main(void)
{
    test_primary_start(&p, "idp-register", NULL);
    test_methods_and_paths();
    test_join_tokens();
    test_bad_bodies();
    test_bad_metadata();
    test_register_and_read();
    test_primary_stop(&p);
    return check_report("idp/register_endpoint");
}
