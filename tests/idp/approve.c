/* Tests idp/approve.c in process (tests/support/primary.h): the consent decision's methods, paths and Frappe alias; its
 * CSRF token refused every wrong way (none, another session's, another form's, from another site); decisions that are
 * no decision; Deny; Allow issuing a code and recording the consent (setting auto: the next request goes through);
 * a decision whose parameters were changed after the page, checked as anew; a user the client does not allow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/client.h"
#include "tests/check.h"
#include "tests/support/primary.h"

#define ASK "client_id=ask&response_type=code&redirect_uri=https%3A%2F%2Fask.example%2Fcb"

static test_primary_t p;
static char alice[512], bob[512];

/* The consent page for query in the session of cookie: its form token into token. */
static void consent_token(const char *cookie, const char *query, char token[128])
{
    char path[2048];
    test_req_t *r;

    snprintf(path, sizeof(path), "/oauth2/authorize?%s", query);
    r = test_primary_request(&p, "GET", path, cookie, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    token[0] = '\0';
    CHECK(test_form_value(test_req_text(r), "csrf_token", token, 128) == 0);
    test_req_free(r);
}

/* POSTs body to path with cookie (and Sec-Fetch-Site when not NULL); the status, the Location into location. */
static int decide(const char *path, const char *cookie, const char *site, const char *body, char *location, size_t cap)
{
    test_req_t *r = test_req_new(&p.loop, "POST", path);
    int status;

    if (cookie != NULL)
        test_req_header(r, "cookie", cookie);
    if (site != NULL)
        test_req_header(r, "sec-fetch-site", site);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    status = test_req_done(r) ? test_req_status(r) : -1;
    snprintf(location, cap, "%s", test_req_resp_header(r, "location", 0) ?: "");
    test_req_free(r);
    return status;
}

static void test_methods_and_paths(void)
{
    static const char *const refused[] = {"GET", "PUT", "DELETE", "HEAD", "OPTIONS"};
    static const char *const other_paths[] = {"/oauth2/approve/", "/oauth2/approvex", "/oauth2/Approve",
                                              "/api/method/frappe.integrations.oauth2.approve/x"};
    char token[128], body[512], location[2048];
    size_t i;

    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/approve", alice, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "POST") == 0);
        test_req_free(r);
    }
    for (i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i)
        CHECK(decide(other_paths[i], alice, NULL, "decision=allow", location, sizeof(location)) == 404);
    /* the Frappe alias takes the decision as the native path does */
    consent_token(alice, ASK "&state=al", token);
    snprintf(body, sizeof(body), "csrf_token=%s&%s&state=al&decision=deny", token, ASK);
    CHECK(decide("/api/method/frappe.integrations.oauth2.approve", alice, NULL, body, location, sizeof(location)) == 302);
    CHECK(strcmp(location, "https://ask.example/cb?error=access_denied&error_description=the%20user%20denied%20the%20request"
                           "&state=al&iss=http%3A%2F%2F127.0.0.1%3A1") == 0);
}

static void test_bad_tokens(void)
{
    char token[128], login_token[128], other[128], body[1024], location[2048], cookie[600];
    size_t codes = test_primary_count(&p, HUB_T_CODES), grants = test_primary_count(&p, HUB_T_GRANTS);
    test_req_t *r;

    consent_token(alice, ASK, token);
    consent_token(bob, ASK, other);
    r = test_primary_request(&p, "GET", "/login", alice, NULL, NULL, NULL); /* the sign-out form's token: another purpose */
    CHECK(test_form_value(test_req_text(r), "csrf_token", login_token, sizeof(login_token)) == 0);
    test_req_free(r);
    const char *const tokens[] = {"", "x", other, login_token, NULL};
    for (size_t i = 0; tokens[i] != NULL; ++i) {
        snprintf(body, sizeof(body), "csrf_token=%s&%s&decision=allow", tokens[i], ASK);
        CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 400 && location[0] == '\0');
    }
    snprintf(body, sizeof(body), "%s&decision=allow", ASK);
    CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 400);
    snprintf(body, sizeof(body), "csrf_token=%s&csrf_token=%s&%s&decision=allow", token, token, ASK);
    CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 400);
    /* the right token, from another site */
    snprintf(body, sizeof(body), "csrf_token=%s&%s&decision=allow", token, ASK);
    CHECK(decide("/oauth2/approve", alice, "cross-site", body, location, sizeof(location)) == 400);
    /* the right token without the session it is bound to: sign in first, nothing decided */
    CHECK(decide("/oauth2/approve", NULL, NULL, body, location, sizeof(location)) == 302 &&
          strncmp(location, "/login?next=", 12) == 0);
    snprintf(cookie, sizeof(cookie), TEST_PRIMARY_SESSION_COOKIE "=gone");
    CHECK(decide("/oauth2/approve", cookie, NULL, body, location, sizeof(location)) == 302 && strncmp(location, "/login?", 7) == 0);
    /* a body that is no form */
    r = test_primary_request(&p, "POST", "/oauth2/approve", alice, NULL, "application/json", "{\"decision\":\"allow\"}");
    CHECK(test_req_done(r) && test_req_status(r) == 400 && test_req_resp_header(r, "location", 0) == NULL);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes && test_primary_count(&p, HUB_T_GRANTS) == grants);
}

static void test_decisions(void)
{
    static const char *const not_a_decision[] = {
        "", "decision=", "decision=yes", "decision=ALLOW", "decision=allow&decision=allow", "decision=deny&decision=allow"};
    char token[128], body[1024], location[2048], got[128];
    size_t codes = test_primary_count(&p, HUB_T_CODES);

    consent_token(alice, ASK "&state=st", token);
    for (size_t i = 0; i != sizeof(not_a_decision) / sizeof(not_a_decision[0]); ++i) {
        snprintf(body, sizeof(body), "csrf_token=%s&%s&state=st&%s", token, ASK, not_a_decision[i]);
        CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 302);
        CHECK(strncmp(location, "https://ask.example/cb?error=invalid_request", 44) == 0);
        CHECK(test_url_param(location, "state", got, sizeof(got)) == 0 && strcmp(got, "st") == 0);
    }
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes);
    /* parameters changed after the page are checked again: a redirect URI not registered gets the page, a scope
     * beyond the client's an error */
    snprintf(body, sizeof(body),
             "csrf_token=%s&client_id=ask&response_type=code&redirect_uri=https%%3A%%2F%%2Fevil.example%%2Fcb"
             "&decision=allow",
             token);
    CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 400 && location[0] == '\0');
    snprintf(body, sizeof(body), "csrf_token=%s&%s&scope=openid%%20admin&decision=allow", token, ASK);
    CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://ask.example/cb?error=invalid_scope", 42) == 0);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes);
}

static void test_allow(void)
{
    char token[128], body[1024], location[2048], got[128];
    size_t codes = test_primary_count(&p, HUB_T_CODES), grants = test_primary_count(&p, HUB_T_GRANTS);

    /* skip_authorization auto: asked the first time */
    consent_token(alice, ASK "&scope=openid&state=first", token);
    snprintf(body, sizeof(body), "csrf_token=%s&%s&scope=openid&state=first&decision=allow", token, ASK);
    CHECK(decide("/oauth2/approve", alice, NULL, body, location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://ask.example/cb?code=", 28) == 0);
    CHECK(test_url_param(location, "state", got, sizeof(got)) == 0 && strcmp(got, "first") == 0);
    CHECK(test_primary_count(&p, HUB_T_CODES) == codes + 1 && test_primary_count(&p, HUB_T_GRANTS) == grants + 1);
    /* then the grant covers it; a wider scope is asked for again */
    CHECK(test_primary_authorize(&p, alice, ASK "&scope=openid", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://ask.example/cb?code=", 28) == 0);
    consent_token(alice, ASK "&scope=openid%20email", token);
    /* another user has granted nothing */
    consent_token(bob, ASK "&scope=openid", token);
}

static void test_user_not_allowed(void)
{
    char token[128], body[1024], location[2048];

    /* bob holds none of staff's allowed roles: authorize refuses him before any page, and a decision made up for him
     * is refused too */
    CHECK(test_primary_authorize(&p, bob, "client_id=staff&response_type=code", location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://staff.example/cb?error=access_denied", 44) == 0);
    consent_token(bob, ASK, token); /* a token of bob's session */
    snprintf(body, sizeof(body), "csrf_token=%s&client_id=staff&response_type=code&decision=allow", token);
    CHECK(decide("/oauth2/approve", bob, NULL, body, location, sizeof(location)) == 302);
    CHECK(strncmp(location, "https://staff.example/cb?error=access_denied", 44) == 0);
}

int main(void)
{
    static const char *const employee[] = {"Employee", NULL};
    idp_client_t *staff = calloc(1, sizeof(*staff));
    char *subs[2];

    test_primary_start(&p, "idp-approve", "  skip_authorization: auto\n");
    subs[0] = test_primary_user(&p, "alice", "alice-password", employee);
    subs[1] = test_primary_user(&p, "bob", "bob-password", NULL);
    test_primary_client(&p, "ask", "authorization_code", "client_secret_basic", "https://ask.example/cb", "openid email", 0, NULL);
    staff->client_id = strdup("staff");
    staff->app_name = strdup("Staff");
    staff->enabled = 1;
    idp_strv_split(&staff->redirect_uris, "https://staff.example/cb", 1);
    idp_strv_split(&staff->scopes, "openid", 1);
    idp_strv_split(&staff->allowed_roles, "Employee", 0);
    test_primary_put_client(&p, staff, NULL);
    idp_client_free(staff);
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    CHECK(test_primary_sign_in(&p, "bob", "bob-password", bob, sizeof(bob)) == 0);
    test_methods_and_paths();
    test_bad_tokens();
    test_decisions();
    test_allow();
    test_user_not_allowed();
    test_primary_stop(&p);
    free(subs[0]);
    free(subs[1]);
    return check_report("idp/approve");
}
