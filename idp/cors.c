/* CORS (SPEC §10): which origin may read what. The origin a preflight asks about is checked against the store's
 * index of client origins (idp/origins.h); an actual response is opened only to the origins of its own client. */
#include <string.h>
#include "hub/cors.h"
#include "hub/resp.h"
#include "idp/client_cache.h"
#include "idp/cors.h"
#include "idp/origins.h"

#define ALLOW_HEADERS "authorization, content-type"
#define MAX_AGE "600" /* seconds a browser may reuse a preflight's answer */

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {{IDP_CORS_GET, "GET"}, {IDP_CORS_HEAD, "HEAD"}, {IDP_CORS_POST, "POST"}};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* "GET, HEAD, POST" for the bits of mask, after "OPTIONS, " when with_options; in the request's pool. */
static const char *method_list(h2o_req_t *req, unsigned mask, int with_options)
{
    char *out = h2o_mem_alloc_pool(&req->pool, sizeof("OPTIONS, GET, HEAD, POST"));
    size_t o = 0;

    if (with_options) {
        memcpy(out, "OPTIONS", 7);
        o = 7;
    }
    for (size_t i = 0; i != NMETHODS; ++i) {
        if (!(mask & methods[i].bit))
            continue;
        if (o != 0) {
            memcpy(out + o, ", ", 2);
            o += 2;
        }
        memcpy(out + o, methods[i].name, strlen(methods[i].name));
        o += strlen(methods[i].name);
    }
    out[o] = '\0';
    return out;
}

/* 1 when some enabled client has a redirect URI on origin (one read of the index); 0 also when the store fails. */
static int origin_registered(idp_t *idp, const char *origin)
{
    hub_txn_t *txn = NULL;
    int known;

    if (hub_store_read_begin(idp->store, &txn) != 0)
        return 0;
    known = idp_origins_known(txn, origin);
    hub_store_read_end(txn);
    return known;
}

static void preflight(idp_t *idp, h2o_req_t *req, const idp_cors_t *ep)
{
    const char *origin = ep->any_origin ? "*" : hub_cors_origin(req);

    hub_resp_header(req, "allow", method_list(req, ep->methods, 1));
    if (origin != NULL && (ep->any_origin || origin_registered(idp, origin))) {
        if (!ep->any_origin)
            hub_resp_header(req, "access-control-allow-origin", origin);
        hub_resp_header(req, "access-control-allow-methods", method_list(req, ep->methods, 0));
        hub_resp_header(req, "access-control-allow-headers", ALLOW_HEADERS);
        hub_resp_header(req, "access-control-max-age", MAX_AGE);
    }
    /* 204 with no Access-Control-Allow-Origin for any other origin: the browser then refuses the actual request, and
     * the answer tells nothing about which origins are registered beyond what the header itself says */
    req->res.status = 204;
    req->res.reason = "No Content";
    hub_send_inline(req, "", 0);
}

int idp_cors_gate(idp_t *idp, h2o_req_t *req, const idp_cors_t *ep)
{
    char desc[64];

    if (ep->any_origin)
        hub_resp_header(req, "access-control-allow-origin", "*");
    else
        hub_resp_header(req, "vary", "Origin");
    if (hub_method_is(req, "OPTIONS")) {
        preflight(idp, req, ep);
        return 1;
    }
    for (size_t i = 0; i != NMETHODS; ++i)
        if ((ep->methods & methods[i].bit) && hub_method_is(req, methods[i].name))
            return 0;
    hub_resp_header(req, "allow", method_list(req, ep->methods, 1));
    snprintf(desc, sizeof(desc), "use %s", method_list(req, ep->methods, 0));
    hub_send_oauth_error(req, HUB_OAUTH_METHOD_NOT_ALLOWED, desc);
    return 1;
}

void idp_cors_allow(h2o_req_t *req, const idp_client_t *client)
{
    const char *origin;

    if (client == NULL || !client->enabled || (origin = hub_cors_origin(req)) == NULL)
        return;
    if (idp_client_has_origin(client, origin))
        hub_resp_header(req, "access-control-allow-origin", origin);
}

void idp_cors_allow_token(idp_t *idp, h2o_req_t *req, hub_txn_t *txn, const json_t *claims)
{
    const char *client_id = json_string_value(json_object_get(claims, "client_id"));
    const idp_client_t *client = NULL;

    if (client_id == NULL || hub_cors_origin(req) == NULL)
        return;
    if (idp_client_cache_get(idp->clients, txn, client_id, &client) == 0)
        idp_cors_allow(req, client);
    idp_client_release(client);
}
