/* Signing out of a secondary (SPEC §6): /auth/logout (a confirmation page, then a POST with a token bound to the
 * session ends it here and sends the browser to the primary's logout), /auth/signed-out and "/" (where the primary
 * sends it back), and /auth/backchannel-logout (the primary's logout token ends every local session of a sid or sub). */
#ifndef FED_LOGOUT_H
#define FED_LOGOUT_H

#include <stdint.h>
#include "federation/fed_ctx.h"
#include "hub/seal.h"

/* Sets up fed->logout (the form's key derived from the node key) and registers /auth/logout,
 * /auth/backchannel-logout and /auth/signed-out on fed->server (before hub_server_run). Returns 0. */
int fed_logout_register(fed_t *fed, const uint8_t node_key[HUB_KEY_LEN]);

/* Registers "/" (exactly that path: the signed-out page; 404 below it) unless a configured route is "/"; call after
 * fed_routes_register, as the first registered prefix wins. */
void fed_logout_register_home(fed_t *fed);

/* Frees fed->logout; after the loops stopped. */
void fed_logout_dispose(fed_t *fed);

#endif
