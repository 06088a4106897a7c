/* CORS (SPEC §10): which origin may read what. The origin a preflight asks about is checked against the store's
 * index of client origins (idp/origins.h); an actual response is opened only to the origins of its own client. */
#include <string.h>
#include <stdlib.h>
#include "hub/cors.h"
#include "hub/park.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "idp/cors.h"
#include "idp/origins.h"

/* A preflight's question, read on the store's readers: does some enabled client have a redirect URI on origin (one
 * read of the index)? */
typedef struct st_origin_job_t {
    hub_park_t park;
    char *origin;
    int known;
    hub_cors_decided_fn decided;
    void *ctx; /* the router's, in the request's pool: used only while the request is there */
} origin_job_t;

static int origin_txn(hub_txn_t *txn, void *arg)
{
    origin_job_t *j = arg;

    j->known = idp_origins_known(txn, j->origin);
    return 0;
}

static void on_origin_read(void *arg, int ret)
{
    origin_job_t *j = arg;
    h2o_req_t *req = hub_park_resume(&j->park, ret);

    if (req != NULL)
        j->decided(j->ctx, req, ret == 0 && j->known); /* a store that cannot be read allows nothing */
    free(j->origin);
    free(j);
}

static void origin_check(void *data, h2o_req_t *req, const char *origin, hub_cors_decided_fn decided, void *ctx)
{
    origin_job_t *j = hub_xcalloc(1, sizeof(*j));

    j->origin = hub_strdup(origin);
    j->decided = decided;
    j->ctx = ctx;
    if (hub_park_read(&j->park, req, origin_txn, j, on_origin_read) != 0) {
        free(j->origin);
        free(j);
        decided(ctx, req, 0);
    }
}

const hub_cors_t idp_cors_clients = {0, origin_check};
const hub_cors_t idp_cors_public = {1, NULL};

void idp_cors_allow(h2o_req_t *req, const idp_client_t *client)
{
    const char *origin;

    if (client == NULL || !client->enabled || (origin = hub_cors_origin(req)) == NULL)
        return;
    if (idp_client_has_origin(client, origin))
        hub_resp_header(req, "access-control-allow-origin", origin);
}
