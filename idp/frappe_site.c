/* A Frappe site's URL, normalised as the hub records it, and the login redirect URIs its stock Social Login Key sends. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/url.h"
#include "idp/frappe_site.h"
#include "hub/util.h"

/* Where a Frappe site's login endpoints live: frappe/www/login.py and frappe/integrations/oauth2_logins.py both have a
 * login_via_frappe; the stock key's redirect_url has named either, depending on the Frappe version. */
#define WWW_LOGIN "/api/method/frappe.www.login.login_via_frappe"
#define INTEGRATIONS_LOGIN "/api/method/frappe.integrations.oauth2_logins.login_via_frappe"
static const char *const login_paths[IDP_FRAPPE_LOGIN_URIS] = {WWW_LOGIN, INTEGRATIONS_LOGIN};
/* so that every login URI is a URL hub_url_parse takes */
#define MAX_SITE (HUB_URL_MAX - (sizeof(INTEGRATIONS_LOGIN) > sizeof(WWW_LOGIN) ? sizeof(INTEGRATIONS_LOGIN) : sizeof(WWW_LOGIN)))

char *idp_frappe_site_login_uri(const char *site, size_t i)
{
    size_t n = strlen(site) + strlen(login_paths[i]) + 1;
    char *uri = hub_xmalloc(n);
    snprintf(uri, n, "%s%s", site, login_paths[i]);
    return uri;
}

int idp_frappe_site_parse(const char *site, char **out, idp_invalid_t *inv)
{
    const char *why = NULL;
    char q[IDP_QUOTE_MAX], *s;
    hub_url_t u;
    size_t n;

    *out = NULL;
    if (site == NULL || site[0] == '\0')
        return idp_invalid(inv, IDP_FIELD_FRAPPE_SITE, "the site's URL is required, like https://site.example");
    if (strlen(site) > MAX_SITE)
        return idp_invalid(inv, IDP_FIELD_FRAPPE_SITE, "longer than %zu bytes", (size_t)MAX_SITE);
    if (hub_url_parse(site, &u, &why) != 0)
        return idp_invalid(inv, IDP_FIELD_FRAPPE_SITE, "\"%s\" is not an absolute http(s) URL (%s)", idp_quote(q, sizeof(q), site),
                           why);
    if (strchr(u.rest, '?') != NULL)
        return idp_invalid(inv, IDP_FIELD_FRAPPE_SITE, "\"%s\" has a query; give the site's URL alone, like https://site.example",
                           idp_quote(q, sizeof(q), site));
    if (strcmp(u.rest, "") != 0 && strcmp(u.rest, "/") != 0)
        return idp_invalid(inv, IDP_FIELD_FRAPPE_SITE, "\"%s\" has a path; give the site's URL alone, like https://site.example",
                           idp_quote(q, sizeof(q), site));
    /* everything before the path is scheme and authority (no userinfo): case-insensitive, compared exactly afterwards */
    n = (size_t)(u.rest - site);
    s = hub_xmalloc(n + 1);
    for (size_t i = 0; i != n; ++i)
        s[i] = (char)tolower((unsigned char)site[i]);
    s[n] = '\0';
    *out = s;
    return 0;
}
