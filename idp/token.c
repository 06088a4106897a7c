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

#define REFRESH_GRACE_S 5    /* one retry of a refresh within this window gets tokens (SPEC §4, idp_refresh_rotate) */
#define BUSY_RETRY_AFTER "1" /* seconds, when the store's writer has too many writes waiting */

/* One token request on its way through a grant handler. */
typedef struct st_grant_ctx_t {
    idp_t *idp;
    h2o_req_t *req;
    const hub_form_t *form;
    const idp_client_t *client; /* released after the grant; NULL when a parked grant took it */
    int parked;                 /* the grant's write runs on the store's writer, which answers (see park) */
} grant_ctx_t;

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
    char jti[23];
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

static void send_fail(h2o_req_t *req, const hub_oauth_fail_t *fail)
{
    if (fail->error == HUB_OAUTH_TEMPORARILY_UNAVAILABLE)
        hub_resp_header(req, "retry-after", BUSY_RETRY_AFTER);
    hub_send_oauth_fail(req, fail);
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

/* Records the access token to come (its jti under the family) and notes the client in the session; leaves in out what
 * the tokens are made of (the caller hands over the user when the transaction is to commit: take_user). */
static int issue_user_tokens(hub_txn_t *txn, const user_issue_t *u, issue_t *out)
{
    uint64_t ttl = u->idp->cfg->primary.access_token_ttl;
    int ret;

    idp_mint_at_id(out->jti, &out->iat);
    out->expires_in = ttl;
    out->scope = hub_strdup(u->scope);
    if ((ret = idp_jti_record(txn, out->jti, u->family, u->client->client_id, out->iat + ttl)) != 0)
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

/* ---- parked grants: the write on the store's writer (group commit) ---- */

typedef struct st_code_arg_t {
    grant_ctx_t *ctx;
    const char *code, *redirect_uri, *verifier;
    issue_t *out;
} code_arg_t;

typedef struct st_refresh_arg_t {
    grant_ctx_t *ctx;
    const char *token, *scope;
    issue_t *out;
    int reuse; /* the token was rotated already: a refusal committed with it revoked the family */
} refresh_arg_t;

/* A grant whose write runs on the store's writer thread; its completion answers on the loop that parked it. It owns
 * everything the write reads (the form's values, the client), since the request may go away meanwhile: req is then
 * NULL, the write still commits and the answer is dropped. */
typedef struct st_parked_t parked_t;
struct st_parked_t {
    hub_park_t park; /* the request, while its client is there */
    grant_ctx_t ctx; /* req and form NULL; client a reference of its own */
    issue_t out;
    char *values[3]; /* the form's values the write reads (malloc'ed, may be NULL) */
    union {
        code_arg_t code;
        refresh_arg_t refresh;
    } a;
};

/* A parked grant for ctx, with copies of the form's values called names (at most 3, in order). */
static parked_t *parked_new(const grant_ctx_t *ctx, const char *const *names, size_t n)
{
    parked_t *p = hub_xcalloc(1, sizeof(*p));

    p->ctx = *ctx;
    p->ctx.req = NULL;
    p->ctx.form = NULL;
    p->out.fail.error = HUB_OAUTH_OK;
    for (size_t i = 0; i != n; ++i) {
        const char *v = hub_form_get(ctx->form, names[i]);
        p->values[i] = v != NULL ? hub_strdup(v) : NULL;
    }
    return p;
}

static void parked_free(parked_t *p)
{
    issue_reset(&p->out);
    for (size_t i = 0; i != sizeof(p->values) / sizeof(p->values[0]); ++i)
        free(p->values[i]);
    idp_client_release(p->ctx.client);
    free(p);
}

/* On the parking loop after the write is durable (or failed): the answer, when the client is still there. */
static void parked_answer(parked_t *p, int ret)
{
    h2o_req_t *req = hub_park_resume(&p->park, ret);

    if (req != NULL) {
        if (ret == 0 && p->out.fail.error == HUB_OAUTH_OK && p->out.user != NULL)
            ret = sign_user_tokens(p->ctx.idp, p->ctx.client, &p->out);
        if (issued(ret, &p->out) == HUB_OAUTH_OK)
            send_issue(req, &p->out);
        else
            send_fail(req, &p->out.fail);
    }
    parked_free(p);
}

/* Queues fn(txn, p) on the store's writer and hands p the client of ctx: done answers. Without a writer (the C tests'
 * bare servers) the write runs now and done answers before this returns. A full queue answers 503
 * (temporarily_unavailable, Retry-After). */
static hub_oauth_err_t park(grant_ctx_t *ctx, parked_t *p, int (*fn)(hub_txn_t *txn, void *arg), hub_park_done_fn done,
                            issue_t *out)
{
    ctx->client = NULL; /* p's now */
    if (hub_park_write(&p->park, ctx->req, fn, p, done) != 0) {
        parked_free(p);
        return hub_oauth_fail(&out->fail, HUB_OAUTH_TEMPORARILY_UNAVAILABLE, "too many requests are being written");
    }
    ctx->parked = 1;
    return HUB_OAUTH_OK;
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

static int code_txn(hub_txn_t *txn, void *_arg)
{
    code_arg_t *a = _arg;
    const idp_client_t *client = a->ctx->client;
    idp_t *idp = a->ctx->idp;
    idp_code_t *code = NULL;
    idp_user_t *user = NULL;
    idp_family_t *family = NULL;
    int ret;

    issue_reset(a->out);
    ret = idp_code_redeem(txn, a->code, strlen(a->code), &code);
    if (ret == HUB_E_NOTFOUND)
        return refuse(a->out, HUB_OAUTH_INVALID_GRANT, "unknown or expired code");
    if (ret == HUB_E_DENIED) {
        refuse(a->out, HUB_OAUTH_INVALID_GRANT, "code already used");
        return 0; /* commit: the replay revoked the code's family */
    }
    if (ret != 0)
        return ret;
    /* any failure below aborts the txn, so a code presented wrongly is not burnt */
    if (code->client_id == NULL || strcmp(code->client_id, client->client_id) != 0) {
        ret = refuse(a->out, HUB_OAUTH_INVALID_GRANT, "code was issued to another client");
        goto out;
    }
    if (code->redirect_uri != NULL && (a->redirect_uri == NULL || strcmp(a->redirect_uri, code->redirect_uri) != 0)) {
        ret = refuse(a->out, HUB_OAUTH_INVALID_GRANT, "redirect_uri differs from the authorization request");
        goto out;
    }
    if (code->code_challenge != NULL) {
        if (a->verifier == NULL || !pkce_ok(code->code_challenge, a->verifier)) {
            ret = refuse(a->out, HUB_OAUTH_INVALID_GRANT, "code_verifier does not match the code_challenge");
            goto out;
        }
    } else if (a->verifier != NULL || client->auth_method == IDP_AUTH_NONE) {
        ret = refuse(a->out, HUB_OAUTH_INVALID_GRANT, "code was issued without a PKCE challenge");
        goto out;
    }
    if (code->family == NULL || idp_family_get(txn, code->family, &family) != 0 || family->revoked) {
        ret = refuse(a->out, HUB_OAUTH_INVALID_GRANT, "the grant was revoked");
        goto out;
    }
    /* from here a refusal is final: the code stays used and its family is revoked */
    if ((ret = load_user(txn, code->sub, client, code->family, &user, a->out)) != 0 || a->out->fail.error != HUB_OAUTH_OK)
        goto out;
    user_issue_t u = {idp,       client,       user,        code->scope != NULL ? code->scope : "",
                      code->sid, code->family, code->nonce, code->auth_time};
    if ((ret = issue_user_tokens(txn, &u, a->out)) != 0)
        goto out;
    idp_refresh_t rec = {code->family,
                         client->client_id,
                         code->sub,
                         code->sid,
                         (char *)u.scope,
                         code->auth_time,
                         hub_now() + idp->cfg->primary.refresh_token_ttl};
    if ((ret = idp_refresh_create(txn, &rec, a->out->refresh)) == 0)
        take_user(a->out, &user);
out:
    idp_family_free(family);
    idp_user_free(user);
    idp_code_free(code);
    return ret;
}

static int code_parked_txn(hub_txn_t *txn, void *arg)
{
    return code_txn(txn, &((parked_t *)arg)->a.code);
}

static void code_written(void *arg, int ret)
{
    parked_answer(arg, ret);
}

static hub_oauth_err_t grant_authorization_code(grant_ctx_t *ctx, issue_t *out)
{
    static const char *const names[] = {"code", "redirect_uri", "code_verifier"};
    const char *code = hub_form_get(ctx->form, "code");
    parked_t *p;

    if (ctx->client->grant_type != IDP_GRANT_AUTHORIZATION_CODE)
        return hub_oauth_fail(&out->fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for authorization_code");
    if (code == NULL || *code == '\0')
        return hub_oauth_fail(&out->fail, HUB_OAUTH_INVALID_REQUEST, "code is required");
    p = parked_new(ctx, names, 3);
    p->a.code = (code_arg_t){&p->ctx, p->values[0], p->values[1], p->values[2], &p->out};
    return park(ctx, p, code_parked_txn, code_written, out);
}

/* ---- refresh_token ---- */

static int refresh_txn(hub_txn_t *txn, void *_arg)
{
    refresh_arg_t *a = _arg;
    const idp_client_t *client = a->ctx->client;
    idp_t *idp = a->ctx->idp;
    idp_refresh_t *rec = NULL;
    idp_user_t *user = NULL;
    char *scope = NULL;
    int ret, reuse;

    issue_reset(a->out);
    a->reuse = 0;
    if ((ret = idp_refresh_get(txn, a->token, strlen(a->token), &rec)) != 0)
        return ret == HUB_E_NOTFOUND ? refuse(a->out, HUB_OAUTH_INVALID_GRANT, "unknown or expired refresh token") : ret;
    /* a rotated token presented again: whatever refuses it below also revokes its family (SPEC §4) */
    reuse = a->reuse = rec->successor_hash != NULL;
    if (rec->client_id == NULL || strcmp(rec->client_id, client->client_id) != 0) {
        ret = reuse ? refuse_revoking(txn, rec->family, a->out, "refresh token was issued to another client")
                    : refuse(a->out, HUB_OAUTH_INVALID_GRANT, "refresh token was issued to another client");
        goto out;
    }
    if ((ret = load_user(txn, rec->sub, client, rec->family, &user, a->out)) != 0 || a->out->fail.error != HUB_OAUTH_OK)
        goto out;
    if (a->scope != NULL && (scope = scope_narrow(a->scope, allowed_in_string, rec->scope != NULL ? rec->scope : "")) == NULL) {
        ret = reuse ? refuse_revoking(txn, rec->family, a->out, "refresh token is no longer valid")
                    : refuse(a->out, HUB_OAUTH_INVALID_SCOPE, "scope exceeds the scope originally granted");
        goto out;
    }
    /* RFC 6749 §6: the new refresh token keeps the original scope; only the tokens issued now
     * are narrowed */
    ret =
        idp_refresh_rotate(txn, a->token, strlen(a->token), idp->cfg->primary.refresh_token_ttl, REFRESH_GRACE_S, a->out->refresh);
    if (ret == HUB_E_DENIED) {
        refuse(a->out, HUB_OAUTH_INVALID_GRANT, "refresh token is no longer valid");
        ret = 0; /* commit the revocation */
        goto out;
    }
    if (ret == HUB_E_NOTFOUND) {
        ret = refuse(a->out, HUB_OAUTH_INVALID_GRANT, "unknown or expired refresh token");
        goto out;
    }
    if (ret != 0)
        goto out;
    user_issue_t u = {idp,      client,      user, scope != NULL ? scope : (rec->scope != NULL ? rec->scope : ""),
                      rec->sid, rec->family, NULL, rec->auth_time};
    if ((ret = issue_user_tokens(txn, &u, a->out)) == 0)
        take_user(a->out, &user);
out:
    free(scope);
    idp_user_free(user);
    idp_refresh_free(rec);
    return ret;
}

static int refused_reuse_txn(hub_txn_t *txn, void *arg)
{
    const char *token = arg;
    int ret = idp_refresh_refused_reuse(txn, token, strlen(token));
    return ret > 0 ? 0 : ret;
}

/* 1 when token is a refresh token that was rotated already (one read, so that refused requests carrying anything else,
 * anonymous ones included, never take the store's writer lock). */
static int is_rotated_refresh(idp_t *idp, const char *token)
{
    hub_txn_t *txn = NULL;
    idp_refresh_t *r = NULL;
    int rotated = 0;

    if (hub_store_read_begin(idp->store, &txn) != 0)
        return 0;
    if (idp_refresh_get(txn, token, strlen(token), &r) == 0)
        rotated = r->successor_hash != NULL;
    idp_refresh_free(r);
    hub_store_read_end(txn);
    return rotated;
}

/* A token request refused before its grant ran (client authentication, grant type): when it presented an already
 * rotated refresh token, that reuse revokes the family as any refused reuse does (SPEC §4). */
static void refused_refresh(idp_t *idp, const hub_form_t *form)
{
    const char *token = hub_form_get(form, "refresh_token");
    int ret;

    if (token == NULL || *token == '\0' || !is_rotated_refresh(idp, token))
        return;
    if ((ret = hub_store_write(idp->store, refused_reuse_txn, (void *)token)) != 0)
        hub_log_error("refresh token reuse: cannot revoke the family: %s", hub_strerror(ret));
    else
        hub_log_warn("refresh token reuse in a refused request: token family revoked");
}

static int refresh_parked_txn(hub_txn_t *txn, void *arg)
{
    return refresh_txn(txn, &((parked_t *)arg)->a.refresh);
}

static void refresh_written(void *arg, int ret)
{
    parked_t *p = arg;

    if (ret == 0 && p->out.fail.error != HUB_OAUTH_OK && p->a.refresh.reuse)
        hub_log_warn("refresh token reuse by client %s: token family revoked", p->ctx.client->client_id);
    parked_answer(p, ret);
}

static hub_oauth_err_t grant_refresh_token(grant_ctx_t *ctx, issue_t *out)
{
    static const char *const names[] = {"refresh_token", "scope"};
    const char *token = hub_form_get(ctx->form, "refresh_token");
    parked_t *p;

    if (ctx->client->grant_type != IDP_GRANT_AUTHORIZATION_CODE) {
        refused_refresh(ctx->idp, ctx->form);
        return hub_oauth_fail(&out->fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for refresh_token");
    }
    if (token == NULL || *token == '\0')
        return hub_oauth_fail(&out->fail, HUB_OAUTH_INVALID_REQUEST, "refresh_token is required");
    p = parked_new(ctx, names, 2);
    p->a.refresh = (refresh_arg_t){&p->ctx, p->values[0], p->values[1], &p->out, 0};
    if (p->a.refresh.scope != NULL && *p->a.refresh.scope == '\0')
        p->a.refresh.scope = NULL;
    return park(ctx, p, refresh_parked_txn, refresh_written, out);
}

/* ---- client_credentials ---- */

/* The hot path: the client was read in the authentication txn; minting touches no file and no store. */
static hub_oauth_err_t grant_client_credentials(grant_ctx_t *ctx, issue_t *out)
{
    const idp_client_t *client = ctx->client;
    const char *requested = hub_form_get(ctx->form, "scope");
    char jti[23];
    uint64_t exp;

    if (client->grant_type != IDP_GRANT_CLIENT_CREDENTIALS || client->auth_method == IDP_AUTH_NONE)
        return hub_oauth_fail(&out->fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "client is not registered for client_credentials");
    if (requested != NULL && *requested != '\0') {
        if ((out->scope = scope_narrow(requested, allowed_in_strv, &client->scopes)) == NULL)
            return hub_oauth_fail(&out->fail, HUB_OAUTH_INVALID_SCOPE, "scope exceeds the client's scopes");
    } else if ((out->scope = idp_strv_join(&client->scopes, " ")) == NULL) {
        hub_oom();
    }
    idp_at_params_t p = {client->client_id, client->client_id, out->scope, NULL, 0, &client->service_roles};
    int ret = idp_mint_access_token(ctx->idp, &p, &out->access_token, jti, &exp);
    out->expires_in = ctx->idp->cfg->primary.access_token_ttl;
    return issued(ret, out);
}

/* ---- dispatch ---- */

/* A grant type's handler: fills out with the tokens (HUB_OAUTH_OK) or the failure it returns. */
static const struct {
    const char *name;
    hub_oauth_err_t (*fn)(grant_ctx_t *ctx, issue_t *out);
    int allow_public; /* a client with auth method none may use it (its grant is bound by PKCE) */
} grant_types[] = {
    {"authorization_code", grant_authorization_code, 1},
    {"refresh_token", grant_refresh_token, 1},
    {"client_credentials", grant_client_credentials, 0},
};

/* The form, the grant type, the client, then the grant: HUB_OAUTH_OK with the tokens in out, or the failure. */
static hub_oauth_err_t token_request(idp_t *idp, h2o_req_t *req, hub_form_t *form, issue_t *out, int *parked)
{
    const idp_client_t *client = NULL;
    const char *grant_type;
    hub_oauth_err_t err;
    size_t i;

    if (idp_endpoint_form(req, form, &out->fail) != HUB_OAUTH_OK)
        return out->fail.error;
    if ((grant_type = hub_form_get(form, "grant_type")) == NULL || *grant_type == '\0')
        return hub_oauth_fail(&out->fail, HUB_OAUTH_INVALID_REQUEST, "grant_type is required");
    for (i = 0; i != sizeof(grant_types) / sizeof(grant_types[0]); ++i)
        if (strcmp(grant_types[i].name, grant_type) == 0)
            break;
    if (i == sizeof(grant_types) / sizeof(grant_types[0]))
        return hub_oauth_fail(&out->fail, HUB_OAUTH_UNSUPPORTED_GRANT_TYPE, "unsupported grant_type");
    if (idp_endpoint_client(idp, req, form, grant_types[i].allow_public, &client, &out->fail) != HUB_OAUTH_OK) {
        if (grant_types[i].fn == grant_refresh_token)
            refused_refresh(idp, form);
        return out->fail.error;
    }
    idp_cors_allow(req, client); /* its errors too (invalid_grant, ...) are for the app to read */
    grant_ctx_t ctx = {idp, req, form, client, 0};
    err = grant_types[i].fn(&ctx, out);
    idp_client_release(ctx.client);
    *parked = ctx.parked;
    return err;
}

static int on_token(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_form_t form = {0};
    issue_t out = {{HUB_OAUTH_OK, NULL}};
    int parked = 0;

    if (token_request(idp, req, &form, &out, &parked) != HUB_OAUTH_OK)
        send_fail(req, &out.fail);
    else if (!parked)
        send_issue(req, &out);
    issue_reset(&out);
    return 0;
}

void idp_token_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_TOKEN, on_token);
}
