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
#include "hub/park.h"
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

/* ---- the sign-out's job ---- */

typedef struct st_target_t {
    char *client_id, *uri;
} target_t;

typedef struct st_hint_t {
    char *client_id; /* the hint's audience */
    char *sub, *sid; /* sid may be NULL */
} hint_t;

enum { P_HINT, P_REDIRECT, P_STATE, P_CLIENT_ID, P__COUNT };
static const char *const param_names[P__COUNT] = {"id_token_hint", "post_logout_redirect_uri", "state", "client_id"};

typedef struct st_rp_logout_t {
    const char *v[P__COUNT]; /* NULL when absent or empty */
    hint_t hint;             /* from a valid id_token_hint; zeroed without one */
} rp_logout_t;

/* One sign-out: a read on the store's readers (the browser's session; for /oauth2/logout the client asking: its name,
 * whether the post_logout_redirect_uri is its own), maybe the session's end on the writer, each answered on the loop
 * (hub/park.h). What the jobs read is copied; the request's own values (pool) are read on the loop only. */
typedef struct st_logout_job_t {
    hub_park_t park;
    idp_t *idp;
    int rp;                             /* /oauth2/logout; else /logout */
    int is_post, had_cookie;            /* the request carried a session cookie (cleared when the session ends) */
    hub_form_t form;                    /* the request's parameters (/logout: its body) */
    rp_logout_t lo;                     /* /oauth2/logout's parameters and hint */
    const char *next;                   /* /logout's same-origin next, or NULL */
    char hash[HUB_SECRET_HASH_LEN + 1]; /* the session cookie's, "" without one */
    char *app_id, *redirect;            /* copies for the read: the client asking, its post_logout_redirect_uri */
    idp_session_t *cur;                 /* read: the browser's live session, or NULL */
    int redirect_ok;                    /* read: redirect is registered for app_id, an enabled client */
    char *app_name;                     /* read: app_id's name when enabled */
    idp_session_t *ended;               /* written: the session ended */
    target_t *targets;                  /* written: its clients with a backchannel_logout_uri */
    size_t ntargets;
} logout_job_t;

static void drop_targets(logout_job_t *j)
{
    for (size_t i = 0; i != j->ntargets; ++i) {
        free(j->targets[i].client_id);
        free(j->targets[i].uri);
    }
    free(j->targets);
    j->targets = NULL;
    j->ntargets = 0;
}

static void job_free(logout_job_t *j)
{
    free(j->app_id);
    free(j->redirect);
    free(j->app_name);
    idp_session_free(j->cur);
    idp_session_free(j->ended);
    drop_targets(j);
    free(j);
}

static int read_txn(hub_txn_t *txn, void *arg)
{
    logout_job_t *j = arg;
    idp_client_t *c = NULL;
    int ret;

    if ((ret = idp_session_lookup(txn, j->hash, &j->cur, NULL)) != 0)
        return ret;
    if (j->app_id == NULL || (ret = idp_client_get(txn, j->app_id, &c)) != 0)
        return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
    if (c->enabled) {
        j->redirect_ok = j->redirect != NULL && idp_strv_has(&c->post_logout_redirect_uris, j->redirect);
        j->app_name = c->app_name != NULL ? hub_strdup(c->app_name) : NULL;
    }
    idp_client_free(c);
    return 0;
}

/* Ends the session of the request's own cookie (never another one) and finds its clients to tell. */
static int end_txn(hub_txn_t *txn, void *arg)
{
    logout_job_t *j = arg;
    const idp_strv_t *clients;
    int ret;

    drop_targets(j); /* a retried transaction starts over */
    if ((ret = idp_session_end_by_hash(txn, j->hash, &j->ended)) != 0 || j->ended->sid == NULL || j->ended->sub == NULL)
        return ret;
    clients = &j->ended->clients;
    j->targets = hub_xcalloc(clients->n + 1, sizeof(*j->targets));
    for (size_t i = 0; i != clients->n; ++i) {
        idp_client_t *c = NULL;
        if (idp_client_get(txn, clients->v[i], &c) != 0)
            continue;
        if (c->backchannel_logout_uri != NULL && c->backchannel_logout_uri[0] != '\0') {
            j->targets[j->ntargets].client_id = hub_strdup(c->client_id);
            j->targets[j->ntargets++].uri = hub_strdup(c->backchannel_logout_uri);
        }
        idp_client_free(c);
    }
    return 0;
}

/* Sends a logout_token (OIDC Back-Channel Logout 1.0 §2.4) to every client of the ended session that registered a
 * backchannel_logout_uri: a form POST through idp->fetcher, fire-and-forget with retries, so it never blocks the loop;
 * whether or not the browser stayed for the answer. */
static void notify_clients(logout_job_t *j)
{
    for (size_t i = 0; i != j->ntargets; ++i) {
        int ret = idp_backchannel_post(j->idp, j->targets[i].client_id, j->targets[i].uri, j->ended->sub, j->ended->sid);
        if (ret != 0)
            hub_log_error("back-channel logout: cannot queue the delivery to client %s: %s", j->targets[i].client_id,
                          hub_strerror(ret));
        else
            hub_log_info("back-channel logout: queued for client %s", j->targets[i].client_id);
    }
}

/* ---- the logout endpoint ---- */

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

/* Signed out (or nothing to sign out): back to the registered post_logout_redirect_uri with state, or to /logout's
 * next, or the page. */
static void signed_out(logout_job_t *j, h2o_req_t *req)
{
    const char *to = j->next;

    if (j->rp)
        to = j->lo.v[P_REDIRECT] != NULL ? back_url(req, j->lo.v[P_REDIRECT], j->lo.v[P_STATE]) : NULL;
    if (to != NULL)
        hub_send_redirect(req, 302, to);
    else
        send_signed_out(req);
}

static void on_ended(void *arg, int ret)
{
    logout_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (ret == 0) {
        hub_log_info("logout: session ended");
        notify_clients(j);
    } else if (ret != HUB_E_NOTFOUND && ret != HUB_E_CANCELLED) {
        hub_log_error("logout: cannot end the session: %s", hub_strerror(ret));
    }
    if (req == NULL || (ret != 0 && ret != HUB_E_NOTFOUND && hub_park_unavailable(req, ret, HUB_STYLE_HTML))) {
    } else if (ret != 0 && ret != HUB_E_NOTFOUND) {
        hub_send_html_error(req, 500, "Sign-out failed", "The session could not be ended. Please try again.");
    } else {
        if (j->had_cookie)
            idp_session_clear_cookie(j->idp, req);
        signed_out(j, req); /* ended, or ended meanwhile (another tab) */
    }
    job_free(j);
}

/* Ends the session of the request's own cookie (never another one) on the store's writer, then answers (on_ended). */
static void end_own_session(logout_job_t *j, h2o_req_t *req)
{
    int ret;

    if ((ret = hub_park_write(&j->park, req, end_txn, j, on_ended)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_HTML);
        job_free(j);
    }
}

/* ---- /oauth2/logout ---- */

/* Reads and checks the request on the loop (the same checks for the RP's request and the posted confirmation, so a
 * post_logout_redirect_uri is validated again at POST time; that it is registered, after the read). Returns 0, or -1
 * when the error page was sent. */
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
    if (lo->v[P_REDIRECT] != NULL && lo->hint.client_id == NULL) {
        hub_send_html_error(req, 400, "Sign-out failed", "A post_logout_redirect_uri needs a valid id_token_hint.");
        return -1;
    }
    return 0;
}

/* The confirmation form came back: it may end the browser's own session only, whatever session the hint named. Returns
 * 1 when the session's end took j over. */
static int rp_confirmed(logout_job_t *j, h2o_req_t *req)
{
    int decision;

    if (j->cur == NULL) { /* ended meanwhile (another tab): nothing left to end */
        signed_out(j, req);
    } else if (!idp_csrf_ok(j->idp, req, j->cur, IDP_CSRF_LOGOUT, &j->form) || (decision = decision_of(&j->form)) < 0) {
        send_bad_confirmation(req);
    } else if (decision == 0) {
        send_still_signed_in(req, j->lo.v[P_REDIRECT] != NULL ? back_url(req, j->lo.v[P_REDIRECT], j->lo.v[P_STATE]) : NULL);
    } else {
        end_own_session(j, req);
        return 1;
    }
    return 0;
}

/* RP-Initiated Logout 1.0 §2, once read: a session ends at once only when the hint names the browser's own session;
 * otherwise the browser's owner is asked, and the answer can only end the browser's own session. Without a session in
 * the browser nothing ends (a hint alone, sent from anywhere, never ends a session). Returns 1 when j was taken over. */
static int rp_read(logout_job_t *j, h2o_req_t *req)
{
    const rp_logout_t *lo = &j->lo;

    if (lo->v[P_REDIRECT] != NULL && !j->redirect_ok) {
        hub_send_html_error(req, 400, "Sign-out failed", "The post_logout_redirect_uri is not registered for this application.");
    } else if (j->is_post && hub_form_count(&j->form, "csrf_token") != 0) {
        return rp_confirmed(j, req);
    } else if (j->cur == NULL) {
        signed_out(j, req);
    } else if (lo->hint.sid != NULL && strcmp(lo->hint.sid, j->cur->sid) == 0) {
        end_own_session(j, req);
        return 1;
    } else {
        field_t fields[] = {{"id_token_hint", lo->v[P_HINT]},
                            {"post_logout_redirect_uri", lo->v[P_REDIRECT]},
                            {"state", lo->v[P_STATE]},
                            {"client_id", lo->v[P_CLIENT_ID]}};
        send_confirm(j->idp, req, j->cur, IDP_PATH_END_SESSION, j->app_name, fields, sizeof(fields) / sizeof(fields[0]));
    }
    return 0;
}

/* ---- /logout ---- */

/* The hub's own sign-out, once read: GET asks, POST with the CSRF token of that page (or of the sign-in page's button)
 * acts. Returns 1 when j was taken over. */
static int logout_read(logout_job_t *j, h2o_req_t *req)
{
    int decision;

    if (j->cur == NULL) {
        signed_out(j, req);
    } else if (!j->is_post) {
        field_t fields[] = {{"next", j->next}};
        send_confirm(j->idp, req, j->cur, IDP_PATH_LOGOUT, NULL, fields, 1);
    } else if (!idp_csrf_ok(j->idp, req, j->cur, IDP_CSRF_LOGOUT, &j->form) || (decision = decision_of(&j->form)) < 0) {
        send_bad_confirmation(req);
    } else if (decision == 0) {
        hub_send_redirect(req, 302, j->next != NULL ? j->next : "/login");
    } else {
        end_own_session(j, req);
        return 1;
    }
    return 0;
}

/* ---- both: the read ---- */

static void on_read(void *arg, int ret)
{
    logout_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req == NULL || (ret != 0 && hub_park_unavailable(req, ret, HUB_STYLE_HTML)))
        job_free(j);
    else if (ret != 0) {
        hub_send_html_error(req, 500, "Sign-out failed", "The request could not be completed. Please try again.");
        job_free(j);
    } else if (!(j->rp ? rp_read(j, req) : logout_read(j, req)))
        job_free(j);
}

/* Parks j's read: the browser's session, and the client asking (app_id) when there is one. */
static void read_then_answer(logout_job_t *j, h2o_req_t *req)
{
    int ret;

    j->had_cookie = hub_req_cookie(&req->pool, req, j->idp->session_cookie) != NULL;
    idp_session_cookie_hash(j->idp, req, j->hash);
    if ((ret = hub_park_read(&j->park, req, read_txn, j, on_read)) != 0) {
        hub_park_unavailable(req, ret, HUB_STYLE_HTML);
        job_free(j);
    }
}

static int on_rp_logout(void *data, h2o_req_t *req)
{
    logout_job_t *j = hub_xcalloc(1, sizeof(*j));
    const char *app_id;
    int ret;

    j->idp = data;
    j->rp = 1;
    if ((j->is_post = hub_method_is(req, "POST")))
        ret = hub_form_parse_body(&req->pool, req, &j->form);
    else
        ret = hub_form_parse_query(&req->pool, req, &j->form); /* GET */
    if (ret != 0)
        hub_send_html_error(req, 400, "Sign-out failed", "The request parameters could not be read.");
    if (ret != 0 || read_rp_logout(j->idp, req, &j->form, &j->lo) != 0) {
        job_free(j);
        return 0;
    }
    app_id = j->lo.hint.client_id != NULL ? j->lo.hint.client_id : j->lo.v[P_CLIENT_ID];
    j->app_id = app_id != NULL ? hub_strdup(app_id) : NULL;
    j->redirect = j->lo.v[P_REDIRECT] != NULL ? hub_strdup(j->lo.v[P_REDIRECT]) : NULL;
    read_then_answer(j, req);
    return 0;
}

static int on_logout(void *data, h2o_req_t *req)
{
    logout_job_t *j = hub_xcalloc(1, sizeof(*j));
    hub_form_t query = {NULL, 0};

    j->idp = data;
    j->is_post = hub_method_is(req, "POST");
    if (hub_form_parse_query(&req->pool, req, &query) != 0 || (j->is_post && hub_form_parse_body(&req->pool, req, &j->form) != 0)) {
        hub_send_html_error(req, 400, "Sign-out failed", "The request parameters could not be read.");
        job_free(j);
        return 0;
    }
    if ((j->next = hub_form_get(&query, "next")) == NULL)
        j->next = hub_form_get(&j->form, "next");
    if (j->next != NULL && hub_safe_next(j->next) != j->next)
        j->next = NULL; /* only same-origin paths */
    read_then_answer(j, req);
    return 0;
}

void idp_logout_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_END_SESSION, on_rp_logout);
    idp_endpoint_route(idp, IDP_EP_LOGOUT, on_logout);
}
