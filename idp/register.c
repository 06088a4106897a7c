/* Dynamic client registration (RFC 7591) gated by one-time join tokens, and the RFC 7592 read of a registration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/jws.h"
#include "hub/log.h"
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/url.h"
#include "idp/client.h"
#include "idp/endpoint.h"
#include "idp/join_token.h"
#include "idp/node.h"
#include "idp/register.h"

#define DEFAULT_SCOPE "openid profile email roles"

/* A metadata problem: err with a description naming the field ("field: why", in pool). Returns err. */
static hub_oauth_err_t reg_fail(h2o_mem_pool_t *pool, hub_oauth_fail_t *fail, hub_oauth_err_t err, const char *field,
                                const char *why)
{
    return hub_oauth_failf(pool, fail, err, "%s: %s", field, why);
}

/* A refusal of the model's validation (idp_client_validate), worded for an RFC 7591 client: the metadata field it
 * names, and the error that field calls for (RFC 7591 §3.2.2: invalid_redirect_uri for the redirect URIs). */
static hub_oauth_err_t reg_invalid(h2o_mem_pool_t *pool, hub_oauth_fail_t *fail, const idp_invalid_t *inv)
{
    const char *field = idp_field_metadata(inv->field);
    int redirect = inv->field == IDP_FIELD_REDIRECT_URIS || inv->field == IDP_FIELD_DEFAULT_REDIRECT_URI;

    return reg_fail(pool, fail, redirect ? HUB_OAUTH_INVALID_REDIRECT_URI : HUB_OAUTH_INVALID_CLIENT_METADATA,
                    field != NULL ? field : "metadata", inv->text);
}

/* One URI of a dynamic registration: parsed strictly (hub_url_parse) and never aimed at a link-local or metadata
 * address, however the address is spelt: the hub POSTs to the back-channel URI (and to the node's origin), a browser
 * follows the redirect URIs. */
static hub_oauth_err_t reg_uri(const char *field, const char *s, hub_oauth_err_t kind, hub_url_t *u, h2o_mem_pool_t *pool,
                               hub_oauth_fail_t *fail)
{
    const char *why;
    char msg[160];

    if (hub_url_parse(s, u, &why) != 0) {
        snprintf(msg, sizeof(msg), "must be an absolute http(s) URL (%s)", why);
        return reg_fail(pool, fail, kind, field, msg);
    }
    if ((why = hub_url_forbidden_host(u)) != NULL) {
        snprintf(msg, sizeof(msg), "must not point at %s", why);
        return reg_fail(pool, fail, kind, field, msg);
    }
    if (u->kind == HUB_HOST_IPV4 && !u->canonical)
        return reg_fail(pool, fail, kind, field, "an IPv4 host must be written as four decimal parts (a.b.c.d)");
    return HUB_OAUTH_OK;
}

/* Reads an optional array of URLs into sv. */
static hub_oauth_err_t url_array(const json_t *md, const char *field, idp_strv_t *sv, hub_oauth_err_t kind, h2o_mem_pool_t *pool,
                                 hub_oauth_fail_t *fail)
{
    const json_t *arr = json_object_get(md, field), *item;
    size_t i;

    if (arr == NULL || json_is_null(arr))
        return HUB_OAUTH_OK;
    if (!json_is_array(arr) || json_array_size(arr) > IDP_REGISTER_MAX_URIS)
        return reg_fail(pool, fail, kind, field, "expected an array of URLs");
    sv->v = hub_xcalloc(json_array_size(arr) + 1, sizeof(char *));
    json_array_foreach(arr, i, item)
    {
        const char *s = json_string_value(item);
        hub_url_t u;
        hub_oauth_err_t err;
        if (s == NULL || json_string_length(item) != strlen(s))
            return reg_fail(pool, fail, kind, field, "expected an array of URLs");
        if ((err = reg_uri(field, s, kind, &u, pool, fail)) != HUB_OAUTH_OK)
            return err;
        if (!idp_strv_has(sv, s))
            sv->v[sv->n++] = hub_strdup(s);
    }
    return HUB_OAUTH_OK;
}

static hub_oauth_err_t string_field(const json_t *md, const char *field, size_t max, const char **out, h2o_mem_pool_t *pool,
                                    hub_oauth_fail_t *fail)
{
    const json_t *v = json_object_get(md, field);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return HUB_OAUTH_OK;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, field, "expected a non-empty string");
    *out = json_string_value(v);
    return HUB_OAUTH_OK;
}

/* RFC 7591 §2: grant_types and response_types must agree; our model has one grant type per client (refresh_token goes
 * with authorization_code). */
static hub_oauth_err_t grant_and_response(const json_t *md, idp_client_t *c, h2o_mem_pool_t *pool, hub_oauth_fail_t *fail)
{
    const json_t *gt = json_object_get(md, "grant_types"), *rt = json_object_get(md, "response_types"), *item;
    int code = 0, implicit = 0, cc = 0, refresh = 0;
    size_t i;

    if (gt != NULL && !json_is_null(gt)) {
        if (!json_is_array(gt) || json_array_size(gt) == 0)
            return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "grant_types", "expected a non-empty array");
        json_array_foreach(gt, i, item)
        {
            const char *s = json_string_value(item);
            if (s == NULL)
                return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "grant_types", "expected strings");
            if (strcmp(s, "authorization_code") == 0)
                code = 1;
            else if (strcmp(s, "implicit") == 0)
                implicit = 1;
            else if (strcmp(s, "client_credentials") == 0)
                cc = 1;
            else if (strcmp(s, "refresh_token") == 0)
                refresh = 1;
            else
                return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "grant_types", "unsupported grant type");
        }
    } else {
        code = 1;
    }
    if (code + implicit + cc != 1 || (refresh && !code))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "grant_types",
                        "one of authorization_code (with refresh_token), implicit or client_credentials");
    c->grant_type = code ? IDP_GRANT_AUTHORIZATION_CODE : implicit ? IDP_GRANT_IMPLICIT : IDP_GRANT_CLIENT_CREDENTIALS;
    c->response_type = implicit ? IDP_RESPONSE_TOKEN : IDP_RESPONSE_CODE;
    if (rt == NULL || json_is_null(rt))
        return HUB_OAUTH_OK;
    if (!json_is_array(rt))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "response_types", "expected an array");
    json_array_foreach(rt, i, item)
    {
        const char *s = json_string_value(item);
        int ok = s != NULL &&
                 (code ? strcmp(s, "code") == 0
                       : implicit && (strcmp(s, "token") == 0 || strcmp(s, "id_token") == 0 || strcmp(s, "id_token token") == 0));
        if (!ok)
            return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "response_types", "does not match grant_types");
    }
    return HUB_OAUTH_OK;
}

/* The scope words, each an RFC 6749 scope-token. */
static hub_oauth_err_t scope_field(const json_t *md, idp_client_t *c, h2o_mem_pool_t *pool, hub_oauth_fail_t *fail)
{
    const char *scope, *p;
    hub_oauth_err_t err;
    if ((err = string_field(md, "scope", 1024, &scope, pool, fail)) != HUB_OAUTH_OK)
        return err;
    if (scope == NULL)
        scope = DEFAULT_SCOPE;
    for (p = scope; *p != '\0'; ++p)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == ';' || (unsigned char)*p >= 0x7f)
            return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "scope", "invalid character");
    idp_strv_split(&c->scopes, scope, 1);
    if (c->scopes.n == 0)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "scope", "empty");
    return HUB_OAUTH_OK;
}

/* Fills a new client from RFC 7591 metadata. */
static hub_oauth_err_t client_from_metadata(const json_t *md, idp_client_t *c, int *named, h2o_mem_pool_t *pool,
                                            hub_oauth_fail_t *fail)
{
    const char *name, *method, *bcl;
    idp_invalid_t inv;
    hub_oauth_err_t err;

    if (!json_is_object(md))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "body", "expected a JSON object");
    if ((err = string_field(md, "client_name", 140, &name, pool, fail)) != HUB_OAUTH_OK ||
        (err = string_field(md, "token_endpoint_auth_method", 64, &method, pool, fail)) != HUB_OAUTH_OK ||
        (err = string_field(md, "backchannel_logout_uri", HUB_URL_MAX, &bcl, pool, fail)) != HUB_OAUTH_OK)
        return err;
    *named = name != NULL;
    c->app_name = hub_strdup(name != NULL ? name : "client"); /* unnamed: the join token's name replaces it */
    c->auth_method = IDP_AUTH_SECRET_BASIC;
    if (method != NULL && idp_auth_method_parse(method, &c->auth_method) != 0)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "token_endpoint_auth_method", "unsupported method");
    if ((err = grant_and_response(md, c, pool, fail)) != HUB_OAUTH_OK)
        return err;
    if (c->auth_method == IDP_AUTH_NONE && c->grant_type == IDP_GRANT_CLIENT_CREDENTIALS)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "token_endpoint_auth_method",
                        "client_credentials needs a confidential client");
    if ((err = url_array(md, "redirect_uris", &c->redirect_uris, HUB_OAUTH_INVALID_REDIRECT_URI, pool, fail)) != HUB_OAUTH_OK)
        return err;
    if (c->grant_type != IDP_GRANT_CLIENT_CREDENTIALS && c->redirect_uris.n == 0)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_REDIRECT_URI, "redirect_uris", "required for this grant type");
    if ((err = url_array(md, "post_logout_redirect_uris", &c->post_logout_redirect_uris, HUB_OAUTH_INVALID_CLIENT_METADATA, pool,
                         fail)) != HUB_OAUTH_OK)
        return err;
    if (bcl != NULL) {
        hub_url_t u;
        if ((err = reg_uri("backchannel_logout_uri", bcl, HUB_OAUTH_INVALID_CLIENT_METADATA, &u, pool, fail)) != HUB_OAUTH_OK)
            return err;
        c->backchannel_logout_uri = hub_strdup(bcl);
    }
    if ((err = scope_field(md, c, pool, fail)) != HUB_OAUTH_OK)
        return err;
    c->enabled = 1;
    if (idp_client_validate(c, &inv) != 0)
        return reg_invalid(pool, fail, &inv);
    return HUB_OAUTH_OK;
}

/* 1 when uri has the origin of first. */
static int on_origin(const char *uri, const hub_url_t *first)
{
    hub_url_t u;
    return hub_url_parse(uri, &u, NULL) == 0 && hub_url_same_origin(&u, first);
}

/* 1 when every URI of sv has the origin of first. */
static int all_on_origin(const idp_strv_t *sv, const hub_url_t *first)
{
    for (size_t i = 0; i != sv->n; ++i)
        if (!on_origin(sv->v[i], first))
            return 0;
    return 1;
}

/* A join token registers a node, and only the shape of one (SPEC §6): the code flow (with refresh), a confidential
 * client, and every URI on the origin of its redirect URIs, the one origin the hub will call back. */
static hub_oauth_err_t node_shape(const idp_client_t *c, h2o_mem_pool_t *pool, hub_oauth_fail_t *fail)
{
    hub_url_t origin;

    if (c->grant_type != IDP_GRANT_AUTHORIZATION_CODE)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "grant_types",
                        "a node registers authorization_code (with refresh_token) only");
    if (c->auth_method == IDP_AUTH_NONE)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "token_endpoint_auth_method",
                        "a node is a confidential client (client_secret_basic or client_secret_post)");
    if (c->redirect_uris.n == 0 || hub_url_parse(c->redirect_uris.v[0], &origin, NULL) != 0)
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_REDIRECT_URI, "redirect_uris", "required");
    if (!all_on_origin(&c->redirect_uris, &origin))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_REDIRECT_URI, "redirect_uris",
                        "a node's redirect URIs must share one origin");
    if (c->backchannel_logout_uri != NULL && !on_origin(c->backchannel_logout_uri, &origin))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "backchannel_logout_uri",
                        "must be on the origin of the redirect URIs");
    if (!all_on_origin(&c->post_logout_redirect_uris, &origin))
        return reg_fail(pool, fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "post_logout_redirect_uris",
                        "must be on the origin of the redirect URIs");
    return HUB_OAUTH_OK;
}

hub_oauth_err_t idp_register_parse(h2o_mem_pool_t *pool, const char *body, size_t len, int as_node, idp_client_t **client,
                                   int *named, hub_oauth_fail_t *fail)
{
    json_t *md = NULL;
    idp_client_t *c = NULL;
    hub_oauth_err_t err;

    *client = NULL;
    *named = 0;
    if (len > IDP_REGISTER_MAX_BODY)
        return hub_oauth_fail(fail, HUB_OAUTH_TOO_LARGE, "request body too large");
    if ((md = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_CLIENT_METADATA, "body: expected a JSON object");
    c = hub_xcalloc(1, sizeof(*c));
    if ((err = client_from_metadata(md, c, named, pool, fail)) != HUB_OAUTH_OK ||
        (as_node && (err = node_shape(c, pool, fail)) != HUB_OAUTH_OK))
        goto out;
    *client = c;
    c = NULL;
out:
    idp_client_free(c);
    json_decref(md);
    return err;
}

static json_t *strv_json(const idp_strv_t *sv)
{
    json_t *arr = json_array();
    size_t i;
    for (i = 0; i != sv->n; ++i)
        json_array_append_new(arr, json_string(sv->v[i]));
    return arr;
}

/* The client's registered metadata as RFC 7591 §3.2.1 returns it. */
static json_t *client_metadata(const idp_t *idp, const idp_client_t *c)
{
    char uri[1024], *scope = idp_strv_join(&c->scopes, " ");
    json_t *md = json_object(), *rt = json_array();

    snprintf(uri, sizeof(uri), "%s%s/%s", idp->issuer, IDP_PATH_REGISTER, c->client_id);
    json_object_set_new(md, "client_id", json_string(c->client_id));
    json_object_set_new(md, "client_id_issued_at", json_integer((json_int_t)c->created_at));
    json_object_set_new(md, "client_secret_expires_at", json_integer(0));
    json_object_set_new(md, "registration_client_uri", json_string(uri));
    json_object_set_new(md, "client_name", json_string(c->app_name != NULL ? c->app_name : ""));
    json_object_set_new(md, "redirect_uris", strv_json(&c->redirect_uris));
    json_object_set_new(md, "token_endpoint_auth_method", json_string(idp_auth_method_name(c->auth_method)));
    json_object_set_new(md, "scope", json_string(scope != NULL ? scope : ""));
    free(scope);
    switch (c->grant_type) {
    case IDP_GRANT_AUTHORIZATION_CODE:
        json_object_set_new(md, "grant_types", json_pack("[s,s]", "authorization_code", "refresh_token"));
        json_array_append_new(rt, json_string("code"));
        break;
    case IDP_GRANT_IMPLICIT:
        json_object_set_new(md, "grant_types", json_pack("[s]", "implicit"));
        json_array_append_new(rt, json_string("token"));
        json_array_append_new(rt, json_string("id_token token"));
        break;
    default:
        json_object_set_new(md, "grant_types", json_pack("[s]", "client_credentials"));
        break;
    }
    json_object_set_new(md, "response_types", rt);
    /* The alg the hub signs id_tokens with (OIDC Registration §3.2); RPs default to RS256 when it is absent. */
    json_object_set_new(md, "id_token_signed_response_alg", json_string(hub_alg_name(idp->cfg->primary.signing_alg)));
    if (c->backchannel_logout_uri != NULL) {
        json_object_set_new(md, "backchannel_logout_uri", json_string(c->backchannel_logout_uri));
        json_object_set_new(md, "backchannel_logout_session_required", json_true());
    }
    json_object_set_new(md, "post_logout_redirect_uris", strv_json(&c->post_logout_redirect_uris));
    return md;
}

/* The Bearer credential of req, or NULL. */
static const char *bearer(h2o_req_t *req)
{
    const char *authz = hub_req_header(&req->pool, req, "authorization");
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
        return NULL;
    authz += 7;
    while (*authz == ' ')
        ++authz;
    return *authz != '\0' ? authz : NULL;
}

/* scheme://authority of a URL (for the node record), malloc'ed, or NULL. */
static char *origin_of(const char *url)
{
    const char *p = strstr(url, "://"), *end;
    if (p == NULL)
        return NULL;
    end = strchr(p + 3, '/');
    return end != NULL ? strndup(url, end - url) : hub_strdup(url);
}

/* One registration, written on the store's writer (hub/park.h): everything the write reads is the job's own. */
typedef struct st_reg_arg_t {
    hub_park_t park;
    idp_t *idp;
    idp_client_t *client;
    char *join_token; /* malloc'ed copy, or NULL */
    char secret[44];
    char rat[44];
    int bad_token;
    int named; /* client_name was given */
} reg_arg_t;

static int register_txn(hub_txn_t *txn, void *_arg)
{
    reg_arg_t *a = _arg;
    idp_client_t *c = a->client;
    char *name = NULL;
    int ret;

    a->bad_token = 0;
    /* a rerun (map grown) starts from a client without id */
    free(c->client_id);
    c->client_id = NULL;
    free(c->node_id);
    c->node_id = NULL;
    if (a->join_token != NULL) {
        if ((ret = idp_join_token_consume(txn, a->join_token, strlen(a->join_token), &name)) != 0) {
            a->bad_token = ret == HUB_E_NOTFOUND;
            return ret;
        }
        c->skip_authorization = 1; /* a secondary is a first-party node */
    }
    if (!a->named && name != NULL) {
        free(c->app_name);
        c->app_name = hub_strdup(name);
    }
    if ((ret = idp_client_put(txn, c)) != 0)
        goto out;
    if (a->join_token != NULL) {
        idp_node_t node = {c->client_id, name != NULL ? name : c->app_name, NULL, hub_now(), 0};
        c->node_id = hub_strdup(c->client_id);
        node.public_url = c->redirect_uris.n != 0 ? origin_of(c->redirect_uris.v[0]) : NULL;
        ret = idp_client_put(txn, c);
        if (ret == 0)
            ret = idp_node_put(txn, &node);
        free(node.public_url);
        if (ret != 0)
            goto out;
    }
out:
    free(name);
    return ret;
}

static void reg_free(reg_arg_t *a)
{
    OPENSSL_cleanse(a->secret, sizeof(a->secret));
    OPENSSL_cleanse(a->rat, sizeof(a->rat));
    if (a->join_token != NULL)
        OPENSSL_cleanse(a->join_token, strlen(a->join_token));
    free(a->join_token);
    idp_client_free(a->client);
    free(a);
}

/* On the loop once the registration's write came to ret: 201 with the client's metadata and its secrets, once. */
static void on_registered(void *arg, int ret)
{
    reg_arg_t *a = arg;
    h2o_req_t *req = hub_park_resume(&a->park, ret);

    if (a->bad_token) {
        if (req != NULL)
            hub_send_oauth_error(req, HUB_OAUTH_INVALID_TOKEN, "unknown, used or expired join token");
    } else if (ret != 0) {
        if (ret != HUB_E_CANCELLED)
            hub_log_warn("client registration failed: %s", hub_strerror(ret));
        if (req != NULL && !hub_park_unavailable(req, ret, HUB_STYLE_OAUTH))
            hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "registration failed");
    } else {
        hub_log_info("registered client %s (%s)%s%s", a->client->client_id, a->client->app_name,
                     a->join_token != NULL ? " as a node" : "", req == NULL ? "; its client left before the answer" : "");
        if (req != NULL) {
            json_t *body = client_metadata(a->idp, a->client);
            if (a->secret[0] != '\0')
                json_object_set_new(body, "client_secret", json_string(a->secret));
            json_object_set_new(body, "registration_access_token", json_string(a->rat));
            hub_send_json(req, 201, body, 1);
        }
    }
    reg_free(a);
}

/* Registers the client described by req's metadata (answered once written, on_registered: HUB_OAUTH_OK), or returns the
 * failure. */
static hub_oauth_err_t do_register(idp_t *idp, h2o_req_t *req, hub_oauth_fail_t *fail)
{
    const char *token = bearer(req);
    reg_arg_t *a;
    char hash[HUB_SECRET_HASH_LEN + 1];
    int ret;

    if (idp->cfg->primary.require_join_token && token == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "a join token is required (Authorization: Bearer)");
    a = hub_xcalloc(1, sizeof(*a));
    a->idp = idp;
    if (idp_register_parse(&req->pool, req->entity.base, req->entity.len, token != NULL, &a->client, &a->named, fail) !=
        HUB_OAUTH_OK) {
        reg_free(a);
        return fail->error;
    }
    if (a->client->auth_method != IDP_AUTH_NONE)
        idp_client_new_secret(a->client, a->secret);
    hub_random_token(a->rat, 32);
    hub_secret_hash(hash, a->rat, strlen(a->rat));
    a->client->registration_token_hash = hub_strdup(hash);
    a->join_token = token != NULL ? hub_strdup(token) : NULL;
    if ((ret = hub_park_write(&a->park, req, register_txn, a, on_registered)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_OAUTH);
        reg_free(a);
    }
    return HUB_OAUTH_OK;
}

/* RFC 7592 §2.1's read: the client and whether the token presented is its registration access token. */
typedef struct st_read_job_t {
    hub_park_t park;
    idp_t *idp;
    char *client_id;
    char hash[HUB_SECRET_HASH_LEN + 1]; /* of the token presented */
    idp_client_t *client;               /* read: the client, when the token is its own */
} read_job_t;

static int read_txn(hub_txn_t *txn, void *arg)
{
    read_job_t *j = arg;
    int ret = idp_client_get(txn, j->client_id, &j->client);

    if (ret != 0)
        return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
    if (j->client->registration_token_hash == NULL ||
        !hub_ct_equal(j->hash, strlen(j->hash), j->client->registration_token_hash, strlen(j->client->registration_token_hash))) {
        idp_client_free(j->client);
        j->client = NULL;
    }
    return 0;
}

static void on_read(void *arg, int ret)
{
    read_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req == NULL || (ret != 0 && hub_park_unavailable(req, ret, HUB_STYLE_OAUTH))) {
    } else if (ret != 0) {
        hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "the registration could not be read");
    } else if (j->client == NULL) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_TOKEN, "invalid registration access token");
    } else {
        hub_send_json(req, 200, client_metadata(j->idp, j->client), 1);
    }
    idp_client_free(j->client);
    free(j->client_id);
    free(j);
}

/* RFC 7592 §2.1: answers a registration read with its registration access token (in the read's completion:
 * HUB_OAUTH_OK), or returns the failure. */
static hub_oauth_err_t do_read(idp_t *idp, h2o_req_t *req, const char *client_id, hub_oauth_fail_t *fail)
{
    const char *token = bearer(req);
    read_job_t *j;
    int ret;

    if (token == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "invalid registration access token");
    j = hub_xcalloc(1, sizeof(*j));
    j->idp = idp;
    j->client_id = hub_strdup(client_id);
    hub_secret_hash(j->hash, token, strlen(token));
    if ((ret = hub_park_read(&j->park, req, read_txn, j, on_read)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_OAUTH);
        free(j->client_id);
        free(j);
    }
    return HUB_OAUTH_OK;
}

static int on_register(void *data, h2o_req_t *req)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    if (do_register(data, req, &fail) != HUB_OAUTH_OK)
        hub_send_oauth_fail(req, &fail);
    return 0;
}

/* /oauth2/register/<client_id>: one path segment under the endpoint's path, else the router's 404. */
static int on_client_read(void *data, h2o_req_t *req)
{
    size_t plen = strlen(IDP_PATH_REGISTER "/");
    h2o_iovec_t path = req->path_normalized;
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    if (path.len <= plen || path.len >= plen + 199 || memchr(path.base + plen, '/', path.len - plen) != NULL)
        return -1;
    if (do_read(data, req, h2o_strdup(&req->pool, path.base + plen, path.len - plen).base, &fail) != HUB_OAUTH_OK)
        hub_send_oauth_fail(req, &fail);
    return 0;
}

void idp_register_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_CLIENT_READ, on_client_read); /* before its prefix, /oauth2/register */
    idp_endpoint_route(idp, IDP_EP_REGISTER, on_register);
}
