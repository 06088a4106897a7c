/* A Frappe site whose stock "Frappe" Social Login Key points at the hub (SPEC §2 --frappe-site): its URL as the hub
 * records it, and the login redirect URIs the stock key sends. It signs in with the authorization code flow at
 * SITE_URL/api/method/frappe.www.login.login_via_frappe or SITE_URL/api/method/frappe.integrations.oauth2_logins.
 * login_via_frappe, sends its client secret in the form body and asks for scope openid only; the rules a client that is
 * such a site keeps are idp_client_validate's (idp/client.h), what its openid discloses idp_scope_discloses'
 * (idp/claims.h). */
#ifndef IDP_FRAPPE_SITE_H
#define IDP_FRAPPE_SITE_H

#include <stddef.h>
#include "idp/invalid.h"

#define IDP_FRAPPE_LOGIN_URIS 2 /* login redirect URIs per site */

/* Normalises the SITE_URL of --frappe-site into a malloc'ed *out: an absolute http(s) URL (hub_url_parse) whose path is
 * empty or "/", without query; scheme and host lower-cased, the trailing "/" dropped. On failure fills *inv (field
 * IDP_FIELD_FRAPPE_SITE) and returns HUB_E_INVAL (*out NULL). */
int idp_frappe_site_parse(const char *site, char **out, idp_invalid_t *inv);
/* The i-th (0..IDP_FRAPPE_LOGIN_URIS-1) login redirect URI of a normalised site, malloc'ed. */
char *idp_frappe_site_login_uri(const char *site, size_t i);

#endif
