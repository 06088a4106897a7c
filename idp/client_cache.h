/* A bounded, thread-safe cache of decoded clients for one store (the token, introspection, revocation and userinfo
 * endpoints, CORS). Every write of a client record bumps IDP_CLIENTS_GEN in the same transaction, in this process or
 * another (hubctl, another primary); an entry is labelled with the generation of the snapshot it was read from and used
 * only while the store's generation (hub_store_gen, no round trip) is that one: on LMDB a cached client is what the
 * latest commit holds, on PostgreSQL what was committed at most about a second ago. A miss reads the client from the
 * caller's transaction. Unknown client_ids are never cached. */
#ifndef IDP_CLIENT_CACHE_H
#define IDP_CLIENT_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"
#include "idp/client.h"

typedef struct st_idp_client_cache_t idp_client_cache_t;
typedef struct st_idp_client_cache_stats_t {
    uint64_t hits, misses;
    size_t entries, capacity;
} idp_client_cache_stats_t;

#define IDP_CLIENT_CACHE_DEFAULT 1024
/* Creates a cache holding at most capacity clients (rounded up to a multiple of 4, at least 4). */
idp_client_cache_t *idp_client_cache_create(size_t capacity);
/* Frees the cache and its references; clients handed out stay valid until their holders release them. */
void idp_client_cache_destroy(idp_client_cache_t *cache);
/* The same contract as idp_client_get, except that *out is SHARED with the cache and other threads: read-only, and
 * given back with idp_client_release, never freed. A NULL cache reads with idp_client_get (the copy is then the
 * caller's alone, still given back with idp_client_release). */
int idp_client_cache_get(idp_client_cache_t *cache, hub_txn_t *txn, const char *client_id, const idp_client_t **out);
/* The client's entry without any transaction or store read, for a request's loop before it parks a read: 0 and *out as
 * idp_client_cache_get hands it out when the cache holds client_id at store's current generation (hub_store_gen) and
 * the store is healthy (hub_store_healthy: on PostgreSQL, the thread that follows the generation reads the database);
 * else HUB_E_NOTFOUND, *out NULL, and the caller reads it (idp_client_cache_get): not cached (unknown client_ids never
 * are), cached at an older generation, generation 0, a NULL cache. Only a hit is counted (a miss by that read). */
int idp_client_cache_peek(idp_client_cache_t *cache, hub_store_t *store, const char *client_id, const idp_client_t **out);
/* Gives back a client idp_client_cache_get handed out: the last holder frees it (NULL is ignored). */
void idp_client_release(const idp_client_t *client);
/* Counters for tests and metrics. */
void idp_client_cache_stats(idp_client_cache_t *cache, idp_client_cache_stats_t *out);

#endif
