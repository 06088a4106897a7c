/* CORS (SPEC §10): which origin may read what. The origin a preflight asks about is checked against the store's
 * index of client origins (idp/origins.h); an actual response is opened only to the origins of its own client. */
#include <string.h>
#include "hub/cors.h"
#include "hub/resp.h"
#include "idp/cors.h"
#include "idp/origins.h"

/* 1 when some enabled client has a redirect URI on origin (one read of the index); 0 also when the store fails. */
static int origin_registered(void *data, const char *origin)
{
    idp_t *idp = data;
    hub_txn_t *txn = NULL;
    int known;

    if (hub_store_read_begin(idp->store, &txn) != 0)
        return 0;
    known = idp_origins_known(txn, origin);
    hub_store_read_end(txn);
    return known;
}

const hub_cors_t idp_cors_clients = {0, origin_registered};
const hub_cors_t idp_cors_public = {1, NULL};

void idp_cors_allow(h2o_req_t *req, const idp_client_t *client)
{
    const char *origin;

    if (client == NULL || !client->enabled || (origin = hub_cors_origin(req)) == NULL)
        return;
    if (idp_client_has_origin(client, origin))
        hub_resp_header(req, "access-control-allow-origin", origin);
}
