/* Fixtures of the owner index's tests (tests/idp/family.c, tests/idp/owner_index.c): records written the way a store
 * older than the index holds them, the index and its mark taken away, a family's state read back. */
#ifndef TESTS_SUPPORT_OWNERS_H
#define TESTS_SUPPORT_OWNERS_H

#include <stdint.h>
#include "hub/store.h"

/* In txn: a family record as written before the index (no index entries, no "idx"); its id (random) into id. */
int test_family_old(hub_txn_t *txn, const char *client_id, const char *sub, const char *sid, uint64_t exp, char id[33]);
/* In txn: a session of sub as written before the index (its record and "sid:" pointer only); its hash into hash, its
 * public sid into sid. */
int test_session_old(hub_txn_t *txn, const char *sub, uint64_t exp, char hash[44], char sid[33]);
/* Deletes every entry of the owner index and its mark (a store as written before the index). 0 or the store's code. */
int test_owner_index_clear(hub_store_t *store);
/* Sets the mark alone (an index that claims to be complete whatever it holds). */
int test_owner_index_mark(hub_store_t *store);
/* The family's state: 1 revoked, 0 live, -1 absent (or expired). */
int test_family_state(hub_store_t *store, const char *id);
/* The expiry of family id, 0 when unreadable or gone. */
uint64_t test_family_expiry(hub_store_t *store, const char *id);
/* 1 when a live session is stored under hash, else 0. */
int test_session_exists(hub_store_t *store, const char *hash);

#endif
