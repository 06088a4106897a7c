/* Dynamic client registration (RFC 7591) with join tokens and the RFC 7592 read of a registration; the parsing and
 * validation of a registration body stand apart from the HTTP handler so tests and the fuzz target reach them without
 * a request. */
#ifndef IDP_REGISTER_H
#define IDP_REGISTER_H

#include <stddef.h>
#include <h2o.h>
#include "hub/oauth.h"
#include "idp/client.h"
#include "idp/ctx.h"

#define IDP_REGISTER_MAX_BODY (64 * 1024) /* bytes of a registration request body */
#define IDP_REGISTER_MAX_URIS 32          /* entries of each URI array */

/* Registers /oauth2/register with its Frappe alias (register_client), and /oauth2/register/<client_id> below it. */
void idp_register_register(idp_t *idp);

/* Parses a registration body (one JSON object without duplicate members, at most IDP_REGISTER_MAX_BODY bytes) into a
 * new enabled client without client_id, secret or registration token. as_node applies the one shape a join token may
 * register (SPEC §6: authorization_code, confidential, every URI on the origin of the redirect URIs). *named is set
 * when client_name was given. Returns HUB_OAUTH_OK with *client the caller's (idp_client_free), or the failure
 * (HUB_OAUTH_TOO_LARGE, HUB_OAUTH_INVALID_CLIENT_METADATA or HUB_OAUTH_INVALID_REDIRECT_URI) recorded in *fail, its
 * description ("field: reason") static or in pool, with *client NULL. Nothing is stored. */
hub_oauth_err_t idp_register_parse(h2o_mem_pool_t *pool, const char *body, size_t len, int as_node, idp_client_t **client,
                                   int *named, hub_oauth_fail_t *fail);

#endif
