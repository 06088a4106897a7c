/* The authorization request (idp/authz.h): its parameters, client and redirect URI, the checks of RFC 6749 §4.1.1/§4.2.1,
 * RFC 7636 and OIDC Core §3.1.2.1, and the answers that go back to the client or to the sign-in page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/resp.h"
#include "idp/authz.h"
#include "idp/claims.h"
#include "idp/endpoint.h"
#include "idp/grants.h"
#include "idp/settings.h"
#include "hub/park.h"
#include "hub/util.h"

/* The request parameters we read, with their size limits. */
static const struct {
    const char *name;
    size_t max;
} params[IDP_AUTHZ__COUNT] = {
    [IDP_AUTHZ_CLIENT_ID] = {"client_id", 256},
    [IDP_AUTHZ_RESPONSE_TYPE] = {"response_type", 64},
    [IDP_AUTHZ_REDIRECT_URI] = {"redirect_uri", 2048},
    [IDP_AUTHZ_SCOPE] = {"scope", 1024},
    [IDP_AUTHZ_STATE] = {"state", 2048},
    [IDP_AUTHZ_NONCE] = {"nonce", 512},
    [IDP_AUTHZ_CHALLENGE] = {"code_challenge", 128},
    [IDP_AUTHZ_CHALLENGE_METHOD] = {"code_challenge_method", 16},
    [IDP_AUTHZ_PROMPT] = {"prompt", 64},
    [IDP_AUTHZ_MAX_AGE] = {"max_age", 12},
    [IDP_AUTHZ_AUTH_AFTER] = {"hub_auth_after", 20},
};

/* ---- small helpers ---- */

static char *pool_dup(h2o_req_t *req, const char *s, size_t len)
{
    return h2o_strdup(&req->pool, s, len).base;
}

/* Copies what a memstream wrote into the pool and frees it. */
static char *stream_done(h2o_req_t *req, FILE *f, char **buf, size_t *len)
{
    char *out;
    if (fclose(f) != 0 || *buf == NULL)
        hub_oom();
    out = pool_dup(req, *buf, *len);
    free(*buf);
    *buf = NULL;
    return out;
}

static void put_enc(FILE *f, h2o_req_t *req, const char *s)
{
    h2o_iovec_t e = hub_url_encode(&req->pool, s, strlen(s));
    fwrite(e.base, 1, e.len, f);
}

static int parse_uint(const char *s, size_t maxdigits, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t i;
    if (s[0] == '\0' || strlen(s) > maxdigits)
        return -1;
    for (i = 0; s[i] != '\0'; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* RFC 6749 §3.3 scope-token characters. */
static int scope_char_ok(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* ---- parameters, client and request validation ---- */

static void load_params(idp_authz_t *a, const hub_form_t *form)
{
    size_t i;
    a->form = *form;
    for (i = 0; i != IDP_AUTHZ__COUNT; ++i) {
        const char *v = hub_form_get(form, params[i].name);
        if (hub_form_count(form, params[i].name) > 1) {
            if (i == IDP_AUTHZ_CLIENT_ID || i == IDP_AUTHZ_REDIRECT_URI)
                a->repeated_client = 1;
            else
                a->repeated = 1;
        }
        a->v[i] = v != NULL && v[0] != '\0' ? v : NULL;
    }
}

/* What is wrong with the client or the redirect URI, the client as the read found it, or NULL when both are good (then
 * a->redirect is set). */
static const char *client_problem(idp_authz_t *a)
{
    if (a->repeated_client)
        return "The client_id or redirect_uri parameter was sent more than once.";
    if (a->v[IDP_AUTHZ_CLIENT_ID] == NULL)
        return "The request has no client_id.";
    if (a->client_id == NULL)
        return "The application is not known.";
    if (a->client == NULL || !a->client->enabled)
        return "The application is not known or has been disabled.";
    if (a->v[IDP_AUTHZ_REDIRECT_URI] != NULL) {
        if (strlen(a->v[IDP_AUTHZ_REDIRECT_URI]) > params[IDP_AUTHZ_REDIRECT_URI].max ||
            idp_client_match_redirect(a->client, a->v[IDP_AUTHZ_REDIRECT_URI]) == NULL)
            return "The redirect_uri is not registered for this application.";
        a->redirect = a->v[IDP_AUTHZ_REDIRECT_URI];
    } else if (a->client->default_redirect_uri != NULL) {
        a->redirect = pool_dup(a->req, a->client->default_redirect_uri, SIZE_MAX);
    } else {
        return "The application has no redirect URI.";
    }
    return NULL;
}

static hub_oauth_err_t parse_response_type(idp_authz_t *a, hub_oauth_fail_t *fail)
{
    const char *s = a->v[IDP_AUTHZ_RESPONSE_TYPE];
    unsigned rt = 0;

    if (s == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "response_type is required");
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        unsigned bit = 0;
        if (n == 4 && memcmp(s, "code", 4) == 0)
            bit = IDP_AUTHZ_RT_CODE;
        else if (n == 5 && memcmp(s, "token", 5) == 0)
            bit = IDP_AUTHZ_RT_TOKEN;
        else if (n == 8 && memcmp(s, "id_token", 8) == 0)
            bit = IDP_AUTHZ_RT_ID_TOKEN;
        else if (n != 0)
            goto unsupported;
        if ((rt & bit) != 0)
            goto unsupported;
        rt |= bit;
        s += n;
        s += *s == ' ';
    }
    /* Hybrid flows (code with tokens) are not offered. */
    if (rt == 0 || ((rt & IDP_AUTHZ_RT_CODE) != 0 && rt != IDP_AUTHZ_RT_CODE))
        goto unsupported;
    a->rt = rt;
    a->fragment = (rt & (IDP_AUTHZ_RT_TOKEN | IDP_AUTHZ_RT_ID_TOKEN)) != 0;
    if (a->client->grant_type == IDP_GRANT_AUTHORIZATION_CODE
            ? rt != IDP_AUTHZ_RT_CODE
            : a->client->grant_type != IDP_GRANT_IMPLICIT || rt == IDP_AUTHZ_RT_CODE)
        return hub_oauth_fail(fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "the client is not registered for this response_type");
    return HUB_OAUTH_OK;
unsupported:
    return hub_oauth_fail(fail, HUB_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
                          "response_type must be code, token, id_token or \"id_token token\"");
}

/* The effective scope: the requested words (each registered for the client, duplicates dropped), or the client's
 * scopes when none was asked for. */
static hub_oauth_err_t parse_scope(idp_authz_t *a, hub_oauth_fail_t *fail)
{
    const char *s = a->v[IDP_AUTHZ_SCOPE];
    char *out, *p;
    size_t i;

    if (s == NULL) {
        char *joined = idp_strv_join(&a->client->scopes, " ");
        if (joined == NULL)
            hub_oom();
        a->scope = pool_dup(a->req, joined, SIZE_MAX);
        free(joined);
        return HUB_OAUTH_OK;
    }
    p = out = h2o_mem_alloc_pool(&a->req->pool, strlen(s) + 1);
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        if (n != 0) {
            char word[256];
            if (n >= sizeof(word))
                goto bad;
            for (i = 0; i != n; ++i)
                if (!scope_char_ok((unsigned char)s[i]))
                    goto bad;
            memcpy(word, s, n);
            word[n] = '\0';
            if (!idp_strv_has(&a->client->scopes, word))
                goto bad;
            *p = '\0';
            if (!idp_scope_has(out, word)) {
                if (p != out)
                    *p++ = ' ';
                memcpy(p, word, n);
                p += n;
            }
        }
        s += n;
        s += *s == ' ';
    }
    *p = '\0';
    if (p == out)
        goto bad;
    a->scope = out;
    return HUB_OAUTH_OK;
bad:
    return hub_oauth_fail(fail, HUB_OAUTH_INVALID_SCOPE,
                          "the requested scope is invalid, unknown, or exceeds the scopes registered for the client");
}

static hub_oauth_err_t parse_pkce(idp_authz_t *a, hub_oauth_fail_t *fail)
{
    const char *ch = a->v[IDP_AUTHZ_CHALLENGE], *m = a->v[IDP_AUTHZ_CHALLENGE_METHOD];
    size_t i;

    if ((a->rt & IDP_AUTHZ_RT_CODE) == 0)
        return HUB_OAUTH_OK; /* PKCE belongs to the code flow; ignored elsewhere */
    if (m != NULL && strcmp(m, "S256") != 0)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "code_challenge_method must be S256");
    if (ch == NULL) {
        if (m != NULL)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "code_challenge_method without code_challenge");
        if (a->client->auth_method == IDP_AUTH_NONE)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST,
                                  "PKCE (code_challenge with S256) is required for public clients");
        return HUB_OAUTH_OK;
    }
    if (m == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "code_challenge_method S256 is required (plain is not supported)");
    /* An S256 challenge is base64url(SHA-256): exactly 43 characters. */
    if (strlen(ch) != 43)
        goto bad;
    for (i = 0; i != 43; ++i) {
        char c = ch[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            goto bad;
    }
    return HUB_OAUTH_OK;
bad:
    return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "code_challenge is not a base64url S256 value");
}

static hub_oauth_err_t parse_prompt(idp_authz_t *a, hub_oauth_fail_t *fail)
{
    const char *s = a->v[IDP_AUTHZ_PROMPT];
    unsigned long long v;

    a->max_age = -1;
    while (s != NULL && *s != '\0') {
        size_t n = strcspn(s, " ");
        if (n == 4 && memcmp(s, "none", 4) == 0)
            a->prompt |= IDP_AUTHZ_PROMPT_NONE;
        else if (n == 5 && memcmp(s, "login", 5) == 0)
            a->prompt |= IDP_AUTHZ_PROMPT_LOGIN;
        else if (n == 7 && memcmp(s, "consent", 7) == 0)
            a->prompt |= IDP_AUTHZ_PROMPT_CONSENT;
        else if (!(n == 0 || (n == 14 && memcmp(s, "select_account", 14) == 0)))
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "prompt must be none, login, consent or select_account");
        s += n;
        s += *s == ' ';
    }
    if ((a->prompt & IDP_AUTHZ_PROMPT_NONE) != 0 && a->prompt != IDP_AUTHZ_PROMPT_NONE)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "prompt=none cannot be combined with other values");
    if (a->v[IDP_AUTHZ_MAX_AGE] != NULL) {
        if (parse_uint(a->v[IDP_AUTHZ_MAX_AGE], 10, &v) != 0)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "max_age must be a number of seconds");
        a->max_age = (long long)v;
    }
    if (a->v[IDP_AUTHZ_AUTH_AFTER] != NULL) {
        if (parse_uint(a->v[IDP_AUTHZ_AUTH_AFTER], 19, &v) != 0)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "malformed request");
        a->auth_after = v;
    }
    return HUB_OAUTH_OK;
}

/* Checks everything after client and redirect URI: HUB_OAUTH_OK when the request is good, else the failure (in *fail)
 * to send back to the redirect URI. */
static hub_oauth_err_t validate(idp_authz_t *a, hub_oauth_fail_t *fail)
{
    hub_oauth_err_t err;
    size_t i;

    for (i = 0; i != IDP_AUTHZ__COUNT; ++i) {
        if (a->v[i] != NULL && strlen(a->v[i]) > params[i].max) {
            if (i == IDP_AUTHZ_STATE)
                a->v[IDP_AUTHZ_STATE] = NULL; /* cannot be echoed */
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "a parameter is too long");
        }
    }
    if ((err = parse_response_type(a, fail)) != HUB_OAUTH_OK)
        return err;
    if (a->repeated)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "a parameter was sent more than once");
    if ((err = parse_scope(a, fail)) != HUB_OAUTH_OK)
        return err;
    if ((a->rt & IDP_AUTHZ_RT_ID_TOKEN) != 0) {
        if (!idp_scope_has(a->scope, "openid"))
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_SCOPE, "response_type id_token requires the openid scope");
        if (a->v[IDP_AUTHZ_NONCE] == NULL)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "nonce is required for response types with id_token");
    }
    if ((err = parse_pkce(a, fail)) != HUB_OAUTH_OK)
        return err;
    return parse_prompt(a, fail);
}

/* ---- answers ---- */

void idp_authz_send(idp_authz_t *a, const idp_authz_kv_t *kv, size_t n)
{
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);
    char sep;

    if (f == NULL)
        hub_oom();
    fputs(a->redirect, f);
    sep = a->fragment ? '#' : strchr(a->redirect, '?') != NULL ? '&' : '?';
    for (i = 0; i != n; ++i) {
        if (kv[i].v == NULL)
            continue;
        fputc(sep, f);
        fprintf(f, "%s=", kv[i].k);
        put_enc(f, a->req, kv[i].v);
        sep = '&';
    }
    if (a->v[IDP_AUTHZ_STATE] != NULL) {
        fprintf(f, "%cstate=", sep);
        put_enc(f, a->req, a->v[IDP_AUTHZ_STATE]);
        sep = '&';
    }
    fprintf(f, "%ciss=", sep);
    put_enc(f, a->req, a->idp->issuer);
    hub_send_redirect(a->req, 302, stream_done(a->req, f, &buf, &len));
}

/* Sends a failure back to the client's redirect URI (error, error_description, state). */
static void send_fail(idp_authz_t *a, const hub_oauth_fail_t *fail)
{
    idp_authz_kv_t kv[] = {{"error", hub_oauth_error(fail->error)}, {"error_description", fail->description}};
    idp_authz_send(a, kv, 2);
}

void idp_authz_send_error(idp_authz_t *a, hub_oauth_err_t err, const char *description)
{
    hub_oauth_fail_t fail = {err, description};
    send_fail(a, &fail);
}

void idp_authz_send_to_login(idp_authz_t *a, int fresh)
{
    char *buf = NULL, *resume;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);
    char sep = '?';

    if (f == NULL)
        hub_oom();
    fputs(IDP_PATH_AUTHORIZE, f);
    for (i = 0; i != IDP_AUTHZ__COUNT; ++i) {
        if (a->v[i] == NULL || i == IDP_AUTHZ_AUTH_AFTER)
            continue;
        fprintf(f, "%c%s=", sep, params[i].name);
        put_enc(f, a->req, a->v[i]);
        sep = '&';
    }
    if (fresh)
        fprintf(f, "%c%s=%llu", sep, params[IDP_AUTHZ_AUTH_AFTER].name, (unsigned long long)hub_now());
    resume = stream_done(a->req, f, &buf, &len);
    if ((f = open_memstream(&buf, &len)) == NULL)
        hub_oom();
    fputs("/login?next=", f);
    put_enc(f, a->req, resume);
    if (fresh)
        fputs("&prompt=login", f);
    hub_send_redirect(a->req, 302, stream_done(a->req, f, &buf, &len));
}

/* ---- what both endpoints share: the read, the checks ---- */

int idp_authz_read_for(hub_txn_t *txn, idp_authz_t *a, const idp_user_t *user)
{
    int ret;

    if (a->client_id != NULL && (ret = idp_client_get(txn, a->client_id, &a->client)) != 0) {
        if (ret != HUB_E_NOTFOUND && ret != HUB_E_PARSE)
            return ret;
        a->client = NULL;
    }
    if (user != NULL && a->client != NULL) {
        a->skip = idp_settings_skip_authorization(txn, a->idp->cfg);
        if (a->skip == HUB_SKIP_AUTH_AUTO && (ret = idp_consent_scope(txn, user->sub, a->client->client_id, &a->granted)) != 0)
            return ret;
    }
    return 0;
}

/* In the read (any thread): the client, the browser's session and user, and what decides the consent page. */
static int authz_txn(hub_txn_t *txn, void *arg)
{
    idp_authz_t *a = arg;
    int ret;

    if ((ret = idp_session_lookup(txn, a->session_hash, &a->session, &a->user)) != 0)
        return ret;
    return idp_authz_read_for(txn, a, a->user);
}

typedef struct st_authz_start_t {
    idp_authz_t a; /* first: the job is the authorization */
    idp_authz_next_fn next;
} authz_start_t;

static void on_read(void *arg, int ret)
{
    authz_start_t *st = arg;
    idp_authz_t *a = &st->a;

    if ((a->req = hub_park_resume(&a->park, ret)) == NULL) {
        idp_authz_free(a);
        return;
    }
    if (ret != 0) {
        if (!hub_park_unavailable(a->req, ret, HUB_STYLE_HTML))
            hub_send_html_error(a->req, 500, "Authorization failed", "The request could not be completed. Please try again.");
        idp_authz_free(a);
        return;
    }
    st->next(a);
}

/* A new authorization of form's parameters, in the job that reads it (next: what runs once it was read, or NULL). */
static authz_start_t *start_new(idp_t *idp, const hub_form_t *form, idp_authz_next_fn next)
{
    authz_start_t *st = hub_xcalloc(1, sizeof(*st));
    idp_authz_t *a = &st->a;

    st->next = next;
    a->idp = idp;
    load_params(a, form);
    if (!a->repeated_client && a->v[IDP_AUTHZ_CLIENT_ID] != NULL &&
        strlen(a->v[IDP_AUTHZ_CLIENT_ID]) <= params[IDP_AUTHZ_CLIENT_ID].max)
        a->client_id = hub_strdup(a->v[IDP_AUTHZ_CLIENT_ID]);
    return st;
}

idp_authz_t *idp_authz_new(idp_t *idp, const hub_form_t *form)
{
    return &start_new(idp, form, NULL)->a;
}

void idp_authz_start(idp_t *idp, h2o_req_t *req, const hub_form_t *form, idp_authz_next_fn next)
{
    idp_authz_t *a = &start_new(idp, form, next)->a;
    int ret;

    idp_session_cookie_hash(idp, req, a->session_hash);
    if ((ret = hub_park_read(&a->park, req, authz_txn, a, on_read)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_HTML);
        idp_authz_free(a);
    }
}

int idp_authz_check(idp_authz_t *a)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};
    const char *problem;

    if ((problem = client_problem(a)) != NULL) {
        hub_send_html_error(a->req, 400, "Invalid authorization request", problem);
        return -1;
    }
    if (validate(a, &fail) != HUB_OAUTH_OK) {
        send_fail(a, &fail);
        return -1;
    }
    return 0;
}

int idp_authz_valid(idp_authz_t *a)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    return client_problem(a) == NULL && validate(a, &fail) == HUB_OAUTH_OK;
}

static idp_authz_route_t login_required(hub_oauth_fail_t *fail)
{
    hub_oauth_fail(fail, HUB_OAUTH_LOGIN_REQUIRED, "the user must sign in");
    return IDP_AUTHZ_TO_ERROR;
}

idp_authz_route_t idp_authz_route(const idp_authz_t *a, hub_oauth_fail_t *fail)
{
    const idp_session_t *s = a->session;
    int none = (a->prompt & IDP_AUTHZ_PROMPT_NONE) != 0;
    uint64_t now = hub_now();

    if (s != NULL && ((a->prompt & IDP_AUTHZ_PROMPT_LOGIN) != 0 ||
                      (a->max_age >= 0 && now > s->auth_time && now - s->auth_time > (uint64_t)a->max_age))) {
        if (a->auth_after == 0)
            return none ? login_required(fail) : IDP_AUTHZ_TO_FRESH_LOGIN;
        if (s->auth_time < a->auth_after) /* came back without signing in again: do not loop */
            return login_required(fail);
    }
    if (s == NULL || a->user == NULL) {
        if (none)
            return login_required(fail);
        return (a->prompt & IDP_AUTHZ_PROMPT_LOGIN) != 0 || a->max_age >= 0 ? IDP_AUTHZ_TO_FRESH_LOGIN : IDP_AUTHZ_TO_LOGIN;
    }
    if (!idp_client_allows_user(a->client, a->user)) {
        hub_oauth_fail(fail, HUB_OAUTH_ACCESS_DENIED, "your account may not use this application");
        return IDP_AUTHZ_TO_ERROR;
    }
    if (!idp_authz_needs_consent(a))
        return IDP_AUTHZ_TO_ISSUE;
    if (none) {
        hub_oauth_fail(fail, HUB_OAUTH_CONSENT_REQUIRED, "the user has not approved this application");
        return IDP_AUTHZ_TO_ERROR;
    }
    return IDP_AUTHZ_TO_CONSENT;
}

int idp_authz_needs_consent(const idp_authz_t *a)
{
    int skip = a->client->skip_authorization || (a->skip == HUB_SKIP_AUTH_AUTO && idp_scope_covers(a->granted, a->scope));

    return !skip || (a->prompt & IDP_AUTHZ_PROMPT_CONSENT) != 0;
}

void idp_authz_free(idp_authz_t *a)
{
    if (a == NULL)
        return;
    idp_client_free(a->client);
    idp_session_free(a->session);
    idp_user_free(a->user);
    free(a->granted);
    free(a->client_id);
    free(a); /* a is the first member of its authz_start_t */
}
