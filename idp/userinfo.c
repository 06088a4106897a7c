/* The OIDC UserInfo endpoint (OIDC Core §5.3): the signed-in user's claims for a Bearer access token (RFC 6750),
 * limited by the token's scopes. */
#include <string.h>
#include <strings.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/resp.h"
#include "hub/store.h"
#include "idp/cors.h"
#include "idp/endpoint.h"
#include "idp/grants.h"
#include "idp/userinfo.h"
#include "idp/client_cache.h"
#include "idp/user.h"
#include "idp/claims.h"

#define MAX_TOKEN HUB_JWS_MAX

/* The Bearer token of the Authorization header (RFC 6750 §2.1) or, on a form POST, of the access_token field
 * (§2.2). Returns 0 with *token set, HUB_E_NOTFOUND when none was sent, HUB_E_INVAL when it is malformed or sent
 * more than one way. */
static int bearer_token(h2o_req_t *req, const char **token)
{
    const char *h = hub_req_header(&req->pool, req, "authorization"), *t = NULL;
    hub_form_t form = {NULL, 0};

    if (h != NULL) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return HUB_E_INVAL;
        for (t = h + 7; *t == ' '; ++t)
            ;
        if (*t == '\0')
            return HUB_E_INVAL;
    }
    if (hub_method_is(req, "POST") && hub_form_parse_body(&req->pool, req, &form) == 0 &&
        hub_form_count(&form, "access_token") != 0) {
        if (t != NULL || hub_form_count(&form, "access_token") != 1)
            return HUB_E_INVAL;
        t = hub_form_get(&form, "access_token");
    }
    if (t == NULL)
        return HUB_E_NOTFOUND;
    if (strlen(t) > MAX_TOKEN || strchr(t, ' ') != NULL)
        return HUB_E_INVAL;
    *token = t;
    return 0;
}

/* 1 when the verified token is one of our live access tokens (typ at+jwt, our issuer, not expired, not revoked). */
static int token_live(idp_t *idp, const hub_jws_t *jws, hub_txn_t *txn)
{
    const json_t *p = jws->payload;
    const char *iss = json_string_value(json_object_get(p, "iss"));
    const char *jti = json_string_value(json_object_get(p, "jti"));
    json_t *exp = json_object_get(p, "exp");

    if (jws->typ == NULL || (strcasecmp(jws->typ, "at+jwt") != 0 && strcasecmp(jws->typ, "application/at+jwt") != 0))
        return 0;
    if (iss == NULL || strcmp(iss, idp->issuer) != 0 || jti == NULL || !json_is_integer(exp) ||
        json_integer_value(exp) <= (json_int_t)hub_now() || !json_is_string(json_object_get(p, "sub")))
        return 0;
    return idp_jti_is_active(txn, jti);
}

/* Answers with the claims of the token's user (HUB_OAUTH_OK), or returns the failure to send. */
static hub_oauth_err_t userinfo(idp_t *idp, h2o_req_t *req, hub_oauth_fail_t *fail)
{
    const char *token = NULL, *scope, *sub, *client_id;
    hub_jws_t jws = {NULL};
    hub_txn_t *txn = NULL;
    idp_user_t *user = NULL;
    const idp_client_t *client = NULL; /* the token's: what its scope discloses depends on it (a Frappe site's openid) */
    int ret, live = 0, have_user = 0;
    json_t *body, *claims;

    /* no credentials at all: a bare challenge without an error code (RFC 6750 §3.1) */
    if ((ret = bearer_token(req, &token)) == HUB_E_NOTFOUND)
        return hub_oauth_fail(fail, HUB_OAUTH_TOKEN_MISSING, "no access token was sent");
    if (ret != 0)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "malformed bearer token, or sent more than one way");
    if (idp_keyring_verify(idp->keyring, token, strlen(token), &jws) != 0)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "the access token is invalid");
    sub = json_string_value(json_object_get(jws.payload, "sub"));
    scope = json_string_value(json_object_get(jws.payload, "scope"));
    client_id = json_string_value(json_object_get(jws.payload, "client_id"));
    if (scope == NULL)
        scope = "";
    if (hub_store_read_begin(idp->store, &txn) == 0) {
        idp_cors_allow_token(idp, req, txn, jws.payload); /* a token we signed names its client */
        live = token_live(idp, &jws, txn);
        if (live && idp_scope_has(scope, "openid")) {
            have_user = idp_user_get(txn, sub, &user) == 0 && user->enabled;
            if (have_user)
                (void)idp_client_cache_get(idp->clients, txn, client_id, &client); /* NULL when gone */
        }
        hub_store_read_end(txn);
    }
    if (!live) {
        hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "the access token is invalid, expired or revoked");
    } else if (!idp_scope_has(scope, "openid")) {
        /* UserInfo is part of OpenID Connect: only tokens granted the openid scope may read it. */
        hub_oauth_fail(fail, HUB_OAUTH_INSUFFICIENT_SCOPE, "the access token lacks the openid scope");
    } else if (!have_user) {
        /* A client_credentials token (sub = client_id), or a user since deleted or disabled. */
        hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "the access token does not belong to an active user");
    } else {
        body = json_pack("{s:s}", "sub", user->sub);
        claims = idp_user_claims(user, client, scope);
        if (claims != NULL) {
            json_object_del(claims, "sub");
            json_object_update(body, claims);
            json_decref(claims);
        }
        json_object_set_new(body, "iss", json_string(idp->issuer));
        hub_send_json(req, 200, body, 1);
    }
    if (user != NULL)
        idp_user_free(user);
    idp_client_release(client);
    hub_jws_dispose(&jws);
    return fail->error;
}

static int on_userinfo(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    if (userinfo(idp, req, &fail) != HUB_OAUTH_OK)
        hub_send_oauth_fail(req, &fail);
    return 0;
}

void idp_userinfo_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_USERINFO, on_userinfo);
}
