/* Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS: what a client or resource server needs to find and trust us. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/fetch.h"
#include "hub/log.h"
#include "hub/form.h"
#include "hub/resp.h"
#include "hub/url.h"
#include "idp/endpoint.h"
#include "idp/discovery.h"
#include "idp/node.h"
#include "hub/util.h"

#define DISCOVERY_MAX_AGE 300
#define JWKS_CHANGED_PATH "/auth/jwks-changed" /* on a node (SPEC §6) */
#define NOTIFY_MAX_NODES 4096
#define NOTIFY_TIMEOUT_MS 5000
#define NOTIFY_RETRIES 5
#define NOTIFY_RETRY_DELAY_MS 500

static json_t *strings(const char *const *v, size_t n)
{
    json_t *arr = json_array();
    size_t i;
    for (i = 0; i != n; ++i)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}
#define STRINGS(...) strings((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

/* The URL of every endpoint the table gives a discovery key, in the table's order. */
static void endpoints(json_t *doc, const idp_t *idp)
{
    char url[1024];

    for (size_t i = 0; i != IDP_EP__COUNT; ++i) {
        if (idp_endpoints[i].discovery == NULL)
            continue;
        snprintf(url, sizeof(url), "%s%s", idp->issuer, idp_endpoints[i].route.path);
        json_object_set_new(doc, idp_endpoints[i].discovery, json_string(url));
    }
}

/* The same metadata serves both documents (RFC 8414 §3 allows the OIDC fields there). */
static json_t *metadata(const idp_t *idp)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "issuer", json_string(idp->issuer));
    endpoints(doc, idp);
    json_object_set_new(doc, "response_types_supported", STRINGS("code", "token", "id_token", "id_token token"));
    json_object_set_new(doc, "response_modes_supported", STRINGS("query", "fragment"));
    json_object_set_new(doc, "grant_types_supported",
                        STRINGS("authorization_code", "implicit", "refresh_token", "client_credentials"));
    json_object_set_new(doc, "scopes_supported", STRINGS("openid", "profile", "email", "roles"));
    json_object_set_new(doc, "claims_supported",
                        STRINGS("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "name", "given_name",
                                "family_name", "preferred_username", "picture", "email", "email_verified", "roles"));
    json_object_set_new(doc, "code_challenge_methods_supported", STRINGS("S256"));
    const char *const auth_methods[] = {"client_secret_basic", "client_secret_post", "none"};
    json_object_set_new(doc, "token_endpoint_auth_methods_supported", strings(auth_methods, 3));
    json_object_set_new(doc, "introspection_endpoint_auth_methods_supported", strings(auth_methods, 2));
    json_object_set_new(doc, "revocation_endpoint_auth_methods_supported", strings(auth_methods, 3));
    const char *alg = hub_alg_name(idp->cfg->primary.signing_alg);
    json_object_set_new(doc, "id_token_signing_alg_values_supported", strings(&alg, 1));
    json_object_set_new(doc, "subject_types_supported", STRINGS("public"));
    json_object_set_new(doc, "prompt_values_supported", STRINGS("none", "login", "consent"));
    json_object_set_new(doc, "backchannel_logout_supported", json_true());
    /* authorization responses carry iss (RFC 9207) */
    json_object_set_new(doc, "authorization_response_iss_parameter_supported", json_true());
    json_object_set_new(doc, "backchannel_logout_session_supported", json_true());
    json_object_set_new(doc, "frontchannel_logout_supported", json_false());
    json_object_set_new(doc, "request_parameter_supported", json_false());
    json_object_set_new(doc, "request_uri_parameter_supported", json_false());
    json_object_set_new(doc, "claims_parameter_supported", json_false());
    return doc;
}

static int on_discovery(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    char cc[64];
    snprintf(cc, sizeof(cc), "public, max-age=%d", DISCOVERY_MAX_AGE);
    hub_resp_header(req, "cache-control", cc);
    hub_send_json(req, 200, metadata(idp), 0);
    return 0;
}

static int on_jwks(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    uint64_t max_age = idp->cfg->primary.key_publish_ahead / 2;
    const char *jwks;
    char cc[64];
    size_t len;

    /* caches must refresh well before a next key starts signing */
    if (max_age > 3600)
        max_age = 3600;
    snprintf(cc, sizeof(cc), "public, max-age=%llu", (unsigned long long)max_age);
    /* a next key's publish_ahead counts from the first GET that delivers it (a HEAD delivers no key) */
    jwks = hub_method_is(req, "GET") ? idp_keyring_jwks_serve(idp->keyring, &len) : idp_keyring_jwks(idp->keyring, &len);
    if (jwks == NULL) { /* a node started while its database was away has not loaded its keys yet */
        hub_route_send_unavailable(req, HUB_STYLE_OAUTH);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    hub_resp_header(req, "cache-control", cc);
    hub_send_inline(req, jwks, len); /* copies: the snapshot may be replaced after this request */
    return 0;
}

/* ---- telling the nodes that the JWKS changed ---- */

typedef struct st_notify_list_t {
    hub_txn_t *txn;
    char *urls[NOTIFY_MAX_NODES];
    size_t n;
} notify_list_t;

/* The jwks-changed URL of a live node: on the origin of its client's (first) redirect URI, never a forbidden address. */
static int node_url_cb(void *arg, const idp_node_t *node)
{
    notify_list_t *l = arg;
    idp_client_t *c = NULL;
    hub_url_t u;

    if (node->revoked || l->n == NOTIFY_MAX_NODES || idp_client_get(l->txn, node->id, &c) != 0)
        return 0;
    if (c->enabled && c->redirect_uris.n != 0 && hub_url_parse(c->redirect_uris.v[0], &u, NULL) == 0 &&
        hub_url_forbidden_host(&u) == NULL) {
        size_t olen = (size_t)(u.rest - c->redirect_uris.v[0]), len = olen + sizeof(JWKS_CHANGED_PATH);
        char *url = hub_xmalloc(len);
        snprintf(url, len, "%.*s%s", (int)olen, c->redirect_uris.v[0], JWKS_CHANGED_PATH);
        l->urls[l->n++] = url;
    }
    idp_client_free(c);
    return 0;
}

/* Runs on the keyring's thread after a key was revoked: one POST per registered node, fire-and-forget through hub/fetch
 * with retries (the node then refreshes its JWKS and drops the revoked key; SPEC §4, §6). */
static void notify_nodes(void *arg)
{
    idp_t *idp = arg;
    notify_list_t *l = hub_xcalloc(1, sizeof(*l));
    size_t queued = 0;

    if (hub_store_read_begin(idp->store, &l->txn) == 0) {
        idp_node_each(l->txn, node_url_cb, l);
        hub_store_read_end(l->txn);
    }
    for (size_t i = 0; i != l->n; ++i) {
        hub_fetch_req_t fr = {.method = "POST",
                              .url = l->urls[i],
                              .timeout_ms = NOTIFY_TIMEOUT_MS,
                              .retries = NOTIFY_RETRIES,
                              .retry_delay_ms = NOTIFY_RETRY_DELAY_MS,
                              .public_only = 1};
        if (idp->fetcher != NULL && hub_fetch_start(idp->fetcher, NULL, &fr, NULL, NULL) == 0)
            ++queued;
        else
            hub_log_error("signing key revoked: cannot queue the notice to %s", l->urls[i]);
        free(l->urls[i]);
    }
    hub_log_info("signing key revoked: told %zu registered node(s) that the JWKS changed", queued);
    free(l);
}

void idp_discovery_register(idp_t *idp)
{
    idp_keyring_on_revoke(idp->keyring, notify_nodes, idp);
    idp_endpoint_route(idp, IDP_EP_OPENID_CONFIGURATION, on_discovery);
    idp_endpoint_route(idp, IDP_EP_AUTHORIZATION_SERVER, on_discovery);
    idp_endpoint_route(idp, IDP_EP_JWKS, on_jwks);
}
