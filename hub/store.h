/* The node's durable store: one LMDB environment in data_dir with named tables,
 * optional per-record expiry, and a map that grows instead of failing. */
#ifndef HUB_STORE_H
#define HUB_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* The named databases. Each has a fixed name in the environment; adding one is adding a
 * line at the end here (the sweeper's index names tables by number; the schema version only
 * changes when an existing encoding changes). */
#define HUB_TABLES(XX)                                                                                                             \
    XX(META, "meta")                   /* schema version, generation counters */                                                 \
    XX(USERS, "users")                 /* sub -> user record */                                                                  \
    XX(USERS_BY_NAME, "users_by_name") /* username -> sub */                                                                     \
    XX(USERS_BY_EMAIL, "users_by_email") /* lower-cased email -> sub */                                                          \
    XX(ROLES, "roles")                 /* role name -> role record */                                                            \
    XX(CLIENTS, "clients")             /* client_id -> client record */                                                          \
    XX(SETTINGS, "settings")           /* setting name -> value */                                                               \
    XX(JOIN_TOKENS, "join_tokens")     /* hash(token) -> join token record */                                                    \
    XX(NODES, "nodes")                 /* node id -> registered secondary */                                                     \
    XX(SESSIONS, "sessions")           /* hash(session id) -> session record */                                                  \
    XX(LOGIN_FAILURES, "login_failures") /* "u:"sub or "a:"address -> failure counters */                                        \
    XX(CODES, "codes")                 /* hash(code) -> authorization code record */                                             \
    XX(REFRESH, "refresh")             /* hash(refresh token) -> refresh token record */                                         \
    XX(FAMILIES, "families")           /* grant family id -> state (revoked?) */                                                 \
    XX(TOKENS, "tokens")               /* access token jti -> {family, client, exp} */                                           \
    XX(REVOKED, "revoked")             /* revoked access token jti -> exp */                                                     \
    XX(GRANTS, "grants")               /* sub "\n" client_id -> consent grant (scopes) */                                        \
    XX(KEYS, "keys")                   /* kid -> signing key metadata */                                                         \
    XX(LOGOUT_QUEUE, "logout_queue")   /* pending back-channel logout deliveries */                                              \
    XX(FED, "fed")                     /* a secondary's registration and JWKS snapshot */                                        \
    XX(FED_STATES, "fed_states")       /* hash(state) -> pending login on a secondary */                                         \
    XX(FED_SESSIONS, "fed_sessions")   /* hash(session id) -> local session on a secondary */                                    \
    XX(CLIENT_ORIGINS, "client_origins") /* hash(origin) "\n" client_id -> origin, for enabled clients (idp/origins.h) */    \
    XX(AUDIT, "audit")                 /* zero-padded sequence number -> a console change (idp/audit.h) */                       \
    XX(USER_FAMILIES, "user_families") /* sub "\n" client_id "\n" family -> {scope, at} (idp/grants.h) */                 \
    XX(KEY_SECRETS, "key_secrets")     /* kid -> sealed private key, on a primary of a cluster (idp/keyrec.h) */

typedef enum {
#define XX(name, str) HUB_T_##name,
    HUB_TABLES(XX)
#undef XX
        HUB_T__COUNT
} hub_table_t;

#define HUB_STORE_SCHEMA_VERSION 1

typedef struct st_hub_store_t hub_store_t;
typedef struct st_hub_txn_t hub_txn_t;

typedef struct st_hub_val_t {
    const void *data; /* valid only until the transaction ends: copy out before commit/abort */
    size_t len;
} hub_val_t;

/* Opens (creating when missing, mode 0700 for the directory, 0600 for files) the store in
 * dir. Checks or writes the schema version (HUB_E_VERSION when the data is newer). Safe
 * for several processes and threads at once. */
int hub_store_open(hub_store_t **out, const char *dir);
/* Closes the environment; every transaction must have ended. NULL is ignored. */
void hub_store_close(hub_store_t *store);

/* Read transactions: cheap, see the latest committed state, may run on any thread. */
int hub_store_read_begin(hub_store_t *store, hub_txn_t **out);
void hub_store_read_end(hub_txn_t *txn);

/* Runs fn inside one write transaction and commits it when fn returns 0; aborts when fn
 * returns non-zero and passes that value back. When the map is full the transaction is
 * aborted, the map grown and fn run again, so fn must have no effects outside the txn. */
int hub_store_write(hub_store_t *store, int (*fn)(hub_txn_t *txn, void *arg), void *arg);

/* A transaction nested in the write transaction parent (LMDB's nested transactions): its writes join parent's when it
 * ends with commit set and vanish otherwise, so that one of several changes in a transaction can fail alone. Use only
 * child until it ends. An operation of child that fills the map marks parent too (hub_store_write then grows the map
 * and runs its fn again). Returns 0 and *child, or the error. */
int hub_store_nest_begin(hub_txn_t *parent, hub_txn_t **child);
/* Ends child (NULL is ignored): commits it into its parent when commit is set (no I/O), else aborts it. Returns 0, or
 * the error (the child's writes are then lost; HUB_E_MAPFULL when the map filled). */
int hub_store_nest_end(hub_txn_t *child, int commit);

/* Write transactions this process committed since the store opened. */
uint64_t hub_store_commits(hub_store_t *store);

/* Reads key; HUB_E_NOTFOUND when absent or expired. */
int hub_store_get(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, hub_val_t *val);
/* Writes key (write transactions only). expires_at is a unix time in seconds, 0 = never;
 * an expired record reads as absent and is removed by hub_store_sweep. With
 * HUB_STORE_NOOVERWRITE an existing live key gives HUB_E_EXISTS. */
#define HUB_STORE_NOOVERWRITE 1
int hub_store_put(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen,
                  uint64_t expires_at, int flags);
/* Deletes key; HUB_E_NOTFOUND when absent. */
int hub_store_del(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen);
/* The expiry stamped on key (0 = never), or HUB_E_NOTFOUND. */
int hub_store_expiry(hub_txn_t *txn, hub_table_t t, const void *key, size_t klen, uint64_t *expires_at);

/* Calls cb for each live record whose key starts with prefix (plen 0 = all), in key
 * order; stops early and returns cb's value when it is non-zero. Do not write to table t
 * from cb. */
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
 * Runs in small write transactions so it never holds the writer lock for long. */
int hub_store_sweep(hub_store_t *store, uint64_t now, size_t *removed);

/* Starts a background thread sweeping every interval_s seconds; hub_store_close stops it. */
int hub_store_start_sweeper(hub_store_t *store, unsigned interval_s);

/* Increments and returns a named counter in META (e.g. "gen:keys"), used so that a
 * running node notices changes another process (hubctl) committed. */
int hub_store_bump(hub_txn_t *txn, const char *name, uint64_t *value);
/* Reads a counter; 0 when it was never bumped. */
uint64_t hub_store_counter(hub_txn_t *txn, const char *name);

/* The size of the map in bytes right now (grows on demand). */
size_t hub_store_mapsize(hub_store_t *store);

#endif
