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
    char *secret = hub_config_is_cluster(cfg) ? realpath(cfg->primary.cluster_secret_file, NULL) : NULL;
    json_t *obj = json_pack("{s:s,s:I,s:I,s:I,s:I}", "alg", hub_alg_name(cfg->primary.signing_alg), "every",
                            (json_int_t)cfg->primary.key_rotation_every, "publish_ahead",
                            (json_int_t)cfg->primary.key_publish_ahead, "access_token_ttl",
                            (json_int_t)cfg->primary.access_token_ttl, "id_token_ttl", (json_int_t)cfg->primary.id_token_ttl);
    int ret;

    /* where the cluster secret is (never the secret): hubctl -d, which reads no configuration, seals new keys with it */
    if (secret != NULL)
        json_object_set_new(obj, "cluster_secret_file", json_string(secret));
    ret = hub_store_put_json(txn, HUB_T_SETTINGS, POLICY_KEY, obj, 0, 0);
    json_decref(obj);
    free(secret);
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
    if (cfg->primary.cluster_secret_file == NULL && json_is_string(json_object_get(obj, "cluster_secret_file")))
        cfg->primary.cluster_secret_file = hub_strdup(json_string_value(json_object_get(obj, "cluster_secret_file")));
    json_decref(obj);
    return 0;
}

int idp_keys_policy_secret(hub_txn_t *txn, const char *secret_file)
{
    char *path = NULL;
    json_t *obj = NULL, *had;
    int ret;

    if (secret_file != NULL && (path = realpath(secret_file, NULL)) == NULL)
        return HUB_E_IO;
    if ((ret = hub_store_get_json(txn, HUB_T_SETTINGS, POLICY_KEY, &obj)) != 0 && ret != HUB_E_NOTFOUND && ret != HUB_E_PARSE)
        goto out;
    ret = 0;
    had = json_object_get(obj, "cluster_secret_file"); /* NULL when obj is */
    if (path == NULL ? had == NULL : json_is_string(had) && strcmp(json_string_value(had), path) == 0)
        goto out;
    if (obj == NULL)
        obj = json_object(); /* none, or not a policy: a primary saves a whole one at start */
    if (path != NULL)
        json_object_set_new(obj, "cluster_secret_file", json_string(path));
    else
        json_object_del(obj, "cluster_secret_file");
    ret = hub_store_put_json(txn, HUB_T_SETTINGS, POLICY_KEY, obj, 0, 0);
out:
    json_decref(obj);
    free(path);
    return ret;
}

int idp_keys_policy_save(hub_store_t *store, const hub_config_t *cfg)
{
    return hub_store_write(store, save_policy_txn, (void *)cfg);
}

/* The first key of a store: only when it has none (two processes starting at once on a fresh store make one). */
static int admit_first(hub_txn_t *txn, void *arg)
{
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    int ret = list->n != 0 ? HUB_E_EXISTS : 0;
    free(list);
    return ret;
}

int idp_keys_init(hub_store_t *store, const idp_keyvault_t *vault, hub_alg_t alg)
{
    if (idp_keyrec_count(store) != 0)
        return HUB_E_EXISTS;
    /* the only key: nothing else could sign while it waits for the JWKS */
    return idp_keyrec_create(store, vault, alg, hub_now(), 1, 0, admit_first, NULL, NULL);
}

/* ---- operator commands ---- */

typedef struct {
    const hub_config_t *cfg;
    char *kid_out; /* the next key that exists already */
} rotate_arg_t;

/* A next key made by the operator: unless one is published already (by another hubctl or a primary meanwhile). */
static int admit_next(hub_txn_t *txn, void *arg)
{
    rotate_arg_t *a = arg;
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    size_t next = idp_keyrec_find_state(list, IDP_KEY_NEXT, hub_now(), idp_keyrec_token_life(a->cfg));
    int ret = 0;

    if (next != SIZE_MAX) {
        snprintf(a->kid_out, 64, "%s", list->recs[next].kid);
        ret = HUB_E_EXISTS;
    }
    free(list);
    return ret;
}

int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const idp_keyvault_t *vault, char kid_out[64])
{
    uint64_t now = hub_now();
    rotate_arg_t a = {cfg, kid_out};
    hub_txn_t *txn;
    int ret;

    /* a next key already published takes over on schedule: asked first without generating a key, then again in the
     * transaction that would add one */
    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ret = admit_next(txn, &a);
    hub_store_read_end(txn);
    if (ret != 0)
        return ret;
    return idp_keyrec_create(store, vault, cfg->primary.signing_alg, now + cfg->primary.key_publish_ahead, 0,
                             cfg->primary.key_publish_ahead, admit_next, &a, kid_out);
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
    const idp_keyvault_t *vault;
    const char *kid;
    const hub_key_t *fresh; /* a new key to take over signing when no next key can, or NULL */
    int need_fresh;         /* set when the signing key is revoked, no next key exists and fresh is NULL */
    idp_revoke_result_t *out;
} revoke_arg_t;

/* When the revoked key signs, its successor takes over now: the next key, else the fresh one (added here, its private
 * key with it). */
static int hand_over(hub_txn_t *txn, revoke_arg_t *a, idp_keyrec_list_t *list, uint64_t now)
{
    size_t next = idp_keyrec_find_state(list, IDP_KEY_NEXT, now, idp_keyrec_token_life(a->cfg));
    idp_keyrec_t succ;

    if (next != SIZE_MAX) {
        succ = list->recs[next];
        succ.activate_at = now;
        succ.immediate = 1;
        snprintf(a->out->signer, sizeof(a->out->signer), "%s", succ.kid);
        return idp_keyrec_put(txn, &succ);
    }
    if (a->fresh == NULL) {
        a->need_fresh = 1;
        return HUB_E_BUSY;
    }
    idp_keyrec_init(&succ, a->fresh, now, 1, 0);
    snprintf(a->out->signer, sizeof(a->out->signer), "%s", succ.kid);
    return idp_keyrec_add(txn, a->vault, a->fresh, &succ);
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

int idp_keys_revoke(hub_store_t *store, const hub_config_t *cfg, const idp_keyvault_t *vault, const char *kid,
                    idp_revoke_result_t *out)
{
    revoke_arg_t a = {cfg, vault, kid, NULL, 0, out};
    hub_key_t *key = NULL;
    int ret = hub_store_write(store, revoke_txn, &a);

    if (ret == HUB_E_BUSY && a.need_fresh) {
        /* the signing key goes and there is no next key: a new one signs at once (generated outside the txn) */
        if ((ret = hub_key_generate(&key, cfg->primary.signing_alg)) != 0)
            return ret;
        a.fresh = key;
        if ((ret = hub_store_write(store, revoke_txn, &a)) != 0)
            idp_keyrec_private_remove(vault, store, key->kid); /* a file written by a transaction that did not commit */
        hub_key_free(key);
    }
    if (ret == 0)
        idp_keyrec_private_remove(vault, store, kid); /* a compromised private key has no use left */
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
    hub_txn_t *txn;
    int ret;

    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ret = idp_keys_list_in(txn, cfg, cb, arg);
    hub_store_read_end(txn);
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
