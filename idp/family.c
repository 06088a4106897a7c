/* Token families in the store (FAMILIES: id -> {client_id, sub, sid, revoked, expires_at, idx}) and their entries in
 * the owner index, by which logout, a user's revocation and a client's deletion find them. */
#include <stddef.h>
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
static const family_by_t by_sid = {IDP_OWNER_FAMILY_SID, "sid", offsetof(idp_family_t, sid)};
static const family_by_t by_sub = {IDP_OWNER_FAMILY_SUB, "sub", offsetof(idp_family_t, sub)};

/* exp pushed out by halves/2 of the time left until it: what is written now to outlive exp, so that extending it again
 * and again rewrites it only once the margin is used up. */
static uint64_t beyond(uint64_t exp, unsigned halves)
{
    uint64_t now = hub_now();
    return exp > now ? exp + (exp - now) * halves / 2 : exp;
}

/* The expiry of a family record written now to cover tokens living until until: half their remaining time beyond it,
 * so a refresh chain rewrites the record about once per half a refresh token lifetime rather than at every rotation
 * (the record outliving its tokens keeps nothing alive: revocation only needs it to outlive them). */
static uint64_t family_until(uint64_t until)
{
    return beyond(until, 1);
}

/* The expiry of index entries written now for a family living until exp: twice its remaining time, so they are
 * rewritten only when the family has grown past them. */
static uint64_t index_until(uint64_t exp)
{
    return beyond(exp, 2);
}

/* Lists family id under the owners its record obj names, until until. */
static int family_index(hub_txn_t *txn, const char *id, const json_t *obj, uint64_t until)
{
    static const family_by_t *const owners[] = {&by_sid, &by_sub, &by_client};
    int ret = 0;

    for (size_t i = 0; ret == 0 && i != sizeof(owners) / sizeof(owners[0]); ++i)
        ret = idp_owner_index_put(txn, owners[i]->kind, json_string_value(json_object_get(obj, owners[i]->field)), id, until);
    return ret;
}

int idp_family_create(hub_txn_t *txn, const char *client_id, const char *sub, const char *sid, uint64_t expires_at, char id_out[33])
{
    const char *const names[] = {"client_id", "sub", "sid"}, *const values[] = {client_id, sub, sid};
    uint64_t exp = family_until(expires_at), idx = index_until(exp);
    json_t *obj = json_object();
    int ret;

    hub_timed_token(id_out, 24); /* 24 bytes = 32 base64url chars; time-ordered: new families are neighbours */
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (values[i] != NULL)
            json_object_set_new(obj, names[i], json_string(values[i]));
    json_object_set_new(obj, "revoked", json_false());
    json_object_set_new(obj, "expires_at", json_integer((json_int_t)exp));
    json_object_set_new(obj, "idx", json_integer((json_int_t)idx));
    if ((ret = hub_store_put_json(txn, HUB_T_FAMILIES, id_out, obj, exp, HUB_STORE_NOOVERWRITE)) == 0)
        ret = family_index(txn, id_out, obj, idx);
    json_decref(obj);
    return ret;
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
        idx = index_until(exp);
        json_object_set_new(obj, "idx", json_integer((json_int_t)idx));
        if ((ret = family_index(txn, id, obj, idx)) != 0)
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

/* Revokes every live family whose field of by equals value (except those of keep_sid). The ids come from the owner's
 * index entries, each family read again (an entry may outlive its family); from a scan of every family while the
 * index is not complete. Collected first: a table must not be written while it is walked. */
static int family_revoke_where(hub_txn_t *txn, const family_by_t *by, const char *value, const char *keep_sid)
{
    family_scan_t scan = {by, value, keep_sid, {NULL, 0, 0}};
    idp_family_t *f;
    int ret;

    if (value == NULL)
        return 0;
    if (idp_owner_index_ready(txn))
        ret = idp_owner_index_list(txn, by->kind, value, &scan.ids);
    else
        ret = hub_store_each(txn, HUB_T_FAMILIES, NULL, 0, family_scan_cb, &scan);
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
    return family_revoke_where(txn, &by_client, client_id, NULL);
}

int idp_family_revoke_sid(hub_txn_t *txn, const char *sid)
{
    return family_revoke_where(txn, &by_sid, sid, NULL);
}

int idp_family_revoke_sub(hub_txn_t *txn, const char *sub, const char *keep_sid)
{
    return family_revoke_where(txn, &by_sub, sub, keep_sid);
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
        ret = family_index(txn, id, obj, index_until(hub_json_uint(obj, "expires_at")));
    free(id);
    json_decref(obj);
    return ret;
}
