/* The primary's endpoint table (idp/endpoint.h) and the registration of one endpoint. */
#include "idp/cors.h"
#include "idp/endpoint.h"

const idp_endpoint_t idp_endpoints[IDP_EP__COUNT] = {
#define X(name, path, alias, key, methods, match, style, cors, needs)                                                              \
    [IDP_EP_##name] = {{path, alias, methods, match, style, cors, needs}, key},
    IDP_ENDPOINTS(X)
#undef X
};

void idp_endpoint_route(idp_t *idp, idp_endpoint_id_t id, hub_route_cb cb)
{
    hub_server_add_route(idp->server, &idp_endpoints[id].route, cb, idp, NULL);
}
