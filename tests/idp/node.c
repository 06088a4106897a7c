/* Tests idp/node.c: node records, revoking a node (its client disabled, its tokens revoked) and deleting a node's
 * client (idp_client_remove revokes the node). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "idp/client.h"
#include "idp/grants.h"
#include "idp/node.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

static char *xstrdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static idp_client_t *new_client(const char *uris, const char *scopes)
{
    idp_client_t *c = calloc(1, sizeof(*c));
    c->app_name = xstrdup("app");
    c->enabled = 1;
    idp_strv_split(&c->redirect_uris, uris, 1);
    idp_strv_split(&c->scopes, scopes, 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    return c;
}

static char node_family[33];

static int node_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = new_client("http://127.0.0.1:9/auth/callback", "openid");
    idp_node_t *n = NULL;

    CHECK(idp_client_put(txn, c) == 0);
    idp_node_t node = {c->client_id, "sec1", "http://127.0.0.1:9", hub_now(), 0};
    CHECK(idp_node_put(txn, &node) == 0);
    CHECK(idp_family_create(txn, c->client_id, "user-sub", NULL, NULL, hub_now() + 3600, node_family) == 0);
    CHECK(idp_node_get(txn, c->client_id, &n) == 0 && n != NULL && strcmp(n->name, "sec1") == 0 && !n->revoked &&
          strcmp(n->public_url, "http://127.0.0.1:9") == 0);
    idp_node_free(n);
    snprintf(arg, 64, "%s", c->client_id);
    idp_client_free(c);
    CHECK(idp_node_get(txn, "nope", &n) == HUB_E_NOTFOUND);
    CHECK(idp_node_revoke(txn, "nope") == HUB_E_NOTFOUND);
    return 0;
}

static int count_node(void *arg, const idp_node_t *n)
{
    ++*(int *)arg;
    return 0;
}

static int node_revoke_txn(hub_txn_t *txn, void *arg)
{
    idp_node_t *n = NULL;
    idp_client_t *c = NULL;
    idp_family_t *f = NULL;
    int count = 0;

    CHECK(idp_node_revoke(txn, arg) == 0);
    CHECK(idp_node_get(txn, arg, &n) == 0 && n != NULL && n->revoked);
    idp_node_free(n);
    CHECK(idp_client_get(txn, arg, &c) == 0 && c != NULL && !c->enabled);
    idp_client_free(c);
    CHECK(idp_family_get(txn, node_family, &f) == 0 && f != NULL && f->revoked);
    idp_family_free(f);
    CHECK(idp_node_each(txn, count_node, &count) == 0 && count == 1);
    return 0;
}

/* Deleting a node's client the operator's way revokes the node and what was issued to the client; the client module's
 * own deletion knows nothing of nodes. */
static int client_remove_txn(hub_txn_t *txn, void *arg)
{
    idp_node_t *n = NULL;
    idp_family_t *f = NULL;
    idp_client_t *c = new_client("https://plain.example/cb", "openid"), *gone = NULL;
    idp_node_t fake;

    CHECK(idp_client_remove(txn, arg) == 0);
    CHECK(idp_node_get(txn, arg, &n) == 0 && n != NULL && n->revoked);
    idp_node_free(n);
    CHECK(idp_client_get(txn, arg, &gone) == HUB_E_NOTFOUND && gone == NULL);
    CHECK(idp_family_get(txn, node_family, &f) == 0 && f != NULL && f->revoked);
    idp_family_free(f);
    CHECK(idp_client_remove(txn, arg) == HUB_E_NOTFOUND);
    CHECK(idp_client_remove(txn, "nope") == HUB_E_NOTFOUND);

    /* a client that is no node's goes as it would with idp_client_del */
    CHECK(idp_client_put(txn, c) == 0);
    CHECK(idp_client_remove(txn, c->client_id) == 0);
    /* idp_client_del alone leaves a node record as it is (the rule lives here, in idp_client_remove) */
    fake = (idp_node_t){c->client_id, "ghost", NULL, 1, 0};
    CHECK(idp_client_put(txn, c) == 0 && idp_node_put(txn, &fake) == 0);
    CHECK(idp_client_del(txn, c->client_id) == 0);
    CHECK(idp_node_get(txn, c->client_id, &n) == 0 && n != NULL && !n->revoked);
    idp_node_free(n);
    idp_client_free(c);
    return 0;
}

static void test_node_json(void)
{
    idp_node_t n = {"node-id", NULL, "http://127.0.0.1:9", 42, 1};
    json_t *j = idp_node_to_json(&n);
    char *text = json_dumps(j, JSON_COMPACT);

    CHECK(
        text != NULL &&
        strcmp(text,
               "{\"id\":\"node-id\",\"name\":null,\"public_url\":\"http://127.0.0.1:9\",\"registered_at\":42,\"revoked\":true}") ==
            0);
    free(text);
    json_decref(j);
}

int main(void)
{
    char *dir = test_tmpdir("idp-node");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        test_tmpdir_remove(dir);
        return 1;
    }
    char node_id[64] = "", other_id[64] = "";
    CHECK(in_write(node_txn, node_id) == 0);
    CHECK(in_write(node_revoke_txn, node_id) == 0);
    CHECK(in_write(node_txn, other_id) == 0);
    CHECK(in_write(client_remove_txn, other_id) == 0);
    test_node_json();

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/node");
}
