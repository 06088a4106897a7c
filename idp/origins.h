/* The browser origins of the registered clients (SPEC §10): the origin of every redirect URI of every enabled client,
 * indexed in the store (HUB_T_CLIENT_ORIGINS) by the same write transaction that writes the client record, so that a
 * CORS preflight, which names no client, costs one B-tree lookup whatever the number of clients. */
#ifndef IDP_ORIGINS_H
#define IDP_ORIGINS_H

#include "hub/store.h"
#include "idp/model.h"

/* 1 when origin (serialized as hub_url_origin writes it, which is how browsers send it) is the origin of one of client's
 * redirect URIs, else 0. The client's state (enabled or not) is the caller's business. */
int idp_client_has_origin(const idp_client_t *client, const char *origin);

/* Inside a write txn, when a client record changes: removes the index entries of old (the record as stored before; NULL
 * for a new client) and adds those of client (the record as written; NULL when deleted). A disabled client has none.
 * Returns 0 or a store error (the caller aborts the txn). */
int idp_origins_update(hub_txn_t *txn, const idp_client_t *old, const idp_client_t *client);

/* 1 when origin is the origin of a redirect URI of some enabled client; 0 when not, and on a store error (no CORS grant
 * is the safe answer). */
int idp_origins_known(hub_txn_t *txn, const char *origin);

/* Indexes every stored client once, in a data dir written before the index existed (a META marker records it). Inside a
 * write txn at start-up; 0 or a store error. */
int idp_origins_prepare(hub_txn_t *txn);

#endif
