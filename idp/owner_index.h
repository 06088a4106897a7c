/* The index of token families and browser sessions by who owns them (the owner_index table): what logout, taking
 * something from a user and deleting a client walk instead of scanning every family or session. */
#ifndef IDP_OWNER_INDEX_H
#define IDP_OWNER_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"

/* The counter in META set once every family and session written before the index existed is indexed: until then
 * the index may miss some, and whoever revokes by owner scans the table (idp_owner_index_ready). */
#define IDP_OWNER_INDEX_MARK "idx:owner_index"

/* What owns a member: a family's session (sid), user (sub) or client (client_id); a session's user (sub). */
typedef enum {
    IDP_OWNER_FAMILY_SID,
    IDP_OWNER_FAMILY_SUB,
    IDP_OWNER_FAMILY_CLIENT,
    IDP_OWNER_SESSION_SUB,
} idp_owner_kind_t;

/* Lists member (a family id, a session's hash) under owner until expires_at (0 = never), in a write transaction. The key
 * is kind "\n" base64url(SHA-256(owner)) "\n", then the member's first 8 characters and as much of
 * base64url(SHA-256(member)) as makes 43 (entries written before had the hash alone there: the same member may then
 * be listed twice, which readers allow for): 91 bytes whatever the ids' lengths, so every member of every owner can be
 * listed, and the entries of families made together are neighbours; the value is the member itself. An entry is a hint only: its member may be gone
 * or belong to someone else by now, and whoever reads it checks the record. owner NULL: nothing (returns 0). */
int idp_owner_index_put(hub_txn_t *txn, idp_owner_kind_t kind, const char *owner, const char *member, uint64_t expires_at);

/* The members listed under owner (malloc'ed, NUL-terminated, in key order). */
typedef struct st_idp_owner_list_t {
    char **v;
    size_t n, cap;
} idp_owner_list_t;
/* Fills *out (zeroed first; free it with idp_owner_list_free, also on failure) with the live entries of owner;
 * collected first, so the caller may then write the tables they name. Returns 0, or the store's error. */
int idp_owner_index_list(hub_txn_t *txn, idp_owner_kind_t kind, const char *owner, idp_owner_list_t *out);
void idp_owner_list_free(idp_owner_list_t *l);
/* Appends s (malloc'ed; the list owns it from now on). */
void idp_owner_list_add(idp_owner_list_t *l, char *s);

/* 1 when the index covers every family and session (IDP_OWNER_INDEX_MARK is set), else 0: then the caller scans. */
int idp_owner_index_ready(hub_txn_t *txn);

/* A table whose records the index covers, and how one of them is indexed (in the write transaction txn; 0 or the
 * store's error; a record it cannot read is skipped with 0). */
typedef struct st_idp_owner_source_t {
    hub_table_t table;
    const char *what; /* for the log: "token families" */
    int (*index)(hub_txn_t *txn, hub_val_t key, hub_val_t val);
} idp_owner_source_t;

/* Indexes every record of the n sources once, for a store written before the index (a no-op when
 * IDP_OWNER_INDEX_MARK is set): IDP_OWNER_INDEX_CHUNK records per write transaction, each resuming after the last
 * key of the one before, so no transaction grows past what LMDB can hold nor keeps the writer long; then sets the
 * mark. Logs a line when it starts and one with the counts when it ends. between (may be NULL) runs before each
 * transaction but the first with how long the one before took (in ms): it may pause (a node's build leaves the writer
 * to requests between chunks) and returns non-zero to stop, the build then ending with HUB_E_CANCELLED, the mark
 * unset. Returns 0, or the store's error (run it again: every step is idempotent). */
#define IDP_OWNER_INDEX_CHUNK 2000
int idp_owner_index_build(hub_store_t *store, const idp_owner_source_t *src, size_t n, int (*between)(void *arg, unsigned took_ms),
                          void *arg);

#endif
