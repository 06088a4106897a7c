/* Notices from the primary to a secondary (SPEC §6): POST /auth/jwks-changed. */
#ifndef FED_NOTIFY_H
#define FED_NOTIFY_H

#include "federation/fed_ctx.h"

/* Registers /auth/jwks-changed on fed->server (before hub_server_run). */
void fed_notify_register(fed_t *fed);

#endif
