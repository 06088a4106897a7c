/* /auth/jwks-changed (fed_notify.h): anyone may say the primary's keys changed; all it does is ask for the shared,
 * rate-limited JWKS refresh, which drops the keys the primary no longer publishes. */
#include "federation/fed_notify.h"
#include "federation/fed_worker.h"
#include "hub/resp.h"

/* The answer is the same whether a refresh starts now or after the rate limit. */
static int on_jwks_changed(void *data, h2o_req_t *req)
{
    fed_t *fed = data;

    if (!fed_jwks_changed(fed->jwks)) /* kept for later: the worker sets its alarm by it */
        fed_worker_wake(fed);
    hub_resp_header(req, "cache-control", "no-store");
    hub_send_text(req, 204, "", 0);
    return 0;
}

void fed_notify_register(fed_t *fed)
{
    static const hub_route_t route = {"/auth/jwks-changed", NULL, HUB_POST, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL};
    hub_server_add_route(fed->server, &route, on_jwks_changed, fed, NULL);
}
