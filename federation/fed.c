/* The secondary node (fed.h): builds the shared context, creates each module of federation/ and registers the routes
 * of SPEC §6, as idp/idp.c does for the primary. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "federation/fed.h"
#include "federation/fed_ctx.h"
#include "federation/fed_login.h"
#include "federation/fed_logout.h"
#include "federation/fed_me.h"
#include "federation/fed_notify.h"
#include "federation/fed_refresh.h"
#include "federation/fed_routes.h"
#include "federation/fed_worker.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/secret_key.h"
#include "hub/util.h"

/* Registers every route (the first registered prefix wins: /auth/ first, then the configured routes, "/" last), each
 * module with its keys derived from the node key (created on the first start). */
static int register_routes(fed_t *fed)
{
    uint8_t key[HUB_KEY_LEN];
    int ret;

    if ((ret = hub_store_secret_key(fed->store, HUB_T_FED, FED_NODE_KEY, key)) != 0) {
        hub_log_error("federation: cannot read or create the node key: %s", hub_strerror(ret));
        return ret;
    }
    fed_notify_register(fed);
    if ((ret = fed_login_register(fed, key)) == 0 && (ret = fed_logout_register(fed, key)) == 0) {
        fed_me_register(fed);
        if ((ret = fed_routes_register(fed)) == 0)
            fed_logout_register_home(fed);
    }
    OPENSSL_cleanse(key, sizeof(key));
    return ret;
}

/* The parts every module shares (fed_ctx.h). */
static int create_context(fed_t *fed, hub_server_t *server)
{
    const hub_config_t *cfg = hub_server_config(server);
    int ret;

    fed->server = server;
    fed->cfg = cfg;
    fed->store = hub_server_store(server);
    fed->fetcher = hub_server_fetcher(server);
    fed->park = fed_park_create(cfg->node.threads > 0 ? cfg->node.threads : 1); /* as hub_server_run */
    if (cfg->secondary.server_url == NULL || fed->store == NULL) {
        hub_log_error("secondary.server_url: required on a secondary");
        return HUB_E_CONFIG;
    }
    fed->secure_cookies = hub_server_is_tls(server) || strncmp(cfg->node.public_url, "https://", 8) == 0;
    /* the session cookie (Path=/) carries __Host- under HTTPS, as the primary's do: a browser then takes it only from
     * this origin, so a sibling host cannot plant a session here (fed_login.c names the pending sign-ins' alike) */
    if (hub_cookie_name(fed->session_cookie, sizeof(fed->session_cookie), cfg->node.name, "session", fed->secure_cookies) != 0) {
        hub_log_error("node.name: too long for a cookie name");
        return HUB_E_CONFIG;
    }
    if ((ret = fed_join_create(&fed->join, cfg, fed->store)) != 0)
        return ret;
    fed->jwks = fed_jwks_create(fed_worker_wake, fed);
    fed->verify = fed_verify_create(fed->jwks, cfg->secondary.server_url, cfg->secondary.accept_audiences,
                                    cfg->secondary.naccept_audiences, cfg->secondary.clock_skew, 0);
    return 0;
}

int fed_create(fed_t **out, hub_server_t *server)
{
    fed_t *fed = hub_xcalloc(1, sizeof(*fed));
    int ret;

    if ((ret = create_context(fed, server)) != 0 || (ret = fed_worker_create(fed)) != 0)
        goto fail;
    fed_refresh_create(fed);
    if ((ret = register_routes(fed)) != 0 || (ret = fed_worker_start(fed)) != 0)
        goto fail;
    *out = fed;
    return 0;
fail:
    fed_destroy(fed);
    return ret;
}

void fed_destroy(fed_t *fed)
{
    if (fed == NULL)
        return;
    fed_worker_destroy(fed); /* first: it may still call the primary and end a JWKS round */
    fed_login_dispose(fed);
    fed_logout_dispose(fed);
    fed_refresh_destroy(fed);
    fed_routes_dispose(fed);
    fed_verify_destroy(fed->verify);
    fed_jwks_destroy(fed->jwks);
    fed_join_destroy(fed->join);
    fed_park_destroy(fed->park); /* the loops are gone, and every parked request with them */
    free(fed);
}
