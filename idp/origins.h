/* The browser origins of the registered clients (SPEC §10): the origin of every redirect URI of every enabled client,
 * indexed in the store (HUB_T_CLIENT_ORIGINS) by the same write transaction that writes the client record (idp/client.c
 * keeps it, as idp/user.c keeps the user indexes), so that a CORS preflight, which names no client, costs one B-tree
 * lookup whatever the number of clients. */
#ifndef IDP_ORIGINS_H
#define IDP_ORIGINS_H

#include "hub/store.h"
#include "idp/strv.h"

/* 1 when origin (serialized as hub_url_origin writes it, which is how browsers send it) is the origin of one of uris,
 * else 0. */
int idp_origins_match(const idp_strv_t *uris, const char *origin);

/* Inside a write txn, when the record of client_id changes: removes the entries of old (its redirect URIs as stored
 * before; NULL for a new, disabled or unreadable client) and adds those of now (as written; NULL when the client is
 * deleted or disabled). Returns 0 or a store error (the caller aborts the txn). */
int idp_origins_update(hub_txn_t *txn, const char *client_id, const idp_strv_t *old, const idp_strv_t *now);

/* 1 when origin is the origin of a redirect URI of some enabled client; 0 when not, and on a store error (no CORS grant
 * is the safe answer). */
int idp_origins_known(hub_txn_t *txn, const char *origin);

/* In a data dir written before the index existed (a META marker records that it is complete): calls index_all(txn),
 * which adds every enabled client's entries, then sets the marker. Inside a write txn at start-up; 0 or an error. */
int idp_origins_prepare(hub_txn_t *txn, int (*index_all)(hub_txn_t *txn));

#endif
