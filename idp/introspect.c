/* Token introspection (RFC 7662) for authenticated clients: our access tokens and refresh tokens. */
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "idp/clientauth.h"
#include "idp/endpoint.h"
#include "idp/grants.h"
#include "idp/introspect.h"
#include "idp/user.h"

/* A compact JWS has exactly two dots; our refresh tokens (base64url) have none. */
static int looks_like_jwt(const char *token)
{
    const char *dot = strchr(token, '.');
    return dot != NULL && strchr(dot + 1, '.') != NULL;
}

/* 1 when client_id names an enabled client (read through the cache: the client is shared, read-only). */
static int client_enabled(idp_t *idp, hub_txn_t *txn, const char *client_id)
{
    const idp_client_t *client = NULL;
    int ok;
    if (client_id == NULL || idp_client_cache_get(idp->clients, txn, client_id, &client) != 0)
        return 0;
    ok = client->enabled;
    idp_client_release(client);
    return ok;
}

/* Adds username for a user's sub; 0 when the sub is a user who is disabled (the token is then inactive). */
static int add_username(hub_txn_t *txn, const char *sub, json_t *out)
{
    idp_user_t *user = NULL;
    int ok = 1;
    if (sub == NULL || idp_user_get(txn, sub, &user) != 0)
        return 1; /* not a user: a client_credentials token */
    if (!user->enabled)
        ok = 0;
    else if (user->username != NULL)
        json_object_set_new(out, "username", json_string(user->username));
    idp_user_free(user);
    return ok;
}

/* One of our live access tokens, answered to the client it was issued to (or to a client allowed to introspect any). */
static json_t *introspect_access(idp_t *idp, hub_txn_t *txn, const idp_client_t *caller, const char *token)
{
    hub_jws_t jws = {0};
    json_t *out = NULL, *p;
    const char *jti, *client_id, *sub;
    json_int_t exp;

    if (idp_keyring_verify(idp->keyring, token, strlen(token), &jws) != 0)
        return NULL;
    p = jws.payload;
    exp = json_integer_value(json_object_get(p, "exp"));
    jti = json_string_value(json_object_get(p, "jti"));
    client_id = json_string_value(json_object_get(p, "client_id"));
    sub = json_string_value(json_object_get(p, "sub"));
    if (jws.typ == NULL || strcasecmp(jws.typ, "at+jwt") != 0 || exp <= 0 || (uint64_t)exp <= hub_now() || jti == NULL ||
        json_string_value(json_object_get(p, "iss")) == NULL ||
        strcmp(json_string_value(json_object_get(p, "iss")), idp->issuer) != 0)
        goto out;
    if (client_id == NULL || (!caller->introspect_any && strcmp(client_id, caller->client_id) != 0))
        goto out; /* SPEC §4: a client learns only about its own tokens */
    if (!idp_jti_is_active(txn, jti) || !client_enabled(idp, txn, client_id))
        goto out;
    out = json_pack("{s:b,s:s}", "active", 1, "token_type", "Bearer");
    if (!add_username(txn, sub, out)) {
        json_decref(out);
        out = NULL;
        goto out;
    }
    static const char *const copied[] = {"scope", "client_id", "exp", "iat", "sub", "aud", "iss", "jti", "sid", "auth_time"};
    for (size_t i = 0; i != sizeof(copied) / sizeof(copied[0]); ++i)
        if (json_object_get(p, copied[i]) != NULL)
            json_object_set(out, copied[i], json_object_get(p, copied[i]));
out:
    hub_jws_dispose(&jws);
    return out;
}

/* Refresh tokens are only meaningful to the client they were issued to: never answered to another, even one allowed to
 * introspect any access token (a resource server never holds a refresh token). */
static json_t *introspect_refresh(idp_t *idp, hub_txn_t *txn, const idp_client_t *caller, const char *token)
{
    idp_refresh_t *r = NULL;
    idp_family_t *f = NULL;
    json_t *out = NULL;

    if (idp_refresh_get(txn, token, strlen(token), &r) != 0)
        return NULL;
    if (r->successor_hash != NULL || r->client_id == NULL || strcmp(r->client_id, caller->client_id) != 0)
        goto out;
    if (r->family == NULL || idp_family_get(txn, r->family, &f) != 0 || f->revoked || !client_enabled(idp, txn, r->client_id))
        goto out;
    out = json_pack("{s:b,s:s,s:s,s:s,s:I,s:s,s:s}", "active", 1, "token_type", "refresh_token", "scope",
                    r->scope != NULL ? r->scope : "", "client_id", r->client_id, "exp", (json_int_t)r->expires_at, "aud",
                    r->client_id, "iss", idp->issuer);
    if (r->sub != NULL)
        json_object_set_new(out, "sub", json_string(r->sub));
    if (!add_username(txn, r->sub, out)) {
        json_decref(out);
        out = NULL;
    }
out:
    idp_family_free(f);
    idp_refresh_free(r);
    return out;
}

/* One introspection: the client's authentication and the token's records in one read on the store's readers (hub/park.h),
 * with copies of what it reads, since the request may go away meanwhile. */
typedef struct st_introspect_job_t {
    hub_park_t park;
    idp_t *idp;
    idp_client_creds_t creds;
    char *token; /* malloc'ed, NULL when absent */
    hub_oauth_fail_t fail;
    json_t *result; /* the answer once the read decided it */
} introspect_job_t;

static void job_free(introspect_job_t *j)
{
    idp_client_creds_dispose(&j->creds);
    free(j->token);
    json_decref(j->result);
    free(j);
}

static int introspect_txn(hub_txn_t *txn, void *arg)
{
    introspect_job_t *j = arg;
    const idp_client_t *client = NULL;
    int ret;

    if ((ret = idp_client_check(txn, j->idp->clients, &j->creds, 0, &client, &j->fail)) != 0 || client == NULL)
        return ret;
    if (j->token == NULL || *j->token == '\0') {
        hub_oauth_fail(&j->fail, HUB_OAUTH_INVALID_REQUEST, "token is required");
    } else {
        /* token_type_hint only speeds up the search (RFC 7662 §2.1); the token's shape tells us already */
        j->result = looks_like_jwt(j->token) ? introspect_access(j->idp, txn, client, j->token)
                                             : introspect_refresh(j->idp, txn, client, j->token);
        if (j->result == NULL)
            j->result = json_pack("{s:b}", "active", 0);
    }
    idp_client_release(client);
    return 0;
}

static void on_introspected(void *arg, int ret)
{
    introspect_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req != NULL && !hub_park_unavailable(req, ret, HUB_STYLE_OAUTH)) {
        if (ret != 0)
            hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "the token could not be looked up");
        else if (j->fail.error != HUB_OAUTH_OK)
            hub_send_oauth_fail(req, &j->fail);
        else
            hub_send_json(req, 200, json_incref(j->result), 1);
    }
    job_free(j);
}

/* The form and the credentials on the loop, the rest in the read. */
static int on_introspect(void *data, h2o_req_t *req)
{
    hub_form_t form = {0};
    introspect_job_t *j = hub_xcalloc(1, sizeof(*j));
    const char *token;
    int ret;

    j->idp = data;
    j->fail.error = HUB_OAUTH_OK;
    if (idp_endpoint_form(req, &form, &j->fail) != HUB_OAUTH_OK ||
        idp_client_creds_read(req, &form, &j->creds, &j->fail) != HUB_OAUTH_OK) {
        hub_send_oauth_fail(req, &j->fail);
        job_free(j);
        return 0;
    }
    if ((token = hub_form_get(&form, "token")) != NULL)
        j->token = hub_strdup(token);
    if ((ret = hub_park_read(&j->park, req, introspect_txn, j, on_introspected)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_OAUTH);
        job_free(j);
    }
    return 0;
}

void idp_introspect_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_INTROSPECT, on_introspect);
}
