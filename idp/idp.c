/* The primary node: builds the shared idp context and registers every handler module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/cookie.h"
#include "hub/err.h"
#include "hub/log.h"
#include "idp/approve.h"
#include "idp/authorize.h"
#include "idp/backchannel.h"
#include "idp/client.h"
#include "idp/consoles.h"
#include "idp/csrf.h"
#include "idp/ctx.h"
#include "idp/discovery.h"
#include "idp/idp.h"
#include "idp/introspect.h"
#include "idp/login.h"
#include "idp/logout.h"
#include "idp/register.h"
#include "idp/revoke.h"
#include "idp/role.h"
#include "idp/token.h"
#include "idp/userinfo.h"
#include "hub/util.h"

/* Writes of requests waiting for the store's writer (group commit, hub/writer.h): a full queue answers 503. Each
 * batch takes up to HUB_STORE_BATCH_MAX, so this is a few batches, well under a second of commits. */
#define WRITE_QUEUE 2048
/* Reads of requests waiting for the store's readers, when it has any (hub/reader.h: a store whose reads are round
 * trips): a full queue answers 503. READERS is their number unless the store's configuration says otherwise. */
#define READ_QUEUE 4096
#define READERS 4

static int ensure_data_txn(hub_txn_t *txn, void *arg)
{
    int ret = idp_roles_add_builtin(txn);
    return ret != 0 ? ret : idp_client_prepare(txn);
}

int idp_create(idp_t **out, hub_server_t *server)
{
    idp_t *idp = hub_xcalloc(1, sizeof(*idp));
    int ret;

    idp->server = server;
    idp->cfg = hub_server_config(server);
    idp->store = hub_server_store(server);
    idp->fetcher = hub_server_fetcher(server);
    idp->secure_cookies = hub_server_is_tls(server) || strncmp(idp->cfg->node.public_url, "https://", 8) == 0;
    snprintf(idp->issuer, sizeof(idp->issuer), "%s", idp->cfg->node.public_url);
    /* after node.name (at most 64 characters, hub/config.c), or a cluster's after public_url: both fit
     * HUB_COOKIE_NAME_MAX, and public_url parsed when the configuration was read */
    if (hub_cookie_node_name(idp->session_cookie, sizeof(idp->session_cookie), idp->cfg, "session", idp->secure_cookies) != 0 ||
        hub_cookie_node_name(idp->csrf_cookie, sizeof(idp->csrf_cookie), idp->cfg, "csrf", idp->secure_cookies) != 0) {
        hub_log_error("node.public_url: cannot name the cookies after it");
        free(idp);
        return HUB_E_CONFIG;
    }

    if ((ret = hub_server_use_writer(server, WRITE_QUEUE)) != 0) {
        hub_log_error("cannot start the store's writer: %s", hub_strerror(ret));
        goto fail;
    }
    if ((ret = hub_server_use_readers(server, READERS, READ_QUEUE)) != 0) {
        hub_log_error("cannot start the store's readers: %s", hub_strerror(ret));
        goto fail;
    }
    /* hubd creates a missing data dir: a fresh one gets the two built-in roles and a key
     * (and any gets the client cache's generation counter and the index of client origins). */
    if ((ret = hub_store_write(idp->store, ensure_data_txn, NULL)) != 0) {
        hub_log_error("cannot prepare the data dir: %s", hub_strerror(ret));
        goto fail;
    }
    if ((ret = idp_csrf_key_load(idp->store, idp->csrf_key)) != 0) {
        hub_log_error("cannot read or create the CSRF key: %s", hub_strerror(ret));
        goto fail;
    }
    if ((ret = idp_keyring_open(&idp->keyring, idp->store, idp->cfg)) != 0) {
        hub_log_error("cannot load the signing keys: %s", hub_strerror(ret));
        goto fail;
    }

    idp->clients = idp_client_cache_create(IDP_CLIENT_CACHE_DEFAULT);
    /* signs with the keyring: started after it, stopped before it closes */
    if ((ret = idp_backchannel_start(idp, &idp->backchannel)) != 0) {
        hub_log_error("cannot start the back-channel logout thread: %s", hub_strerror(ret));
        idp_client_cache_destroy(idp->clients);
        idp_keyring_close(idp->keyring);
        goto fail;
    }

    /* each module registers its endpoints from the table of idp/endpoint.h */
    if ((ret = idp_login_register(idp)) != 0) {
        idp_backchannel_stop(idp->backchannel);
        idp_keyring_close(idp->keyring);
        idp_client_cache_destroy(idp->clients);
        goto fail;
    }
    idp_authorize_register(idp);
    idp_approve_register(idp);
    idp_token_register(idp);
    idp_introspect_register(idp);
    idp_revoke_register(idp);
    idp_userinfo_register(idp);
    idp_register_register(idp);
    idp_discovery_register(idp);
    idp_logout_register(idp);
    idp_consoles_register(idp); /* /admin/, /account/ and the stylesheet (SPEC §11) */
    *out = idp;
    return 0;
fail:
    OPENSSL_cleanse(idp->csrf_key, sizeof(idp->csrf_key));
    free(idp);
    return ret;
}

void idp_destroy(idp_t *idp)
{
    if (idp == NULL)
        return;
    idp_backchannel_stop(idp->backchannel);
    idp_login_dispose(idp);
    idp_keyring_close(idp->keyring);
    idp_client_cache_destroy(idp->clients);
    OPENSSL_cleanse(idp->csrf_key, sizeof(idp->csrf_key));
    free(idp);
}
