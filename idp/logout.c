/* RP-initiated logout (OIDC RP-Initiated Logout 1.0) and the delivery of back-channel logout tokens (OIDC
 * Back-Channel Logout 1.0) to the clients of an ended session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/store.h"
#include "idp/idp.h"
#include "idp/logout.h"
#include "idp/model.h"
#include "idp/session.h"
#include "idp/tokens.h"

#define LOGOUT_PATH "/oauth2/logout"
#define MAX_HINT 16384
#define MAX_PARAM 2048
#define DELIVERY_TIMEOUT_MS 5000
#define DELIVERY_RETRIES 5
#define DELIVERY_RETRY_DELAY_MS 500

static const char signed_out_page[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title>"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
    "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>You are signed out</h1>\n"
    "<p id=\"signed-out\">You have been signed out. <a href=\"/login\">Sign in again</a></p></body></html>\n";

/* ---- back-channel delivery ---- */

typedef struct st_target_t {
    char *client_id, *uri;
} target_t;

void idp_logout_notify(idp_t *idp, const idp_session_t *ended)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded"};
    target_t *targets = NULL;
    hub_txn_t *txn = NULL;
    size_t i, n = 0;

    if (ended == NULL || ended->clients.n == 0 || ended->sid == NULL || ended->sub == NULL)
        return;
    if ((targets = calloc(ended->clients.n, sizeof(*targets))) == NULL)
        h2o_fatal("out of memory");
    /* Look the clients up first, so no transaction stays open while signing. */
    if (hub_store_read_begin(idp->store, &txn) == 0) {
        for (i = 0; i != ended->clients.n; ++i) {
            idp_client_t *c = NULL;
            if (idp_client_get(txn, ended->clients.v[i], &c) != 0)
                continue;
            if (c->backchannel_logout_uri != NULL && c->backchannel_logout_uri[0] != '\0') {
                targets[n].client_id = strdup(c->client_id);
                targets[n].uri = strdup(c->backchannel_logout_uri);
                if (targets[n].client_id == NULL || targets[n].uri == NULL)
                    h2o_fatal("out of memory");
                ++n;
            }
            idp_client_free(c);
        }
        hub_store_read_end(txn);
    }
    for (i = 0; i != n; ++i) {
        char *jwt = NULL, *body = NULL;
        size_t len;
        int ret;
        if ((ret = idp_mint_logout_token(idp, targets[i].client_id, ended->sub, ended->sid, &jwt)) != 0) {
            hub_log_error("back-channel logout: cannot sign a logout token for %s: %s", targets[i].client_id, hub_strerror(ret));
            goto next;
        }
        /* A compact JWS is base64url and dots only: nothing to percent-encode. */
        len = strlen("logout_token=") + strlen(jwt);
        if ((body = malloc(len + 1)) == NULL)
            h2o_fatal("out of memory");
        snprintf(body, len + 1, "logout_token=%s", jwt);
        hub_fetch_req_t fr = {.method = "POST",
                              .url = targets[i].uri,
                              .headers = headers,
                              .nheaders = 1,
                              .body = body,
                              .body_len = len,
                              .timeout_ms = DELIVERY_TIMEOUT_MS,
                              .retries = DELIVERY_RETRIES,
                              .retry_delay_ms = DELIVERY_RETRY_DELAY_MS};
        if (idp->fetcher == NULL || (ret = hub_fetch_start(idp->fetcher, NULL, &fr, NULL, NULL)) != 0)
            hub_log_error("back-channel logout: cannot queue the delivery to client %s", targets[i].client_id);
        else
            hub_log_info("back-channel logout: queued for client %s", targets[i].client_id);
    next:
        free(body);
        free(jwt);
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

typedef struct st_end_t {
    const char *cookie_sid; /* the browser's session, may be NULL */
    const hint_t *hint;     /* may be NULL */
    idp_session_t *ended[2];
} end_t;

/* Ends the browser's session and the session the hint names (when it is the same user's). May run again when the
 * store grows its map, so it first drops what a previous run returned. */
static int end_txn(hub_txn_t *txn, void *arg)
{
    end_t *e = arg;
    idp_session_t *other = NULL;
    int ret, i;

    for (i = 0; i != 2; ++i) {
        if (e->ended[i] != NULL)
            idp_session_free(e->ended[i]);
        e->ended[i] = NULL;
    }
    if (e->cookie_sid != NULL && (ret = idp_session_end(txn, e->cookie_sid, &e->ended[0])) != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    if (e->hint != NULL && e->hint->sid != NULL && (e->cookie_sid == NULL || strcmp(e->cookie_sid, e->hint->sid) != 0) &&
        idp_session_get_by_sid(txn, e->hint->sid, &other) == 0) {
        int same_user = other->sub != NULL && strcmp(other->sub, e->hint->sub) == 0;
        idp_session_free(other);
        if (same_user && (ret = idp_session_end(txn, e->hint->sid, &e->ended[1])) != 0 && ret != HUB_E_NOTFOUND)
            return ret;
    }
    return 0;
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

static void send_back(h2o_req_t *req, const char *uri, const char *state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        h2o_fatal("out of memory");
    fputs(uri, f);
    if (state != NULL) {
        h2o_iovec_t e = hub_url_encode(&req->pool, state, strlen(state));
        fprintf(f, "%cstate=", strchr(uri, '?') != NULL ? '&' : '?');
        fwrite(e.base, 1, e.len, f);
    }
    if (fclose(f) != 0 || buf == NULL)
        h2o_fatal("out of memory");
    hub_send_redirect(req, 302, h2o_strdup(&req->pool, buf, len).base);
    free(buf);
}

static int on_logout(void *data, h2o_req_t *req)
{
    static const char *const names[] = {"id_token_hint", "post_logout_redirect_uri", "state", "client_id"};
    idp_t *idp = data;
    hub_form_t form = {NULL, 0};
    const char *v[4];
    hint_t hint = {NULL};
    idp_session_t *cur = NULL;
    end_t end = {NULL};
    size_t i;
    int ret;

    if (!hub_path_is(req, LOGOUT_PATH))
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
    if (ret != 0)
        goto bad_request;
    for (i = 0; i != 4; ++i) {
        v[i] = hub_form_get(&form, names[i]);
        if (hub_form_count(&form, names[i]) > 1 || (v[i] != NULL && i != 0 && strlen(v[i]) > MAX_PARAM))
            goto bad_request;
        if (v[i] != NULL && v[i][0] == '\0')
            v[i] = NULL;
    }
    if (v[0] != NULL && verify_hint(idp, req, v[0], &hint) != 0) {
        hub_send_html_error(req, 400, "Sign-out failed", "The id_token_hint is not valid.");
        return 0;
    }
    if (v[3] != NULL && hint.client_id != NULL && strcmp(v[3], hint.client_id) != 0) {
        hub_send_html_error(req, 400, "Sign-out failed", "The client_id does not match the id_token_hint.");
        return 0;
    }
    if (v[1] != NULL && (hint.client_id == NULL || redirect_registered(idp, hint.client_id, v[1]) != 0)) {
        hub_send_html_error(req, 400, "Sign-out failed",
                            hint.client_id == NULL ? "A post_logout_redirect_uri needs a valid id_token_hint."
                                                   : "The post_logout_redirect_uri is not registered for this application.");
        return 0;
    }

    cur = idp_session_current(idp, req);
    end.cookie_sid = cur != NULL ? cur->sid : NULL;
    end.hint = hint.sub != NULL ? &hint : NULL;
    if ((ret = hub_store_write(idp->store, end_txn, &end)) != 0)
        hub_log_error("logout: cannot end the session: %s", hub_strerror(ret));
    idp_session_clear_cookie(idp, req);
    for (i = 0; i != 2; ++i) {
        if (end.ended[i] != NULL) {
            idp_logout_notify(idp, end.ended[i]);
            idp_session_free(end.ended[i]);
        }
    }
    if (cur != NULL)
        idp_session_free(cur);
    if (ret != 0) {
        hub_send_html_error(req, 500, "Sign-out failed", "The session could not be ended. Please try again.");
        return 0;
    }
    if (v[1] != NULL)
        send_back(req, v[1], v[2]);
    else
        hub_send_html(req, 200, signed_out_page, sizeof(signed_out_page) - 1);
    return 0;
bad_request:
    hub_send_html_error(req, 400, "Sign-out failed", "The request parameters could not be read.");
    return 0;
}

void idp_logout_register(idp_t *idp)
{
    hub_server_route(idp->server, LOGOUT_PATH, on_logout, idp);
}
