/* Signing key records (KEYS table, key = kid) and their private key files (data_dir/keys/, mode 0600): decoding, the
 * state a record is in, creation (file first, then record), reading a key back, a private key's PEM carried out and in
 * (hubctl store export / import). */
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
#include "hub/log.h"
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

/* A kid a file may be named after: what hub_key_generate makes (base64url), nothing that walks out of keys/. */
static int plain_kid(const char *kid)
{
    size_t n = strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    return n != 0 && kid[n] == '\0' && n < sizeof(((idp_keyrec_t *)NULL)->kid);
}

int idp_keyrec_decode(const void *val, size_t len, idp_keyrec_t *rec)
{
    json_t *obj = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
    int ret = json_is_object(obj) ? rec_decode(obj, rec) : HUB_E_PARSE;

    json_decref(obj);
    return ret == 0 && !plain_kid(rec->kid) ? HUB_E_PARSE : ret;
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

/* Writes the private key file with mode 0600 before its record is committed; HUB_E_EXISTS when kid has one. */
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
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
        ret = errno == EEXIST ? HUB_E_EXISTS : HUB_E_IO;
        goto out;
    }
    ret = write(fd, pem, len) != (ssize_t)len || fsync(fd) != 0 ? HUB_E_IO : 0;
out:
    if (fd != -1)
        close(fd);
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    return ret;
}

int idp_keyrec_private_pem(const char *data_dir, const char *kid, char **pem, size_t *len)
{
    char path[4200];

    if (!plain_kid(kid))
        return HUB_E_INVAL;
    key_path(path, sizeof(path), data_dir, kid);
    return read_file(path, pem, len);
}

int idp_keyrec_put_private_pem(const char *data_dir, const idp_keyrec_t *rec, const char *pem, size_t len)
{
    hub_key_t *key = NULL;
    int ret;

    if (!plain_kid(rec->kid))
        return HUB_E_INVAL;
    if (hub_key_from_pem(&key, rec->kid, rec->alg, pem, len) != 0)
        return HUB_E_PARSE; /* not PEM, or a key of another algorithm */
    ret = write_key_file(data_dir, key);
    hub_key_free(key);
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
