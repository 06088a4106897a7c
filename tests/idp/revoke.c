/* Tests idp/revoke.c in process (tests/support/primary.h): methods (the CORS preflight among them), paths and the
 * Frappe alias; bad forms; client authentication required (401 invalid_client), a public client naming itself; RFC 7009
 * answers: 200 whatever the token, a revoked access token inactive, a revoked refresh token taking its family (refresh
 * and access tokens) along, another client's tokens left alone; the answer opened to the client's own origin only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/check.h"
#include "tests/support/primary.h"

#define CB "https://app.example/cb"

static test_primary_t p;
static char web_secret[44], other_secret[44], alice[512], web_auth[256], other_auth[256];

/* POST /oauth2/revoke: the status; the response's Access-Control-Allow-Origin into acao when not NULL. */
static int post_revoke(const char *auth, const char *origin, const char *body, char *acao, size_t cap)
{
    test_req_t *r = test_req_new(&p.loop, "POST", "/oauth2/revoke");
    int status;

    if (auth != NULL)
        test_req_header(r, "authorization", auth);
    if (origin != NULL)
        test_req_header(r, "origin", origin);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    status = test_req_done(r) ? test_req_status(r) : -1;
    if (status == 200)
        CHECK(strcmp(test_req_text(r), "{}") == 0);
    if (acao != NULL)
        snprintf(acao, cap, "%s", test_req_resp_header(r, "access-control-allow-origin", 0) ?: "");
    test_req_free(r);
    return status;
}

static int token_body(char *out, size_t cap, const char *token)
{
    return snprintf(out, cap, "token=%s", token);
}

static int active(const char *token)
{
    char body[4096];
    test_req_t *r;
    json_t *doc;
    int a;

    token_body(body, sizeof(body), token);
    r = test_primary_request(&p, "POST", "/oauth2/introspect", NULL, web_auth, NULL, body);
    doc = test_req_json(r);
    a = json_is_true(json_object_get(doc, "active"));
    json_decref(doc);
    test_req_free(r);
    return a;
}

static void test_methods_and_paths(void)
{
    static const char *const refused[] = {"GET", "PUT", "DELETE", "HEAD"};
    char body[256];

    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/revoke", NULL, web_auth, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "OPTIONS, POST") == 0);
        test_req_free(r);
    }
    /* a preflight from a registered origin, and from another one */
    test_req_t *r = test_req_new(&p.loop, "OPTIONS", "/oauth2/revoke");
    test_req_header(r, "origin", "https://app.example");
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    CHECK(test_req_done(r) && test_req_status(r) == 204);
    CHECK(strcmp(test_req_resp_header(r, "access-control-allow-origin", 0) ?: "", "https://app.example") == 0);
    CHECK(strcmp(test_req_resp_header(r, "access-control-allow-methods", 0) ?: "", "POST") == 0);
    test_req_free(r);
    r = test_req_new(&p.loop, "OPTIONS", "/oauth2/revoke");
    test_req_header(r, "origin", "https://evil.example");
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    CHECK(test_req_done(r) && test_req_status(r) == 204 && test_req_resp_header(r, "access-control-allow-origin", 0) == NULL);
    test_req_free(r);
    token_body(body, sizeof(body), "anything");
    r = test_primary_request(&p, "POST", "/api/method/frappe.integrations.oauth2.revoke_token", NULL, web_auth, NULL, body);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    static const char *const other_paths[] = {"/oauth2/revoke/", "/oauth2/revokex", "/oauth2/Revoke"};
    for (size_t i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        r = test_primary_request(&p, "POST", other_paths[i], NULL, web_auth, NULL, body);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
}

static void test_refusals(void)
{
    char body[256];
    size_t revoked = test_primary_count(&p, HUB_T_REVOKED);

    CHECK(post_revoke(NULL, NULL, "token=x", NULL, 0) == 401);
    CHECK(post_revoke("Basic d2ViOm5vcGU=", NULL, "token=x", NULL, 0) == 401); /* web:nope */
    CHECK(post_revoke("Bearer x", NULL, "token=x", NULL, 0) == 401);
    CHECK(post_revoke(web_auth, NULL, "", NULL, 0) == 400);
    CHECK(post_revoke(web_auth, NULL, "token=", NULL, 0) == 400);
    CHECK(post_revoke(web_auth, NULL, "token=a&token=b", NULL, 0) == 400);
    snprintf(body, sizeof(body), "token=x&client_secret=%s", web_secret);
    CHECK(post_revoke(web_auth, NULL, body, NULL, 0) == 401); /* two methods at once */
    test_req_t *r = test_primary_request(&p, "POST", "/oauth2/revoke", NULL, web_auth, "application/json", "{\"token\":\"x\"}");
    CHECK(test_req_done(r) && test_req_status(r) == 400);
    test_req_free(r);
    /* anything that is no token of ours: 200, nothing written */
    static const char *const garbage[] = {"x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i != sizeof(garbage) / sizeof(garbage[0]); ++i) {
        token_body(body, sizeof(body), garbage[i]);
        CHECK(post_revoke(web_auth, NULL, body, NULL, 0) == 200);
    }
    CHECK(test_primary_count(&p, HUB_T_REVOKED) == revoked);
}

static void test_revocations(void)
{
    json_t *a = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    json_t *b = test_primary_code_flow(&p, alice, "web", web_secret, CB, "openid");
    char body[4096], acao[256], refresh[256];

    CHECK(a != NULL && b != NULL && active(test_json_str(a, "access_token")) && active(test_json_str(b, "refresh_token")));
    /* another client cannot revoke web's tokens: 200, and they stay active */
    token_body(body, sizeof(body), test_json_str(a, "access_token"));
    CHECK(post_revoke(other_auth, NULL, body, NULL, 0) == 200 && active(test_json_str(a, "access_token")));
    token_body(body, sizeof(body), test_json_str(a, "refresh_token"));
    CHECK(post_revoke(other_auth, NULL, body, NULL, 0) == 200 && active(test_json_str(a, "refresh_token")));
    /* the access token alone: its refresh token lives on */
    token_body(body, sizeof(body), test_json_str(a, "access_token"));
    CHECK(post_revoke(web_auth, "https://app.example", body, acao, sizeof(acao)) == 200);
    CHECK(strcmp(acao, "https://app.example") == 0);
    CHECK(!active(test_json_str(a, "access_token")) && active(test_json_str(a, "refresh_token")));
    /* revoking it again, or with a hint naming the other kind, is the same */
    snprintf(body, sizeof(body), "token=%s&token_type_hint=refresh_token", test_json_str(a, "access_token"));
    CHECK(post_revoke(web_auth, "https://evil.example", body, acao, sizeof(acao)) == 200 && acao[0] == '\0');
    /* a refresh token takes its family along: the refresh grant fails, its access token is inactive */
    token_body(body, sizeof(body), test_json_str(b, "refresh_token"));
    CHECK(post_revoke(web_auth, NULL, body, NULL, 0) == 200);
    CHECK(!active(test_json_str(b, "refresh_token")) && !active(test_json_str(b, "access_token")));
    snprintf(refresh, sizeof(refresh), "grant_type=refresh_token&refresh_token=%s", test_json_str(b, "refresh_token"));
    json_t *none = test_primary_grant(&p, web_auth, refresh);
    CHECK(none == NULL);
    json_decref(a);
    json_decref(b);
}

static void test_public_client(void)
{
    char body[256];

    /* a public client names itself (no secret): the endpoint takes it (SPEC §10: a single-page app revokes its tokens) */
    CHECK(post_revoke(NULL, "https://spa.example", "token=x&client_id=spa", NULL, 0) == 200);
    CHECK(post_revoke(NULL, NULL, "token=x&client_id=nobody", NULL, 0) == 401);
    snprintf(body, sizeof(body), "token=x&client_id=web");
    CHECK(post_revoke(NULL, NULL, body, NULL, 0) == 401); /* a confidential client must authenticate */
}

int main(void)
{
    char *sub;

    test_primary_start(&p, "idp-revoke", NULL);
    sub = test_primary_user(&p, "alice", "alice-password", NULL);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", CB, NULL, 1, web_secret);
    test_primary_client(&p, "other", "authorization_code", "client_secret_basic", "https://other.example/cb", NULL, 1,
                        other_secret);
    test_primary_client(&p, "spa", "authorization_code", "none", "https://spa.example/cb", NULL, 1, NULL);
    test_basic("web", web_secret, web_auth, sizeof(web_auth));
    test_basic("other", other_secret, other_auth, sizeof(other_auth));
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    test_methods_and_paths();
    test_refusals();
    test_revocations();
    test_public_client();
    test_primary_stop(&p);
    free(sub);
    return check_report("idp/revoke");
}
