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

/* Authenticates the client of req with form (the parsed body) inside txn: client_secret_basic (Authorization: Basic),
 * client_secret_post (client_id + client_secret in the form) or none (client_id alone, accepted only when allow_public is
 * set). The client is read through cache (NULL = straight from the store, see idp_client_cache_get). Returns
 * HUB_OAUTH_OK with *out the enabled client, which may be SHARED with the cache and other threads: read-only, given back
 * with idp_client_release. Otherwise *out is NULL and the failure is in *fail: HUB_OAUTH_INVALID_CLIENT with a short
 * reason (no credentials, unknown or disabled client, wrong secret, a method other than the registered one, two methods
 * at once), or HUB_OAUTH_SERVER_ERROR when the store failed. */
hub_oauth_err_t idp_client_authenticate(h2o_req_t *req, const hub_form_t *form, hub_txn_t *txn, idp_client_cache_t *cache,
                                        int allow_public, const idp_client_t **out, hub_oauth_fail_t *fail);

/* Parses the POST form body of a token, introspection or revocation request (urlencoded, no parameter repeated,
 * RFC 6749 §3.2, none too long; the router let only POST through). Returns HUB_OAUTH_OK, or the failure in *fail. */
hub_oauth_err_t idp_endpoint_form(h2o_req_t *req, hub_form_t *form, hub_oauth_fail_t *fail);

/* Authenticates the request's client in one read txn through idp->clients (see idp_client_authenticate); a store that
 * cannot be read is HUB_OAUTH_TEMPORARILY_UNAVAILABLE. On HUB_OAUTH_OK, *out is SHARED, never to be modified, given back
 * with idp_client_release. */
hub_oauth_err_t idp_endpoint_client(idp_t *idp, h2o_req_t *req, const hub_form_t *form, int allow_public, const idp_client_t **out,
                                    hub_oauth_fail_t *fail);

#endif
