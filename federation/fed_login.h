/* Sign-in on a secondary (SPEC §6): /auth/login sends the browser to the primary with a pending sign-in sealed in its
 * own cookie; /auth/callback checks the state against it, exchanges the code (asynchronously, on the request's loop),
 * verifies the id_token and starts the local session. */
#ifndef FED_LOGIN_H
#define FED_LOGIN_H

#include <stdint.h>
#include "federation/fed_ctx.h"
#include "hub/seal.h"

/* Sets up fed->login (its keys derived from the node key) and registers /auth/login and /auth/callback on
 * fed->server (before hub_server_run). Returns 0, or HUB_E_CONFIG when node.name makes no cookie name. */
int fed_login_register(fed_t *fed, const uint8_t node_key[HUB_KEY_LEN]);

/* Frees fed->login with the code exchanges still waiting for the primary; call after the loops stopped. */
void fed_login_dispose(fed_t *fed);

#endif
