/* The PostgreSQL store's schema (hub/store_pg_schema.h): its version, the migrations, the check at open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store_pg_pool.h"
#include "hub/store_pg_schema.h"
#include "hub/store_types.h"

/* Any constant: the advisory lock two hubctl inits take on one database. */
#define INIT_LOCK "7231400001"

/* migrations[v] brings version v to v + 1 (the last sets nothing: the caller records the version reached). */
static const char *const migrations[HUB_PG_SCHEMA_VERSION] = {
    "CREATE TABLE hub_kv (tbl smallint NOT NULL, k bytea NOT NULL, v bytea NOT NULL, expires_at bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tbl, k));"
    "CREATE INDEX hub_kv_expiry ON hub_kv (expires_at) WHERE expires_at <> 0;"
    "CREATE TABLE hub_schema (id smallint PRIMARY KEY CHECK (id = 1), version integer NOT NULL);"
    "INSERT INTO hub_schema VALUES (1, 0);",
};

/* Runs sql (statements without parameters); 0 when it worked, and *res (when not NULL) holds the last result. */
static int exec(hub_pg_pool_t *pool, PGconn *conn, const char *sql, PGresult **res)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int retry = 0, rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = hub_pg_failure(pool, conn, r, &retry);
    if (rc == 0 && res != NULL) {
        *res = r;
        return 0;
    }
    PQclear(r);
    return rc;
}

/* The integer in the first column of the first row of sql, or -1 when there is no row. */
static int read_int(hub_pg_pool_t *pool, PGconn *conn, const char *sql, long *out)
{
    PGresult *res;
    char *end;
    int rc;

    if ((rc = exec(pool, conn, sql, &res)) != 0)
        return rc;
    *out = -1;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        *out = strtol(PQgetvalue(res, 0, 0), &end, 10);
        if (*end != '\0' || *out < 0)
            rc = HUB_E_STORE;
    }
    PQclear(res);
    return rc;
}

/* The schema's version: 0 when there is none. */
static int read_version(hub_pg_pool_t *pool, PGconn *conn, long *version)
{
    long exists;
    int rc;

    if ((rc = read_int(pool, conn, "SELECT CASE WHEN to_regclass('hub_schema') IS NULL THEN 0 ELSE 1 END", &exists)) != 0)
        return rc;
    if (exists != 1) {
        *version = 0;
        return 0;
    }
    if ((rc = read_int(pool, conn, "SELECT version FROM hub_schema WHERE id = 1", version)) != 0)
        return rc;
    return *version < 0 ? HUB_E_STORE : 0; /* a hub_schema without its row: not ours */
}

/* The records' encoding (META's schema_version): HUB_E_VERSION when newer than this build reads. */
static int check_encoding(hub_pg_pool_t *pool, PGconn *conn)
{
    long v;
    int rc;

    rc = read_int(pool, conn,
                  "SELECT ('x' || encode(v, 'hex'))::bit(64)::bigint FROM hub_kv WHERE tbl = 0 AND k = 'schema_version'"
                  " AND length(v) = 8",
                  &v);
    if (rc == 0 && v > HUB_STORE_SCHEMA_VERSION)
        return HUB_E_VERSION;
    return rc;
}

/* Creates or migrates the schema to HUB_PG_SCHEMA_VERSION in one transaction (two inits: the second waits for the
 * first's lock, then finds nothing to do). */
static int migrate(hub_pg_pool_t *pool, PGconn *conn, long *from, char *did, size_t size)
{
    char sql[160];
    long version;
    int rc;

    if ((rc = exec(pool, conn, "BEGIN", NULL)) != 0)
        return rc;
    if ((rc = exec(pool, conn, "SELECT pg_advisory_xact_lock(" INIT_LOCK ")", NULL)) != 0 ||
        (rc = read_version(pool, conn, &version)) != 0)
        goto out;
    *from = version;
    if (version >= HUB_PG_SCHEMA_VERSION)
        goto out;
    for (long v = version; rc == 0 && v != HUB_PG_SCHEMA_VERSION; ++v)
        rc = exec(pool, conn, migrations[v], NULL);
    snprintf(sql, sizeof(sql), "UPDATE hub_schema SET version = %d", HUB_PG_SCHEMA_VERSION);
    if (rc == 0 && (rc = exec(pool, conn, sql, NULL)) == 0) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO hub_kv VALUES (0, 'schema_version', int8send(%d::int8), 0) ON CONFLICT (tbl, k) DO NOTHING",
                 HUB_STORE_SCHEMA_VERSION);
        rc = exec(pool, conn, sql, NULL);
    }
    if (rc == 0 && version == 0)
        snprintf(did, size, "created the schema (version %d)", HUB_PG_SCHEMA_VERSION);
    else if (rc == 0)
        snprintf(did, size, "migrated the schema from version %ld to %d", version, HUB_PG_SCHEMA_VERSION);
out:
    if (rc == 0)
        rc = exec(pool, conn, "COMMIT", NULL);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

int hub_pg_schema_check(hub_pg_pool_t *pool, PGconn *conn, int init, unsigned *version, char *did, size_t size)
{
    long v = 0;
    int rc;

    if (size != 0)
        did[0] = '\0';
    *version = 0;
    if (init && (rc = migrate(pool, conn, &v, did, size)) != 0)
        return rc;
    if ((rc = read_version(pool, conn, &v)) != 0)
        return rc;
    *version = (unsigned)v;
    if (v == 0)
        return HUB_E_NOTFOUND;
    if (v > HUB_PG_SCHEMA_VERSION)
        return HUB_E_VERSION;
    if (v < HUB_PG_SCHEMA_VERSION)
        return HUB_E_NOTFOUND; /* an older schema: hubctl init migrates it */
    return check_encoding(pool, conn);
}
