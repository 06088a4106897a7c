/* The owner index (idp/owner_index.h): fixed-size keys of hashed ids, the walk of one owner's entries, and the one-time
 * build for a store written before the index. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/util.h"
#include "idp/owner_index.h"

#define TAG_LEN 3
#define HASH_LEN HUB_B64URL_LEN(HUB_SHA256_LEN)
#define PREFIX_LEN (TAG_LEN + 1 + HASH_LEN + 1)
#define KEY_LEN (PREFIX_LEN + HASH_LEN)
#define MEMBER_MAX 511 /* the longest key of the tables members come from */

static const char tags[][TAG_LEN + 1] = {
    [IDP_OWNER_FAMILY_SID] = "sid",
    [IDP_OWNER_FAMILY_SUB] = "sub",
    [IDP_OWNER_FAMILY_CLIENT] = "cli",
    [IDP_OWNER_SESSION_SUB] = "ses",
};

static void hash_into(char *out, const char *s)
{
    uint8_t md[HUB_SHA256_LEN];
    hub_sha256(md, s, strlen(s));
    hub_b64url_encode(out, md, sizeof(md));
}

/* The prefix of owner's entries into out (PREFIX_LEN + 1 bytes: the NUL of the hash is overwritten). */
static void owner_prefix(char out[KEY_LEN + 1], idp_owner_kind_t kind, const char *owner)
{
    memcpy(out, tags[kind], TAG_LEN);
    out[TAG_LEN] = '\n';
    hash_into(out + TAG_LEN + 1, owner);
    out[PREFIX_LEN - 1] = '\n';
    out[PREFIX_LEN] = '\0';
}

/* The member's part of a key (HASH_LEN chars and a NUL): its first HUB_TIMED_CHARS characters (a family id begins with
 * the time it was made: the entries a batch of new families adds under a client or user are neighbours, not one random
 * page each), then the hash of the whole, cut to fit. */
static void member_part(char out[HASH_LEN + 1], const char *member, size_t mlen)
{
    char h[HASH_LEN + 1];
    size_t n = mlen < HUB_TIMED_CHARS ? mlen : HUB_TIMED_CHARS;

    hash_into(h, member);
    memcpy(out, member, n);
    memcpy(out + n, h, HASH_LEN - n);
    out[HASH_LEN] = '\0';
}

int idp_owner_index_put(hub_txn_t *txn, idp_owner_kind_t kind, const char *owner, const char *member, uint64_t expires_at)
{
    char key[KEY_LEN + 1];
    size_t mlen;

    if (owner == NULL)
        return 0;
    if ((unsigned)kind >= sizeof(tags) / sizeof(tags[0]) || member == NULL || (mlen = strlen(member)) == 0 || mlen > MEMBER_MAX)
        return HUB_E_INVAL;
    owner_prefix(key, kind, owner);
    member_part(key + PREFIX_LEN, member, mlen);
    return hub_store_put(txn, HUB_T_OWNER_INDEX, key, KEY_LEN, member, mlen, expires_at, 0);
}

void idp_owner_list_add(idp_owner_list_t *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap != 0 ? l->cap * 2 : 16;
        l->v = hub_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

static int list_cb(void *arg, hub_val_t key, hub_val_t val)
{
    idp_owner_list_t *l = arg;

    if (val.len == 0 || val.len > MEMBER_MAX || memchr(val.data, '\0', val.len) != NULL)
        return 0; /* not an entry this module wrote */
    idp_owner_list_add(l, hub_xstrndup(val.data, val.len));
    return 0;
}

int idp_owner_index_list(hub_txn_t *txn, idp_owner_kind_t kind, const char *owner, idp_owner_list_t *out)
{
    char prefix[KEY_LEN + 1];

    memset(out, 0, sizeof(*out));
    if ((unsigned)kind >= sizeof(tags) / sizeof(tags[0]) || owner == NULL)
        return HUB_E_INVAL;
    owner_prefix(prefix, kind, owner);
    return hub_store_each(txn, HUB_T_OWNER_INDEX, prefix, PREFIX_LEN, list_cb, out);
}

void idp_owner_list_free(idp_owner_list_t *l)
{
    for (size_t i = 0; i != l->n; ++i)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int idp_owner_index_ready(hub_txn_t *txn)
{
    return hub_store_counter(txn, IDP_OWNER_INDEX_MARK) != 0;
}

/* ---- the one-time build ---- */

typedef struct {
    const idp_owner_source_t *src;
    hub_txn_t *txn;            /* the running transaction */
    char from[MEMBER_MAX + 1]; /* the last key indexed by a committed transaction (flen 0: none yet) */
    size_t flen;
    char last[MEMBER_MAX + 1]; /* the last key the running transaction indexed */
    size_t llen;
    size_t done; /* records the running transaction indexed */
    int more;    /* it stopped at IDP_OWNER_INDEX_CHUNK: the table goes on */
} build_t;

static int build_cb(void *arg, hub_val_t key, hub_val_t val)
{
    build_t *b = arg;
    int ret;

    if (key.len > MEMBER_MAX || (b->flen != 0 && key.len == b->flen && memcmp(key.data, b->from, key.len) == 0))
        return 0; /* no key is longer; the one the last transaction ended on is indexed already */
    if ((ret = b->src->index(b->txn, key, val)) != 0)
        return ret;
    memcpy(b->last, key.data, key.len);
    b->llen = key.len;
    return ++b->done == IDP_OWNER_INDEX_CHUNK ? 1 : 0;
}

/* One transaction's chunk from b->from on; it may run more than once (a grown map), so it starts over each time. */
static int chunk_txn(hub_txn_t *txn, void *arg)
{
    build_t *b = arg;
    int ret;

    b->txn = txn;
    b->done = 0;
    b->llen = 0;
    b->more = 0;
    ret = b->flen == 0 ? hub_store_each(txn, b->src->table, NULL, 0, build_cb, b)
                       : hub_store_each_from(txn, b->src->table, NULL, 0, b->from, b->flen, build_cb, b);
    if (ret == 1) {
        b->more = 1;
        ret = 0;
    }
    return ret;
}

static void log_start(int *logged)
{
    if (!*logged)
        hub_log_info("indexing the token families and sessions of a store written before the owner index, %d records a "
                     "transaction; until it is done a revocation scans them",
                     IDP_OWNER_INDEX_CHUNK);
    *logged = 1;
}

/* Indexes every record of src in chunks; *count: how many. The start is logged (*logged) once there is something to
 * index: a new store says nothing. */
static int build_source(hub_store_t *store, const idp_owner_source_t *src, size_t *count, int *logged,
                        int (*between)(void *arg, unsigned took_ms), void *arg)
{
    build_t *b = hub_xcalloc(1, sizeof(*b));
    struct timespec t0, t1;
    long long took = -1; /* ms the last transaction took (-1: none yet) */
    int ret;

    b->src = src;
    *count = 0;
    for (;;) {
        if (between != NULL && took >= 0 && between(arg, took > UINT_MAX ? UINT_MAX : (unsigned)took)) {
            ret = HUB_E_CANCELLED;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ret = hub_store_write(store, chunk_txn, b);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        took = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        /* PostgreSQL: a chunk that keeps conflicting with the node's own writes (its range is read SERIALIZABLE) is
         * tried again from where it began, not the whole build */
        if (ret == HUB_E_BUSY)
            continue;
        if (ret != 0)
            break;
        if (b->done != 0)
            log_start(logged);
        *count += b->done;
        memcpy(b->from, b->last, b->llen);
        b->flen = b->llen;
        if (!b->more)
            break;
    }
    free(b);
    return ret;
}

static int mark_txn(hub_txn_t *txn, void *arg)
{
    return idp_owner_index_ready(txn) ? 0 : hub_store_bump(txn, IDP_OWNER_INDEX_MARK, NULL);
}

int idp_owner_index_build(hub_store_t *store, const idp_owner_source_t *src, size_t n, int (*between)(void *arg, unsigned took_ms),
                          void *arg)
{
    char counts[256] = "";
    size_t count, used = 0;
    hub_txn_t *txn = NULL;
    time_t started = time(NULL);
    int ret, ready, logged = 0;

    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ready = idp_owner_index_ready(txn);
    hub_store_read_end(txn);
    if (ready)
        return 0;
    for (size_t i = 0; i != n; ++i) {
        if ((ret = build_source(store, &src[i], &count, &logged, between, arg)) != 0) {
            if (logged)
                hub_log_error("indexing %s stopped: %s (started again from the beginning next time)", src[i].what,
                              hub_strerror(ret));
            return ret;
        }
        int w = snprintf(counts + used, sizeof(counts) - used, "%s%zu %s", i != 0 ? ", " : "", count, src[i].what);
        used = w < 0 || (size_t)w >= sizeof(counts) - used ? sizeof(counts) - 1 : used + (size_t)w;
    }
    if ((ret = hub_store_write(store, mark_txn, NULL)) != 0)
        return ret;
    if (logged)
        hub_log_info("owner index built: %s indexed in %lld s", counts, (long long)(time(NULL) - started));
    return 0;
}
