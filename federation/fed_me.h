/* /auth/me on a secondary (SPEC §6): the caller's identity as JSON, from a session cookie or a Bearer token. */
#ifndef FED_ME_H
#define FED_ME_H

#include "federation/fed_ctx.h"

/* Registers /auth/me on fed->server (before hub_server_run). */
void fed_me_register(fed_t *fed);

#endif
