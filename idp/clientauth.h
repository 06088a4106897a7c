/* Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3): exactly the method the
 * client registered, never two at once. */
#ifndef IDP_CLIENTAUTH_H
#define IDP_CLIENTAUTH_H

#include <h2o.h>
#include "hub/form.h"
#include "hub/oauth.h"
#include "hub/store.h"
#include "idp/ctx.h"
#include "idp/client_cache.h"

/* The credentials a request presents, copied out of it, so that they can be checked in a store job off the loop. */
typedef struct st_idp_client_creds_t {
    idp_auth_method_t used; /* how they were presented */
    char *client_id;        /* malloc'ed */
    char *secret;           /* malloc'ed, NULL for auth method none; wiped when disposed */
} idp_client_creds_t;

/* Reads the credentials of req with form (the parsed body) into *out: client_secret_basic (Authorization: Basic),
 * client_secret_post (client_id + client_secret in the form) or none (client_id alone). HUB_OAUTH_OK, or
 * HUB_OAUTH_INVALID_CLIENT in *fail when they are missing, malformed, repeated, too long or presented two ways at once
 * (*out is then empty). idp_client_creds_dispose frees them either way. */
hub_oauth_err_t idp_client_creds_read(h2o_req_t *req, const hub_form_t *form, idp_client_creds_t *out, hub_oauth_fail_t *fail);
void idp_client_creds_dispose(idp_client_creds_t *c);

/* Authenticates the client of c inside txn, on any thread: the method must be the one registered, method none is
 * accepted only when allow_public is set, a secret is compared in constant time with the stored hash. The client is read
 * through cache (NULL = straight from the store, see idp_client_cache_get). Returns 0 once decided: *out the enabled
 * client, which may be SHARED with the cache and other threads (read-only, given back with idp_client_release), or *out
 * NULL and HUB_OAUTH_INVALID_CLIENT in *fail with a short reason (no credentials, unknown or disabled client, wrong
 * secret, a method other than the registered one). Returns the store's error when it could not read (*out NULL). */
int idp_client_check(hub_txn_t *txn, idp_client_cache_t *cache, const idp_client_creds_t *c, int allow_public,
                     const idp_client_t **out, hub_oauth_fail_t *fail);

/* idp_client_check from memory alone, on any thread (a request's loop before it parks a read): the same verdict, from
 * the same checks, when the client is in cache at store's current generation (idp_client_cache_peek); HUB_E_NOTFOUND
 * when it is not (unknown client_ids included), with *out NULL and *fail untouched: the caller then runs
 * idp_client_check in a read. */
int idp_client_check_cached(hub_store_t *store, idp_client_cache_t *cache, const idp_client_creds_t *c, int allow_public,
                            const idp_client_t **out, hub_oauth_fail_t *fail);

/* Parses the POST form body of a token, introspection or revocation request (urlencoded, no parameter repeated,
 * RFC 6749 §3.2, none too long; the router let only POST through). Returns HUB_OAUTH_OK, or the failure in *fail. */
hub_oauth_err_t idp_endpoint_form(h2o_req_t *req, hub_form_t *form, hub_oauth_fail_t *fail);

#endif
