/* Tests idp/console.c in process (tests/support/primary.h): the gate of every console page (not signed in: the sign-in
 * page and back; signed in without System Manager: 403 on every /admin/ page, GET or POST; a role removed or a user
 * disabled counts at once), the CSRF token of every change (missing, wrong, another session's, another form's, twice,
 * from another site: 403 and nothing stored changes), bounded and malformed bodies, the router's 404 and 405, the
 * headers of SPEC §8 with default-src 'self', the stylesheet, and the flash messages (a code, never text from the URL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/style.h"
#include "idp/revocation.h"
#include "idp/settings.h"
#include "tests/check.h"
#include "tests/support/console.h"
#include "tests/support/storehook.h"

#define PASSWORD "correct horse battery"

static test_primary_t p;

/* Every admin page: its path and whether it takes GET (else POST only). */
static const struct {
    const char *path;
    int get;
} admin_pages[] = {
    {"/admin/", 1},
    {"/admin/settings", 1},
    {"/admin/audit", 1},
    {"/admin/clients", 1},
    {"/admin/clients/new", 1},
    {"/admin/clients/edit?id=x", 1},
    {"/admin/clients/rotate-secret", 0},
    {"/admin/clients/delete", 0},
    {"/admin/users", 1},
    {"/admin/users?q=a&after=b", 1},
    {"/admin/users/new", 1},
    {"/admin/users/edit?id=x", 1},
    {"/admin/users/state", 0},
    {"/admin/users/roles", 0},
    {"/admin/users/password", 0},
    {"/admin/users/delete", 0},
    {"/admin/roles", 1},
    {"/admin/roles/add", 0},
    {"/admin/roles/delete", 0},
    {"/admin/nodes", 1},
    {"/admin/nodes/join-token", 0},
    {"/admin/nodes/revoke", 0},
    {"/admin/keys", 1},
    {"/admin/keys/rotate", 0},
    {"/admin/keys/retire", 0},
    {"/admin/keys/revoke", 0},
};

static const char *const account_posts[] = {"/account/password", "/account/revoke", "/account/sign-out-everywhere"};

static hub_skip_auth_t skip_setting(void)
{
    hub_txn_t *txn = NULL;
    hub_skip_auth_t v;

    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    v = idp_settings_skip_authorization(txn, &p.cfg);
    hub_store_read_end(txn);
    return v;
}

static void test_not_signed_in(void)
{
    for (size_t i = 0; i != sizeof(admin_pages) / sizeof(admin_pages[0]); ++i) {
        test_req_t *r = admin_pages[i].get ? test_console_get(&p, NULL, admin_pages[i].path)
                                           : test_console_post(&p, NULL, admin_pages[i].path, "x=1", 0);
        CHECK(test_req_done(r) && test_req_status(r) == 302);
        CHECK(strncmp(test_req_resp_header(r, "location", 0) ?: "", "/login?next=%2Fadmin%2F", 23) == 0);
        test_req_free(r);
    }
    /* the way back keeps the query, encoded */
    test_req_t *r = test_console_get(&p, NULL, "/admin/users?q=a%26b&after=c");
    CHECK(strcmp(test_req_resp_header(r, "location", 0) ?: "", "/login?next=%2Fadmin%2Fusers%3Fq%3Da%2526b%26after%3Dc") == 0);
    test_req_free(r);
    r = test_console_get(&p, NULL, "/account/");
    CHECK(test_req_status(r) == 302 && strcmp(test_req_resp_header(r, "location", 0) ?: "", "/login?next=%2Faccount%2F") == 0);
    test_req_free(r);
    /* a session cookie that names no session is no session */
    test_browser_t forged = {TEST_PRIMARY_SESSION_COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"};
    CHECK(test_console_status(&p, &forged, "/account/") == 302);
    CHECK(test_console_status(&p, &forged, "/admin/settings") == 302);
}

static void test_not_admin(test_browser_t *admin, test_browser_t *bob)
{
    size_t audits = test_console_audits(&p);

    for (size_t i = 0; i != sizeof(admin_pages) / sizeof(admin_pages[0]); ++i) {
        test_req_t *r = admin_pages[i].get ? test_console_get(&p, bob, admin_pages[i].path)
                                           : test_console_post(&p, bob, admin_pages[i].path, "skip_authorization=auto", 1);
        CHECK(test_req_done(r) && test_req_status(r) == 403);
        CHECK(strstr(test_req_text(r), "for System Managers only") != NULL);
        CHECK(strstr(test_req_text(r), "aria-label=\"Admin console\"") == NULL); /* no admin nav for them */
        CHECK(strstr(test_req_text(r), "href=\"/admin/\"") == NULL);
        test_req_free(r);
        /* their own, valid token on every POST: still 403 */
        if (!admin_pages[i].get) {
            r = test_console_post(&p, bob, admin_pages[i].path, "confirm=yes&kid=x&role=Guest&sub=x&id=x", 1);
            CHECK(test_req_status(r) == 403);
            test_req_free(r);
        }
    }
    CHECK(skip_setting() == HUB_SKIP_AUTH_FORCE);
    CHECK(test_console_audits(&p) == audits); /* nothing changed, nothing audited */
    /* their own page works */
    test_req_t *r = test_console_get(&p, bob, "/account/");
    CHECK(test_req_status(r) == 200 && test_html_has(test_req_text(r), "username", "bob"));
    CHECK(strstr(test_req_text(r), "href=\"/admin/\"") == NULL);
    test_req_free(r);
    r = test_console_get(&p, admin, "/account/");
    CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "href=\"/admin/\"") != NULL);
    test_req_free(r);
}

static int roles_txn(hub_txn_t *txn, void *arg)
{
    const char **a = arg; /* username, role to add or NULL, role to remove or NULL, "record only" or NULL */
    idp_user_t *u = NULL;
    int ret;

    if ((ret = idp_user_find(txn, a[0], &u)) != 0)
        return ret;
    if (a[1] != NULL)
        idp_strv_add(&u->roles, a[1]);
    if (a[2] != NULL)
        idp_strv_remove(&u->roles, a[2]);
    ret = a[3] != NULL ? idp_user_put(txn, u) : idp_user_update(txn, u, NULL); /* a[3]: the record alone */
    idp_user_free(u);
    return ret;
}

/* The user is read again on every request: a role given or taken (by hubctl, another process) counts at once. */
static void test_role_checked_every_time(void)
{
    test_browser_t dave;
    const char *grant[] = {"dave", IDP_ROLE_SYSTEM_MANAGER, NULL, NULL}, *take[] = {"dave", NULL, IDP_ROLE_SYSTEM_MANAGER, NULL};
    const char *take_record[] = {"dave", NULL, IDP_ROLE_SYSTEM_MANAGER, "record"};

    free(test_primary_user(&p, "dave", PASSWORD, NULL));
    test_browser_sign_in(&p, &dave, "dave", PASSWORD);
    CHECK(test_console_status(&p, &dave, "/admin/") == 403);
    /* granting keeps the session (nothing is taken away) */
    CHECK(hub_store_write(p.store, roles_txn, grant) == 0);
    CHECK(test_console_status(&p, &dave, "/admin/") == 200);
    CHECK(test_console_status(&p, &dave, "/admin/clients") == 200);
    /* the role taken from the record alone (the session lives on): 403 at the very next request */
    CHECK(hub_store_write(p.store, roles_txn, take_record) == 0);
    CHECK(test_console_status(&p, &dave, "/admin/clients") == 403);
    CHECK(test_console_status(&p, &dave, "/account/") == 200);
    /* taken as hubctl takes it: the session ends too (idp/revocation.h) */
    CHECK(hub_store_write(p.store, roles_txn, grant) == 0);
    CHECK(test_console_status(&p, &dave, "/admin/clients") == 200);
    CHECK(hub_store_write(p.store, roles_txn, take) == 0);
    CHECK(test_console_status(&p, &dave, "/admin/clients") == 302);
    /* a disabled user (their record alone, behind the node's back) has no console at all */
    test_browser_t erin;
    free(test_primary_user(&p, "erin", PASSWORD, NULL));
    test_browser_sign_in(&p, &erin, "erin", PASSWORD);
    CHECK(test_console_status(&p, &erin, "/account/") == 200);
    CHECK(test_primary_disable_user(&p, "erin") == 0);
    CHECK(test_console_status(&p, &erin, "/account/") == 302);
}

/* A POST of the settings form on a request the test builds (extra headers). */
static int post_settings(const char *cookie, const char *body, const char *fetch_site)
{
    test_req_t *r = test_req_new(&p.loop, "POST", "/admin/settings");
    int status;

    test_req_header(r, "cookie", cookie);
    if (fetch_site != NULL)
        test_req_header(r, "sec-fetch-site", fetch_site);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    status = test_req_done(r) ? test_req_status(r) : -1;
    if (status == 403)
        CHECK(strstr(test_req_text(r), "Nothing was changed") != NULL);
    test_req_free(r);
    return status;
}

static void test_csrf(test_browser_t *admin, test_browser_t *bob)
{
    test_browser_t other;
    char body[512], wrong[64], logout_token[64];
    size_t audits = test_console_audits(&p);
    test_req_t *r;

    test_browser_sign_in(&p, &other, "admin", PASSWORD); /* the same user, another session */
    CHECK(strcmp(other.token, admin->token) != 0);
    snprintf(wrong, sizeof(wrong), "%s", admin->token);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    r = test_console_get(&p, admin, "/account/");
    CHECK(test_html_field(test_req_text(r), "/logout", "csrf_token", logout_token, sizeof(logout_token)) == 0);
    test_req_free(r);
    const char *const tokens[] = {wrong, other.token, bob->token, logout_token, "", "x"};
    for (size_t i = 0; i != sizeof(tokens) / sizeof(tokens[0]); ++i) {
        snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=auto", tokens[i]);
        CHECK(post_settings(admin->cookie, body, NULL) == 403);
    }
    CHECK(post_settings(admin->cookie, "skip_authorization=auto", NULL) == 403); /* none */
    snprintf(body, sizeof(body), "csrf_token=%s&csrf_token=%s&skip_authorization=auto", admin->token, admin->token);
    CHECK(post_settings(admin->cookie, body, NULL) == 403); /* twice */
    snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=auto", admin->token);
    CHECK(post_settings(admin->cookie, body, "cross-site") == 403);
    CHECK(post_settings(admin->cookie, body, "same-site") == 403); /* a sibling host's page */
    /* the right token with the session cookie of another session */
    CHECK(post_settings(other.cookie, body, NULL) == 403);
    CHECK(skip_setting() == HUB_SKIP_AUTH_FORCE && test_console_audits(&p) == audits);
    /* and the account's changes are refused the same way */
    for (size_t i = 0; i != sizeof(account_posts) / sizeof(account_posts[0]); ++i) {
        snprintf(body, sizeof(body),
                 "csrf_token=%s&client_id=x&current_password=x&new_password=yyyyyyyyy&"
                 "new_password_again=yyyyyyyyy",
                 wrong);
        r = test_console_post(&p, admin, account_posts[i], body, 0);
        CHECK(test_req_status(r) == 403);
        test_req_free(r);
    }
    CHECK(test_console_status(&p, admin, "/account/") == 200); /* sign out everywhere did not happen */
    CHECK(test_console_audits(&p) == audits);
    /* the right one works, from the node's own page */
    snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=auto", admin->token);
    CHECK(post_settings(admin->cookie, body, "same-origin") == 303);
    CHECK(skip_setting() == HUB_SKIP_AUTH_AUTO && test_console_audits(&p) == audits + 1);
    snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=force", admin->token);
    CHECK(post_settings(admin->cookie, body, NULL) == 303 && skip_setting() == HUB_SKIP_AUTH_FORCE);
}

static void test_bodies(test_browser_t *admin)
{
    size_t big = 70000, audits = test_console_audits(&p);
    char *body = malloc(big + 128);
    test_req_t *r;

    snprintf(body, big + 128, "csrf_token=%s&skip_authorization=auto&pad=", admin->token);
    memset(body + strlen(body), 'a', big);
    body[big + 60] = '\0';
    r = test_primary_request(&p, "POST", "/admin/settings", admin->cookie, NULL, NULL, body);
    CHECK(test_req_status(r) == 413);
    test_req_free(r);
    snprintf(body, big + 128, "csrf_token=%s&skip_authorization=auto", admin->token);
    r = test_primary_request(&p, "POST", "/admin/settings", admin->cookie, NULL, "text/plain", body);
    CHECK(test_req_status(r) == 400);
    test_req_free(r);
    r = test_primary_request(&p, "POST", "/admin/settings", admin->cookie, NULL, "application/json", "{\"a\":1}");
    CHECK(test_req_status(r) == 400);
    test_req_free(r);
    snprintf(body, big + 128, "csrf_token=%s&skip_authorization=%%zz", admin->token);
    r = test_primary_request(&p, "POST", "/admin/settings", admin->cookie, NULL, NULL, body);
    CHECK(test_req_status(r) == 400);
    test_req_free(r);
    snprintf(body, big + 128, "csrf_token=%s&skip_authorization=auto%%00", admin->token);
    r = test_primary_request(&p, "POST", "/admin/settings", admin->cookie, NULL, NULL, body);
    CHECK(test_req_status(r) == 400);
    test_req_free(r);
    /* a query that cannot be read */
    CHECK(test_console_status(&p, admin, "/admin/users?q=%zz") == 400);
    CHECK(skip_setting() == HUB_SKIP_AUTH_FORCE && test_console_audits(&p) == audits);
    free(body);
}

static void test_router(test_browser_t *admin)
{
    static const char *const missing[] = {"/admin/nope", "/admin/clients/x", "/admin/settings/",   "/account/x",
                                          "/adminx",     "/admin/clientsx",  "/account/password/x"};
    test_req_t *r;

    for (size_t i = 0; i != sizeof(missing) / sizeof(missing[0]); ++i) {
        r = test_console_get(&p, admin, missing[i]);
        CHECK(test_req_status(r) == 404);
        test_req_free(r);
    }
    r = test_primary_request(&p, "PUT", "/admin/settings", admin->cookie, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD, POST") == 0);
    CHECK(strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/html", 9) == 0);
    test_req_free(r);
    r = test_console_get(&p, admin, "/admin/clients/rotate-secret");
    CHECK(test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "POST") == 0);
    test_req_free(r);
    r = test_primary_request(&p, "DELETE", "/account/", admin->cookie, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 405 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "GET, HEAD") == 0);
    test_req_free(r);
    r = test_console_get(&p, NULL, "/admin");
    CHECK(test_req_status(r) == 302 && strcmp(test_req_resp_header(r, "location", 0) ?: "", "/admin/") == 0);
    test_req_free(r);
    r = test_console_get(&p, NULL, "/account");
    CHECK(test_req_status(r) == 302 && strcmp(test_req_resp_header(r, "location", 0) ?: "", "/account/") == 0);
    test_req_free(r);
    r = test_primary_request(&p, "HEAD", "/account/", admin->cookie, NULL, NULL, NULL);
    CHECK(test_req_status(r) == 200 && test_req_len(r) == 0);
    test_req_free(r);
}

static void test_headers(test_browser_t *admin)
{
    test_req_t *r = test_console_get(&p, admin, "/admin/settings");
    const char *csp = test_req_resp_header(r, "content-security-policy", 0) ?: "";
    char href[128];

    CHECK(test_req_status(r) == 200);
    CHECK(strncmp(csp, "default-src 'self'", 18) == 0 && strstr(csp, "script-src 'none'") != NULL);
    CHECK(strstr(csp, "frame-ancestors 'none'") != NULL && strstr(csp, "form-action 'self'") != NULL);
    CHECK(strstr(csp, "unsafe-inline") == NULL);
    CHECK(strcmp(test_req_resp_header(r, "x-frame-options", 0) ?: "", "DENY") == 0);
    CHECK(strcmp(test_req_resp_header(r, "referrer-policy", 0) ?: "", "no-referrer") == 0);
    CHECK(strcmp(test_req_resp_header(r, "x-content-type-options", 0) ?: "", "nosniff") == 0);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    /* no inline style or script for the policy to refuse; the one stylesheet */
    CHECK(strstr(test_req_text(r), "style=") == NULL && strstr(test_req_text(r), "<script") == NULL);
    CHECK(strstr(test_req_text(r), "<style") == NULL);
    snprintf(href, sizeof(href), "<link rel=\"stylesheet\" href=\"%s\">", hub_style_href());
    CHECK(strstr(test_req_text(r), href) != NULL);
    CHECK(strncmp(hub_style_href(), "/static/hub.css?v=", 18) == 0 && strlen(hub_style_href()) == 18 + 16);
    /* labelled fields */
    CHECK(strstr(test_req_text(r), "<label for=\"f-skip_authorization\">Skip Authorization</label>") != NULL);
    test_req_free(r);
    r = test_console_get(&p, NULL, hub_style_href());
    CHECK(test_req_status(r) == 200 && strncmp(test_req_resp_header(r, "content-type", 0) ?: "", "text/css", 8) == 0);
    CHECK(strstr(test_req_resp_header(r, "cache-control", 0) ?: "", "max-age=31536000") != NULL);
    CHECK(test_req_len(r) == strlen(hub_style_css) && memcmp(test_req_text(r), hub_style_css, test_req_len(r)) == 0);
    test_req_free(r);
    /* the sign-in page takes the same stylesheet, and its policy no inline style any more */
    r = test_console_get(&p, NULL, "/login");
    CHECK(strstr(test_req_text(r), href) != NULL && strstr(test_req_text(r), "style=") == NULL);
    csp = test_req_resp_header(r, "content-security-policy", 0) ?: "";
    CHECK(strstr(csp, "default-src 'none'") != NULL && strstr(csp, "style-src 'self'") != NULL &&
          strstr(csp, "unsafe-inline") == NULL);
    test_req_free(r);
}

static void test_flash(test_browser_t *admin)
{
    test_req_t *r = test_console_get(&p, admin, "/admin/settings?flash=settings");
    CHECK(test_html_has(test_req_text(r), "flash", "The OAuth Provider Settings were saved."));
    test_req_free(r);
    /* a code names a fixed text: anything else shows nothing, and nothing of the URL reaches the page */
    static const char *const odd[] = {"/admin/settings?flash=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                                      "/admin/settings?flash=", "/admin/settings?flash=settings&flash=settings",
                                      "/admin/settings?flash=SETTINGS"};
    for (size_t i = 0; i != sizeof(odd) / sizeof(odd[0]); ++i) {
        r = test_console_get(&p, admin, odd[i]);
        CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "id=\"flash\"") == NULL);
        CHECK(strstr(test_req_text(r), "<script") == NULL);
        test_req_free(r);
    }
}

/* A browser that leaves while a console page waits for the store: during the gate's read (with the store's readers),
 * and during a change's write, which commits all the same with its audit entry; nothing touches the freed request and
 * the next page is served. */
static void test_client_leaves(test_browser_t *admin)
{
    size_t audits = test_console_audits(&p);
    char body[256];
    test_req_t *r;

    if (p.loop.thr.read_port != NULL) {
        r = test_req_new(&p.loop, "GET", "/admin/roles");
        test_req_header(r, "cookie", admin->cookie);
        test_store_hold_reads();
        CHECK(test_req_run(r, 0) == 0 && test_store_wait_held(1, 10000));
        test_req_free(r);
        test_store_hook_off();
        test_loop_run(&p.loop, 20);
    }
    snprintf(body, sizeof(body), "csrf_token=%s&role=Leaver", admin->token);
    r = test_req_new(&p.loop, "POST", "/admin/roles/add");
    test_req_header(r, "cookie", admin->cookie);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_store_hold_writes();
    test_req_run(r, 0);
    for (int i = 0; i != 1000 && !test_store_wait_held(1, 10); ++i)
        test_loop_run(&p.loop, 10); /* the gate's read (readers), then the change's write reaches the writer */
    CHECK(test_store_wait_held(1, 0));
    test_req_free(r);
    test_store_hook_off();
    test_loop_run(&p.loop, 50);
    CHECK(test_console_audits(&p) == audits + 1); /* committed, audited */
    r = test_console_get(&p, admin, "/admin/roles");
    CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "Leaver") != NULL);
    test_req_free(r);
}

int main(void)
{
    static const char *const manager[] = {IDP_ROLE_SYSTEM_MANAGER, NULL};
    test_browser_t admin, bob;

    test_primary_start(&p, "idp-console", NULL);
    free(test_primary_user(&p, "admin", PASSWORD, manager));
    free(test_primary_user(&p, "bob", PASSWORD, NULL));
    test_browser_sign_in(&p, &admin, "admin", PASSWORD);
    test_browser_sign_in(&p, &bob, "bob", PASSWORD);
    test_not_signed_in();
    test_not_admin(&admin, &bob);
    test_csrf(&admin, &bob);
    test_bodies(&admin);
    test_router(&admin);
    test_headers(&admin);
    test_flash(&admin);
    test_role_checked_every_time();
    test_client_leaves(&admin);
    test_primary_stop(&p);
    return check_report("idp/console");
}
