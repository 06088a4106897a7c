/* Joining the primary (SPEC §6 Registration): discovery, RFC 7591 registration with a join
 * token, and the node's stored credentials and endpoints. The blocking calls here run on the
 * federation worker thread only, never on an event loop. */
#ifndef FED_JOIN_H
#define FED_JOIN_H

#include "hub/config.h"
#include "hub/store.h"

/* What the node knows about the primary: an immutable snapshot; any field may be NULL while
 * unknown. Snapshots live until fed_join_destroy. */
typedef struct st_fed_reg_t {
    char *issuer;
    char *authorization_endpoint, *token_endpoint, *jwks_uri, *end_session_endpoint, *registration_endpoint;
    char *client_id, *client_secret; /* the node's own credentials at the primary */
    /* where the primary sends the browser after logout: <public_url>/auth/signed-out for a node
     * registered with it; NULL for static credentials and earlier registrations (<public_url>/) */
    char *post_logout_redirect_uri;
} fed_reg_t;

typedef struct st_fed_join_t fed_join_t;

/* Loads what an earlier run stored (endpoints, credentials) or the static credentials of
 * the configuration, so the node works at once even while the primary is down. Reads the
 * store only. Returns 0, or HUB_E_CONFIG when client_secret_file cannot be read. */
int fed_join_create(fed_join_t **out, const hub_config_t *cfg, hub_store_t *store);
void fed_join_destroy(fed_join_t *j);

/* The current snapshot (never NULL; fields may be NULL). Lock-free. */
const fed_reg_t *fed_join_current(fed_join_t *j);

/* Fetches the discovery document (blocking, bounded) and stores the endpoints. Returns 0,
 * HUB_E_NET / HUB_E_TIMEOUT while the primary is unreachable, HUB_E_DENIED when its issuer
 * is not server_url (logged), HUB_E_PARSE for a bad document. */
int fed_join_discover(fed_join_t *j);

/* Registers the node (blocking) when it has no credentials yet, with the join token from
 * join_token_file or HUB_JOIN_TOKEN, and stores them. 0 when credentials are known (also
 * when nothing had to be done); HUB_E_NET / HUB_E_TIMEOUT to retry later; HUB_E_DENIED when
 * the primary refused (logged; retrying with the same token cannot help); HUB_E_CONFIG when
 * there is no join token. */
int fed_join_register(fed_join_t *j);

/* Asks the primary's token endpoint whether the credentials are still valid (blocking): a
 * client_credentials request the node may not make, answered invalid_client only when the
 * registration was revoked or is unknown. Updates fed_join_revoked. 0 when known valid. */
int fed_join_probe(fed_join_t *j);

/* 1 when the primary said the registration was revoked or is unknown. */
int fed_join_revoked(fed_join_t *j);
/* Records what the token endpoint said (logs the change once). */
void fed_join_set_revoked(fed_join_t *j, int revoked);

/* The header line "Authorization: Basic ..." for reg's credentials (client_secret_basic,
 * RFC 6749 §2.3.1); malloc'ed, the caller frees (and should cleanse) it. */
char *fed_join_basic_auth(const fed_reg_t *reg);

/* Reads a secret file: the content without one trailing newline (malloc'ed), or NULL. */
char *fed_read_secret_file(const char *path);

#endif
