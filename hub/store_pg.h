/* The store's PostgreSQL backend (SPEC §9): every record in one database that the primaries of a cluster share, through
 * a pool of libpq connections. Write transactions are SERIALIZABLE and run their fn again after a serialization
 * failure or a deadlock, so that they come out as LMDB's one writer at a time would; nested ones are savepoints; read
 * transactions are REPEATABLE READ, READ ONLY (one snapshot). Store calls are synchronous: a thread waits for the
 * database (hub_store_reads_inline says 0, so that callers can keep it off an event loop). */
#ifndef HUB_STORE_PG_H
#define HUB_STORE_PG_H

#include <stddef.h>
#include "hub/store_types.h"

typedef struct st_hub_store_pg_options_t {
    const char *conninfo;  /* libpq keywords or URI */
    const char *password;  /* NULL: none (or in a passfile the conninfo names); copied, wiped at close */
    unsigned pool;         /* connections, at least 1 */
    int init;              /* create a missing schema, migrate an older one (hubctl init) */
    const char *init_hint; /* the command that does it, for the message when the schema is missing or older */
    int wait;              /* a database that cannot be reached now is waited for (hubd) rather than an error */
    int *waiting;          /* with wait: set to 1 when it was away, else 0 */
} hub_store_pg_options_t;

/* Connects, checks (with init: creates or migrates) the schema and starts the thread that follows the counters. On
 * failure msg (msgsize bytes) holds one line saying why, never a secret: HUB_E_UNAVAILABLE when the database cannot be
 * reached, HUB_E_NOTFOUND when it has no schema or an older one (run init_hint), HUB_E_VERSION when its schema is newer
 * than this build knows. On success with init, msg says what was done to the schema ("" when nothing). With wait, a
 * database that cannot be reached now (hub_pg_away: refused, no answer, starting up or shutting down) is no failure:
 * *waiting is set, msg says which database is away and why, and the store checks the schema at its first transaction
 * that reaches the database (until then, and while a schema found there is missing or newer, which is logged, every
 * transaction fails HUB_E_UNAVAILABLE and the store is not healthy). */
int hub_store_pg_open(hub_store_t **out, const hub_store_pg_options_t *opts, char *msg, size_t msgsize);
/* Names the database conninfo (libpq keywords or URI) connects to in buf (size bytes), never its password: the
 * database "hub" on 10.0.0.5 port 5432 (libpq's defaults fill what conninfo leaves out). */
void hub_store_pg_where(const char *conninfo, char *buf, size_t size);

#endif
