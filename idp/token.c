/* The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; RFC 7636): client authentication, then one handler per grant type. */
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jsonw.h"
#include "hub/log.h"
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "hub/writer.h"
#include "idp/clientauth.h"
#include "idp/cors.h"
#include "idp/endpoint.h"
#include "idp/grants.h"
#include "idp/token.h"
#include "idp/session.h"
#include "idp/claims.h"
#include "idp/mint.h"

#define REFRESH_GRACE_S 5 /* one retry of a refresh within this window gets tokens (SPEC §4, idp_refresh_rotate) */

/* What a grant produced: the tokens to send, or the failure to send instead (fail.error not HUB_OAUTH_OK). A grant to
 * a user leaves in its write transaction what the tokens are made of (user: its record, taken over), and they are
 * signed on the loop once the write is durable (sign_user_tokens), so the store's writer does no signing. */
typedef struct st_issue_t {
    hub_oauth_fail_t fail;
    char *access_token;
    char *id_token;
    char refresh[44];
    char *scope;
    uint64_t expires_in;
    idp_user_t *user; /* not NULL: the tokens are still to sign for this user, with the fields below */
    char *sid, *nonce;
    uint64_t auth_time, iat;
    char jti[IDP_JTI_MAX + 1];
    int openid; /* an id_token too */
} issue_t;

/* Reset at the start of every (re)run of a write transaction, so a retried txn leaves nothing behind. */
static void issue_reset(issue_t *out)
{
    free(out->access_token);
    free(out->id_token);
    free(out->scope);
    idp_user_free(out->user);
    free(out->sid);
    free(out->nonce);
    memset(out, 0, sizeof(*out));
}

/* Inside a grant's write transaction: records the failure and returns non-zero, so that the transaction aborts (a
 * refusal that must be committed, such as a reuse that revokes, returns 0 itself). */
static int refuse(issue_t *out, hub_oauth_err_t err, const char *desc)
{
    hub_oauth_fail(&out->fail, err, desc);
    return HUB_E_DENIED;
}

/* The outcome of issuing (a grant's write transaction, or minting) that returned ret: the failure recorded in out, else
 * server_error when ret is not 0, else HUB_OAUTH_OK with the tokens in out. */
static hub_oauth_err_t issued(int ret, issue_t *out)
{
    if (out->fail.error == HUB_OAUTH_OK && ret != 0)
        hub_oauth_fail(&out->fail, HUB_OAUTH_SERVER_ERROR, "the token could not be issued");
    return out->fail.error;
}

static void send_issue(h2o_req_t *req, issue_t *out)
{
    const char *scope = out->scope != NULL ? out->scope : "";
    /* a JSON string is at most 6 bytes per byte of its text (\u00XX) */
    size_t cap = 128 + 6 * (strlen(out->access_token) + strlen(scope) + strlen(out->refresh) +
                            (out->id_token != NULL ? strlen(out->id_token) : 0)),
           len;
    hub_jw_t w;

    hub_jw_init(&w, h2o_mem_alloc_pool(&req->pool, cap), cap);
    hub_jw_open(&w, '{');
    hub_jw_kstr(&w, "access_token", out->access_token);
    hub_jw_kstr(&w, "token_type", "Bearer");
    hub_jw_kuint(&w, "expires_in", out->expires_in);
    hub_jw_kstr(&w, "scope", scope);
    if (out->refresh[0] != '\0')
        hub_jw_kstr(&w, "refresh_token", out->refresh);
    if (out->id_token != NULL)
        hub_jw_kstr(&w, "id_token", out->id_token);
    hub_jw_close(&w, '}');
    if (hub_jw_finish(&w, &len) != 0) {
        hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "the token could not be issued");
        return;
    }
    hub_send_json_text(req, 200, w.buf, len, 1);
}

/* ---- scopes ---- */

/* RFC 6749 §3.3 scope-token characters. */
static int scope_token_ok(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return n != 0;
}

/* Checks that every word of requested passes allowed(); returns the normalised scope (single spaces, no duplicates,
 * malloc'ed) or NULL when a word is malformed or not allowed. */
static char *scope_narrow(const char *requested, int (*allowed)(const void *arg, const char *word), const void *arg)
{
    size_t cap = strlen(requested) + 1, len = 0;
    char *out = hub_xcalloc(1, cap), word[256];
    const char *p = requested;

    while (*p != '\0') {
        size_t n = 0;
        while (*p == ' ')
            ++p;
        if (*p == '\0')
            break;
        while (p[n] != '\0' && p[n] != ' ')
            ++n;
        if (n >= sizeof(word) || !scope_token_ok(p, n))
            goto fail;
        memcpy(word, p, n);
        word[n] = '\0';
        if (!allowed(arg, word))
            goto fail;
        if (!idp_scope_has(out, word)) {
            if (len != 0)
                out[len++] = ' ';
            memcpy(out + len, word, n + 1);
            len += n;
        }
        p += n;
    }
    if (len == 0)
        goto fail;
    return out;
fail:
    free(out);
    return NULL;
}

static int allowed_in_string(const void *arg, const char *word)
{
    return idp_scope_has(arg, word);
}

static int allowed_in_strv(const void *arg, const char *word)
{
    return idp_strv_has(arg, word);
}

/* ---- issuing to a user ---- */

typedef struct st_user_issue_t {
    idp_t *idp;
    const idp_client_t *client;
    const idp_user_t *user;
    const char *scope, *sid, *family, *nonce;
    uint64_t auth_time;
} user_issue_t;

/* Covers the access token to come by its family (its jti names it) and notes the client in the session; leaves in out
 * what the tokens are made of (the caller hands over the user when the transaction is to commit: take_user). */
static int issue_user_tokens(hub_txn_t *txn, const user_issue_t *u, issue_t *out)
{
    uint64_t ttl = u->idp->cfg->primary.access_token_ttl;
    int ret;

    if ((ret = idp_mint_at_id(out->jti, u->family, &out->iat)) != 0)
        return ret;
    out->expires_in = ttl;
    out->scope = hub_strdup(u->scope);
    if ((ret = idp_family_cover(txn, u->family, out->iat + ttl)) != 0)
        return ret;
    /* back-channel logout reaches the clients of a session; a session already gone is not an error here */
    if (u->sid != NULL && (ret = idp_session_add_client(txn, u->sid, u->client->client_id)) != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    out->sid = u->sid != NULL ? hub_strdup(u->sid) : NULL;
    out->nonce = u->nonce != NULL ? hub_strdup(u->nonce) : NULL;
    out->auth_time = u->auth_time;
    out->openid = idp_scope_has(u->scope, "openid");
    return 0;
}

/* The user's tokens are to be signed for *user, which out takes over. */
static void take_user(issue_t *out, idp_user_t **user)
{
    out->user = *user;
    *user = NULL;
}

/* On the loop, after the write: signs the access token recorded in it and, for openid, the id_token. */
static int sign_user_tokens(idp_t *idp, const idp_client_t *client, issue_t *out)
{
    idp_at_params_t p = {out->user->sub, client->client_id, out->scope, out->sid, out->auth_time, &out->user->roles};
    int ret;

    if ((ret = idp_mint_access_token_as(idp, &p, out->jti, out->iat, &out->access_token)) != 0)
        return ret;
    if (out->openid)
        ret = idp_mint_id_token(idp, out->user, client, out->scope, out->nonce, out->sid, out->auth_time, out->access_token,
                                &out->id_token);
    return ret;
}

/* A grant refused for good: records invalid_grant and revokes family (SPEC §4: a refused reuse, or a user who may no
 * longer hold the grant). Returns 0 so that the caller commits the revocation; a store failure instead aborts (the
 * answer is then a server error). */
static int refuse_revoking(hub_txn_t *txn, const char *family, issue_t *out, const char *desc)
{
    int ret = family != NULL ? idp_family_revoke(txn, family) : 0;

    if (ret != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    hub_oauth_fail(&out->fail, HUB_OAUTH_INVALID_GRANT, desc);
    return 0;
}

/* Loads the user a grant was issued to, as they are now: present, enabled and holding one of the client's allowed_roles
 * when it has any (checked at authorize, and again at every exchange and refresh). Otherwise the family is revoked and
 * the failure recorded in out->fail (return 0: commit). */
static int load_user(hub_txn_t *txn, const char *sub, const idp_client_t *client, const char *family, idp_user_t **user,
                     issue_t *out)
{
    int ret = sub != NULL ? idp_user_get(txn, sub, user) : HUB_E_NOTFOUND;

    if (ret == HUB_E_NOTFOUND || (ret == 0 && !(*user)->enabled))
        return refuse_revoking(txn, family, out, "the user of this grant is no longer active");
    if (ret == 0 && !idp_client_allows_user(client, *user))
        return refuse_revoking(txn, family, out, "the user may no longer use this application");
    return ret;
}

/* ---- a token request's job ---- */

/* One token request from its form to its answer. The client's authentication is a read (unless the client cache holds
 * the client: auth_try) and a grant's work a write, each on the store's pools (hub/park.h), so the job owns everything
 * they read (the credentials, the form's values, the client), since the request may go away meanwhile: a write still
 * commits, and the answer is dropped. */
typedef struct st_token_job_t {
    hub_park_t park;
    idp_t *idp;
    hub_workport_t *write_port; /* the loop's writer: a refused reuse is revoked even when the client left */
    size_t grant;               /* in grant_types[] */
    idp_client_creds_t creds;
    char *values[3];            /* the grant's form values (grant_types[].names; malloc'ed, NULL when absent) */
    const idp_client_t *client; /* once authenticated: a reference of its own */
    int rotated;                /* a request refused before its grant presented an already rotated refresh token */
    int reuse;                  /* the refresh grant's token was rotated: a refusal committed with it revoked the family */
    issue_t out;
} token_job_t;

static void job_free(token_job_t *j)
{
    issue_reset(&j->out);
    for (size_t i = 0; i != sizeof(j->values) / sizeof(j->values[0]); ++i)
        free(j->values[i]);
    idp_client_creds_dispose(&j->creds);
    idp_client_release(j->client);
    free(j);
}

/* Answers req with what j came to (ret: its last store work; the tokens, or the failure recorded) and frees j; req
 * NULL (the client left) answers nothing. */
static void token_answer(token_job_t *j, h2o_req_t *req, int ret)
{
    if (req != NULL && !hub_park_unavailable(req, ret, HUB_STYLE_OAUTH)) {
        if (ret == 0 && j->out.fail.error == HUB_OAUTH_OK && j->out.user != NULL)
            ret = sign_user_tokens(j->idp, j->client, &j->out);
        if (issued(ret, &j->out) == HUB_OAUTH_OK)
            send_issue(req, &j->out);
        else
            hub_send_oauth_fail(req, &j->out.fail);
    }
    job_free(j);
}

/* Parks j's write fn on the store's writer; done answers. A full queue answers 503 now. */
static void park_write(token_job_t *j, h2o_req_t *req, int (*fn)(hub_txn_t *txn, void *arg), hub_park_done_fn done)
{
    int ret;

    if ((ret = hub_park_write(&j->park, req, fn, j, done)) != 0)
        token_answer(j, req, ret);
}

/* ---- authorization_code ---- */

/* RFC 7636 §4.1: 43..128 unreserved characters. */
static int verifier_ok(const char *v)
{
    size_t i, n = strlen(v);
    if (n < 43 || n > 128)
        return 0;
    for (i = 0; i != n; ++i) {
        char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
              c == '~'))
            return 0;
    }
    return 1;
}

static int pkce_ok(const char *challenge, const char *verifier)
{
    uint8_t md[HUB_SHA256_LEN];
    char computed[HUB_B64URL_LEN(HUB_SHA256_LEN) + 1];
    if (!verifier_ok(verifier))
        return 0;
    hub_sha256(md, verifier, strlen(verifier));
    hub_b64url_encode(computed, md, sizeof(md));
    return hub_ct_equal(computed, strlen(computed), challenge, strlen(challenge));
}

/* The code exchange's write: values code, redirect_uri, code_verifier. */
static int code_txn(hub_txn_t *txn, void *arg)
{
    token_job_t *j = arg;
    const idp_client_t *client = j->client;
    idp_t *idp = j->idp;
    const char *code_value = j->values[0], *redirect_uri = j->values[1], *verifier = j->values[2];
    issue_t *out = &j->out;
    idp_code_t *code = NULL;
    idp_user_t *user = NULL;
    idp_family_t *family = NULL;
    int ret;

    issue_reset(out);
    ret = idp_code_redeem(txn, code_value, strlen(code_value), client->client_id, &code);
    if (ret == HUB_E_NOTFOUND)
        return refuse(out, HUB_OAUTH_INVALID_GRANT, "unknown or expired code");
    if (ret == HUB_E_DENIED) {
        refuse(out, HUB_OAUTH_INVALID_GRANT, "code already used");
        return 0; /* commit: the replay revoked the code's family */
    }
    if (ret != 0)
        return ret;
    /* any failure below aborts the txn, so a code presented wrongly is not burnt */
    if (code->client_id == NULL || strcmp(code->client_id, client->client_id) != 0) {
        ret = refuse(out, HUB_OAUTH_INVALID_GRANT, "code was issued to another client");
        goto out;
    }
    if (code->redirect_uri != NULL && (redirect_uri == NULL || strcmp(redirect_uri, code->redirect_uri) != 0)) {
        ret = refuse(out, HUB_OAUTH_INVALID_GRANT, "redirect_uri differs from the authorization request");
        goto out;
    }
    if (code->code_challenge != NULL) {
        if (verifier == NULL || !pkce_ok(code->code_challenge, verifier)) {
            ret = refuse(out, HUB_OAUTH_INVALID_GRANT, "code_verifier does not match the code_challenge");
            goto out;
        }
    } else if (verifier != NULL || client->auth_method == IDP_AUTH_NONE) {
        ret = refuse(out, HUB_OAUTH_INVALID_GRANT, "code was issued without a PKCE challenge");
        goto out;
    }
    if (code->family == NULL || idp_family_get(txn, code->family, &family) != 0 || family->revoked) {
        ret = refuse(out, HUB_OAUTH_INVALID_GRANT, "the grant was revoked");
        goto out;
    }
    /* from here a refusal is final: the code stays used and its family is revoked */
    if ((ret = load_user(txn, code->sub, client, code->family, &user, out)) != 0 || out->fail.error != HUB_OAUTH_OK)
        goto out;
    user_issue_t u = {idp,       client,       user,        code->scope != NULL ? code->scope : "",
                      code->sid, code->family, code->nonce, code->auth_time};
    if ((ret = issue_user_tokens(txn, &u, out)) != 0)
        goto out;
    idp_refresh_t rec = {code->family,
                         client->client_id,
                         code->sub,
                         code->sid,
                         (char *)u.scope,
                         code->auth_time,
                         hub_now() + idp->cfg->primary.refresh_token_ttl};
    if ((ret = idp_refresh_create(txn, &rec, out->refresh)) == 0)
        take_user(out, &user);
out:
    idp_family_free(family);
    idp_user_free(user);
    idp_code_free(code);
    return ret;
}

static void on_code_written(void *arg, int ret)
{
    token_job_t *j = arg;

    token_answer(j, hub_park_resume(&j->park, ret), ret);
}

static void grant_authorization_code(token_job_t *j, h2o_req_t *req)
{
    const char *code = j->values[0];

    if (j->client->grant_type != IDP_GRANT_AUTHORIZATION_CODE)
        hub_oauth_fail(&j->out.fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for authorization_code");
    else if (code == NULL || *code == '\0')
        hub_oauth_fail(&j->out.fail, HUB_OAUTH_INVALID_REQUEST, "code is required");
    if (j->out.fail.error != HUB_OAUTH_OK)
        token_answer(j, req, 0);
    else
        park_write(j, req, code_txn, on_code_written);
}

/* ---- refresh_token ---- */

/* The refresh grant's write: values refresh_token, scope. */
static int refresh_txn(hub_txn_t *txn, void *arg)
{
    token_job_t *j = arg;
    const idp_client_t *client = j->client;
    idp_t *idp = j->idp;
    const char *token = j->values[0], *requested = j->values[1] != NULL && *j->values[1] != '\0' ? j->values[1] : NULL;
    issue_t *out = &j->out;
    idp_refresh_t *rec = NULL;
    idp_user_t *user = NULL;
    char *scope = NULL;
    int ret, reuse;

    issue_reset(out);
    j->reuse = 0;
    if ((ret = idp_refresh_get(txn, token, strlen(token), &rec)) != 0)
        return ret == HUB_E_NOTFOUND ? refuse(out, HUB_OAUTH_INVALID_GRANT, "unknown or expired refresh token") : ret;
    /* a rotated token presented again: whatever refuses it below also revokes its family (SPEC §4) */
    reuse = j->reuse = rec->successor_hash != NULL;
    if (rec->client_id == NULL || strcmp(rec->client_id, client->client_id) != 0) {
        ret = reuse ? refuse_revoking(txn, rec->family, out, "refresh token was issued to another client")
                    : refuse(out, HUB_OAUTH_INVALID_GRANT, "refresh token was issued to another client");
        goto out;
    }
    if ((ret = load_user(txn, rec->sub, client, rec->family, &user, out)) != 0 || out->fail.error != HUB_OAUTH_OK)
        goto out;
    if (requested != NULL && (scope = scope_narrow(requested, allowed_in_string, rec->scope != NULL ? rec->scope : "")) == NULL) {
        ret = reuse ? refuse_revoking(txn, rec->family, out, "refresh token is no longer valid")
                    : refuse(out, HUB_OAUTH_INVALID_SCOPE, "scope exceeds the scope originally granted");
        goto out;
    }
    /* RFC 6749 §6: the new refresh token keeps the original scope; only the tokens issued now
     * are narrowed */
    ret = idp_refresh_rotate(txn, rec, idp->cfg->primary.refresh_token_ttl, REFRESH_GRACE_S, out->refresh);
    if (ret == HUB_E_DENIED) {
        refuse(out, HUB_OAUTH_INVALID_GRANT, "refresh token is no longer valid");
        ret = 0; /* commit the revocation */
        goto out;
    }
    if (ret == HUB_E_NOTFOUND) {
        ret = refuse(out, HUB_OAUTH_INVALID_GRANT, "unknown or expired refresh token");
        goto out;
    }
    if (ret != 0)
        goto out;
    user_issue_t u = {idp,      client,      user, scope != NULL ? scope : (rec->scope != NULL ? rec->scope : ""),
                      rec->sid, rec->family, NULL, rec->auth_time};
    if ((ret = issue_user_tokens(txn, &u, out)) == 0)
        take_user(out, &user);
out:
    free(scope);
    idp_user_free(user);
    idp_refresh_free(rec);
    return ret;
}

static void on_refresh_written(void *arg, int ret)
{
    token_job_t *j = arg;

    if (ret == 0 && j->out.fail.error != HUB_OAUTH_OK && j->reuse)
        hub_log_warn("refresh token reuse by client %s: token family revoked", j->client->client_id);
    token_answer(j, hub_park_resume(&j->park, ret), ret);
}

static void grant_refresh_token(token_job_t *j, h2o_req_t *req)
{
    const char *token = j->values[0];

    /* a client not registered for it presenting a rotated token went through refuse_rotated */
    if (j->client->grant_type != IDP_GRANT_AUTHORIZATION_CODE)
        hub_oauth_fail(&j->out.fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for refresh_token");
    else if (token == NULL || *token == '\0')
        hub_oauth_fail(&j->out.fail, HUB_OAUTH_INVALID_REQUEST, "refresh_token is required");
    if (j->out.fail.error != HUB_OAUTH_OK)
        token_answer(j, req, 0);
    else
        park_write(j, req, refresh_txn, on_refresh_written);
}

/* ---- a refused request presenting a rotated refresh token ---- */

/* 1 when token is a refresh token that was rotated already (one read in the authentication's transaction, so that
 * refused requests carrying anything else, anonymous ones included, never take the store's writer). */
static int is_rotated_refresh(hub_txn_t *txn, const char *token)
{
    idp_refresh_t *r = NULL;
    int rotated = 0;

    if (idp_refresh_get(txn, token, strlen(token), &r) == 0)
        rotated = r->successor_hash != NULL;
    idp_refresh_free(r);
    return rotated;
}

static int refused_reuse_txn(hub_txn_t *txn, void *arg)
{
    const char *token = ((token_job_t *)arg)->values[0];
    int ret = idp_refresh_refused_reuse(txn, token, strlen(token));
    return ret > 0 ? 0 : ret;
}

static void on_reuse_revoked(void *arg, int ret)
{
    token_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (ret != 0)
        hub_log_error("refresh token reuse: cannot revoke the family: %s", hub_strerror(ret));
    else
        hub_log_warn("refresh token reuse in a refused request: token family revoked");
    token_answer(j, req, 0); /* the refusal, whatever became of the revocation */
}

/* A token request refused before its grant ran (client authentication, grant type) that presented an already rotated
 * refresh token: that reuse revokes the family as any refused reuse does (SPEC §4), also when the client left. */
static void refuse_rotated(token_job_t *j, h2o_req_t *req)
{
    int ret = req != NULL ? hub_park_write(&j->park, req, refused_reuse_txn, j, on_reuse_revoked)
                          : hub_store_write_async(j->idp->store, j->write_port, refused_reuse_txn, j, on_reuse_revoked);

    if (ret != 0) {
        hub_log_error("refresh token reuse: cannot revoke the family: %s", hub_strerror(ret));
        token_answer(j, req, 0);
    }
}

/* ---- client_credentials ---- */

/* The hot path: the client came from the client cache (or the authentication's read on a miss); minting touches no file
 * and no store, so a cached client's token is answered on the loop without any store job. Value: scope. */
static void grant_client_credentials(token_job_t *j, h2o_req_t *req)
{
    const idp_client_t *client = j->client;
    const char *requested = j->values[0];
    issue_t *out = &j->out;
    char jti[IDP_JTI_MAX + 1];
    uint64_t exp;
    int ret = 0;

    if (client->grant_type != IDP_GRANT_CLIENT_CREDENTIALS || client->auth_method == IDP_AUTH_NONE) {
        hub_oauth_fail(&out->fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for client_credentials");
    } else if (requested != NULL && *requested != '\0' &&
               (out->scope = scope_narrow(requested, allowed_in_strv, &client->scopes)) == NULL) {
        hub_oauth_fail(&out->fail, HUB_OAUTH_INVALID_SCOPE, "scope exceeds the client's scopes");
    } else {
        if (out->scope == NULL && (out->scope = idp_strv_join(&client->scopes, " ")) == NULL)
            hub_oom();
        idp_at_params_t p = {client->client_id, client->client_id, out->scope, NULL, 0, &client->service_roles};
        ret = idp_mint_access_token(j->idp, &p, &out->access_token, jti, &exp);
        out->expires_in = j->idp->cfg->primary.access_token_ttl;
    }
    token_answer(j, req, ret);
}

/* ---- dispatch ---- */

/* A grant type's handler, on the loop once the client is authenticated: answers req (token_answer), maybe after its
 * write (park_write). */
static const struct {
    const char *name;
    void (*fn)(token_job_t *j, h2o_req_t *req);
    int allow_public;     /* a client with auth method none may use it (its grant is bound by PKCE) */
    int revokes_reuse;    /* a refusal presenting an already rotated refresh token (values[0]) revokes its family */
    const char *names[3]; /* the form values its work reads, in order (j->values) */
} grant_types[] = {
    {"authorization_code", grant_authorization_code, 1, 0, {"code", "redirect_uri", "code_verifier"}},
    {"refresh_token", grant_refresh_token, 1, 1, {"refresh_token", "scope"}},
    {"client_credentials", grant_client_credentials, 0, 0, {"scope"}},
};

/* Whether the authentication also reads whether the refresh token presented was rotated already: a grant whose refusal
 * revokes a reused token, refused by the client's authentication (j->client NULL) or by its grant type. */
static int checks_rotation(const token_job_t *j)
{
    const char *token = j->values[0];

    return grant_types[j->grant].revokes_reuse && token != NULL && *token != '\0' &&
           (j->client == NULL || j->client->grant_type != IDP_GRANT_AUTHORIZATION_CODE);
}

/* In a read transaction: the client's authentication and, for a refresh grant refused by it or by the client's grant
 * type, whether the token presented was rotated already. Returns 0, or a store error. */
static int auth_txn(hub_txn_t *txn, void *arg)
{
    token_job_t *j = arg;
    int ret;

    if (j->out.fail.error == HUB_OAUTH_OK &&
        (ret = idp_client_check(txn, j->idp->clients, &j->creds, grant_types[j->grant].allow_public, &j->client, &j->out.fail)) !=
            0)
        return ret;
    if (checks_rotation(j))
        j->rotated = is_rotated_refresh(txn, j->values[0]);
    return 0;
}

/* auth_txn from memory, on the loop: 1 when the client's authentication was decided from the client cache at the
 * store's current generation and no rotated refresh token is to be looked for; else 0, the job as it was, and the read
 * runs (a cache miss, an unknown client, credentials refused before, a refusal presenting a refresh token). */
static int auth_try(void *arg)
{
    token_job_t *j = arg;

    if (j->out.fail.error != HUB_OAUTH_OK ||
        idp_client_check_cached(j->idp->store, j->idp->clients, &j->creds, grant_types[j->grant].allow_public, &j->client,
                                &j->out.fail) != 0)
        return 0;
    if (!checks_rotation(j))
        return 1;
    idp_client_release(j->client);
    j->client = NULL;
    j->out.fail = (hub_oauth_fail_t){HUB_OAUTH_OK, NULL};
    return 0;
}

static void on_authenticated(void *arg, int ret)
{
    token_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req != NULL && ret == 0 && j->client != NULL)
        idp_cors_allow(req, j->client); /* its errors too (invalid_grant, ...) are for the app to read */
    if (ret == 0 && j->rotated) {
        if (j->out.fail.error == HUB_OAUTH_OK)
            hub_oauth_fail(&j->out.fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for refresh_token");
        refuse_rotated(j, req);
    } else if (req == NULL || ret != 0 || j->out.fail.error != HUB_OAUTH_OK) {
        token_answer(j, req, ret);
    } else {
        grant_types[j->grant].fn(j, req);
    }
}

/* The form and the grant type, on the loop: the grant's index, or the failure. */
static hub_oauth_err_t read_request(h2o_req_t *req, hub_form_t *form, size_t *grant, hub_oauth_fail_t *fail)
{
    const char *grant_type;

    if (idp_endpoint_form(req, form, fail) != HUB_OAUTH_OK)
        return fail->error;
    if ((grant_type = hub_form_get(form, "grant_type")) == NULL || *grant_type == '\0')
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "grant_type is required");
    for (*grant = 0; *grant != sizeof(grant_types) / sizeof(grant_types[0]); ++*grant)
        if (strcmp(grant_types[*grant].name, grant_type) == 0)
            return HUB_OAUTH_OK;
    return hub_oauth_fail(fail, HUB_OAUTH_UNSUPPORTED_GRANT_TYPE, "unsupported grant_type");
}

/* The form, then the client's authentication from the client cache, or in a read (on the store's readers when it has
 * any) when the cache cannot vouch for the client, then the grant. */
static int on_token(void *data, h2o_req_t *req)
{
    hub_form_t form = {0};
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};
    token_job_t *j;
    size_t grant = 0;
    int ret;

    if (read_request(req, &form, &grant, &fail) != HUB_OAUTH_OK) {
        hub_send_oauth_fail(req, &fail);
        return 0;
    }
    j = hub_xcalloc(1, sizeof(*j));
    j->idp = data;
    j->write_port = hub_req_thread(req)->write_port;
    j->grant = grant;
    for (size_t i = 0; i != sizeof(j->values) / sizeof(j->values[0]) && grant_types[grant].names[i] != NULL; ++i) {
        const char *v = hub_form_get(&form, grant_types[grant].names[i]);
        j->values[i] = v != NULL ? hub_strdup(v) : NULL;
    }
    /* malformed credentials need no read, unless the form presents a refresh token that may have been rotated */
    if (idp_client_creds_read(req, &form, &j->creds, &j->out.fail) != HUB_OAUTH_OK &&
        !(grant_types[grant].revokes_reuse && j->values[0] != NULL && *j->values[0] != '\0')) {
        token_answer(j, req, 0);
        return 0;
    }
    if ((ret = hub_park_read_try(&j->park, req, auth_try, auth_txn, j, on_authenticated)) != 0)
        token_answer(j, req, ret);
    return 0;
}

void idp_token_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_TOKEN, on_token);
}
