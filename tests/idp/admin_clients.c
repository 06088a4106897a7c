/* Tests idp/admin_clients.c in process: the seed's form creates a client with ';'-separated redirect URIs and shows its
 * secret once (which then works at the token endpoint), the values a client cannot have are refused with hubctl's own
 * message next to the field concerned and nothing stored, a hostile app name shows as text everywhere, a Frappe site
 * fills the client as hubctl's --frappe-site does, an edit round-trips, a rotated secret replaces the old one at once
 * (through the token endpoint's client cache), deletion asks first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/form.h"
#include "idp/client_edit.h"
#include "idp/role.h"
#include "tests/check.h"
#include "tests/support/console.h"

#define PASSWORD "correct horse battery"
#define XSS "<script>alert(1)</script>"
#define XSS_SHOWN "&lt;script&gt;alert(1)&lt;/script&gt;"

static test_primary_t p;
static test_browser_t admin;

/* The form's fields, each encoded; the caller's extra pairs (encoded) replace nothing: they are appended. */
static char *form(const char *app_name, const char *redirect_uris, const char *extra)
{
    h2o_mem_pool_t pool;
    char *out = malloc(8192);

    h2o_mem_init_pool(&pool);
    snprintf(out, 8192,
             "app_name=%s&scopes=openid%%3Bprofile%%3Bemail&redirect_uris=%s&default_redirect_uri=&grant_type=authorization_code&"
             "response_type=code&auth_method=client_secret_basic&allowed_roles=&backchannel_logout_uri=&"
             "post_logout_redirect_uris=&frappe_site=&service_roles=%s%s",
             hub_url_encode(&pool, app_name, strlen(app_name)).base,
             hub_url_encode(&pool, redirect_uris, strlen(redirect_uris)).base, extra[0] != '\0' ? "&" : "", extra);
    h2o_mem_clear_pool(&pool);
    return out;
}

/* A form with one field's value replaced (name=value encoded by the caller). */
static char *form_with(const char *name, const char *value)
{
    char *f = form("Bad app", "https://bad.example/cb", ""), *out = malloc(8192), *at, key[64];

    snprintf(key, sizeof(key), "%s=", name);
    at = strstr(f, key);
    if (at == NULL || (at != f && at[-1] != '&')) {
        snprintf(out, 8192, "%s&%s=%s", f, name, value);
    } else {
        size_t keep = (size_t)(at - f) + strlen(key);
        const char *rest = strchr(at, '&');
        snprintf(out, 8192, "%.*s%s%s", (int)keep, f, value, rest != NULL ? rest : "");
    }
    free(f);
    return out;
}

static idp_client_t *stored(const char *client_id)
{
    hub_txn_t *txn = NULL;
    idp_client_t *c = NULL;

    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    if (idp_client_get(txn, client_id, &c) != 0)
        c = NULL;
    hub_store_read_end(txn);
    return c;
}

static uint64_t clients_gen(void)
{
    hub_txn_t *txn = NULL;
    uint64_t g;
    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    g = hub_store_counter(txn, IDP_CLIENTS_GEN);
    hub_store_read_end(txn);
    return g;
}

/* 1 when a client_credentials request with id and secret gets a token. */
static int secret_works(const char *id, const char *secret)
{
    char auth[512];
    json_t *doc = test_primary_grant(&p, test_basic(id, secret, auth, sizeof(auth)), "grant_type=client_credentials&scope=read");
    int ok = doc != NULL;
    json_decref(doc);
    return ok;
}

static void test_create(char id[64], char secret[64])
{
    size_t n = test_primary_count(&p, HUB_T_CLIENTS), audits = test_console_audits(&p);
    uint64_t gen = clients_gen();
    char *body = form(XSS, "https://app.example/cb;https://app.example/other", "skip_authorization=1");
    test_req_t *r = test_console_post(&p, &admin, "/admin/clients/new", body, 1);
    idp_client_t *c;

    CHECK(test_req_status(r) == 200);
    CHECK(test_form_value(test_req_text(r), "client_id", id, 64) != 0); /* shown, not as a form field */
    const char *t = test_req_text(r), *at = strstr(t, "id=\"client-id\">"), *s = strstr(t, "id=\"secret\">");
    CHECK(at != NULL && s != NULL);
    if (at == NULL || s == NULL)
        return;
    snprintf(id, 64, "%.*s", (int)strcspn(at + 15, "<"), at + 15);
    snprintf(secret, 64, "%.*s", (int)strcspn(s + 12, "<"), s + 12);
    CHECK(strlen(secret) == IDP_CLIENT_SECRET_LEN);
    CHECK(strstr(t, XSS) == NULL && strstr(t, XSS_SHOWN) != NULL);
    test_req_free(r);
    free(body);
    CHECK(test_primary_count(&p, HUB_T_CLIENTS) == n + 1 && test_console_audits(&p) == audits + 1);
    CHECK(clients_gen() > gen); /* the token endpoint's client cache sees it at once */
    c = stored(id);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    CHECK(strcmp(c->app_name, XSS) == 0 && c->skip_authorization && c->enabled);
    CHECK(c->redirect_uris.n == 2 && strcmp(c->redirect_uris.v[0], "https://app.example/cb") == 0 &&
          strcmp(c->redirect_uris.v[1], "https://app.example/other") == 0);
    CHECK(strcmp(c->default_redirect_uri, "https://app.example/cb") == 0);
    CHECK(c->scopes.n == 3 && c->grant_type == IDP_GRANT_AUTHORIZATION_CODE && c->auth_method == IDP_AUTH_SECRET_BASIC);
    CHECK(idp_client_secret_ok(c, secret, strlen(secret)));
    idp_client_free(c);
    /* the list and the edit page show the name as text */
    r = test_console_get(&p, &admin, "/admin/clients");
    CHECK(strstr(test_req_text(r), XSS) == NULL && strstr(test_req_text(r), XSS_SHOWN) != NULL &&
          strstr(test_req_text(r), id) != NULL);
    test_req_free(r);
    char path[128];
    snprintf(path, sizeof(path), "/admin/clients/edit?id=%s", id);
    r = test_console_get(&p, &admin, path);
    CHECK(strstr(test_req_text(r), XSS) == NULL && strstr(test_req_text(r), "value=\"" XSS_SHOWN "\"") != NULL);
    CHECK(strstr(test_req_text(r), ">https://app.example/cb;https://app.example/other</textarea>") != NULL); /* as the seed shows */
    CHECK(strstr(test_req_text(r), secret) == NULL);                                                         /* shown once */
    test_req_free(r);
}

/* field=value refused: 400, the field mark (field when NULL) marked with its message (want in it), nothing stored. */
static void refused_at(const char *field, const char *value, const char *mark, const char *want)
{
    size_t n = test_primary_count(&p, HUB_T_CLIENTS), audits = test_console_audits(&p);
    char *body = form_with(field, value), marker[128], msg[64];
    test_req_t *r = test_console_post(&p, &admin, "/admin/clients/new", body, 1);

    snprintf(marker, sizeof(marker), "id=\"f-%s\"", mark != NULL ? mark : field);
    snprintf(msg, sizeof(msg), "m-%s", mark != NULL ? mark : field);
    CHECK(test_req_status(r) == 400);
    const char *t = test_req_text(r), *input = strstr(t, marker);
    CHECK(input != NULL && strstr(input, "aria-invalid=\"true\"") != NULL);
    CHECK(test_html_has(t, msg, want));
    CHECK(strstr(t, "id=\"problem\"") != NULL && strstr(t, "Nothing was saved.") != NULL);
    if (!test_html_has(t, msg, want))
        fprintf(stderr, "  (%s=%s: no message \"%s\")\n", field, value, want);
    CHECK(strstr(t, "<script>") == NULL);
    test_req_free(r);
    free(body);
    CHECK(test_primary_count(&p, HUB_T_CLIENTS) == n && test_console_audits(&p) == audits);
}

static void refused(const char *field, const char *value, const char *want)
{
    refused_at(field, value, NULL, want);
}

static void test_refusals(void)
{
    refused("redirect_uris", "javascript%3Aalert(1)", "is not an absolute http(s) URI");
    refused("redirect_uris", "https%3A%2F%2Fa.example%2Fcb%23frag", "is not an absolute http(s) URI");
    refused("redirect_uris", "https%3A%2F%2Fa.example%2Fcb%3B%3Cscript%3E", "&lt;script&gt;");
    refused("redirect_uris", "", "redirect");
    refused("grant_type", "password", "is not authorization_code, implicit or client_credentials");
    refused_at("grant_type", "implicit", "response_type", "grant type implicit needs response type token");
    refused("response_type", "token", "needs response type code");
    refused("auth_method", "private_key_jwt", "is not client_secret_basic, client_secret_post or none");
    refused("default_redirect_uri", "https%3A%2F%2Felsewhere.example%2F", "");
    refused("backchannel_logout_uri", "http%3A%2F%2F169.254.169.254%2Flatest", "points at");
    refused("allowed_roles", "Nope", "Nope");
    refused("service_roles", "Ghost%3BGuest", "Ghost");
    refused("frappe_site", "ftp%3A%2F%2Ferp.example", "");
    refused("app_name", "a%0Ab", "");
    refused("scopes", "", "");
    /* a field twice, a field missing: the form again with the message, not a guess */
    char *body = form("Twice", "https://t.example/cb", "app_name=Again");
    test_req_t *r = test_console_post(&p, &admin, "/admin/clients/new", body, 1);
    CHECK(test_req_status(r) == 400 && test_html_has(test_req_text(r), "m-app_name", "was sent more than once"));
    test_req_free(r);
    free(body);
    r = test_console_post(&p, &admin, "/admin/clients/new", "app_name=Lacking&redirect_uris=https%3A%2F%2Fl.example%2Fcb", 1);
    CHECK(test_req_status(r) == 400 && strstr(test_req_text(r), "is required") != NULL);
    test_req_free(r);
    body = form("Twice", "https://t.example/cb", "skip_authorization=1&skip_authorization=1");
    r = test_console_post(&p, &admin, "/admin/clients/new", body, 1);
    free(body);
    CHECK(test_req_status(r) == 400 && strstr(test_req_text(r), "Skip Authorization was sent more than once") != NULL);
    test_req_free(r);
}

/* The same values through the console and through idp/client_edit.h (hubctl's path) give the same client. */
static void test_frappe_site(void)
{
    char *body = form_with("frappe_site", "HTTPS%3A%2F%2FERP.Example.com%2F");
    test_req_t *r = test_console_post(&p, &admin, "/admin/clients/new", body, 1);
    const char *at;
    char id[64] = "";

    CHECK(test_req_status(r) == 200 && (at = strstr(test_req_text(r), "id=\"client-id\">")) != NULL);
    if (at != NULL)
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(at + 15, "<"), at + 15);
    test_req_free(r);
    free(body);
    idp_client_t *c = stored(id);
    CHECK(c != NULL);
    if (c == NULL)
        return;
    CHECK(strcmp(c->frappe_site ?: "", "https://erp.example.com") == 0 && c->auth_method == IDP_AUTH_SECRET_POST);
    CHECK(idp_strv_has(&c->redirect_uris, "https://erp.example.com/api/method/frappe.www.login.login_via_frappe"));
    CHECK(idp_strv_has(&c->redirect_uris, "https://erp.example.com/api/method/frappe.integrations.oauth2_logins.login_via_frappe"));
    CHECK(idp_strv_has(&c->redirect_uris, "https://bad.example/cb")); /* an extra one stays, after the site's */
    CHECK(strcmp(c->redirect_uris.v[0], "https://erp.example.com/api/method/frappe.www.login.login_via_frappe") == 0);
    idp_client_free(c);
}

static void test_edit(const char *id, const char *secret)
{
    char path[128], body[4096];
    h2o_mem_pool_t pool;
    test_req_t *r;
    idp_client_t *c;

    snprintf(path, sizeof(path), "/admin/clients/edit?id=%s", id);
    /* Client Credentials with a service role: the secret then gets tokens */
    h2o_mem_init_pool(&pool);
    snprintf(body, sizeof(body),
             "client_id=%s&app_name=Renamed&scopes=read&redirect_uris=&default_redirect_uri=&grant_type=client_credentials&"
             "response_type=code&auth_method=client_secret_basic&allowed_roles=&backchannel_logout_uri=&"
             "post_logout_redirect_uris=&frappe_site=&service_roles=Guest",
             id);
    r = test_console_post(&p, &admin, "/admin/clients/edit", body, 1);
    CHECK(test_req_status(r) == 303);
    CHECK(strstr(test_req_resp_header(r, "location", 0) ?: "", "flash=client-saved") != NULL);
    test_req_free(r);
    c = stored(id);
    CHECK(c != NULL && strcmp(c->app_name, "Renamed") == 0 && c->grant_type == IDP_GRANT_CLIENT_CREDENTIALS &&
          !c->skip_authorization);
    CHECK(c != NULL && c->service_roles.n == 1 && idp_client_secret_ok(c, secret, strlen(secret))); /* kept */
    idp_client_free(c);
    CHECK(secret_works(id, secret));
    /* an edit refused leaves the stored client as it was */
    snprintf(body, sizeof(body),
             "client_id=%s&app_name=Broken&scopes=read&redirect_uris=notaurl&default_redirect_uri=&"
             "grant_type=authorization_code&response_type=code&auth_method=client_secret_basic&allowed_roles=&"
             "backchannel_logout_uri=&post_logout_redirect_uris=&frappe_site=&service_roles=Guest",
             id);
    r = test_console_post(&p, &admin, "/admin/clients/edit", body, 1);
    CHECK(test_req_status(r) == 400 && strstr(test_req_text(r), "value=\"Broken\"") != NULL);
    test_req_free(r);
    c = stored(id);
    CHECK(c != NULL && strcmp(c->app_name, "Renamed") == 0);
    idp_client_free(c);
    /* no such client */
    r = test_console_post(&p, &admin, "/admin/clients/edit", "client_id=nope&app_name=x", 1);
    CHECK(test_req_status(r) == 404);
    test_req_free(r);
    CHECK(test_console_status(&p, &admin, "/admin/clients/edit?id=nope") == 404);
    CHECK(test_console_status(&p, &admin, "/admin/clients/edit") == 404);
    h2o_mem_clear_pool(&pool);
}

static void test_rotate_and_delete(const char *id, const char *old_secret)
{
    char fields[256], secret[64] = "";
    test_req_t *r;
    const char *s;

    snprintf(fields, sizeof(fields), "client_id=%s", id);
    r = test_console_post(&p, &admin, "/admin/clients/rotate-secret", fields, 1);
    CHECK(test_req_status(r) == 200 && (s = strstr(test_req_text(r), "id=\"secret\">")) != NULL);
    if (s != NULL)
        snprintf(secret, sizeof(secret), "%.*s", (int)strcspn(s + 12, "<"), s + 12);
    test_req_free(r);
    CHECK(strlen(secret) == IDP_CLIENT_SECRET_LEN && strcmp(secret, old_secret) != 0);
    /* at once, through the token endpoint's cache of clients */
    CHECK(!secret_works(id, old_secret));
    CHECK(secret_works(id, secret));
    r = test_console_post(&p, &admin, "/admin/clients/rotate-secret", "client_id=nope", 1);
    CHECK(test_req_status(r) == 404);
    test_req_free(r);
    /* deletion asks first */
    r = test_console_post(&p, &admin, "/admin/clients/delete", fields, 1);
    CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "name=\"confirm\" value=\"yes\"") != NULL);
    test_req_free(r);
    idp_client_t *c = stored(id);
    CHECK(c != NULL);
    idp_client_free(c);
    snprintf(fields, sizeof(fields), "client_id=%s&confirm=yes", id);
    r = test_console_post(&p, &admin, "/admin/clients/delete", fields, 1);
    CHECK(test_req_status(r) == 303);
    test_req_free(r);
    CHECK(stored(id) == NULL && !secret_works(id, secret));
    r = test_console_post(&p, &admin, "/admin/clients/delete", fields, 1);
    CHECK(test_req_status(r) == 404);
    test_req_free(r);
}

/* A public client has no secret to rotate: refused, 409. */
static void test_public(void)
{
    char *body = form_with("auth_method", "none"), id[64] = "", fields[128];
    test_req_t *r = test_console_post(&p, &admin, "/admin/clients/new", body, 1);
    const char *at;

    CHECK(test_req_status(r) == 200 && strstr(test_req_text(r), "id=\"secret\"") == NULL);
    if ((at = strstr(test_req_text(r), "id=\"client-id\">")) != NULL)
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(at + 15, "<"), at + 15);
    test_req_free(r);
    free(body);
    snprintf(fields, sizeof(fields), "client_id=%s", id);
    r = test_console_post(&p, &admin, "/admin/clients/rotate-secret", fields, 1);
    CHECK(test_req_status(r) == 409 && strstr(test_req_text(r), "uses auth method none and has no secret") != NULL);
    test_req_free(r);
}

/* The audit log names what was done and to which client, never a secret. */
static int audit_has_no(void *arg, hub_val_t key, hub_val_t val)
{
    const char *secret = arg;
    CHECK(memmem(val.data, val.len, secret, strlen(secret)) == NULL);
    return 0;
}

int main(void)
{
    static const char *const manager[] = {IDP_ROLE_SYSTEM_MANAGER, NULL};
    char id[64] = "", secret[64] = "";
    hub_txn_t *txn = NULL;

    test_primary_start(&p, "idp-admin-clients", NULL);
    free(test_primary_user(&p, "admin", PASSWORD, manager));
    test_browser_sign_in(&p, &admin, "admin", PASSWORD);
    test_create(id, secret);
    test_refusals();
    test_frappe_site();
    test_edit(id, secret);
    test_public();
    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    hub_store_each(txn, HUB_T_AUDIT, NULL, 0, audit_has_no, secret);
    hub_store_read_end(txn);
    test_rotate_and_delete(id, secret);
    test_primary_stop(&p);
    return check_report("idp/admin_clients");
}
