/* Signing out: RP-initiated logout (/oauth2/logout, OIDC RP-Initiated Logout 1.0), the hub's own /logout, the
 * confirmation both ask for unless the browser's own session is named, and the delivery of back-channel logout tokens
 * (OIDC Back-Channel Logout 1.0) to the clients of an ended session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/page.h"
#include "hub/resp.h"
#include "hub/store.h"
#include "hub/util.h"
#include "idp/backchannel.h"
#include "idp/csrf.h"
#include "idp/endpoint.h"
#include "idp/logout.h"
#include "idp/client.h"
#include "idp/session.h"

#define MAX_HINT 16384
#define MAX_PARAM 2048

/* The page after a sign-out. */
static void send_signed_out(h2o_req_t *req)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        hub_oom();
    hub_page_open(f, req, "Signed out");
    fputs("<main class=\"narrow\">\n<div class=\"card\">\n<h1>You are signed out</h1>\n"
          "<p id=\"signed-out\">You are signed out. <a href=\"/login\">Sign in again</a></p>\n</div>\n</main>\n</body></html>\n",
          f);
    if (fclose(f) != 0 || buf == NULL)
        hub_oom();
    hub_send_html_csp(req, 200, HUB_PAGE_CSP_FORMS, buf, len); /* copied */
    free(buf);
}

/* ---- back-channel delivery ---- */

typedef struct st_target_t {
    char *client_id, *uri;
} target_t;

/* Sends a logout_token (OIDC Back-Channel Logout 1.0 §2.4) to every client of the ended session that registered a
 * backchannel_logout_uri: a form POST through idp->fetcher, fire-and-forget with retries, so it never blocks the calling
 * loop. ended is borrowed (the caller still frees it); NULL is ignored. */
static void notify_clients(idp_t *idp, const idp_session_t *ended)
{
    target_t *targets = NULL;
    hub_txn_t *txn = NULL;
    size_t i, n = 0;

    if (ended == NULL || ended->clients.n == 0 || ended->sid == NULL || ended->sub == NULL)
        return;
    targets = hub_xcalloc(ended->clients.n, sizeof(*targets));
    /* Look the clients up first, so no transaction stays open while signing. */
    if (hub_store_read_begin(idp->store, &txn) == 0) {
        for (i = 0; i != ended->clients.n; ++i) {
            idp_client_t *c = NULL;
            if (idp_client_get(txn, ended->clients.v[i], &c) != 0)
                continue;
            if (c->backchannel_logout_uri != NULL && c->backchannel_logout_uri[0] != '\0') {
                targets[n].client_id = hub_strdup(c->client_id);
                targets[n].uri = hub_strdup(c->backchannel_logout_uri);
                ++n;
            }
            idp_client_free(c);
        }
        hub_store_read_end(txn);
    }
    for (i = 0; i != n; ++i) {
        int ret = idp_backchannel_post(idp, targets[i].client_id, targets[i].uri, ended->sub, ended->sid);
        if (ret != 0)
            hub_log_error("back-channel logout: cannot queue the delivery to client %s: %s", targets[i].client_id,
                          hub_strerror(ret));
        else
            hub_log_info("back-channel logout: queued for client %s", targets[i].client_id);
    }
    for (i = 0; i != n; ++i) {
        free(targets[i].client_id);
        free(targets[i].uri);
    }
    free(targets);
}

/* ---- the logout endpoint ---- */

typedef struct st_hint_t {
    char *client_id; /* the hint's audience */
    char *sub, *sid; /* sid may be NULL */
} hint_t;

/* Verifies an id_token_hint: our signature and issuer; an expired hint is fine (RP-Initiated Logout §2). Strings are
 * copied into the pool. Returns 0 or -1. */
static int verify_hint(idp_t *idp, h2o_req_t *req, const char *token, hint_t *out)
{
    hub_jws_t jws = {NULL};
    const char *iss, *sub, *sid, *aud = NULL;
    json_t *a;
    int ret = -1;

    if (strlen(token) > MAX_HINT || idp_keyring_verify(idp->keyring, token, strlen(token), &jws) != 0)
        return -1;
    /* Our access and logout tokens are signed with the same keys: they are not id_tokens. */
    if (jws.typ != NULL && (strcasecmp(jws.typ, "at+jwt") == 0 || strcasecmp(jws.typ, "logout+jwt") == 0))
        goto out;
    iss = json_string_value(json_object_get(jws.payload, "iss"));
    sub = json_string_value(json_object_get(jws.payload, "sub"));
    sid = json_string_value(json_object_get(jws.payload, "sid"));
    a = json_object_get(jws.payload, "aud");
    if (json_is_string(a))
        aud = json_string_value(a);
    else if (json_is_array(a) && json_array_size(a) == 1)
        aud = json_string_value(json_array_get(a, 0));
    else if (json_is_array(a))
        aud = json_string_value(json_object_get(jws.payload, "azp"));
    if (iss == NULL || strcmp(iss, idp->issuer) != 0 || sub == NULL || aud == NULL)
        goto out;
    out->client_id = h2o_strdup(&req->pool, aud, SIZE_MAX).base;
    out->sub = h2o_strdup(&req->pool, sub, SIZE_MAX).base;
    out->sid = sid != NULL ? h2o_strdup(&req->pool, sid, SIZE_MAX).base : NULL;
    ret = 0;
out:
    hub_jws_dispose(&jws);
    return ret;
}

/* Checks post_logout_redirect_uri against the hint's client. Returns 0 when registered. */
static int redirect_registered(idp_t *idp, const char *client_id, const char *uri)
{
    hub_txn_t *txn = NULL;
    idp_client_t *c = NULL;
    int ok = 0;

    if (hub_store_read_begin(idp->store, &txn) != 0)
        return -1;
    if (idp_client_get(txn, client_id, &c) == 0) {
        ok = c->enabled && idp_strv_has(&c->post_logout_redirect_uris, uri);
        idp_client_free(c);
    }
    hub_store_read_end(txn);
    return ok ? 0 : -1;
}

/* The post_logout_redirect_uri with state appended (pool memory). */
static const char *back_url(h2o_req_t *req, const char *uri, const char *state)
{
    char *buf = NULL, *out;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        hub_oom();
    fputs(uri, f);
    if (state != NULL) {
        h2o_iovec_t e = hub_url_encode(&req->pool, state, strlen(state));
        fprintf(f, "%cstate=", strchr(uri, '?') != NULL ? '&' : '?');
        fwrite(e.base, 1, e.len, f);
    }
    if (fclose(f) != 0 || buf == NULL)
        hub_oom();
    out = h2o_strdup(&req->pool, buf, len).base;
    free(buf);
    return out;
}

/* ---- pages ---- */

typedef struct st_field_t {
    const char *name, *value; /* value NULL: the field is left out */
} field_t;

static void put_esc(FILE *f, h2o_req_t *req, const char *s)
{
    h2o_iovec_t e = hub_html_escape(&req->pool, s, strlen(s));
    fwrite(e.base, 1, e.len, f);
}

static char *stream_done(h2o_req_t *req, FILE *f, char **buf, size_t *len)
{
    char *out;
    if (fclose(f) != 0 || *buf == NULL)
        hub_oom();
    out = h2o_strdup(&req->pool, *buf, *len).base;
    free(*buf);
    *buf = NULL;
    return out;
}

/* Asks the owner of session s whether to sign out ("Sign out of <app>?" when an application asked): a POST to action
 * carrying a CSRF token bound to s and the given fields, with Sign out and Cancel (RP-Initiated Logout 1.0 §2). */
static void send_confirm(idp_t *idp, h2o_req_t *req, const idp_session_t *s, const char *action, const char *app_name,
                         const field_t *fields, size_t n)
{
    char *buf = NULL, *page;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        hub_oom();
    hub_page_open(f, req, "Sign out?");
    fputs("<main class=\"narrow\">\n<div class=\"card\">\n<h1 id=\"confirm-title\">Sign out", f);
    if (app_name != NULL) {
        fputs(" of ", f);
        put_esc(f, req, app_name);
    }
    fputs("?</h1>\n<p>Signing out ends your session here and in every application you signed in to with it.</p>\n"
          "<form id=\"logout-confirm\" method=\"post\" action=\"",
          f);
    put_esc(f, req, action);
    fputs("\">\n<input type=\"hidden\" name=\"csrf_token\" value=\"", f);
    put_esc(f, req, idp_csrf_token(idp, req, s, IDP_CSRF_LOGOUT));
    fputs("\">\n", f);
    for (i = 0; i != n; ++i) {
        if (fields[i].value == NULL)
            continue;
        fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"", fields[i].name);
        put_esc(f, req, fields[i].value);
        fputs("\">\n", f);
    }
    fputs("<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"yes\">Sign out</button>\n"
          "<button type=\"submit\" name=\"decision\" value=\"no\" class=\"secondary\">Cancel</button></div>\n</form>\n</div>\n"
          "</main>\n</body></html>\n",
          f);
    page = stream_done(req, f, &buf, &len);
    hub_send_html_csp(req, 200, HUB_PAGE_CSP_FORMS, page, len);
}

/* After Cancel: nothing ended; back_to (may be NULL) is a link the page offers. */
static void send_still_signed_in(h2o_req_t *req, const char *back_to)
{
    char *buf = NULL, *page;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        hub_oom();
    hub_page_open(f, req, "Still signed in");
    fputs("<main class=\"narrow\">\n<div class=\"card\">\n<h1>You are still signed in</h1>\n"
          "<p id=\"still-signed-in\">Nothing was signed out.",
          f);
    if (back_to != NULL) {
        fputs(" <a id=\"back\" href=\"", f);
        put_esc(f, req, back_to);
        fputs("\">Return to the application</a>", f);
    }
    fputs("</p>\n</div>\n</main>\n</body></html>\n", f);
    page = stream_done(req, f, &buf, &len);
    hub_send_html_csp(req, 200, HUB_PAGE_CSP_FORMS, page, len);
}

/* The decision field of a confirmation form: 1 yes, 0 no, -1 missing, repeated or anything else. */
static int decision_of(const hub_form_t *form)
{
    const char *d = hub_form_get(form, "decision");

    if (d == NULL || hub_form_count(form, "decision") != 1)
        return -1;
    return strcmp(d, "yes") == 0 ? 1 : strcmp(d, "no") == 0 ? 0 : -1;
}

static void send_bad_confirmation(h2o_req_t *req)
{
    hub_send_html_error(req, 400, "Sign-out failed",
                        "The sign-out form has expired or did not come from this site; nothing was signed out. Please try "
                        "again.");
}

/* Ends the session of the request's own cookie (never another one) and tells its clients. Returns 0, or -1 when the
 * store failed (the error page is sent). */
static int end_own_session(idp_t *idp, h2o_req_t *req)
{
    idp_session_t *ended = NULL;
    int ret;

    if ((ret = idp_session_end_current(idp, req, &ended)) != 0 && ret != HUB_E_NOTFOUND) {
        hub_log_error("logout: cannot end the session: %s", hub_strerror(ret));
        hub_send_html_error(req, 500, "Sign-out failed", "The session could not be ended. Please try again.");
        return -1;
    }
    if (ended != NULL) {
        hub_log_info("logout: session ended");
        notify_clients(idp, ended);
        idp_session_free(ended);
    }
    return 0;
}

/* ---- /oauth2/logout ---- */

enum { P_HINT, P_REDIRECT, P_STATE, P_CLIENT_ID, P__COUNT };
static const char *const param_names[P__COUNT] = {"id_token_hint", "post_logout_redirect_uri", "state", "client_id"};

typedef struct st_rp_logout_t {
    const char *v[P__COUNT]; /* NULL when absent or empty */
    hint_t hint;             /* from a valid id_token_hint; zeroed without one */
} rp_logout_t;

/* Reads and checks the request (the same checks for the RP's request and the posted confirmation, so a
 * post_logout_redirect_uri is validated again at POST time). Returns 0, or -1 when the error page was sent. */
static int read_rp_logout(idp_t *idp, h2o_req_t *req, const hub_form_t *form, rp_logout_t *lo)
{
    size_t i;

    memset(lo, 0, sizeof(*lo));
    for (i = 0; i != P__COUNT; ++i) {
        lo->v[i] = hub_form_get(form, param_names[i]);
        if (hub_form_count(form, param_names[i]) > 1 || (lo->v[i] != NULL && i != P_HINT && strlen(lo->v[i]) > MAX_PARAM)) {
            hub_send_html_error(req, 400, "Sign-out failed", "The request parameters could not be read.");
            return -1;
        }
        if (lo->v[i] != NULL && lo->v[i][0] == '\0')
            lo->v[i] = NULL;
    }
    if (lo->v[P_HINT] != NULL && verify_hint(idp, req, lo->v[P_HINT], &lo->hint) != 0) {
        hub_send_html_error(req, 400, "Sign-out failed", "The id_token_hint is not valid.");
        return -1;
    }
    if (lo->v[P_CLIENT_ID] != NULL && lo->hint.client_id != NULL && strcmp(lo->v[P_CLIENT_ID], lo->hint.client_id) != 0) {
        hub_send_html_error(req, 400, "Sign-out failed", "The client_id does not match the id_token_hint.");
        return -1;
    }
    if (lo->v[P_REDIRECT] != NULL &&
        (lo->hint.client_id == NULL || redirect_registered(idp, lo->hint.client_id, lo->v[P_REDIRECT]) != 0)) {
        hub_send_html_error(req, 400, "Sign-out failed",
                            lo->hint.client_id == NULL ? "A post_logout_redirect_uri needs a valid id_token_hint."
                                                       : "The post_logout_redirect_uri is not registered for this application.");
        return -1;
    }
    return 0;
}

/* The name of the application that asked (hint's audience, else client_id), or NULL (pool memory). */
static const char *app_name_of(idp_t *idp, h2o_req_t *req, const rp_logout_t *lo)
{
    const char *id = lo->hint.client_id != NULL ? lo->hint.client_id : lo->v[P_CLIENT_ID];
    const char *name = NULL;
    hub_txn_t *txn = NULL;
    idp_client_t *c = NULL;

    if (id == NULL || hub_store_read_begin(idp->store, &txn) != 0)
        return NULL;
    if (idp_client_get(txn, id, &c) == 0) {
        if (c->enabled && c->app_name != NULL)
            name = h2o_strdup(&req->pool, c->app_name, SIZE_MAX).base;
        idp_client_free(c);
    }
    hub_store_read_end(txn);
    return name;
}

/* Signed out (or nothing to sign out): back to the registered post_logout_redirect_uri with state, or the page. */
static void rp_done(h2o_req_t *req, const rp_logout_t *lo)
{
    if (lo->v[P_REDIRECT] != NULL)
        hub_send_redirect(req, 302, back_url(req, lo->v[P_REDIRECT], lo->v[P_STATE]));
    else
        send_signed_out(req);
}

/* The confirmation form came back: it may end the browser's own session only, whatever session the hint named. */
static void rp_confirmed(idp_t *idp, h2o_req_t *req, const hub_form_t *form, const rp_logout_t *lo, const idp_session_t *cur)
{
    int decision;

    if (cur == NULL) { /* ended meanwhile (another tab): nothing left to end */
        rp_done(req, lo);
        return;
    }
    if (!idp_csrf_ok(idp, req, cur, IDP_CSRF_LOGOUT, form) || (decision = decision_of(form)) < 0) {
        send_bad_confirmation(req);
        return;
    }
    if (decision == 0) {
        send_still_signed_in(req, lo->v[P_REDIRECT] != NULL ? back_url(req, lo->v[P_REDIRECT], lo->v[P_STATE]) : NULL);
        return;
    }
    if (end_own_session(idp, req) == 0)
        rp_done(req, lo);
}

/* RP-Initiated Logout 1.0 §2: a session ends at once only when the hint names the browser's own session; otherwise
 * the browser's owner is asked, and the answer can only end the browser's own session. Without a session in the
 * browser nothing ends (a hint alone, sent from anywhere, never ends a session). */
static int on_rp_logout(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_form_t form = {NULL, 0};
    rp_logout_t lo;
    idp_session_t *cur = NULL;
    int ret, is_post = hub_method_is(req, "POST");

    if (is_post)
        ret = hub_form_parse_body(&req->pool, req, &form);
    else
        ret = hub_form_parse_query(&req->pool, req, &form); /* GET */
    if (ret != 0) {
        hub_send_html_error(req, 400, "Sign-out failed", "The request parameters could not be read.");
        return 0;
    }
    if (read_rp_logout(idp, req, &form, &lo) != 0)
        return 0;
    cur = idp_session_current(idp, req);
    if (is_post && hub_form_count(&form, "csrf_token") != 0) {
        rp_confirmed(idp, req, &form, &lo, cur);
    } else if (cur == NULL) {
        rp_done(req, &lo);
    } else if (lo.hint.sid != NULL && strcmp(lo.hint.sid, cur->sid) == 0) {
        if (end_own_session(idp, req) == 0)
            rp_done(req, &lo);
    } else {
        field_t fields[] = {{"id_token_hint", lo.v[P_HINT]},
                            {"post_logout_redirect_uri", lo.v[P_REDIRECT]},
                            {"state", lo.v[P_STATE]},
                            {"client_id", lo.v[P_CLIENT_ID]}};
        send_confirm(idp, req, cur, IDP_PATH_END_SESSION, app_name_of(idp, req, &lo), fields, sizeof(fields) / sizeof(fields[0]));
    }
    idp_session_free(cur);
    return 0;
}

/* ---- /logout ---- */

/* The hub's own sign-out: GET asks, POST with the CSRF token of that page (or of the sign-in page's button) acts. */
static int on_logout(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_form_t query = {NULL, 0}, body = {NULL, 0};
    const char *next = NULL;
    idp_session_t *cur = NULL;
    int decision, is_post = hub_method_is(req, "POST");

    if (hub_form_parse_query(&req->pool, req, &query) != 0 || (is_post && hub_form_parse_body(&req->pool, req, &body) != 0)) {
        hub_send_html_error(req, 400, "Sign-out failed", "The request parameters could not be read.");
        return 0;
    }
    next = hub_form_get(&query, "next");
    if (next == NULL)
        next = hub_form_get(&body, "next");
    if (next != NULL && hub_safe_next(next) != next)
        next = NULL; /* only same-origin paths */
    cur = idp_session_current(idp, req);
    if (cur == NULL) {
        if (next != NULL)
            hub_send_redirect(req, 302, next);
        else
            send_signed_out(req);
    } else if (!is_post) {
        field_t fields[] = {{"next", next}};
        send_confirm(idp, req, cur, IDP_PATH_LOGOUT, NULL, fields, 1);
    } else if (!idp_csrf_ok(idp, req, cur, IDP_CSRF_LOGOUT, &body) || (decision = decision_of(&body)) < 0) {
        send_bad_confirmation(req);
    } else if (decision == 0) {
        hub_send_redirect(req, 302, next != NULL ? next : "/login");
    } else if (end_own_session(idp, req) == 0) {
        if (next != NULL)
            hub_send_redirect(req, 302, next);
        else
            send_signed_out(req);
    }
    idp_session_free(cur);
    return 0;
}

void idp_logout_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_END_SESSION, on_rp_logout);
    idp_endpoint_route(idp, IDP_EP_LOGOUT, on_logout);
}
