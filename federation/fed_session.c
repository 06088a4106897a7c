/* Local sessions of a secondary: records under hash(cookie), plus "sid:<sid>:<hash>" and
 * "sub:<sub>:<hash>" index keys (same expiry) found with prefix scans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include "federation/fed_session.h"
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/util.h"

#define END_BATCH 256 /* sessions ended per scan; the scan repeats until none is left */
#define INDEX_KEY_MAX (4 + FED_SESSION_ID_MAX + 1 + HUB_SECRET_HASH_LEN + 1)

static int valid_cookie(const char *cookie)
{
    size_t i;
    if (cookie == NULL || strlen(cookie) != FED_SESSION_COOKIE_LEN)
        return 0;
    for (i = 0; i != FED_SESSION_COOKIE_LEN; ++i) {
        char c = cookie[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static int valid_id(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= FED_SESSION_ID_MAX;
}

static size_t index_key(char *out, const char *kind, const char *id, const char *hash)
{
    int n = snprintf(out, INDEX_KEY_MAX, "%s:%s:%s", kind, id, hash != NULL ? hash : "");
    return (size_t)n;
}

typedef struct st_create_args_t {
    const char *hash;
    json_t *rec;
    uint64_t exp;
    const char *sid, *sub;
} create_args_t;

static int create_txn(hub_txn_t *txn, void *arg)
{
    create_args_t *a = arg;
    char key[INDEX_KEY_MAX];
    size_t klen;
    int ret;

    if ((ret = hub_store_put_json(txn, HUB_T_FED_SESSIONS, a->hash, a->rec, a->exp, HUB_STORE_NOOVERWRITE)) != 0)
        return ret;
    klen = index_key(key, "sub", a->sub, a->hash);
    if ((ret = hub_store_put(txn, HUB_T_FED_SESSIONS, key, klen, "1", 1, a->exp, 0)) != 0)
        return ret;
    if (a->sid != NULL) {
        klen = index_key(key, "sid", a->sid, a->hash);
        if ((ret = hub_store_put(txn, HUB_T_FED_SESSIONS, key, klen, "1", 1, a->exp, 0)) != 0)
            return ret;
    }
    return 0;
}

static void set_str(json_t *obj, const char *name, const char *v)
{
    if (v != NULL)
        json_object_set_new(obj, name, json_string(v));
}

static void set_roles(json_t *obj, const fed_identity_t *id)
{
    json_t *roles = json_array();
    size_t i;
    for (i = 0; i != id->nroles; ++i)
        json_array_append_new(roles, json_string(id->roles[i]));
    json_object_set_new(obj, "roles", roles);
}

/* Writes what a refresh may change: due, life and, when given, the refresh token. */
static void set_revalidation(json_t *rec, const char *refresh_token, uint64_t due, uint64_t life)
{
    set_str(rec, "rt", refresh_token);
    json_object_set_new(rec, "due", json_integer((json_int_t)due));
    json_object_set_new(rec, "life", json_integer((json_int_t)life));
}

static int valid_rt(const char *rt)
{
    return rt == NULL || (rt[0] != '\0' && strlen(rt) <= FED_REFRESH_TOKEN_MAX);
}

int fed_session_create(hub_store_t *store, fed_session_t *s, uint64_t ttl, char cookie[FED_SESSION_COOKIE_LEN + 1])
{
    const fed_identity_t *id = &s->id;
    create_args_t a = {.hash = s->hash, .exp = hub_now() + ttl, .sub = id->sub, .sid = id->sid};
    int ret;

    if (!valid_id(id->sub) || (id->sid != NULL && !valid_id(id->sid)) || !valid_rt(s->refresh_token))
        return HUB_E_INVAL;
    a.rec = json_pack("{s:s,s:I}", "sub", id->sub, "exp", (json_int_t)a.exp);
    set_roles(a.rec, id);
    set_str(a.rec, "sid", id->sid);
    set_str(a.rec, "name", id->name);
    set_str(a.rec, "email", id->email);
    set_str(a.rec, "client_id", id->client_id);
    set_str(a.rec, "id_token", s->id_token);
    set_revalidation(a.rec, s->refresh_token, s->due, s->life);
    hub_random_token(cookie, 32);
    hub_secret_hash(s->hash, cookie, FED_SESSION_COOKIE_LEN);
    ret = hub_store_write(store, create_txn, &a);
    json_decref(a.rec);
    return ret;
}

static const char *pool_str(h2o_mem_pool_t *pool, const json_t *rec, const char *name)
{
    const char *v = json_string_value(json_object_get(rec, name));
    return v != NULL ? h2o_strdup(pool, v, SIZE_MAX).base : NULL;
}

int fed_session_load_hash(hub_store_t *store, const char *hash, h2o_mem_pool_t *pool, fed_session_t *s)
{
    hub_txn_t *txn;
    json_t *rec = NULL;
    int ret;

    memset(s, 0, sizeof(*s));
    if (strlen(hash) != HUB_SECRET_HASH_LEN)
        return HUB_E_NOTFOUND;
    memcpy(s->hash, hash, HUB_SECRET_HASH_LEN + 1);
    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ret = hub_store_get_json(txn, HUB_T_FED_SESSIONS, hash, &rec);
    hub_store_read_end(txn);
    if (ret != 0)
        return ret == HUB_E_PARSE ? HUB_E_NOTFOUND : ret;
    fed_identity_from_claims(pool, rec, &s->id);
    if (s->id.sub == NULL || s->id.exp <= hub_now()) {
        ret = HUB_E_NOTFOUND;
        goto out;
    }
    s->id_token = pool_str(pool, rec, "id_token");
    s->refresh_token = pool_str(pool, rec, "rt");
    s->due = hub_json_uint(rec, "due"); /* absent (a session from before re-validation): due at once */
    s->life = hub_json_uint(rec, "life");
out:
    json_decref(rec);
    return ret;
}

int fed_session_load(hub_store_t *store, const char *cookie, h2o_mem_pool_t *pool, fed_session_t *s)
{
    char hash[HUB_SECRET_HASH_LEN + 1];

    memset(s, 0, sizeof(*s));
    if (!valid_cookie(cookie))
        return HUB_E_NOTFOUND;
    hub_secret_hash(hash, cookie, FED_SESSION_COOKIE_LEN);
    return fed_session_load_hash(store, hash, pool, s);
}

int fed_session_get(hub_store_t *store, const char *cookie, h2o_mem_pool_t *pool, fed_identity_t *id, const char **id_token)
{
    fed_session_t s;
    int ret = fed_session_load(store, cookie, pool, &s);

    *id = s.id;
    if (id_token != NULL)
        *id_token = ret == 0 ? s.id_token : NULL;
    return ret;
}

typedef struct st_update_args_t {
    const char *hash;
    const fed_session_t *fresh; /* NULL: postpone only */
    const char *refresh_token;
    uint64_t due, life;
} update_args_t;

static int update_txn(hub_txn_t *txn, void *arg)
{
    update_args_t *a = arg;
    json_t *rec = NULL;
    uint64_t exp = 0;
    int ret;

    if ((ret = hub_store_get_json(txn, HUB_T_FED_SESSIONS, a->hash, &rec)) != 0 ||
        (ret = hub_store_expiry(txn, HUB_T_FED_SESSIONS, a->hash, strlen(a->hash), &exp)) != 0)
        goto out;
    if (a->fresh != NULL) {
        const fed_identity_t *id = &a->fresh->id;
        const char *sub = json_string_value(json_object_get(rec, "sub"));
        if (sub == NULL || id->sub == NULL || strcmp(sub, id->sub) != 0) {
            ret = HUB_E_DENIED;
            goto out;
        }
        set_roles(rec, id);
        set_str(rec, "name", id->name);
        set_str(rec, "email", id->email);
        set_str(rec, "id_token", a->fresh->id_token);
    }
    set_revalidation(rec, a->refresh_token, a->due, a->fresh != NULL ? a->life : hub_json_uint(rec, "life"));
    ret = hub_store_put_json(txn, HUB_T_FED_SESSIONS, a->hash, rec, exp, 0); /* the session's end does not move */
out:
    json_decref(rec);
    return ret == HUB_E_PARSE ? HUB_E_NOTFOUND : ret;
}

int fed_session_update(hub_store_t *store, const char *hash, const fed_session_t *fresh)
{
    update_args_t a = {hash, fresh, fresh->refresh_token, fresh->due, fresh->life};
    if (!valid_rt(fresh->refresh_token))
        return HUB_E_INVAL;
    return hub_store_write(store, update_txn, &a);
}

int fed_session_postpone(hub_store_t *store, const char *hash, const char *refresh_token, uint64_t due)
{
    update_args_t a = {hash, NULL, refresh_token, due, 0};
    if (!valid_rt(refresh_token))
        return HUB_E_INVAL;
    return hub_store_write(store, update_txn, &a);
}

void fed_session_csrf(const uint8_t key[HUB_KEY_LEN], const char *cookie, char out[FED_CSRF_LEN + 1])
{
    uint8_t msg[sizeof("logout") + HUB_SECRET_HASH_LEN + 1], mac[HUB_MAC_LEN];
    size_t len = sizeof("logout"); /* the label with its NUL: nothing else starts with "logout\0" */

    memcpy(msg, "logout", len);
    if (valid_cookie(cookie)) {
        hub_secret_hash((char *)msg + len, cookie, FED_SESSION_COOKIE_LEN); /* its NUL is not hashed */
        len += HUB_SECRET_HASH_LEN;
    }
    hub_hmac_sha256(mac, key, HUB_KEY_LEN, msg, len);
    hub_b64url_encode(out, mac, sizeof(mac));
    OPENSSL_cleanse(mac, sizeof(mac));
}

/* Deletes a session record and its index keys inside txn. */
static int end_one(hub_txn_t *txn, const char *hash)
{
    json_t *rec = NULL;
    const char *sid, *sub;
    char key[INDEX_KEY_MAX];
    int ret;

    if ((ret = hub_store_get_json(txn, HUB_T_FED_SESSIONS, hash, &rec)) != 0) {
        if (ret == HUB_E_PARSE)
            hub_store_del(txn, HUB_T_FED_SESSIONS, hash, strlen(hash));
        return ret;
    }
    sid = json_string_value(json_object_get(rec, "sid"));
    sub = json_string_value(json_object_get(rec, "sub"));
    if (valid_id(sid))
        hub_store_del(txn, HUB_T_FED_SESSIONS, key, index_key(key, "sid", sid, hash));
    if (valid_id(sub))
        hub_store_del(txn, HUB_T_FED_SESSIONS, key, index_key(key, "sub", sub, hash));
    ret = hub_store_del(txn, HUB_T_FED_SESSIONS, hash, strlen(hash));
    json_decref(rec);
    return ret;
}

static int end_txn(hub_txn_t *txn, void *arg)
{
    return end_one(txn, arg);
}

int fed_session_end_hash(hub_store_t *store, const char *hash)
{
    if (strlen(hash) != HUB_SECRET_HASH_LEN)
        return HUB_E_NOTFOUND;
    return hub_store_write(store, end_txn, (void *)hash);
}

int fed_session_end(hub_store_t *store, const char *cookie)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    if (!valid_cookie(cookie))
        return HUB_E_NOTFOUND;
    hub_secret_hash(hash, cookie, FED_SESSION_COOKIE_LEN);
    return hub_store_write(store, end_txn, hash);
}

typedef struct st_end_by_args_t {
    const char *kind, *id;
    size_t plen;
    char hashes[END_BATCH][HUB_SECRET_HASH_LEN + 1];
    size_t n;
    size_t ended;
} end_by_args_t;

static int collect(void *arg, hub_val_t key, hub_val_t val)
{
    end_by_args_t *a = arg;
    /* an exact match: the rest of the key is one hash, so sid "a" never matches "a:b:<hash>" */
    if (key.len != a->plen + HUB_SECRET_HASH_LEN)
        return 0;
    memcpy(a->hashes[a->n], (const char *)key.data + a->plen, HUB_SECRET_HASH_LEN);
    a->hashes[a->n][HUB_SECRET_HASH_LEN] = '\0';
    return ++a->n == END_BATCH ? 1 : 0;
}

static int end_by_txn(hub_txn_t *txn, void *arg)
{
    end_by_args_t *a = arg;
    char prefix[INDEX_KEY_MAX];
    size_t i;
    int ret;

    a->n = 0;
    a->ended = 0; /* fn may run again after a map resize */
    a->plen = index_key(prefix, a->kind, a->id, NULL);
    if ((ret = hub_store_each(txn, HUB_T_FED_SESSIONS, prefix, a->plen, collect, a)) < 0)
        return ret;
    for (i = 0; i != a->n; ++i) {
        char key[INDEX_KEY_MAX];
        if (end_one(txn, a->hashes[i]) == 0)
            ++a->ended;
        /* the index key goes even when its session already expired */
        hub_store_del(txn, HUB_T_FED_SESSIONS, key, index_key(key, a->kind, a->id, a->hashes[i]));
    }
    return 0;
}

int fed_session_end_by(hub_store_t *store, const char *sid, const char *sub, size_t *ended)
{
    end_by_args_t *a = calloc(1, sizeof(*a));
    size_t total = 0;
    int ret = 0;

    if (a == NULL)
        abort();
    a->kind = sid != NULL ? "sid" : "sub";
    a->id = sid != NULL ? sid : sub;
    if (!valid_id(a->id)) {
        ret = HUB_E_INVAL;
        goto out;
    }
    do {
        if ((ret = hub_store_write(store, end_by_txn, a)) != 0)
            goto out;
        total += a->ended;
    } while (a->n == END_BATCH);
out:
    if (ended != NULL)
        *ended = total;
    free(a);
    return ret;
}
