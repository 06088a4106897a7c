/* The authorization endpoint (RFC 6749 §4.1/§4.2, RFC 7636, OIDC Core §3): request checks, the hand-off to sign-in, the
 * consent page and its CSRF-protected decision, and the code and implicit (fragment) responses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/store.h"
#include "idp/csrf.h"
#include "idp/grants.h"
#include "idp/authorize.h"
#include "idp/client.h"
#include "idp/settings.h"
#include "idp/user.h"
#include "idp/session.h"
#include "idp/claims.h"
#include "idp/mint.h"

#define FRAPPE "/api/method/frappe.integrations.oauth2."
#define AUTHORIZE_PATH "/oauth2/authorize"
#define APPROVE_PATH "/oauth2/approve"

#define RT_CODE 1u
#define RT_TOKEN 2u
#define RT_ID_TOKEN 4u
#define PROMPT_NONE 1u
#define PROMPT_LOGIN 2u
#define PROMPT_CONSENT 4u

/* The request parameters we read, with their size limits. The last one is ours: a resumed request (after the sign-in
 * page) carries the time the fresh sign-in was asked for, so prompt=login and max_age cannot loop. Forging it gains
 * nothing the user agent could not get by dropping prompt=login; RPs check auth_time. */
enum {
    P_CLIENT_ID,
    P_RESPONSE_TYPE,
    P_REDIRECT_URI,
    P_SCOPE,
    P_STATE,
    P_NONCE,
    P_CHALLENGE,
    P_CHALLENGE_METHOD,
    P_PROMPT,
    P_MAX_AGE,
    P_AUTH_AFTER,
    P__COUNT
};

static const struct {
    const char *name;
    size_t max;
} params[P__COUNT] = {
    [P_CLIENT_ID] = {"client_id", 256},
    [P_RESPONSE_TYPE] = {"response_type", 64},
    [P_REDIRECT_URI] = {"redirect_uri", 2048},
    [P_SCOPE] = {"scope", 1024},
    [P_STATE] = {"state", 2048},
    [P_NONCE] = {"nonce", 512},
    [P_CHALLENGE] = {"code_challenge", 128},
    [P_CHALLENGE_METHOD] = {"code_challenge_method", 16},
    [P_PROMPT] = {"prompt", 64},
    [P_MAX_AGE] = {"max_age", 12},
    [P_AUTH_AFTER] = {"hub_auth_after", 20},
};

/* What each scope discloses, for the consent page. */
static const struct {
    const char *scope, *what;
} scope_texts[] = {
    {"openid", "Your identity (a stable identifier for your account)"},
    {"profile", "Your name and picture"},
    {"email", "Your e-mail address"},
    {"roles", "Your roles"},
};

static int known_scope(const char *word)
{
    for (size_t i = 0; i != sizeof(scope_texts) / sizeof(scope_texts[0]); ++i)
        if (strcmp(scope_texts[i].scope, word) == 0)
            return 1;
    return 0;
}

typedef struct st_authz_t {
    idp_t *idp;
    h2o_req_t *req;
    const char *v[P__COUNT]; /* parameter values, NULL when absent or empty (RFC 6749 §3.1) */
    int repeated;            /* some parameter other than client_id/redirect_uri was sent twice */
    int repeated_client;     /* client_id or redirect_uri sent twice: no redirect can be trusted */
    idp_client_t *client;    /* owned */
    const char *redirect;    /* where answers go: redirect_uri as sent, or the client's default (pool) */
    int fragment;            /* answer in the fragment (response types with token/id_token) */
    unsigned rt, prompt;
    long long max_age; /* -1 = absent */
    uint64_t auth_after;
    const char *scope; /* effective, space-separated (pool) */
} authz_t;

typedef struct st_kv_t {
    const char *k, *v;
} kv_t;

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
        h2o_fatal("out of memory");
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

static void put_html(FILE *f, h2o_req_t *req, const char *s)
{
    h2o_iovec_t e = hub_html_escape(&req->pool, s, strlen(s));
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

static void load_params(authz_t *a, const hub_form_t *form)
{
    size_t i;
    for (i = 0; i != P__COUNT; ++i) {
        const char *v = hub_form_get(form, params[i].name);
        if (hub_form_count(form, params[i].name) > 1) {
            if (i == P_CLIENT_ID || i == P_REDIRECT_URI)
                a->repeated_client = 1;
            else
                a->repeated = 1;
        }
        a->v[i] = v != NULL && v[0] != '\0' ? v : NULL;
    }
}

/* Finds the client and the redirect URI. Until both are known good, errors are an HTML page (never a redirect):
 * returns 0 when they are, -1 when the page was sent. */
static int load_client(authz_t *a)
{
    hub_txn_t *txn = NULL;
    const char *msg = NULL;
    int ret;

    if (a->repeated_client) {
        msg = "The client_id or redirect_uri parameter was sent more than once.";
        goto out;
    }
    if (a->v[P_CLIENT_ID] == NULL) {
        msg = "The request has no client_id.";
        goto out;
    }
    if (strlen(a->v[P_CLIENT_ID]) > params[P_CLIENT_ID].max || hub_store_read_begin(a->idp->store, &txn) != 0) {
        msg = "The application is not known.";
        goto out;
    }
    ret = idp_client_get(txn, a->v[P_CLIENT_ID], &a->client);
    hub_store_read_end(txn);
    if (ret != 0 || !a->client->enabled) {
        msg = "The application is not known or has been disabled.";
        goto out;
    }
    if (a->v[P_REDIRECT_URI] != NULL) {
        if (strlen(a->v[P_REDIRECT_URI]) > params[P_REDIRECT_URI].max ||
            idp_client_match_redirect(a->client, a->v[P_REDIRECT_URI]) == NULL) {
            msg = "The redirect_uri is not registered for this application.";
            goto out;
        }
        a->redirect = a->v[P_REDIRECT_URI];
    } else if (a->client->default_redirect_uri != NULL) {
        a->redirect = pool_dup(a->req, a->client->default_redirect_uri, SIZE_MAX);
    } else {
        msg = "The application has no redirect URI.";
        goto out;
    }
out:
    if (msg == NULL)
        return 0;
    hub_send_html_error(a->req, 400, "Invalid authorization request", msg);
    return -1;
}

static hub_oauth_err_t parse_response_type(authz_t *a, hub_oauth_fail_t *fail)
{
    const char *s = a->v[P_RESPONSE_TYPE];
    unsigned rt = 0;

    if (s == NULL)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "response_type is required");
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        unsigned bit = 0;
        if (n == 4 && memcmp(s, "code", 4) == 0)
            bit = RT_CODE;
        else if (n == 5 && memcmp(s, "token", 5) == 0)
            bit = RT_TOKEN;
        else if (n == 8 && memcmp(s, "id_token", 8) == 0)
            bit = RT_ID_TOKEN;
        else if (n != 0)
            goto unsupported;
        if ((rt & bit) != 0)
            goto unsupported;
        rt |= bit;
        s += n;
        s += *s == ' ';
    }
    /* Hybrid flows (code with tokens) are not offered. */
    if (rt == 0 || ((rt & RT_CODE) != 0 && rt != RT_CODE))
        goto unsupported;
    a->rt = rt;
    a->fragment = (rt & (RT_TOKEN | RT_ID_TOKEN)) != 0;
    if (a->client->grant_type == IDP_GRANT_AUTHORIZATION_CODE ? rt != RT_CODE
                                                              : a->client->grant_type != IDP_GRANT_IMPLICIT || rt == RT_CODE)
        return hub_oauth_fail(fail, HUB_OAUTH_UNAUTHORIZED_CLIENT, "the client is not registered for this response_type");
    return HUB_OAUTH_OK;
unsupported:
    return hub_oauth_fail(fail, HUB_OAUTH_UNSUPPORTED_RESPONSE_TYPE,
                          "response_type must be code, token, id_token or \"id_token token\"");
}

/* The effective scope: the requested words (each registered for the client, duplicates dropped), or the client's
 * scopes when none was asked for. */
static hub_oauth_err_t parse_scope(authz_t *a, hub_oauth_fail_t *fail)
{
    const char *s = a->v[P_SCOPE];
    char *out, *p;
    size_t i;

    if (s == NULL) {
        char *joined = idp_strv_join(&a->client->scopes, " ");
        if (joined == NULL)
            h2o_fatal("out of memory");
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

static hub_oauth_err_t parse_pkce(authz_t *a, hub_oauth_fail_t *fail)
{
    const char *ch = a->v[P_CHALLENGE], *m = a->v[P_CHALLENGE_METHOD];
    size_t i;

    if ((a->rt & RT_CODE) == 0)
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

static hub_oauth_err_t parse_prompt(authz_t *a, hub_oauth_fail_t *fail)
{
    const char *s = a->v[P_PROMPT];
    unsigned long long v;

    a->max_age = -1;
    while (s != NULL && *s != '\0') {
        size_t n = strcspn(s, " ");
        if (n == 4 && memcmp(s, "none", 4) == 0)
            a->prompt |= PROMPT_NONE;
        else if (n == 5 && memcmp(s, "login", 5) == 0)
            a->prompt |= PROMPT_LOGIN;
        else if (n == 7 && memcmp(s, "consent", 7) == 0)
            a->prompt |= PROMPT_CONSENT;
        else if (!(n == 0 || (n == 14 && memcmp(s, "select_account", 14) == 0)))
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "prompt must be none, login, consent or select_account");
        s += n;
        s += *s == ' ';
    }
    if ((a->prompt & PROMPT_NONE) != 0 && a->prompt != PROMPT_NONE)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "prompt=none cannot be combined with other values");
    if (a->v[P_MAX_AGE] != NULL) {
        if (parse_uint(a->v[P_MAX_AGE], 10, &v) != 0)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "max_age must be a number of seconds");
        a->max_age = (long long)v;
    }
    if (a->v[P_AUTH_AFTER] != NULL) {
        if (parse_uint(a->v[P_AUTH_AFTER], 19, &v) != 0)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "malformed request");
        a->auth_after = v;
    }
    return HUB_OAUTH_OK;
}

/* Checks everything after client and redirect URI: HUB_OAUTH_OK when the request is good, else the failure (in *fail)
 * to send back to the redirect URI. */
static hub_oauth_err_t validate(authz_t *a, hub_oauth_fail_t *fail)
{
    hub_oauth_err_t err;
    size_t i;

    for (i = 0; i != P__COUNT; ++i) {
        if (a->v[i] != NULL && strlen(a->v[i]) > params[i].max) {
            if (i == P_STATE)
                a->v[P_STATE] = NULL; /* cannot be echoed */
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "a parameter is too long");
        }
    }
    if ((err = parse_response_type(a, fail)) != HUB_OAUTH_OK)
        return err;
    if (a->repeated)
        return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "a parameter was sent more than once");
    if ((err = parse_scope(a, fail)) != HUB_OAUTH_OK)
        return err;
    if ((a->rt & RT_ID_TOKEN) != 0) {
        if (!idp_scope_has(a->scope, "openid"))
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_SCOPE, "response_type id_token requires the openid scope");
        if (a->v[P_NONCE] == NULL)
            return hub_oauth_fail(fail, HUB_OAUTH_INVALID_REQUEST, "nonce is required for response types with id_token");
    }
    if ((err = parse_pkce(a, fail)) != HUB_OAUTH_OK)
        return err;
    return parse_prompt(a, fail);
}

/* ---- answers ---- */

/* Redirects to the client's redirect URI with kv (and state and iss, RFC 9207) in the query or the fragment. */
static void send_to_client(authz_t *a, const kv_t *kv, size_t n)
{
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);
    char sep;

    if (f == NULL)
        h2o_fatal("out of memory");
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
    if (a->v[P_STATE] != NULL) {
        fprintf(f, "%cstate=", sep);
        put_enc(f, a->req, a->v[P_STATE]);
        sep = '&';
    }
    fprintf(f, "%ciss=", sep);
    put_enc(f, a->req, a->idp->issuer);
    hub_send_redirect(a->req, 302, stream_done(a->req, f, &buf, &len));
}

/* Sends a failure back to the client's redirect URI (error, error_description, state). */
static void send_fail(authz_t *a, const hub_oauth_fail_t *fail)
{
    kv_t kv[] = {{"error", hub_oauth_error(fail->error)}, {"error_description", fail->description}};
    send_to_client(a, kv, 2);
}

static void send_error(authz_t *a, hub_oauth_err_t err, const char *description)
{
    hub_oauth_fail_t fail = {err, description};
    send_fail(a, &fail);
}

/* Sends the browser to the sign-in page, which resumes this request afterwards (a GET of the authorize URL rebuilt
 * from the parameters). fresh: a new sign-in is required (prompt=login, max_age): the resumed request carries the
 * time it was asked for. */
static void send_to_login(authz_t *a, int fresh)
{
    char *buf = NULL, *resume;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);
    char sep = '?';

    if (f == NULL)
        h2o_fatal("out of memory");
    fputs(AUTHORIZE_PATH, f);
    for (i = 0; i != P__COUNT; ++i) {
        if (a->v[i] == NULL || i == P_AUTH_AFTER)
            continue;
        fprintf(f, "%c%s=", sep, params[i].name);
        put_enc(f, a->req, a->v[i]);
        sep = '&';
    }
    if (fresh)
        fprintf(f, "%c%s=%llu", sep, params[P_AUTH_AFTER].name, (unsigned long long)hub_now());
    resume = stream_done(a->req, f, &buf, &len);
    if ((f = open_memstream(&buf, &len)) == NULL)
        h2o_fatal("out of memory");
    fputs("/login?next=", f);
    put_enc(f, a->req, resume);
    if (fresh)
        fputs("&prompt=login", f);
    hub_send_redirect(a->req, 302, stream_done(a->req, f, &buf, &len));
}

static void hidden(FILE *f, h2o_req_t *req, const char *name, const char *value)
{
    if (value == NULL)
        return;
    fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    put_html(f, req, value);
    fputs("\">\n", f);
}

/* The consent page: names the app, lists what each scope discloses, and posts Allow or Deny to the approve endpoint
 * with a CSRF token bound to the session and the request parameters (all checked again there). */
static void send_consent(authz_t *a, const idp_session_t *session, const idp_user_t *user)
{
    char *buf = NULL, *page;
    size_t len = 0, i;
    const char *s = a->scope, *csrf = idp_csrf_token(a->idp, a->req, session, IDP_CSRF_APPROVE);
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        h2o_fatal("out of memory");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorize ", f);
    put_html(f, a->req, a->client->app_name);
    fputs("</title><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
          "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\n<h1 id=\"app\">",
          f);
    put_html(f, a->req, a->client->app_name);
    fputs("</h1>\n<p>wants to access your account", f);
    if (user->username != NULL) {
        fputs(" <strong id=\"user\">", f);
        put_html(f, a->req, user->username);
        fputs("</strong>", f);
    }
    fputs(". It will be able to see:</p>\n<ul id=\"scopes\">\n", f);
    /* what the scope discloses to this client (for a Frappe site, openid alone shows name, e-mail, picture and roles) */
    for (i = 0; i != sizeof(scope_texts) / sizeof(scope_texts[0]); ++i)
        if (idp_scope_discloses(a->client, a->scope, scope_texts[i].scope))
            fprintf(f, "<li>%s</li>\n", scope_texts[i].what);
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        char *word = pool_dup(a->req, s, n);
        if (!known_scope(word)) {
            fputs("<li>Access named ", f);
            put_html(f, a->req, word);
            fputs("</li>\n", f);
        }
        s += n;
        s += *s == ' ';
    }
    fputs("</ul>\n<form method=\"post\" action=\"" APPROVE_PATH "\">\n", f);
    hidden(f, a->req, "csrf_token", csrf);
    hidden(f, a->req, "client_id", a->v[P_CLIENT_ID]);
    hidden(f, a->req, "response_type", a->v[P_RESPONSE_TYPE]);
    hidden(f, a->req, "redirect_uri", a->v[P_REDIRECT_URI]);
    hidden(f, a->req, "scope", a->scope);
    hidden(f, a->req, "state", a->v[P_STATE]);
    hidden(f, a->req, "nonce", a->v[P_NONCE]);
    hidden(f, a->req, "code_challenge", a->v[P_CHALLENGE]);
    hidden(f, a->req, "code_challenge_method", a->v[P_CHALLENGE_METHOD]);
    fputs("<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
          "<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>\n</body></html>\n",
          f);
    page = stream_done(a->req, f, &buf, &len);
    hub_send_html(a->req, 200, page, len);
}

/* ---- issuing ---- */

typedef struct st_issue_t {
    authz_t *a;
    const idp_session_t *s;
    int put_consent;
    const char *jti; /* implicit access token to record, or NULL */
    uint64_t exp;
    char code[44];
} issue_t;

static int issue_txn(hub_txn_t *txn, void *arg)
{
    issue_t *is = arg;
    authz_t *a = is->a;
    const hub_config_t *cfg = a->idp->cfg;
    uint64_t now = hub_now();
    char family[33];
    int ret;

    if (is->put_consent &&
        (ret = idp_consent_put(txn, is->s->sub, a->client->client_id, a->scope, now + cfg->primary.refresh_token_ttl)) != 0)
        return ret;
    if ((a->rt & RT_CODE) != 0 || is->jti != NULL) {
        if ((ret = idp_family_create(txn, a->client->client_id, is->s->sub, is->s->sid, now + cfg->primary.refresh_token_ttl,
                                     family)) != 0)
            return ret;
    }
    if ((a->rt & RT_CODE) != 0) {
        idp_code_t code = {.client_id = a->client->client_id,
                           .redirect_uri = (char *)a->v[P_REDIRECT_URI],
                           .sub = is->s->sub,
                           .sid = is->s->sid,
                           .scope = (char *)a->scope,
                           .nonce = (char *)a->v[P_NONCE],
                           .code_challenge = (char *)a->v[P_CHALLENGE],
                           .family = family,
                           .auth_time = is->s->auth_time};
        if ((ret = idp_code_create(txn, &code, cfg->primary.code_ttl, is->code)) != 0)
            return ret;
    }
    if (is->jti != NULL && (ret = idp_jti_record(txn, is->jti, family, a->client->client_id, is->exp)) != 0)
        return ret;
    return idp_session_add_client(txn, is->s->sid, a->client->client_id);
}

/* Answers the authorization: a code (query) or tokens (fragment); never a refresh token for implicit. */
static void issue(authz_t *a, const idp_session_t *s, const idp_user_t *user, int put_consent)
{
    issue_t is = {.a = a, .s = s, .put_consent = put_consent};
    char *at = NULL, *idt = NULL, jti[23], expires_in[24];
    int ret;

    if ((a->rt & RT_TOKEN) != 0) {
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
    if ((a->rt & RT_ID_TOKEN) != 0 &&
        (ret = idp_mint_id_token(a->idp, user, a->client, a->scope, a->v[P_NONCE], s->sid, s->auth_time, at, &idt)) != 0)
        goto fail;
    if ((ret = hub_store_write(a->idp->store, issue_txn, &is)) != 0)
        goto fail;
    if ((a->rt & RT_CODE) != 0) {
        kv_t kv[] = {{"code", is.code}};
        send_to_client(a, kv, 1);
    } else {
        uint64_t now = hub_now();
        snprintf(expires_in, sizeof(expires_in), "%llu", (unsigned long long)(is.exp > now ? is.exp - now : 0));
        kv_t kv[] = {{"access_token", at},
                     {"token_type", at != NULL ? "Bearer" : NULL},
                     {"expires_in", at != NULL ? expires_in : NULL},
                     {"scope", a->scope},
                     {"id_token", idt}};
        send_to_client(a, kv, sizeof(kv) / sizeof(kv[0]));
    }
    free(at);
    free(idt);
    return;
fail:
    hub_log_error("authorize: cannot issue for client %s: %s", a->client->client_id, hub_strerror(ret));
    free(at);
    free(idt);
    send_error(a, HUB_OAUTH_SERVER_ERROR, "the authorization could not be completed");
}

/* ---- the two endpoints ---- */

static int user_allowed(const idp_client_t *c, const idp_user_t *u)
{
    return idp_client_allows_user(c, u);
}

/* The signed-in user's record and, when consent matters, whether it is needed (*needs_consent). Returns 0, or -1
 * when the user is gone (the caller sends the browser to sign in). */
static int load_user(authz_t *a, const idp_session_t *s, idp_user_t **user, int *needs_consent)
{
    hub_txn_t *txn = NULL;
    int ret;

    if (hub_store_read_begin(a->idp->store, &txn) != 0)
        return -1;
    ret = idp_user_get(txn, s->sub, user);
    if (ret == 0 && needs_consent != NULL) {
        int skip = a->client->skip_authorization || (idp_settings_skip_authorization(txn, a->idp->cfg) == HUB_SKIP_AUTH_AUTO &&
                                                     idp_consent_covers(txn, s->sub, a->client->client_id, a->scope));
        *needs_consent = !skip || (a->prompt & PROMPT_CONSENT) != 0;
    }
    hub_store_read_end(txn);
    if (ret == 0 && !(*user)->enabled) {
        idp_user_free(*user);
        *user = NULL;
        ret = HUB_E_DENIED;
    }
    return ret == 0 ? 0 : -1;
}

/* Starts the common part of both endpoints: parameters, client, redirect URI, the rest of the request. Returns 0
 * when the request may proceed, -1 when an answer was sent. */
static int begin(authz_t *a, idp_t *idp, h2o_req_t *req, const hub_form_t *form)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    a->idp = idp;
    a->req = req;
    load_params(a, form);
    if (load_client(a) != 0)
        return -1;
    if (validate(a, &fail) != HUB_OAUTH_OK) {
        send_fail(a, &fail);
        return -1;
    }
    return 0;
}

static void authorize(authz_t *a)
{
    idp_session_t *s = idp_session_current(a->idp, a->req);
    idp_user_t *user = NULL;
    uint64_t now = hub_now();
    int needs_consent = 0;

    if (s != NULL &&
        ((a->prompt & PROMPT_LOGIN) != 0 || (a->max_age >= 0 && now > s->auth_time && now - s->auth_time > (uint64_t)a->max_age))) {
        if (a->auth_after == 0) {
            if ((a->prompt & PROMPT_NONE) != 0)
                goto login_required;
            send_to_login(a, 1);
            goto out;
        }
        if (s->auth_time < a->auth_after) /* came back without signing in again: do not loop */
            goto login_required;
    }
    if (s == NULL || load_user(a, s, &user, &needs_consent) != 0) {
        if ((a->prompt & PROMPT_NONE) != 0)
            goto login_required;
        send_to_login(a, (a->prompt & PROMPT_LOGIN) != 0 || a->max_age >= 0);
        goto out;
    }
    if (!user_allowed(a->client, user)) {
        send_error(a, HUB_OAUTH_ACCESS_DENIED, "your account may not use this application");
    } else if (!needs_consent) {
        issue(a, s, user, 0);
    } else if ((a->prompt & PROMPT_NONE) != 0) {
        send_error(a, HUB_OAUTH_CONSENT_REQUIRED, "the user has not approved this application");
    } else {
        send_consent(a, s, user);
    }
    goto out;
login_required:
    send_error(a, HUB_OAUTH_LOGIN_REQUIRED, "the user must sign in");
out:
    if (user != NULL)
        idp_user_free(user);
    if (s != NULL)
        idp_session_free(s);
}

static int on_authorize(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_form_t form = {NULL, 0};
    authz_t a = {NULL};
    int ret;

    if (!hub_path_is(req, AUTHORIZE_PATH) && !hub_path_is(req, FRAPPE "authorize"))
        return -1;
    if (hub_method_is(req, "GET"))
        ret = hub_form_parse_query(&req->pool, req, &form);
    else if (hub_method_is(req, "POST"))
        ret = hub_form_parse_body(&req->pool, req, &form);
    else {
        hub_resp_header(req, "allow", "GET, POST");
        hub_send_html_error(req, 405, "Method not allowed", "Use GET or POST.");
        return 0;
    }
    if (ret != 0) {
        hub_send_html_error(req, 400, "Invalid authorization request", "The request parameters could not be read.");
        return 0;
    }
    if (begin(&a, idp, req, &form) == 0)
        authorize(&a);
    if (a.client != NULL)
        idp_client_free(a.client);
    return 0;
}

/* The decision of the user of session s (whose CSRF token the form carried). */
static void approve(authz_t *a, const hub_form_t *form, idp_session_t *s)
{
    const char *decision = hub_form_get(form, "decision");
    idp_user_t *user = NULL;

    if (decision == NULL || hub_form_count(form, "decision") != 1 ||
        (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0)) {
        send_error(a, HUB_OAUTH_INVALID_REQUEST, "decision must be allow or deny");
        return;
    }
    if (strcmp(decision, "deny") == 0) {
        send_error(a, HUB_OAUTH_ACCESS_DENIED, "the user denied the request");
        return;
    }
    if (load_user(a, s, &user, NULL) != 0) {
        send_to_login(a, 0);
        return;
    }
    if (!user_allowed(a->client, user))
        send_error(a, HUB_OAUTH_ACCESS_DENIED, "your account may not use this application");
    else
        issue(a, s, user, 1);
    idp_user_free(user);
}

static int on_approve(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_form_t form = {NULL, 0};
    authz_t a = {NULL};
    idp_session_t *s = NULL;

    if (!hub_path_is(req, APPROVE_PATH) && !hub_path_is(req, FRAPPE "approve"))
        return -1;
    if (!hub_method_is(req, "POST")) {
        hub_resp_header(req, "allow", "POST");
        hub_send_html_error(req, 405, "Method not allowed", "The consent decision is a POST.");
        return 0;
    }
    if (hub_form_parse_body(&req->pool, req, &form) != 0) {
        hub_send_html_error(req, 400, "Invalid request", "The form could not be read.");
        return 0;
    }
    /* The token is bound to the session that saw the consent page. Without a live session nothing can be approved:
     * the browser is sent to sign in, and the resumed authorization asks again. */
    s = idp_session_current(idp, req);
    if (s != NULL && !idp_csrf_ok(idp, req, s, IDP_CSRF_APPROVE, &form)) {
        hub_send_html_error(req, 400, "Invalid request", "The form has expired or did not come from this site. Please try again.");
        goto out;
    }
    if (begin(&a, idp, req, &form) != 0)
        goto out;
    if (s == NULL)
        send_to_login(&a, 0);
    else
        approve(&a, &form, s);
out:
    if (a.client != NULL)
        idp_client_free(a.client);
    idp_session_free(s);
    return 0;
}

void idp_authorize_register(idp_t *idp)
{
    hub_server_route(idp->server, AUTHORIZE_PATH, on_authorize, idp);
    hub_server_route(idp->server, FRAPPE "authorize", on_authorize, idp);
    hub_server_route(idp->server, APPROVE_PATH, on_approve, idp);
    hub_server_route(idp->server, FRAPPE "approve", on_approve, idp);
}
