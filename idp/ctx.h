/* The primary's shared context, private to idp/ (as federation/fed_ctx.h, and libuv's src/unix/internal.h): what
 * idp_create builds and the handler modules read. It includes only modules below every handler, so a module's header
 * can name idp_t without reaching idp/idp.h, which includes the handlers' headers. */
#ifndef IDP_CTX_H
#define IDP_CTX_H

#include <stdint.h>
#include "hub/config.h"
#include "hub/fetch.h"
#include "hub/server.h"
#include "hub/store.h"
#include "idp/client_cache.h"
#include "idp/keyring.h"

#define IDP_CSRF_KEY_LEN 32 /* 256 bits (idp/csrf.h) */

typedef struct st_idp_t idp_t; /* the same typedef as idp.h's */

struct st_idp_t {
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    hub_server_t *server;
    idp_keyring_t *keyring;
    char issuer[512];        /* = node.public_url */
    char session_cookie[96]; /* cookie names after node.name (SPEC §8), a cluster's after public_url (§9, hub/cookie.h) */
    char csrf_cookie[96];
    int secure_cookies;                       /* under HTTPS: Secure, and names with the __Host- prefix */
    uint8_t csrf_key[IDP_CSRF_KEY_LEN];       /* the store's CSRF key (idp_csrf_key_load): a cluster's primaries share it */
    idp_client_cache_t *clients;              /* decoded clients for the token, introspection and revocation endpoints */
    struct st_idp_login_t *login;             /* login.c: sign-in state shared by the loops (checks in flight, the rate) */
    struct st_idp_backchannel_t *backchannel; /* backchannel.c: delivers the queued back-channel logouts */
    struct st_idp_startup_t *startup;         /* idp.c: start-up's loads, retried while the database is away */
};

#endif
