/* The steps of bench-flowload's flows: the request each step sends (browser steps with the connection's cookies and
 * Sec-Fetch-Site, client steps with Basic authentication) and the check of its answer, which names the next step. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "tools/bench/flowload.h"

/* ---- failures ---- */

char fl_fail_kind[FAIL_KIND_CAP];

/* Names the failure a handler returns NEXT_FAIL for. */
static int fail(fl_conn_t *c, const char *reason)
{
    snprintf(fl_fail_kind, sizeof(fl_fail_kind), "%s:%.24s", fl_steps[c->step].name, reason);
    return NEXT_FAIL;
}

static int fail_status(fl_conn_t *c, int status)
{
    char reason[32];
    snprintf(reason, sizeof(reason), "status_%d", status);
    return fail(c, reason);
}

/* ---- requests ---- */

/* Writes one request into c->out: method, target, the cookies (browser steps), Sec-Fetch-Site (browser steps: the
 * primary refuses forms a browser says came from another origin), Basic authentication (client steps) and a form
 * body. -1 when it does not fit. */
static int request(fl_conn_t *c, const char *method, const char *target, const char *fetch_site, int client_auth, const char *body)
{
    char cookies[FH_MAX_COOKIES * (FH_COOKIE_NAME_CAP + FH_COOKIE_VALUE_CAP + 2) + 16];
    size_t blen = body != NULL ? strlen(body) : 0;
    int n;

    cookies[0] = '\0';
    if (fetch_site != NULL)
        fh_jar_header(&c->jar, cookies, sizeof(cookies));
    n = snprintf(c->out, sizeof(c->out), "%s %s HTTP/1.1\r\nHost: %s:%u\r\n%s%s%s%s%s%s", method, target, fl.o.host, fl.o.port,
                 cookies, fetch_site != NULL ? "Sec-Fetch-Site: " : "", fetch_site != NULL ? fetch_site : "",
                 fetch_site != NULL ? "\r\n" : "", client_auth ? "Authorization: Basic " : "", client_auth ? fl.basic : "");
    if (n < 0 || (size_t)n >= sizeof(c->out))
        return -1;
    if (client_auth)
        n += snprintf(c->out + n, sizeof(c->out) - (size_t)n, "\r\n");
    if (body != NULL)
        n += snprintf(c->out + n, sizeof(c->out) - (size_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s", blen, body);
    else
        n += snprintf(c->out + n, sizeof(c->out) - (size_t)n, "\r\n");
    if ((size_t)n >= sizeof(c->out))
        return -1;
    c->out_len = (size_t)n;
    c->out_off = 0;
    return 0;
}

static int build_authorize(fl_conn_t *c)
{
    char target[FIELD_CAP * 2];
    int n = snprintf(target, sizeof(target),
                     "/oauth2/authorize?client_id=%s&response_type=code&redirect_uri=%s&scope=%s&state=%s&nonce=%s"
                     "&code_challenge=%s&code_challenge_method=S256",
                     fl.o.client_id, fl.redirect_enc, fl.scope_enc, c->state, c->nonce, c->challenge);
    if (n < 0 || (size_t)n >= sizeof(target))
        return -1;
    /* the app sent the browser here: a navigation from another site */
    return request(c, "GET", target, "cross-site", 0, NULL);
}

/* GET of the Location the last answer gave (the sign-in page, or authorize again once signed in). */
static int build_follow(fl_conn_t *c)
{
    return request(c, "GET", c->location, "same-origin", 0, NULL);
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: enough to spread sign-ins over the users */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void pick_user(fl_conn_t *c, char *out, size_t cap)
{
    if (fl.o.user_prefix == NULL) {
        snprintf(out, cap, "%s", fl.o.user);
        return;
    }
    snprintf(out, cap, "%s%0*u", fl.o.user_prefix, (int)fl.o.user_digits, (unsigned)(rng_next(&c->rng) % fl.o.user_count));
}

static int build_login_post(fl_conn_t *c)
{
    char body[OUT_CAP / 2], user[128], user_enc[384], next_enc[FIELD_CAP * 3], pw_enc[SECRET_CAP * 3];
    int n;

    pick_user(c, user, sizeof(user));
    if (fh_url_encode(user_enc, sizeof(user_enc), user) != 0 || fh_url_encode(next_enc, sizeof(next_enc), c->next) != 0 ||
        fh_url_encode(pw_enc, sizeof(pw_enc), fl.o.password) != 0)
        return -1;
    n = snprintf(body, sizeof(body), "csrf_token=%s&next=%s&username=%s&password=%s", c->csrf, next_enc, user_enc, pw_enc);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/login", "same-origin", 0, body);
}

static int build_token_code(fl_conn_t *c)
{
    char body[2048];
    int n = snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", c->code,
                     fl.redirect_enc, c->verifier);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/oauth2/token", NULL, 1, body);
}

static int build_refresh(fl_conn_t *c)
{
    char body[TOKEN_CAP + 64];
    int n = snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", c->refresh);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/oauth2/token", NULL, 1, body);
}

static int build_introspect(fl_conn_t *c)
{
    char body[TOKEN_CAP + 64];
    int n = snprintf(body, sizeof(body), "token=%s", c->access);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/oauth2/introspect", NULL, 1, body);
}

static int build_cc(fl_conn_t *c)
{
    return request(c, "POST", "/oauth2/token", NULL, 1, "grant_type=client_credentials");
}

/* ---- handlers ---- */

/* Whether r sends the browser back to the app (the redirect URI with a query). */
static int to_app(const fh_resp_t *r)
{
    size_t rlen = strlen(fl.o.redirect_uri);

    return r->location_len > rlen && memcmp(r->location, fl.o.redirect_uri, rlen) == 0 && r->location[rlen] == '?';
}

/* The app's answer at its redirect URI: a code for the state sent. */
static int handle_code(fl_conn_t *c, const fh_resp_t *r)
{
    char state[sizeof(c->state)];

    if (fh_query_param(r->location, r->location_len, "code", c->code, sizeof(c->code)) != 0)
        return fh_query_param(r->location, r->location_len, "error", c->code, sizeof(c->code)) == 0 ? fail(c, c->code)
                                                                                                    : fail(c, "no_code");
    if (fh_query_param(r->location, r->location_len, "state", state, sizeof(state)) != 0 || strcmp(state, c->state) != 0)
        return fail(c, "state_mismatch");
    return ST_TOKEN_CODE;
}

/* Authorize (first or resumed): the browser is sent either to the sign-in page or back to the app with a code. */
static int handle_authorize(fl_conn_t *c, const fh_resp_t *r)
{
    if (r->status != 302)
        return fail_status(c, r->status);
    if (r->location == NULL)
        return fail(c, "no_location");
    if (to_app(r))
        return handle_code(c, r);
    if (c->step == ST_RESUME)
        return fail(c, "sign_in_asked_again");
    if (r->location_len < 7 || memcmp(r->location, "/login?", 7) != 0)
        return fail(c, "unexpected_location");
    if (fh_copy_n(c->location, sizeof(c->location), r->location, r->location_len) != 0)
        return fail(c, "location_too_long");
    return ST_LOGIN_PAGE;
}

static int handle_login_page(fl_conn_t *c, const fh_resp_t *r)
{
    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_form_field(r->body, r->body_len, "csrf_token", c->csrf, sizeof(c->csrf)) != 0)
        return fail(c, "no_csrf_token");
    if (fh_form_field(r->body, r->body_len, "next", c->next, sizeof(c->next)) != 0 || c->next[0] != '/')
        return fail(c, "no_next");
    return ST_LOGIN_POST;
}

/* Signed in: back to the app with the code of the authorization it resumes (issued in the sign-in's write), or to that
 * authorization (next) when the node leaves it to the browser's next request. */
static int handle_login_post(fl_conn_t *c, const fh_resp_t *r)
{
    if (r->status != 302)
        return fail_status(c, r->status);
    if (r->location != NULL && to_app(r)) {
        c->did_login = 1;
        return handle_code(c, r);
    }
    if (r->location == NULL || r->location_len != strlen(c->next) || memcmp(r->location, c->next, r->location_len) != 0)
        return fail(c, "not_sent_to_next");
    memcpy(c->location, c->next, r->location_len + 1);
    c->did_login = 1;
    return ST_RESUME;
}

static int handle_token_code(fl_conn_t *c, const fh_resp_t *r)
{
    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_json_string(r->body, r->body_len, "access_token", c->access, sizeof(c->access)) != 0)
        return fail(c, "no_access_token");
    if (fh_json_string(r->body, r->body_len, "refresh_token", c->refresh, sizeof(c->refresh)) != 0)
        return fail(c, "no_refresh_token");
    return NEXT_DONE;
}

/* A rotation: the new refresh token replaces the one just used, which is never sent again. */
static int handle_refresh(fl_conn_t *c, const fh_resp_t *r)
{
    char next[TOKEN_CAP];

    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_json_string(r->body, r->body_len, "access_token", c->access, sizeof(c->access)) != 0)
        return fail(c, "no_access_token");
    if (fh_json_string(r->body, r->body_len, "refresh_token", next, sizeof(next)) != 0)
        return fail(c, "no_refresh_token");
    if (strcmp(next, c->refresh) == 0)
        return fail(c, "not_rotated");
    memcpy(c->refresh, next, strlen(next) + 1);
    return NEXT_DONE;
}

static int handle_introspect(fl_conn_t *c, const fh_resp_t *r)
{
    const char *v;

    if (r->status != 200)
        return fail_status(c, r->status);
    v = fh_json_value(r->body, r->body_len, "active");
    if (v == NULL || (size_t)(r->body + r->body_len - v) < 4 || memcmp(v, "true", 4) != 0)
        return fail(c, "not_active");
    return NEXT_DONE;
}

static int handle_cc(fl_conn_t *c, const fh_resp_t *r)
{
    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_json_string(r->body, r->body_len, "access_token", c->access, sizeof(c->access)) != 0)
        return fail(c, "no_access_token");
    return NEXT_DONE;
}

const fl_step_def_t fl_steps[ST__COUNT] = {
    [ST_AUTHORIZE] = {"authorize", build_authorize, handle_authorize},
    [ST_LOGIN_PAGE] = {"login_page", build_follow, handle_login_page},
    [ST_LOGIN_POST] = {"login_post", build_login_post, handle_login_post},
    [ST_RESUME] = {"resume", build_follow, handle_authorize},
    [ST_TOKEN_CODE] = {"token_code", build_token_code, handle_token_code},
    [ST_REFRESH] = {"refresh", build_refresh, handle_refresh},
    [ST_INTROSPECT] = {"introspect", build_introspect, handle_introspect},
    [ST_CC] = {"client_credentials", build_cc, handle_cc},
};
