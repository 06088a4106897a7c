/* The PostgreSQL store's connections (hub/store_pg.c): a pool of libpq connections shared by threads, each checked out
 * for the life of one transaction, (re)connected and given the store's prepared statements on use; what a failed
 * result means to the store; one line per outage in the log. Private to hub/store_pg*.c. */
#ifndef HUB_STORE_PG_POOL_H
#define HUB_STORE_PG_POOL_H

#include <stddef.h>
#include <libpq-fe.h>

/* A statement prepared on every connection of the pool (types: the parameters' type oids). */
typedef struct st_hub_pg_stmt_t {
    const char *name, *sql;
    int nparams;
    const Oid *types;
} hub_pg_stmt_t;

/* One pooled connection. */
typedef struct st_hub_pg_conn_t {
    PGconn *conn; /* NULL until first used, and after it was dropped */
    int prepared; /* the pool's statements are prepared on this session */
} hub_pg_conn_t;

typedef struct st_hub_pg_pool_t hub_pg_pool_t;

/* A pool of size connections to conninfo (libpq keywords or URI) with password (NULL: none; copied, wiped at destroy),
 * each given stmts (borrowed: static) when it (re)connects. Connects nothing yet. */
hub_pg_pool_t *hub_pg_pool_create(const char *conninfo, const char *password, unsigned size, const hub_pg_stmt_t *stmts,
                                  size_t nstmts);
/* Closes every connection; none may be checked out. NULL is ignored. */
void hub_pg_pool_destroy(hub_pg_pool_t *pool);

/* A new connection outside the pool with the pool's parameters (the caller PQfinishes it; check PQstatus). Defaults a
 * conninfo may override: connect_timeout 5 s, tcp_user_timeout 10 s, application_name hubd. */
PGconn *hub_pg_connect(hub_pg_pool_t *pool);
/* After a connect failed: 1 when the server cannot be reached now (refused, no answer within 2 s, starting up or
 * shutting down: worth waiting for), 0 when it answered and refused us (a password, a database name) or the
 * parameters are bad (waiting would not help). One round trip at most. */
int hub_pg_away(hub_pg_pool_t *pool);
/* Names the database conninfo connects to in buf, never a password: the database "hub" on 10.0.0.5 port 5432. */
void hub_pg_where(const char *conninfo, char *buf, size_t size);

/* Checks a connection out for the calling thread: connected (a lost one is reset), statements prepared, outside any
 * transaction. Waits while every connection is out: 30 s, or 2 s when this thread holds one already (a read inside a
 * write), then HUB_E_BUSY. HUB_E_UNAVAILABLE when the database cannot be reached. */
int hub_pg_pool_get(hub_pg_pool_t *pool, hub_pg_conn_t **out);
/* Gives c back: a transaction left open is rolled back, a connection in an unknown state dropped (reconnected on its
 * next use). */
void hub_pg_pool_put(hub_pg_pool_t *pool, hub_pg_conn_t *c);

/* What the failed result res (NULL: the call itself failed) of conn means: HUB_E_UNAVAILABLE when the connection is
 * lost or the server refuses work (shutting down, starting, too many connections; logged once per outage),
 * HUB_E_BUSY with *retry set for a serialization failure or a deadlock (the transaction may succeed when run again),
 * HUB_E_TOOBIG for a value past the server's limits, else HUB_E_STORE (logged: SQLSTATE and the primary message, never
 * the detail, which may quote a key). */
int hub_pg_failure(hub_pg_pool_t *pool, PGconn *conn, const PGresult *res, int *retry);
/* Notes that the database answered (ends an outage in the log). */
void hub_pg_reachable(hub_pg_pool_t *pool);
/* 1 from a connection found lost or refused (hub_pg_failure, a failed connect) until hub_pg_reachable. No lock. */
int hub_pg_pool_down(hub_pg_pool_t *pool);
/* Marks an outage its caller logged itself (so that the pool does not log it again; hub_pg_reachable ends it). */
void hub_pg_pool_set_down(hub_pg_pool_t *pool);
/* The first line of conn's last error message into buf (size bytes). */
const char *hub_pg_message(PGconn *conn, char *buf, size_t size);

#endif
