/* The primary node (SPEC §4): the one call that builds its context and registers every handler module on a server. */
#ifndef IDP_IDP_H
#define IDP_IDP_H

#include "hub/server.h"
#include "idp/owner_index.h"

typedef struct st_idp_t idp_t;

/* Creates the primary's context on server (config, store and fetcher come from it): prepares the data dir, opens the
 * keyring, starts the back-channel thread and registers every route of SPEC §4 (native paths and Frappe aliases).
 * Returns 0, or a negative error code (logged) with nothing left running. The context lives until idp_destroy, which
 * runs after the server stopped. */
int idp_create(idp_t **out, hub_server_t *server);
void idp_destroy(idp_t *idp);

/* The tables the owner index covers (token families, sessions) and how each record is listed in it: what a node's
 * start-up builds the index from, and what a tool writing a store builds it with (bench-gen-store). */
extern const idp_owner_source_t idp_owner_sources[];
extern const size_t idp_owner_nsources;

#endif
