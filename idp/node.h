/* Registered secondary nodes (SPEC §2 hubctl node, §6 registration): one record per node, keyed by its client's id. A
 * node depends on its client (idp/client.h), never the reverse: revoking a node disables its client, and deleting a
 * node's client revokes the node here (idp_client_remove). */
#ifndef IDP_NODE_H
#define IDP_NODE_H

#include <stdint.h>
#include <jansson.h>
#include "hub/store.h"

typedef struct st_idp_node_t {
    char *id; /* = its client_id */
    char *name;
    char *public_url; /* from its redirect URI, may be NULL */
    uint64_t registered_at;
    int revoked;
} idp_node_t;

/* Writes node; HUB_E_INVAL without an id or with a name that is not printable UTF-8 of at most IDP_NAME_MAX bytes. */
int idp_node_put(hub_txn_t *txn, const idp_node_t *node);
/* Reads a node (the caller's copy, idp_node_free); HUB_E_NOTFOUND when absent. */
int idp_node_get(hub_txn_t *txn, const char *id, idp_node_t **out);
/* Calls cb for each node in id order; a non-zero return of cb stops the walk and is returned. */
int idp_node_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_node_t *node), void *arg);
/* Marks the node revoked, disables its client and revokes every token family of it. HUB_E_NOTFOUND for no such node. */
int idp_node_revoke(hub_txn_t *txn, const char *id);
/* Deletes the client client_id (idp_client_del: every token family issued to it is revoked) and, when it is a node's
 * client, marks that node revoked: what deleting a client means to an operator (hubctl client del, the consoles).
 * HUB_E_NOTFOUND when there is no such client. */
int idp_client_remove(hub_txn_t *txn, const char *client_id);
void idp_node_free(idp_node_t *node);
/* The node as hubctl --json shows it: id, name, public_url, registered_at, revoked (absent strings as null). */
json_t *idp_node_to_json(const idp_node_t *node);

#endif
