/* Sign-in on a secondary (SPEC §6): /auth/login, /auth/callback (asynchronous code exchange),
 * /auth/logout, /auth/signed-out, /auth/backchannel-logout and /auth/me. */
#ifndef FED_LOGIN_H
#define FED_LOGIN_H

#include "federation/fed_ctx.h"

/* Registers the /auth/ handlers on fed->server (before hub_server_run). */
void fed_login_register(fed_t *fed);

/* Registers "/" (exactly that path: the signed-out page; 404 below it) unless a configured route
 * is "/"; call after fed_routes_register, as the first registered prefix wins. */
void fed_login_register_home(fed_t *fed);

/* Frees the code exchanges still waiting for the primary; call after the loops stopped. */
void fed_login_dispose(fed_t *fed);

/* The "next" target after sign-in: next itself when it is a same-origin relative path (one
 * leading '/', not "//" or "/\", no backslash or control character, at most 2048 bytes),
 * else "/". */

#endif
