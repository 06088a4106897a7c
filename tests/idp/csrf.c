/* Tests idp/csrf.c: the stored key, tokens bound to a session or pre-session and to a purpose, and the forgeries the
 * old double-submit check let through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/store.h"
#include "idp/csrf.h"
#include "idp/ctx.h"
#include "idp/session.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

#define PRE_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define PRE_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

/* A request without a connection: enough for cookies in and out. */
typedef struct {
    h2o_req_t req;
} fake_req_t;

static void req_init(fake_req_t *r, const char *csrf_cookie_value)
{
    char hdr[256];
    memset(r, 0, sizeof(*r));
    h2o_mem_init_pool(&r->req.pool);
    if (csrf_cookie_value != NULL) {
        int n = snprintf(hdr, sizeof(hdr), "other=1; hub_test_csrf=%s", csrf_cookie_value);
        h2o_add_header(&r->req.pool, &r->req.headers, H2O_TOKEN_COOKIE, NULL, h2o_strdup(&r->req.pool, hdr, n).base, n);
    }
}

static void req_dispose(fake_req_t *r)
{
    h2o_mem_clear_pool(&r->req.pool);
}

/* The value (and attributes) of the csrf cookie the response set, or NULL; how many were set in *count. */
static const char *set_cookie(h2o_req_t *req, char *out, size_t size, char *attrs, size_t asize, int *count)
{
    static const char name[] = "hub_test_csrf=";
    const char *found = NULL;
    size_t i;

    *count = 0;
    for (i = 0; i != req->res.headers.size; ++i) {
        h2o_header_t *h = req->res.headers.entries + i;
        if (h->name != &H2O_TOKEN_SET_COOKIE->buf || h->value.len < sizeof(name) - 1 ||
            memcmp(h->value.base, name, sizeof(name) - 1) != 0)
            continue;
        ++*count;
        const char *v = h->value.base + sizeof(name) - 1, *end = memchr(v, ';', h->value.len - (sizeof(name) - 1));
        size_t vlen = end != NULL ? (size_t)(end - v) : h->value.len - (sizeof(name) - 1);
        if (vlen >= size || h->value.len >= asize)
            return NULL;
        memcpy(out, v, vlen);
        out[vlen] = '\0';
        memcpy(attrs, h->value.base, h->value.len);
        attrs[h->value.len] = '\0';
        found = out;
    }
    return found;
}

/* A form of up to two csrf_token fields (NULL = left out). */
static hub_form_t form_of(h2o_mem_pool_t *pool, const char *v1, const char *v2)
{
    hub_form_t f = {NULL, 0};
    const char *v[2] = {v1, v2};
    size_t i;

    f.items = h2o_mem_alloc_pool(pool, 2 * sizeof(*f.items));
    for (i = 0; i != 2; ++i) {
        if (v[i] == NULL)
            continue;
        f.items[f.n].name = h2o_strdup(pool, "csrf_token", SIZE_MAX);
        f.items[f.n].value = h2o_strdup(pool, v[i], SIZE_MAX);
        ++f.n;
    }
    return f;
}

/* ok() of one form field against a request with the given pre-session cookie and session. */
static int ok_with(idp_t *idp, const char *cookie, const idp_session_t *s, idp_csrf_purpose_t purpose, const char *field)
{
    fake_req_t r;
    hub_form_t f;
    int ok;

    req_init(&r, cookie);
    f = form_of(&r.req.pool, field, NULL);
    ok = idp_csrf_ok(idp, &r.req, s, purpose, &f);
    req_dispose(&r);
    return ok;
}

/* The token a request with this pre-session cookie and session gets (copied into out). */
static void token_for(idp_t *idp, const char *cookie, const idp_session_t *s, idp_csrf_purpose_t purpose, char out[64])
{
    fake_req_t r;
    req_init(&r, cookie);
    snprintf(out, 64, "%s", idp_csrf_token(idp, &r.req, s, purpose));
    req_dispose(&r);
}

static void test_key(const char *dir, idp_t *idp)
{
    hub_store_t *store = NULL;
    hub_txn_t *txn = NULL;
    uint8_t again[IDP_CSRF_KEY_LEN];
    hub_val_t v;

    CHECK(idp_csrf_key_load(idp->store, idp->csrf_key) == 0);
    CHECK(idp_csrf_key_load(idp->store, again) == 0);
    CHECK(memcmp(again, idp->csrf_key, sizeof(again)) == 0); /* created once */
    /* another handle on the same data dir (hubctl, another primary of the store) reads the same key */
    CHECK(hub_store_open(&store, dir) == 0);
    memset(again, 0, sizeof(again));
    CHECK(idp_csrf_key_load(store, again) == 0);
    CHECK(memcmp(again, idp->csrf_key, sizeof(again)) == 0);
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(hub_store_get(txn, HUB_T_SETTINGS, "secret:csrf", 11, &v) == 0 && v.len == 43);
    hub_store_read_end(txn);
    hub_store_close(store);
}

static int damage_key_txn(hub_txn_t *txn, void *arg)
{
    return hub_store_put(txn, HUB_T_SETTINGS, "secret:csrf", 11, arg, strlen(arg), 0, 0);
}

/* A damaged key is an error, never silently replaced (the tokens of every running node would change). */
static void test_damaged_key(void)
{
    char *dir = test_tmpdir("idp-csrf");
    hub_store_t *store = NULL;
    uint8_t key[IDP_CSRF_KEY_LEN];

    CHECK(hub_store_open(&store, dir) == 0);
    CHECK(hub_store_write(store, damage_key_txn, "short") == 0);
    CHECK(idp_csrf_key_load(store, key) == HUB_E_PARSE);
    CHECK(hub_store_write(store, damage_key_txn, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!") == 0);
    CHECK(idp_csrf_key_load(store, key) == HUB_E_PARSE);
    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
}

/* Before sign-in: a pre-session cookie is set, and the token is not the cookie (nothing to copy from one to the other). */
static void test_presession(idp_t *idp)
{
    char cookie[128], attrs[512], tok[64];
    const char *t1, *t2;
    fake_req_t r;
    hub_form_t f;
    int n;

    req_init(&r, NULL);
    t1 = idp_csrf_token(idp, &r.req, NULL, IDP_CSRF_LOGIN);
    t2 = idp_csrf_token(idp, &r.req, NULL, IDP_CSRF_LOGIN); /* a second form on the same page */
    CHECK(set_cookie(&r.req, cookie, sizeof(cookie), attrs, sizeof(attrs), &n) != NULL && n == 1);
    CHECK(hub_is_token(cookie, 32));
    CHECK(strstr(attrs, "HttpOnly") != NULL && strstr(attrs, "SameSite=Lax") != NULL && strstr(attrs, "Path=/") != NULL);
    CHECK(strstr(attrs, "Max-Age") == NULL); /* lives as long as the browser session */
    CHECK(strlen(t1) == 43 && strcmp(t1, t2) == 0 && strcmp(t1, cookie) != 0);
    snprintf(tok, sizeof(tok), "%s", t1);
    req_dispose(&r);

    /* the browser comes back with the cookie: same token, nothing set, and the form passes */
    char back[128];
    snprintf(back, sizeof(back), "%s", cookie);
    req_init(&r, back);
    CHECK(strcmp(idp_csrf_token(idp, &r.req, NULL, IDP_CSRF_LOGIN), tok) == 0);
    CHECK(set_cookie(&r.req, cookie, sizeof(cookie), attrs, sizeof(attrs), &n) == NULL && n == 0);
    f = form_of(&r.req.pool, tok, NULL);
    CHECK(idp_csrf_ok(idp, &r.req, NULL, IDP_CSRF_LOGIN, &f) == 1);
    req_dispose(&r);

    /* a malformed cookie is replaced by a new pre-session */
    req_init(&r, "abc");
    idp_csrf_token(idp, &r.req, NULL, IDP_CSRF_LOGIN);
    CHECK(set_cookie(&r.req, cookie, sizeof(cookie), attrs, sizeof(attrs), &n) != NULL && n == 1 && hub_is_token(cookie, 32));
    req_dispose(&r);

    /* rotation (at sign-in) sets a new pre-session, and forms on that response use it */
    token_for(idp, PRE_A, NULL, IDP_CSRF_LOGIN, tok);
    req_init(&r, PRE_A);
    idp_csrf_rotate(idp, &r.req);
    CHECK(set_cookie(&r.req, cookie, sizeof(cookie), attrs, sizeof(attrs), &n) != NULL && n == 1);
    CHECK(hub_is_token(cookie, 32) && strcmp(cookie, PRE_A) != 0);
    CHECK(strcmp(idp_csrf_token(idp, &r.req, NULL, IDP_CSRF_LOGIN), tok) != 0);
    req_dispose(&r);
    CHECK(ok_with(idp, cookie, NULL, IDP_CSRF_LOGIN, tok) == 0); /* the old token with the new cookie */
}

/* The old double-submit: any value was good when the cookie and the field carried it. */
static void test_attacker_chosen_pair(idp_t *idp)
{
    static const char *const values[] = {
        PRE_A, PRE_B, "abc", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    size_t i;

    for (i = 0; i != sizeof(values) / sizeof(values[0]); ++i) {
        CHECK(ok_with(idp, values[i], NULL, IDP_CSRF_LOGIN, values[i]) == 0);
        CHECK(ok_with(idp, values[i], NULL, IDP_CSRF_APPROVE, values[i]) == 0);
    }
}

static void test_bindings(idp_t *idp)
{
    idp_session_t sa = {.sid = "sidAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", .sub = "alice"};
    idp_session_t sb = {.sid = "sidBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", .sub = "alice"}; /* same user, another browser */
    char pre_a[64], pre_b[64], sess_a[64], sess_b[64], approve_a[64], logout_a[64];

    token_for(idp, PRE_A, NULL, IDP_CSRF_LOGIN, pre_a);
    token_for(idp, PRE_B, NULL, IDP_CSRF_LOGIN, pre_b);
    token_for(idp, PRE_A, &sa, IDP_CSRF_LOGIN, sess_a);
    token_for(idp, NULL, &sb, IDP_CSRF_LOGIN, sess_b);
    token_for(idp, NULL, &sa, IDP_CSRF_APPROVE, approve_a);
    token_for(idp, NULL, &sa, IDP_CSRF_LOGOUT, logout_a);
    CHECK(strcmp(pre_a, pre_b) != 0 && strcmp(sess_a, sess_b) != 0 && strcmp(pre_a, sess_a) != 0);
    CHECK(strcmp(approve_a, sess_a) != 0 && strcmp(approve_a, logout_a) != 0);

    /* each one where it belongs */
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, pre_a) == 1);
    CHECK(ok_with(idp, PRE_B, &sa, IDP_CSRF_LOGIN, sess_a) == 1); /* the session binds; the pre-session does not matter */
    CHECK(ok_with(idp, NULL, &sa, IDP_CSRF_APPROVE, approve_a) == 1);
    CHECK(ok_with(idp, NULL, &sa, IDP_CSRF_LOGOUT, logout_a) == 1);

    /* another pre-session's token, with or without the attacker's own cookie */
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, pre_b) == 0);
    CHECK(ok_with(idp, NULL, NULL, IDP_CSRF_LOGIN, pre_a) == 0);
    /* another session's token (same user, other browser) */
    CHECK(ok_with(idp, NULL, &sa, IDP_CSRF_LOGIN, sess_b) == 0);
    CHECK(ok_with(idp, NULL, &sb, IDP_CSRF_LOGIN, sess_a) == 0);
    /* a token from before sign-in, once signed in (the cookie still there) */
    CHECK(ok_with(idp, PRE_A, &sa, IDP_CSRF_LOGIN, pre_a) == 0);
    /* a session's token once the session is gone */
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, sess_a) == 0);
    /* one purpose's token for another */
    CHECK(ok_with(idp, NULL, &sa, IDP_CSRF_APPROVE, sess_a) == 0);
    CHECK(ok_with(idp, NULL, &sa, IDP_CSRF_LOGOUT, approve_a) == 0);
    CHECK(ok_with(idp, NULL, &sa, IDP_CSRF_APPROVE, logout_a) == 0);
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_APPROVE, pre_a) == 0);
}

static void test_malformed_fields(idp_t *idp)
{
    char tok[64], longer[80], shorter[64], flipped[64];
    fake_req_t r;
    hub_form_t f;

    token_for(idp, PRE_A, NULL, IDP_CSRF_LOGIN, tok);
    snprintf(longer, sizeof(longer), "%sA", tok);
    snprintf(shorter, sizeof(shorter), "%.42s", tok);
    snprintf(flipped, sizeof(flipped), "%s", tok);
    flipped[10] = flipped[10] == 'x' ? 'y' : 'x';
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, NULL) == 0);
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, "") == 0);
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, longer) == 0);
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, shorter) == 0);
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, flipped) == 0);
    /* the right token twice, or with another value, is refused */
    req_init(&r, PRE_A);
    f = form_of(&r.req.pool, tok, tok);
    CHECK(idp_csrf_ok(idp, &r.req, NULL, IDP_CSRF_LOGIN, &f) == 0);
    f = form_of(&r.req.pool, "x", tok);
    CHECK(idp_csrf_ok(idp, &r.req, NULL, IDP_CSRF_LOGIN, &f) == 0);
    req_dispose(&r);
    /* a sid longer than any session has gives an unusable token, not a crash */
    {
        char sid[300];
        memset(sid, 'a', sizeof(sid) - 1);
        sid[sizeof(sid) - 1] = '\0';
        idp_session_t odd = {.sid = sid, .sub = "x"};
        token_for(idp, NULL, &odd, IDP_CSRF_LOGIN, tok);
        CHECK(tok[0] == '\0');
        CHECK(ok_with(idp, NULL, &odd, IDP_CSRF_LOGIN, "") == 0);
    }
}

/* Another node's key (another data dir) makes other tokens: a token is worth nothing elsewhere. */
static void test_other_key(idp_t *idp)
{
    idp_t other = *idp;
    char tok[64];

    token_for(idp, PRE_A, NULL, IDP_CSRF_LOGIN, tok);
    hub_random_bytes(other.csrf_key, sizeof(other.csrf_key));
    CHECK(ok_with(&other, PRE_A, NULL, IDP_CSRF_LOGIN, tok) == 0);
    CHECK(ok_with(idp, PRE_A, NULL, IDP_CSRF_LOGIN, tok) == 1);
}

int main(void)
{
    char *dir = test_tmpdir("idp-csrf");
    hub_config_t cfg;
    hub_store_t *store = NULL;
    idp_t idp;

    hub_config_defaults(&cfg);
    if (hub_store_open(&store, dir) != 0) {
        printf("FAIL cannot open the store\n");
        return 1;
    }
    memset(&idp, 0, sizeof(idp));
    idp.cfg = &cfg;
    idp.store = store;
    snprintf(idp.csrf_cookie, sizeof(idp.csrf_cookie), "hub_test_csrf");

    test_key(dir, &idp);
    test_damaged_key();
    test_presession(&idp);
    test_attacker_chosen_pair(&idp);
    test_bindings(&idp);
    test_malformed_fields(&idp);
    test_other_key(&idp);

    hub_store_close(store);
    hub_config_dispose(&cfg);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/csrf");
}
