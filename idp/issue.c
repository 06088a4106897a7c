/* Issuing what an authorization grants (idp/issue.h): the code, or the implicit flow's tokens, recorded in one write
 * transaction with the consent, the token family and the session's client, on the store's writer (group commit). */
#include <stdio.h>
#include <stdlib.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/park.h"
#include "hub/util.h"
#include "idp/grants.h"
#include "idp/issue.h"
#include "idp/mint.h"

/* One authorization being issued. The write runs on the store's writer thread and reads only what is owned here (copies
 * and the client), since the request may go away meanwhile (hub/park.h): the write then commits and nothing is sent.
 * a is the request's, copied: its pool strings are read only on the loop, once the park gave the request back. */
struct st_idp_issue_t {
    idp_authz_t *a;  /* ours (idp_authz_free) */
    hub_park_t park; /* the request, while its client is there */
    char *sub, *sid, *scope, *redirect_uri, *nonce, *challenge;
    uint64_t auth_time;
    int put_consent;
    char family[IDP_FAMILY_ID_LEN + 1]; /* what the code or the access token is issued from (the session's for the
                                           client), or "" (an id_token alone); chosen by the write */
    uint64_t iat;                       /* the implicit access token's, covered by the write */
    char *at, *idt;                     /* the implicit flow's tokens, minted once the write is durable (malloc'ed) */
    uint64_t exp;
    char code[44];
};

int idp_issue_txn(hub_txn_t *txn, void *arg)
{
    idp_issue_t *is = arg;
    const hub_config_t *cfg = is->a->idp->cfg;
    const char *client_id = is->a->client->client_id;
    uint64_t now = hub_now();
    int ret;

    if (is->put_consent && (ret = idp_consent_put(txn, is->sub, client_id, is->scope, now + cfg->primary.refresh_token_ttl)) != 0)
        return ret;
    if ((is->a->rt & (IDP_AUTHZ_RT_CODE | IDP_AUTHZ_RT_TOKEN)) == 0)
        return idp_session_add_client(txn, is->sid, client_id);
    if ((ret = idp_session_family(txn, is->sid, client_id, is->scope, now + cfg->primary.refresh_token_ttl, is->family)) != 0)
        return ret;
    if ((is->a->rt & IDP_AUTHZ_RT_CODE) != 0) {
        idp_code_t code = {.client_id = (char *)client_id,
                           .redirect_uri = is->redirect_uri,
                           .sub = is->sub,
                           .sid = is->sid,
                           .scope = is->scope,
                           .nonce = is->nonce,
                           .code_challenge = is->challenge,
                           .family = is->family,
                           .auth_time = is->auth_time};
        if ((ret = idp_code_create(txn, &code, cfg->primary.code_ttl, is->code)) != 0)
            return ret;
    }
    is->iat = now;
    return (is->a->rt & IDP_AUTHZ_RT_TOKEN) != 0 ? idp_family_cover(txn, is->family, now + cfg->primary.access_token_ttl) : 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? hub_strdup(s) : NULL;
}

idp_issue_t *idp_issue_new(idp_authz_t *a, int put_consent)
{
    idp_issue_t *is = hub_xcalloc(1, sizeof(*is));
    const idp_session_t *s = a->session;

    is->a = a;
    is->sub = hub_strdup(s->sub);
    is->sid = hub_strdup(s->sid);
    is->auth_time = s->auth_time;
    is->scope = dup_or_null(a->scope);
    is->redirect_uri = dup_or_null(a->v[IDP_AUTHZ_REDIRECT_URI]);
    is->nonce = dup_or_null(a->v[IDP_AUTHZ_NONCE]);
    is->challenge = dup_or_null(a->v[IDP_AUTHZ_CHALLENGE]);
    is->put_consent = put_consent;
    return is;
}

void idp_issue_free(idp_issue_t *is)
{
    idp_authz_free(is->a);
    free(is->sub);
    free(is->sid);
    free(is->scope);
    free(is->redirect_uri);
    free(is->nonce);
    free(is->challenge);
    free(is->at);
    free(is->idt);
    free(is);
}

static void send_failed(idp_authz_t *a, int ret)
{
    hub_log_error("authorize: cannot issue for client %s: %s", a->client->client_id, hub_strerror(ret));
    /* the redirect URI is known good: the RFC 6749 §4.1.2.1 answer of a server that cannot serve now goes there */
    if (ret == HUB_E_BUSY || ret == HUB_E_UNAVAILABLE)
        idp_authz_send_error(a, HUB_OAUTH_TEMPORARILY_UNAVAILABLE, "the authorization cannot be completed right now");
    else
        idp_authz_send_error(a, HUB_OAUTH_SERVER_ERROR, "the authorization could not be completed");
}

/* The implicit flow's tokens, once the write chose their family: the access token (iat and family as the write covered
 * them) and the id_token its response type asks for. */
static int mint(idp_issue_t *is)
{
    idp_authz_t *a = is->a;
    char jti[IDP_JTI_MAX + 1];
    uint64_t drawn;
    int ret;

    if ((a->rt & IDP_AUTHZ_RT_TOKEN) != 0) {
        idp_at_params_t p = {.sub = is->sub,
                             .client_id = a->client->client_id,
                             .scope = a->scope,
                             .sid = is->sid,
                             .auth_time = is->auth_time,
                             .roles = &a->user->roles};
        if ((ret = idp_mint_at_id(jti, is->family, &drawn)) != 0 ||
            (ret = idp_mint_access_token_as(a->idp, &p, jti, is->iat, &is->at)) != 0)
            return ret;
        is->exp = is->iat + a->idp->cfg->primary.access_token_ttl;
    }
    if ((a->rt & IDP_AUTHZ_RT_ID_TOKEN) != 0)
        return idp_mint_id_token(a->idp, a->user, a->client, a->scope, a->v[IDP_AUTHZ_NONCE], is->sid, is->auth_time, is->at,
                                 &is->idt);
    return 0;
}

void idp_issue_send(idp_issue_t *is, h2o_req_t *req, int ret)
{
    idp_authz_t *a = is->a;
    char expires_in[24];

    a->req = req;
    if (ret == 0 && (a->rt & IDP_AUTHZ_RT_CODE) == 0)
        ret = mint(is);
    if (ret != 0) {
        send_failed(a, ret);
    } else if ((a->rt & IDP_AUTHZ_RT_CODE) != 0) {
        idp_authz_kv_t kv[] = {{"code", is->code}};
        idp_authz_send(a, kv, 1);
    } else {
        uint64_t now = hub_now();
        snprintf(expires_in, sizeof(expires_in), "%llu", (unsigned long long)(is->exp > now ? is->exp - now : 0));
        idp_authz_kv_t kv[] = {{"access_token", is->at},
                               {"token_type", is->at != NULL ? "Bearer" : NULL},
                               {"expires_in", is->at != NULL ? expires_in : NULL},
                               {"scope", a->scope},
                               {"id_token", is->idt}};
        idp_authz_send(a, kv, sizeof(kv) / sizeof(kv[0]));
    }
}

/* On the loop, after the write is durable (or failed). */
static void on_written(void *arg, int ret)
{
    idp_issue_t *is = arg;
    h2o_req_t *req = hub_park_resume(&is->park, ret);

    if (req != NULL)
        idp_issue_send(is, req, ret);
    idp_issue_free(is);
}

void idp_authz_issue(idp_authz_t *a, int put_consent)
{
    idp_issue_t *is = idp_issue_new(a, put_consent);
    h2o_req_t *req = a->req;
    int ret;

    if ((ret = hub_park_write(&is->park, req, idp_issue_txn, is, on_written)) != 0) {
        send_failed(is->a, ret);
        idp_issue_free(is);
    }
}
