/* The PostgreSQL store's schema: one table of records for every hub table, versioned, created and migrated by hubctl
 * init (HUB_STORE_INIT). Private to hub/store_pg*.c.
 *
 *   hub_kv     (tbl smallint, k bytea, v bytea, expires_at bigint, PRIMARY KEY (tbl, k)): tbl is the hub_table_t
 *              number, k the key (bytea compares bytewise, shorter first: LMDB's order), v the value, expires_at a unix
 *              time or 0 (never); hub_kv_expiry indexes the records that expire, for the sweep
 *   hub_schema (id 1, version): the version of these tables
 *
 * META's "schema_version" record holds the records' encoding version, as in LMDB. */
#ifndef HUB_STORE_PG_SCHEMA_H
#define HUB_STORE_PG_SCHEMA_H

#include <stddef.h>
#include <libpq-fe.h>
#include "hub/store_pg_pool.h"

#define HUB_PG_SCHEMA_VERSION 1

/* Checks the schema of the database conn is connected to: 0 when it is at HUB_PG_SCHEMA_VERSION with records of an
 * encoding this build reads; HUB_E_NOTFOUND when there is none (*version 0); HUB_E_VERSION when it is newer (*version
 * says which); else the failure (HUB_E_UNAVAILABLE, HUB_E_STORE). With init, a missing schema is created and an older
 * one migrated first, in one transaction under an advisory lock (two inits at once: one does it): did (size bytes)
 * then says what was done ("" when nothing). Failures are read as hub_pg_failure reads them (pool: its outage log). */
int hub_pg_schema_check(hub_pg_pool_t *pool, PGconn *conn, int init, unsigned *version, char *did, size_t size);

#endif
