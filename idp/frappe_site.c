/* The client record of a Frappe site (SPEC §2 --frappe-site; declared in idp/model.h): its URL, the login redirect URIs
 * its stock "Frappe" Social Login Key sends, and what such a client must be. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/url.h"
#include "hub/util.h"
#include "idp/model.h"

/* Where a Frappe site's login endpoints live: frappe/www/login.py and frappe/integrations/oauth2_logins.py both have a
 * login_via_frappe; the stock key's redirect_url has named either, depending on the Frappe version. */
#define WWW_LOGIN "/api/method/frappe.www.login.login_via_frappe"
#define INTEGRATIONS_LOGIN "/api/method/frappe.integrations.oauth2_logins.login_via_frappe"
static const char *const login_paths[] = {WWW_LOGIN, INTEGRATIONS_LOGIN};
#define NPATHS (sizeof(login_paths) / sizeof(login_paths[0]))
/* so that every login URI is a URL hub_url_parse takes */
#define MAX_SITE (HUB_URL_MAX - (sizeof(INTEGRATIONS_LOGIN) > sizeof(WWW_LOGIN) ? sizeof(INTEGRATIONS_LOGIN) : sizeof(WWW_LOGIN)))

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen != 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return HUB_E_INVAL;
}

/* The i-th login redirect URI of site (malloc'ed). */
static char *login_uri(const char *site, size_t i)
{
    size_t n = strlen(site) + strlen(login_paths[i]) + 1;
    char *uri = malloc(n);
    if (uri == NULL)
        abort();
    snprintf(uri, n, "%s%s", site, login_paths[i]);
    return uri;
}

/* site as an error message may quote it: at most 200 bytes, anything but printable ASCII shown as '?' (one line). */
static const char *quoted(char out[201], const char *site)
{
    size_t i;
    for (i = 0; site[i] != '\0' && i != 200; ++i)
        out[i] = site[i] > 0x20 && site[i] < 0x7f ? site[i] : '?';
    out[i] = '\0';
    return out;
}

int idp_frappe_site_parse(const char *site, char **out, char *err, size_t errlen)
{
    const char *why = NULL;
    char q[201], *s;
    hub_url_t u;
    size_t n;

    *out = NULL;
    if (site == NULL || site[0] == '\0')
        return fail(err, errlen, "--frappe-site: the site's URL is required, like https://site.example");
    if (strlen(site) > MAX_SITE)
        return fail(err, errlen, "--frappe-site: longer than %zu bytes", (size_t)MAX_SITE);
    if (hub_url_parse(site, &u, &why) != 0)
        return fail(err, errlen, "--frappe-site: \"%s\" is not an absolute http(s) URL (%s)", quoted(q, site), why);
    if (strchr(u.rest, '?') != NULL)
        return fail(err, errlen, "--frappe-site: \"%s\" has a query; give the site's URL alone, like https://site.example",
                    quoted(q, site));
    if (strcmp(u.rest, "") != 0 && strcmp(u.rest, "/") != 0)
        return fail(err, errlen, "--frappe-site: \"%s\" has a path; give the site's URL alone, like https://site.example",
                    quoted(q, site));
    /* everything before the path is scheme and authority (no userinfo): case-insensitive, compared exactly afterwards */
    n = (size_t)(u.rest - site);
    if ((s = malloc(n + 1)) == NULL)
        abort();
    for (size_t i = 0; i != n; ++i)
        s[i] = (char)tolower((unsigned char)site[i]);
    s[n] = '\0';
    *out = s;
    return 0;
}

static void remove_uri(idp_strv_t *sv, const char *uri)
{
    size_t i, j;
    if (sv->v == NULL)
        return;
    for (i = j = 0; i != sv->n; ++i) {
        if (strcmp(sv->v[i], uri) == 0)
            free(sv->v[i]);
        else
            sv->v[j++] = sv->v[i];
    }
    sv->n = j;
    sv->v[j] = NULL;
}

/* Puts the site's login URIs in front of the others (a copy of one among them moves to the front). */
static void prepend_login_uris(idp_strv_t *sv, const char *site)
{
    char **v = calloc(sv->n + NPATHS + 1, sizeof(char *));
    size_t i;

    if (v == NULL)
        abort();
    for (i = 0; i != NPATHS; ++i) {
        v[i] = login_uri(site, i);
        remove_uri(sv, v[i]);
    }
    if (sv->n != 0)
        memcpy(v + NPATHS, sv->v, sv->n * sizeof(char *));
    free(sv->v);
    sv->v = v;
    sv->n += NPATHS;
}

void idp_frappe_site_apply(idp_client_t *c, const char *site)
{
    char *copy = hub_strdup(site);

    if (c->frappe_site != NULL) {
        for (size_t i = 0; i != NPATHS; ++i) {
            char *old = login_uri(c->frappe_site, i);
            remove_uri(&c->redirect_uris, old);
            free(old);
        }
    }
    prepend_login_uris(&c->redirect_uris, copy);
    free(c->frappe_site);
    c->frappe_site = copy;
    if (c->default_redirect_uri == NULL || !idp_strv_has(&c->redirect_uris, c->default_redirect_uri)) {
        free(c->default_redirect_uri);
        c->default_redirect_uri = hub_strdup(c->redirect_uris.v[0]);
    }
    c->grant_type = IDP_GRANT_AUTHORIZATION_CODE;
    c->response_type = IDP_RESPONSE_CODE;
    c->auth_method = IDP_AUTH_SECRET_POST;
}

int idp_frappe_site_check(const idp_client_t *c, char *err, size_t errlen)
{
    char q[201], *norm = NULL;
    int ret = 0;

    if (idp_frappe_site_parse(c->frappe_site, &norm, err, errlen) != 0 || strcmp(norm, c->frappe_site) != 0)
        ret = fail(err, errlen, "--frappe-site: \"%s\" is not a site URL as --frappe-site writes it", quoted(q, c->frappe_site));
    else if (c->node_id != NULL)
        ret = fail(err, errlen, "--frappe-site: a secondary node's client is no Frappe site");
    else if (c->grant_type != IDP_GRANT_AUTHORIZATION_CODE)
        ret = fail(err, errlen, "--grant-type: a Frappe site signs in with authorization_code");
    else if (c->auth_method != IDP_AUTH_SECRET_POST)
        ret = fail(err, errlen, "--auth-method: a Frappe site sends its client secret in the form body (client_secret_post)");
    else if (!idp_strv_has(&c->scopes, "openid"))
        ret = fail(err, errlen, "--scopes: a Frappe site asks for openid");
    for (size_t i = 0; ret == 0 && i != NPATHS; ++i) {
        char *uri = login_uri(c->frappe_site, i);
        if (!idp_strv_has(&c->redirect_uris, uri))
            ret = fail(err, errlen, "--redirect-uris: a Frappe site signs in at %.300s", uri);
        free(uri);
    }
    free(norm);
    return ret;
}
