/* Tests idp/logout.c in process (tests/support/primary.h): /logout (methods, the confirmation page, its form token
 * refused every wrong way, Cancel, Sign out, next kept to this origin) and /oauth2/logout (methods, bad requests
 * answered with a page, a hint naming the browser's own session ending it at once and going back with state, any
 * other hint asking first, a hint alone ending nothing). The session lives until a confirmed sign-out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/client.h"
#include "tests/check.h"
#include "tests/support/primary.h"

#define CB "https://app.example/cb"
#define BYE "https%3A%2F%2Fapp.example%2Fbye"

static test_primary_t p;
static char web_secret[44];

/* 1 when the session of cookie is live (the sign-in form says who is signed in). */
static int signed_in(const char *cookie)
{
    test_req_t *r = test_primary_request(&p, "GET", "/login", cookie, NULL, NULL, NULL);
    int in = strstr(test_req_text(r), "id=\"signed-in\"") != NULL;
    test_req_free(r);
    return in;
}

/* A request; its status, Location into location (may be NULL), and the page's csrf_token into token (may be NULL). */
static int ask(const char *method, const char *path, const char *cookie, const char *body, char *location, char token[128])
{
    test_req_t *r = test_primary_request(&p, method, path, cookie, NULL, NULL, body);
    int status = test_req_done(r) ? test_req_status(r) : -1;

    if (location != NULL)
        snprintf(location, 1024, "%s", test_req_resp_header(r, "location", 0) ?: "");
    if (token != NULL && test_form_value(test_req_text(r), "csrf_token", token, 128) != 0)
        token[0] = '\0';
    test_req_free(r);
    return status;
}

static void test_methods_and_paths(const char *cookie)
{
    static const char *const refused[] = {"PUT", "DELETE", "PATCH", "OPTIONS"};

    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/logout", cookie, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405 &&
              strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD, POST") == 0);
        test_req_free(r);
        r = test_primary_request(&p, refused[i], "/oauth2/logout", cookie, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, POST") == 0);
        test_req_free(r);
    }
    static const char *const other_paths[] = {"/logout/", "/logoutx", "/oauth2/logout/", "/oauth2/logoutx", "/LOGOUT"};
    for (size_t i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i)
        CHECK(ask("GET", other_paths[i], cookie, NULL, NULL, NULL) == 404);
    CHECK(signed_in(cookie));
}

static void test_own_logout(char *cookie, size_t cap)
{
    char token[128], body[512], location[1024], other[512];

    /* asking is harmless */
    CHECK(ask("GET", "/logout", cookie, NULL, NULL, token) == 200 && token[0] != '\0');
    CHECK(ask("HEAD", "/logout", cookie, NULL, NULL, NULL) == 200);
    CHECK(signed_in(cookie));
    /* no, a wrong or another session's token, no decision: nothing ends */
    CHECK(test_primary_sign_in(&p, "bob", "bob-password", other, sizeof(other)) == 0);
    char other_token[128];
    CHECK(ask("GET", "/logout", other, NULL, NULL, other_token) == 200);
    const char *const forms[] = {"decision=yes", "csrf_token=x&decision=yes", "csrf_token=&decision=yes", NULL};
    for (size_t i = 0; forms[i] != NULL; ++i)
        CHECK(ask("POST", "/logout", cookie, forms[i], NULL, NULL) == 400);
    snprintf(body, sizeof(body), "csrf_token=%s&decision=yes", other_token);
    CHECK(ask("POST", "/logout", cookie, body, NULL, NULL) == 400);
    static const char *const decisions[] = {"", "&decision=maybe", "&decision=yes&decision=yes", "&decision=YES"};
    for (size_t i = 0; i != sizeof(decisions) / sizeof(decisions[0]); ++i) {
        snprintf(body, sizeof(body), "csrf_token=%s%s", token, decisions[i]);
        CHECK(ask("POST", "/logout", cookie, body, NULL, NULL) == 400);
    }
    CHECK(signed_in(cookie) && signed_in(other));
    /* Cancel */
    snprintf(body, sizeof(body), "csrf_token=%s&decision=no", token);
    CHECK(ask("POST", "/logout", cookie, body, location, NULL) == 302 && strcmp(location, "/login") == 0);
    CHECK(signed_in(cookie));
    /* Sign out, on to next: this origin's paths only */
    size_t sessions = test_primary_count(&p, HUB_T_SESSIONS);
    snprintf(body, sizeof(body), "csrf_token=%s&decision=yes", token);
    CHECK(ask("POST", "/logout?next=%2F%2Fevil.example", cookie, body, location, NULL) == 200 && location[0] == '\0');
    CHECK(!signed_in(cookie) && signed_in(other));
    CHECK(test_primary_count(&p, HUB_T_SESSIONS) == sessions - 2); /* the session and its "sid:" pointer */
    /* without a session: nothing to ask, on to next */
    CHECK(ask("GET", "/logout?next=%2Fsomewhere", cookie, NULL, location, NULL) == 302 && strcmp(location, "/somewhere") == 0);
    CHECK(ask("GET", "/logout?next=https%3A%2F%2Fevil.example", NULL, NULL, location, NULL) == 200 && location[0] == '\0');
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", cookie, cap) == 0);
}

static void test_rp_logout(char *cookie, size_t cap)
{
    json_t *tokens = test_primary_code_flow(&p, cookie, "web", web_secret, CB, "openid"), *others;
    char path[4096], location[1024], token[128], bob[512];
    const char *hint = test_json_str(tokens, "id_token");

    /* refused with a page, nothing ended */
    static const char *const bad[] = {"id_token_hint=x", ("post_logout_redirect_uri=" BYE), "state=a&state=b",
                                      "client_id=a&client_id=b"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        snprintf(path, sizeof(path), "/oauth2/logout?%s", bad[i]);
        CHECK(ask("GET", path, cookie, NULL, location, NULL) == 400 && location[0] == '\0');
    }
    snprintf(path, sizeof(path), "/oauth2/logout?id_token_hint=%s&post_logout_redirect_uri=https%%3A%%2F%%2Fevil.example%%2F",
             hint);
    CHECK(ask("GET", path, cookie, NULL, location, NULL) == 400 && location[0] == '\0');
    snprintf(path, sizeof(path), "/oauth2/logout?id_token_hint=%s&client_id=other", hint);
    CHECK(ask("GET", path, cookie, NULL, location, NULL) == 400);
    /* an access token is no id_token */
    snprintf(path, sizeof(path), "/oauth2/logout?id_token_hint=%s", test_json_str(tokens, "access_token"));
    CHECK(ask("GET", path, cookie, NULL, location, NULL) == 400);
    CHECK(signed_in(cookie));
    /* another session's hint: the browser's owner is asked */
    CHECK(test_primary_sign_in(&p, "bob", "bob-password", bob, sizeof(bob)) == 0);
    others = test_primary_code_flow(&p, bob, "web", web_secret, CB, "openid");
    snprintf(path, sizeof(path), "/oauth2/logout?id_token_hint=%s&post_logout_redirect_uri=%s&state=s1",
             test_json_str(others, "id_token"), BYE);
    CHECK(ask("GET", path, cookie, NULL, location, token) == 200 && token[0] != '\0' && location[0] == '\0');
    CHECK(signed_in(cookie) && signed_in(bob));
    /* a hint alone, without the browser's session: nothing ends, back to the application */
    CHECK(ask("GET", path, NULL, NULL, location, NULL) == 302 && strcmp(location, "https://app.example/bye?state=s1") == 0);
    CHECK(signed_in(bob));
    /* the browser's own session: ended at once, back with state */
    snprintf(path, sizeof(path), "/oauth2/logout?id_token_hint=%s&post_logout_redirect_uri=%s&state=s%%202", hint, BYE);
    CHECK(ask("GET", path, cookie, NULL, location, NULL) == 302 && strcmp(location, "https://app.example/bye?state=s%202") == 0);
    CHECK(!signed_in(cookie) && signed_in(bob));
    json_decref(tokens);
    json_decref(others);
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", cookie, cap) == 0);
}

int main(void)
{
    idp_client_t *web = calloc(1, sizeof(*web));
    char cookie[512], *subs[2];

    test_primary_start(&p, "idp-logout", NULL);
    subs[0] = test_primary_user(&p, "alice", "alice-password", NULL);
    subs[1] = test_primary_user(&p, "bob", "bob-password", NULL);
    web->client_id = strdup("web");
    web->app_name = strdup("Web");
    web->enabled = web->skip_authorization = 1;
    idp_strv_split(&web->redirect_uris, CB, 1);
    idp_strv_split(&web->post_logout_redirect_uris, "https://app.example/bye", 1);
    idp_strv_split(&web->scopes, "openid", 1);
    test_primary_put_client(&p, web, web_secret);
    idp_client_free(web);
    test_primary_client(&p, "other", "authorization_code", "client_secret_basic", "https://other.example/cb", NULL, 1, NULL);
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", cookie, sizeof(cookie)) == 0);
    test_methods_and_paths(cookie);
    test_own_logout(cookie, sizeof(cookie));
    test_rp_logout(cookie, sizeof(cookie));
    test_primary_stop(&p);
    free(subs[0]);
    free(subs[1]);
    return check_report("idp/logout");
}
