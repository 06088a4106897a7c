/* What a scope discloses to a client: the words of a space-separated scope, the meaning of openid to a Frappe site
 * (SPEC §4 userinfo), and the user's claims that id_tokens and userinfo carry. */
#ifndef IDP_CLAIMS_H
#define IDP_CLAIMS_H

#include <jansson.h>
#include "idp/client.h"
#include "idp/user.h"

/* 1 when scope, granted to client, discloses the claims of word: word is one of its words, or
 * word is profile, email or roles, scope has openid and client is a Frappe site (frappe_site
 * set), for which openid means what it means to Frappe's own provider (SPEC §4 userinfo).
 * client may be NULL (no Frappe site). */
int idp_scope_discloses(const idp_client_t *client, const char *scope, const char *word);

/* The userinfo/id_token claims that scope discloses to client (idp_scope_discloses; client may
 * be NULL): name, given_name, family_name, picture, preferred_username (profile), email,
 * email_verified (email), roles (roles); new reference. */
json_t *idp_user_claims(const idp_user_t *user, const idp_client_t *client, const char *scope);

/* 1 when the space-separated scope contains word. */
int idp_scope_has(const char *scope, const char *word);

#endif
