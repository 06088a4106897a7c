/* Signing key records (KEYS table) and their private key files (data_dir/keys/), their states, the rotation policy
 * hubctl reads, and the operator commands on them (idp/keys.h); the running keyring is idp/keyring.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/util.h"
#include "idp/keys.h"
#include "idp/keys_internal.h"

#define POLICY_KEY "key_policy"

const char *idp_key_state_name(idp_key_state_t s)
{
    static const char *names[] = {"next", "active", "retiring", "retired", "revoked"};
    return (unsigned)s <= IDP_KEY_REVOKED ? names[s] : "unknown";
}

/* The longest time a token signed now can stay valid, plus a margin for clock skew. */
uint64_t idp_keyrec_token_life(const hub_config_t *cfg)
{
    uint64_t t = cfg->primary.access_token_ttl;
    if (cfg->primary.id_token_ttl > t)
        t = cfg->primary.id_token_ttl;
    return t + 60;
}

/* When rec signs: immediate keys from activate_at, others publish_ahead after the JWKS first served them. */
static uint64_t rec_activation(const idp_keyrec_t *rec)
{
    uint64_t t;
    if (rec->immediate)
        return rec->activate_at;
    if (rec->first_served == 0)
        return IDP_KEY_NEVER;
    t = rec->first_served + rec->publish_ahead;
    return t > rec->activate_at ? t : rec->activate_at;
}

static int rec_decode(const json_t *obj, idp_keyrec_t *rec)
{
    const char *kid = json_string_value(json_object_get(obj, "kid"));
    const char *alg = json_string_value(json_object_get(obj, "alg"));
    memset(rec, 0, sizeof(*rec));
    if (kid == NULL || alg == NULL || strlen(kid) >= sizeof(rec->kid) || hub_alg_parse(alg, &rec->alg) != 0)
        return HUB_E_PARSE;
    memcpy(rec->kid, kid, strlen(kid) + 1);
    rec->created_at = hub_json_uint(obj, "created_at");
    rec->activate_at = hub_json_uint(obj, "activate_at");
    rec->first_served = hub_json_uint(obj, "first_served");
    rec->publish_ahead = hub_json_uint(obj, "publish_ahead");
    /* a record from before first_served was kept activated from its write, as it was promised */
    rec->immediate = json_object_get(obj, "first_served") == NULL || json_is_true(json_object_get(obj, "immediate"));
    rec->retired = json_is_true(json_object_get(obj, "retired"));
    rec->revoked_at = hub_json_uint(obj, "revoked_at");
    rec->notify = json_is_true(json_object_get(obj, "notify"));
    return 0;
}

static json_t *rec_encode(const idp_keyrec_t *rec)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:b}", "kid", rec->kid, "alg", hub_alg_name(rec->alg), "created_at",
                     (json_int_t)rec->created_at, "activate_at", (json_int_t)rec->activate_at, "first_served",
                     (json_int_t)rec->first_served, "publish_ahead", (json_int_t)rec->publish_ahead, "immediate", rec->immediate,
                     "retired", rec->retired, "revoked_at", (json_int_t)rec->revoked_at, "notify", rec->notify);
}

int idp_keyrec_get(hub_txn_t *txn, const char *kid, idp_keyrec_t *rec)
{
    json_t *obj = NULL;
    int ret;
    if ((ret = hub_store_get_json(txn, HUB_T_KEYS, kid, &obj)) != 0)
        return ret;
    ret = rec_decode(obj, rec);
    json_decref(obj);
    return ret;
}

int idp_keyrec_put(hub_txn_t *txn, const idp_keyrec_t *rec)
{
    json_t *obj = rec_encode(rec);
    int ret = hub_store_put_json(txn, HUB_T_KEYS, rec->kid, obj, 0, 0);
    json_decref(obj);
    return ret;
}

static int collect_cb(void *arg, hub_val_t key, hub_val_t val)
{
    idp_keyrec_list_t *list = arg;
    json_t *obj;
    if (list->n == sizeof(list->recs) / sizeof(list->recs[0]))
        return 0;
    if ((obj = json_loadb(val.data, val.len, 0, NULL)) == NULL)
        return 0;
    if (rec_decode(obj, &list->recs[list->n]) == 0)
        ++list->n;
    json_decref(obj);
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const idp_keyrec_t *x = a, *y = b;
    if (x->active_from != y->active_from)
        return x->active_from < y->active_from ? -1 : 1;
    if (x->activate_at != y->activate_at)
        return x->activate_at < y->activate_at ? -1 : 1;
    return strcmp(x->kid, y->kid);
}

/* Reads every key record (a new list, caller frees), sorted by activation time. */
idp_keyrec_list_t *idp_keyrec_load(hub_txn_t *txn)
{
    idp_keyrec_list_t *list = calloc(1, sizeof(*list));
    if (list == NULL)
        abort();
    hub_store_each(txn, HUB_T_KEYS, NULL, 0, collect_cb, list);
    for (size_t i = 0; i != list->n; ++i)
        list->recs[i].active_from = rec_activation(&list->recs[i]);
    qsort(list->recs, list->n, sizeof(list->recs[0]), cmp_rec);
    return list;
}

/* The same in a read transaction of its own; NULL when the store cannot be read. */
idp_keyrec_list_t *idp_keyrec_read(hub_store_t *store)
{
    hub_txn_t *txn;
    idp_keyrec_list_t *list;
    if (hub_store_read_begin(store, &txn) != 0)
        return NULL;
    list = idp_keyrec_load(txn);
    hub_store_read_end(txn);
    return list;
}

/* A key that may still sign or be published: neither withdrawn nor revoked. */
static int rec_usable(const idp_keyrec_t *rec)
{
    return !rec->retired && rec->revoked_at == 0;
}

/* The state of recs[i] at time now; *publish_until receives when a retiring key drops. */
idp_key_state_t idp_keyrec_state(const idp_keyrec_list_t *list, size_t i, uint64_t now, uint64_t life, uint64_t *publish_until)
{
    const idp_keyrec_t *rec = &list->recs[i];
    size_t j;
    *publish_until = 0;
    if (rec->revoked_at != 0)
        return IDP_KEY_REVOKED;
    if (rec->retired)
        return IDP_KEY_RETIRED;
    if (rec->active_from > now)
        return IDP_KEY_NEXT;
    /* the successor is the next usable key that has activated */
    for (j = i + 1; j < list->n; ++j) {
        if (!rec_usable(&list->recs[j]) || list->recs[j].active_from > now)
            continue;
        *publish_until = list->recs[j].active_from + life;
        return now < *publish_until ? IDP_KEY_RETIRING : IDP_KEY_RETIRED;
    }
    return IDP_KEY_ACTIVE;
}

/* The index of the key in a given state (the first one), or SIZE_MAX. */
size_t idp_keyrec_find_state(const idp_keyrec_list_t *list, idp_key_state_t want, uint64_t now, uint64_t life)
{
    uint64_t until;
    for (size_t i = 0; i != list->n; ++i)
        if (idp_keyrec_state(list, i, now, life, &until) == want)
            return i;
    return SIZE_MAX;
}

size_t idp_keyrec_find_kid(const idp_keyrec_list_t *list, const char *kid)
{
    for (size_t i = 0; i != list->n; ++i)
        if (strcmp(list->recs[i].kid, kid) == 0)
            return i;
    return SIZE_MAX;
}

static void key_path(char *buf, size_t size, const char *data_dir, const char *kid)
{
    snprintf(buf, size, "%s/keys/%s.pem", data_dir, kid);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;
    int ret = HUB_E_IO;
    if (fp == NULL)
        return HUB_E_NOTFOUND;
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || n > 65536 || fseek(fp, 0, SEEK_SET) != 0)
        goto out;
    if ((buf = malloc(n + 1)) == NULL)
        abort();
    if (fread(buf, 1, n, fp) != (size_t)n)
        goto out;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    ret = 0;
out:
    free(buf);
    fclose(fp);
    return ret;
}

/* Writes the private key file with mode 0600 before its record is committed. */
static int write_key_file(const char *data_dir, const hub_key_t *key)
{
    char dir[4096], path[4200], *pem = NULL;
    size_t len;
    int fd = -1, ret;

    snprintf(dir, sizeof(dir), "%s/keys", data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return HUB_E_IO;
    if ((ret = hub_key_to_pem(key, &pem, &len)) != 0)
        return ret;
    key_path(path, sizeof(path), data_dir, key->kid);
    ret = HUB_E_IO;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
        goto out;
    if (write(fd, pem, len) != (ssize_t)len || fsync(fd) != 0)
        goto out;
    ret = 0;
out:
    if (fd != -1)
        close(fd);
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    return ret;
}

void idp_keyrec_remove_file(const char *data_dir, const char *kid)
{
    char path[4200];
    key_path(path, sizeof(path), data_dir, kid);
    if (unlink(path) != 0 && errno != ENOENT)
        hub_log_warn("signing key %s: cannot remove %s", kid, path);
}

int idp_keyrec_new_file(const char *data_dir, hub_alg_t alg, hub_key_t **out)
{
    int ret;
    if ((ret = hub_key_generate(out, alg)) != 0)
        return ret;
    if ((ret = write_key_file(data_dir, *out)) != 0) {
        hub_key_free(*out);
        *out = NULL;
    }
    return ret;
}

void idp_keyrec_init(idp_keyrec_t *rec, const hub_key_t *key, uint64_t activate_at, int immediate, uint64_t publish_ahead)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->kid, sizeof(rec->kid), "%s", key->kid);
    rec->alg = key->alg;
    rec->created_at = hub_now();
    rec->activate_at = activate_at;
    rec->immediate = immediate;
    rec->publish_ahead = immediate ? 0 : publish_ahead;
}

static int put_rec_txn(hub_txn_t *txn, void *arg)
{
    int ret = idp_keyrec_put(txn, arg);
    return ret == 0 ? hub_store_bump(txn, IDP_KEYS_GEN, NULL) : ret;
}

/* Generates a key signing from activate_at, and (unless immediate) publish_ahead after the JWKS first served it; writes
 * its file and its record. */
int idp_keyrec_create(hub_store_t *store, const char *data_dir, hub_alg_t alg, uint64_t activate_at, int immediate,
                      uint64_t publish_ahead, char kid_out[64])
{
    hub_key_t *key = NULL;
    idp_keyrec_t rec;
    int ret;

    if ((ret = idp_keyrec_new_file(data_dir, alg, &key)) != 0)
        return ret;
    idp_keyrec_init(&rec, key, activate_at, immediate, publish_ahead);
    if ((ret = hub_store_write(store, put_rec_txn, &rec)) != 0)
        idp_keyrec_remove_file(data_dir, rec.kid);
    else if (kid_out != NULL)
        snprintf(kid_out, 64, "%s", key->kid);
    hub_key_free(key);
    return ret;
}

int idp_keyrec_load_key(const char *data_dir, const idp_keyrec_t *rec, hub_key_t **out)
{
    char path[4200], *pem = NULL;
    size_t len;
    int ret;

    key_path(path, sizeof(path), data_dir, rec->kid);
    if ((ret = read_file(path, &pem, &len)) != 0) {
        hub_log_error("signing key %s: cannot read %s", rec->kid, path);
        return ret;
    }
    ret = hub_key_from_pem(out, rec->kid, rec->alg, pem, len);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (ret != 0)
        hub_log_error("signing key %s: %s is not a valid %s key", rec->kid, path, hub_alg_name(rec->alg));
    return ret;
}

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

static int count_keys_cb(void *arg, hub_val_t key, hub_val_t val)
{
    ++*(size_t *)arg;
    return 0;
}

size_t idp_keyrec_count(hub_store_t *store)
{
    hub_txn_t *txn;
    size_t n = 0;
    if (hub_store_read_begin(store, &txn) != 0)
        return 0;
    hub_store_each(txn, HUB_T_KEYS, NULL, 0, count_keys_cb, &n);
    hub_store_read_end(txn);
    return n;
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

int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg)
{
    uint64_t now = hub_now(), life = idp_keyrec_token_life(cfg);
    idp_keyrec_list_t *list = idp_keyrec_read(store);
    int ret = 0;

    if (list == NULL)
        return HUB_E_STORE;
    for (size_t i = 0; i != list->n && ret == 0; ++i) {
        const idp_keyrec_t *r = &list->recs[i];
        idp_key_info_t info = {
            r->kid,          r->alg, IDP_KEY_NEXT, r->created_at, r->active_from != IDP_KEY_NEVER ? r->active_from : 0,
            r->first_served, 0,      r->revoked_at};
        info.state = idp_keyrec_state(list, i, now, life, &info.publish_until);
        ret = cb(arg, &info);
    }
    free(list);
    return ret;
}
