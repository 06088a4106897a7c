/* CSRF tokens bound to the session or pre-session and to the form's purpose, under a server key kept in the store. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/resp.h"
#include "idp/csrf.h"
#include "hub/util.h"

#define KEY_NAME "secret:csrf" /* in SETTINGS: base64url of the key */
#define KEY_TEXT_LEN HUB_B64URL_LEN(IDP_CSRF_KEY_LEN)
#define PRESESSION_BYTES 32
#define TOKEN_LEN HUB_B64URL_LEN(32) /* base64url of an HMAC-SHA256 */
#define MAX_BINDING 128              /* a sid or a pre-session id; both are far shorter */

static const char *const purpose_names[IDP_CSRF__COUNT] = {
    [IDP_CSRF_LOGIN] = "login",
    [IDP_CSRF_APPROVE] = "approve",
    [IDP_CSRF_LOGOUT] = "logout",
    [IDP_CSRF_CONSOLE] = "console", /* every change a console makes (SPEC §11) */
};

/* ---- the key ---- */

/* Copies a stored key out of the transaction; HUB_E_NOTFOUND when there is none. */
static int read_key(hub_txn_t *txn, uint8_t key[IDP_CSRF_KEY_LEN])
{
    uint8_t raw[IDP_CSRF_KEY_LEN + 1];
    char text[KEY_TEXT_LEN + 1];
    hub_val_t v;
    int ret;

    if ((ret = hub_store_get(txn, HUB_T_SETTINGS, KEY_NAME, strlen(KEY_NAME), &v)) != 0)
        return ret;
    if (v.len != KEY_TEXT_LEN)
        return HUB_E_PARSE;
    memcpy(text, v.data, KEY_TEXT_LEN);
    text[KEY_TEXT_LEN] = '\0';
    ret = hub_b64url_decode(raw, text, KEY_TEXT_LEN) == IDP_CSRF_KEY_LEN ? 0 : HUB_E_PARSE;
    if (ret == 0)
        memcpy(key, raw, IDP_CSRF_KEY_LEN);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    return ret;
}

/* Reads the key, or creates it when there is none yet (two processes starting at once agree: the write lock orders
 * them and the second one reads the first one's key). */
static int key_txn(hub_txn_t *txn, void *arg)
{
    uint8_t *key = arg;
    char text[KEY_TEXT_LEN + 1];
    int ret;

    if ((ret = read_key(txn, key)) != HUB_E_NOTFOUND)
        return ret;
    hub_random_bytes(key, IDP_CSRF_KEY_LEN);
    hub_b64url_encode(text, key, IDP_CSRF_KEY_LEN);
    ret = hub_store_put(txn, HUB_T_SETTINGS, KEY_NAME, strlen(KEY_NAME), text, KEY_TEXT_LEN, 0, HUB_STORE_NOOVERWRITE);
    OPENSSL_cleanse(text, sizeof(text));
    return ret;
}

int idp_csrf_key_load(hub_store_t *store, uint8_t key[IDP_CSRF_KEY_LEN])
{
    hub_txn_t *txn = NULL;
    int ret;

    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ret = read_key(txn, key);
    hub_store_read_end(txn);
    if (ret == HUB_E_NOTFOUND)
        ret = hub_store_write(store, key_txn, key);
    return ret;
}

/* ---- tokens ---- */

/* token = base64url(HMAC-SHA256(key, "hub-csrf-1|" purpose "|" kind "|" id)); kind 's' binds to a session's sid,
 * 'p' to a pre-session id. Every field but the last has a fixed alphabet, so no two inputs read alike. Returns 0, or
 * -1 (out is then empty, which no form matches) for an id longer than any this module makes. */
static int make_token(const idp_t *idp, idp_csrf_purpose_t purpose, char kind, const char *id, char out[TOKEN_LEN + 1])
{
    char msg[64 + MAX_BINDING];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n;

    out[0] = '\0';
    if (strlen(id) > MAX_BINDING)
        return -1;
    n = snprintf(msg, sizeof(msg), "hub-csrf-1|%s|%c|%s", purpose_names[purpose], kind, id);
    if (HMAC(EVP_sha256(), idp->csrf_key, IDP_CSRF_KEY_LEN, (const unsigned char *)msg, (size_t)n, mac, &maclen) == NULL ||
        maclen != 32)
        hub_fatal("csrf: HMAC-SHA256 failed");
    hub_b64url_encode(out, mac, 32);
    return 0;
}

/* The pre-session this response already set (a second form on the same page), or NULL. */
static const char *set_on_response(idp_t *idp, h2o_req_t *req)
{
    size_t i, nlen = strlen(idp->csrf_cookie);

    for (i = 0; i != req->res.headers.size; ++i) {
        const h2o_header_t *h = req->res.headers.entries + i;
        if (h->name == &H2O_TOKEN_SET_COOKIE->buf && h->value.len > nlen + PRESESSION_BYTES &&
            memcmp(h->value.base, idp->csrf_cookie, nlen) == 0 && h->value.base[nlen] == '=') {
            const char *v = h2o_strdup(&req->pool, h->value.base + nlen + 1, HUB_B64URL_LEN(PRESESSION_BYTES)).base;
            if (hub_is_token(v, PRESESSION_BYTES))
                return v;
        }
    }
    return NULL;
}

static const char *new_presession(idp_t *idp, h2o_req_t *req)
{
    char *id = h2o_mem_alloc_pool(&req->pool, HUB_B64URL_LEN(PRESESSION_BYTES) + 1);

    hub_random_token(id, PRESESSION_BYTES);
    hub_set_cookie(req, idp->csrf_cookie, id, -1, idp->secure_cookies);
    return id;
}

const char *idp_csrf_token(idp_t *idp, h2o_req_t *req, const idp_session_t *s, idp_csrf_purpose_t purpose)
{
    char *tok = h2o_mem_alloc_pool(&req->pool, TOKEN_LEN + 1);
    const char *pre;

    if (s != NULL) {
        make_token(idp, purpose, 's', s->sid, tok);
        return tok;
    }
    if ((pre = set_on_response(idp, req)) == NULL) {
        pre = hub_req_cookie(&req->pool, req, idp->csrf_cookie);
        if (!hub_is_token(pre, PRESESSION_BYTES))
            pre = new_presession(idp, req);
    }
    make_token(idp, purpose, 'p', pre, tok);
    return tok;
}

/* Whether the browser says the request comes from a page of another origin. A pre-session is only a cookie, which a
 * page on another port of this host or on a sibling host can plant (with its token) before it posts the sign-in form
 * in the user's name: forms are posted from the node's own pages, and browsers that send Sec-Fetch-Site say so. (Not
 * Origin: under Referrer-Policy: no-referrer a browser sends "Origin: null" for the node's own forms too.) */
static int from_another_origin(h2o_req_t *req)
{
    const char *site = hub_req_header(&req->pool, req, "sec-fetch-site");
    return site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
}

int idp_csrf_ok(idp_t *idp, h2o_req_t *req, const idp_session_t *s, idp_csrf_purpose_t purpose, const hub_form_t *form)
{
    const char *field = hub_form_get(form, "csrf_token"), *pre = NULL;
    char want[TOKEN_LEN + 1];

    if (field == NULL || hub_form_count(form, "csrf_token") != 1 || strlen(field) != TOKEN_LEN || from_another_origin(req))
        return 0;
    if (s == NULL) {
        pre = hub_req_cookie(&req->pool, req, idp->csrf_cookie);
        if (!hub_is_token(pre, PRESESSION_BYTES))
            return 0;
    }
    if (make_token(idp, purpose, s != NULL ? 's' : 'p', s != NULL ? s->sid : pre, want) != 0)
        return 0;
    return hub_ct_equal(want, TOKEN_LEN, field, TOKEN_LEN);
}

void idp_csrf_rotate(idp_t *idp, h2o_req_t *req)
{
    new_presession(idp, req);
}
