/* Tests idp/introspect.c in process (tests/support/primary.h): methods, paths and the Frappe alias; bad forms; client
 * authentication required (a public client too); RFC 7662 answers for the caller's own access and refresh tokens, and
 * {"active": false} for anything else: garbage, tokens of other clients (unless the caller may introspect any access
 * token, never a refresh token), a revoked token, a token of a disabled user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/client.h"
#include "idp/mint.h"
#include "tests/check.h"
#include "tests/support/primary.h"

#define CB "https://app.example/cb"

static test_primary_t p;
static char web_secret[44], other_secret[44], rs_secret[44], svc_secret[44], alice[512];
static char web_auth[256], other_auth[256], rs_auth[256], svc_auth[256];

/* The introspection of token by the client of auth: its JSON (new reference), NULL unless 200. */
static json_t *introspect(const char *auth, const char *token)
{
    char *body = malloc(strlen(token) + 16);
    test_req_t *r;
    json_t *doc;

    snprintf(body, strlen(token) + 16, "token=%s", token);
    r = test_primary_request(&p, "POST", "/oauth2/introspect", NULL, auth, NULL, body);
    doc = test_req_done(r) && test_req_status(r) == 200 ? test_req_json(r) : NULL;
    CHECK(doc == NULL || strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    test_req_free(r);
    free(body);
    return doc;
}

static int active(const char *auth, const char *token)
{
    json_t *doc = introspect(auth, token);
    int a = json_is_true(json_object_get(doc, "active"));

    CHECK(doc != NULL && (a || json_object_size(doc) == 1)); /* an inactive answer tells nothing more */
    json_decref(doc);
    return a;
}

static void expect_error(test_req_t *r, int status, const char *error, const char *description)
{
    json_t *doc = test_req_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == status && strcmp(test_json_str(doc, "error"), error) == 0);
    if (description != NULL)
        CHECK(strcmp(test_json_str(doc, "error_description"), description) == 0);
    json_decref(doc);
    test_req_free(r);
}

static void test_methods_paths_and_forms(const char *at)
{
    static const char *const refused[] = {"GET", "PUT", "DELETE", "OPTIONS"};
    char body[4096];

    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/introspect", NULL, web_auth, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "POST") == 0);
        expect_error(r, 405, "invalid_request", "use POST");
    }
    snprintf(body, sizeof(body), "token=%s", at);
    test_req_t *r =
        test_primary_request(&p, "POST", "/api/method/frappe.integrations.oauth2.introspect_token", NULL, web_auth, NULL, body);
    json_t *doc = test_req_json(r);
    CHECK(test_req_status(r) == 200 && json_is_true(json_object_get(doc, "active")));
    json_decref(doc);
    test_req_free(r);
    static const char *const other_paths[] = {"/oauth2/introspect/", "/oauth2/introspectx", "/oauth2/Introspect"};
    for (size_t i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        r = test_primary_request(&p, "POST", other_paths[i], NULL, web_auth, NULL, body);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, web_auth, "application/json", "{}"), 400,
                 "invalid_request", NULL);
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, web_auth, NULL, "token="), 400, "invalid_request",
                 "token is required");
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, web_auth, NULL, "token_type_hint=access_token"), 400,
                 "invalid_request", "token is required");
    snprintf(body, sizeof(body), "token=%s&token=%s", at, at);
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, web_auth, NULL, body), 400, "invalid_request",
                 "a parameter is repeated");
}

static void test_client_authentication(const char *at)
{
    char body[4096];

    snprintf(body, sizeof(body), "token=%s", at);
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, NULL, NULL, body), 401, "invalid_client", NULL);
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, "Basic d2ViOm5vcGU=", NULL, body), 401,
                 "invalid_client", NULL); /* web:nope */
    snprintf(body, sizeof(body), "token=%s&client_id=spa", at);
    expect_error(test_primary_request(&p, "POST", "/oauth2/introspect", NULL, NULL, NULL, body), 401, "invalid_client",
                 "this endpoint requires client credentials");
}

static void test_answers(json_t *tokens)
{
    const char *at = test_json_str(tokens, "access_token"), *rt = test_json_str(tokens, "refresh_token");
    json_t *doc = introspect(web_auth, at), *cc;

    CHECK(json_is_true(json_object_get(doc, "active")) && strcmp(test_json_str(doc, "token_type"), "Bearer") == 0);
    CHECK(strcmp(test_json_str(doc, "client_id"), "web") == 0 && strcmp(test_json_str(doc, "username"), "alice") == 0);
    CHECK(strcmp(test_json_str(doc, "scope"), "openid email") == 0 && strcmp(test_json_str(doc, "iss"), TEST_PRIMARY_ISSUER) == 0);
    CHECK(json_integer_value(json_object_get(doc, "exp")) > json_integer_value(json_object_get(doc, "iat")));
    CHECK(strlen(test_json_str(doc, "sub")) > 0 && strlen(test_json_str(doc, "jti")) == IDP_JTI_MAX &&
          test_json_str(doc, "jti")[IDP_FAMILY_ID_LEN] == '.'); /* it names the family (idp_mint_at_id) */
    json_decref(doc);
    doc = introspect(web_auth, rt);
    CHECK(json_is_true(json_object_get(doc, "active")) && strcmp(test_json_str(doc, "token_type"), "refresh_token") == 0);
    CHECK(strcmp(test_json_str(doc, "client_id"), "web") == 0 && strcmp(test_json_str(doc, "username"), "alice") == 0);
    json_decref(doc);
    /* a client_credentials token: no user */
    cc = test_primary_grant(&p, svc_auth, "grant_type=client_credentials");
    doc = introspect(svc_auth, test_json_str(cc, "access_token"));
    CHECK(json_is_true(json_object_get(doc, "active")) && json_object_get(doc, "username") == NULL);
    CHECK(strcmp(test_json_str(doc, "sub"), "svc") == 0);
    json_decref(doc);
    /* SPEC §4: another client learns nothing of web's tokens; a resource server allowed to, of its access tokens only */
    CHECK(!active(other_auth, at) && !active(other_auth, rt));
    CHECK(active(rs_auth, at) && !active(rs_auth, rt));
    CHECK(!active(web_auth, test_json_str(cc, "access_token")));
    json_decref(cc);
}

static void test_inactive(json_t *tokens)
{
    const char *at = test_json_str(tokens, "access_token");
    char *tampered = strdup(at), body[4096];
    static const char *const garbage[] = {"x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "....", "a%20b"};

    for (size_t i = 0; i != sizeof(garbage) / sizeof(garbage[0]); ++i)
        CHECK(!active(web_auth, garbage[i]));
    tampered[strlen(tampered) - 3] = tampered[strlen(tampered) - 3] == 'A' ? 'B' : 'A';
    CHECK(!active(web_auth, tampered));
    free(tampered);
    /* revoked (RFC 7009) */
    snprintf(body, sizeof(body), "token=%s", at);
    test_req_t *r = test_primary_request(&p, "POST", "/oauth2/revoke", NULL, web_auth, NULL, body);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    CHECK(!active(web_auth, at) && !active(rs_auth, at));
}

static void test_disabled_user(void)
{
    char cookie[512];
    char *sub = test_primary_user(&p, "carol", "carol-password", NULL);
    json_t *tokens;

    CHECK(test_primary_sign_in(&p, "carol", "carol-password", cookie, sizeof(cookie)) == 0);
    tokens = test_primary_code_flow(&p, cookie, "web", web_secret, CB, "openid");
    CHECK(active(web_auth, test_json_str(tokens, "access_token")));
    /* disabled behind the node's back (the record alone, as another process could): its tokens are inactive at once */
    CHECK(test_primary_disable_user(&p, "carol") == 0);
    CHECK(!active(web_auth, test_json_str(tokens, "access_token")) && !active(web_auth, test_json_str(tokens, "refresh_token")));
    json_decref(tokens);
    free(sub);
}

int main(void)
{
    idp_client_t *rs = calloc(1, sizeof(*rs));
    json_t *tokens;
    char *sub;

    test_primary_start(&p, "idp-introspect", NULL);
    sub = test_primary_user(&p, "alice", "alice-password", NULL);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", CB, NULL, 1, web_secret);
    test_primary_client(&p, "other", "authorization_code", "client_secret_basic", CB, NULL, 1, other_secret);
    test_primary_client(&p, "spa", "authorization_code", "none", "https://spa.example/cb", NULL, 1, NULL);
    test_primary_client(&p, "svc", "client_credentials", "client_secret_basic", NULL, "api", 0, svc_secret);
    rs->client_id = strdup("rs");
    rs->app_name = strdup("Resource server");
    rs->enabled = rs->introspect_any = 1;
    rs->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    idp_strv_split(&rs->scopes, "api", 1);
    test_primary_put_client(&p, rs, rs_secret);
    idp_client_free(rs);
    test_basic("web", web_secret, web_auth, sizeof(web_auth));
    test_basic("other", other_secret, other_auth, sizeof(other_auth));
    test_basic("rs", rs_secret, rs_auth, sizeof(rs_auth));
    test_basic("svc", svc_secret, svc_auth, sizeof(svc_auth));
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    tokens = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid email");
    CHECK(tokens != NULL);
    test_methods_paths_and_forms(test_json_str(tokens, "access_token"));
    test_client_authentication(test_json_str(tokens, "access_token"));
    test_answers(tokens);
    test_inactive(tokens);
    test_disabled_user();
    json_decref(tokens);
    test_primary_stop(&p);
    free(sub);
    return check_report("idp/introspect");
}
