/* Token revocation (RFC 7009): a client revokes its own access tokens (by jti) and refresh tokens (with their family). */
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "idp/clientauth.h"
#include "idp/cors.h"
#include "idp/endpoint.h"
#include "idp/grants.h"
#include "idp/revoke.h"

/* One revocation: the client's authentication in a read, then the revocation's write, on the store's pools (hub/park.h),
 * with copies of what they read. */
typedef struct st_revoke_job_t {
    hub_park_t park;
    idp_t *idp;
    idp_client_creds_t creds;
    char *token;                /* malloc'ed, NULL when absent */
    const idp_client_t *client; /* once authenticated: a reference of its own */
    hub_oauth_fail_t fail;
    char *jti; /* one of our live access tokens issued to the client: its jti (malloc'ed) */
    uint64_t exp;
    int write; /* something to revoke */
} revoke_job_t;

static void job_free(revoke_job_t *j)
{
    idp_client_creds_dispose(&j->creds);
    idp_client_release(j->client);
    free(j->token);
    free(j->jti);
    free(j);
}

static int revoke_txn(hub_txn_t *txn, void *arg)
{
    revoke_job_t *j = arg;
    int ret;

    if (j->jti != NULL)
        return idp_jti_revoke(txn, j->jti, j->exp);
    ret = idp_refresh_revoke(txn, j->token, strlen(j->token), j->client->client_id);
    /* unknown tokens and other clients' tokens are silently ignored (RFC 7009 §2.2) */
    return ret == HUB_E_NOTFOUND || ret == HUB_E_DENIED ? 0 : ret;
}

/* What revoking j's token takes: an access token only when we signed it, for this client, and it has not expired (the
 * jti to remember); a refresh token always (its family, if it is this client's). Nothing for anything else. */
static void plan(revoke_job_t *j)
{
    hub_jws_t jws = {0};

    if (strchr(j->token, '.') == NULL) {
        j->write = 1;
        return;
    }
    if (idp_keyring_verify(j->idp->keyring, j->token, strlen(j->token), &jws) != 0)
        return;
    const char *owner = json_string_value(json_object_get(jws.payload, "client_id"));
    const char *jti = json_string_value(json_object_get(jws.payload, "jti"));
    json_int_t exp = json_integer_value(json_object_get(jws.payload, "exp"));
    if (jti != NULL && owner != NULL && strcmp(owner, j->client->client_id) == 0 && exp > 0 && (uint64_t)exp > hub_now()) {
        j->jti = hub_strdup(jti);
        j->exp = (uint64_t)exp;
        j->write = 1;
    }
    hub_jws_dispose(&jws);
}

static int auth_txn(hub_txn_t *txn, void *arg)
{
    revoke_job_t *j = arg;
    int ret;

    if ((ret = idp_client_check(txn, j->idp->clients, &j->creds, 1, &j->client, &j->fail)) != 0 || j->client == NULL)
        return ret;
    if (j->token == NULL || *j->token == '\0')
        hub_oauth_fail(&j->fail, HUB_OAUTH_INVALID_REQUEST, "token is required");
    else
        plan(j);
    return 0;
}

/* Answers req (NULL: the client left) after j's last store work, which came to ret, and frees j. */
static void revoke_answer(revoke_job_t *j, h2o_req_t *req, int ret)
{
    if (req != NULL && !hub_park_unavailable(req, ret, HUB_STYLE_OAUTH)) {
        if (ret != 0)
            hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "revocation failed");
        else if (j->fail.error != HUB_OAUTH_OK)
            hub_send_oauth_fail(req, &j->fail);
        else
            hub_send_json(req, 200, json_object(), 1);
    }
    job_free(j);
}

static void on_revoked(void *arg, int ret)
{
    revoke_job_t *j = arg;

    revoke_answer(j, hub_park_resume(&j->park, ret), ret);
}

static void on_authenticated(void *arg, int ret)
{
    revoke_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req != NULL && ret == 0)
        idp_cors_allow(req, j->client);
    if (req == NULL || ret != 0 || j->fail.error != HUB_OAUTH_OK || !j->write)
        revoke_answer(j, req, ret);
    else if ((ret = hub_park_write(&j->park, req, revoke_txn, j, on_revoked)) != 0)
        revoke_answer(j, req, ret);
}

static int on_revoke(void *data, h2o_req_t *req)
{
    hub_form_t form = {0};
    revoke_job_t *j = hub_xcalloc(1, sizeof(*j));
    const char *token;
    int ret;

    j->idp = data;
    j->fail.error = HUB_OAUTH_OK;
    if (idp_endpoint_form(req, &form, &j->fail) != HUB_OAUTH_OK ||
        idp_client_creds_read(req, &form, &j->creds, &j->fail) != HUB_OAUTH_OK) {
        revoke_answer(j, req, 0);
        return 0;
    }
    if ((token = hub_form_get(&form, "token")) != NULL)
        j->token = hub_strdup(token);
    if ((ret = hub_park_read(&j->park, req, auth_txn, j, on_authenticated)) != 0)
        revoke_answer(j, req, ret);
    return 0;
}

void idp_revoke_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_REVOKE, on_revoke);
}
