/* The secondary node: joins a primary, delegates sign-in to it, verifies its tokens
 * locally and guards the configured routes (SPEC §6). */
#ifndef FED_FED_H
#define FED_FED_H

#include "hub/server.h"

typedef struct st_fed_t fed_t;

/* Creates the secondary's context on server (config, store and fetcher come from it),
 * starts joining the primary in the background and registers every route of SPEC §6.
 * Never blocks on the primary. */
int fed_create(fed_t **out, hub_server_t *server);
void fed_destroy(fed_t *fed);

#endif
