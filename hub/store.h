/* The node's durable store: named tables of records with optional per-record expiry, behind one interface with two
 * backends: LMDB in data_dir (the default: embedded, a map that grows instead of failing) and PostgreSQL (SPEC §9: the
 * primaries of a cluster share one database). */
#ifndef HUB_STORE_H
#define HUB_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hub/config.h"
#include "hub/store_types.h"

/* Opens (creating when missing, mode 0700 for the directory, 0600 for files) the LMDB store in
 * dir. Checks or writes the schema version (HUB_E_VERSION when the data is newer). Safe
 * for several processes and threads at once. */
int hub_store_open(hub_store_t **out, const char *dir);
/* Opens the store cfg names (SPEC §9 store.*): LMDB in node.data_dir as hub_store_open does, or the PostgreSQL database
 * of store.postgresql (its password read once from password_file, a regular file neither its group nor others may use).
 * A PostgreSQL schema must exist at a version this build knows: HUB_E_NOTFOUND when there is none yet, HUB_E_VERSION
 * when it is newer; with HUB_STORE_INIT a missing schema is created and an older one migrated (hubctl init). On
 * failure msg holds one line saying why (never a secret); on success with HUB_STORE_INIT what was done to the schema,
 * or "". */
#define HUB_STORE_INIT 1
/* With HUB_STORE_WAIT (hubd) a PostgreSQL database that cannot be reached now (refused, no answer, starting up or
 * shutting down) is no failure: the store opens held (hub_store_held), msg says which database is away and that the node
 * keeps trying, and its transactions fail HUB_E_UNAVAILABLE until the database answers with a schema this build knows.
 * A database that answers and refuses (a password, a database name), a missing or newer schema still fail the open. */
#define HUB_STORE_WAIT 2
int hub_store_open_config(hub_store_t **out, const hub_config_t *cfg, int flags, char *msg, size_t msgsize);
/* Closes the store; every transaction must have ended. NULL is ignored. */
void hub_store_close(hub_store_t *store);

/* Whether reads are cheap enough to run on an event loop: 1 for LMDB (in-process), 0 for PostgreSQL (a round trip). */
int hub_store_reads_inline(hub_store_t *store);

/* Read transactions: see one committed state (a snapshot: LMDB's as of their begin, PostgreSQL's as of their first
 * read), may run on any thread. LMDB's are cheap; PostgreSQL's hold a pooled connection from their first read to their
 * end (REPEATABLE READ, READ ONLY). */
int hub_store_read_begin(hub_store_t *store, hub_txn_t **out);
void hub_store_read_end(hub_txn_t *txn);
/* The store a transaction belongs to. */
hub_store_t *hub_txn_store(hub_txn_t *txn);

/* Runs fn inside one write transaction and commits it when fn returns 0; aborts when fn
 * returns non-zero and passes that value back. fn may run more than once, so it must have no effects outside the txn:
 * LMDB aborts, grows the map and runs it again when the map is full; PostgreSQL (SERIALIZABLE: the same outcome as
 * LMDB's one writer at a time) runs it again after a serialization failure or a deadlock (HUB_E_BUSY when that keeps
 * happening). A write inside a write of the same store on the same thread is refused (HUB_E_BUSY). PostgreSQL: a
 * failed statement is the transaction's failure whatever fn returns; HUB_E_UNAVAILABLE when the database cannot be
 * reached or the connection was lost (then, if the commit itself was cut, whether it happened is unknown). */
int hub_store_write(hub_store_t *store, int (*fn)(hub_txn_t *txn, void *arg), void *arg);

/* A transaction nested in the write transaction parent (LMDB's nested transactions, PostgreSQL's savepoints): its writes join
 * parent's when it ends with commit set and vanish otherwise, so that one of several changes in a transaction can fail alone. Use
 * only child until it ends. An operation of child that fills the map marks parent too (hub_store_write then grows the map and runs
 * its fn again). Returns 0 and *child, or the error. */
int hub_store_nest_begin(hub_txn_t *parent, hub_txn_t **child);
/* Ends child (NULL is ignored): commits it into its parent when commit is set (no I/O on LMDB), else aborts it. Returns
 * 0, or the error (the child's writes are then lost; HUB_E_MAPFULL when the map filled). */
int hub_store_nest_end(hub_txn_t *child, int commit);

/* Write transactions this process committed since the store opened. */
uint64_t hub_store_commits(hub_store_t *store);

/* Reads key; HUB_E_NOTFOUND when absent or expired. */
int hub_store_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, hub_val_t *val);
/* Writes key (write transactions only). expires_at is a unix time in seconds, 0 = never;
 * an expired record reads as absent and is removed by hub_store_sweep. With
 * HUB_STORE_NOOVERWRITE an existing live key gives HUB_E_EXISTS. */
int hub_store_put(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at,
                  int flags);
/* Deletes key; HUB_E_NOTFOUND when absent. */
int hub_store_del(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen);
/* The expiry stamped on key (0 = never), or HUB_E_NOTFOUND. */
int hub_store_expiry(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, uint64_t *expires_at);

/* Calls cb for each live record whose key starts with prefix (plen 0 = all), in key
 * order (bytewise, shorter first); stops early and returns cb's value when it is non-zero. Do not write to table t
 * from cb; key and val are valid only until cb returns (PostgreSQL reads a table in pages). */
int hub_store_each(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen,
                   int (*cb)(void *arg, hub_val_t key, hub_val_t val), void *arg);

/* The same from the first key at or after from (which must start with prefix: HUB_E_INVAL otherwise), for paging
 * through a table without reading what lies before: a walk that stopped after key K goes on from K followed by one NUL
 * byte, the smallest key after K. A from longer than the store's keys (511 bytes) is an error. */
int hub_store_each_from(hub_txn_t *txn, hub_table_t t, const void *prefix, size_t plen, const void *from, size_t flen,
                        int (*cb)(void *arg, hub_val_t key, hub_val_t val), void *arg);

/* JSON records: the value is compact JSON text. get returns a new reference (caller
 * decrefs); HUB_E_PARSE when the stored text is not a JSON object. */
int hub_store_get_json(hub_txn_t *txn, hub_table_t t, const char *key, json_t **out);
int hub_store_put_json(hub_txn_t *txn, hub_table_t t, const char *key, const json_t *obj, uint64_t expires_at, int flags);

/* Removes every record that expired at or before now; *removed (may be NULL) counts them.
 * Runs in small write transactions (bounded batches) so it never holds the writer lock for long. */
int hub_store_sweep(hub_store_t *store, uint64_t now, size_t *removed);

/* Starts a background thread sweeping every interval_s seconds; hub_store_close stops it. */
int hub_store_start_sweeper(hub_store_t *store, unsigned interval_s);

/* Increments and returns a named counter in META (e.g. "gen:keys"), used so that a
 * running node notices changes another process (hubctl, another primary) committed. Safe under concurrency. */
int hub_store_bump(hub_txn_t *txn, const char *name, uint64_t *value);
/* Reads a counter in txn; 0 when it was never bumped. */
uint64_t hub_store_counter(hub_txn_t *txn, const char *name);
/* A counter as committed at most about a second ago, without a round trip on the caller's path (the check a cache makes
 * per request): LMDB reads it exactly (cheap; no transaction at all while nothing was committed since the last read);
 * PostgreSQL keeps the counters asked for in memory, refreshed by a thread on a notification from every bump and by a
 * poll every 300 ms (the first ask of a name reads it once). 0 when never bumped or not readable. name: at most 63
 * bytes are remembered (HUB_STORE_GEN_NAME_MAX; a longer one is read each time). */
uint64_t hub_store_gen(hub_store_t *store, const char *name);

/* Whether the store can be expected to serve right now, without a round trip (the check /healthz and the router make per
 * request, hub/route.h): always 1 for LMDB. PostgreSQL: 0 from the moment a connection was found lost or refused until
 * the thread that follows the counters (a connection of its own, read every HUB_PG_GEN_POLL_MS, reconnected every half
 * second) reads the database again; so a node drained while its database was away sees it come back by itself. */
int hub_store_healthy(hub_store_t *store);
/* 1 for a store opened held (HUB_STORE_WAIT): not healthy whatever its database does, until its owner, having loaded
 * what start-up loads from it, calls hub_store_release (any thread; once). */
int hub_store_held(hub_store_t *store);
void hub_store_release(hub_store_t *store);

/* The size of LMDB's map in bytes right now (grows on demand); 0 on PostgreSQL. */
size_t hub_store_mapsize(hub_store_t *store);

#endif
