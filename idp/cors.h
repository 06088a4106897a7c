/* Cross-origin access for browser-based clients (SPEC §10): which origins a preflight of the endpoints a single-page app
 * calls (token, revocation, userinfo) is allowed for, and the Access-Control-Allow-Origin of their actual responses;
 * the router answers the preflight (hub/route.h). Never Access-Control-Allow-Credentials: these endpoints take no
 * cookies. */
#ifndef IDP_CORS_H
#define IDP_CORS_H

#include <h2o.h>
#include <jansson.h>
#include "hub/cors.h"
#include "hub/store.h"
#include "idp/ctx.h"
#include "idp/client.h"

/* The cross-origin rules of the endpoint table (idp/endpoint.h) the router applies: clients, for the endpoints a
 * single-page app calls (a preflight's origin is allowed when it is the origin of a redirect URI of some enabled client:
 * one read of the store's index, on the store's readers when it has any), and public, for discovery and JWKS (any
 * origin). */
extern const hub_cors_t idp_cors_clients;
extern const hub_cors_t idp_cors_public;

/* Once the request's client is known (authenticated, or identified by its client_id for a public client) and before
 * the response is sent: adds Access-Control-Allow-Origin: <Origin> when the request carries exactly one Origin header,
 * spelt as browsers serialize an origin, that is the origin of one of client's redirect URIs and client is enabled.
 * Nothing otherwise. */
void idp_cors_allow(h2o_req_t *req, const idp_client_t *client);

#endif
