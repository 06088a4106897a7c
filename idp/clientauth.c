/* Client authentication for the token, introspection and revocation endpoints, as each client registered it. */
#include <string.h>
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/resp.h"
#include "idp/clientauth.h"

#define MAX_CREDENTIAL 512
#define MAX_PARAM 4096
/* token (introspection, revocation) may be any token the hub issues: the largest access tokens (many roles) pass 4 KiB */
#define MAX_TOKEN_PARAM HUB_JWS_MAX

int idp_client_authenticate(h2o_req_t *req, const hub_form_t *form, hub_txn_t *txn, idp_client_cache_t *cache, int allow_public,
                            const idp_client_t **out, const char **why)
{
    const char *authz = hub_req_header(&req->pool, req, "authorization");
    const char *form_id = hub_form_get(form, "client_id"), *form_secret = hub_form_get(form, "client_secret");
    const char *client_id, *secret = NULL;
    char *basic_id = NULL, *basic_secret = NULL;
    idp_auth_method_t used;
    const idp_client_t *client = NULL;
    int ret;

    *out = NULL;
    *why = "client authentication failed";
    if (hub_form_count(form, "client_id") > 1 || hub_form_count(form, "client_secret") > 1)
        return HUB_E_DENIED;
    if (authz != NULL && strncasecmp(authz, "Basic ", 6) == 0) {
        if (form_secret != NULL) {
            *why = "more than one client authentication method";
            return HUB_E_DENIED;
        }
        if (hub_basic_auth_parse(&req->pool, authz, &basic_id, &basic_secret) != 0 || basic_id == NULL || *basic_id == '\0') {
            *why = "malformed Basic credentials";
            return HUB_E_DENIED;
        }
        if (form_id != NULL && strcmp(form_id, basic_id) != 0) {
            *why = "client_id does not match the Basic credentials";
            return HUB_E_DENIED;
        }
        used = IDP_AUTH_SECRET_BASIC;
        client_id = basic_id;
        secret = basic_secret != NULL ? basic_secret : "";
    } else if (form_secret != NULL) {
        used = IDP_AUTH_SECRET_POST;
        client_id = form_id;
        secret = form_secret;
    } else {
        used = IDP_AUTH_NONE;
        client_id = form_id;
    }
    if (client_id == NULL || *client_id == '\0' || strlen(client_id) > MAX_CREDENTIAL ||
        (secret != NULL && strlen(secret) > MAX_CREDENTIAL)) {
        *why = "missing client credentials";
        return HUB_E_DENIED;
    }
    if ((ret = idp_client_cache_get(cache, txn, client_id, &client)) != 0) {
        if (ret == HUB_E_NOTFOUND) {
            *why = "unknown client";
            ret = HUB_E_DENIED;
        }
        goto out;
    }
    ret = HUB_E_DENIED;
    if (!client->enabled) {
        *why = "client disabled";
        goto out;
    }
    if (client->auth_method != used) {
        *why = "client authentication method differs from the registered one";
        goto out;
    }
    if (used == IDP_AUTH_NONE) {
        if (!allow_public) {
            *why = "this endpoint requires client credentials";
            goto out;
        }
    } else if (client->secret_hash == NULL || !idp_client_secret_ok(client, secret, strlen(secret))) {
        *why = "client authentication failed";
        goto out;
    }
    *out = client;
    client = NULL;
    ret = 0;
out:
    idp_client_release(client);
    return ret;
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

int idp_endpoint_form(h2o_req_t *req, hub_form_t *form)
{
    size_t i;
    if (hub_form_parse_body(&req->pool, req, form) != 0) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, "expected an application/x-www-form-urlencoded body");
        return -1;
    }
    if (repeated_param(form) != NULL) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, "a parameter is repeated");
        return -1;
    }
    for (i = 0; i != form->n; ++i) {
        size_t max = strcmp(form->items[i].name.base, "token") == 0 ? MAX_TOKEN_PARAM : MAX_PARAM;
        if (form->items[i].value.len > max) {
            hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, "a parameter is too long");
            return -1;
        }
    }
    return 0;
}

const idp_client_t *idp_endpoint_client(idp_t *idp, h2o_req_t *req, const hub_form_t *form, int allow_public)
{
    hub_txn_t *txn = NULL;
    const idp_client_t *client = NULL;
    const char *why = NULL;
    int ret;

    if ((ret = hub_store_read_begin(idp->store, &txn)) != 0) {
        hub_send_oauth_error(req, HUB_OAUTH_TEMPORARILY_UNAVAILABLE, "storage unavailable");
        return NULL;
    }
    ret = idp_client_authenticate(req, form, txn, idp->clients, allow_public, &client, &why);
    hub_store_read_end(txn);
    if (ret == HUB_E_DENIED)
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_CLIENT, why);
    else if (ret != 0)
        hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "client lookup failed");
    return client;
}
