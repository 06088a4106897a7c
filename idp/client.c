/* OAuth client records: enum names, JSON, validation (with a Frappe site's rules), reads, writes that keep the origin
 * index and the cache generation, secrets and redirect URI matching. */
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/url.h"
#include "hub/util.h"
#include "idp/client.h"
#include "idp/frappe_site.h"
#include "idp/grants.h"
#include "idp/origins.h"
#include "idp/record.h"
#include "idp/role.h"

#define MAX_SCOPE 128

/* ---- enums ---- */

static const char *const grant_names[] = {"authorization_code", "implicit", "client_credentials"};
static const char *const response_names[] = {"code", "token"};
static const char *const auth_names[] = {"client_secret_basic", "client_secret_post", "none"};
#define COUNT(table) (sizeof(table) / sizeof(table[0]))

static int parse_name(const char *const *names, size_t n, const char *s, int *out)
{
    for (size_t i = 0; s != NULL && i != n; ++i)
        if (strcmp(names[i], s) == 0) {
            *out = (int)i;
            return 0;
        }
    return HUB_E_INVAL;
}

/* The index of s in names, or 0 (the default) when it is none of them. */
static int parse_or_default(const char *const *names, size_t n, const char *s)
{
    int v;
    return parse_name(names, n, s, &v) == 0 ? v : 0;
}

#define NAME_OF(table, i) ((size_t)(i) < COUNT(table) ? table[i] : "?")

const char *idp_grant_type_name(idp_grant_type_t g)
{
    return NAME_OF(grant_names, g);
}

int idp_grant_type_parse(const char *s, idp_grant_type_t *g)
{
    int v, ret = parse_name(grant_names, COUNT(grant_names), s, &v);
    if (ret == 0)
        *g = (idp_grant_type_t)v;
    return ret;
}

const char *idp_response_type_name(idp_response_type_t r)
{
    return NAME_OF(response_names, r);
}

int idp_response_type_parse(const char *s, idp_response_type_t *r)
{
    int v, ret = parse_name(response_names, COUNT(response_names), s, &v);
    if (ret == 0)
        *r = (idp_response_type_t)v;
    return ret;
}

const char *idp_auth_method_name(idp_auth_method_t m)
{
    return NAME_OF(auth_names, m);
}

int idp_auth_method_parse(const char *s, idp_auth_method_t *m)
{
    int v, ret = parse_name(auth_names, COUNT(auth_names), s, &v);
    if (ret == 0)
        *m = (idp_auth_method_t)v;
    return ret;
}

/* ---- validation ---- */

static int scope_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_SCOPE)
        return 0;
    for (size_t i = 0; i != n; ++i) /* RFC 6749 §3.3 scope-token */
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\' || s[i] == ';')
            return 0;
    return 1;
}

static int uris_ok(const idp_strv_t *uris, idp_field_t field, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    for (size_t i = 0; i != uris->n; ++i)
        if (!idp_record_uri_ok(uris->v[i]))
            return idp_invalid(inv, field, "\"%s\" is not an absolute http(s) URI (with a host, without fragment)",
                               idp_quote(q, sizeof(q), uris->v[i]));
    return 0;
}

static int roles_ok(const idp_strv_t *roles, idp_field_t field, idp_invalid_t *inv)
{
    int ret;
    for (size_t i = 0; i != roles->n; ++i)
        if ((ret = idp_role_name_check(roles->v[i], field, inv)) != 0)
            return ret;
    return 0;
}

/* The hub POSTs logout tokens to it: an absolute http(s) URI that never points at a link-local or metadata address. */
static int bcl_ok(const char *uri, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    const char *why;
    hub_url_t u;

    if (hub_url_parse(uri, &u, NULL) != 0)
        return idp_invalid(inv, IDP_FIELD_BACKCHANNEL_LOGOUT_URI, "\"%s\" is not an absolute http(s) URI",
                           idp_quote(q, sizeof(q), uri));
    if ((why = hub_url_forbidden_host(&u)) != NULL)
        return idp_invalid(inv, IDP_FIELD_BACKCHANNEL_LOGOUT_URI, "\"%s\" points at %s", idp_quote(q, sizeof(q), uri), why);
    return 0;
}

/* The grant type, response type and auth method: known values that pair as Frappe pairs them. */
static int kinds_ok(const idp_client_t *c, idp_invalid_t *inv)
{
    if ((unsigned)c->grant_type > IDP_GRANT_CLIENT_CREDENTIALS)
        return idp_invalid(inv, IDP_FIELD_GRANT_TYPE, "unknown grant type");
    if ((unsigned)c->response_type > IDP_RESPONSE_TOKEN)
        return idp_invalid(inv, IDP_FIELD_RESPONSE_TYPE, "unknown response type");
    if ((unsigned)c->auth_method > IDP_AUTH_NONE)
        return idp_invalid(inv, IDP_FIELD_AUTH_METHOD, "unknown method");
    if (c->grant_type == IDP_GRANT_AUTHORIZATION_CODE && c->response_type != IDP_RESPONSE_CODE)
        return idp_invalid(inv, IDP_FIELD_RESPONSE_TYPE, "grant type authorization_code needs response type code");
    if (c->grant_type == IDP_GRANT_IMPLICIT && c->response_type != IDP_RESPONSE_TOKEN)
        return idp_invalid(inv, IDP_FIELD_RESPONSE_TYPE, "grant type implicit needs response type token");
    if (c->grant_type == IDP_GRANT_CLIENT_CREDENTIALS && c->auth_method == IDP_AUTH_NONE)
        return idp_invalid(inv, IDP_FIELD_AUTH_METHOD, "none is not allowed for client_credentials");
    return 0;
}

static int scopes_ok(const idp_strv_t *scopes, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    if (scopes->n == 0)
        return idp_invalid(inv, IDP_FIELD_SCOPES, "at least one scope is required");
    for (size_t i = 0; i != scopes->n; ++i)
        if (!scope_ok(scopes->v[i]))
            return idp_invalid(inv, IDP_FIELD_SCOPES, "\"%s\" is not a valid scope", idp_quote(q, sizeof(q), scopes->v[i]));
    return 0;
}

/* The redirect URIs and the default among them (the first when none is set). */
static int redirects_ok(idp_client_t *c, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    int ret;

    if ((ret = uris_ok(&c->redirect_uris, IDP_FIELD_REDIRECT_URIS, inv)) != 0)
        return ret;
    if (c->redirect_uris.n == 0 && c->grant_type != IDP_GRANT_CLIENT_CREDENTIALS)
        return idp_invalid(inv, IDP_FIELD_REDIRECT_URIS, "at least one redirect URI is required for %s",
                           idp_grant_type_name(c->grant_type));
    if (c->default_redirect_uri == NULL) {
        if (c->redirect_uris.n != 0)
            c->default_redirect_uri = hub_strdup(c->redirect_uris.v[0]);
    } else if (!idp_strv_has(&c->redirect_uris, c->default_redirect_uri)) {
        return idp_invalid(inv, IDP_FIELD_DEFAULT_REDIRECT_URI, "\"%s\" is not one of the redirect URIs",
                           idp_quote(q, sizeof(q), c->default_redirect_uri));
    }
    return 0;
}

/* A Frappe site's client is what its stock key can use (see idp/frappe_site.h). */
static int frappe_ok(const idp_client_t *c, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX], *norm = NULL;
    int ret = 0;

    if (idp_frappe_site_parse(c->frappe_site, &norm, inv) != 0 || strcmp(norm, c->frappe_site) != 0)
        ret = idp_invalid(inv, IDP_FIELD_FRAPPE_SITE,
                          "\"%s\" is not a site URL in its normal form (lower-case scheme and host, no path)",
                          idp_quote(q, sizeof(q), c->frappe_site));
    else if (c->node_id != NULL)
        ret = idp_invalid(inv, IDP_FIELD_FRAPPE_SITE, "a secondary node's client is no Frappe site");
    else if (c->grant_type != IDP_GRANT_AUTHORIZATION_CODE)
        ret = idp_invalid(inv, IDP_FIELD_GRANT_TYPE, "a Frappe site signs in with authorization_code");
    else if (c->auth_method != IDP_AUTH_SECRET_POST)
        ret =
            idp_invalid(inv, IDP_FIELD_AUTH_METHOD, "a Frappe site sends its client secret in the form body (client_secret_post)");
    else if (!idp_strv_has(&c->scopes, "openid"))
        ret = idp_invalid(inv, IDP_FIELD_SCOPES, "a Frappe site asks for openid");
    for (size_t i = 0; ret == 0 && i != IDP_FRAPPE_LOGIN_URIS; ++i) {
        char *uri = idp_frappe_site_login_uri(c->frappe_site, i);
        if (!idp_strv_has(&c->redirect_uris, uri))
            ret = idp_invalid(inv, IDP_FIELD_REDIRECT_URIS, "a Frappe site signs in at %s", idp_quote(q, sizeof(q), uri));
        free(uri);
    }
    free(norm);
    return ret;
}

int idp_client_validate(idp_client_t *c, idp_invalid_t *inv)
{
    int ret;

    if (c->app_name == NULL || c->app_name[0] == '\0' || !idp_record_name_ok(c->app_name))
        return idp_invalid(inv, IDP_FIELD_APP_NAME, "1 to %d bytes of printable UTF-8", IDP_NAME_MAX);
    if ((ret = kinds_ok(c, inv)) != 0 || (ret = scopes_ok(&c->scopes, inv)) != 0 || (ret = redirects_ok(c, inv)) != 0)
        return ret;
    if (c->backchannel_logout_uri != NULL && (ret = bcl_ok(c->backchannel_logout_uri, inv)) != 0)
        return ret;
    if (c->introspect_any && (c->auth_method == IDP_AUTH_NONE || c->node_id != NULL))
        return idp_invalid(inv, IDP_FIELD_INTROSPECT_ANY, "only for a confidential client that is not a node's");
    if (c->frappe_site != NULL && (ret = frappe_ok(c, inv)) != 0)
        return ret;
    if ((ret = uris_ok(&c->post_logout_redirect_uris, IDP_FIELD_POST_LOGOUT_REDIRECT_URIS, inv)) != 0 ||
        (ret = roles_ok(&c->allowed_roles, IDP_FIELD_ALLOWED_ROLES, inv)) != 0 ||
        (ret = roles_ok(&c->service_roles, IDP_FIELD_SERVICE_ROLES, inv)) != 0)
        return ret;
    return 0;
}

/* Puts the site's login URIs in front of the others (a copy of one among them moves to the front). */
static void prepend_login_uris(idp_strv_t *sv, const char *site)
{
    char **v = hub_xcalloc(sv->n + IDP_FRAPPE_LOGIN_URIS + 1, sizeof(char *));
    size_t i;

    for (i = 0; i != IDP_FRAPPE_LOGIN_URIS; ++i) {
        v[i] = idp_frappe_site_login_uri(site, i);
        idp_strv_remove(sv, v[i]);
    }
    if (sv->n != 0)
        memcpy(v + IDP_FRAPPE_LOGIN_URIS, sv->v, sv->n * sizeof(char *));
    free(sv->v);
    sv->v = v;
    sv->n += IDP_FRAPPE_LOGIN_URIS;
}

void idp_client_set_frappe_site(idp_client_t *c, const char *site)
{
    char *copy = hub_strdup(site);

    if (c->frappe_site != NULL) {
        for (size_t i = 0; i != IDP_FRAPPE_LOGIN_URIS; ++i) {
            char *old = idp_frappe_site_login_uri(c->frappe_site, i);
            idp_strv_remove(&c->redirect_uris, old);
            free(old);
        }
    }
    prepend_login_uris(&c->redirect_uris, copy);
    free(c->frappe_site);
    c->frappe_site = copy;
    if (c->default_redirect_uri == NULL || !idp_strv_has(&c->redirect_uris, c->default_redirect_uri))
        idp_record_replace(&c->default_redirect_uri, c->redirect_uris.v[0]);
    c->grant_type = IDP_GRANT_AUTHORIZATION_CODE;
    c->response_type = IDP_RESPONSE_CODE;
    c->auth_method = IDP_AUTH_SECRET_POST;
}

/* ---- the record ---- */

static json_t *client_json(const idp_client_t *c, int with_secrets)
{
    json_t *o = json_object();
    idp_record_set_str(o, "client_id", c->client_id);
    idp_record_set_str(o, "app_name", c->app_name);
    json_object_set_new(o, "skip_authorization", json_boolean(c->skip_authorization));
    json_object_set_new(o, "scopes", idp_strv_to_json(&c->scopes));
    json_object_set_new(o, "redirect_uris", idp_strv_to_json(&c->redirect_uris));
    idp_record_set_str(o, "default_redirect_uri", c->default_redirect_uri);
    json_object_set_new(o, "grant_type", json_string(idp_grant_type_name(c->grant_type)));
    json_object_set_new(o, "response_type", json_string(idp_response_type_name(c->response_type)));
    json_object_set_new(o, "auth_method", json_string(idp_auth_method_name(c->auth_method)));
    json_object_set_new(o, "allowed_roles", idp_strv_to_json(&c->allowed_roles));
    json_object_set_new(o, "service_roles", idp_strv_to_json(&c->service_roles));
    idp_record_set_str(o, "backchannel_logout_uri", c->backchannel_logout_uri);
    json_object_set_new(o, "post_logout_redirect_uris", idp_strv_to_json(&c->post_logout_redirect_uris));
    json_object_set_new(o, "enabled", json_boolean(c->enabled));
    idp_record_set_str(o, "node_id", c->node_id);
    json_object_set_new(o, "introspect_any", json_boolean(c->introspect_any));
    idp_record_set_str(o, "frappe_site", c->frappe_site);
    idp_record_set_uint(o, "created_at", c->created_at);
    if (with_secrets) {
        idp_record_set_str(o, "secret_hash", c->secret_hash);
        idp_record_set_str(o, "registration_token_hash", c->registration_token_hash);
    }
    return o;
}

json_t *idp_client_to_json(const idp_client_t *client)
{
    return client_json(client, 0);
}

static int client_from_json(const json_t *o, idp_client_t **out)
{
    idp_client_t *c;

    *out = NULL;
    if (!json_is_string(json_object_get(o, "client_id")))
        return HUB_E_PARSE;
    c = hub_xcalloc(1, sizeof(*c));
    c->client_id = hub_json_strdup(o, "client_id");
    c->app_name = hub_json_strdup(o, "app_name");
    c->secret_hash = hub_json_strdup(o, "secret_hash");
    c->skip_authorization = idp_record_bool(o, "skip_authorization");
    idp_strv_from_json(&c->scopes, json_object_get(o, "scopes"));
    idp_strv_from_json(&c->redirect_uris, json_object_get(o, "redirect_uris"));
    c->default_redirect_uri = hub_json_strdup(o, "default_redirect_uri");
    c->grant_type = parse_or_default(grant_names, COUNT(grant_names), json_string_value(json_object_get(o, "grant_type")));
    c->response_type =
        parse_or_default(response_names, COUNT(response_names), json_string_value(json_object_get(o, "response_type")));
    c->auth_method = parse_or_default(auth_names, COUNT(auth_names), json_string_value(json_object_get(o, "auth_method")));
    idp_strv_from_json(&c->allowed_roles, json_object_get(o, "allowed_roles"));
    idp_strv_from_json(&c->service_roles, json_object_get(o, "service_roles"));
    c->backchannel_logout_uri = hub_json_strdup(o, "backchannel_logout_uri");
    idp_strv_from_json(&c->post_logout_redirect_uris, json_object_get(o, "post_logout_redirect_uris"));
    c->enabled = idp_record_bool(o, "enabled");
    c->node_id = hub_json_strdup(o, "node_id");
    c->registration_token_hash = hub_json_strdup(o, "registration_token_hash");
    c->introspect_any = idp_record_bool(o, "introspect_any");
    c->frappe_site = hub_json_strdup(o, "frappe_site");
    c->created_at = hub_json_uint(o, "created_at");
    *out = c;
    return 0;
}

void idp_client_free(idp_client_t *c)
{
    if (c == NULL)
        return;
    free(c->client_id);
    free(c->app_name);
    free(c->secret_hash);
    idp_strv_free(&c->scopes);
    idp_strv_free(&c->redirect_uris);
    free(c->default_redirect_uri);
    idp_strv_free(&c->allowed_roles);
    idp_strv_free(&c->service_roles);
    free(c->backchannel_logout_uri);
    idp_strv_free(&c->post_logout_redirect_uris);
    free(c->node_id);
    free(c->registration_token_hash);
    free(c->frappe_site);
    free(c);
}

int idp_client_get(hub_txn_t *txn, const char *client_id, idp_client_t **out)
{
    json_t *o = NULL;
    int ret;

    *out = NULL;
    if (client_id == NULL || client_id[0] == '\0' || strlen(client_id) > IDP_CLIENT_ID_MAX)
        return HUB_E_NOTFOUND;
    if ((ret = hub_store_get_json(txn, HUB_T_CLIENTS, client_id, &o)) != 0)
        return ret;
    ret = client_from_json(o, out);
    json_decref(o);
    return ret;
}

/* The redirect URIs the origin index holds for c: an enabled client's, none for a disabled or absent one. */
static const idp_strv_t *indexed_uris(const idp_client_t *c)
{
    return c != NULL && c->enabled ? &c->redirect_uris : NULL;
}

/* Writes c as it is (no validation), with its origin index entries and a new generation. */
static int client_write(hub_txn_t *txn, const idp_client_t *c, int flags)
{
    idp_client_t *old = NULL;
    json_t *o = client_json(c, 1);
    int ret;

    if (idp_client_get(txn, c->client_id, &old) != 0)
        old = NULL; /* new, or unreadable: the put below reports a store failure */
    ret = hub_store_put_json(txn, HUB_T_CLIENTS, c->client_id, o, 0, flags);
    json_decref(o);
    if (ret == 0)
        ret = hub_store_bump(txn, IDP_CLIENTS_GEN, NULL);
    if (ret == 0)
        ret = idp_origins_update(txn, c->client_id, indexed_uris(old), indexed_uris(c));
    idp_client_free(old);
    return ret;
}

int idp_client_put(hub_txn_t *txn, idp_client_t *c)
{
    char id[IDP_ID_LEN + 1];
    int ret, flags = 0;

    if ((ret = idp_client_validate(c, NULL)) != 0)
        return ret;
    if ((ret = idp_roles_exist(txn, &c->allowed_roles, IDP_FIELD_ALLOWED_ROLES, NULL)) != 0 ||
        (ret = idp_roles_exist(txn, &c->service_roles, IDP_FIELD_SERVICE_ROLES, NULL)) != 0)
        return ret;
    if (c->client_id == NULL) {
        idp_record_new_id(id);
        c->client_id = hub_strdup(id);
        c->created_at = hub_now();
        flags = HUB_STORE_NOOVERWRITE;
    }
    if (c->created_at == 0)
        c->created_at = hub_now();
    return client_write(txn, c, flags);
}

int idp_client_disable(hub_txn_t *txn, const char *client_id)
{
    idp_client_t *c = NULL;
    int ret;

    if ((ret = idp_client_get(txn, client_id, &c)) != 0)
        return ret;
    c->enabled = 0;
    ret = client_write(txn, c, 0);
    idp_client_free(c);
    return ret;
}

int idp_client_del(hub_txn_t *txn, const char *client_id)
{
    idp_client_t *old = NULL;
    int ret;

    if (client_id == NULL || client_id[0] == '\0')
        return HUB_E_NOTFOUND;
    if (idp_client_get(txn, client_id, &old) != 0)
        old = NULL;
    ret = hub_store_del(txn, HUB_T_CLIENTS, client_id, strlen(client_id));
    if (ret == 0 && (ret = hub_store_bump(txn, IDP_CLIENTS_GEN, NULL)) == 0)
        ret = idp_origins_update(txn, client_id, indexed_uris(old), NULL);
    idp_client_free(old);
    /* nothing issued to a deleted client stays valid */
    return ret != 0 ? ret : idp_family_revoke_client(txn, client_id);
}

typedef struct {
    int (*cb)(void *arg, const idp_client_t *client);
    void *arg;
} client_each_t;

static int client_each_cb(void *_arg, hub_val_t key, hub_val_t val)
{
    client_each_t *a = _arg;
    json_t *o = json_loadb(val.data, val.len, 0, NULL);
    idp_client_t *c = NULL;
    int ret = 0;

    if (o != NULL && client_from_json(o, &c) == 0)
        ret = a->cb(a->arg, c);
    idp_client_free(c);
    json_decref(o);
    return ret;
}

int idp_client_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_client_t *client), void *arg)
{
    client_each_t a = {cb, arg};
    return hub_store_each(txn, HUB_T_CLIENTS, NULL, 0, client_each_cb, &a);
}

int idp_client_each_after(hub_txn_t *txn, const char *after, int (*cb)(void *arg, const idp_client_t *client), void *arg)
{
    client_each_t a = {cb, arg};
    size_t flen = after != NULL ? strlen(after) + 1 : 0; /* after's NUL: the smallest key past it */

    if (flen > 511)
        return 0;
    return hub_store_each_from(txn, HUB_T_CLIENTS, NULL, 0, after, flen, client_each_cb, &a);
}

static int index_one(void *arg, const idp_client_t *c)
{
    return idp_origins_update(arg, c->client_id, NULL, indexed_uris(c));
}

static int index_all(hub_txn_t *txn)
{
    return idp_client_each(txn, index_one, txn);
}

int idp_client_prepare(hub_txn_t *txn)
{
    int ret;
    if (hub_store_counter(txn, IDP_CLIENTS_GEN) == 0 && (ret = hub_store_bump(txn, IDP_CLIENTS_GEN, NULL)) != 0)
        return ret;
    return idp_origins_prepare(txn, index_all);
}

/* ---- using a client ---- */

int idp_client_allows_user(const idp_client_t *client, const idp_user_t *user)
{
    if (client->allowed_roles.n == 0)
        return 1;
    for (size_t i = 0; i != client->allowed_roles.n; ++i)
        if (idp_strv_has(&user->roles, client->allowed_roles.v[i]))
            return 1;
    return 0;
}

int idp_client_has_origin(const idp_client_t *client, const char *origin)
{
    return idp_origins_match(&client->redirect_uris, origin);
}

void idp_client_new_secret(idp_client_t *client, char out[44])
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    hub_random_token(out, 32);
    hub_secret_hash(hash, out, strlen(out));
    idp_record_replace(&client->secret_hash, hash);
}

int idp_client_secret_ok(const idp_client_t *client, const char *secret, size_t len)
{
    char hash[HUB_SECRET_HASH_LEN + 1];

    if (client->secret_hash == NULL || secret == NULL)
        return 0;
    hub_secret_hash(hash, secret, len);
    return hub_ct_equal(hash, strlen(hash), client->secret_hash, strlen(client->secret_hash));
}

/* 1 when u is an http URL whose host is written exactly 127.0.0.1 or [::1] (RFC 8252 §7.3 loopback literals). */
static int loopback_literal(const hub_url_t *u)
{
    return !u->https && ((u->kind == HUB_HOST_IPV4 && u->host_len == 9 && memcmp(u->host, "127.0.0.1", 9) == 0) ||
                         (u->kind == HUB_HOST_IPV6 && u->host_len == 3 && memcmp(u->host, "::1", 3) == 0));
}

/* RFC 8252 §7.3: the registered loopback URI reg matches uri with any port when host, path and query are the same. */
static int loopback_any_port(const char *reg, const hub_url_t *u)
{
    hub_url_t r;
    return hub_url_parse(reg, &r, NULL) == 0 && loopback_literal(&r) && r.host_len == u->host_len &&
           memcmp(r.host, u->host, r.host_len) == 0 && strcmp(r.rest, u->rest) == 0;
}

const char *idp_client_match_redirect(const idp_client_t *client, const char *uri)
{
    hub_url_t u;

    if (uri == NULL)
        return NULL;
    for (size_t i = 0; i != client->redirect_uris.n; ++i)
        if (strcmp(client->redirect_uris.v[i], uri) == 0)
            return client->redirect_uris.v[i];
    /* a native app's listener gets whatever port the OS gave it; only a public client is one */
    if (client->auth_method != IDP_AUTH_NONE || hub_url_parse(uri, &u, NULL) != 0 || !loopback_literal(&u))
        return NULL;
    for (size_t i = 0; i != client->redirect_uris.n; ++i)
        if (loopback_any_port(client->redirect_uris.v[i], &u))
            return client->redirect_uris.v[i];
    return NULL;
}
