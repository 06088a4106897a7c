/* Tests idp/account.c and idp/user_apps.c in process: the profile (escaped), the apps holding a grant after real code
 * flows and Revoke (the app's refresh tokens fail, introspection says inactive, another app and another user keep
 * theirs), the password change (refused when the two differ, when too short, when the current one is wrong; wrong
 * guesses limited; on success the other sessions end, this one stays, the new password signs in) and sign out
 * everywhere (every session ends, the tokens stop, a back-channel logout is queued). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/form.h"
#include "idp/grants.h"
#include "idp/role.h"
#include "tests/check.h"
#include "tests/support/console.h"

#define PASSWORD "correct horse battery"
#define CB "https://app.example/cb"

static test_primary_t p;
static char web_secret[44], api_secret[44];

static int refresh_works(const char *client_id, const char *secret, const char *refresh, char *fresh, size_t cap)
{
    char auth[512], body[256];
    json_t *doc;

    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", refresh);
    doc = test_primary_grant(&p, test_basic(client_id, secret, auth, sizeof(auth)), body);
    if (doc != NULL && fresh != NULL)
        snprintf(fresh, cap, "%s", test_json_str(doc, "refresh_token"));
    json_decref(doc);
    return doc != NULL;
}

static int active(const char *client_id, const char *secret, const char *token)
{
    char auth[512], body[4096];
    test_req_t *r;
    json_t *doc;
    int on;

    snprintf(body, sizeof(body), "token=%s", token);
    r = test_primary_request(&p, "POST", "/oauth2/introspect", NULL, test_basic(client_id, secret, auth, sizeof(auth)), NULL, body);
    doc = test_req_json(r);
    on = json_is_true(json_object_get(doc, "active"));
    json_decref(doc);
    test_req_free(r);
    return on;
}

static int hostile_name_txn(hub_txn_t *txn, void *arg)
{
    idp_user_t *u = NULL;
    int ret;

    if ((ret = idp_user_find(txn, "alice", &u)) != 0)
        return ret;
    free(u->full_name);
    u->full_name = strdup("<img src=x onerror=alert(1)> & \"Alice\"");
    ret = idp_user_put(txn, u);
    idp_user_free(u);
    return ret;
}

static void test_profile(test_browser_t *alice)
{
    test_req_t *r;

    CHECK(hub_store_write(p.store, hostile_name_txn, NULL) == 0);
    r = test_console_get(&p, alice, "/account/");
    CHECK(test_req_status(r) == 200);
    CHECK(test_html_has(test_req_text(r), "username", "alice") && test_html_has(test_req_text(r), "email", "alice@example.com"));
    CHECK(test_html_has(test_req_text(r), "full-name", "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Alice&quot;"));
    CHECK(strstr(test_req_text(r), "<img") == NULL);
    CHECK(test_html_has(test_req_text(r), "roles", "Employee"));
    CHECK(strstr(test_req_text(r), "id=\"no-apps\"") != NULL);
    test_req_free(r);
}

static void test_apps(test_browser_t *alice, test_browser_t *bob)
{
    json_t *web = test_primary_code_flow(&p, alice->cookie, "web", web_secret, CB, "openid profile");
    json_t *api = test_primary_code_flow(&p, alice->cookie, "api", api_secret, CB, "openid");
    json_t *bobs = test_primary_code_flow(&p, bob->cookie, "web", web_secret, CB, "openid");
    char fresh[128] = "";
    size_t audits = test_console_audits(&p);
    test_req_t *r;

    CHECK(web != NULL && api != NULL && bobs != NULL);
    if (web == NULL || api == NULL || bobs == NULL)
        return;
    r = test_console_get(&p, alice, "/account/");
    CHECK(strstr(test_req_text(r), "id=\"apps\"") != NULL && strstr(test_req_text(r), "<td>openid profile</td>") != NULL);
    CHECK(strstr(test_req_text(r), "name=\"client_id\" value=\"web\"") != NULL);
    CHECK(strstr(test_req_text(r), "name=\"client_id\" value=\"api\"") != NULL);
    test_req_free(r);
    /* someone else's app, or nothing named: nothing to revoke, nothing changes */
    r = test_console_post(&p, alice, "/account/revoke", "client_id=nope", 1);
    CHECK(test_req_status(r) == 404);
    test_req_free(r);
    r = test_console_post(&p, alice, "/account/revoke", "", 1);
    CHECK(test_req_status(r) == 400);
    test_req_free(r);
    r = test_console_post(&p, alice, "/account/revoke", "client_id=web&client_id=api", 1);
    CHECK(test_req_status(r) == 400);
    test_req_free(r);
    CHECK(test_console_audits(&p) == audits);
    /* Revoke web: its refresh token fails, its access token is inactive; api and bob keep theirs */
    r = test_console_post(&p, alice, "/account/revoke", "client_id=web", 1);
    CHECK(test_req_status(r) == 303 && strstr(test_req_resp_header(r, "location", 0) ?: "", "flash=app-revoked") != NULL);
    test_req_free(r);
    CHECK(test_console_audits(&p) == audits + 1);
    CHECK(!refresh_works("web", web_secret, test_json_str(web, "refresh_token"), NULL, 0));
    CHECK(!active("web", web_secret, test_json_str(web, "access_token")));
    CHECK(active("api", api_secret, test_json_str(api, "access_token")));
    /* rotations keep the one listing of the family (read, not rewritten, while it outlives the new token) */
    size_t listed = test_primary_count(&p, HUB_T_USER_FAMILIES);
    CHECK(refresh_works("api", api_secret, test_json_str(api, "refresh_token"), fresh, sizeof(fresh)));
    for (int i = 0; i != 3; ++i) {
        char next[128];
        CHECK(refresh_works("api", api_secret, fresh, next, sizeof(next)));
        snprintf(fresh, sizeof(fresh), "%s", next);
    }
    CHECK(test_primary_count(&p, HUB_T_USER_FAMILIES) == listed);
    CHECK(active("web", web_secret, test_json_str(bobs, "access_token")));
    CHECK(refresh_works("web", web_secret, test_json_str(bobs, "refresh_token"), NULL, 0));
    r = test_console_get(&p, alice, "/account/");
    CHECK(strstr(test_req_text(r), "value=\"web\"") == NULL && strstr(test_req_text(r), "value=\"api\"") != NULL);
    test_req_free(r);
    /* gone already: nothing to revoke */
    r = test_console_post(&p, alice, "/account/revoke", "client_id=web", 1);
    CHECK(test_req_status(r) == 404);
    test_req_free(r);
    /* a rotated refresh token still belongs to the family listed: revoking api stops the newest one too */
    r = test_console_post(&p, alice, "/account/revoke", "client_id=api", 1);
    CHECK(test_req_status(r) == 303);
    test_req_free(r);
    CHECK(!refresh_works("api", api_secret, fresh, NULL, 0));
    json_decref(web);
    json_decref(api);
    json_decref(bobs);
}

/* A password form posted; returns the status and whether the message want sits next to field (both may be NULL). */
static int change(test_browser_t *b, const char *current, const char *fresh, const char *again, const char *field, const char *want)
{
    char body[512], msg[64];
    test_req_t *r;
    int status;

    snprintf(body, sizeof(body), "current_password=%s&new_password=%s&new_password_again=%s", current, fresh, again);
    r = test_console_post(&p, b, "/account/password", body, 1);
    status = test_req_done(r) ? test_req_status(r) : -1;
    if (field != NULL) {
        snprintf(msg, sizeof(msg), "m-%s", field);
        CHECK(test_html_has(test_req_text(r), msg, want));
    }
    CHECK(strstr(test_req_text(r), "value=\"" PASSWORD "\"") == NULL); /* a password is never echoed */
    test_req_free(r);
    return status;
}

static void test_password(void)
{
    test_browser_t here, there, later;

    free(test_primary_user(&p, "carol", PASSWORD, NULL));
    test_browser_sign_in(&p, &here, "carol", PASSWORD);
    test_browser_sign_in(&p, &there, "carol", PASSWORD);
    CHECK(change(&here, PASSWORD, "new-password-1", "new-password-2", "new_password_again", "does not match") == 400);
    CHECK(change(&here, PASSWORD, "short", "short", "new_password", "at least 8 characters") == 400);
    CHECK(change(&here, "", "new-password-1", "new-password-1", "current_password", "is required") == 400);
    CHECK(change(&here, "wrong-one", "new-password-1", "new-password-1", "current_password", "is not your current password") ==
          400);
    CHECK(test_console_status(&p, &there, "/account/") == 200); /* nothing ended */
    CHECK(change(&here, PASSWORD, "new-password-1", "new-password-1", NULL, NULL) == 303);
    CHECK(test_console_status(&p, &here, "/account/") == 200);  /* this session stays */
    CHECK(test_console_status(&p, &there, "/account/") == 302); /* the other one ended */
    CHECK(test_primary_sign_in(&p, "carol", PASSWORD, later.cookie, sizeof(later.cookie)) != 0);
    CHECK(test_primary_sign_in(&p, "carol", "new-password-1", later.cookie, sizeof(later.cookie)) == 0);
    /* wrong current passwords are limited: five, then 429 even for the right one */
    for (int i = 0; i != 4; ++i)
        CHECK(change(&here, "nope-nope", "other-password", "other-password", NULL, NULL) == 400);
    CHECK(change(&here, "new-password-1", "other-password", "other-password", NULL, NULL) == 429);
    CHECK(test_primary_sign_in(&p, "carol", "new-password-1", later.cookie, sizeof(later.cookie)) == 0);
}

static void test_everywhere(test_browser_t *bob)
{
    test_browser_t other;
    json_t *tokens = test_primary_code_flow(&p, bob->cookie, "api", api_secret, CB, "openid");
    size_t jobs = test_primary_count(&p, HUB_T_LOGOUT_QUEUE);
    test_req_t *r;

    test_browser_sign_in(&p, &other, "bob", PASSWORD);
    CHECK(tokens != NULL);
    r = test_console_post(&p, bob, "/account/sign-out-everywhere", "", 1);
    CHECK(test_req_status(r) == 303 && strcmp(test_req_resp_header(r, "location", 0) ?: "", "/login") == 0);
    CHECK(test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL) != NULL); /* cleared */
    test_req_free(r);
    CHECK(test_console_status(&p, bob, "/account/") == 302 && test_console_status(&p, &other, "/account/") == 302);
    CHECK(tokens != NULL && !refresh_works("api", api_secret, test_json_str(tokens, "refresh_token"), NULL, 0));
    /* queued for back-channel logout: the job is there, unless the back-channel thread (every 250 ms) took it already;
     * with no client to tell it is then simply gone */
    CHECK(test_primary_count(&p, HUB_T_LOGOUT_QUEUE) <= jobs + 1);
    json_decref(tokens);
}

int main(void)
{
    static const char *const employee[] = {"Employee", NULL};
    test_browser_t alice, bob;

    test_primary_start(&p, "idp-account", NULL);
    free(test_primary_user(&p, "alice", PASSWORD, employee));
    free(test_primary_user(&p, "bob", PASSWORD, NULL));
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", CB, NULL, 1, web_secret);
    test_primary_client(&p, "api", "authorization_code", "client_secret_basic", CB, NULL, 1, api_secret);
    test_browser_sign_in(&p, &alice, "alice", PASSWORD);
    test_browser_sign_in(&p, &bob, "bob", PASSWORD);
    test_profile(&alice);
    test_apps(&alice, &bob);
    test_password();
    test_everywhere(&bob);
    test_primary_stop(&p);
    return check_report("idp/account");
}
