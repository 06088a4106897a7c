/* The operator's side of the signing keys (idp/keys.h): the saved rotation policy and the commands hubctl runs on the
 * key records (idp/keyrec.h); the running keyring is idp/keyring.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/util.h"
#include "idp/keyrec.h"
#include "idp/keys.h"

#define POLICY_KEY "key_policy"

static int save_policy_txn(hub_txn_t *txn, void *arg)
{
    const hub_config_t *cfg = arg;
    json_t *obj = json_pack("{s:s,s:I,s:I,s:I,s:I}", "alg", hub_alg_name(cfg->primary.signing_alg), "every",
                            (json_int_t)cfg->primary.key_rotation_every, "publish_ahead",
                            (json_int_t)cfg->primary.key_publish_ahead, "access_token_ttl",
                            (json_int_t)cfg->primary.access_token_ttl, "id_token_ttl", (json_int_t)cfg->primary.id_token_ttl);
    int ret = hub_store_put_json(txn, HUB_T_SETTINGS, POLICY_KEY, obj, 0, 0);
    json_decref(obj);
    return ret;
}

int idp_keys_policy_load(hub_txn_t *txn, hub_config_t *cfg)
{
    json_t *obj = NULL;
    hub_alg_t alg;
    int ret;
    if ((ret = hub_store_get_json(txn, HUB_T_SETTINGS, POLICY_KEY, &obj)) != 0)
        return ret == HUB_E_NOTFOUND ? 0 : ret;
    if (hub_alg_parse(json_string_value(json_object_get(obj, "alg")) ? json_string_value(json_object_get(obj, "alg")) : "", &alg) ==
        0)
        cfg->primary.signing_alg = alg;
#define LOAD(field, name)                                                                                                          \
    if (json_integer_value(json_object_get(obj, name)) > 0)                                                                        \
        cfg->primary.field = (uint64_t)json_integer_value(json_object_get(obj, name));
    LOAD(key_rotation_every, "every")
    LOAD(key_publish_ahead, "publish_ahead")
    LOAD(access_token_ttl, "access_token_ttl")
    LOAD(id_token_ttl, "id_token_ttl")
#undef LOAD
    json_decref(obj);
    return 0;
}

int idp_keys_policy_save(hub_store_t *store, const hub_config_t *cfg)
{
    return hub_store_write(store, save_policy_txn, (void *)cfg);
}

int idp_keys_init(hub_store_t *store, const char *data_dir, hub_alg_t alg)
{
    if (idp_keyrec_count(store) != 0)
        return HUB_E_EXISTS;
    /* the only key: nothing else could sign while it waits for the JWKS */
    return idp_keyrec_create(store, data_dir, alg, hub_now(), 1, 0, NULL);
}

/* ---- operator commands ---- */

int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, char kid_out[64])
{
    uint64_t now = hub_now();
    idp_keyrec_list_t *list = idp_keyrec_read(store);
    size_t next;
    int ret;

    if (list == NULL)
        return HUB_E_STORE;
    if ((next = idp_keyrec_find_state(list, IDP_KEY_NEXT, now, idp_keyrec_token_life(cfg))) != SIZE_MAX) {
        /* a next key is already published and takes over on schedule */
        snprintf(kid_out, 64, "%s", list->recs[next].kid);
        ret = HUB_E_EXISTS;
    } else {
        ret = idp_keyrec_create(store, data_dir, cfg->primary.signing_alg, now + cfg->primary.key_publish_ahead, 0,
                                cfg->primary.key_publish_ahead, kid_out);
    }
    free(list);
    return ret;
}

typedef struct {
    const hub_config_t *cfg;
    const char *kid;
} retire_arg_t;

static int retire_txn(hub_txn_t *txn, void *_arg)
{
    retire_arg_t *arg = _arg;
    uint64_t now = hub_now(), until, life = idp_keyrec_token_life(arg->cfg);
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    size_t target = idp_keyrec_find_kid(list, arg->kid), next = idp_keyrec_find_state(list, IDP_KEY_NEXT, now, life);
    int ret = HUB_E_NOTFOUND;

    if (target == SIZE_MAX || list->recs[target].retired)
        goto out;
    switch (idp_keyrec_state(list, target, now, life, &until)) {
    case IDP_KEY_NEXT:
        /* never signed anything: withdrawn at once */
        list->recs[target].retired = 1;
        break;
    case IDP_KEY_ACTIVE:
        /* the successor takes over now if the JWKS has served it for publish_ahead; the retired key then stays
         * published (retiring) until its last token expires */
        ret = HUB_E_BUSY;
        if (next == SIZE_MAX || list->recs[next].first_served == 0 ||
            list->recs[next].first_served + list->recs[next].publish_ahead > now)
            goto out;
        target = next;
        list->recs[target].activate_at = now;
        break;
    case IDP_KEY_REVOKED:
        ret = HUB_E_DENIED;
        goto out;
    default:
        ret = HUB_E_EXISTS; /* already retiring */
        goto out;
    }
    if ((ret = idp_keyrec_put(txn, &list->recs[target])) == 0)
        ret = hub_store_bump(txn, IDP_KEYS_GEN, NULL);
out:
    free(list);
    return ret;
}

int idp_keys_retire(hub_store_t *store, const hub_config_t *cfg, const char *kid)
{
    retire_arg_t arg = {cfg, kid};
    return hub_store_write(store, retire_txn, &arg);
}

typedef struct {
    const hub_config_t *cfg;
    const char *kid;
    const idp_keyrec_t *fresh; /* a new key to take over signing when no next key can, or NULL */
    int need_fresh;            /* set when the signing key is revoked, no next key exists and fresh is NULL */
    idp_revoke_result_t *out;
} revoke_arg_t;

/* When the revoked key signs, its successor takes over now: the next key, else the fresh one. */
static int hand_over(hub_txn_t *txn, revoke_arg_t *a, idp_keyrec_list_t *list, uint64_t now)
{
    size_t next = idp_keyrec_find_state(list, IDP_KEY_NEXT, now, idp_keyrec_token_life(a->cfg));
    idp_keyrec_t succ;

    if (next != SIZE_MAX) {
        succ = list->recs[next];
    } else if (a->fresh != NULL) {
        succ = *a->fresh;
    } else {
        a->need_fresh = 1;
        return HUB_E_BUSY;
    }
    succ.activate_at = now;
    succ.immediate = 1;
    snprintf(a->out->signer, sizeof(a->out->signer), "%s", succ.kid);
    return idp_keyrec_put(txn, &succ);
}

static int revoke_txn(hub_txn_t *txn, void *_arg)
{
    revoke_arg_t *a = _arg;
    uint64_t now = hub_now(), until;
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    size_t t = idp_keyrec_find_kid(list, a->kid);
    idp_keyrec_t *rec;
    int ret = HUB_E_NOTFOUND;

    a->need_fresh = 0;
    memset(a->out, 0, sizeof(*a->out));
    if (t == SIZE_MAX)
        goto out;
    rec = &list->recs[t];
    if (idp_keyrec_state(list, t, now, idp_keyrec_token_life(a->cfg), &until) == IDP_KEY_ACTIVE &&
        (ret = hand_over(txn, a, list, now)) != 0)
        goto out;
    a->out->already = rec->revoked_at != 0;
    if (rec->revoked_at == 0)
        rec->revoked_at = now;
    rec->notify = 1; /* again for a repeated revocation: a node missed it, or the operator wants it told once more */
    if ((ret = idp_keyrec_put(txn, rec)) == 0)
        ret = hub_store_bump(txn, IDP_KEYS_GEN, NULL);
out:
    free(list);
    return ret;
}

int idp_keys_revoke(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, const char *kid, idp_revoke_result_t *out)
{
    revoke_arg_t a = {cfg, kid, NULL, 0, out};
    hub_key_t *key = NULL;
    idp_keyrec_t fresh;
    int ret = hub_store_write(store, revoke_txn, &a);

    if (ret == HUB_E_BUSY && a.need_fresh) {
        /* the signing key goes and there is no next key: a new one signs at once (generated outside the txn) */
        if ((ret = idp_keyrec_new_file(data_dir, cfg->primary.signing_alg, &key)) != 0)
            return ret;
        idp_keyrec_init(&fresh, key, hub_now(), 1, 0);
        a.fresh = &fresh;
        ret = hub_store_write(store, revoke_txn, &a);
        if (ret != 0 || strcmp(out->signer, fresh.kid) != 0)
            idp_keyrec_remove_file(data_dir, fresh.kid); /* the keys changed meanwhile and it was not needed */
        hub_key_free(key);
    }
    if (ret == 0)
        idp_keyrec_remove_file(data_dir, kid); /* a compromised private key has no use left */
    return ret;
}

/* cb for each key of list with its state. */
static int each_key(const idp_keyrec_list_t *list, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info),
                    void *arg)
{
    uint64_t now = hub_now(), life = idp_keyrec_token_life(cfg);
    int ret = 0;

    for (size_t i = 0; i != list->n && ret == 0; ++i) {
        const idp_keyrec_t *r = &list->recs[i];
        idp_key_info_t info = {
            r->kid,          r->alg, IDP_KEY_NEXT, r->created_at, r->active_from != IDP_KEY_NEVER ? r->active_from : 0,
            r->first_served, 0,      r->revoked_at};
        info.state = idp_keyrec_state(list, i, now, life, &info.publish_until);
        ret = cb(arg, &info);
    }
    return ret;
}

int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg)
{
    idp_keyrec_list_t *list = idp_keyrec_read(store);
    int ret;

    if (list == NULL)
        return HUB_E_STORE;
    ret = each_key(list, cfg, cb, arg);
    free(list);
    return ret;
}

int idp_keys_list_in(hub_txn_t *txn, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg)
{
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    int ret;

    if (list == NULL)
        return HUB_E_STORE;
    ret = each_key(list, cfg, cb, arg);
    free(list);
    return ret;
}

int idp_keys_retire_refusal(int ret, const char *kid, idp_invalid_t *inv)
{
    static const struct {
        int ret;
        const char *fmt;
    } why[] = {
        {HUB_E_NOTFOUND, "no key \"%s\""},
        {HUB_E_BUSY, "%s is the active key and no next key has been served by the JWKS for publish_ahead yet (run keys rotate, "
                     "then retire it once the next key is due; keys revoke in an emergency)"},
        {HUB_E_EXISTS, "%s is already retiring; it stays published until its last token expires"},
        {HUB_E_DENIED, "%s is revoked"},
    };
    char q[IDP_QUOTE_MAX];

    for (size_t i = 0; i != sizeof(why) / sizeof(why[0]); ++i)
        if (why[i].ret == ret) {
            idp_invalid(inv, IDP_FIELD_KID, why[i].fmt, idp_quote(q, sizeof(q), kid));
            return 1;
        }
    return 0;
}
