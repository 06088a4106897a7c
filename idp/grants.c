/* Codes, refresh tokens (rotation, reuse detection), access token jtis and consent grants in the store (the families they
 * belong to: idp/family.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "idp/grants.h"

/* ---- small JSON helpers ---- */

/* Sets name to s, or leaves it out when s is NULL. */
static void jset_str(json_t *obj, const char *name, const char *s)
{
    if (s != NULL)
        json_object_set_new(obj, name, json_string(s));
}

static void jset_uint(json_t *obj, const char *name, uint64_t v)
{
    json_object_set_new(obj, name, json_integer((json_int_t)v));
}

static void hash_of(char out[HUB_SECRET_HASH_LEN + 1], const char *secret, size_t len)
{
    hub_secret_hash(out, secret, len);
}

/* The store key of a code or refresh token: its first HUB_TIMED_CHARS characters (the time it was made,
 * hub_timed_token) then the hash of the whole, so the records a batch of requests writes are neighbours in the B-tree.
 * A token made before keys had that prefix is stored under its hash alone: token_get looks there when the first key
 * finds nothing. */
#define TOKEN_KEY_LEN (HUB_TIMED_CHARS + HUB_SECRET_HASH_LEN)
#define TOKEN_MAX 128 /* a longer presented token is none of ours */

static void token_key(char key[TOKEN_KEY_LEN + 1], const char *token, size_t len)
{
    memcpy(key, token, HUB_TIMED_CHARS);
    hash_of(key + HUB_TIMED_CHARS, token, len);
}

static void token_make(char out[44], char key[TOKEN_KEY_LEN + 1])
{
    hub_timed_token(out, 32);
    token_key(key, out, strlen(out));
}

/* Reads the record of a presented token from t into *obj and the key it is stored under into key; HUB_E_NOTFOUND when
 * there is none. */
static int token_get(hub_txn_t *txn, hub_table_t t, const char *token, size_t len, char key[TOKEN_KEY_LEN + 1], json_t **obj)
{
    int ret;

    if (len < HUB_TIMED_CHARS || len > TOKEN_MAX || !hub_is_b64url(token, HUB_TIMED_CHARS))
        return HUB_E_NOTFOUND;
    token_key(key, token, len);
    if ((ret = hub_store_get_json(txn, t, key, obj)) != HUB_E_NOTFOUND)
        return ret;
    memmove(key, key + HUB_TIMED_CHARS, HUB_SECRET_HASH_LEN + 1);
    return hub_store_get_json(txn, t, key, obj);
}

/* 1 when the family exists and is not revoked. */
static int family_live(hub_txn_t *txn, const char *id)
{
    idp_family_t *f = NULL;
    int live;
    if (id == NULL || idp_family_get(txn, id, &f) != 0)
        return 0;
    live = !f->revoked;
    idp_family_free(f);
    return live;
}

/* ---- authorization codes ---- */

int idp_code_create(hub_txn_t *txn, const idp_code_t *code, uint64_t ttl, char out[44])
{
    char key[TOKEN_KEY_LEN + 1];
    json_t *obj = json_object();
    int ret;

    token_make(out, key);
    jset_str(obj, "client_id", code->client_id);
    jset_str(obj, "redirect_uri", code->redirect_uri);
    jset_str(obj, "sub", code->sub);
    jset_str(obj, "sid", code->sid);
    jset_str(obj, "scope", code->scope);
    jset_str(obj, "nonce", code->nonce);
    jset_str(obj, "code_challenge", code->code_challenge);
    jset_str(obj, "family", code->family);
    jset_uint(obj, "auth_time", code->auth_time);
    json_object_set_new(obj, "used", json_false());
    ret = hub_store_put_json(txn, HUB_T_CODES, key, obj, hub_now() + ttl, HUB_STORE_NOOVERWRITE);
    json_decref(obj);
    return ret;
}

int idp_code_redeem(hub_txn_t *txn, const char *code, size_t len, const char *client_id, idp_code_t **out)
{
    char key[TOKEN_KEY_LEN + 1];
    json_t *obj = NULL;
    idp_code_t *c;
    uint64_t exp = 0;
    int ret;

    if ((ret = token_get(txn, HUB_T_CODES, code, len, key, &obj)) != 0)
        return ret;
    if ((ret = hub_store_expiry(txn, HUB_T_CODES, key, strlen(key), &exp)) != 0)
        goto out;
    if (json_is_true(json_object_get(obj, "used"))) {
        /* RFC 6749 §4.1.2: a replayed code revokes everything issued from it, when its own client presents it (no other
         * client can take another's tokens back this way) */
        const char *family = json_string_value(json_object_get(obj, "family")),
                   *owner = json_string_value(json_object_get(obj, "client_id"));
        if (family != NULL && owner != NULL && client_id != NULL && strcmp(owner, client_id) == 0 &&
            (ret = idp_family_revoke(txn, family)) != 0 && ret != HUB_E_NOTFOUND)
            goto out;
        ret = HUB_E_DENIED;
        goto out;
    }
    json_object_set_new(obj, "used", json_true());
    if ((ret = hub_store_put_json(txn, HUB_T_CODES, key, obj, exp, 0)) != 0)
        goto out;
    c = hub_xcalloc(1, sizeof(*c));
    c->client_id = hub_json_strdup(obj, "client_id");
    c->redirect_uri = hub_json_strdup(obj, "redirect_uri");
    c->sub = hub_json_strdup(obj, "sub");
    c->sid = hub_json_strdup(obj, "sid");
    c->scope = hub_json_strdup(obj, "scope");
    c->nonce = hub_json_strdup(obj, "nonce");
    c->code_challenge = hub_json_strdup(obj, "code_challenge");
    c->family = hub_json_strdup(obj, "family");
    c->auth_time = hub_json_uint(obj, "auth_time");
    c->used = 0;
    *out = c;
out:
    json_decref(obj);
    return ret;
}

void idp_code_free(idp_code_t *c)
{
    if (c == NULL)
        return;
    free(c->client_id);
    free(c->redirect_uri);
    free(c->sub);
    free(c->sid);
    free(c->scope);
    free(c->nonce);
    free(c->code_challenge);
    free(c->family);
    free(c);
}

/* ---- refresh tokens ---- */

static json_t *refresh_encode(const idp_refresh_t *r)
{
    json_t *obj = json_object();
    jset_str(obj, "family", r->family);
    jset_str(obj, "client_id", r->client_id);
    jset_str(obj, "sub", r->sub);
    jset_str(obj, "sid", r->sid);
    jset_str(obj, "scope", r->scope);
    jset_uint(obj, "auth_time", r->auth_time);
    jset_uint(obj, "expires_at", r->expires_at);
    jset_str(obj, "successor_hash", r->successor_hash);
    jset_uint(obj, "rotated_at", r->rotated_at);
    if (r->retried)
        json_object_set_new(obj, "retried", json_true());
    return obj;
}

static idp_refresh_t *refresh_decode(const json_t *obj)
{
    idp_refresh_t *r = hub_xcalloc(1, sizeof(*r));
    r->family = hub_json_strdup(obj, "family");
    r->client_id = hub_json_strdup(obj, "client_id");
    r->sub = hub_json_strdup(obj, "sub");
    r->sid = hub_json_strdup(obj, "sid");
    r->scope = hub_json_strdup(obj, "scope");
    r->auth_time = hub_json_uint(obj, "auth_time");
    r->expires_at = hub_json_uint(obj, "expires_at");
    r->successor_hash = hub_json_strdup(obj, "successor_hash");
    r->rotated_at = hub_json_uint(obj, "rotated_at");
    r->retried = json_is_true(json_object_get(obj, "retried"));
    return r;
}

/* Writes a new token for rec into out and its key into key; the family extended to cover it and listed under its user. */
static int refresh_write(hub_txn_t *txn, const idp_refresh_t *rec, char out[44], char key[TOKEN_KEY_LEN + 1])
{
    idp_refresh_t copy = *rec;
    json_t *obj;
    int ret;

    copy.successor_hash = NULL;
    copy.rotated_at = 0;
    copy.retried = 0;
    token_make(out, key);
    obj = refresh_encode(&copy);
    ret = hub_store_put_json(txn, HUB_T_REFRESH, key, obj, rec->expires_at, HUB_STORE_NOOVERWRITE);
    json_decref(obj);
    /* the family outlives everything issued from it, so revocation keeps covering this token */
    if (ret == 0 && rec->family != NULL && (ret = idp_family_extend(txn, rec->family, rec->expires_at)) == HUB_E_NOTFOUND)
        ret = 0;
    /* a read when the listing outlives the token (the extension above keeps its own family's listing so); a write for a
     * listing an older version made at the exchange with an expiry of its own, or a family it never listed */
    if (ret == 0)
        ret = idp_family_list_user(txn, rec->family, rec->sub, rec->client_id, rec->scope, rec->expires_at);
    return ret;
}

int idp_refresh_create(hub_txn_t *txn, const idp_refresh_t *rec, char out[44])
{
    char key[TOKEN_KEY_LEN + 1];
    return refresh_write(txn, rec, out, key);
}

/* Decodes the record obj stored under key; HUB_E_NOTFOUND (and *out untouched) when it has expired. */
static int refresh_read(json_t *obj, const char *key, idp_refresh_t **out)
{
    idp_refresh_t *r = refresh_decode(obj);

    json_decref(obj);
    if (r->expires_at <= hub_now()) {
        idp_refresh_free(r);
        return HUB_E_NOTFOUND;
    }
    r->key = hub_strdup(key);
    *out = r;
    return 0;
}

/* Reads the record stored under key (a successor_hash); HUB_E_NOTFOUND when absent or expired. */
static int refresh_get_key(hub_txn_t *txn, const char *key, idp_refresh_t **out)
{
    json_t *obj = NULL;
    int ret = hub_store_get_json(txn, HUB_T_REFRESH, key, &obj);
    return ret != 0 ? ret : refresh_read(obj, key, out);
}

int idp_refresh_get(hub_txn_t *txn, const char *token, size_t len, idp_refresh_t **out)
{
    char key[TOKEN_KEY_LEN + 1];
    json_t *obj = NULL;
    int ret = token_get(txn, HUB_T_REFRESH, token, len, key, &obj);
    return ret != 0 ? ret : refresh_read(obj, key, out);
}

/* Rewrites the record of r under its key (its expiry unchanged). */
static int refresh_put(hub_txn_t *txn, const idp_refresh_t *r)
{
    json_t *obj = refresh_encode(r);
    int ret = hub_store_put_json(txn, HUB_T_REFRESH, r->key, obj, r->expires_at, 0);
    json_decref(obj);
    return ret;
}

/* Issues the token that follows r (same family, scope, user and session) into out; its key into next_key. */
static int refresh_next(hub_txn_t *txn, const idp_refresh_t *r, uint64_t ttl, char out[44], char next_key[TOKEN_KEY_LEN + 1])
{
    idp_refresh_t next = *r;

    next.expires_at = hub_now() + ttl;
    return refresh_write(txn, &next, out, next_key);
}

/* A reuse of r that may be honoured as the one retry: r was rotated at most grace_s seconds ago, never retried, its
 * family is live and its successor is the family's current token. On success the successor is superseded by a new
 * token (out) and both old tokens are marked retried. HUB_E_DENIED when it may not. */
static int refresh_retry(hub_txn_t *txn, idp_refresh_t *r, uint64_t ttl, uint64_t grace_s, char out[44])
{
    char next_key[TOKEN_KEY_LEN + 1];
    idp_refresh_t *succ = NULL;
    int ret;

    if (r->retried || hub_now() > r->rotated_at + grace_s || !family_live(txn, r->family))
        return HUB_E_DENIED;
    if ((ret = refresh_get_key(txn, r->successor_hash, &succ)) != 0)
        return ret == HUB_E_NOTFOUND ? HUB_E_DENIED : ret;
    if (succ->successor_hash != NULL || succ->family == NULL || r->family == NULL || strcmp(succ->family, r->family) != 0) {
        ret = HUB_E_DENIED; /* r is an older ancestor: the grace covers only the parent of the current token */
        goto out;
    }
    if ((ret = refresh_next(txn, r, ttl, out, next_key)) != 0)
        goto out;
    free(succ->successor_hash);
    succ->successor_hash = hub_strdup(next_key);
    succ->rotated_at = hub_now();
    succ->retried = 1;
    r->retried = 1;
    if ((ret = refresh_put(txn, succ)) == 0)
        ret = refresh_put(txn, r);
out:
    idp_refresh_free(succ);
    return ret;
}

int idp_refresh_rotate(hub_txn_t *txn, idp_refresh_t *r, uint64_t ttl, uint64_t grace_s, char out[44])
{
    char next_key[TOKEN_KEY_LEN + 1];
    int ret;

    if (r->key == NULL)
        return HUB_E_NOTFOUND;
    if (r->successor_hash != NULL) {
        if ((ret = refresh_retry(txn, r, ttl, grace_s, out)) != HUB_E_DENIED)
            return ret;
        /* any other reuse: assume the token was stolen */
        if (r->family != NULL && (ret = idp_family_revoke(txn, r->family)) != 0 && ret != HUB_E_NOTFOUND)
            return ret;
        return HUB_E_DENIED;
    }
    if (!family_live(txn, r->family))
        return HUB_E_DENIED;
    if ((ret = refresh_next(txn, r, ttl, out, next_key)) != 0)
        return ret;
    free(r->successor_hash);
    r->successor_hash = hub_strdup(next_key);
    r->rotated_at = hub_now();
    /* the old record only has to live long enough to detect reuse */
    return refresh_put(txn, r);
}

int idp_refresh_refused_reuse(hub_txn_t *txn, const char *token, size_t len)
{
    idp_refresh_t *r = NULL;
    int ret;

    if ((ret = idp_refresh_get(txn, token, len, &r)) != 0)
        return ret == HUB_E_NOTFOUND ? 0 : ret;
    ret = 0;
    if (r->successor_hash != NULL && r->family != NULL) {
        ret = idp_family_revoke(txn, r->family);
        ret = ret == 0 || ret == HUB_E_NOTFOUND ? 1 : ret;
    }
    idp_refresh_free(r);
    return ret;
}

int idp_refresh_revoke(hub_txn_t *txn, const char *token, size_t len, const char *client_id)
{
    idp_refresh_t *r = NULL;
    int ret;
    if ((ret = idp_refresh_get(txn, token, len, &r)) != 0)
        return ret;
    if (client_id != NULL && (r->client_id == NULL || strcmp(r->client_id, client_id) != 0))
        ret = HUB_E_DENIED;
    else if (r->family != NULL)
        ret = idp_family_revoke(txn, r->family);
    idp_refresh_free(r);
    return ret == HUB_E_NOTFOUND ? 0 : ret;
}

void idp_refresh_free(idp_refresh_t *r)
{
    if (r == NULL)
        return;
    free(r->family);
    free(r->client_id);
    free(r->sub);
    free(r->sid);
    free(r->scope);
    free(r->successor_hash);
    free(r->key);
    free(r);
}

/* ---- issued access tokens, by jti ---- */

int idp_jti_revoke(hub_txn_t *txn, const char *jti, uint64_t exp)
{
    json_t *obj = json_object();
    int ret;
    jset_uint(obj, "exp", exp);
    ret = hub_store_put_json(txn, HUB_T_REVOKED, jti, obj, exp, 0);
    json_decref(obj);
    return ret;
}

int idp_jti_is_active(hub_txn_t *txn, const char *jti)
{
    const char *dot;
    hub_val_t val;
    json_t *obj = NULL;
    int active;

    if (jti == NULL || *jti == '\0')
        return 0;
    if (hub_store_get(txn, HUB_T_REVOKED, jti, strlen(jti), &val) == 0)
        return 0;
    if ((dot = strchr(jti, '.')) != NULL) { /* a user's token names its family (idp_mint_at_id) */
        char family[IDP_FAMILY_ID_LEN + 1];
        size_t n = (size_t)(dot - jti);
        if (n != IDP_FAMILY_ID_LEN)
            return 0;
        memcpy(family, jti, n);
        family[n] = '\0';
        return family_live(txn, family);
    }
    /* client_credentials' (never recorded: only dies by expiry or REVOKED), or one an older version recorded under
     * TOKENS with its family, until it expires */
    if (hub_store_get_json(txn, HUB_T_TOKENS, jti, &obj) != 0)
        return 1;
    const char *family = json_string_value(json_object_get(obj, "family"));
    active = family == NULL || family_live(txn, family);
    json_decref(obj);
    return active;
}

/* ---- consent grants ---- */

static void grant_key(char *buf, size_t size, const char *sub, const char *client_id)
{
    size_t a = strlen(sub), b = strlen(client_id);
    if (a + b + 2 > size) {
        buf[0] = '\0';
        return;
    }
    memcpy(buf, sub, a);
    buf[a] = '\n';
    memcpy(buf + a + 1, client_id, b + 1);
}

int idp_consent_put(hub_txn_t *txn, const char *sub, const char *client_id, const char *scope, uint64_t expires_at)
{
    char key[512];
    json_t *obj;
    int ret;

    grant_key(key, sizeof(key), sub, client_id);
    if (key[0] == '\0')
        return HUB_E_INVAL;
    obj = json_object();
    jset_str(obj, "scope", scope);
    jset_uint(obj, "expires_at", expires_at);
    jset_uint(obj, "at", hub_now());
    ret = hub_store_put_json(txn, HUB_T_GRANTS, key, obj, expires_at, 0);
    json_decref(obj);
    return ret;
}

int idp_consent_scope(hub_txn_t *txn, const char *sub, const char *client_id, char **scope)
{
    char key[512];
    json_t *obj = NULL;
    const char *granted;
    int ret;

    *scope = NULL;
    grant_key(key, sizeof(key), sub, client_id);
    if (key[0] == '\0')
        return 0;
    if ((ret = hub_store_get_json(txn, HUB_T_GRANTS, key, &obj)) != 0)
        return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
    if ((hub_json_uint(obj, "expires_at") == 0 || hub_json_uint(obj, "expires_at") > hub_now()) &&
        (granted = json_string_value(json_object_get(obj, "scope"))) != NULL)
        *scope = hub_strdup(granted);
    json_decref(obj);
    return 0;
}

int idp_scope_covers(const char *granted, const char *scope)
{
    const char *p;

    if (granted == NULL)
        return 0;
    for (p = scope; *p != '\0';) {
        size_t n;
        while (*p == ' ')
            ++p;
        if (*p == '\0')
            break;
        for (n = 0; p[n] != '\0' && p[n] != ' '; ++n)
            ;
        /* look for the word p[0..n) in granted */
        const char *g = granted;
        int found = 0;
        while (*g != '\0' && !found) {
            size_t m;
            while (*g == ' ')
                ++g;
            for (m = 0; g[m] != '\0' && g[m] != ' '; ++m)
                ;
            found = m == n && m != 0 && memcmp(g, p, n) == 0;
            g += m;
        }
        if (!found)
            return 0;
        p += n;
    }
    return 1;
}

int idp_consent_covers(hub_txn_t *txn, const char *sub, const char *client_id, const char *scope)
{
    char *granted = NULL;
    int covers = idp_consent_scope(txn, sub, client_id, &granted) == 0 && idp_scope_covers(granted, scope);

    free(granted);
    return covers;
}

int idp_consent_revoke(hub_txn_t *txn, const char *sub, const char *client_id)
{
    char key[512];
    grant_key(key, sizeof(key), sub, client_id);
    if (key[0] == '\0')
        return HUB_E_INVAL;
    return hub_store_del(txn, HUB_T_GRANTS, key, strlen(key));
}

typedef struct {
    int (*cb)(void *arg, const idp_consent_t *g);
    void *arg;
} consent_walk_t;

static int consent_cb(void *arg, hub_val_t key, hub_val_t val)
{
    consent_walk_t *w = arg;
    const char *nl = memchr(key.data, '\n', key.len);
    char client_id[512];
    json_t *obj;
    int ret;

    if (nl == NULL || (size_t)((const char *)key.data + key.len - nl) > sizeof(client_id))
        return 0;
    memcpy(client_id, nl + 1, (const char *)key.data + key.len - nl - 1);
    client_id[(const char *)key.data + key.len - nl - 1] = '\0';
    if ((obj = json_loadb(val.data, val.len, 0, NULL)) == NULL)
        return 0;
    idp_consent_t g = {client_id, json_string_value(json_object_get(obj, "scope")),
                       (uint64_t)json_integer_value(json_object_get(obj, "at")),
                       (uint64_t)json_integer_value(json_object_get(obj, "expires_at"))};
    ret = w->cb(w->arg, &g);
    json_decref(obj);
    return ret;
}

int idp_consent_each(hub_txn_t *txn, const char *sub, int (*cb)(void *arg, const idp_consent_t *g), void *arg)
{
    consent_walk_t w = {cb, arg};
    char prefix[512];
    int n = snprintf(prefix, sizeof(prefix), "%s\n", sub);

    if (n <= 0 || (size_t)n >= sizeof(prefix))
        return 0;
    return hub_store_each(txn, HUB_T_GRANTS, prefix, (size_t)n, consent_cb, &w);
}
