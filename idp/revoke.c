/* Token revocation (RFC 7009): a client revokes its own access tokens (by jti) and refresh tokens (with their family). */
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/resp.h"
#include "idp/clientauth.h"
#include "idp/cors.h"
#include "idp/endpoint.h"
#include "idp/grants.h"
#include "idp/revoke.h"

typedef struct st_revoke_arg_t {
    const char *client_id;
    const char *token;
    const char *jti; /* set for one of our access tokens */
    uint64_t exp;
} revoke_arg_t;

static int revoke_txn(hub_txn_t *txn, void *_arg)
{
    revoke_arg_t *a = _arg;
    int ret;
    if (a->jti != NULL)
        return idp_jti_revoke(txn, a->jti, a->exp);
    ret = idp_refresh_revoke(txn, a->token, strlen(a->token), a->client_id);
    /* unknown tokens and other clients' tokens are silently ignored (RFC 7009 §2.2) */
    return ret == HUB_E_NOTFOUND || ret == HUB_E_DENIED ? 0 : ret;
}

/* Revokes token for client: HUB_OAUTH_OK (also for a token that needs nothing done: RFC 7009 §2.2), or a server error. */
static hub_oauth_err_t revoke_token(idp_t *idp, const idp_client_t *client, const char *token, hub_oauth_fail_t *fail)
{
    revoke_arg_t a = {client->client_id, token, NULL, 0};
    hub_jws_t jws = {0};
    int ret = 0;

    if (strchr(token, '.') != NULL) {
        /* an access token: only one we signed, issued to this client and not yet expired needs remembering */
        if (idp_keyring_verify(idp->keyring, token, strlen(token), &jws) != 0)
            return HUB_OAUTH_OK;
        const char *owner = json_string_value(json_object_get(jws.payload, "client_id"));
        json_int_t exp = json_integer_value(json_object_get(jws.payload, "exp"));
        a.jti = json_string_value(json_object_get(jws.payload, "jti"));
        a.exp = exp > 0 ? (uint64_t)exp : 0;
        if (a.jti != NULL && owner != NULL && strcmp(owner, client->client_id) == 0 && a.exp > hub_now())
            ret = hub_store_write(idp->store, revoke_txn, &a);
        hub_jws_dispose(&jws);
    } else {
        ret = hub_store_write(idp->store, revoke_txn, &a);
    }
    return ret != 0 ? hub_oauth_fail(fail, HUB_OAUTH_SERVER_ERROR, "revocation failed") : HUB_OAUTH_OK;
}

/* Answers the revocation (HUB_OAUTH_OK), or returns the failure to send. */
static hub_oauth_err_t revoke_request(idp_t *idp, h2o_req_t *req, hub_oauth_fail_t *fail)
{
    hub_form_t form = {0};
    const idp_client_t *client = NULL;
    const char *token;

    if (idp_endpoint_form(req, &form, fail) != HUB_OAUTH_OK ||
        idp_endpoint_client(idp, req, &form, 1, &client, fail) != HUB_OAUTH_OK)
        return fail->error;
    idp_cors_allow(req, client);
    if ((token = hub_form_get(&form, "token")) == NULL || *token == '\0')
        hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "token is required");
    else if (revoke_token(idp, client, token, fail) == HUB_OAUTH_OK)
        hub_send_json(req, 200, json_object(), 1);
    idp_client_release(client);
    return fail->error;
}

static int on_revoke(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    if (revoke_request(idp, req, &fail) != HUB_OAUTH_OK)
        hub_send_oauth_fail(req, &fail);
    return 0;
}

void idp_revoke_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_REVOKE, on_revoke);
}
