/* The primary's browser sessions: hashed cookie ids with a separate public sid. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "idp/grants.h"
#include "idp/owner_index.h"
#include "idp/session.h"

/* Layout in SESSIONS: hub_secret_hash(cookie) -> {sid, sub, auth_time, exp, clients[], families{client_id: {id, scope}}}
 * and
 * "sid:" sid -> {"h": hash}, both with the session's expiry. Hashes are base64url, which
 * has no ':', so the two kinds of key never collide. */
#define SID_PREFIX "sid:"
#define TOKEN_BYTES 32
#define TOKEN_LEN IDP_SESSION_COOKIE_LEN
#define SID_BYTES 24
#define SID_LEN IDP_SESSION_SID_LEN
#define MAX_CLIENTS 256

void idp_session_free(idp_session_t *s)
{
    if (s == NULL)
        return;
    free(s->sid);
    free(s->sub);
    idp_strv_free(&s->clients);
    free(s);
}

static idp_session_t *session_from_json(const json_t *rec)
{
    const char *sid = json_string_value(json_object_get(rec, "sid"));
    const char *sub = json_string_value(json_object_get(rec, "sub"));
    json_t *clients = json_object_get(rec, "clients"), *c;
    idp_session_t *s;
    size_t i;

    if (sid == NULL || sub == NULL)
        return NULL;
    s = hub_xcalloc(1, sizeof(*s));
    s->sid = hub_strdup(sid);
    s->sub = hub_strdup(sub);
    s->auth_time = (uint64_t)json_integer_value(json_object_get(rec, "auth_time"));
    s->expires_at = (uint64_t)json_integer_value(json_object_get(rec, "exp"));
    s->clients.v = hub_xcalloc(json_array_size(clients) + 1, sizeof(char *));
    json_array_foreach(clients, i, c)
    {
        if (json_is_string(c))
            s->clients.v[s->clients.n++] = hub_strdup(json_string_value(c));
    }
    return s;
}

/* The store key (hash) of the session with public id sid, copied into hash. */
static int hash_of_sid(hub_txn_t *txn, const char *sid, char hash[HUB_SECRET_HASH_LEN + 1])
{
    char key[128];
    json_t *ptr = NULL;
    const char *h;
    int ret;

    if (sid == NULL || strlen(sid) > sizeof(key) - sizeof(SID_PREFIX))
        return HUB_E_NOTFOUND;
    snprintf(key, sizeof(key), SID_PREFIX "%s", sid);
    if ((ret = hub_store_get_json(txn, HUB_T_SESSIONS, key, &ptr)) != 0)
        return ret == HUB_E_PARSE ? HUB_E_NOTFOUND : ret;
    h = json_string_value(json_object_get(ptr, "h"));
    if (h == NULL || strlen(h) != HUB_SECRET_HASH_LEN) {
        ret = HUB_E_NOTFOUND;
        goto out;
    }
    memcpy(hash, h, HUB_SECRET_HASH_LEN + 1);
out:
    json_decref(ptr);
    return ret;
}

/* Reads the record stored under hash, checking its expiry; *out is a new reference. */
static int get_record(hub_txn_t *txn, const char *hash, json_t **out)
{
    json_t *rec = NULL;
    int ret;

    if ((ret = hub_store_get_json(txn, HUB_T_SESSIONS, hash, &rec)) != 0)
        return ret == HUB_E_PARSE ? HUB_E_NOTFOUND : ret;
    if ((uint64_t)json_integer_value(json_object_get(rec, "exp")) <= hub_now()) {
        json_decref(rec);
        return HUB_E_NOTFOUND;
    }
    *out = rec;
    return 0;
}

void idp_session_prepare_ttl(idp_session_new_t *out, uint64_t ttl)
{
    hub_random_token(out->cookie, TOKEN_BYTES);
    hub_random_token(out->sid, SID_BYTES);
    hub_secret_hash(out->hash, out->cookie, TOKEN_LEN);
    out->auth_time = hub_now();
    out->expires_at = out->auth_time + ttl;
}

void idp_session_prepare(idp_t *idp, idp_session_new_t *out)
{
    idp_session_prepare_ttl(out, idp->cfg->primary.session_ttl);
}

int idp_session_put(hub_txn_t *txn, const idp_session_new_t *n, const char *sub)
{
    json_t *rec = json_pack("{s:s, s:s, s:I, s:I, s:[]}", "sid", n->sid, "sub", sub, "auth_time", (json_int_t)n->auth_time, "exp",
                            (json_int_t)n->expires_at, "clients");
    json_t *ptr = json_pack("{s:s}", "h", n->hash);
    char key[sizeof(SID_PREFIX) + SID_LEN + 1];
    int ret;

    if (rec == NULL || ptr == NULL)
        hub_oom();
    snprintf(key, sizeof(key), SID_PREFIX "%s", n->sid);
    if ((ret = hub_store_put_json(txn, HUB_T_SESSIONS, n->hash, rec, n->expires_at, HUB_STORE_NOOVERWRITE)) == 0 &&
        (ret = hub_store_put_json(txn, HUB_T_SESSIONS, key, ptr, n->expires_at, HUB_STORE_NOOVERWRITE)) == 0)
        ret = idp_owner_index_put(txn, IDP_OWNER_SESSION_SUB, sub, n->hash, n->expires_at);
    json_decref(rec);
    json_decref(ptr);
    return ret;
}

void idp_session_set_cookie(idp_t *idp, h2o_req_t *req, const idp_session_new_t *n)
{
    uint64_t ttl = idp->cfg->primary.session_ttl;

    hub_set_cookie(req, idp->session_cookie, n->cookie, ttl > (uint64_t)LONG_MAX ? -1 : (long)ttl, idp->secure_cookies);
}

typedef struct st_start_t {
    const idp_session_new_t *n;
    const char *sub;
} start_t;

static int start_txn(hub_txn_t *txn, void *arg)
{
    start_t *st = arg;
    return idp_session_put(txn, st->n, st->sub);
}

int idp_session_start(idp_t *idp, h2o_req_t *req, const char *sub, idp_session_t **out)
{
    idp_session_new_t n;
    start_t st = {&n, sub};
    int ret;

    idp_session_prepare(idp, &n);
    if ((ret = hub_store_write(idp->store, start_txn, &st)) != 0)
        return ret;
    idp_session_set_cookie(idp, req, &n);
    if (out != NULL)
        *out = idp_session_of(&n, sub);
    return 0;
}

idp_session_t *idp_session_of(const idp_session_new_t *n, const char *sub)
{
    idp_session_t *s = hub_xcalloc(1, sizeof(*s));

    s->clients.v = hub_xcalloc(1, sizeof(char *));
    s->sid = hub_strdup(n->sid);
    s->sub = hub_strdup(sub);
    s->auth_time = n->auth_time;
    s->expires_at = n->expires_at;
    return s;
}

int idp_session_cookie_hash(idp_t *idp, h2o_req_t *req, char hash[HUB_SECRET_HASH_LEN + 1])
{
    const char *cookie = hub_req_cookie(&req->pool, req, idp->session_cookie);

    hash[0] = '\0';
    if (!hub_is_token(cookie, TOKEN_BYTES))
        return 0;
    hub_secret_hash(hash, cookie, TOKEN_LEN);
    return 1;
}

int idp_session_lookup(hub_txn_t *txn, const char *hash, idp_session_t **out, idp_user_t **user_out)
{
    json_t *rec = NULL;
    idp_user_t *user = NULL;
    idp_session_t *s = NULL;
    int ret = 0;

    *out = NULL;
    if (user_out != NULL)
        *user_out = NULL;
    if (hash[0] == '\0')
        return 0;
    if ((ret = get_record(txn, hash, &rec)) != 0 || (s = session_from_json(rec)) == NULL)
        goto out;
    /* A disabled or deleted user has no live session anywhere. */
    if ((ret = idp_user_get(txn, s->sub, &user)) != 0 || !user->enabled)
        goto out;
    *out = s;
    s = NULL;
    if (user_out != NULL) {
        *user_out = user;
        user = NULL;
    }
out:
    idp_session_free(s);
    idp_user_free(user);
    json_decref(rec);
    return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
}

idp_session_t *idp_session_current(idp_t *idp, h2o_req_t *req)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    hub_txn_t *txn = NULL;
    idp_session_t *s = NULL;

    if (!idp_session_cookie_hash(idp, req, hash) || hub_store_read_begin(idp->store, &txn) != 0)
        return NULL;
    idp_session_lookup(txn, hash, &s, NULL);
    hub_store_read_end(txn);
    return s;
}

int idp_session_get_by_sid(hub_txn_t *txn, const char *sid, idp_session_t **out)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *rec = NULL;
    int ret;

    if ((ret = hash_of_sid(txn, sid, hash)) != 0 || (ret = get_record(txn, hash, &rec)) != 0)
        return ret;
    *out = session_from_json(rec);
    json_decref(rec);
    return *out != NULL ? 0 : HUB_E_NOTFOUND;
}

/* Notes client_id in rec's clients (back-channel logout); 1 when it was added (rec to be written), 0 when there already,
 * HUB_E_TOOBIG when the session holds MAX_CLIENTS. */
static int note_client(json_t *rec, const char *client_id)
{
    json_t *clients = json_object_get(rec, "clients"), *c;
    size_t i;

    if (!json_is_array(clients)) {
        clients = json_array();
        json_object_set_new(rec, "clients", clients);
    }
    json_array_foreach(clients, i, c)
    {
        if (json_is_string(c) && strcmp(json_string_value(c), client_id) == 0)
            return 0;
    }
    if (json_array_size(clients) >= MAX_CLIENTS)
        return HUB_E_TOOBIG;
    json_array_append_new(clients, json_string(client_id));
    return 1;
}

static int put_record(hub_txn_t *txn, const char *hash, json_t *rec)
{
    return hub_store_put_json(txn, HUB_T_SESSIONS, hash, rec, (uint64_t)json_integer_value(json_object_get(rec, "exp")), 0);
}

int idp_session_add_client(hub_txn_t *txn, const char *sid, const char *client_id)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *rec = NULL;
    int ret;

    if ((ret = hash_of_sid(txn, sid, hash)) != 0 || (ret = get_record(txn, hash, &rec)) != 0)
        return ret;
    if ((ret = note_client(rec, client_id)) == 1)
        ret = put_record(txn, hash, rec);
    json_decref(rec);
    return ret;
}

/* The expiry of family id (NULL: none) when it is live and was made for sid's user sub at client_id with sid, else 0. */
static uint64_t family_of(hub_txn_t *txn, const char *id, const char *sid, const char *sub, const char *client_id)
{
    idp_family_t *f = NULL;
    uint64_t exp = id != NULL && strlen(id) == IDP_FAMILY_ID_LEN && idp_family_get(txn, id, &f) == 0 && !f->revoked &&
                           f->sid != NULL && strcmp(f->sid, sid) == 0 && f->sub != NULL && strcmp(f->sub, sub) == 0 &&
                           f->client_id != NULL && strcmp(f->client_id, client_id) == 0
                       ? f->expires_at
                       : 0;
    idp_family_free(f);
    return exp;
}

int idp_session_family(hub_txn_t *txn, const char *sid, const char *client_id, const char *scope, uint64_t expires_at,
                       char family[IDP_FAMILY_ID_LEN + 1])
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *rec = NULL, *fams, *held;
    const char *sub, *id, *held_scope, *want = scope != NULL ? scope : "";
    uint64_t held_exp;
    int ret;

    if ((ret = hash_of_sid(txn, sid, hash)) != 0 || (ret = get_record(txn, hash, &rec)) != 0)
        return ret;
    if ((sub = json_string_value(json_object_get(rec, "sub"))) == NULL) {
        ret = HUB_E_NOTFOUND;
        goto out;
    }
    if (!json_is_object(fams = json_object_get(rec, "families"))) {
        fams = json_object();
        json_object_set_new(rec, "families", fams);
    }
    held = json_object_get(fams, client_id);
    id = json_string_value(json_object_get(held, "id"));
    held_scope = json_string_value(json_object_get(held, "scope")) != NULL ? json_string_value(json_object_get(held, "scope")) : "";
    /* the same family for the same words, in any order */
    if ((held_exp = family_of(txn, id, sid, sub, client_id)) != 0 && idp_scope_covers(held_scope, want) &&
        idp_scope_covers(want, held_scope)) {
        memcpy(family, id, IDP_FAMILY_ID_LEN + 1);
        /* grown (a write) only once half its life is gone */
        ret = held_exp < expires_at ? idp_family_extend(txn, family, expires_at) : 0;
        goto out;
    }
    if ((ret = note_client(rec, client_id)) < 0 ||
        (ret = idp_family_create(txn, client_id, sub, sid, scope, expires_at, family)) != 0)
        goto out;
    json_object_set_new(fams, client_id, json_pack("{s:s, s:s}", "id", family, "scope", want));
    ret = put_record(txn, hash, rec);
out:
    json_decref(rec);
    return ret;
}

int idp_session_end(hub_txn_t *txn, const char *sid, idp_session_t **ended)
{
    char hash[HUB_SECRET_HASH_LEN + 1], key[128];
    json_t *rec = NULL;
    idp_session_t *s = NULL;
    int ret;

    if ((ret = hash_of_sid(txn, sid, hash)) != 0)
        return ret;
    if ((ret = get_record(txn, hash, &rec)) != 0)
        goto out;
    if ((s = session_from_json(rec)) == NULL) {
        ret = HUB_E_NOTFOUND;
        goto out;
    }
    snprintf(key, sizeof(key), SID_PREFIX "%s", sid);
    if ((ret = hub_store_del(txn, HUB_T_SESSIONS, hash, HUB_SECRET_HASH_LEN)) != 0 ||
        (ret = hub_store_del(txn, HUB_T_SESSIONS, key, strlen(key))) != 0)
        goto out;
    if ((ret = idp_family_revoke_sid(txn, sid, s->sub)) != 0 && ret != HUB_E_NOTFOUND)
        goto out;
    ret = 0;
    if (ended != NULL) {
        *ended = s;
        s = NULL;
    }
out:
    idp_session_free(s);
    json_decref(rec);
    return ret;
}

typedef struct {
    const char *sub, *keep_sid;
    idp_owner_list_t hashes;
} user_scan_t;

/* 1 when the session record rec is sub's and not the session keep_sid (NULL: any). */
static int session_of(const json_t *rec, const char *sub, const char *keep_sid)
{
    const char *s = json_string_value(json_object_get(rec, "sub")), *sid = json_string_value(json_object_get(rec, "sid"));
    return s != NULL && strcmp(s, sub) == 0 && (keep_sid == NULL || sid == NULL || strcmp(sid, keep_sid) != 0);
}

static int user_scan_cb(void *arg, hub_val_t key, hub_val_t val)
{
    user_scan_t *scan = arg;
    json_t *rec;

    /* the "sid:" pointers go with their session; a hash key is exactly HUB_SECRET_HASH_LEN */
    if (key.len != HUB_SECRET_HASH_LEN || memcmp(key.data, SID_PREFIX, sizeof(SID_PREFIX) - 1) == 0)
        return 0;
    rec = json_loadb(val.data, val.len, 0, NULL);
    if (session_of(rec, scan->sub, scan->keep_sid))
        idp_owner_list_add(&scan->hashes, hub_xstrndup(key.data, key.len));
    json_decref(rec);
    return 0;
}

int idp_session_index_record(hub_txn_t *txn, hub_val_t key, hub_val_t val)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *rec;
    int ret;

    if (key.len != HUB_SECRET_HASH_LEN || memcmp(key.data, SID_PREFIX, sizeof(SID_PREFIX) - 1) == 0 ||
        (rec = json_loadb(val.data, val.len, 0, NULL)) == NULL)
        return 0;
    memcpy(hash, key.data, HUB_SECRET_HASH_LEN);
    hash[HUB_SECRET_HASH_LEN] = '\0';
    ret = idp_owner_index_put(txn, IDP_OWNER_SESSION_SUB, json_string_value(json_object_get(rec, "sub")), hash,
                              (uint64_t)json_integer_value(json_object_get(rec, "exp")));
    json_decref(rec);
    return ret;
}

/* Deletes the session stored under hash and its "sid:" pointer. */
static int delete_session(hub_txn_t *txn, const char *hash)
{
    char key[128];
    json_t *rec = NULL;
    const char *sid;
    int ret;

    if ((ret = hub_store_get_json(txn, HUB_T_SESSIONS, hash, &rec)) != 0)
        return ret == HUB_E_PARSE ? hub_store_del(txn, HUB_T_SESSIONS, hash, strlen(hash)) : ret;
    sid = json_string_value(json_object_get(rec, "sid"));
    if (sid != NULL && strlen(sid) < sizeof(key) - sizeof(SID_PREFIX)) {
        snprintf(key, sizeof(key), SID_PREFIX "%s", sid);
        if ((ret = hub_store_del(txn, HUB_T_SESSIONS, key, strlen(key))) != 0 && ret != HUB_E_NOTFOUND)
            goto out;
    }
    ret = hub_store_del(txn, HUB_T_SESSIONS, hash, strlen(hash));
out:
    json_decref(rec);
    return ret;
}

/* 1 when the session stored under hash is sub's and not keep_sid (an index entry may outlive its session). */
static int session_is(hub_txn_t *txn, const char *hash, const char *sub, const char *keep_sid)
{
    json_t *rec = NULL;
    int yes;

    if (strlen(hash) != HUB_SECRET_HASH_LEN || hub_store_get_json(txn, HUB_T_SESSIONS, hash, &rec) != 0)
        return 0;
    yes = session_of(rec, sub, keep_sid);
    json_decref(rec);
    return yes;
}

int idp_session_end_user(hub_txn_t *txn, const char *sub, const char *keep_sid, size_t *ended)
{
    user_scan_t scan = {sub, keep_sid, {NULL, 0, 0}};
    size_t i, n = 0;
    int ret, indexed;

    if (ended != NULL)
        *ended = 0;
    if (sub == NULL)
        return HUB_E_INVAL;
    /* the user's index entries, or while the index is not complete a scan; collected first: the table must not be
     * written while it is iterated */
    if ((indexed = idp_owner_index_ready(txn)))
        ret = idp_owner_index_list(txn, IDP_OWNER_SESSION_SUB, sub, &scan.hashes);
    else
        ret = hub_store_each(txn, HUB_T_SESSIONS, NULL, 0, user_scan_cb, &scan);
    for (i = 0; ret == 0 && i != scan.hashes.n; ++i) {
        if (indexed && !session_is(txn, scan.hashes.v[i], sub, keep_sid))
            continue;
        if ((ret = delete_session(txn, scan.hashes.v[i])) == 0)
            ++n;
        else if (ret == HUB_E_NOTFOUND)
            ret = 0;
    }
    idp_owner_list_free(&scan.hashes);
    if (ended != NULL)
        *ended = n;
    return ret;
}

int idp_session_end_by_hash(hub_txn_t *txn, const char *hash, idp_session_t **ended)
{
    json_t *rec = NULL;
    int ret;

    if (ended != NULL) { /* a retried transaction starts over */
        idp_session_free(*ended);
        *ended = NULL;
    }
    if (hash[0] == '\0')
        return HUB_E_NOTFOUND;
    if ((ret = get_record(txn, hash, &rec)) != 0)
        return ret;
    if (json_is_string(json_object_get(rec, "sid")))
        ret = idp_session_end(txn, json_string_value(json_object_get(rec, "sid")), ended);
    else
        ret = hub_store_del(txn, HUB_T_SESSIONS, hash, HUB_SECRET_HASH_LEN);
    json_decref(rec);
    return ret;
}

struct end_ctx {
    const char *hash;
    idp_session_t **ended;
};

static int end_txn(hub_txn_t *txn, void *arg)
{
    struct end_ctx *c = arg;
    return idp_session_end_by_hash(txn, c->hash, c->ended);
}

int idp_session_end_current(idp_t *idp, h2o_req_t *req, idp_session_t **ended)
{
    const char *cookie = hub_req_cookie(&req->pool, req, idp->session_cookie);
    char hash[HUB_SECRET_HASH_LEN + 1];
    struct end_ctx c = {hash, ended};
    int ret = HUB_E_NOTFOUND;

    if (ended != NULL)
        *ended = NULL;
    if (hub_is_token(cookie, TOKEN_BYTES)) {
        hub_secret_hash(hash, cookie, TOKEN_LEN);
        ret = hub_store_write(idp->store, end_txn, &c);
        if (ret != 0 && ended != NULL) {
            idp_session_free(*ended);
            *ended = NULL;
        }
    }
    if (cookie != NULL)
        idp_session_clear_cookie(idp, req);
    return ret;
}

void idp_session_clear_cookie(idp_t *idp, h2o_req_t *req)
{
    hub_set_cookie(req, idp->session_cookie, "", 0, idp->secure_cookies);
}
