/* The primary node: the shared context every idp handler module receives, and the one
 * call that registers them all on a server. */
#ifndef IDP_IDP_H
#define IDP_IDP_H

#include "hub/config.h"
#include "hub/fetch.h"
#include "hub/server.h"
#include "hub/store.h"
#include "idp/keyring.h"
#include "idp/client_cache.h"

#define IDP_CSRF_KEY_LEN 32 /* 256 bits (idp/csrf.h) */

typedef struct st_idp_login_t idp_login_t;

typedef struct st_idp_t {
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    hub_server_t *server;
    idp_keyring_t *keyring;
    char issuer[512];        /* = node.public_url */
    char session_cookie[96]; /* cookie names derived from node.name (SPEC §8) */
    char csrf_cookie[96];
    int secure_cookies;                 /* under HTTPS: Secure, and names with the __Host- prefix */
    uint8_t csrf_key[IDP_CSRF_KEY_LEN]; /* the store's CSRF key (idp_csrf_key_load) */
    idp_client_cache_t *clients;        /* decoded clients for the token, introspection and revocation endpoints */
    idp_login_t *login;                 /* sign-in state shared by the loops: checks in flight, the rate (idp/login.c) */
    /* delivers the queued back-channel logouts (idp/backchannel.h) */
    struct st_idp_backchannel_t *backchannel;
} idp_t;

/* Creates the primary's context (opens the keyring) and registers every route of SPEC §4
 * (native paths and Frappe aliases) on server. The context lives until idp_destroy. */
int idp_create(idp_t **out, hub_server_t *server);
void idp_destroy(idp_t *idp);

/* Each handler module exports one registration function (called by idp_create), which registers its endpoints as the
 * table of idp/endpoint.h declares them. */
int idp_login_register(idp_t *idp);      /* /login; starts the password-check workers (0 or HUB_E_IO) */
void idp_login_dispose(idp_t *idp);      /* after the server stopped */
void idp_authorize_register(idp_t *idp); /* authorize, approve (+ aliases) */
void idp_token_register(idp_t *idp);     /* token (+ alias) */
void idp_introspect_register(idp_t *idp);
void idp_revoke_register(idp_t *idp);
void idp_userinfo_register(idp_t *idp);
void idp_register_register(idp_t *idp);  /* RFC 7591 dynamic registration */
void idp_discovery_register(idp_t *idp); /* discovery documents and JWKS */
void idp_logout_register(idp_t *idp);    /* /oauth2/logout, /logout + back-channel delivery */

#endif
