/* The OIDC UserInfo endpoint (OIDC Core §5.3): the signed-in user's claims for a Bearer access token (RFC 6750),
 * limited by the token's scopes. */
#include <string.h>
#include <strings.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/store.h"
#include "hub/util.h"
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

/* 1 when the verified token's claims are those of one of our access tokens (typ at+jwt, our issuer, not expired). */
static int token_ours(idp_t *idp, const hub_jws_t *jws)
{
    const json_t *p = jws->payload;
    const char *iss = json_string_value(json_object_get(p, "iss"));
    json_t *exp = json_object_get(p, "exp");

    if (jws->typ == NULL || (strcasecmp(jws->typ, "at+jwt") != 0 && strcasecmp(jws->typ, "application/at+jwt") != 0))
        return 0;
    return iss != NULL && strcmp(iss, idp->issuer) == 0 && json_string_value(json_object_get(p, "jti")) != NULL &&
           json_is_integer(exp) && json_integer_value(exp) > (json_int_t)hub_now() && json_is_string(json_object_get(p, "sub"));
}

/* One userinfo request once its token verified: the store's part (the token not revoked, its user, its client) in one
 * read on the store's readers (hub/park.h). The claims are copied out of the token (the job's own). */
typedef struct st_userinfo_job_t {
    hub_park_t park;
    idp_t *idp;
    char *sub, *scope, *client_id, *jti; /* malloc'ed; client_id may be NULL */
    int ours, with_origin;               /* the token's claims are ours; the request has an Origin (CORS) */
    int live;                            /* read: not revoked */
    idp_user_t *user;                    /* read: the token's user, enabled, or NULL */
    const idp_client_t *client;          /* read: the token's client, for CORS and for what its scope discloses; NULL when gone */
} userinfo_job_t;

static void job_free(userinfo_job_t *j)
{
    free(j->sub);
    free(j->scope);
    free(j->client_id);
    free(j->jti);
    idp_user_free(j->user);
    idp_client_release(j->client);
    free(j);
}

static int userinfo_txn(hub_txn_t *txn, void *arg)
{
    userinfo_job_t *j = arg;
    int ret;

    j->live = j->ours && idp_jti_is_active(txn, j->jti);
    if (j->live && idp_scope_has(j->scope, "openid") && (ret = idp_user_get(txn, j->sub, &j->user)) != 0) {
        if (ret != HUB_E_NOTFOUND && ret != HUB_E_PARSE)
            return ret;
        j->user = NULL; /* a client_credentials token (sub = client_id), or a user since deleted */
    }
    if (j->user != NULL && !j->user->enabled) {
        idp_user_free(j->user);
        j->user = NULL;
    }
    /* a token we signed names its client: its CORS answer, and what its scope discloses to it (a Frappe site's openid) */
    if (j->client_id != NULL && (j->with_origin || j->user != NULL) &&
        (ret = idp_client_cache_get(j->idp->clients, txn, j->client_id, &j->client)) != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    return 0;
}

/* The claims of the token's user (HUB_OAUTH_OK, sent), or the failure to send. */
static hub_oauth_err_t answer(userinfo_job_t *j, h2o_req_t *req, hub_oauth_fail_t *fail)
{
    json_t *body, *claims;

    if (!j->live)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "the access token is invalid, expired or revoked");
    /* UserInfo is part of OpenID Connect: only tokens granted the openid scope may read it. */
    if (!idp_scope_has(j->scope, "openid"))
        return hub_oauth_fail(fail, HUB_OAUTH_INSUFFICIENT_SCOPE, "the access token lacks the openid scope");
    /* A client_credentials token (sub = client_id), or a user since deleted or disabled. */
    if (j->user == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "the access token does not belong to an active user");
    body = json_pack("{s:s}", "sub", j->user->sub);
    if ((claims = idp_user_claims(j->user, j->client, j->scope)) != NULL) {
        json_object_del(claims, "sub");
        json_object_update(body, claims);
        json_decref(claims);
    }
    json_object_set_new(body, "iss", json_string(j->idp->issuer));
    hub_send_json(req, 200, body, 1);
    return HUB_OAUTH_OK;
}

static void on_read(void *arg, int ret)
{
    userinfo_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    if (req != NULL && !hub_park_unavailable(req, ret, HUB_STYLE_OAUTH)) {
        idp_cors_allow(req, j->client);
        if (ret != 0)
            hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "the token could not be looked up");
        else if (answer(j, req, &fail) != HUB_OAUTH_OK)
            hub_send_oauth_fail(req, &fail);
    }
    job_free(j);
}

static char *dup_claim(const json_t *payload, const char *name)
{
    const char *v = json_string_value(json_object_get(payload, name));
    return v != NULL ? hub_strdup(v) : NULL;
}

/* The token read and verified on the loop (no store), then the read. Returns the failure to send, or HUB_OAUTH_OK (the
 * job answers). */
static hub_oauth_err_t userinfo(idp_t *idp, h2o_req_t *req, hub_oauth_fail_t *fail)
{
    const char *token = NULL;
    hub_jws_t jws = {NULL};
    userinfo_job_t *j;
    int ret;

    /* no credentials at all: a bare challenge without an error code (RFC 6750 §3.1) */
    if ((ret = bearer_token(req, &token)) == HUB_E_NOTFOUND)
        return hub_oauth_fail(fail, HUB_OAUTH_TOKEN_MISSING, "no access token was sent");
    if (ret != 0)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "malformed bearer token, or sent more than one way");
    if (idp_keyring_verify(idp->keyring, token, strlen(token), &jws) != 0)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_TOKEN, "the access token is invalid");
    j = hub_xcalloc(1, sizeof(*j));
    j->idp = idp;
    j->ours = token_ours(idp, &jws);
    j->with_origin = hub_cors_origin(req) != NULL;
    j->sub = dup_claim(jws.payload, "sub");
    j->scope = dup_claim(jws.payload, "scope");
    j->client_id = dup_claim(jws.payload, "client_id");
    j->jti = dup_claim(jws.payload, "jti");
    if (j->scope == NULL)
        j->scope = hub_strdup("");
    hub_jws_dispose(&jws);
    if ((ret = hub_park_read(&j->park, req, userinfo_txn, j, on_read)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_OAUTH);
        job_free(j);
    }
    return HUB_OAUTH_OK;
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
