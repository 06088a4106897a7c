/* OAuth clients: the record (HUB_T_CLIENTS, key = client_id), the rules a client must keep (Frappe's pairing of grant
 * and response types, URIs, a Frappe site's shape), its secret and redirect URI matching. Every write also keeps the
 * origin index (idp/origins.h) and bumps IDP_CLIENTS_GEN in the same transaction. Records returned are malloc'ed copies
 * owned by the caller (idp_client_free); a client the cache shares is released instead (idp/client_cache.h). This
 * module knows nothing of nodes: a node's client is an ordinary client with node_id set (idp/node.h). */
#ifndef IDP_CLIENT_H
#define IDP_CLIENT_H

#include <stdint.h>
#include <jansson.h>
#include "hub/store.h"
#include "idp/invalid.h"
#include "idp/strv.h"
#include "idp/user.h"

/* META counter bumped by every write of a client record, in this process or another (hubctl): what the client cache
 * (idp/client_cache.h) checks an entry against. */
#define IDP_CLIENTS_GEN "gen:clients"

typedef enum { IDP_GRANT_AUTHORIZATION_CODE = 0, IDP_GRANT_IMPLICIT, IDP_GRANT_CLIENT_CREDENTIALS } idp_grant_type_t;
typedef enum { IDP_RESPONSE_CODE = 0, IDP_RESPONSE_TOKEN } idp_response_type_t;
typedef enum { IDP_AUTH_SECRET_BASIC = 0, IDP_AUTH_SECRET_POST, IDP_AUTH_NONE } idp_auth_method_t;

/* The names SPEC §2 uses ("?" for a value out of range); parse returns 0 or HUB_E_INVAL. */
const char *idp_grant_type_name(idp_grant_type_t g);
int idp_grant_type_parse(const char *s, idp_grant_type_t *g);
const char *idp_response_type_name(idp_response_type_t r);
int idp_response_type_parse(const char *s, idp_response_type_t *r);
const char *idp_auth_method_name(idp_auth_method_t m);
int idp_auth_method_parse(const char *s, idp_auth_method_t *m);

typedef struct st_idp_client_t {
    char *client_id;
    char *app_name;
    char *secret_hash; /* hub_secret_hash of the secret; NULL for auth method none */
    int skip_authorization;
    idp_strv_t scopes;
    idp_strv_t redirect_uris;
    char *default_redirect_uri; /* one of redirect_uris; NULL for client_credentials without URIs */
    idp_grant_type_t grant_type;
    idp_response_type_t response_type;
    idp_auth_method_t auth_method;
    idp_strv_t allowed_roles;     /* empty = any user */
    idp_strv_t service_roles;     /* roles of a client_credentials client */
    char *backchannel_logout_uri; /* may be NULL */
    idp_strv_t post_logout_redirect_uris;
    int enabled;
    char *node_id;                 /* set when a secondary registered it */
    char *registration_token_hash; /* RFC 7591 registration_access_token, hashed */
    int introspect_any;            /* may introspect tokens issued to other clients (a resource server; never a node's) */
    char *frappe_site;             /* the Frappe site (SPEC §2 --frappe-site, as idp_frappe_site_parse writes it), or NULL */
    uint64_t created_at;
    unsigned refs; /* holders besides the first of a client the cache shares (idp_client_release); 0 otherwise */
} idp_client_t;

/* Checks the Frappe pairing rules and URIs: grant type authorization_code needs response type code, implicit needs
 * token; redirect URIs absolute (http/https, hub_url_parse: no fragment, userinfo or bad port); the default redirect
 * URI among them (set to the first when NULL); at least one redirect URI unless client_credentials; auth method none
 * only for authorization_code/implicit; scopes non-empty; introspect_any only for a confidential client that is no
 * node's; a Frappe site's client (frappe_site set) a normalised site URL, no node's, authorization_code,
 * client_secret_post, scope openid, both login redirect URIs registered. On failure fills *inv (may be NULL) and
 * returns HUB_E_INVAL. */
int idp_client_validate(idp_client_t *client, idp_invalid_t *inv);
/* Makes client the client of the Frappe site site (normalised; may be client->frappe_site itself): records it, puts the
 * site's login redirect URIs first in redirect_uris (those of a previous site removed, other URIs kept), the default
 * redirect URI the first of them unless it is still one of the list, and authorization_code, response type code and
 * client_secret_post, as the stock key talks. */
void idp_client_set_frappe_site(idp_client_t *client, const char *site);

/* Reads a client; HUB_E_NOTFOUND when absent. *out is the caller's own copy. */
int idp_client_get(hub_txn_t *txn, const char *client_id, idp_client_t **out);
/* Validates (idp_client_validate: HUB_E_INVAL), checks that its roles exist (HUB_E_NOTFOUND) and writes; assigns
 * client_id and created_at when client_id is NULL. */
int idp_client_put(hub_txn_t *txn, idp_client_t *client);
/* Disables client_id as stored, without validating it again (disabling must not fail on a record an older validation
 * accepted). HUB_E_NOTFOUND when absent. */
int idp_client_disable(hub_txn_t *txn, const char *client_id);
/* Deletes the record and revokes every token family issued to it. HUB_E_NOTFOUND when absent. The node a client may
 * belong to is idp_client_remove's business (idp/node.h). */
int idp_client_del(hub_txn_t *txn, const char *client_id);
/* Calls cb for each client in client_id order; a non-zero return of cb stops the walk and is returned. */
int idp_client_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_client_t *client), void *arg);
/* The same from the first client_id past after (NULL: from the start), for a console's pages; nothing before is read. */
int idp_client_each_after(hub_txn_t *txn, const char *after, int (*cb)(void *arg, const idp_client_t *client), void *arg);
/* Frees a client the caller owns (NULL is ignored); never one the cache handed out. */
void idp_client_free(idp_client_t *client);
/* The client as hubctl --json shows it: without the secret and registration token hashes. */
json_t *idp_client_to_json(const idp_client_t *client);

/* Makes a data dir written by an older hub ready (hubd's start-up, in a write txn): IDP_CLIENTS_GEN non-zero (generation
 * 0 is never cached: hub_store_counter also answers 0 when it cannot read) and every client in the origin index. */
int idp_client_prepare(hub_txn_t *txn);

/* 1 when user may use client: the client has no allowed_roles, or user holds one of them (SPEC §4 authorize; checked
 * again at every code exchange and refresh). */
int idp_client_allows_user(const idp_client_t *client, const idp_user_t *user);
/* 1 when origin (as hub_url_origin serializes it) is the origin of one of client's redirect URIs, else 0; whether the
 * client is enabled is the caller's business. */
int idp_client_has_origin(const idp_client_t *client, const char *origin);
/* Generates a new secret (43 base64url chars + NUL into out) and stores its hash. */
void idp_client_new_secret(idp_client_t *client, char out[44]);
/* Constant-time check of a presented secret against the stored hash (1 = match). */
int idp_client_secret_ok(const idp_client_t *client, const char *secret, size_t len);
/* The registered redirect URI that uri matches, or NULL: the same string, or, for a public client (auth method none: a
 * native app, RFC 8252 §7.3), an http://127.0.0.1[:PORT] or http://[::1][:PORT] registration with any valid port
 * (1..65535, no leading zero) and the same path and query. A confidential client's loopback URIs match exactly, and the
 * name "localhost" never gets the any-port rule (RFC 8252 §8.3: a name may resolve elsewhere). */
const char *idp_client_match_redirect(const idp_client_t *client, const char *uri);

#endif
