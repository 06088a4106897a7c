/* Signing out of a secondary (fed_logout.h): the confirmed RP-initiated logout, the signed-out landing and the
 * primary's back-channel logout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "federation/fed_logout.h"
#include "federation/fed_session.h"
#include "federation/fed_worker.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/util.h"

#define LOGIN_PATH "/auth/login"
#define SIGNED_OUT_PATH "/auth/signed-out"

struct st_fed_logout_t {
    uint8_t key[HUB_KEY_LEN];   /* signs the sign-out form's CSRF token */
    char home_uri[FED_URL_MAX]; /* <public_url>/ */
};

/* The sign-out confirmation (RP-Initiated Logout 1.0 §2): a plain GET, which a link or an image
 * on any site can make, only shows this form; its POST carries a token bound to the session. */
static void page_confirm_logout(fed_t *fed, h2o_req_t *req, int status, const char *cookie)
{
    static const char head[] = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign out</title>"
                               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
                               "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Sign out of ";
    char token[FED_CSRF_LEN + 1];
    h2o_iovec_t site = hub_html_escape(&req->pool, fed->cfg->node.name, strlen(fed->cfg->node.name));
    size_t len = sizeof(head) + site.len + FED_CSRF_LEN + 512;
    char *page = h2o_mem_alloc_pool(&req->pool, len);
    int n;

    fed_session_csrf(fed->logout->key, cookie, token);
    n = snprintf(page, len,
                 "%s%s?</h1>\n<form method=\"post\" action=\"/auth/logout\">"
                 "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
                 "<button type=\"submit\" id=\"sign-out\">Sign out</button></form>\n"
                 "<p>If you did not ask to sign out, close this page: you stay signed in.</p></body></html>\n",
                 head, site.base, token);
    hub_send_html(req, status, page, (size_t)n);
}

/* Ends the local session and sends the browser to the primary's logout endpoint. */
static void sign_out(fed_t *fed, h2o_req_t *req, const char *cookie)
{
    const fed_reg_t *reg = fed_join_current(fed->join);
    const char *id_token = NULL;
    fed_identity_t id;

    if (cookie != NULL) {
        if (fed_session_get(fed->store, cookie, &req->pool, &id, &id_token) != 0)
            id_token = NULL;
        fed_session_end(fed->store, cookie);
    }
    hub_set_cookie(req, fed->session_cookie, "", 0, fed->secure_cookies);
    if (reg->end_session_endpoint == NULL || reg->client_id == NULL) {
        hub_send_redirect(req, 303, SIGNED_OUT_PATH);
        return;
    }
    if (id_token == NULL) {
        /* no local session (expired, or never here): still end the one at the primary, which
         * shows its own signed-out page (a landing URI needs the id_token_hint) */
        const char *ep = reg->end_session_endpoint, *ec = hub_url_encode(&req->pool, reg->client_id, strlen(reg->client_id)).base;
        size_t len = strlen(ep) + strlen(ec) + 32;
        char *url = h2o_mem_alloc_pool(&req->pool, len);
        snprintf(url, len, "%s%sclient_id=%s", ep, strchr(ep, '?') != NULL ? "&" : "?", ec);
        hub_send_redirect(req, 303, url);
        return;
    }
    /* the landing the primary has on record for this node: /auth/signed-out since nodes register
     * it, <public_url>/ for earlier registrations and static credentials (answered by on_home) */
    const char *landing = reg->post_logout_redirect_uri != NULL ? reg->post_logout_redirect_uri : fed->logout->home_uri;
    h2o_iovec_t eh = hub_url_encode(&req->pool, id_token, strlen(id_token)),
                ec = hub_url_encode(&req->pool, reg->client_id, strlen(reg->client_id)),
                eu = hub_url_encode(&req->pool, landing, strlen(landing));
    const char *ep = reg->end_session_endpoint;
    size_t len = strlen(ep) + eh.len + ec.len + eu.len + 128;
    char *url = h2o_mem_alloc_pool(&req->pool, len);
    snprintf(url, len, "%s%sid_token_hint=%s&client_id=%s&post_logout_redirect_uri=%s", ep, strchr(ep, '?') != NULL ? "&" : "?",
             eh.base, ec.base, eu.base);
    hub_send_redirect(req, 303, url);
}

/* GET (or a POST without a token, such as an app's plain "Sign out" form): the confirmation.
 * POST with the session's token: sign out. A wrong token changes nothing. */
static int on_logout(void *data, h2o_req_t *req)
{
    fed_t *fed = data;
    const char *cookie, *token;
    char want[FED_CSRF_LEN + 1];
    hub_form_t form;

    cookie = hub_req_cookie(&req->pool, req, fed->session_cookie);
    if (!hub_method_is(req, "POST")) { /* GET, HEAD */
        page_confirm_logout(fed, req, 200, cookie);
        return 0;
    }
    if (hub_form_parse_body(&req->pool, req, &form) != 0 || hub_form_count(&form, "csrf_token") == 0) {
        page_confirm_logout(fed, req, 200, cookie);
        return 0;
    }
    fed_session_csrf(fed->logout->key, cookie, want);
    token = hub_form_get(&form, "csrf_token");
    if (hub_form_count(&form, "csrf_token") != 1 || !hub_ct_equal(token, strlen(token), want, FED_CSRF_LEN)) {
        hub_log_info("federation: a sign-out without this session's token was refused");
        page_confirm_logout(fed, req, 403, cookie);
        return 0;
    }
    sign_out(fed, req, cookie);
    return 0;
}

static void send_signed_out(h2o_req_t *req)
{
    static const char page[] = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title>"
                               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
                               "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>You are signed out</h1>\n"
                               "<p><a id=\"sign-in\" href=\"" LOGIN_PATH "\">Sign in again</a></p></body></html>\n";
    hub_send_html(req, 200, page, sizeof(page) - 1);
}

/* The post-logout landing the primary sends the browser to. */
static int on_signed_out(void *data, h2o_req_t *req)
{
    (void)data;
    send_signed_out(req);
    return 0;
}

/* "/" when no configured route covers it: the signed-out page for exactly "/" (the landing of nodes registered before
 * /auth/signed-out existed); the router's 404 for every other path, in the server's style. */
static int on_home(void *data, h2o_req_t *req)
{
    (void)data;
    send_signed_out(req);
    return 0;
}

static void bcl_error(h2o_req_t *req, const char *why)
{
    hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, why);
}

static void on_backchannel_resume(h2o_req_t *req, void *data);

/* A POST to /auth/backchannel-logout; with may_wait, a token signed by a key not known yet
 * parks req until the JWKS refresh. */
static void backchannel_logout(fed_t *fed, h2o_req_t *req, int may_wait)
{
    const fed_reg_t *reg = fed_join_current(fed->join);
    const char *token, *why = NULL, *sid, *sub;
    json_t *claims = NULL;
    hub_form_t form;
    size_t ended = 0;
    uint64_t seen = fed_jwks_rounds(fed->jwks);
    int ret;

    if (hub_form_parse_body(&req->pool, req, &form) != 0 || hub_form_count(&form, "logout_token") != 1 ||
        (token = hub_form_get(&form, "logout_token")) == NULL) {
        bcl_error(req, "expected one logout_token in a form body");
        return;
    }
    if ((ret = fed_verify_logout_token(fed->verify, reg->client_id, token, strlen(token), &claims, &why)) != 0) {
        if (ret == HUB_E_NOTFOUND && may_wait && fed_kid_wait(fed, req, seen, on_backchannel_resume, fed))
            return;
        hub_log_warn("federation: rejected a back-channel logout token: %s", why);
        bcl_error(req, why);
        return;
    }
    sid = json_string_value(json_object_get(claims, "sid"));
    sub = json_string_value(json_object_get(claims, "sub"));
    if (fed_session_end_by(fed->store, sid, sid != NULL ? NULL : sub, &ended) != 0) {
        json_decref(claims);
        bcl_error(req, "the logout token names an invalid sid or sub");
        return;
    }
    hub_log_info("federation: back-channel logout ended %zu local session%s", ended, ended == 1 ? "" : "s");
    json_decref(claims);
    hub_resp_header(req, "cache-control", "no-store");
    hub_send_text(req, 200, "", 0);
}

static void on_backchannel_resume(h2o_req_t *req, void *data)
{
    backchannel_logout(data, req, 0);
}

static int on_backchannel_logout(void *data, h2o_req_t *req)
{
    backchannel_logout(data, req, 1);
    return 0;
}

/* The confirmation and the landings are pages (HTML errors); the primary's back-channel call gets OAuth errors, as does
 * "/", which answers every path no other route takes. */
static const struct {
    hub_route_t route;
    hub_route_cb cb;
} routes[] = {
    {{"/auth/logout", NULL, HUB_GET | HUB_HEAD | HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL}, on_logout},
    {{"/auth/backchannel-logout", NULL, HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL}, on_backchannel_logout},
    {{SIGNED_OUT_PATH, NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL}, on_signed_out},
};
static const hub_route_t home_route = {"/", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL};

int fed_logout_register(fed_t *fed, const uint8_t node_key[HUB_KEY_LEN])
{
    struct st_fed_logout_t *l = hub_xcalloc(1, sizeof(*l));

    hub_key_derive(l->key, node_key, "hub secondary: sign-out form v1");
    snprintf(l->home_uri, sizeof(l->home_uri), "%s/", fed->cfg->node.public_url);
    fed->logout = l;
    for (size_t i = 0; i != sizeof(routes) / sizeof(routes[0]); ++i)
        hub_server_add_route(fed->server, &routes[i].route, routes[i].cb, fed, NULL);
    return 0;
}

void fed_logout_register_home(fed_t *fed)
{
    size_t i;
    for (i = 0; i != fed->cfg->secondary.nroutes; ++i)
        if (strcmp(fed->cfg->secondary.routes[i].path, "/") == 0)
            return; /* the application owns "/" */
    hub_server_add_route(fed->server, &home_route, on_home, fed, NULL);
}

void fed_logout_dispose(fed_t *fed)
{
    if (fed->logout == NULL)
        return;
    OPENSSL_cleanse(fed->logout, sizeof(*fed->logout));
    free(fed->logout);
    fed->logout = NULL;
}
