/* Client authentication for the token, introspection and revocation endpoints, as each client registered it. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "idp/clientauth.h"

#define MAX_CREDENTIAL 512
#define MAX_PARAM 4096
/* token (introspection, revocation) may be any token the hub issues: the largest access tokens (many roles) pass 4 KiB */
#define MAX_TOKEN_PARAM HUB_JWS_MAX

/* invalid_client (401) with why. */
static hub_oauth_err_t refuse(hub_oauth_fail_t *fail, const char *why)
{
    return hub_oauth_fail(fail, HUB_OAUTH_INVALID_CLIENT, why);
}

/* The credentials a request presents: the method, the client_id and the secret (NULL for none). HUB_OAUTH_OK, or
 * invalid_client when they are malformed, repeated, or presented two ways at once. */
static hub_oauth_err_t credentials(h2o_req_t *req, const hub_form_t *form, idp_auth_method_t *used, const char **client_id,
                                   const char **secret, hub_oauth_fail_t *fail)
{
    const char *authz = hub_req_header(&req->pool, req, "authorization");
    const char *form_id = hub_form_get(form, "client_id"), *form_secret = hub_form_get(form, "client_secret");
    char *basic_id = NULL, *basic_secret = NULL;

    *secret = NULL;
    if (hub_form_count(form, "client_id") > 1 || hub_form_count(form, "client_secret") > 1)
        return refuse(fail, "client authentication failed");
    if (authz != NULL && strncasecmp(authz, "Basic ", 6) == 0) {
        if (form_secret != NULL)
            return refuse(fail, "more than one client authentication method");
        if (hub_basic_auth_parse(&req->pool, authz, &basic_id, &basic_secret) != 0 || basic_id == NULL || *basic_id == '\0')
            return refuse(fail, "malformed Basic credentials");
        if (form_id != NULL && strcmp(form_id, basic_id) != 0)
            return refuse(fail, "client_id does not match the Basic credentials");
        *used = IDP_AUTH_SECRET_BASIC;
        *client_id = basic_id;
        *secret = basic_secret != NULL ? basic_secret : "";
    } else if (form_secret != NULL) {
        *used = IDP_AUTH_SECRET_POST;
        *client_id = form_id;
        *secret = form_secret;
    } else {
        *used = IDP_AUTH_NONE;
        *client_id = form_id;
    }
    if (*client_id == NULL || **client_id == '\0' || strlen(*client_id) > MAX_CREDENTIAL ||
        (*secret != NULL && strlen(*secret) > MAX_CREDENTIAL))
        return refuse(fail, "missing client credentials");
    return HUB_OAUTH_OK;
}

hub_oauth_err_t idp_client_creds_read(h2o_req_t *req, const hub_form_t *form, idp_client_creds_t *out, hub_oauth_fail_t *fail)
{
    const char *client_id = NULL, *secret = NULL;
    hub_oauth_err_t err;

    memset(out, 0, sizeof(*out));
    if ((err = credentials(req, form, &out->used, &client_id, &secret, fail)) != HUB_OAUTH_OK)
        return err;
    out->client_id = hub_strdup(client_id);
    out->secret = secret != NULL ? hub_strdup(secret) : NULL;
    return HUB_OAUTH_OK;
}

void idp_client_creds_dispose(idp_client_creds_t *c)
{
    if (c->secret != NULL)
        OPENSSL_cleanse(c->secret, strlen(c->secret));
    free(c->secret);
    free(c->client_id);
    memset(c, 0, sizeof(*c));
}

/* The verdict on client (held by the caller, or NULL for an unknown client_id) for the credentials c: *out the client, or
 * the refusal in *fail and client given back. */
static void verdict(const idp_client_t *client, const idp_client_creds_t *c, int allow_public, const idp_client_t **out,
                    hub_oauth_fail_t *fail)
{
    hub_oauth_err_t err = HUB_OAUTH_OK;

    if (client == NULL)
        err = refuse(fail, "unknown client");
    else if (!client->enabled)
        err = refuse(fail, "client disabled");
    else if (client->auth_method != c->used)
        err = refuse(fail, "client authentication method differs from the registered one");
    else if (c->used == IDP_AUTH_NONE && !allow_public)
        err = refuse(fail, "this endpoint requires client credentials");
    else if (c->used != IDP_AUTH_NONE &&
             (client->secret_hash == NULL || c->secret == NULL || !idp_client_secret_ok(client, c->secret, strlen(c->secret))))
        err = refuse(fail, "client authentication failed");
    if (err != HUB_OAUTH_OK)
        idp_client_release(client);
    else
        *out = client;
}

int idp_client_check(hub_txn_t *txn, idp_client_cache_t *cache, const idp_client_creds_t *c, int allow_public,
                     const idp_client_t **out, hub_oauth_fail_t *fail)
{
    const idp_client_t *client = NULL;
    int ret;

    *out = NULL;
    if (c->client_id == NULL) {
        refuse(fail, "missing client credentials");
        return 0;
    }
    if ((ret = idp_client_cache_get(cache, txn, c->client_id, &client)) != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    verdict(client, c, allow_public, out, fail);
    return 0;
}

int idp_client_check_cached(hub_store_t *store, idp_client_cache_t *cache, const idp_client_creds_t *c, int allow_public,
                            const idp_client_t **out, hub_oauth_fail_t *fail)
{
    const idp_client_t *client = NULL;

    *out = NULL;
    if (c->client_id == NULL) {
        refuse(fail, "missing client credentials");
        return 0;
    }
    if (idp_client_cache_peek(cache, store, c->client_id, &client) != 0)
        return HUB_E_NOTFOUND; /* unknown clients too: only the store can tell */
    verdict(client, c, allow_public, out, fail);
    return 0;
}

/* RFC 6749 §3.2: parameters must not be repeated. Returns the first repeated name or NULL. */
static const char *repeated_param(const hub_form_t *form)
{
    size_t i;
    for (i = 0; i != form->n; ++i)
        if (hub_form_count(form, form->items[i].name.base) > 1)
            return form->items[i].name.base;
    return NULL;
}

hub_oauth_err_t idp_endpoint_form(h2o_req_t *req, hub_form_t *form, hub_oauth_fail_t *fail)
{
    size_t i;
    if (hub_form_parse_body(&req->pool, req, form) != 0)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "expected an application/x-www-form-urlencoded body");
    if (repeated_param(form) != NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "a parameter is repeated");
    for (i = 0; i != form->n; ++i) {
        size_t max = strcmp(form->items[i].name.base, "token") == 0 ? MAX_TOKEN_PARAM : MAX_PARAM;
        if (form->items[i].value.len > max)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "a parameter is too long");
    }
    return HUB_OAUTH_OK;
}
