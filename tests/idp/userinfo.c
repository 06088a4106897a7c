/* Tests idp/userinfo.c in process (tests/support/primary.h): methods (CORS preflight among them), paths and the Frappe
 * alias; no credentials (401 with a bare challenge), credentials malformed or sent two ways (400), tokens that are no
 * live access token of an active user (401 invalid_token with its challenge), a token without openid (403
 * insufficient_scope); the claims each scope discloses, by header or form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/check.h"
#include "tests/support/primary.h"

#define CB "https://app.example/cb"

static test_primary_t p;
static char web_secret[44], svc_secret[44], api_secret[44], alice[512], web_auth[256];

/* GET (body NULL) or POST /oauth2/userinfo with the Authorization header value auth (may be NULL). */
static test_req_t *userinfo(const char *path, const char *auth, const char *body)
{
    return test_primary_request(&p, body != NULL ? "POST" : "GET", path != NULL ? path : "/oauth2/userinfo", NULL, auth, NULL,
                                body);
}

static const char *bearer(const char *token, char *out, size_t cap)
{
    snprintf(out, cap, "Bearer %s", token);
    return out;
}

/* An error answer: status, error and WWW-Authenticate; frees r. */
static void expect_error(test_req_t *r, int status, const char *error, const char *challenge)
{
    json_t *doc = test_req_json(r);

    CHECK(test_req_done(r) && test_req_status(r) == status && strcmp(test_json_str(doc, "error"), error) == 0);
    if (challenge != NULL)
        CHECK(strcmp(test_req_resp_header(r, "www-authenticate", 0) ?: "", challenge) == 0);
    else
        CHECK(test_req_resp_header(r, "www-authenticate", 0) == NULL);
    json_decref(doc);
    test_req_free(r);
}

static void test_methods_and_paths(const char *at)
{
    static const char *const refused[] = {"PUT", "DELETE", "PATCH"};
    char auth[4096];

    bearer(at, auth, sizeof(auth));
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/userinfo", NULL, auth, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "OPTIONS, GET, POST") == 0);
        test_req_free(r);
    }
    test_req_t *r = test_primary_request(&p, "OPTIONS", "/oauth2/userinfo", NULL, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 204);
    test_req_free(r);
    r = userinfo("/api/method/frappe.integrations.oauth2.openid_profile", auth, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    static const char *const other_paths[] = {"/oauth2/userinfo/", "/oauth2/userinfox", "/oauth2/UserInfo",
                                              "/api/method/frappe.integrations.oauth2.openid_profilex"};
    for (size_t i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        r = userinfo(other_paths[i], auth, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
}

static void test_no_or_bad_credentials(const char *at)
{
    char auth[4096], body[4096];
    static const char *const malformed[] = {"Basic d2ViOng=", "Bearer", "Bearer ", "Bearer    ", "Bearer a b", "Token abc"};

    /* RFC 6750 §3.1: no credentials at all, a bare challenge */
    expect_error(userinfo(NULL, NULL, NULL), 401, "invalid_token", "Bearer realm=\"hub\"");
    expect_error(userinfo(NULL, NULL, "other=1"), 401, "invalid_token", "Bearer realm=\"hub\"");
    for (size_t i = 0; i != sizeof(malformed) / sizeof(malformed[0]); ++i)
        expect_error(userinfo(NULL, malformed[i], NULL), 400, "invalid_request", NULL);
    /* two ways at once, or twice in the form */
    snprintf(body, sizeof(body), "access_token=%s", at);
    expect_error(userinfo(NULL, bearer(at, auth, sizeof(auth)), body), 400, "invalid_request", NULL);
    snprintf(body, sizeof(body), "access_token=%s&access_token=%s", at, at);
    expect_error(userinfo(NULL, NULL, body), 400, "invalid_request", NULL);
    /* tokens that are not ours, or no longer good */
    char *tampered = strdup(at);
    tampered[strlen(tampered) - 4] = tampered[strlen(tampered) - 4] == 'A' ? 'B' : 'A';
    const char *const bad[] = {"x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", tampered};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        expect_error(userinfo(NULL, bearer(bad[i], auth, sizeof(auth)), NULL), 401, "invalid_token",
                     "Bearer realm=\"hub\", error=\"invalid_token\"");
    free(tampered);
    /* an id_token is no access token */
    json_t *tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    expect_error(userinfo(NULL, bearer(test_json_str(tokens, "id_token"), auth, sizeof(auth)), NULL), 401, "invalid_token",
                 "Bearer realm=\"hub\", error=\"invalid_token\"");
    json_decref(tokens);
}

static void test_scopes_and_users(void)
{
    char auth[4096], cookie[512], basic[256];
    json_t *tokens, *doc;
    test_req_t *r;

    /* without openid: 403 insufficient_scope */
    tokens = test_primary_grant(&p, test_basic("api", api_secret, basic, sizeof(basic)), "grant_type=client_credentials");
    expect_error(userinfo(NULL, bearer(test_json_str(tokens, "access_token"), auth, sizeof(auth)), NULL), 403, "insufficient_scope",
                 "Bearer realm=\"hub\", error=\"insufficient_scope\"");
    json_decref(tokens);
    /* openid, but a client's own token: no user */
    tokens = test_primary_grant(&p, test_basic("svc", svc_secret, basic, sizeof(basic)), "grant_type=client_credentials");
    expect_error(userinfo(NULL, bearer(test_json_str(tokens, "access_token"), auth, sizeof(auth)), NULL), 401, "invalid_token",
                 "Bearer realm=\"hub\", error=\"invalid_token\"");
    json_decref(tokens);
    /* openid alone: sub and iss only */
    tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    r = userinfo(NULL, bearer(test_json_str(tokens, "access_token"), auth, sizeof(auth)), NULL);
    doc = test_req_json(r);
    CHECK(test_req_status(r) == 200 && json_object_size(doc) == 2 && strlen(test_json_str(doc, "sub")) > 0);
    CHECK(strcmp(test_json_str(doc, "iss"), TEST_PRIMARY_ISSUER) == 0);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    json_decref(doc);
    test_req_free(r);
    json_decref(tokens);
    /* every scope, by the form this time */
    tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid profile email roles");
    char body[4096];
    snprintf(body, sizeof(body), "access_token=%s", test_json_str(tokens, "access_token"));
    r = userinfo(NULL, NULL, body);
    doc = test_req_json(r);
    CHECK(test_req_status(r) == 200 && strcmp(test_json_str(doc, "email"), "alice@example.com") == 0);
    CHECK(strcmp(test_json_str(doc, "name"), "Test User") == 0 && strcmp(test_json_str(doc, "preferred_username"), "alice") == 0);
    CHECK(json_array_size(json_object_get(doc, "roles")) == 1);
    json_decref(doc);
    test_req_free(r);
    json_decref(tokens);
    /* a user since disabled */
    char *sub = test_primary_user(&p, "carol", "carol-password", NULL);
    CHECK(test_primary_sign_in(&p, "carol", "carol-password", cookie, sizeof(cookie)) == 0);
    tokens = test_primary_code_flow(&p, cookie, "web", web_secret, CB, "openid");
    CHECK(test_primary_disable_user(&p, "carol") == 0);
    expect_error(userinfo(NULL, bearer(test_json_str(tokens, "access_token"), auth, sizeof(auth)), NULL), 401, "invalid_token",
                 "Bearer realm=\"hub\", error=\"invalid_token\"");
    json_decref(tokens);
    free(sub);
}

static void test_revoked(void)
{
    json_t *tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    char auth[4096], body[4096];
    test_req_t *r;

    snprintf(body, sizeof(body), "token=%s", test_json_str(tokens, "access_token"));
    r = test_primary_request(&p, "POST", "/oauth2/revoke", NULL, web_auth, NULL, body);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    expect_error(userinfo(NULL, bearer(test_json_str(tokens, "access_token"), auth, sizeof(auth)), NULL), 401, "invalid_token",
                 "Bearer realm=\"hub\", error=\"invalid_token\"");
    json_decref(tokens);
}

int main(void)
{
    static const char *const employee[] = {"Employee", NULL};
    json_t *tokens;
    char *sub;

    test_primary_start(&p, "idp-userinfo", NULL);
    sub = test_primary_user(&p, "alice", "alice-password", employee);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", CB, NULL, 1, web_secret);
    test_primary_client(&p, "svc", "client_credentials", "client_secret_basic", NULL, "openid api", 0, svc_secret);
    test_primary_client(&p, "api", "client_credentials", "client_secret_basic", NULL, "api", 0, api_secret);
    test_basic("web", web_secret, web_auth, sizeof(web_auth));
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid email");
    CHECK(tokens != NULL);
    test_methods_and_paths(test_json_str(tokens, "access_token"));
    test_no_or_bad_credentials(test_json_str(tokens, "access_token"));
    test_scopes_and_users();
    test_revoked();
    json_decref(tokens);
    test_primary_stop(&p);
    free(sub);
    return check_report("idp/userinfo");
}
