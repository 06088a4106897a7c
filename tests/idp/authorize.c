/* Tests idp/authorize.c and idp/authz.c in process (tests/support/primary.h): the endpoint's methods, paths and Frappe
 * alias; the HTML page for every request whose client or redirect URI cannot be trusted (never a redirect); the errors
 * sent back to the redirect URI (with state and iss); the way to the sign-in page, prompt and max_age; the consent page;
 * the code and the implicit flow's fragment; allowed roles. A refused request stores no code. A browser that leaves
 * while its authorization waits for the store's writer (group commit) leaves it stored and nothing touching its request;
 * one that leaves while its read waits on the store's readers has nothing stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/client.h"
#include "tests/check.h"
#include "tests/support/primary.h"
#include "tests/support/storehook.h"

#define WEB "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static test_primary_t p;
static char alice[512], bob[512];

/* An HTML refusal: 400, a page, no Location (nothing goes to a redirect URI that is not known good). */
#define expect_page(cookie, query) expect_page_at(__LINE__, cookie, query)
static void expect_page_at(int line, const char *cookie, const char *query)
{
    char path[4096];
    test_req_t *r;
    int before = failures;

    snprintf(path, sizeof(path), "/oauth2/authorize?%s", query);
    r = test_primary_request(&p, "GET", path, cookie, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 400 && test_req_resp_header(r, "location", 0) == NULL);
    CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0);
    CHECK(strstr(test_req_text(r), "Invalid authorization request") != NULL);
    if (failures != before)
        fprintf(stderr, "  (line %d: %d %s)\n", line, test_req_status(r), test_req_text(r));
    test_req_free(r);
}

/* An error at the redirect URI: where, error, error_description (NULL: not checked), state as sent, iss. */
#define expect_redirect_error(...) expect_redirect_error_at(__LINE__, __VA_ARGS__)
static void expect_redirect_error_at(int line, const char *cookie, const char *query, const char *prefix, const char *error,
                                     const char *description, const char *state)
{
    char location[4096], got[512];
    int before = failures;

    CHECK(test_primary_authorize(&p, cookie, query, location, sizeof(location)) == 302);
    CHECK(strncmp(location, prefix, strlen(prefix)) == 0);
    CHECK(test_url_param(location, "error", got, sizeof(got)) == 0 && strcmp(got, error) == 0);
    if (description != NULL)
        CHECK(test_url_param(location, "error_description", got, sizeof(got)) == 0 && strcmp(got, description) == 0);
    if (state != NULL)
        CHECK(test_url_param(location, "state", got, sizeof(got)) == 0 && strcmp(got, state) == 0);
    else
        CHECK(test_url_param(location, "state", got, sizeof(got)) != 0);
    CHECK(test_url_param(location, "iss", got, sizeof(got)) == 0 && strcmp(got, "http%3A%2F%2F127.0.0.1%3A1") == 0);
    CHECK(test_url_param(location, "code", got, sizeof(got)) != 0);
    if (failures != before)
        fprintf(stderr, "  (line %d: %s)\n", line, location);
}

static void test_methods_and_paths(void)
{
    static const char *const refused[] = {"PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"};
    static const char *const other_paths[] = {"/oauth2/authorize/", "/oauth2/authorizex", "/oauth2/Authorize",
                                              "/oauth2/authorize/x", "/api/method/frappe.integrations.oauth2.authorizex"};
    char native[2048], alias[2048];
    size_t i;

    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/authorize?" WEB, NULL, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, POST") == 0);
        test_req_free(r);
    }
    for (i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        test_req_t *r = test_primary_request(&p, "GET", other_paths[i], alice, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
    /* the Frappe alias answers as the native path does; so does a POST of the same parameters */
    test_req_t *r = test_primary_request(&p, "GET", "/oauth2/authorize?" WEB "&response_type=code", NULL, NULL, NULL, NULL);
    snprintf(native, sizeof(native), "%s", test_req_resp_header(r, "location", 0) ?: "");
    CHECK(test_req_status(r) == 302 && strncmp(native, "/login?next=", 12) == 0);
    test_req_free(r);
    r = test_primary_request(&p, "GET", "/api/method/frappe.integrations.oauth2.authorize?" WEB "&response_type=code", NULL, NULL,
                             NULL, NULL);
    snprintf(alias, sizeof(alias), "%s", test_req_resp_header(r, "location", 0) ?: "");
    CHECK(test_req_status(r) == 302 && strcmp(alias, native) == 0);
    test_req_free(r);
    r = test_primary_request(&p, "POST", "/oauth2/authorize", NULL, NULL, NULL, WEB "&response_type=code");
    CHECK(test_req_status(r) == 302 && strcmp(test_req_resp_header(r, "location", 0) ?: "", native) == 0);
    test_req_free(r);
}

static void test_untrusted_client_or_redirect(void)
{
    static const char *const queries[] = {
        "response_type=code",
        "client_id=&response_type=code",
        "client_id=nobody&response_type=code",
        "client_id=off&response_type=code",
        "client_id=web&client_id=web&response_type=code",
        WEB "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fother&response_type=code",
        "client_id=web&redirect_uri=http%3A%2F%2Fapp.example%2Fcb&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%23frag&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%40evil.example%2Fcb&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2FAPP.example%2Fcb&response_type=code",
        "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%3A443%2Fcb&response_type=code",
        "client_id=loop&redirect_uri=http%3A%2F%2Flocalhost%3A5000%2Fcb&response_type=code",
        "client_id=loop&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fother&response_type=code",
    };
    size_t codes = test_primary_count(&p, HUB_T_CODES), i;
    char *long_id = malloc(600);

    for (i = 0; i != sizeof(queries) / sizeof(queries[0]); ++i)
        expect_page(alice, queries[i]);
    memcpy(long_id, "client_id=", 10);
    memset(long_id + 10, 'w', 400);
    strcpy(long_id + 410, "&response_type=code");
    expect_page(alice, long_id);
    free(long_id);
    /* a body that is no form */
    test_req_t *r =
        test_primary_request(&p, "POST", "/oauth2/authorize", alice, NULL, "application/json", "{\"client_id\":\"web\"}");
    CHECK(test_req_done(r) && test_req_status(r) == 400 && test_req_resp_header(r, "location", 0) == NULL);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes);
}

static void test_errors_at_the_redirect(void)
{
    static const char cb[] = "https://app.example/cb?";
    size_t codes = test_primary_count(&p, HUB_T_CODES);
    char *long_state = malloc(2400), query[3000];

    expect_redirect_error(alice, WEB "&state=s%201", cb, "invalid_request", "response_type%20is%20required", "s%201");
    /* asked for tokens: the answer goes in the fragment, as it would have */
    expect_redirect_error(alice, WEB "&response_type=token&state=a", "https://app.example/cb#", "unauthorized_client", NULL, "a");
    static const char *const unsupported[] = {"code%20token", "foo", "code%20code", "code%20id_token", "CODE", "code%00"};
    for (size_t i = 0; i != sizeof(unsupported) / sizeof(unsupported[0]); ++i) {
        snprintf(query, sizeof(query), "%s&response_type=%s&state=a", WEB, unsupported[i]);
        if (strcmp(unsupported[i], "code%00") == 0)
            expect_page(alice, query); /* a NUL makes no parameters at all */
        else
            expect_redirect_error(alice, query, cb, "unsupported_response_type", NULL, "a");
    }
    expect_redirect_error(alice, WEB "&response_type=code&scope=openid&scope=email&state=a", cb, "invalid_request",
                          "a%20parameter%20was%20sent%20more%20than%20once", "a");
    expect_redirect_error(alice, WEB "&response_type=code&state=a&state=b", cb, "invalid_request", NULL, "a");
    static const char *const scopes[] = {"admin", "openid%20admin", "%20%20", "open%22id", "openid%5C"};
    for (size_t i = 0; i != sizeof(scopes) / sizeof(scopes[0]); ++i) {
        snprintf(query, sizeof(query), "%s&response_type=code&scope=%s&state=a", WEB, scopes[i]);
        expect_redirect_error(alice, query, cb, "invalid_scope", NULL, "a");
    }
    /* PKCE: S256 only, a well-formed challenge, required for a public client */
    expect_redirect_error(alice, WEB "&response_type=code&code_challenge=" CHALLENGE "&code_challenge_method=plain&state=a", cb,
                          "invalid_request", "code_challenge_method%20must%20be%20S256", "a");
    expect_redirect_error(alice, WEB "&response_type=code&code_challenge=" CHALLENGE "&state=a", cb, "invalid_request", NULL, "a");
    expect_redirect_error(alice, WEB "&response_type=code&code_challenge_method=S256&state=a", cb, "invalid_request", NULL, "a");
    expect_redirect_error(alice, WEB "&response_type=code&code_challenge=short&code_challenge_method=S256&state=a", cb,
                          "invalid_request", NULL, "a");
    expect_redirect_error(alice, "client_id=spa&response_type=code&state=a", "https://spa.example/cb?", "invalid_request",
                          "PKCE%20%28code_challenge%20with%20S256%29%20is%20required%20for%20public%20clients", "a");
    /* prompt and max_age */
    expect_redirect_error(alice, WEB "&response_type=code&prompt=none%20login&state=a", cb, "invalid_request", NULL, "a");
    expect_redirect_error(alice, WEB "&response_type=code&prompt=later&state=a", cb, "invalid_request", NULL, "a");
    expect_redirect_error(alice, WEB "&response_type=code&max_age=-1&state=a", cb, "invalid_request", NULL, "a");
    expect_redirect_error(alice, WEB "&response_type=code&max_age=1e3&state=a", cb, "invalid_request", NULL, "a");
    /* a state too long to echo is not echoed */
    snprintf(long_state, 2400, "%s&response_type=code&state=", WEB);
    memset(long_state + strlen(long_state), 's', 2100);
    long_state[strlen(WEB "&response_type=code&state=") + 2100] = '\0';
    expect_redirect_error(alice, long_state, cb, "invalid_request", "a%20parameter%20is%20too%20long", NULL);
    free(long_state);
    /* the error goes to the redirect URI as registered, with its own query kept */
    expect_redirect_error(alice, "client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb2%3Fx%3D1&state=a",
                          "https://app.example/cb2?x=1&error=", "invalid_request", NULL, "a");
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes);
}

static void test_sign_in_first(void)
{
    char location[4096], next[4096];

    CHECK(test_primary_authorize(&p, NULL, WEB "&response_type=code&state=xyz", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "/login?next=", 12) == 0 && strstr(location, "prompt=login") == NULL);
    CHECK(test_url_param(location, "next", next, sizeof(next)) == 0);
    CHECK(strstr(next, "%2Foauth2%2Fauthorize%3Fclient_id%3Dweb") == next && strstr(next, "state%3Dxyz") != NULL);
    /* a cookie naming no session is none */
    CHECK(test_primary_authorize(&p, TEST_PRIMARY_SESSION_COOKIE "=nothing", WEB "&response_type=code", location,
                                 sizeof(location)) == 302);
    CHECK(strncmp(location, "/login?next=", 12) == 0);
    expect_redirect_error(NULL, WEB "&response_type=code&prompt=none&state=a", "https://app.example/cb?", "login_required", NULL,
                          "a");
    /* prompt=login asks for a fresh sign-in, even with a session */
    CHECK(test_primary_authorize(&p, alice, WEB "&response_type=code&prompt=login", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "/login?next=", 12) == 0 && strstr(location, "&prompt=login") != NULL);
    CHECK(strstr(location, "hub_auth_after%3D") != NULL);
    /* coming back without having signed in again does not loop */
    expect_redirect_error(alice, WEB "&response_type=code&prompt=login&hub_auth_after=99999999999&state=a",
                          "https://app.example/cb?", "login_required", NULL, "a");
}

static void test_code(void)
{
    char location[4096], got[256];
    size_t codes = test_primary_count(&p, HUB_T_CODES);

    CHECK(test_primary_authorize(&p, alice, WEB "&response_type=code&scope=openid&state=s%2B1", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://app.example/cb?code=", 28) == 0);
    CHECK(test_url_param(location, "code", got, sizeof(got)) == 0 && strlen(got) == 43);
    CHECK(test_url_param(location, "state", got, sizeof(got)) == 0 && strcmp(got, "s%2B1") == 0);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes + 1);
    /* without redirect_uri: the client's default */
    CHECK(test_primary_authorize(&p, alice, "client_id=web&response_type=code", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://app.example/cb?code=", 28) == 0);
    /* a registered URI with a query keeps it */
    CHECK(test_primary_authorize(&p, alice, "client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb2%3Fx%3D1",
                                 location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://app.example/cb2?x=1&code=", 33) == 0);
    /* RFC 8252: a native app's loopback redirect URI may differ in its port only */
    CHECK(test_primary_authorize(&p, alice,
                                 "client_id=loop&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb"
                                 "&code_challenge=" CHALLENGE "&code_challenge_method=S256",
                                 location, sizeof(location)) == 302);
    CHECK(strncmp(location, "http://127.0.0.1:5000/cb?code=", 30) == 0);
    /* PKCE for the public client */
    CHECK(test_primary_authorize(&p, alice,
                                 "client_id=spa&response_type=code&code_challenge=" CHALLENGE "&code_challenge_method=S256",
                                 location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://spa.example/cb?code=", 28) == 0);
}

static void test_implicit(void)
{
    char location[8192], got[4096];
    size_t listed = test_primary_count(&p, HUB_T_USER_FAMILIES);

    CHECK(test_primary_authorize(&p, alice, "client_id=imp&response_type=token&scope=openid&state=a", location, sizeof(location)) ==
          302);
    /* its family is listed under the user from the authorization on: sign-out and the account page reach its token */
    CHECK(test_primary_count(&p, HUB_T_USER_FAMILIES) == listed + 1);
    CHECK(strncmp(location, "https://imp.example/cb#access_token=", 36) == 0);
    CHECK(test_url_param(location, "token_type", got, sizeof(got)) == 0 && strcmp(got, "Bearer") == 0);
    CHECK(test_url_param(location, "state", got, sizeof(got)) == 0 && strcmp(got, "a") == 0);
    CHECK(test_url_param(location, "refresh_token", got, sizeof(got)) != 0 &&
          test_url_param(location, "code", got, sizeof(got)) != 0);
    expect_redirect_error(alice, "client_id=imp&response_type=id_token%20token&scope=openid&state=a", "https://imp.example/cb#",
                          "invalid_request", "nonce%20is%20required%20for%20response%20types%20with%20id_token", "a");
    expect_redirect_error(alice, "client_id=imp&response_type=id_token&scope=profile&nonce=n&state=a", "https://imp.example/cb#",
                          "invalid_scope", NULL, "a");
    CHECK(test_primary_authorize(&p, alice, "client_id=imp&response_type=id_token%20token&scope=openid&nonce=n1", location,
                                 sizeof(location)) == 302);
    CHECK(test_url_param(location, "id_token", got, sizeof(got)) == 0 && strlen(got) > 100);
    CHECK(test_url_param(location, "access_token", got, sizeof(got)) == 0);
    /* a code client asking for tokens, an implicit client asking for a code */
    expect_redirect_error(alice, "client_id=imp&response_type=code&state=a", "https://imp.example/cb?", "unauthorized_client", NULL,
                          "a");
}

static void test_consent_and_roles(void)
{
    char location[4096], path[1024];
    test_req_t *r;

    snprintf(path, sizeof(path),
             "/oauth2/authorize?client_id=ask&response_type=code&scope=openid%%20email%%20custom&state=%%22%%3E%%3Cb%%3E");
    r = test_primary_request(&p, "GET", path, alice, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(strstr(test_req_text(r), "action=\"/oauth2/approve\"") != NULL &&
          strstr(test_req_text(r), "Your e-mail address") != NULL);
    CHECK(strstr(test_req_text(r), "Access named custom") != NULL && strstr(test_req_text(r), "Your roles") == NULL);
    CHECK(strstr(test_req_text(r), "name=\"state\" value=\"&quot;&gt;&lt;b&gt;\"") != NULL &&
          strstr(test_req_text(r), "<b>") == NULL);
    CHECK(strstr(test_req_text(r), "name=\"csrf_token\" value=\"") != NULL);
    CHECK(strcmp(test_req_resp_header(r, "x-frame-options", 0) ?: "", "DENY") == 0); /* no framing of the consent page */
    test_req_free(r);
    expect_redirect_error(alice, "client_id=ask&response_type=code&prompt=none&state=a", "https://ask.example/cb?",
                          "consent_required", NULL, "a");
    /* skip_authorization does not outweigh prompt=consent */
    r = test_primary_request(&p, "GET", "/oauth2/authorize?" WEB "&response_type=code&prompt=consent", alice, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && strstr(test_req_text(r), "Allow") != NULL);
    test_req_free(r);
    /* allowed_roles: bob holds none of them */
    expect_redirect_error(bob, "client_id=staff&response_type=code&state=a", "https://staff.example/cb?", "access_denied", NULL,
                          "a");
    CHECK(test_primary_authorize(&p, alice, "client_id=staff&response_type=code", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://staff.example/cb?code=", 30) == 0);
}

/* An authorization whose browser goes away while its write waits for the store's writer: the code is stored all the same
 * (the answer goes nowhere), nothing touches the freed request, and the next one is answered. */
static void test_client_left(void)
{
    size_t codes = test_primary_count(&p, HUB_T_CODES), families = test_primary_count(&p, HUB_T_FAMILIES);
    static const char *const paths[] = {"/oauth2/authorize?" WEB "&response_type=code&scope=openid&state=s1",
                                        "/oauth2/authorize?client_id=imp&redirect_uri=https%3A%2F%2Fimp.example%2Fcb"
                                        "&response_type=token&scope=openid&state=s1&nonce=n1"};
    char location[2048];

    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        test_primary_hold_writes(&p);
        test_req_t *r = test_req_new(&p.loop, "GET", paths[i]);
        test_req_header(r, "cookie", alice);
        CHECK(test_req_run(r, 50) == 0 && !test_req_done(r)); /* parked on the writer */
        test_req_free(r);
        test_primary_release_writes(&p);
    }
    /* a later authorization on the same loop is answered after the abandoned ones completed */
    CHECK(test_primary_authorize(&p, alice, WEB "&response_type=code&scope=openid&state=s2", location, sizeof(location)) == 302);
    CHECK(strstr(location, "code=") != NULL);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes + 2);
    /* at most one family more per client: alice's session holds one for each (idp_session_family) */
    CHECK(test_primary_count(&p, HUB_T_FAMILIES) <= families + 2);
}

/* With the store's readers: a browser that leaves while its authorization's read waits (inside its transaction) gets
 * nothing stored, and the next authorization is answered. */
static void test_client_left_reading(void)
{
    size_t codes = test_primary_count(&p, HUB_T_CODES);
    char location[2048];
    test_req_t *r;

    if (p.loop.thr.read_port == NULL)
        return; /* read in place: a request cannot leave during its read */
    r = test_req_new(&p.loop, "GET", "/oauth2/authorize?" WEB "&response_type=code&scope=openid&state=s1");
    test_req_header(r, "cookie", alice);
    test_store_hold_reads();
    CHECK(test_req_run(r, 0) == 0 && test_store_wait_held(1, 10000));
    test_req_free(r);
    test_store_hook_off();
    test_loop_run(&p.loop, 20); /* the read's completion finds no request */
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes);
    CHECK(test_primary_authorize(&p, alice, WEB "&response_type=code&scope=openid&state=s2", location, sizeof(location)) == 302);
    CHECK(strstr(location, "code=") != NULL && test_primary_count(&p, HUB_T_CODES) == codes + 1);
}

int main(void)
{
    static const char *const employee[] = {"Employee", NULL};
    char *subs[2];
    idp_client_t *staff = calloc(1, sizeof(*staff));

    test_primary_start(&p, "idp-authorize", NULL);
    subs[0] = test_primary_user(&p, "alice", "alice-password", employee);
    subs[1] = test_primary_user(&p, "bob", "bob-password", NULL);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic",
                        "https://app.example/cb https://app.example/cb2?x=1", NULL, 1, NULL);
    test_primary_client(&p, "ask", "authorization_code", "client_secret_basic", "https://ask.example/cb", "openid email custom", 0,
                        NULL);
    test_primary_client(&p, "spa", "authorization_code", "none", "https://spa.example/cb", NULL, 1, NULL);
    test_primary_client(&p, "imp", "implicit", "none", "https://imp.example/cb", NULL, 1, NULL);
    test_primary_client(&p, "loop", "authorization_code", "none", "http://127.0.0.1/cb", NULL, 1, NULL); /* a native app */
    test_primary_client(&p, "off", "authorization_code", "client_secret_basic", "https://off.example/cb", NULL, 1, NULL);
    staff->client_id = strdup("staff");
    staff->app_name = strdup("Staff");
    staff->enabled = staff->skip_authorization = 1;
    idp_strv_split(&staff->redirect_uris, "https://staff.example/cb", 1);
    idp_strv_split(&staff->scopes, "openid", 1);
    idp_strv_split(&staff->allowed_roles, "Employee", 0);
    test_primary_put_client(&p, staff, NULL);
    idp_client_free(staff);
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    CHECK(test_primary_sign_in(&p, "bob", "bob-password", bob, sizeof(bob)) == 0);
    CHECK(test_primary_disable_client(&p, "off") == 0);
    test_methods_and_paths();
    test_untrusted_client_or_redirect();
    test_errors_at_the_redirect();
    test_sign_in_first();
    test_code();
    test_implicit();
    test_consent_and_roles();
    test_client_left();
    test_client_left_reading();
    test_primary_stop(&p);
    free(subs[0]);
    free(subs[1]);
    return check_report("idp/authorize");
}
