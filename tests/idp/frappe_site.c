/* Tests idp/frappe_site.c, the SITE_URL of --frappe-site, and the client of a Frappe site idp/client.c makes
 * (idp_client_set_frappe_site: the stock key's login URIs, its auth method and grant) and the rules idp_client_validate
 * keeps for such a client. */
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "idp/client.h"
#include "idp/frappe_site.h"
#include "tests/check.h"

#define WWW "/api/method/frappe.www.login.login_via_frappe"
#define INTEGRATIONS "/api/method/frappe.integrations.oauth2_logins.login_via_frappe"

static idp_client_t *new_client(const char *uris)
{
    idp_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->app_name = strdup("Site");
    c->enabled = 1;
    idp_strv_split(&c->redirect_uris, uris, 1);
    idp_strv_split(&c->scopes, "openid profile email roles", 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    c->auth_method = IDP_AUTH_SECRET_BASIC;
    return c;
}

static void expect_site(const char *in, const char *want)
{
    idp_invalid_t inv = {0};
    char *out = NULL;
    int ret = idp_frappe_site_parse(in, &out, &inv);
    CHECK(ret == 0 && out != NULL && strcmp(out, want) == 0);
    if (ret != 0 || out == NULL || strcmp(out, want) != 0)
        fprintf(stderr, "  %s -> %s (%s), expected %s\n", in, out != NULL ? out : "(null)", inv.text, want);
    free(out);
}

static void expect_bad_site(const char *in, const char *reason)
{
    idp_invalid_t inv = {0};
    char *out = (char *)"untouched";
    CHECK(idp_frappe_site_parse(in, &out, &inv) == HUB_E_INVAL && out == NULL);
    CHECK(inv.field == IDP_FIELD_FRAPPE_SITE && strchr(inv.text, '\n') == NULL && strchr(inv.text, '\r') == NULL);
    if (strstr(inv.text, reason) == NULL) {
        ++failures;
        fprintf(stderr, "  %s: expected \"%s\" in \"%s\"\n", in != NULL ? in : "(null)", reason, inv.text);
    }
}

static void test_parse(void)
{
    char longhost[2100];

    expect_site("https://site.example", "https://site.example");
    expect_site("https://site.example/", "https://site.example");
    expect_site("HTTPS://Site.EXAMPLE/", "https://site.example"); /* compared exactly later: one spelling */
    expect_site("http://127.0.0.1:8000", "http://127.0.0.1:8000");
    expect_site("http://site.example:8000/", "http://site.example:8000");
    expect_site("https://[::1]:8443", "https://[::1]:8443");

    expect_bad_site(NULL, "required");
    expect_bad_site("", "required");
    expect_bad_site("ftp://site.example", "not an absolute http(s) URL");
    expect_bad_site("site.example", "not an absolute http(s) URL");
    expect_bad_site("//site.example", "not an absolute http(s) URL");
    expect_bad_site("javascript:alert(1)", "not an absolute http(s) URL");
    expect_bad_site("https://site.example#top", "not an absolute http(s) URL");
    expect_bad_site("https://admin@site.example", "not an absolute http(s) URL");
    expect_bad_site("https://site.example:0", "not an absolute http(s) URL");
    expect_bad_site("https://site.example:65536", "not an absolute http(s) URL");
    expect_bad_site("https://site .example", "not an absolute http(s) URL");
    expect_bad_site("https://site.example\r\n", "not an absolute http(s) URL");
    expect_bad_site("https://site.example/app", "has a path");
    expect_bad_site("https://site.example//", "has a path");
    expect_bad_site("https://site.example/api/method/frappe.www.login.login_via_frappe", "has a path");
    expect_bad_site("https://site.example?next=/", "has a query");
    expect_bad_site("https://site.example/?next=/", "has a query");
    expect_bad_site("https://site.example?", "has a query");
    memset(longhost, 'a', sizeof(longhost));
    memcpy(longhost, "https://", 8);
    longhost[sizeof(longhost) - 1] = '\0';
    expect_bad_site(longhost, "longer than");
}

static void expect_uris(const idp_client_t *c, const char *const *want, size_t n)
{
    CHECK(c->redirect_uris.n == n);
    for (size_t i = 0; i != n && i != c->redirect_uris.n; ++i)
        if (strcmp(c->redirect_uris.v[i], want[i]) != 0) {
            ++failures;
            fprintf(stderr, "  redirect URI %zu: %s, expected %s\n", i, c->redirect_uris.v[i], want[i]);
        }
}

static void test_apply(void)
{
    static const char *const site_a[] = {"https://a.example" WWW, "https://a.example" INTEGRATIONS};
    static const char *const a_and_cb[] = {"https://a.example" WWW, "https://a.example" INTEGRATIONS, "https://a.example/cb"};
    static const char *const b_and_cb[] = {"https://b.example" WWW, "https://b.example" INTEGRATIONS, "https://a.example/cb"};
    idp_client_t *c = new_client("");

    /* a new client: the two login URIs, the first of them the default, as the stock key talks */
    idp_client_set_frappe_site(c, "https://a.example");
    expect_uris(c, site_a, 2);
    CHECK(strcmp(c->frappe_site, "https://a.example") == 0 && strcmp(c->default_redirect_uri, site_a[0]) == 0);
    CHECK(c->auth_method == IDP_AUTH_SECRET_POST && c->grant_type == IDP_GRANT_AUTHORIZATION_CODE &&
          c->response_type == IDP_RESPONSE_CODE);
    CHECK(idp_client_validate(c, NULL) == 0);
    idp_client_free(c);

    /* given URIs stay after the login ones; a login URI given too is not doubled */
    c = new_client("https://a.example/cb https://a.example" INTEGRATIONS);
    idp_client_set_frappe_site(c, "https://a.example");
    expect_uris(c, a_and_cb, 3);
    /* applied again with its own site (the hubctl path when --redirect-uris changes): nothing doubles */
    idp_client_set_frappe_site(c, c->frappe_site);
    expect_uris(c, a_and_cb, 3);
    CHECK(idp_client_validate(c, NULL) == 0);

    /* another site: the old site's login URIs go, the default with them, the extra URI stays */
    idp_client_set_frappe_site(c, "https://b.example");
    expect_uris(c, b_and_cb, 3);
    CHECK(strcmp(c->frappe_site, "https://b.example") == 0 && strcmp(c->default_redirect_uri, b_and_cb[0]) == 0);
    CHECK(idp_client_validate(c, NULL) == 0);
    /* a default that is still one of the URIs is kept */
    free(c->default_redirect_uri);
    c->default_redirect_uri = strdup("https://a.example/cb");
    idp_client_set_frappe_site(c, c->frappe_site);
    CHECK(strcmp(c->default_redirect_uri, "https://a.example/cb") == 0);
    idp_client_free(c);
}

/* A Frappe-site client changed by mutate must fail validation naming field. */
static void expect_invalid(void (*mutate)(idp_client_t *), idp_field_t field)
{
    idp_invalid_t inv = {0};
    idp_client_t *c = new_client("");
    idp_client_set_frappe_site(c, "https://a.example");
    mutate(c);
    CHECK(idp_client_validate(c, &inv) == HUB_E_INVAL);
    if (inv.field != field) {
        ++failures;
        fprintf(stderr, "  expected an error on %s, got \"%s: %s\"\n", idp_field_option(field), idp_field_option(inv.field),
                inv.text);
    }
    CHECK(inv.text[0] != '\0' && strstr(inv.text, "--") == NULL && strchr(inv.text, '\n') == NULL); /* names no option */
    idp_client_free(c);
}

static void set_basic(idp_client_t *c)
{
    c->auth_method = IDP_AUTH_SECRET_BASIC;
}

static void set_public(idp_client_t *c)
{
    c->auth_method = IDP_AUTH_NONE;
}

static void set_implicit(idp_client_t *c)
{
    c->grant_type = IDP_GRANT_IMPLICIT;
    c->response_type = IDP_RESPONSE_TOKEN;
}

static void set_client_credentials(idp_client_t *c)
{
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
}

static void drop_openid(idp_client_t *c)
{
    idp_strv_free(&c->scopes);
    idp_strv_split(&c->scopes, "profile email", 1);
}

static void drop_login_uri(idp_client_t *c)
{
    idp_strv_free(&c->redirect_uris);
    idp_strv_split(&c->redirect_uris, "https://a.example" WWW, 1);
}

static void other_site_uris(idp_client_t *c)
{
    free(c->frappe_site);
    c->frappe_site = strdup("https://b.example");
}

static void unnormalised_site(idp_client_t *c)
{
    free(c->frappe_site);
    c->frappe_site = strdup("https://A.example/");
}

static void site_with_path(idp_client_t *c)
{
    free(c->frappe_site);
    c->frappe_site = strdup("https://a.example/x");
}

static void node_client(idp_client_t *c)
{
    c->node_id = strdup("node-1");
}

static void test_rules(void)
{
    expect_invalid(node_client, IDP_FIELD_FRAPPE_SITE);
    expect_invalid(set_basic, IDP_FIELD_AUTH_METHOD);
    expect_invalid(set_public, IDP_FIELD_AUTH_METHOD);
    expect_invalid(set_implicit, IDP_FIELD_GRANT_TYPE);
    expect_invalid(set_client_credentials, IDP_FIELD_GRANT_TYPE);
    expect_invalid(drop_openid, IDP_FIELD_SCOPES);
    expect_invalid(drop_login_uri, IDP_FIELD_REDIRECT_URIS);
    expect_invalid(other_site_uris, IDP_FIELD_REDIRECT_URIS);
    expect_invalid(unnormalised_site, IDP_FIELD_FRAPPE_SITE);
    expect_invalid(site_with_path, IDP_FIELD_FRAPPE_SITE);
}

int main(void)
{
    test_parse();
    test_apply();
    test_rules();
    return check_report("idp/frappe_site");
}
