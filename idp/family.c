/* Token families in the store (FAMILIES: id -> {client_id, sub, sid, revoked, expires_at, idx}) and their listings: under
 * their user and client (USER_FAMILIES), by which logout, a user's revocation and the account page find them, and under
 * their client in the owner index, by which a client's deletion does. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/util.h"
#include "idp/family.h"
#include "idp/owner_index.h"

#define ID_MAX 511 /* the store's longest key */

/* What a revocation walks: the owner's kind in the index and the family's field that must equal the owner. */
typedef struct {
    idp_owner_kind_t kind;
    const char *field;
    size_t offset; /* of the field in idp_family_t */
} family_by_t;
static const family_by_t by_client = {IDP_OWNER_FAMILY_CLIENT, "client_id", offsetof(idp_family_t, client_id)};
/* a family's session and user: its user's listing (USER_FAMILIES) names it; the index's sid and sub entries name the
 * families an older version wrote */
static const family_by_t by_sid = {IDP_OWNER_FAMILY_SID, "sid", offsetof(idp_family_t, sid)};
static const family_by_t by_sub = {IDP_OWNER_FAMILY_SUB, "sub", offsetof(idp_family_t, sub)};

/* The expiry of a family record written now to cover tokens living until until: half their remaining time beyond it,
 * so a refresh chain rewrites the record about once per half a refresh token lifetime rather than at every rotation
 * (the record outliving its tokens keeps nothing alive: revocation only needs it to outlive them). Its listings expire
 * with it, in the same second of the expiry index, and are written again when it grows (family_update). */
static uint64_t family_until(uint64_t until)
{
    uint64_t now = hub_now();
    return until > now ? until + (until - now) / 2 : until;
}

/* USER_FAMILIES: sub "\n" client_id "\n" family -> {"scope", "at"}: every family of a user, written when the family is
 * made (at authorization) and expiring with it (idp_family_list_user): what the user's
 * account page lists per client, what its Revoke takes back (idp_user_families_each), and where logout and a user's
 * revocation find the user's families. The key begins with the user, so a batch of authorizations by different users
 * writes one page per user here, the family's only listing at a random place in a large store. */
static int user_family_key(char *buf, size_t size, const char *sub, const char *client_id, const char *family)
{
    int n = snprintf(buf, size, "%s\n%s\n%s", sub, client_id, family != NULL ? family : "");
    return n > 0 && (size_t)n < size && (size_t)n <= ID_MAX ? n : -1;
}

/* The key of family's listing under sub and client_id into buf, or -1 when it has none: no user, or ids no key can
 * hold (then it is not listed). */
static int listing_key(char *buf, size_t size, const char *family, const char *sub, const char *client_id)
{
    return family == NULL || sub == NULL || client_id == NULL ? -1 : user_family_key(buf, size, sub, client_id, family);
}

/* Writes the listing under key: {scope, at} until expires_at. */
static int listing_put(hub_txn_t *txn, const char *key, const char *scope, uint64_t at, uint64_t expires_at)
{
    json_t *obj = json_object();
    int ret;

    if (scope != NULL)
        json_object_set_new(obj, "scope", json_string(scope));
    json_object_set_new(obj, "at", json_integer((json_int_t)at));
    ret = hub_store_put_json(txn, HUB_T_USER_FAMILIES, key, obj, expires_at, 0);
    json_decref(obj);
    return ret;
}

int idp_family_list_user(hub_txn_t *txn, const char *family, const char *sub, const char *client_id, const char *scope,
                         uint64_t until)
{
    uint64_t now = hub_now(), at = now, exp = 0;
    json_t *obj = NULL;
    char key[600];
    int ret;

    if (listing_key(key, sizeof(key), family, sub, client_id) < 0)
        return 0;
    /* a rotation's token: the listing already outlives it (one read), or it is extended once in a while */
    if (hub_store_get_json(txn, HUB_T_USER_FAMILIES, key, &obj) == 0) {
        hub_store_expiry(txn, HUB_T_USER_FAMILIES, key, strlen(key), &exp);
        if (exp == 0 || exp >= until) {
            json_decref(obj);
            return 0;
        }
        at = hub_json_uint(obj, "at") != 0 ? hub_json_uint(obj, "at") : now;
        if (scope == NULL)
            scope = json_string_value(json_object_get(obj, "scope"));
    }
    ret = listing_put(txn, key, scope, at, until);
    json_decref(obj);
    return ret;
}

typedef struct {
    int (*cb)(void *arg, const idp_user_family_t *f);
    void *arg;
} user_family_walk_t;

static int user_family_cb(void *arg, hub_val_t key, hub_val_t val)
{
    user_family_walk_t *w = arg;
    char buf[600];
    json_t *obj;
    int ret;

    if (key.len >= sizeof(buf))
        return 0;
    memcpy(buf, key.data, key.len);
    buf[key.len] = '\0';
    char *client_id = strchr(buf, '\n'), *family = client_id != NULL ? strchr(client_id + 1, '\n') : NULL;
    if (family == NULL || (obj = json_loadb(val.data, val.len, 0, NULL)) == NULL)
        return 0;
    *client_id++ = '\0';
    *family++ = '\0';
    idp_user_family_t f = {client_id, family, json_string_value(json_object_get(obj, "scope")),
                           (uint64_t)json_integer_value(json_object_get(obj, "at"))};
    ret = w->cb(w->arg, &f);
    json_decref(obj);
    return ret;
}

int idp_user_families_each(hub_txn_t *txn, const char *sub, const char *client_id, int (*cb)(void *arg, const idp_user_family_t *f),
                           void *arg)
{
    user_family_walk_t w = {cb, arg};
    char prefix[600];
    int n = client_id != NULL ? user_family_key(prefix, sizeof(prefix), sub, client_id, NULL)
                              : snprintf(prefix, sizeof(prefix), "%s\n", sub);

    if (n <= 0 || (size_t)n >= sizeof(prefix) || n > ID_MAX)
        return 0;
    return hub_store_each(txn, HUB_T_USER_FAMILIES, prefix, (size_t)n, user_family_cb, &w);
}

int idp_user_family_forget(hub_txn_t *txn, const char *sub, const char *client_id, const char *family)
{
    char key[600];
    int n = user_family_key(key, sizeof(key), sub, client_id, family);
    return n < 0 ? HUB_E_NOTFOUND : hub_store_del(txn, HUB_T_USER_FAMILIES, key, (size_t)n);
}

/* Lists family id, whose record is obj and which lives until exp, under its client in the owner index and under its user,
 * both until exp, the record's "idx": a family just created with scope (nothing to read first), else with
 * the listing's own scope, kept when it outlives exp already. */
static int family_index(hub_txn_t *txn, const char *id, const json_t *obj, int created, const char *scope, uint64_t exp)
{
    const char *client_id = json_string_value(json_object_get(obj, "client_id")),
               *sub = json_string_value(json_object_get(obj, "sub"));
    int ret = idp_owner_index_put(txn, IDP_OWNER_FAMILY_CLIENT, client_id, id, exp);
    char key[600];

    if (ret != 0)
        return ret;
    if (!created)
        return idp_family_list_user(txn, id, sub, client_id, NULL, exp);
    return listing_key(key, sizeof(key), id, sub, client_id) < 0 ? 0 : listing_put(txn, key, scope, hub_now(), exp);
}

int idp_family_create(hub_txn_t *txn, const char *client_id, const char *sub, const char *sid, const char *scope,
                      uint64_t expires_at, char id_out[IDP_FAMILY_ID_LEN + 1])
{
    const char *const names[] = {"client_id", "sub", "sid"}, *const values[] = {client_id, sub, sid};
    uint64_t exp = family_until(expires_at);
    json_t *obj = json_object();
    int ret;

    hub_timed_token(id_out, 24); /* 24 bytes = 32 base64url chars; time-ordered: new families are neighbours */
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (values[i] != NULL)
            json_object_set_new(obj, names[i], json_string(values[i]));
    json_object_set_new(obj, "revoked", json_false());
    json_object_set_new(obj, "expires_at", json_integer((json_int_t)exp));
    json_object_set_new(obj, "idx", json_integer((json_int_t)exp));
    if ((ret = hub_store_put_json(txn, HUB_T_FAMILIES, id_out, obj, exp, HUB_STORE_NOOVERWRITE)) == 0)
        ret = family_index(txn, id_out, obj, 1, scope, exp);
    json_decref(obj);
    return ret;
}

int idp_family_cover(hub_txn_t *txn, const char *id, uint64_t until)
{
    int ret = id != NULL ? idp_family_extend(txn, id, until) : 0;
    return ret == HUB_E_NOTFOUND ? 0 : ret;
}

static idp_family_t *family_decode(const char *id, const json_t *obj)
{
    idp_family_t *f = hub_xcalloc(1, sizeof(*f));
    f->id = hub_strdup(id);
    f->client_id = hub_json_strdup(obj, "client_id");
    f->sub = hub_json_strdup(obj, "sub");
    f->sid = hub_json_strdup(obj, "sid");
    f->revoked = json_is_true(json_object_get(obj, "revoked"));
    f->expires_at = hub_json_uint(obj, "expires_at");
    return f;
}

int idp_family_get(hub_txn_t *txn, const char *id, idp_family_t **out)
{
    json_t *obj = NULL;
    int ret;
    if ((ret = hub_store_get_json(txn, HUB_T_FAMILIES, id, &obj)) != 0)
        return ret;
    *out = family_decode(id, obj);
    json_decref(obj);
    return 0;
}

/* Rewrites a family record with revoked set and/or its expiry pushed out to at least until; its index entries are
 * written again when they would not outlive it (or were never written: a family older than the index). */
static int family_update(hub_txn_t *txn, const char *id, int revoke, uint64_t until)
{
    json_t *obj = NULL;
    uint64_t exp, idx;
    int ret;

    if ((ret = hub_store_get_json(txn, HUB_T_FAMILIES, id, &obj)) != 0)
        return ret;
    exp = hub_json_uint(obj, "expires_at");
    idx = hub_json_uint(obj, "idx");
    if ((revoke && json_is_true(json_object_get(obj, "revoked"))) || (!revoke && until <= exp)) {
        ret = 0;
        goto out;
    }
    if (revoke)
        json_object_set_new(obj, "revoked", json_true());
    if (until > exp) {
        exp = family_until(until);
        json_object_set_new(obj, "expires_at", json_integer((json_int_t)exp));
    }
    if (!revoke && exp > idx) {
        json_object_set_new(obj, "idx", json_integer((json_int_t)exp));
        if ((ret = family_index(txn, id, obj, 0, NULL, exp)) != 0)
            goto out;
    }
    ret = hub_store_put_json(txn, HUB_T_FAMILIES, id, obj, exp, 0);
out:
    json_decref(obj);
    return ret;
}

int idp_family_extend(hub_txn_t *txn, const char *id, uint64_t until)
{
    return family_update(txn, id, 0, until);
}

int idp_family_revoke(hub_txn_t *txn, const char *id)
{
    return family_update(txn, id, 1, 0);
}

/* 1 when f is a live family whose field of by is value and whose session is not keep_sid (NULL: any). */
static int family_matches(const idp_family_t *f, const family_by_t *by, const char *value, const char *keep_sid)
{
    const char *v = *(char *const *)((const char *)f + by->offset);
    return !f->revoked && v != NULL && strcmp(v, value) == 0 &&
           (keep_sid == NULL || f->sid == NULL || strcmp(f->sid, keep_sid) != 0);
}

typedef struct {
    const family_by_t *by;
    const char *value, *keep_sid;
    idp_owner_list_t ids;
} family_scan_t;

static int family_scan_cb(void *arg, hub_val_t key, hub_val_t val)
{
    family_scan_t *scan = arg;
    json_t *obj = key.len <= ID_MAX ? json_loadb(val.data, val.len, 0, NULL) : NULL;
    char *id;
    idp_family_t *f;

    if (obj == NULL)
        return 0;
    id = hub_xstrndup(key.data, key.len);
    f = family_decode(id, obj);
    if (family_matches(f, scan->by, scan->value, scan->keep_sid)) {
        idp_owner_list_add(&scan->ids, id);
        id = NULL;
    }
    idp_family_free(f);
    free(id);
    json_decref(obj);
    return 0;
}

static int user_family_id_cb(void *arg, const idp_user_family_t *f)
{
    idp_owner_list_add(arg, hub_strdup(f->family));
    return 0;
}

/* Revokes every live family whose field of by equals value (except those of keep_sid). The ids come from the owner's
 * index entries and, for a session's or a user's families, from the listing of their user sub; each family is read
 * again (an entry may outlive its family, a user's listing names the families of all their sessions). While the index
 * is not complete, from a scan of every family. Collected first: a table must not be written while it is walked. */
static int family_revoke_where(hub_txn_t *txn, const family_by_t *by, const char *value, const char *keep_sid, const char *sub)
{
    family_scan_t scan = {by, value, keep_sid, {NULL, 0, 0}};
    idp_family_t *f;
    int ret;

    if (value == NULL)
        return 0;
    if (!idp_owner_index_ready(txn))
        ret = hub_store_each(txn, HUB_T_FAMILIES, NULL, 0, family_scan_cb, &scan);
    else if ((ret = idp_owner_index_list(txn, by->kind, value, &scan.ids)) == 0 && sub != NULL)
        ret = idp_user_families_each(txn, sub, NULL, user_family_id_cb, &scan.ids);
    for (size_t i = 0; ret == 0 && i != scan.ids.n; ++i) {
        f = NULL;
        if ((ret = idp_family_get(txn, scan.ids.v[i], &f)) == 0 && family_matches(f, by, value, keep_sid))
            ret = idp_family_revoke(txn, f->id);
        else if (ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE)
            ret = 0; /* gone or expired since it was listed */
        idp_family_free(f);
    }
    idp_owner_list_free(&scan.ids);
    return ret;
}

int idp_family_revoke_client(hub_txn_t *txn, const char *client_id)
{
    return family_revoke_where(txn, &by_client, client_id, NULL, NULL);
}

int idp_family_revoke_sid(hub_txn_t *txn, const char *sid, const char *sub)
{
    return family_revoke_where(txn, &by_sid, sid, NULL, sub);
}

int idp_family_revoke_sub(hub_txn_t *txn, const char *sub, const char *keep_sid)
{
    return family_revoke_where(txn, &by_sub, sub, keep_sid, sub);
}

void idp_family_free(idp_family_t *f)
{
    if (f == NULL)
        return;
    free(f->id);
    free(f->client_id);
    free(f->sub);
    free(f->sid);
    free(f);
}

int idp_family_index_record(hub_txn_t *txn, hub_val_t key, hub_val_t val)
{
    json_t *obj = key.len != 0 && key.len <= ID_MAX ? json_loadb(val.data, val.len, 0, NULL) : NULL;
    char *id;
    int ret = 0;

    if (!json_is_object(obj) || json_is_true(json_object_get(obj, "revoked"))) {
        json_decref(obj);
        return 0;
    }
    id = hub_xstrndup(key.data, key.len);
    if (strlen(id) == key.len) /* an id with a NUL in it is no key idp_family_get can name */
        ret = family_index(txn, id, obj, 0, NULL, hub_json_uint(obj, "expires_at"));
    free(id);
    json_decref(obj);
    return ret;
}
