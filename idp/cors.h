/* Cross-origin access for browser-based clients (SPEC §10): the OPTIONS preflight and the methods of the endpoints a
 * single-page app calls (token, revocation, userinfo; discovery and JWKS for anyone), and the
 * Access-Control-Allow-Origin of their actual responses. Never Access-Control-Allow-Credentials: these endpoints take
 * no cookies. */
#ifndef IDP_CORS_H
#define IDP_CORS_H

#include <h2o.h>
#include <jansson.h>
#include "hub/store.h"
#include "idp/ctx.h"
#include "idp/client.h"

/* The methods an endpoint answers besides OPTIONS. */
#define IDP_CORS_GET 1u
#define IDP_CORS_HEAD 2u
#define IDP_CORS_POST 4u

/* An endpoint's cross-origin policy: its methods, and whether any origin may read it (a public document: discovery,
 * JWKS) or only the origins of the client the request turns out to come from. */
typedef struct st_idp_cors_t {
    unsigned methods;
    int any_origin;
} idp_cors_t;

/* Runs first in the handler of an endpoint with policy ep. Answers and returns 1: an OPTIONS request (204 with Allow;
 * for a preflight from an allowed origin also Access-Control-Allow-Origin, -Methods, -Headers and -Max-Age; an origin
 * is allowed when ep->any_origin, or when it is the origin of a redirect URI of some enabled client), and any method
 * not in ep->methods (405, Allow naming OPTIONS and ep->methods). Otherwise returns 0 after adding what every response
 * of the endpoint carries: Vary: Origin, or Access-Control-Allow-Origin: * for any_origin. */
int idp_cors_gate(idp_t *idp, h2o_req_t *req, const idp_cors_t *ep);

/* Once the request's client is known (authenticated, or identified by its client_id for a public client) and before
 * the response is sent: adds Access-Control-Allow-Origin: <Origin> when the request carries exactly one Origin header,
 * spelt as browsers serialize an origin, that is the origin of one of client's redirect URIs and client is enabled.
 * Nothing otherwise. */
void idp_cors_allow(h2o_req_t *req, const idp_client_t *client);

/* The same for the client an access token was issued to (claims: the verified token's payload, its client_id), read
 * in txn through idp->clients; no lookup at all when the request has no usable Origin. */
void idp_cors_allow_token(idp_t *idp, h2o_req_t *req, hub_txn_t *txn, const json_t *claims);

#endif
