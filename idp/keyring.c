/* Signing keys: records in KEYS, PEM files in data_dir/keys/, an immutable in-memory
 * snapshot swapped atomically for request threads, and a background rotation thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/log.h"
#include "idp/keyring.h"

#define KEYS_GEN "gen:keys"
#define POLICY_KEY "key_policy"
#define MAX_KEYS 16

/* One key record as stored. */
typedef struct st_key_rec_t {
    char kid[64];
    hub_alg_t alg;
    uint64_t created_at;
    uint64_t activate_at;
    int retired; /* dropped by the operator */
} key_rec_t;

typedef struct st_snap_key_t {
    hub_key_t *key;
    uint64_t activate_at;
    uint64_t publish_until; /* 0 = open-ended */
} snap_key_t;

/* Immutable once published; old snapshots are kept until close, so a pointer handed to a
 * request stays valid (rotation happens rarely, the cost is a few KB per reload). */
typedef struct st_snapshot_t {
    snap_key_t keys[MAX_KEYS]; /* published keys, ascending activate_at */
    size_t n;
    char *jwks;
    size_t jwks_len;
    uint64_t gen;
    uint64_t next_change; /* when the published set or the signing key changes next */
    struct st_snapshot_t *older;
} snapshot_t;

struct st_idp_keyring_t {
    hub_store_t *store;
    const hub_config_t *cfg;
    snapshot_t *current;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int stopping;
};

const char *idp_key_state_name(idp_key_state_t s)
{
    static const char *names[] = {"next", "active", "retiring", "retired"};
    return (unsigned)s <= IDP_KEY_RETIRED ? names[s] : "unknown";
}

/* The longest time a token signed now can stay valid, plus a margin for clock skew. */
static uint64_t max_token_life(const hub_config_t *cfg)
{
    uint64_t t = cfg->primary.access_token_ttl;
    if (cfg->primary.id_token_ttl > t)
        t = cfg->primary.id_token_ttl;
    return t + 60;
}

static int rec_decode(const json_t *obj, key_rec_t *rec)
{
    const char *kid = json_string_value(json_object_get(obj, "kid"));
    const char *alg = json_string_value(json_object_get(obj, "alg"));
    memset(rec, 0, sizeof(*rec));
    if (kid == NULL || alg == NULL || strlen(kid) >= sizeof(rec->kid) || hub_alg_parse(alg, &rec->alg) != 0)
        return HUB_E_PARSE;
    memcpy(rec->kid, kid, strlen(kid) + 1);
    rec->created_at = (uint64_t)json_integer_value(json_object_get(obj, "created_at"));
    rec->activate_at = (uint64_t)json_integer_value(json_object_get(obj, "activate_at"));
    rec->retired = json_is_true(json_object_get(obj, "retired"));
    return 0;
}

static json_t *rec_encode(const key_rec_t *rec)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:b}", "kid", rec->kid, "alg", hub_alg_name(rec->alg), "created_at",
                     (json_int_t)rec->created_at, "activate_at", (json_int_t)rec->activate_at, "retired", rec->retired);
}

typedef struct {
    key_rec_t recs[64];
    size_t n;
} rec_list_t;

static int collect_cb(void *arg, hub_val_t key, hub_val_t val)
{
    rec_list_t *list = arg;
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
    const key_rec_t *x = a, *y = b;
    if (x->activate_at != y->activate_at)
        return x->activate_at < y->activate_at ? -1 : 1;
    return strcmp(x->kid, y->kid);
}

/* Reads every key record, sorted by activation time. */
static int load_recs(hub_txn_t *txn, rec_list_t *list)
{
    list->n = 0;
    hub_store_each(txn, HUB_T_KEYS, NULL, 0, collect_cb, list);
    qsort(list->recs, list->n, sizeof(list->recs[0]), cmp_rec);
    return 0;
}

/* The state of recs[i] at time now; *publish_until receives when a retiring key drops. */
static idp_key_state_t state_of(const rec_list_t *list, size_t i, uint64_t now, uint64_t life, uint64_t *publish_until)
{
    const key_rec_t *rec = &list->recs[i];
    size_t j;
    *publish_until = 0;
    if (rec->retired)
        return IDP_KEY_RETIRED;
    if (rec->activate_at > now)
        return IDP_KEY_NEXT;
    /* the successor is the next non-retired key that has activated */
    for (j = i + 1; j < list->n; ++j) {
        if (list->recs[j].retired || list->recs[j].activate_at > now)
            continue;
        *publish_until = list->recs[j].activate_at + life;
        return now < *publish_until ? IDP_KEY_RETIRING : IDP_KEY_RETIRED;
    }
    return IDP_KEY_ACTIVE;
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

typedef struct {
    const key_rec_t *rec;
} put_arg_t;

static int put_rec_txn(hub_txn_t *txn, void *arg)
{
    const key_rec_t *rec = ((put_arg_t *)arg)->rec;
    json_t *obj = rec_encode(rec);
    int ret = hub_store_put_json(txn, HUB_T_KEYS, rec->kid, obj, 0, 0);
    json_decref(obj);
    if (ret == 0)
        ret = hub_store_bump(txn, KEYS_GEN, NULL);
    return ret;
}

/* Generates a key activating at activate_at, writes its file and its record. */
static int create_key(hub_store_t *store, const char *data_dir, hub_alg_t alg, uint64_t activate_at, char kid_out[64])
{
    hub_key_t *key = NULL;
    key_rec_t rec = {{0}};
    put_arg_t arg = {&rec};
    int ret;

    if ((ret = hub_key_generate(&key, alg)) != 0)
        return ret;
    if ((ret = write_key_file(data_dir, key)) != 0)
        goto out;
    snprintf(rec.kid, sizeof(rec.kid), "%s", key->kid);
    rec.alg = alg;
    rec.created_at = hub_now();
    rec.activate_at = activate_at;
    if ((ret = hub_store_write(store, put_rec_txn, &arg)) != 0)
        goto out;
    if (kid_out != NULL)
        snprintf(kid_out, 64, "%s", key->kid);
out:
    hub_key_free(key);
    return ret;
}

static void snapshot_free(snapshot_t *snap)
{
    while (snap != NULL) {
        snapshot_t *older = snap->older;
        size_t i;
        for (i = 0; i != snap->n; ++i)
            hub_key_free(snap->keys[i].key);
        free(snap->jwks);
        free(snap);
        snap = older;
    }
}

/* Builds a snapshot of the keys published now; *ret_gen is the counter it reflects. */
static int build_snapshot(idp_keyring_t *kr, snapshot_t **out)
{
    hub_txn_t *txn = NULL;
    rec_list_t *list = calloc(1, sizeof(*list));
    snapshot_t *snap = calloc(1, sizeof(*snap));
    uint64_t now = hub_now(), life = max_token_life(kr->cfg);
    json_t *jwks = json_object(), *arr = json_array();
    size_t i;
    int ret;

    if (list == NULL || snap == NULL)
        abort();
    snap->next_change = UINT64_MAX;
    if ((ret = hub_store_read_begin(kr->store, &txn)) != 0)
        goto out;
    snap->gen = hub_store_counter(txn, KEYS_GEN);
    load_recs(txn, list);
    hub_store_read_end(txn);
    for (i = 0; i != list->n && snap->n != MAX_KEYS; ++i) {
        const key_rec_t *rec = &list->recs[i];
        uint64_t until;
        idp_key_state_t st = state_of(list, i, now, life, &until);
        char path[4200], *pem = NULL;
        size_t len;
        hub_key_t *key = NULL;
        if (st == IDP_KEY_RETIRED)
            continue;
        if (st == IDP_KEY_NEXT && rec->activate_at < snap->next_change)
            snap->next_change = rec->activate_at;
        if (until != 0 && until < snap->next_change)
            snap->next_change = until;
        key_path(path, sizeof(path), kr->cfg->node.data_dir, rec->kid);
        if (read_file(path, &pem, &len) != 0) {
            hub_log_error("signing key %s: cannot read %s", rec->kid, path);
            continue;
        }
        ret = hub_key_from_pem(&key, rec->kid, rec->alg, pem, len);
        OPENSSL_cleanse(pem, len);
        free(pem);
        if (ret != 0) {
            hub_log_error("signing key %s: %s is not a valid %s key", rec->kid, path, hub_alg_name(rec->alg));
            continue;
        }
        snap->keys[snap->n].key = key;
        snap->keys[snap->n].activate_at = rec->activate_at;
        snap->keys[snap->n].publish_until = until;
        ++snap->n;
        json_array_append_new(arr, hub_key_to_jwk(key));
    }
    json_object_set_new(jwks, "keys", arr);
    arr = NULL;
    snap->jwks = json_dumps(jwks, JSON_COMPACT);
    snap->jwks_len = strlen(snap->jwks);
    ret = snap->n != 0 ? 0 : HUB_E_NOTFOUND;
out:
    json_decref(jwks);
    json_decref(arr);
    free(list);
    if (ret == 0) {
        *out = snap;
    } else {
        snapshot_free(snap);
    }
    return ret;
}

/* Creates the next key when the active one is due to rotate (inside one write txn across
 * processes: the check and the record go together; the file is written first). */
static void maybe_rotate(idp_keyring_t *kr)
{
    const hub_config_t *cfg = kr->cfg;
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    uint64_t now = hub_now(), newest = 0, activate;
    size_t i;

    if (cfg->primary.key_rotation_every == 0 || snap == NULL)
        return;
    for (i = 0; i != snap->n; ++i)
        if (snap->keys[i].activate_at > newest)
            newest = snap->keys[i].activate_at;
    if (newest > now)
        return; /* a next key is already published */
    if (now + cfg->primary.key_publish_ahead < newest + cfg->primary.key_rotation_every)
        return; /* not due */
    activate = newest + cfg->primary.key_rotation_every;
    if (activate < now + cfg->primary.key_publish_ahead)
        activate = now + cfg->primary.key_publish_ahead;
    char kid[64];
    if (create_key(kr->store, cfg->node.data_dir, cfg->primary.signing_alg, activate, kid) == 0)
        hub_log_info("key rotation: published key %s, signing with it from %llu", kid, (unsigned long long)activate);
}

static int reload(idp_keyring_t *kr, int force)
{
    snapshot_t *cur = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE), *snap;
    hub_txn_t *txn;
    uint64_t gen = 0;
    int ret;

    if (!force && cur != NULL) {
        if (hub_store_read_begin(kr->store, &txn) == 0) {
            gen = hub_store_counter(txn, KEYS_GEN);
            hub_store_read_end(txn);
        }
        if (gen == cur->gen && hub_now() < cur->next_change)
            return 0;
    }
    if ((ret = build_snapshot(kr, &snap)) != 0)
        return ret;
    snap->older = cur;
    __atomic_store_n(&kr->current, snap, __ATOMIC_RELEASE);
    return 0;
}

static void *keyring_thread(void *arg)
{
    idp_keyring_t *kr = arg;
    pthread_mutex_lock(&kr->mutex);
    while (!kr->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&kr->cond, &kr->mutex, &ts);
        if (kr->stopping)
            break;
        pthread_mutex_unlock(&kr->mutex);
        maybe_rotate(kr);
        reload(kr, 0);
        pthread_mutex_lock(&kr->mutex);
    }
    pthread_mutex_unlock(&kr->mutex);
    return NULL;
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
    if (hub_alg_parse(json_string_value(json_object_get(obj, "alg")) ? json_string_value(json_object_get(obj, "alg")) : "",
                      &alg) == 0)
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

static int count_keys_cb(void *arg, hub_val_t key, hub_val_t val)
{
    ++*(size_t *)arg;
    return 0;
}

static size_t count_keys(hub_store_t *store)
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
    if (count_keys(store) != 0)
        return HUB_E_EXISTS;
    return create_key(store, data_dir, alg, hub_now(), NULL);
}

int idp_keyring_open(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg)
{
    idp_keyring_t *kr = calloc(1, sizeof(*kr));
    int ret;

    if (kr == NULL)
        abort();
    kr->store = store;
    kr->cfg = cfg;
    pthread_mutex_init(&kr->mutex, NULL);
    pthread_cond_init(&kr->cond, NULL);
    if ((ret = hub_store_write(store, save_policy_txn, (void *)cfg)) != 0)
        goto fail;
    if (count_keys(store) == 0 && (ret = idp_keys_init(store, cfg->node.data_dir, cfg->primary.signing_alg)) != 0)
        goto fail;
    if ((ret = reload(kr, 1)) != 0) {
        /* every key retired or unreadable: start signing with a fresh one */
        if ((ret = create_key(store, cfg->node.data_dir, cfg->primary.signing_alg, hub_now(), NULL)) != 0 ||
            (ret = reload(kr, 1)) != 0)
            goto fail;
    }
    if (pthread_create(&kr->thread, NULL, keyring_thread, kr) != 0) {
        ret = HUB_E_NOMEM;
        goto fail;
    }
    *out = kr;
    return 0;
fail:
    snapshot_free(kr->current);
    pthread_mutex_destroy(&kr->mutex);
    pthread_cond_destroy(&kr->cond);
    free(kr);
    return ret;
}

void idp_keyring_close(idp_keyring_t *kr)
{
    if (kr == NULL)
        return;
    pthread_mutex_lock(&kr->mutex);
    kr->stopping = 1;
    pthread_cond_signal(&kr->cond);
    pthread_mutex_unlock(&kr->mutex);
    pthread_join(kr->thread, NULL);
    snapshot_free(kr->current);
    pthread_mutex_destroy(&kr->mutex);
    pthread_cond_destroy(&kr->cond);
    free(kr);
}

const hub_key_t *idp_keyring_signing_key(idp_keyring_t *kr)
{
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    uint64_t now = hub_now();
    size_t i, best = 0;
    /* the latest activated key; the thread's reload is not needed for a key to take over */
    for (i = 0; i != snap->n; ++i)
        if (snap->keys[i].activate_at <= now)
            best = i;
    return snap->keys[best].key;
}

const hub_key_t *idp_keyring_find(idp_keyring_t *kr, const char *kid)
{
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    size_t i;
    if (kid == NULL)
        return NULL;
    for (i = 0; i != snap->n; ++i)
        if (strcmp(snap->keys[i].key->kid, kid) == 0)
            return snap->keys[i].key;
    return NULL;
}

const char *idp_keyring_jwks(idp_keyring_t *kr, size_t *len)
{
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    *len = snap->jwks_len;
    return snap->jwks;
}

int idp_keyring_verify(idp_keyring_t *kr, const char *token, size_t len, hub_jws_t *out)
{
    const hub_key_t *key;
    int ret;
    if ((ret = hub_jws_parse(token, len, out)) != 0)
        return ret;
    if ((key = idp_keyring_find(kr, out->kid)) == NULL) {
        hub_jws_dispose(out);
        return HUB_E_BADSIG;
    }
    if ((ret = hub_jws_verify(key, token, len)) != 0) {
        hub_jws_dispose(out);
        return ret;
    }
    return 0;
}

int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, char kid_out[64])
{
    hub_txn_t *txn;
    rec_list_t *list = calloc(1, sizeof(*list));
    uint64_t now = hub_now();
    size_t i;
    int ret;

    if (list == NULL)
        abort();
    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        goto out;
    load_recs(txn, list);
    hub_store_read_end(txn);
    for (i = 0; i != list->n; ++i) {
        if (!list->recs[i].retired && list->recs[i].activate_at > now) {
            /* a next key is already published and will take over on schedule */
            snprintf(kid_out, 64, "%s", list->recs[i].kid);
            ret = HUB_E_EXISTS;
            goto out;
        }
    }
    ret = create_key(store, data_dir, cfg->primary.signing_alg, now + cfg->primary.key_publish_ahead, kid_out);
out:
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
    rec_list_t *list = calloc(1, sizeof(*list));
    uint64_t now = hub_now(), until, life = max_token_life(arg->cfg);
    size_t i, target = SIZE_MAX, next = SIZE_MAX;
    int ret;

    if (list == NULL)
        abort();
    load_recs(txn, list);
    for (i = 0; i != list->n; ++i) {
        if (strcmp(list->recs[i].kid, arg->kid) == 0)
            target = i;
        else if (!list->recs[i].retired && list->recs[i].activate_at > now && next == SIZE_MAX)
            next = i;
    }
    ret = HUB_E_NOTFOUND;
    if (target == SIZE_MAX || list->recs[target].retired)
        goto out;
    switch (state_of(list, target, now, life, &until)) {
    case IDP_KEY_NEXT:
        /* never signed anything: withdrawn at once */
        list->recs[target].retired = 1;
        break;
    case IDP_KEY_ACTIVE:
        /* the successor takes over now if it has been published for publish_ahead; the
         * retired key then stays published (retiring) until its last token expires */
        ret = HUB_E_BUSY;
        if (next == SIZE_MAX || list->recs[next].created_at + arg->cfg->primary.key_publish_ahead > now)
            goto out;
        target = next;
        list->recs[target].activate_at = now;
        break;
    default:
        ret = HUB_E_EXISTS; /* already retiring */
        goto out;
    }
    json_t *obj = rec_encode(&list->recs[target]);
    ret = hub_store_put_json(txn, HUB_T_KEYS, list->recs[target].kid, obj, 0, 0);
    json_decref(obj);
    if (ret == 0)
        ret = hub_store_bump(txn, KEYS_GEN, NULL);
out:
    free(list);
    return ret;
}

int idp_keys_retire(hub_store_t *store, const hub_config_t *cfg, const char *kid)
{
    retire_arg_t arg = {cfg, kid};
    return hub_store_write(store, retire_txn, &arg);
}

int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg)
{
    hub_txn_t *txn;
    rec_list_t *list = calloc(1, sizeof(*list));
    uint64_t now = hub_now(), life = max_token_life(cfg);
    size_t i;
    int ret;

    if (list == NULL)
        abort();
    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        goto out;
    load_recs(txn, list);
    hub_store_read_end(txn);
    for (i = 0; i != list->n; ++i) {
        idp_key_info_t info = {list->recs[i].kid, list->recs[i].alg, IDP_KEY_NEXT, list->recs[i].created_at,
                               list->recs[i].activate_at, 0};
        info.state = state_of(list, i, now, life, &info.publish_until);
        if ((ret = cb(arg, &info)) != 0)
            goto out;
    }
    ret = 0;
out:
    free(list);
    return ret;
}
