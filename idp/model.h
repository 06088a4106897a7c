/* The primary's records: users, roles, OAuth clients, the OAuth Provider Settings, join
 * tokens and registered nodes, stored as JSON records in the hub store (hub/store.h).
 * Every function taking a txn works inside the caller's transaction; records returned
 * are malloc'ed copies owned by the caller (free with the matching _free). */
#ifndef IDP_MODEL_H
#define IDP_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "hub/config.h"
#include "hub/store.h"

/* A NULL-terminated array of malloc'ed strings with its count. */
typedef struct st_idp_strv_t {
    char **v;
    size_t n;
} idp_strv_t;

void idp_strv_free(idp_strv_t *sv);
int idp_strv_has(const idp_strv_t *sv, const char *s);
/* Splits a SPEC §2 LIST: on ';' always, and on white space too when ws is set (scopes and
 * redirect URIs); items are trimmed, empty items dropped, duplicates removed. */
void idp_strv_split(idp_strv_t *out, const char *list, int ws);
/* Joins with sep into a malloc'ed string. */
char *idp_strv_join(const idp_strv_t *sv, const char *sep);

/* ---- users ---- */

typedef struct st_idp_user_t {
    char *sub;         /* stable random identifier (never the e-mail), set on create */
    char *username;    /* unique */
    char *email;       /* unique, compared case-insensitively */
    char *full_name;   /* may be NULL */
    char *given_name;  /* may be NULL */
    char *family_name; /* may be NULL */
    char *picture;     /* may be NULL */
    int enabled;
    int email_verified;
    idp_strv_t roles;
    char *password_hash; /* Argon2id encoded string (carries its parameters); NULL = cannot sign in */
    uint64_t created_at;
} idp_user_t;

/* Checks the fields of user: username 1..64 of [A-Za-z0-9._@-], e-mail local@domain of at
 * most 254 bytes without spaces or control characters, names of printable UTF-8, picture
 * an absolute http(s) URI, role names well formed (their existence is checked by put). On
 * failure writes "field: reason" text naming the field to err and returns HUB_E_INVAL. */
int idp_user_validate(const idp_user_t *user, char *err, size_t errlen);
/* By sub / by username or e-mail. HUB_E_NOTFOUND when absent. */
int idp_user_get(hub_txn_t *txn, const char *sub, idp_user_t **out);
int idp_user_find(hub_txn_t *txn, const char *username_or_email, idp_user_t **out);
/* Writes user (create: assigns sub and created_at when sub is NULL). Keeps the username and
 * e-mail indexes; HUB_E_EXISTS when either belongs to another user, HUB_E_NOTFOUND when
 * a role does not exist. Ends nothing: a change that takes something away from a user
 * (disable, password, a role) goes through idp_user_update (idp/revocation.h), which also
 * ends the user's sessions and tokens. */
int idp_user_put(hub_txn_t *txn, idp_user_t *user); /* HUB_E_INVAL when idp_user_validate fails */
int idp_user_del(hub_txn_t *txn, const char *sub);  /* the record only: see idp_user_remove (idp/revocation.h) */
/* Calls cb for each user in username order. */
int idp_user_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_user_t *user), void *arg);
void idp_user_free(idp_user_t *user);
json_t *idp_user_to_json(const idp_user_t *user); /* without the password hash */

/* Argon2id: hash (malloc'ed encoded string) and verify (0 when it matches, HUB_E_DENIED
 * when not). Verify of a NULL hash still spends the time of a real verification. */
int idp_password_hash(const char *password, size_t len, char **encoded);
int idp_password_verify(const char *encoded, const char *password, size_t len);
/* The hash a verification without a usable one checks against: made once per process with the same parameters as
 * idp_password_hash (so it costs the same), never matched by any password (a random one). */
const char *idp_password_dummy_hash(void);

/* ---- roles ---- */

#define IDP_ROLE_SYSTEM_MANAGER "System Manager"
#define IDP_ROLE_GUEST "Guest"
int idp_role_exists(hub_txn_t *txn, const char *role);
/* HUB_E_EXISTS; HUB_E_INVAL unless 1..128 bytes of printable UTF-8 without ';' or surrounding spaces. */
int idp_role_add(hub_txn_t *txn, const char *role);
/* HUB_E_NOTFOUND; HUB_E_BUSY while a user or client holds it; HUB_E_DENIED for the two built-in roles.
 * idp_role_remove (idp/revocation.h) takes it from its users first. */
int idp_role_del(hub_txn_t *txn, const char *role);
/* 1 when a client (allowed_roles or service roles) holds role, 0 when none, or a negative store error. */
int idp_role_held_by_client(hub_txn_t *txn, const char *role);
int idp_role_list(hub_txn_t *txn, idp_strv_t *out);

/* ---- OAuth clients ---- */

typedef enum { IDP_GRANT_AUTHORIZATION_CODE = 0, IDP_GRANT_IMPLICIT, IDP_GRANT_CLIENT_CREDENTIALS } idp_grant_type_t;
typedef enum { IDP_RESPONSE_CODE = 0, IDP_RESPONSE_TOKEN } idp_response_type_t;
typedef enum { IDP_AUTH_SECRET_BASIC = 0, IDP_AUTH_SECRET_POST, IDP_AUTH_NONE } idp_auth_method_t;

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
    unsigned refs; /* references beyond the owner's (0 unless shared by idp_client_cache_t); see idp_client_free */
} idp_client_t;

/* 1 when user may use client: the client has no allowed_roles, or user holds one of them (SPEC §4 authorize; checked
 * again at every code exchange and refresh). */
int idp_client_allows_user(const idp_client_t *client, const idp_user_t *user);

/* Reads a client; HUB_E_NOTFOUND when absent. *out is the caller's own copy. */
int idp_client_get(hub_txn_t *txn, const char *client_id, idp_client_t **out);
/* Validates (see idp_client_validate) and writes; assigns client_id and created_at when
 * client_id is NULL. */
int idp_client_put(hub_txn_t *txn, idp_client_t *client);
int idp_client_del(hub_txn_t *txn, const char *client_id);
int idp_client_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_client_t *client), void *arg);
/* Releases one reference: frees the client when no other holder is left (NULL is ignored). */
void idp_client_free(idp_client_t *client);
json_t *idp_client_to_json(const idp_client_t *client); /* without the secret hash */

/* Checks the Frappe pairing rules and URIs: grant type authorization_code needs response
 * type code, implicit needs token; redirect URIs absolute (http/https, hub_url_parse: no
 * fragment, userinfo or bad port); the default redirect URI among them (set to the first
 * when NULL); at least one redirect URI unless client_credentials; auth method none only
 * for authorization_code/implicit; scopes non-empty; introspect_any only for a confidential
 * client that is no node's; a Frappe site as idp_frappe_site_check says. On failure writes
 * "--option: reason" style text naming the field to err and returns HUB_E_INVAL. */
int idp_client_validate(idp_client_t *client, char *err, size_t errlen);
/* Generates a new secret (43 base64url chars + NUL into out) and stores its hash. */
void idp_client_new_secret(idp_client_t *client, char out[44]);
/* Constant-time check of a presented secret against the stored hash (1 = match). */
int idp_client_secret_ok(const idp_client_t *client, const char *secret, size_t len);
/* The registered redirect URI that uri matches, or NULL: the same string, or, for a public
 * client (auth method none: a native app, RFC 8252 §7.3), an http://127.0.0.1[:PORT] or
 * http://[::1][:PORT] registration with any valid port (1..65535, no leading zero) and the
 * same path and query. A confidential client's loopback URIs match exactly, and the name
 * "localhost" never gets the any-port rule (RFC 8252 §8.3: a name may resolve elsewhere). */
const char *idp_client_match_redirect(const idp_client_t *client, const char *uri);

/* ---- Frappe sites (idp/frappe_site.c) ----
 * A client registered with --frappe-site is a Frappe site whose stock "Frappe" Social Login Key points at the hub: it
 * signs in with the authorization code flow at SITE_URL/api/method/frappe.www.login.login_via_frappe or
 * SITE_URL/api/method/frappe.integrations.oauth2_logins.login_via_frappe (its login redirect URIs), sends its client
 * secret in the form body, asks for scope openid only, and for it openid discloses what Frappe's own provider gives
 * (name, e-mail, picture and roles: idp_scope_discloses in idp/tokens.h). */

/* Normalises the SITE_URL of --frappe-site into a malloc'ed *out: an absolute http(s) URL (hub_url_parse) whose path is
 * empty or "/", without query; scheme and host lower-cased, the trailing "/" dropped. On failure writes a
 * "--frappe-site: reason" line to err and returns HUB_E_INVAL (*out NULL). */
int idp_frappe_site_parse(const char *site, char **out, char *err, size_t errlen);
/* Makes c the client of the Frappe site site (normalised; may be c->frappe_site itself): records it, puts the site's
 * login redirect URIs first in redirect_uris (those of a previous site removed, other URIs kept), the default redirect
 * URI the first of them unless it is still one of the list, and authorization_code, response type code and
 * client_secret_post, as the stock key talks. */
void idp_frappe_site_apply(idp_client_t *c, const char *site);
/* 0 when c (frappe_site set) is a client its site can use: a normalised site URL, no node's client, authorization_code,
 * client_secret_post, scope openid, both login redirect URIs registered. Else HUB_E_INVAL with "--option: reason" in
 * err. */
int idp_frappe_site_check(const idp_client_t *c, char *err, size_t errlen);

/* A bounded, thread-safe cache of decoded clients for one store. Every write of a client
 * record (put, del, node revoke) bumps the "gen:clients" counter in the same transaction, in
 * this process or another (hubctl); an entry is used only by a transaction that reads the
 * generation it was loaded under, so a cached client is exactly what that transaction would
 * read. Unknown client_ids are never cached. */
typedef struct st_idp_client_cache_t idp_client_cache_t;
typedef struct st_idp_client_cache_stats_t {
    uint64_t hits, misses;
    size_t entries, capacity;
} idp_client_cache_stats_t;

#define IDP_CLIENT_CACHE_DEFAULT 1024
/* Creates a cache holding at most capacity clients (rounded up to a multiple of 4, at least 4). */
idp_client_cache_t *idp_client_cache_create(size_t capacity);
/* Frees the cache and its references; clients handed out stay valid until their holders free them. */
void idp_client_cache_destroy(idp_client_cache_t *cache);
/* The same contract as idp_client_get, except that *out may be SHARED with the cache and
 * other threads: read-only for the caller, released with idp_client_free as usual. A NULL
 * cache reads with idp_client_get. */
int idp_client_get_cached(idp_client_cache_t *cache, hub_txn_t *txn, const char *client_id, idp_client_t **out);
/* Counters for tests and metrics. */
void idp_client_cache_stats(idp_client_cache_t *cache, idp_client_cache_stats_t *out);
/* Makes the generation counter non-zero in a data dir written before it existed (generation
 * 0 is never cached: hub_store_counter also answers 0 when it cannot read). */
int idp_client_cache_prepare(hub_txn_t *txn);

/* ---- OAuth Provider Settings ---- */

/* The current skip_authorization setting (force | auto): the stored value, or the config's
 * initial value when none was stored. */
hub_skip_auth_t idp_settings_skip_authorization(hub_txn_t *txn, const hub_config_t *cfg);
int idp_settings_set_skip_authorization(hub_txn_t *txn, hub_skip_auth_t value);

/* ---- join tokens and nodes ---- */

/* Creates a one-time join token valid for ttl seconds; the token (43 chars + NUL) is
 * written to out and only its hash stored. */
int idp_join_token_create(hub_txn_t *txn, const char *name, uint64_t ttl, char out[44]);
/* Consumes a join token (deleting it); HUB_E_NOTFOUND when unknown, used or expired. The
 * name given at creation (may be NULL) is returned in *name (caller frees). */
int idp_join_token_consume(hub_txn_t *txn, const char *token, size_t len, char **name);

typedef struct st_idp_node_t {
    char *id; /* = its client_id */
    char *name;
    char *public_url; /* from its redirect URI, may be NULL */
    uint64_t registered_at;
    int revoked;
} idp_node_t;

int idp_node_put(hub_txn_t *txn, const idp_node_t *node);
int idp_node_get(hub_txn_t *txn, const char *id, idp_node_t **out);
int idp_node_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_node_t *node), void *arg);
/* Marks the node revoked, disables its client and revokes every token family of it. */
int idp_node_revoke(hub_txn_t *txn, const char *id);
void idp_node_free(idp_node_t *node);

#endif
