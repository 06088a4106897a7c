/* Signing key records (KEYS table, key = kid) and their private keys (files in data_dir/keys/, mode 0600, or records of
 * KEY_SECRETS sealed with the cluster secret): decoding (a dump's records too: hubctl store import), the state a record
 * is in, the vault, creation, reading a key back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/crypto.h"
#include "hub/log.h"
#include "hub/seal.h"
#include "hub/util.h"
#include "idp/keyrec.h"

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

/* A kid names a file and a record: 1 to 63 of [A-Za-z0-9_-] (hub_key_generate makes 16 of base64url). */
static int kid_ok(const char *kid)
{
    size_t n = strspn(kid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    return n != 0 && n < 64 && kid[n] == '\0';
}

int idp_keyrec_decode(const void *val, size_t len, idp_keyrec_t *rec)
{
    json_t *obj = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
    int ret = json_is_object(obj) ? rec_decode(obj, rec) : HUB_E_PARSE;

    json_decref(obj);
    return ret == 0 && !kid_ok(rec->kid) ? HUB_E_PARSE : ret;
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
    idp_keyrec_list_t *list = hub_xcalloc(1, sizeof(*list));
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

/* ---- private keys: the vault ---- */

#define SEAL_VERSION 1
#define SEAL_INFO "hub cluster: signing key seal v1" /* HKDF info: the purpose and version of the key */
#define PEM_MAX IDP_KEYREC_PEM_MAX
#define BOX_TEXT_MAX HUB_B64URL_LEN(1 + PEM_MAX + HUB_SEAL_OVERHEAD)

struct st_idp_keyvault_t {
    char *data_dir;
    int sealed;
    uint8_t key[HUB_KEY_LEN]; /* sealed: derived from the cluster secret */
};

int idp_keyvault_open(idp_keyvault_t **out, const hub_config_t *cfg, const char *data_dir, char *why, size_t whysize)
{
    uint8_t secret[HUB_CLUSTER_SECRET_MAX];
    idp_keyvault_t *v = hub_xcalloc(1, sizeof(*v));
    int n;

    v->data_dir = hub_strdup(data_dir);
    if (hub_config_is_cluster(cfg)) {
        if ((n = hub_cluster_secret_read(cfg->primary.cluster_secret_file, secret, why, whysize)) < 0) {
            idp_keyvault_close(v);
            return n;
        }
        hub_hkdf_sha256(v->key, secret, (size_t)n, SEAL_INFO);
        OPENSSL_cleanse(secret, sizeof(secret));
        v->sealed = 1;
    }
    *out = v;
    return 0;
}

void idp_keyvault_close(idp_keyvault_t *v)
{
    if (v == NULL)
        return;
    OPENSSL_cleanse(v->key, sizeof(v->key));
    free(v->data_dir);
    free(v);
}

int idp_keyvault_sealed(const idp_keyvault_t *v)
{
    return v->sealed;
}

/* ---- files ---- */

static void key_path(char *buf, size_t size, const char *data_dir, const char *kid, const char *ext)
{
    snprintf(buf, size, "%s/keys/%s.pem%s", data_dir, kid, ext);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;
    int ret = HUB_E_IO;
    if (fp == NULL)
        return errno == ENOENT ? HUB_E_NOTFOUND : HUB_E_IO;
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || n > PEM_MAX || fseek(fp, 0, SEEK_SET) != 0)
        goto out;
    buf = hub_xmalloc(n + 1);
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

/* Writes the file whole under a temporary name, syncs it and renames it over KID.pem (so writing it again is harmless),
 * then syncs the directory: the file is durable before the record naming it commits. */
static int write_key_file(const char *data_dir, const char *kid, const char *pem, size_t len)
{
    char dir[4096], tmp[4200], path[4200];
    int fd = -1, ret = HUB_E_IO;

    snprintf(dir, sizeof(dir), "%s/keys", data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return HUB_E_IO;
    key_path(tmp, sizeof(tmp), data_dir, kid, ".tmp");
    key_path(path, sizeof(path), data_dir, kid, "");
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
        goto out;
    int written = write(fd, pem, len) == (ssize_t)len && fsync(fd) == 0;
    if (close(fd) != 0)
        written = 0;
    fd = -1;
    if (!written || rename(tmp, path) != 0) {
        unlink(tmp);
        goto out;
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1 && fsync(fd) == 0)
        ret = 0;
out:
    if (fd != -1)
        close(fd);
    return ret;
}

static void unlink_key_file(const char *data_dir, const char *kid)
{
    char path[4200];
    key_path(path, sizeof(path), data_dir, kid, "");
    if (unlink(path) != 0 && errno != ENOENT)
        hub_log_warn("signing key %s: cannot remove %s", kid, path);
}

/* ---- sealed records ---- */

/* The associated data of a box: the version byte and the kid. */
static size_t seal_ad(uint8_t ad[1 + 64], const char *kid)
{
    size_t n = strlen(kid);
    ad[0] = SEAL_VERSION;
    memcpy(ad + 1, kid, n);
    return n + 1;
}

static int sealed_store(const idp_keyvault_t *v, hub_txn_t *txn, const char *kid, const char *pem, size_t len)
{
    size_t blen = 1 + len + HUB_SEAL_OVERHEAD;
    uint8_t ad[1 + 64], *box = hub_xmalloc(blen);
    char *text = hub_xmalloc(HUB_B64URL_LEN(blen) + 1);
    json_t *obj;
    int ret;

    box[0] = SEAL_VERSION;
    hub_seal(v->key, ad, seal_ad(ad, kid), pem, len, box + 1);
    hub_b64url_encode(text, box, blen);
    obj = json_pack("{s:s}", "box", text);
    ret = obj != NULL ? hub_store_put_json(txn, HUB_T_KEY_SECRETS, kid, obj, 0, 0) : HUB_E_NOMEM;
    json_decref(obj);
    free(text);
    free(box);
    return ret;
}

/* Decodes the box of kid's record into a new buffer (*box, *blen bytes, its version byte first). */
static int sealed_box(hub_txn_t *txn, const char *kid, uint8_t **box, size_t *blen)
{
    json_t *obj = NULL;
    const char *text;
    size_t tlen;
    int ret, n;

    if ((ret = hub_store_get_json(txn, HUB_T_KEY_SECRETS, kid, &obj)) != 0)
        return ret;
    ret = HUB_E_PARSE;
    if ((text = json_string_value(json_object_get(obj, "box"))) == NULL || (tlen = strlen(text)) > BOX_TEXT_MAX)
        goto out;
    *box = hub_xmalloc(tlen * 3 / 4 + 1);
    if ((n = hub_b64url_decode(*box, text, tlen)) < 1) {
        free(*box);
        *box = NULL;
        goto out;
    }
    *blen = (size_t)n;
    ret = 0;
out:
    json_decref(obj);
    return ret;
}

static int sealed_load(const idp_keyvault_t *v, hub_txn_t *txn, const char *kid, char **pem, size_t *len)
{
    uint8_t ad[1 + 64], *box = NULL;
    size_t blen = 0;
    char *out = NULL;
    int ret, n;

    if ((ret = sealed_box(txn, kid, &box, &blen)) != 0)
        return ret;
    if (box[0] != SEAL_VERSION) {
        ret = HUB_E_VERSION;
    } else if (!v->sealed) {
        ret = HUB_E_DENIED;
    } else {
        out = hub_xmalloc(blen);
        if ((n = hub_open(v->key, ad, seal_ad(ad, kid), box + 1, blen - 1, (uint8_t *)out)) < 0) {
            ret = HUB_E_CRYPTO;
            free(out);
        } else {
            out[n] = '\0';
            *pem = out;
            *len = (size_t)n;
        }
    }
    free(box);
    return ret;
}

static int any_cb(void *arg, hub_val_t key, hub_val_t val)
{
    return 1;
}

/* ---- the pair: the one place that knows files from sealed records ---- */

int idp_keyrec_private_load(const idp_keyvault_t *v, hub_txn_t *txn, const char *kid, char **pem, size_t *len)
{
    char path[4200];
    hub_val_t val;
    int ret;

    if (!kid_ok(kid))
        return HUB_E_INVAL;
    if (v->sealed)
        return sealed_load(v, txn, kid, pem, len);
    key_path(path, sizeof(path), v->data_dir, kid, "");
    if ((ret = read_file(path, pem, len)) == HUB_E_NOTFOUND && hub_store_get(txn, HUB_T_KEY_SECRETS, kid, strlen(kid), &val) == 0)
        ret = HUB_E_DENIED; /* sealed by a primary of a cluster: without the secret, no key */
    return ret;
}

int idp_keyrec_private_store(const idp_keyvault_t *v, hub_txn_t *txn, const char *kid, const char *pem, size_t len)
{
    if (!kid_ok(kid))
        return HUB_E_INVAL;
    if (len > PEM_MAX)
        return HUB_E_TOOBIG;
    if (v->sealed)
        return sealed_store(v, txn, kid, pem, len);
    if (hub_store_each(txn, HUB_T_KEY_SECRETS, NULL, 0, any_cb, NULL) != 0)
        return HUB_E_DENIED;
    return write_key_file(v->data_dir, kid, pem, len);
}

static int del_sealed_txn(hub_txn_t *txn, void *arg)
{
    int ret = hub_store_del(txn, HUB_T_KEY_SECRETS, arg, strlen(arg));
    return ret == HUB_E_NOTFOUND ? 0 : ret;
}

void idp_keyrec_private_remove(const idp_keyvault_t *v, hub_store_t *store, const char *kid)
{
    hub_txn_t *txn;
    hub_val_t val;
    int there = 0, ret;

    if (!kid_ok(kid))
        return;
    if (hub_store_read_begin(store, &txn) == 0) {
        there = hub_store_get(txn, HUB_T_KEY_SECRETS, kid, strlen(kid), &val) == 0;
        hub_store_read_end(txn);
    }
    if (there && (ret = hub_store_write(store, del_sealed_txn, (void *)kid)) != 0)
        hub_log_warn("signing key %s: cannot remove its sealed private key: %s", kid, hub_strerror(ret));
    unlink_key_file(v->data_dir, kid); /* also a copy left from before the store sealed its keys */
}

/* ---- files sealed into the store ---- */

typedef struct st_adopt_arg_t {
    const idp_keyvault_t *v;
    const char *kid;
    int sealed; /* this transaction sealed the file */
} adopt_arg_t;

static int adopt_txn(hub_txn_t *txn, void *arg)
{
    adopt_arg_t *a = arg;
    char path[4200], *pem = NULL;
    hub_val_t val;
    size_t len = 0;
    int ret;

    a->sealed = 0;
    if (hub_store_get(txn, HUB_T_KEY_SECRETS, a->kid, strlen(a->kid), &val) == 0)
        return 0;
    key_path(path, sizeof(path), a->v->data_dir, a->kid, "");
    if ((ret = read_file(path, &pem, &len)) != 0)
        return ret == HUB_E_NOTFOUND ? 0 : ret;
    ret = sealed_store(a->v, txn, a->kid, pem, len);
    a->sealed = ret == 0;
    OPENSSL_cleanse(pem, len);
    free(pem);
    return ret;
}

int idp_keyrec_seal_files(const idp_keyvault_t *v, hub_store_t *store)
{
    idp_keyrec_list_t *list;
    int n = 0, ret;

    if (!v->sealed)
        return 0;
    if ((list = idp_keyrec_read(store)) == NULL)
        return HUB_E_STORE;
    for (size_t i = 0; i != list->n; ++i) {
        adopt_arg_t a = {v, list->recs[i].kid, 0};
        if (!kid_ok(a.kid))
            continue;
        if ((ret = hub_store_write(store, adopt_txn, &a)) != 0) {
            hub_log_error("signing key %s: cannot seal its private key file into the store: %s", a.kid, hub_strerror(ret));
            n = ret;
            break;
        }
        if (a.sealed) {
            unlink_key_file(v->data_dir, a.kid);
            hub_log_info("signing key %s: its private key file is now sealed in the store with the cluster secret", a.kid);
            ++n;
        }
    }
    free(list);
    return n;
}

/* ---- keys ---- */

/* Why a private key did not load, for the operator. */
static void log_load_failure(const idp_keyvault_t *v, const char *kid, int ret)
{
    static const struct {
        int ret;
        const char *why;
    } whys[] = {
        {HUB_E_CRYPTO, "the cluster secret does not open key %s (it was sealed with another cluster secret, or altered)"},
        {HUB_E_DENIED, "key %s is sealed in the store with a cluster secret, and this node has none (primary.cluster_secret_file)"},
        {HUB_E_VERSION, "key %s is sealed in a format this version does not know"},
        {HUB_E_NOTFOUND, "signing key %s: its private key is missing"},
        {HUB_E_PARSE, "signing key %s: its sealed record is damaged"},
    };
    for (size_t i = 0; i != sizeof(whys) / sizeof(whys[0]); ++i)
        if (whys[i].ret == ret) {
            hub_log_error(whys[i].why, kid);
            return;
        }
    hub_log_error("signing key %s: cannot read its private key%s: %s", kid, v->sealed ? "" : " file", hub_strerror(ret));
}

int idp_keyrec_load_key(const idp_keyvault_t *v, hub_txn_t *txn, const idp_keyrec_t *rec, hub_key_t **out)
{
    char *pem = NULL;
    size_t len = 0;
    int ret;

    if ((ret = idp_keyrec_private_load(v, txn, rec->kid, &pem, &len)) != 0) {
        log_load_failure(v, rec->kid, ret);
        return ret;
    }
    ret = hub_key_from_pem(out, rec->kid, rec->alg, pem, len);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (ret != 0)
        hub_log_error("signing key %s: its private key is not a valid %s key", rec->kid, hub_alg_name(rec->alg));
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

int idp_keyrec_add(hub_txn_t *txn, const idp_keyvault_t *v, const hub_key_t *key, const idp_keyrec_t *rec)
{
    char *pem = NULL;
    size_t len = 0;
    int ret;

    if ((ret = hub_key_to_pem(key, &pem, &len)) != 0)
        return ret;
    ret = idp_keyrec_private_store(v, txn, key->kid, pem, len);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (ret == 0 && (ret = idp_keyrec_put(txn, rec)) == 0)
        ret = hub_store_bump(txn, IDP_KEYS_GEN, NULL);
    return ret;
}

typedef struct st_create_arg_t {
    const idp_keyvault_t *v;
    const hub_key_t *key;
    idp_keyrec_t rec;
    idp_keyrec_admit_cb admit;
    void *admit_arg;
} create_arg_t;

static int create_txn(hub_txn_t *txn, void *arg)
{
    create_arg_t *a = arg;
    int ret;
    if (a->admit != NULL && (ret = a->admit(txn, a->admit_arg)) != 0)
        return ret;
    return idp_keyrec_add(txn, a->v, a->key, &a->rec);
}

int idp_keyrec_create(hub_store_t *store, const idp_keyvault_t *v, hub_alg_t alg, uint64_t activate_at, int immediate,
                      uint64_t publish_ahead, idp_keyrec_admit_cb admit, void *admit_arg, char kid_out[64])
{
    create_arg_t a = {v, NULL, {{0}}, admit, admit_arg};
    hub_key_t *key = NULL;
    int ret;

    /* generated before the transaction: key generation never holds the store's writer */
    if ((ret = hub_key_generate(&key, alg)) != 0)
        return ret;
    a.key = key;
    idp_keyrec_init(&a.rec, key, activate_at, immediate, publish_ahead);
    if ((ret = hub_store_write(store, create_txn, &a)) != 0)
        idp_keyrec_private_remove(v, store, key->kid);
    else if (kid_out != NULL)
        snprintf(kid_out, 64, "%s", key->kid);
    hub_key_free(key);
    return ret;
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
