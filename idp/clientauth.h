/* Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3): exactly the method the
 * client registered, never two at once. */
#ifndef IDP_CLIENTAUTH_H
#define IDP_CLIENTAUTH_H

#include <h2o.h>
#include "hub/form.h"
#include "hub/store.h"
#include "idp/ctx.h"
#include "idp/client_cache.h"

/* Authenticates the client of req with form (the parsed body) inside txn: client_secret_basic (Authorization: Basic),
 * client_secret_post (client_id + client_secret in the form) or none (client_id alone, accepted only when allow_public is
 * set). The client is read through cache (NULL = straight from the store, see idp_client_cache_get). Returns 0 with *out
 * the enabled client, which may be SHARED with the cache and other threads: read-only, given back with idp_client_release;
 * HUB_E_DENIED when the request must get 401 invalid_client (no credentials, unknown or disabled client, wrong secret, a
 * method other than the registered one, two methods at once), with a short reason in *why; another negative code on a
 * store failure. */
int idp_client_authenticate(h2o_req_t *req, const hub_form_t *form, hub_txn_t *txn, idp_client_cache_t *cache, int allow_public,
                            const idp_client_t **out, const char **why);

/* Parses the POST form body of a token, introspection or revocation request (POST only, urlencoded, no parameter
 * repeated, RFC 6749 §3.2); answers the error itself and returns non-zero when the request cannot go on. */
int idp_endpoint_form(h2o_req_t *req, hub_form_t *form);

/* Authenticates the request's client in one read txn through idp->clients (see idp_client_authenticate); answers 401
 * invalid_client (or a server error) itself and returns NULL on failure, else the client: SHARED, never to be modified,
 * given back with idp_client_release. */
const idp_client_t *idp_endpoint_client(idp_t *idp, h2o_req_t *req, const hub_form_t *form, int allow_public);

#endif
