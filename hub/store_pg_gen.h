/* hub_store_gen on PostgreSQL: the META counters asked for, kept in memory by a thread on a connection of its own that
 * LISTENs for the notification every hub_store_bump sends at commit (HUB_PG_GEN_CHANNEL, payload the counter's name)
 * and reads them again on one naming a counter it keeps, after every (re)connect, and every HUB_PG_GEN_POLL_MS as well:
 * a lost notification or a reconnect leaves a value stale for at most that long. Private to hub/store_pg*.c. */
#ifndef HUB_STORE_PG_GEN_H
#define HUB_STORE_PG_GEN_H

#include <stdint.h>
#include "hub/store_pg_pool.h"

#define HUB_PG_GEN_CHANNEL "hub_gen"
#define HUB_PG_GEN_POLL_MS 300

typedef struct st_hub_pg_gen_t hub_pg_gen_t;

/* Starts the thread (pool: borrowed, for its connection parameters and the first reads). NULL when no thread could
 * start (then every ask reads the database). */
hub_pg_gen_t *hub_pg_gen_start(hub_pg_pool_t *pool);
/* Stops the thread and frees gen (NULL is ignored). */
void hub_pg_gen_stop(hub_pg_gen_t *gen);
/* Whether the thread's connection read the database at its last try (1 until it first tried): a lost link is seen at
 * once when the server closes it, else by the next poll's statement (libpq's tcp_user_timeout bounds that). No lock. */
int hub_pg_gen_up(hub_pg_gen_t *gen);
/* The counter name as last read: no round trip, but the first ask of a name (or every ask of a name longer than
 * HUB_STORE_GEN_NAME_MAX, or past the 32 kept) reads it through the pool. 0 when never bumped or not readable. */
uint64_t hub_pg_gen_get(hub_pg_gen_t *gen, hub_pg_pool_t *pool, const char *name);
/* For a write that committed name's counter at value: waits, at most timeout_ms, until the thread has read it at value
 * or above (its notification arrives within a round trip), so that this node's own next ask sees its own change (a
 * client's new secret, a key revoked here). Returns at once for a name nobody asked for (nothing cached to be stale),
 * or while the thread's link is down. */
void hub_pg_gen_await(hub_pg_gen_t *gen, const char *name, uint64_t value, unsigned timeout_ms);

#endif
