/* The secondary's shared context, private to federation/ (as libuv's src/unix/internal.h): what fed_create builds and
 * more than one module of the secondary reads. Each module keeps the rest of its state behind its own pointer. */
#ifndef FED_CTX_H
#define FED_CTX_H

#include "federation/fed_join.h"
#include "federation/fed_jwks.h"
#include "federation/fed_park.h"
#include "federation/fed_verify.h"
#include "hub/cookie.h"
#include "hub/server.h"

#define FED_URL_MAX 2048
#define FED_COOKIE_NAME_MAX HUB_COOKIE_NAME_MAX
#define FED_NODE_KEY "node_key" /* in HUB_T_FED, 256 bits: seals pending sign-ins, signs the sign-out form */

typedef struct st_fed_t fed_t; /* the same typedef as fed.h's, which is above every module here */

struct st_fed_t {
    hub_server_t *server;
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    fed_join_t *join;
    fed_jwks_t *jwks;
    fed_verify_t *verify;
    fed_park_t *park; /* one slot per loop thread */
    int secure_cookies;
    char session_cookie[FED_COOKIE_NAME_MAX]; /* hub_<node.name>_session (__Host- first under HTTPS) */
    /* atomic: the last call to the primary got no answer; written by fed_primary_answered (fed_worker.c), read by
     * whatever would otherwise wait for the primary */
    int primary_down;

    struct st_fed_worker_t *worker;   /* fed_worker.c: the thread that talks to the primary */
    struct st_fed_refresh_t *refresh; /* fed_refresh.c: session refreshes in flight */
    struct st_fed_login_t *login;     /* fed_login.c: sign-in state and code exchanges in flight */
    struct st_fed_logout_t *logout;   /* fed_logout.c */
    struct st_fed_routes_t *routes;   /* fed_routes.c: the route guards */
};

#endif
