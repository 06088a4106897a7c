/* Tests idp/admin_users.c and idp/admin_roles.c in process: the user list pages through the store (every user once,
 * in order, each page bounded) and searches by the start of a username or an e-mail; a new user (the password hashed
 * on the worker pool) signs in; the refusals of hubctl user add, with their messages next to the field; disable,
 * roles, a new password and delete each end the user's sessions as hubctl's do; roles are added and deleted with
 * hubctl's rules (a built-in one or one a client holds is refused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/client.h"
#include "idp/role.h"
#include "tests/check.h"
#include "tests/support/console.h"

#define PASSWORD "correct horse battery"
#define USERS 120 /* more than two pages */

static test_primary_t p;
static test_browser_t admin;

/* The usernames a page lists, in order, into names (n of them); the link to the next page, if any, into next. */
static size_t page_names(const char *html, char names[][32], size_t cap, char *next, size_t ncap)
{
    const char *at = strstr(html, "<tbody>"), *end = at != NULL ? strstr(at, "</tbody>") : NULL;
    size_t n = 0;

    while (at != NULL && end != NULL && (at = strstr(at, "/admin/users/edit?id=")) != NULL && at < end && n < cap) {
        at = strchr(at, '>') + 1;
        snprintf(names[n++], 32, "%.*s", (int)strcspn(at, "<"), at);
    }
    next[0] = '\0';
    if ((at = strstr(html, "id=\"next-page\" href=\"")) != NULL) {
        at += 21;
        snprintf(next, ncap, "%.*s", (int)strcspn(at, "\""), at);
        for (char *a; (a = strstr(next, "&amp;")) != NULL;)
            memmove(a + 1, a + 5, strlen(a + 5) + 1);
    }
    return n;
}

static void test_paging(void)
{
    static char names[200][32];
    char path[512], next[512];
    size_t total = 0, pages = 0;

    snprintf(path, sizeof(path), "/admin/users");
    while (path[0] != '\0' && pages < 10) {
        test_req_t *r = test_console_get(&p, &admin, path);
        size_t n;
        CHECK(test_req_status(r) == 200);
        n = page_names(test_req_text(r), names + total, 200 - total, next, sizeof(next));
        CHECK(n <= 50);
        total += n;
        ++pages;
        snprintf(path, sizeof(path), "%s", next);
        test_req_free(r);
    }
    CHECK(total == USERS + 1 && pages == 3); /* the users and admin, each once, in order */
    for (size_t i = 1; i < total; ++i)
        CHECK(strcmp(names[i - 1], names[i]) < 0);
    /* the start of a username; an e-mail when it holds an @ (any case) */
    test_req_t *r = test_console_get(&p, &admin, "/admin/users?q=user-01");
    size_t n = page_names(test_req_text(r), names, 200, next, sizeof(next));
    CHECK(n == 10 && strcmp(names[0], "user-010") == 0 && next[0] == '\0');
    test_req_free(r);
    r = test_console_get(&p, &admin, "/admin/users?q=USER-007%40EXAMPLE");
    n = page_names(test_req_text(r), names, 200, next, sizeof(next));
    CHECK(n == 1 && strcmp(names[0], "user-007") == 0);
    test_req_free(r);
    r = test_console_get(&p, &admin, "/admin/users?q=%3Cscript%3E");
    CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "id=\"no-users\"") != NULL);
    CHECK(strstr(test_req_text(r), "<script>") == NULL && strstr(test_req_text(r), "value=\"&lt;script&gt;\"") != NULL);
    test_req_free(r);
    /* a start past the prefix, or absurd: an empty page, never an error */
    CHECK(test_console_status(&p, &admin, "/admin/users?q=user-01&after=zzz") == 200);
    CHECK(test_console_status(&p, &admin, "/admin/users?after=%FF%FE") == 200);
}

static char *new_user_form(const char *username, const char *email, const char *pw, const char *again, const char *roles)
{
    char *out = malloc(2048);
    snprintf(out, 2048,
             "username=%s&email=%s&full_name=%%3Cb%%3EF%%3C%%2Fb%%3E&given_name=&family_name=&password=%s&password_again=%s%s",
             username, email, pw, again, roles);
    return out;
}

static void refused(const char *body, const char *field, const char *want)
{
    size_t users = test_primary_count(&p, HUB_T_USERS);
    test_req_t *r = test_console_post(&p, &admin, "/admin/users/new", body, 1);
    char msg[64];

    snprintf(msg, sizeof(msg), "m-%s", field);
    CHECK(test_req_status(r) == 400 && test_html_has(test_req_text(r), msg, want));
    if (!test_html_has(test_req_text(r), msg, want))
        fprintf(stderr, "  (%s: no message \"%s\")\n", field, want);
    CHECK(strstr(test_req_text(r), "value=\"" PASSWORD "\"") == NULL);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_USERS) == users);
}

static void test_new(char sub[64])
{
    char *body;
    test_req_t *r;
    test_browser_t fred;
    const char *loc;

    body = new_user_form("fred", "fred%40example.com", "fred-password", "fred-password", "&role=Guest&role=Staff");
    r = test_console_post(&p, &admin, "/admin/users/new", body, 1);
    CHECK(test_req_status(r) == 303);
    loc = test_req_resp_header(r, "location", 0) ?: "";
    CHECK(strncmp(loc, "/admin/users/edit?id=", 21) == 0 && strstr(loc, "flash=user-saved") != NULL);
    snprintf(sub, 64, "%.*s", (int)strcspn(loc + 21, "&"), loc + 21);
    test_req_free(r);
    free(body);
    test_browser_sign_in(&p, &fred, "fred", "fred-password");
    r = test_console_get(&p, &fred, "/account/");
    CHECK(test_html_has(test_req_text(r), "roles", "Guest, Staff"));
    test_req_free(r);
    /* hubctl user add's refusals, next to the field */
    body = new_user_form("fred", "other%40example.com", "fred-password", "fred-password", "");
    refused(body, "username", "user &quot;fred&quot; already exists");
    free(body);
    body = new_user_form("fred2", "FRED%40example.com", "fred-password", "fred-password", "");
    refused(body, "email", "belongs to another user");
    free(body);
    body = new_user_form("bad%20name", "b%40example.com", "fred-password", "fred-password", "");
    refused(body, "username", "must be 1 to 64 characters");
    free(body);
    body = new_user_form("okname", "not-an-email", "fred-password", "fred-password", "");
    refused(body, "email", "is not an e-mail address");
    free(body);
    body = new_user_form("okname", "ok%40example.com", "short", "short", "");
    refused(body, "password", "at least 8 characters");
    free(body);
    body = new_user_form("okname", "ok%40example.com", "long-enough-1", "long-enough-2", "");
    refused(body, "password_again", "does not match");
    free(body);
    body = new_user_form("okname", "ok%40example.com", "long-enough-1", "long-enough-1", "&role=Ghost");
    refused(body, "role", "Ghost");
    free(body);
    refused("username=x&username=y&email=a%40b.c&password=aaaaaaaaa&password_again=aaaaaaaaa", "username",
            "was sent more than once");
}

static int post(const char *path, const char *fields)
{
    test_req_t *r = test_console_post(&p, &admin, path, fields, 1);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

static void test_changes(const char *sub)
{
    char fields[256];
    test_browser_t fred, again;

    test_browser_sign_in(&p, &fred, "fred", "fred-password");
    /* disable: refused at sign-in, the session ended; enable again */
    snprintf(fields, sizeof(fields), "sub=%s", sub);
    CHECK(post("/admin/users/state", fields) == 303);
    CHECK(test_console_status(&p, &fred, "/account/") == 302);
    CHECK(test_primary_sign_in(&p, "fred", "fred-password", again.cookie, sizeof(again.cookie)) != 0);
    CHECK(post("/admin/users/state", fields) == 303);
    test_browser_sign_in(&p, &fred, "fred", "fred-password");
    /* roles: the boxes checked are the roles held; one that does not exist is refused */
    snprintf(fields, sizeof(fields), "sub=%s&role=Guest&role=Ghost", sub);
    CHECK(post("/admin/users/roles", fields) == 400);
    CHECK(test_console_status(&p, &fred, "/account/") == 200);
    snprintf(fields, sizeof(fields), "sub=%s&role=Guest", sub); /* Staff taken: the session ends, as hubctl user roles */
    CHECK(post("/admin/users/roles", fields) == 303);
    CHECK(test_console_status(&p, &fred, "/account/") == 302);
    /* a new password: refused when the two differ, else the old one stops */
    snprintf(fields, sizeof(fields), "sub=%s&password=another-one&password_again=another-two", sub);
    CHECK(post("/admin/users/password", fields) == 400);
    snprintf(fields, sizeof(fields), "sub=%s&password=another-one&password_again=another-one", sub);
    CHECK(post("/admin/users/password", fields) == 303);
    CHECK(test_primary_sign_in(&p, "fred", "fred-password", again.cookie, sizeof(again.cookie)) != 0);
    test_browser_sign_in(&p, &fred, "fred", "another-one");
    /* delete, after a confirmation */
    snprintf(fields, sizeof(fields), "sub=%s", sub);
    CHECK(post("/admin/users/delete", fields) == 200 && test_console_status(&p, &fred, "/account/") == 200);
    snprintf(fields, sizeof(fields), "sub=%s&confirm=yes", sub);
    CHECK(post("/admin/users/delete", fields) == 303);
    CHECK(test_console_status(&p, &fred, "/account/") == 302);
    CHECK(post("/admin/users/state", fields) == 404 && post("/admin/users/delete", fields) == 404);
    char path[128];
    snprintf(path, sizeof(path), "/admin/users/edit?id=%s", sub);
    CHECK(test_console_status(&p, &admin, path) == 404);
}

static int service_client_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = calloc(1, sizeof(*c));
    int ret;

    c->app_name = strdup("svc");
    c->enabled = 1;
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    idp_strv_split(&c->scopes, "read", 1);
    idp_strv_split(&c->redirect_uris, "", 1);
    idp_strv_split(&c->service_roles, "Auditor", 0);
    idp_client_new_secret(c, (char[44]){0});
    ret = idp_client_put(txn, c);
    idp_client_free(c);
    return ret;
}

static void test_roles(void)
{
    size_t roles = test_primary_count(&p, HUB_T_ROLES);
    test_req_t *r;

    CHECK(post("/admin/roles/add", "role=Head%20of%20Sales") == 303);
    CHECK(test_primary_count(&p, HUB_T_ROLES) == roles + 1);
    r = test_console_post(&p, &admin, "/admin/roles/add", "role=Head%20of%20Sales", 1);
    CHECK(test_req_status(r) == 400 && test_html_has(test_req_text(r), "m-role", "role &quot;Head of Sales&quot; already exists"));
    test_req_free(r);
    r = test_console_post(&p, &admin, "/admin/roles/add", "role=a%3Bb", 1);
    CHECK(test_req_status(r) == 400 && strstr(test_req_text(r), "id=\"m-role\"") != NULL);
    test_req_free(r);
    CHECK(post("/admin/roles/add", "role=%20padded") == 400 && post("/admin/roles/add", "role=") == 400);
    CHECK(post("/admin/roles/add", "role=x%07y") == 400);
    CHECK(test_primary_count(&p, HUB_T_ROLES) == roles + 1);
    /* deletion: asks first; built-in and client-held roles refused with hubctl's reasons */
    CHECK(post("/admin/roles/delete", "role=Head%20of%20Sales") == 200);
    CHECK(post("/admin/roles/delete", "role=Head%20of%20Sales&confirm=yes") == 303);
    CHECK(test_primary_count(&p, HUB_T_ROLES) == roles);
    r = test_console_post(&p, &admin, "/admin/roles/delete", "role=Guest&confirm=yes", 1);
    CHECK(test_req_status(r) == 409 && strstr(test_req_text(r), "is a built-in role") != NULL);
    test_req_free(r);
    CHECK(post("/admin/roles/add", "role=Auditor") == 303 && hub_store_write(p.store, service_client_txn, NULL) == 0);
    r = test_console_post(&p, &admin, "/admin/roles/delete", "role=Auditor&confirm=yes", 1);
    CHECK(test_req_status(r) == 409 && strstr(test_req_text(r), "is still held by a client") != NULL);
    test_req_free(r);
    CHECK(post("/admin/roles/delete", "role=Nope&confirm=yes") == 404);
    /* the role list shows names as text */
    CHECK(post("/admin/roles/add", "role=%3Ci%3Eodd%3C%2Fi%3E") == 303);
    r = test_console_get(&p, &admin, "/admin/roles");
    CHECK(strstr(test_req_text(r), "<i>odd") == NULL && strstr(test_req_text(r), "&lt;i&gt;odd&lt;/i&gt;") != NULL);
    test_req_free(r);
}

int main(void)
{
    static const char *const manager[] = {IDP_ROLE_SYSTEM_MANAGER, NULL}, *const staff[] = {"Staff", NULL};
    char name[32], sub[64] = "";

    test_primary_start(&p, "idp-admin-users", NULL);
    free(test_primary_user(&p, "admin", PASSWORD, manager));
    for (int i = 0; i != USERS; ++i) {
        snprintf(name, sizeof(name), "user-%03d", i);
        free(test_primary_user(&p, name, NULL, i == 0 ? staff : NULL));
    }
    test_browser_sign_in(&p, &admin, "admin", PASSWORD);
    test_paging();
    test_new(sub);
    test_changes(sub);
    test_roles();
    test_primary_stop(&p);
    return check_report("idp/admin_users");
}
