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
#include "hub/util.h"
#include "idp/keyring.h"

#define KEYS_GEN "gen:keys"
#define POLICY_KEY "key_policy"
#define MAX_KEYS 16
#define NEVER UINT64_MAX /* the activation of a key the JWKS has not served yet */

/* One key record as stored. */
typedef struct st_key_rec_t {
    char kid[64];
    hub_alg_t alg;
    uint64_t created_at;
    uint64_t activate_at;   /* the earliest time it signs */
    uint64_t first_served;  /* when the JWKS endpoint first served it (rounded up), 0 = never */
    uint64_t publish_ahead; /* the policy's when it was made: a later change of the setting never moves its activation */
    int immediate;          /* signs from activate_at, served or not (see keyring.h) */
    int retired;            /* withdrawn by the operator before it signed */
    uint64_t revoked_at;    /* 0 = not revoked */
    int notify;             /* revoked, and the nodes not told yet */
    uint64_t active_from;   /* derived (rec_activation): when it signs, NEVER while it waits to be served */
} key_rec_t;

typedef struct st_snap_key_t {
    hub_key_t *key;
    uint64_t active_from;   /* NEVER while it waits to be served */
    uint64_t publish_until; /* 0 = open-ended */
    uint64_t first_served;  /* as stored when the snapshot was built */
    uint64_t served_at;     /* atomic: when a loop of this process served it first, 0 = not yet */
} snap_key_t;

/* Immutable once published (but for served_at and all_served); old snapshots are kept until
 * close, so a pointer handed to a request stays valid (rotation happens rarely, the cost is a
 * few KB per reload). */
typedef struct st_snapshot_t {
    snap_key_t keys[MAX_KEYS]; /* published keys, ascending active_from */
    size_t n;
    char *jwks;
    size_t jwks_len;
    uint64_t gen;
    uint64_t next_change; /* when the published set or the signing key changes next */
    int all_served;       /* atomic: every key's first serving is recorded or being recorded */
    int notify_pending;   /* a revoked key's nodes are not told yet */
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
    int wake;           /* work for the thread (under mutex) */
    int served_pending; /* a first serving to record (under mutex) */
    void (*on_revoke)(void *arg);
    void *on_revoke_arg;
    uint64_t notified_gen; /* the thread's: the generation whose revocations were claimed */
};

const char *idp_key_state_name(idp_key_state_t s)
{
    static const char *names[] = {"next", "active", "retiring", "retired", "revoked"};
    return (unsigned)s <= IDP_KEY_REVOKED ? names[s] : "unknown";
}

/* The longest time a token signed now can stay valid, plus a margin for clock skew. */
static uint64_t max_token_life(const hub_config_t *cfg)
{
    uint64_t t = cfg->primary.access_token_ttl;
    if (cfg->primary.id_token_ttl > t)
        t = cfg->primary.id_token_ttl;
    return t + 60;
}

/* When rec signs: immediate keys from activate_at, others publish_ahead after the JWKS first served them. */
static uint64_t rec_activation(const key_rec_t *rec)
{
    uint64_t t;
    if (rec->immediate)
        return rec->activate_at;
    if (rec->first_served == 0)
        return NEVER;
    t = rec->first_served + rec->publish_ahead;
    return t > rec->activate_at ? t : rec->activate_at;
}

static int rec_decode(const json_t *obj, key_rec_t *rec)
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

static json_t *rec_encode(const key_rec_t *rec)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:b}", "kid", rec->kid, "alg", hub_alg_name(rec->alg), "created_at",
                     (json_int_t)rec->created_at, "activate_at", (json_int_t)rec->activate_at, "first_served",
                     (json_int_t)rec->first_served, "publish_ahead", (json_int_t)rec->publish_ahead, "immediate", rec->immediate,
                     "retired", rec->retired, "revoked_at", (json_int_t)rec->revoked_at, "notify", rec->notify);
}

static int rec_get(hub_txn_t *txn, const char *kid, key_rec_t *rec)
{
    json_t *obj = NULL;
    int ret;
    if ((ret = hub_store_get_json(txn, HUB_T_KEYS, kid, &obj)) != 0)
        return ret;
    ret = rec_decode(obj, rec);
    json_decref(obj);
    return ret;
}

static int rec_put(hub_txn_t *txn, const key_rec_t *rec)
{
    json_t *obj = rec_encode(rec);
    int ret = hub_store_put_json(txn, HUB_T_KEYS, rec->kid, obj, 0, 0);
    json_decref(obj);
    return ret;
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
    if (x->active_from != y->active_from)
        return x->active_from < y->active_from ? -1 : 1;
    if (x->activate_at != y->activate_at)
        return x->activate_at < y->activate_at ? -1 : 1;
    return strcmp(x->kid, y->kid);
}

/* Reads every key record (a new list, caller frees), sorted by activation time. */
static rec_list_t *load_recs(hub_txn_t *txn)
{
    rec_list_t *list = calloc(1, sizeof(*list));
    if (list == NULL)
        abort();
    hub_store_each(txn, HUB_T_KEYS, NULL, 0, collect_cb, list);
    for (size_t i = 0; i != list->n; ++i)
        list->recs[i].active_from = rec_activation(&list->recs[i]);
    qsort(list->recs, list->n, sizeof(list->recs[0]), cmp_rec);
    return list;
}

/* The same in a read transaction of its own; NULL when the store cannot be read. */
static rec_list_t *read_recs(hub_store_t *store)
{
    hub_txn_t *txn;
    rec_list_t *list;
    if (hub_store_read_begin(store, &txn) != 0)
        return NULL;
    list = load_recs(txn);
    hub_store_read_end(txn);
    return list;
}

/* A key that may still sign or be published: neither withdrawn nor revoked. */
static int rec_usable(const key_rec_t *rec)
{
    return !rec->retired && rec->revoked_at == 0;
}

/* The state of recs[i] at time now; *publish_until receives when a retiring key drops. */
static idp_key_state_t state_of(const rec_list_t *list, size_t i, uint64_t now, uint64_t life, uint64_t *publish_until)
{
    const key_rec_t *rec = &list->recs[i];
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
static size_t find_state(const rec_list_t *list, idp_key_state_t want, uint64_t now, uint64_t life)
{
    uint64_t until;
    for (size_t i = 0; i != list->n; ++i)
        if (state_of(list, i, now, life, &until) == want)
            return i;
    return SIZE_MAX;
}

static size_t find_kid(const rec_list_t *list, const char *kid)
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

/* Removes a private key file (a key never recorded, or a revoked one); a missing file is fine. */
static void remove_key_file(const char *data_dir, const char *kid)
{
    char path[4200];
    key_path(path, sizeof(path), data_dir, kid);
    if (unlink(path) != 0 && errno != ENOENT)
        hub_log_warn("signing key %s: cannot remove %s", kid, path);
}

/* Generates a key of alg and writes its private key file, before any record names it. */
static int new_key_file(const char *data_dir, hub_alg_t alg, hub_key_t **out)
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

static void new_rec(key_rec_t *rec, const hub_key_t *key, uint64_t activate_at, int immediate, uint64_t publish_ahead)
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
    int ret = rec_put(txn, arg);
    return ret == 0 ? hub_store_bump(txn, KEYS_GEN, NULL) : ret;
}

/* Generates a key signing from activate_at, and (unless immediate) publish_ahead after the JWKS first served it; writes
 * its file and its record. */
static int create_key(hub_store_t *store, const char *data_dir, hub_alg_t alg, uint64_t activate_at, int immediate,
                      uint64_t publish_ahead, char kid_out[64])
{
    hub_key_t *key = NULL;
    key_rec_t rec;
    int ret;

    if ((ret = new_key_file(data_dir, alg, &key)) != 0)
        return ret;
    new_rec(&rec, key, activate_at, immediate, publish_ahead);
    if ((ret = hub_store_write(store, put_rec_txn, &rec)) != 0)
        remove_key_file(data_dir, rec.kid);
    else if (kid_out != NULL)
        snprintf(kid_out, 64, "%s", key->kid);
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

/* Loads the private key of rec from its PEM file; logs why not. */
static int load_key(const idp_keyring_t *kr, const key_rec_t *rec, hub_key_t **out)
{
    char path[4200], *pem = NULL;
    size_t len;
    int ret;

    key_path(path, sizeof(path), kr->cfg->node.data_dir, rec->kid);
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

/* Adds the published keys of list to snap (and their JWKs to arr). */
static void snapshot_fill(idp_keyring_t *kr, snapshot_t *snap, const rec_list_t *list, json_t *arr)
{
    uint64_t now = hub_now(), life = max_token_life(kr->cfg);
    int all_served = 1;

    for (size_t i = 0; i != list->n; ++i) {
        const key_rec_t *rec = &list->recs[i];
        uint64_t until;
        idp_key_state_t st = state_of(list, i, now, life, &until);
        hub_key_t *key = NULL;
        if (rec->revoked_at != 0 && rec->notify)
            snap->notify_pending = 1;
        if (st == IDP_KEY_RETIRED || st == IDP_KEY_REVOKED || snap->n == MAX_KEYS)
            continue;
        if (st == IDP_KEY_NEXT && rec->active_from < snap->next_change)
            snap->next_change = rec->active_from;
        if (until != 0 && until < snap->next_change)
            snap->next_change = until;
        if (load_key(kr, rec, &key) != 0)
            continue;
        snap->keys[snap->n] = (snap_key_t){key, rec->active_from, until, rec->first_served, 0};
        all_served &= rec->first_served != 0;
        ++snap->n;
        json_array_append_new(arr, hub_key_to_jwk(key));
    }
    snap->all_served = all_served;
}

/* Builds a snapshot of the keys published now (and the generation counter it reflects). */
static int build_snapshot(idp_keyring_t *kr, snapshot_t **out)
{
    hub_txn_t *txn = NULL;
    rec_list_t *list = NULL;
    snapshot_t *snap = calloc(1, sizeof(*snap));
    json_t *jwks = json_object(), *arr = json_array();
    int ret;

    if (snap == NULL)
        abort();
    snap->next_change = NEVER;
    if ((ret = hub_store_read_begin(kr->store, &txn)) != 0)
        goto out;
    snap->gen = hub_store_counter(txn, KEYS_GEN);
    list = load_recs(txn);
    hub_store_read_end(txn);
    snapshot_fill(kr, snap, list, arr);
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

/* Creates the next key when the active one is due to rotate. It signs publish_ahead after the JWKS first serves it, and
 * not before the rotation is due. */
static void maybe_rotate(idp_keyring_t *kr)
{
    const hub_config_t *cfg = kr->cfg;
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    uint64_t now = hub_now(), newest = 0, activate;
    char kid[64];
    size_t i;

    if (cfg->primary.key_rotation_every == 0 || snap == NULL)
        return;
    for (i = 0; i != snap->n; ++i) {
        if (snap->keys[i].active_from > now)
            return; /* a next key is already published (served or not) */
        if (snap->keys[i].active_from > newest)
            newest = snap->keys[i].active_from;
    }
    if (now + cfg->primary.key_publish_ahead < newest + cfg->primary.key_rotation_every)
        return; /* not due */
    activate = newest + cfg->primary.key_rotation_every;
    if (activate < now + cfg->primary.key_publish_ahead)
        activate = now + cfg->primary.key_publish_ahead;
    if (create_key(kr->store, cfg->node.data_dir, cfg->primary.signing_alg, activate, 0, cfg->primary.key_publish_ahead, kid) == 0)
        hub_log_info("key rotation: published key %s; it signs from %llu at the earliest, publish_ahead after the JWKS "
                     "first serves it",
                     kid, (unsigned long long)activate);
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

/* ---- first serving of a key by the JWKS ---- */

typedef struct {
    struct {
        char kid[64];
        uint64_t at;
    } v[MAX_KEYS * 4];
    size_t n;
} served_list_t;

/* The earliest serving noted per kid in every snapshot of this process that is not recorded yet. */
static void collect_served(idp_keyring_t *kr, served_list_t *l)
{
    for (snapshot_t *s = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE); s != NULL; s = s->older) {
        for (size_t i = 0; i != s->n; ++i) {
            uint64_t at = __atomic_load_n(&s->keys[i].served_at, __ATOMIC_ACQUIRE);
            size_t j;
            if (at == 0 || s->keys[i].first_served != 0)
                continue;
            for (j = 0; j != l->n && strcmp(l->v[j].kid, s->keys[i].key->kid) != 0; ++j)
                ;
            if (j == l->n) {
                if (l->n == sizeof(l->v) / sizeof(l->v[0]))
                    continue;
                snprintf(l->v[l->n++].kid, sizeof(l->v[0].kid), "%s", s->keys[i].key->kid);
                l->v[j].at = at;
            } else if (at < l->v[j].at) {
                l->v[j].at = at;
            }
        }
    }
}

/* Records first_served, keeping the earliest (another process may have served the key before us). */
static int served_txn(hub_txn_t *txn, void *arg)
{
    const served_list_t *l = arg;
    int ret, changed = 0;
    for (size_t i = 0; i != l->n; ++i) {
        key_rec_t rec;
        if (rec_get(txn, l->v[i].kid, &rec) != 0 || (rec.first_served != 0 && rec.first_served <= l->v[i].at))
            continue;
        rec.first_served = l->v[i].at;
        if ((ret = rec_put(txn, &rec)) != 0)
            return ret;
        changed = 1;
    }
    return changed ? hub_store_bump(txn, KEYS_GEN, NULL) : 0;
}

/* Returns non-zero when the recording failed (the thread tries again a second later). */
static int persist_served(idp_keyring_t *kr)
{
    served_list_t *l = calloc(1, sizeof(*l));
    int ret = 0;
    if (l == NULL)
        abort();
    collect_served(kr, l);
    if (l->n != 0 && (ret = hub_store_write(kr->store, served_txn, l)) != 0)
        hub_log_error("signing keys: cannot record when the JWKS first served a key: %s", hub_strerror(ret));
    free(l);
    return ret;
}

/* On a loop, the first time a snapshot is served: notes the serving time of its keys that have none recorded, rounded up
 * to the next second (the response leaves in this loop turn), and hands the recording to the keyring's thread. */
static void mark_served(idp_keyring_t *kr, snapshot_t *snap)
{
    uint64_t at = hub_now() + 1;
    int fresh = 0;

    for (size_t i = 0; i != snap->n; ++i) {
        uint64_t zero = 0;
        if (snap->keys[i].first_served == 0 &&
            __atomic_compare_exchange_n(&snap->keys[i].served_at, &zero, at, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            fresh = 1;
    }
    __atomic_store_n(&snap->all_served, 1, __ATOMIC_RELEASE);
    if (!fresh)
        return;
    pthread_mutex_lock(&kr->mutex);
    kr->served_pending = 1;
    kr->wake = 1;
    pthread_cond_signal(&kr->cond);
    pthread_mutex_unlock(&kr->mutex);
}

/* ---- revocations to report ---- */

/* Clears the notify mark of every revoked key; *claimed says whether there was one. */
static int claim_txn(hub_txn_t *txn, void *arg)
{
    rec_list_t *list = load_recs(txn);
    int *claimed = arg, ret = 0;

    *claimed = 0;
    for (size_t i = 0; i != list->n && ret == 0; ++i) {
        if (list->recs[i].revoked_at == 0 || !list->recs[i].notify)
            continue;
        list->recs[i].notify = 0;
        ret = rec_put(txn, &list->recs[i]);
        *claimed = 1;
    }
    free(list);
    return ret;
}

static void notify_revoked(idp_keyring_t *kr, void (*cb)(void *arg), void *arg)
{
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    int claimed = 0, ret;

    if (cb == NULL || snap == NULL || !snap->notify_pending || snap->gen == kr->notified_gen)
        return;
    if ((ret = hub_store_write(kr->store, claim_txn, &claimed)) != 0) {
        hub_log_error("signing keys: cannot claim a revocation to report: %s", hub_strerror(ret));
        return; /* tried again next second */
    }
    kr->notified_gen = snap->gen;
    if (claimed)
        cb(arg);
}

static void *keyring_thread(void *arg)
{
    idp_keyring_t *kr = arg;
    pthread_mutex_lock(&kr->mutex);
    while (!kr->stopping) {
        if (!kr->wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&kr->cond, &kr->mutex, &ts);
        }
        if (kr->stopping)
            break;
        int served = kr->served_pending;
        void (*cb)(void *) = kr->on_revoke;
        void *cb_arg = kr->on_revoke_arg;
        kr->served_pending = kr->wake = 0;
        pthread_mutex_unlock(&kr->mutex);
        if (served)
            served = persist_served(kr);
        maybe_rotate(kr);
        reload(kr, 0);
        notify_revoked(kr, cb, cb_arg);
        pthread_mutex_lock(&kr->mutex);
        kr->served_pending |= served != 0;
    }
    pthread_mutex_unlock(&kr->mutex);
    return NULL;
}

void idp_keyring_on_revoke(idp_keyring_t *kr, void (*cb)(void *arg), void *arg)
{
    pthread_mutex_lock(&kr->mutex);
    kr->on_revoke = cb;
    kr->on_revoke_arg = arg;
    kr->wake = 1;
    pthread_cond_signal(&kr->cond);
    pthread_mutex_unlock(&kr->mutex);
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
    /* the only key: nothing else could sign while it waits for the JWKS */
    return create_key(store, data_dir, alg, hub_now(), 1, 0, NULL);
}

/* 1 when some key of snap signs now. */
static int can_sign(const snapshot_t *snap)
{
    return snap != NULL && snap->n != 0 && snap->keys[0].active_from <= hub_now();
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
    if ((ret = reload(kr, 1)) != 0 || !can_sign(kr->current)) {
        /* every key retired, revoked, unreadable or waiting to be served: start signing with a fresh one */
        if ((ret = create_key(store, cfg->node.data_dir, cfg->primary.signing_alg, hub_now(), 1, 0, NULL)) != 0 ||
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
        if (snap->keys[i].active_from <= now)
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

const char *idp_keyring_jwks_serve(idp_keyring_t *kr, size_t *len)
{
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    if (!__atomic_load_n(&snap->all_served, __ATOMIC_ACQUIRE))
        mark_served(kr, snap);
    *len = snap->jwks_len;
    return snap->jwks;
}

/* What every token of ours carries (RFC 9068 §2.2, RFC 7519 §4.1.5): a jti, and no nbf in the future. */
static int claims_ok(const json_t *payload, uint64_t now)
{
    const json_t *jti = json_object_get(payload, "jti"), *nbf = json_object_get(payload, "nbf");
    if (!json_is_string(jti) || json_string_length(jti) == 0)
        return 0;
    return nbf == NULL || (json_is_integer(nbf) && json_integer_value(nbf) <= (json_int_t)now);
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
    if (!claims_ok(out->payload, hub_now())) {
        hub_jws_dispose(out);
        return HUB_E_PARSE;
    }
    return 0;
}

/* ---- operator commands ---- */

int idp_keys_rotate(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, char kid_out[64])
{
    uint64_t now = hub_now();
    rec_list_t *list = read_recs(store);
    size_t next;
    int ret;

    if (list == NULL)
        return HUB_E_STORE;
    if ((next = find_state(list, IDP_KEY_NEXT, now, max_token_life(cfg))) != SIZE_MAX) {
        /* a next key is already published and takes over on schedule */
        snprintf(kid_out, 64, "%s", list->recs[next].kid);
        ret = HUB_E_EXISTS;
    } else {
        ret = create_key(store, data_dir, cfg->primary.signing_alg, now + cfg->primary.key_publish_ahead, 0,
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
    uint64_t now = hub_now(), until, life = max_token_life(arg->cfg);
    rec_list_t *list = load_recs(txn);
    size_t target = find_kid(list, arg->kid), next = find_state(list, IDP_KEY_NEXT, now, life);
    int ret = HUB_E_NOTFOUND;

    if (target == SIZE_MAX || list->recs[target].retired)
        goto out;
    switch (state_of(list, target, now, life, &until)) {
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
    if ((ret = rec_put(txn, &list->recs[target])) == 0)
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

typedef struct {
    const hub_config_t *cfg;
    const char *kid;
    const key_rec_t *fresh; /* a new key to take over signing when no next key can, or NULL */
    int need_fresh;         /* set when the signing key is revoked, no next key exists and fresh is NULL */
    idp_revoke_result_t *out;
} revoke_arg_t;

/* When the revoked key signs, its successor takes over now: the next key, else the fresh one. */
static int hand_over(hub_txn_t *txn, revoke_arg_t *a, rec_list_t *list, uint64_t now)
{
    size_t next = find_state(list, IDP_KEY_NEXT, now, max_token_life(a->cfg));
    key_rec_t succ;

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
    return rec_put(txn, &succ);
}

static int revoke_txn(hub_txn_t *txn, void *_arg)
{
    revoke_arg_t *a = _arg;
    uint64_t now = hub_now(), until;
    rec_list_t *list = load_recs(txn);
    size_t t = find_kid(list, a->kid);
    key_rec_t *rec;
    int ret = HUB_E_NOTFOUND;

    a->need_fresh = 0;
    memset(a->out, 0, sizeof(*a->out));
    if (t == SIZE_MAX)
        goto out;
    rec = &list->recs[t];
    if (state_of(list, t, now, max_token_life(a->cfg), &until) == IDP_KEY_ACTIVE && (ret = hand_over(txn, a, list, now)) != 0)
        goto out;
    a->out->already = rec->revoked_at != 0;
    if (rec->revoked_at == 0)
        rec->revoked_at = now;
    rec->notify = 1; /* again for a repeated revocation: a node missed it, or the operator wants it told once more */
    if ((ret = rec_put(txn, rec)) == 0)
        ret = hub_store_bump(txn, KEYS_GEN, NULL);
out:
    free(list);
    return ret;
}

int idp_keys_revoke(hub_store_t *store, const hub_config_t *cfg, const char *data_dir, const char *kid, idp_revoke_result_t *out)
{
    revoke_arg_t a = {cfg, kid, NULL, 0, out};
    hub_key_t *key = NULL;
    key_rec_t fresh;
    int ret = hub_store_write(store, revoke_txn, &a);

    if (ret == HUB_E_BUSY && a.need_fresh) {
        /* the signing key goes and there is no next key: a new one signs at once (generated outside the txn) */
        if ((ret = new_key_file(data_dir, cfg->primary.signing_alg, &key)) != 0)
            return ret;
        new_rec(&fresh, key, hub_now(), 1, 0);
        a.fresh = &fresh;
        ret = hub_store_write(store, revoke_txn, &a);
        if (ret != 0 || strcmp(out->signer, fresh.kid) != 0)
            remove_key_file(data_dir, fresh.kid); /* the keys changed meanwhile and it was not needed */
        hub_key_free(key);
    }
    if (ret == 0)
        remove_key_file(data_dir, kid); /* a compromised private key has no use left */
    return ret;
}

int idp_keys_list(hub_store_t *store, const hub_config_t *cfg, int (*cb)(void *arg, const idp_key_info_t *info), void *arg)
{
    uint64_t now = hub_now(), life = max_token_life(cfg);
    rec_list_t *list = read_recs(store);
    int ret = 0;

    if (list == NULL)
        return HUB_E_STORE;
    for (size_t i = 0; i != list->n && ret == 0; ++i) {
        const key_rec_t *r = &list->recs[i];
        idp_key_info_t info = {r->kid,          r->alg, IDP_KEY_NEXT, r->created_at, r->active_from != NEVER ? r->active_from : 0,
                               r->first_served, 0,      r->revoked_at};
        info.state = state_of(list, i, now, life, &info.publish_until);
        ret = cb(arg, &info);
    }
    free(list);
    return ret;
}
