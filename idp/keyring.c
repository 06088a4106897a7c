/* The running keyring: an immutable in-memory snapshot of the published keys swapped atomically for request threads,
 * its background thread (rotation, first serving, reloads, revocations to report), and verification of our tokens. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "idp/keyring.h"
#include "idp/keyrec.h"
#include "idp/keys.h"
#include "hub/util.h"

#define MAX_KEYS 16

typedef struct st_snap_key_t {
    hub_key_t *key;
    uint64_t active_from;   /* IDP_KEY_NEVER while it waits to be served */
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
    idp_keyvault_t *vault; /* where the private keys are (files, or sealed with the cluster secret) */
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
    uint64_t failed_gen;   /* the thread's: a generation whose keys did not load, and when */
    uint64_t failed_at;
    int loaded; /* idp_keyring_load succeeded: the snapshot is there and the thread keeps it (atomic) */
    /* the thread's: store failures logged while they last (the first, then at most one a minute, then "answers again") */
    uint64_t outage_since, outage_logged, outage_count;
};

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

/* Whether a private key that did not load stops the snapshot rather than leaving its key out (as a missing file always
 * has, or a record whose kid names no key): a key sealed with a secret this node lacks or that does not open it. A node
 * never falls back to a key of its own then: that would split the cluster's keys. */
static int load_stops(const idp_keyvault_t *v, int ret)
{
    return ret == HUB_E_DENIED || (idp_keyvault_sealed(v) && ret != HUB_E_NOTFOUND && ret != HUB_E_INVAL);
}

/* Adds the published keys of list to snap (and their JWKs to arr), their private keys read in txn. */
static int snapshot_fill(idp_keyring_t *kr, hub_txn_t *txn, snapshot_t *snap, const idp_keyrec_list_t *list, json_t *arr)
{
    uint64_t now = hub_now(), life = idp_keyrec_token_life(kr->cfg);
    int all_served = 1, ret;

    for (size_t i = 0; i != list->n; ++i) {
        const idp_keyrec_t *rec = &list->recs[i];
        uint64_t until;
        idp_key_state_t st = idp_keyrec_state(list, i, now, life, &until);
        hub_key_t *key = NULL;
        if (rec->revoked_at != 0 && rec->notify)
            snap->notify_pending = 1;
        if (st == IDP_KEY_RETIRED || st == IDP_KEY_REVOKED || snap->n == MAX_KEYS)
            continue;
        if (st == IDP_KEY_NEXT && rec->active_from < snap->next_change)
            snap->next_change = rec->active_from;
        if (until != 0 && until < snap->next_change)
            snap->next_change = until;
        if ((ret = idp_keyrec_load_key(kr->vault, txn, rec, &key)) != 0) {
            if (load_stops(kr->vault, ret))
                return ret;
            continue;
        }
        snap->keys[snap->n] = (snap_key_t){key, rec->active_from, until, rec->first_served, 0};
        all_served &= rec->first_served != 0;
        ++snap->n;
        json_array_append_new(arr, hub_key_to_jwk(key));
    }
    snap->all_served = all_served;
    return 0;
}

/* Builds a snapshot of the keys published now (and the generation counter it reflects). */
static int build_snapshot(idp_keyring_t *kr, snapshot_t **out)
{
    hub_txn_t *txn = NULL;
    idp_keyrec_list_t *list = NULL;
    snapshot_t *snap = hub_xcalloc(1, sizeof(*snap));
    json_t *jwks = json_object(), *arr = json_array();
    int ret;

    snap->next_change = IDP_KEY_NEVER;
    if ((ret = hub_store_read_begin(kr->store, &txn)) != 0)
        goto out;
    snap->gen = hub_store_counter(txn, IDP_KEYS_GEN);
    list = idp_keyrec_load(txn);
    ret = snapshot_fill(kr, txn, snap, list, arr);
    hub_store_read_end(txn);
    if (ret != 0)
        goto out;
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

typedef struct st_rotation_claim_t {
    const hub_config_t *cfg;
} rotation_claim_t;

/* Whether the rotation is still to be made, asked in the write transaction that makes it: no next key published, and the
 * newest activated key due to rotate. The claim is this read: on LMDB one writer at a time runs it, so of several
 * primaries on the store the second sees the first one's next key; on PostgreSQL the store's SERIALIZABLE transactions
 * make the read-then-write exclusive (the loser is retried and then sees it). */
static int admit_rotation(hub_txn_t *txn, void *arg)
{
    const hub_config_t *cfg = ((rotation_claim_t *)arg)->cfg;
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    uint64_t now = hub_now(), life = idp_keyrec_token_life(cfg), newest = 0, until;
    int ret = 0;

    for (size_t i = 0; i != list->n && ret == 0; ++i) {
        idp_key_state_t st = idp_keyrec_state(list, i, now, life, &until);
        if (st == IDP_KEY_NEXT)
            ret = HUB_E_EXISTS; /* another primary (or hubctl) made it */
        else if ((st == IDP_KEY_ACTIVE || st == IDP_KEY_RETIRING) && list->recs[i].active_from > newest)
            newest = list->recs[i].active_from;
    }
    if (ret == 0 && now + cfg->primary.key_publish_ahead < newest + cfg->primary.key_rotation_every)
        ret = HUB_E_EXISTS; /* not due any more: a key activated meanwhile */
    free(list);
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
    rotation_claim_t claim = {cfg};
    if (idp_keyrec_create(kr->store, kr->vault, cfg->primary.signing_alg, activate, 0, cfg->primary.key_publish_ahead,
                          admit_rotation, &claim, kid) == 0)
        hub_log_info("key rotation: published key %s; it signs from %llu at the earliest, publish_ahead after the JWKS "
                     "first serves it",
                     kid, (unsigned long long)activate);
}

/* On the keyring's thread, a store failure: the first of an outage is logged, then at most one line a minute while it
 * lasts (the thread retries every second), so that a database away for an hour does not fill the log. */
static void note_failure(idp_keyring_t *kr, const char *what, int ret)
{
    uint64_t now = hub_now();

    ++kr->outage_count;
    if (kr->outage_since == 0) {
        kr->outage_since = kr->outage_logged = now;
        hub_log_error("signing keys: %s: %s (logged at most once a minute until the store answers)", what, hub_strerror(ret));
    } else if (now >= kr->outage_logged + 60) {
        kr->outage_logged = now;
        hub_log_error("signing keys: %s: %s (%llu failures in %llu s)", what, hub_strerror(ret),
                      (unsigned long long)kr->outage_count, (unsigned long long)(now - kr->outage_since));
    }
}

/* On the keyring's thread, a store operation that worked: ends an outage note_failure logged, with one line. */
static void note_success(idp_keyring_t *kr)
{
    if (kr->outage_since == 0)
        return;
    hub_log_info("signing keys: the store answers again (%llu failures in %llu s)", (unsigned long long)kr->outage_count,
                 (unsigned long long)(hub_now() - kr->outage_since));
    kr->outage_since = kr->outage_logged = kr->outage_count = 0;
}

static int reload(idp_keyring_t *kr, int force)
{
    snapshot_t *cur = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE), *snap;
    uint64_t gen = 0, now = hub_now();
    int ret;

    if (!force && cur != NULL) {
        /* the store's generation without a round trip (PostgreSQL's may be a second old: another primary's key change is
         * seen within about a second) */
        gen = hub_store_gen(kr->store, IDP_KEYS_GEN);
        if (gen == cur->gen && now < cur->next_change)
            return 0;
        if (gen == kr->failed_gen && now < kr->failed_at + 60)
            return 0; /* these keys did not load (logged): tried again when they change, or in a minute */
    }
    if ((ret = build_snapshot(kr, &snap)) != 0) {
        if (!force)
            note_failure(kr, "keeping the keys loaded before", ret);
        kr->failed_gen = gen;
        kr->failed_at = now;
        return ret;
    }
    if (!force)
        note_success(kr);
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
        idp_keyrec_t rec;
        if (idp_keyrec_get(txn, l->v[i].kid, &rec) != 0 || (rec.first_served != 0 && rec.first_served <= l->v[i].at))
            continue;
        rec.first_served = l->v[i].at;
        if ((ret = idp_keyrec_put(txn, &rec)) != 0)
            return ret;
        changed = 1;
    }
    return changed ? hub_store_bump(txn, IDP_KEYS_GEN, NULL) : 0;
}

/* Returns non-zero when the recording failed (the thread tries again a second later). */
static int persist_served(idp_keyring_t *kr)
{
    served_list_t *l = hub_xcalloc(1, sizeof(*l));
    int ret = 0;
    collect_served(kr, l);
    if (l->n != 0 && (ret = hub_store_write(kr->store, served_txn, l)) != 0)
        note_failure(kr, "cannot record when the JWKS first served a key", ret);
    else if (l->n != 0)
        note_success(kr);
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
    idp_keyrec_list_t *list = idp_keyrec_load(txn);
    int *claimed = arg, ret = 0;

    *claimed = 0;
    for (size_t i = 0; i != list->n && ret == 0; ++i) {
        if (list->recs[i].revoked_at == 0 || !list->recs[i].notify)
            continue;
        list->recs[i].notify = 0;
        ret = idp_keyrec_put(txn, &list->recs[i]);
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
        note_failure(kr, "cannot claim a revocation to report", ret);
        return; /* tried again next second */
    }
    note_success(kr);
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
        if (!__atomic_load_n(&kr->loaded, __ATOMIC_ACQUIRE)) {
            kr->wake = 0;
            continue; /* nothing to keep before idp_keyring_load (which wakes the thread) */
        }
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

/* 1 when some key of snap signs now. */
static int can_sign(const snapshot_t *snap)
{
    return snap != NULL && snap->n != 0 && snap->keys[0].active_from <= hub_now();
}

int idp_keyring_create(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg)
{
    idp_keyring_t *kr = hub_xcalloc(1, sizeof(*kr));
    char why[512];
    int ret;

    *out = NULL;
    kr->store = store;
    kr->cfg = cfg;
    if ((ret = idp_keyvault_open(&kr->vault, cfg, cfg->node.data_dir, why, sizeof(why))) != 0) {
        hub_log_error("primary.cluster_secret_file: %s", why);
        free(kr);
        return ret;
    }
    pthread_mutex_init(&kr->mutex, NULL);
    pthread_cond_init(&kr->cond, NULL);
    if (pthread_create(&kr->thread, NULL, keyring_thread, kr) != 0) {
        idp_keyvault_close(kr->vault);
        pthread_mutex_destroy(&kr->mutex);
        pthread_cond_destroy(&kr->cond);
        free(kr);
        return HUB_E_NOMEM;
    }
    *out = kr;
    return 0;
}

int idp_keyring_load(idp_keyring_t *kr)
{
    const hub_config_t *cfg = kr->cfg;
    int ret;

    if (__atomic_load_n(&kr->loaded, __ATOMIC_ACQUIRE))
        return 0;
    if ((ret = idp_keyrec_seal_files(kr->vault, kr->store)) < 0)
        return ret;
    if ((ret = idp_keys_init(kr->store, kr->vault, cfg->primary.signing_alg)) != 0 && ret != HUB_E_EXISTS)
        return ret;
    ret = reload(kr, 1);
    if (ret == HUB_E_NOTFOUND || (ret == 0 && !can_sign(kr->current))) {
        /* every key retired, revoked, missing or waiting to be served: start signing with a fresh one */
        if ((ret = idp_keyrec_create(kr->store, kr->vault, cfg->primary.signing_alg, hub_now(), 1, 0, NULL, NULL, NULL)) == 0)
            ret = reload(kr, 1);
    }
    /* saved once the keys loaded: a primary refused for its cluster secret never names that secret to hubctl */
    if (ret != 0 || (ret = idp_keys_policy_save(kr->store, cfg)) != 0)
        return ret;
    pthread_mutex_lock(&kr->mutex);
    __atomic_store_n(&kr->loaded, 1, __ATOMIC_RELEASE);
    kr->wake = 1;
    pthread_cond_signal(&kr->cond);
    pthread_mutex_unlock(&kr->mutex);
    return 0;
}

int idp_keyring_open(idp_keyring_t **out, hub_store_t *store, const hub_config_t *cfg)
{
    int ret;

    if ((ret = idp_keyring_create(out, store, cfg)) == 0 && (ret = idp_keyring_load(*out)) != 0) {
        idp_keyring_close(*out);
        *out = NULL;
    }
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
    idp_keyvault_close(kr->vault);
    pthread_mutex_destroy(&kr->mutex);
    pthread_cond_destroy(&kr->cond);
    free(kr);
}

const idp_keyvault_t *idp_keyring_vault(idp_keyring_t *kr)
{
    return kr->vault;
}

const hub_key_t *idp_keyring_signing_key(idp_keyring_t *kr)
{
    snapshot_t *snap = __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE);
    uint64_t now = hub_now();
    size_t i, best = 0;

    if (snap == NULL || snap->n == 0)
        return NULL; /* not loaded yet */
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
    if (kid == NULL || snap == NULL)
        return NULL;
    for (i = 0; i != snap->n; ++i)
        if (strcmp(snap->keys[i].key->kid, kid) == 0)
            return snap->keys[i].key;
    return NULL;
}

const char *idp_keyring_jwks(idp_keyring_t *kr, size_t *len)
{
    snapshot_t *snap = __atomic_load_n(&kr->loaded, __ATOMIC_ACQUIRE) ? __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE) : NULL;
    *len = 0;
    if (snap == NULL)
        return NULL;
    *len = snap->jwks_len;
    return snap->jwks;
}

const char *idp_keyring_jwks_serve(idp_keyring_t *kr, size_t *len)
{
    snapshot_t *snap = __atomic_load_n(&kr->loaded, __ATOMIC_ACQUIRE) ? __atomic_load_n(&kr->current, __ATOMIC_ACQUIRE) : NULL;
    *len = 0;
    if (snap == NULL)
        return NULL;
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
