/* Issuing what an authorization grants (idp/issue.h): the code, or the implicit flow's tokens, recorded in one write
 * transaction with the consent, the token family and the session's client. */
#include <stdio.h>
#include <stdlib.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "idp/grants.h"
#include "idp/issue.h"
#include "idp/mint.h"

typedef struct st_issue_t {
    idp_authz_t *a;
    const idp_session_t *s;
    int put_consent;
    const char *jti; /* implicit access token to record, or NULL */
    uint64_t exp;
    char code[44];
} issue_t;

static int issue_txn(hub_txn_t *txn, void *arg)
{
    issue_t *is = arg;
    idp_authz_t *a = is->a;
    const hub_config_t *cfg = a->idp->cfg;
    uint64_t now = hub_now();
    char family[33];
    int ret;

    if (is->put_consent &&
        (ret = idp_consent_put(txn, is->s->sub, a->client->client_id, a->scope, now + cfg->primary.refresh_token_ttl)) != 0)
        return ret;
    if ((a->rt & IDP_AUTHZ_RT_CODE) != 0 || is->jti != NULL) {
        if ((ret = idp_family_create(txn, a->client->client_id, is->s->sub, is->s->sid, now + cfg->primary.refresh_token_ttl,
                                     family)) != 0)
            return ret;
    }
    if ((a->rt & IDP_AUTHZ_RT_CODE) != 0) {
        idp_code_t code = {.client_id = a->client->client_id,
                           .redirect_uri = (char *)a->v[IDP_AUTHZ_REDIRECT_URI],
                           .sub = is->s->sub,
                           .sid = is->s->sid,
                           .scope = (char *)a->scope,
                           .nonce = (char *)a->v[IDP_AUTHZ_NONCE],
                           .code_challenge = (char *)a->v[IDP_AUTHZ_CHALLENGE],
                           .family = family,
                           .auth_time = is->s->auth_time};
        if ((ret = idp_code_create(txn, &code, cfg->primary.code_ttl, is->code)) != 0)
            return ret;
    }
    if (is->jti != NULL && (ret = idp_jti_record(txn, is->jti, family, a->client->client_id, is->exp)) != 0)
        return ret;
    return idp_session_add_client(txn, is->s->sid, a->client->client_id);
}

void idp_authz_issue(idp_authz_t *a, const idp_session_t *s, const idp_user_t *user, int put_consent)
{
    issue_t is = {.a = a, .s = s, .put_consent = put_consent};
    char *at = NULL, *idt = NULL, jti[23], expires_in[24];
    int ret;

    if ((a->rt & IDP_AUTHZ_RT_TOKEN) != 0) {
        idp_at_params_t p = {.sub = s->sub,
                             .client_id = a->client->client_id,
                             .scope = a->scope,
                             .sid = s->sid,
                             .auth_time = s->auth_time,
                             .roles = &user->roles};
        if ((ret = idp_mint_access_token(a->idp, &p, &at, jti, &is.exp)) != 0)
            goto fail;
        is.jti = jti;
    }
    if ((a->rt & IDP_AUTHZ_RT_ID_TOKEN) != 0 &&
        (ret = idp_mint_id_token(a->idp, user, a->client, a->scope, a->v[IDP_AUTHZ_NONCE], s->sid, s->auth_time, at, &idt)) != 0)
        goto fail;
    if ((ret = hub_store_write(a->idp->store, issue_txn, &is)) != 0)
        goto fail;
    if ((a->rt & IDP_AUTHZ_RT_CODE) != 0) {
        idp_authz_kv_t kv[] = {{"code", is.code}};
        idp_authz_send(a, kv, 1);
    } else {
        uint64_t now = hub_now();
        snprintf(expires_in, sizeof(expires_in), "%llu", (unsigned long long)(is.exp > now ? is.exp - now : 0));
        idp_authz_kv_t kv[] = {{"access_token", at},
                               {"token_type", at != NULL ? "Bearer" : NULL},
                               {"expires_in", at != NULL ? expires_in : NULL},
                               {"scope", a->scope},
                               {"id_token", idt}};
        idp_authz_send(a, kv, sizeof(kv) / sizeof(kv[0]));
    }
    free(at);
    free(idt);
    return;
fail:
    hub_log_error("authorize: cannot issue for client %s: %s", a->client->client_id, hub_strerror(ret));
    free(at);
    free(idt);
    idp_authz_send_error(a, HUB_OAUTH_SERVER_ERROR, "the authorization could not be completed");
}
