/* The cache of decoded clients: a set-associative table of shared, reference-counted clients checked against the
 * generation counter every client write bumps. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "idp/client_cache.h"
#include "idp/record.h"
#include "hub/util.h"

#define CACHE_WAYS 4 /* a set-associative table: a client_id hashes to one set of 4 slots */

typedef struct {
    idp_client_t *client; /* the cache's reference (the first holder's); NULL = empty */
    uint64_t gen;         /* the generation of the transaction that read it */
    uint64_t used;        /* tick of the last use, for replacement within the set */
} cache_slot_t;

struct st_idp_client_cache_t {
    pthread_mutex_t lock; /* guards everything below; never held while reading or parsing */
    size_t nsets;         /* a power of two */
    cache_slot_t *slots;  /* nsets * CACHE_WAYS */
    uint64_t tick;
    uint64_t hits, misses;
    int filled; /* an entry was ever inserted (atomic): hub_store_gen was asked for IDP_CLIENTS_GEN and answered */
};

void idp_client_release(const idp_client_t *client)
{
    /* refs is the one field a holder of a shared client changes, atomically */
    idp_client_t *c = (idp_client_t *)client;

    if (c == NULL)
        return;
    /* refs counts the holders besides one: whoever finds it at 0 is the last */
    if (__atomic_fetch_sub(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    idp_client_free(c);
}

idp_client_cache_t *idp_client_cache_create(size_t capacity)
{
    idp_client_cache_t *cache = hub_xcalloc(1, sizeof(*cache));
    size_t nsets = 1;

    while (nsets * CACHE_WAYS < capacity)
        nsets *= 2;
    cache->slots = hub_xcalloc(nsets * CACHE_WAYS, sizeof(*cache->slots));
    cache->nsets = nsets;
    pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void idp_client_cache_destroy(idp_client_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i != cache->nsets * CACHE_WAYS; ++i)
        idp_client_release(cache->slots[i].client);
    pthread_mutex_destroy(&cache->lock);
    free(cache->slots);
    free(cache);
}

void idp_client_cache_stats(idp_client_cache_t *cache, idp_client_cache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&cache->lock);
    out->hits = cache->hits;
    out->misses = cache->misses;
    out->capacity = cache->nsets * CACHE_WAYS;
    for (size_t i = 0; i != out->capacity; ++i)
        out->entries += cache->slots[i].client != NULL;
    pthread_mutex_unlock(&cache->lock);
}

/* FNV-1a: only client_ids that exist are inserted, so the keys are not the attacker's choice. */
static cache_slot_t *cache_set(idp_client_cache_t *cache, const char *client_id)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)client_id; *p != '\0'; ++p)
        h = (h ^ *p) * 1099511628211u;
    return cache->slots + (size_t)(h & (cache->nsets - 1)) * CACHE_WAYS;
}

/* Under the lock: the slot for client_id (whatever its generation), else an empty slot, else the least recently used. */
static cache_slot_t *cache_victim(cache_slot_t *set, const char *client_id)
{
    cache_slot_t *victim = NULL;
    for (size_t i = 0; i != CACHE_WAYS; ++i) {
        if (set[i].client != NULL && strcmp(set[i].client->client_id, client_id) == 0)
            return set + i;
        if (victim == NULL || (victim->client != NULL && (set[i].client == NULL || set[i].used < victim->used)))
            victim = set + i;
    }
    return victim;
}

/* The entry of client_id loaded under gen, with a reference taken for the caller, or NULL (counted as a hit, and as a
 * miss when count_miss). */
static idp_client_t *cache_lookup(idp_client_cache_t *cache, cache_slot_t *set, const char *client_id, uint64_t gen, int count_miss)
{
    idp_client_t *c = NULL;

    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i != CACHE_WAYS; ++i) {
        if (set[i].client != NULL && set[i].gen == gen && strcmp(set[i].client->client_id, client_id) == 0) {
            c = set[i].client;
            __atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED); /* the cache's own reference keeps it alive meanwhile */
            set[i].used = ++cache->tick;
            break;
        }
    }
    if (c != NULL)
        ++cache->hits;
    else if (count_miss)
        ++cache->misses;
    pthread_mutex_unlock(&cache->lock);
    return c;
}

/* Offers c (the caller's, read under gen) to the cache; when it takes it, c is shared from then on. */
static void cache_insert(idp_client_cache_t *cache, cache_slot_t *set, idp_client_t *c, uint64_t gen)
{
    idp_client_t *old = NULL;
    cache_slot_t *slot;

    pthread_mutex_lock(&cache->lock);
    slot = cache_victim(set, c->client_id);
    /* an older transaction must not push out what a newer one loaded (generations only grow) */
    if (slot->client == NULL || strcmp(slot->client->client_id, c->client_id) != 0 || slot->gen < gen) {
        old = slot->client;
        c->refs = 1; /* the caller's; the cache holds the first */
        slot->client = c;
        slot->gen = gen;
        slot->used = ++cache->tick;
        __atomic_store_n(&cache->filled, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&cache->lock);
    idp_client_release(old);
}

int idp_client_cache_get(idp_client_cache_t *cache, hub_txn_t *txn, const char *client_id, const idp_client_t **out)
{
    idp_client_t *c = NULL;
    cache_slot_t *set;
    uint64_t gen;
    int ret;

    *out = NULL;
    /* generation 0: never bumped, or unreadable; either way the cache cannot vouch for an entry. The generation checked
     * per request is the store's latest (hub_store_gen: no round trip; PostgreSQL's may be a second old) */
    if (cache == NULL || client_id == NULL || (gen = hub_store_gen(hub_txn_store(txn), IDP_CLIENTS_GEN)) == 0) {
        ret = idp_client_get(txn, client_id, &c);
        *out = c;
        return ret;
    }
    if (client_id[0] == '\0' || strlen(client_id) > IDP_CLIENT_ID_MAX)
        return HUB_E_NOTFOUND;
    set = cache_set(cache, client_id);
    if ((c = cache_lookup(cache, set, client_id, gen, 1)) == NULL) {
        /* an entry is labelled with the generation of the snapshot it was read from, read in that transaction */
        uint64_t loaded = hub_store_counter(txn, IDP_CLIENTS_GEN);
        if ((ret = idp_client_get(txn, client_id, &c)) != 0)
            return ret;
        if (loaded != 0)
            cache_insert(cache, set, c, loaded);
    }
    *out = c;
    return 0;
}

int idp_client_cache_peek(idp_client_cache_t *cache, hub_store_t *store, const char *client_id, const idp_client_t **out)
{
    uint64_t gen;

    *out = NULL;
    /* before the first insert, asking hub_store_gen may read the database (PostgreSQL's first ask of a name) */
    if (cache == NULL || client_id == NULL || client_id[0] == '\0' || strlen(client_id) > IDP_CLIENT_ID_MAX ||
        !__atomic_load_n(&cache->filled, __ATOMIC_RELAXED))
        return HUB_E_NOTFOUND;
    if (!hub_store_healthy(store) || (gen = hub_store_gen(store, IDP_CLIENTS_GEN)) == 0)
        return HUB_E_NOTFOUND;
    *out = cache_lookup(cache, cache_set(cache, client_id), client_id, gen, 0);
    return *out != NULL ? 0 : HUB_E_NOTFOUND;
}
