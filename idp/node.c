/* Node records (HUB_T_NODES, key = the node's client_id), and what revoking a node or deleting its client does. */
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/client.h"
#include "idp/grants.h"
#include "idp/node.h"
#include "idp/record.h"

json_t *idp_node_to_json(const idp_node_t *n)
{
    json_t *o = json_object();
    idp_record_set_str(o, "id", n->id);
    idp_record_set_str(o, "name", n->name);
    idp_record_set_str(o, "public_url", n->public_url);
    idp_record_set_uint(o, "registered_at", n->registered_at);
    json_object_set_new(o, "revoked", json_boolean(n->revoked));
    return o;
}

static int node_from_json(const json_t *o, idp_node_t **out)
{
    idp_node_t *n;

    *out = NULL;
    if (!json_is_string(json_object_get(o, "id")))
        return HUB_E_PARSE;
    n = hub_xcalloc(1, sizeof(*n));
    n->id = hub_json_strdup(o, "id");
    n->name = hub_json_strdup(o, "name");
    n->public_url = hub_json_strdup(o, "public_url");
    n->registered_at = hub_json_uint(o, "registered_at");
    n->revoked = idp_record_bool(o, "revoked");
    *out = n;
    return 0;
}

void idp_node_free(idp_node_t *n)
{
    if (n == NULL)
        return;
    free(n->id);
    free(n->name);
    free(n->public_url);
    free(n);
}

int idp_node_put(hub_txn_t *txn, const idp_node_t *node)
{
    json_t *o;
    int ret;

    if (node->id == NULL || node->id[0] == '\0' || !idp_record_name_ok(node->name))
        return HUB_E_INVAL;
    o = idp_node_to_json(node);
    ret = hub_store_put_json(txn, HUB_T_NODES, node->id, o, 0, 0);
    json_decref(o);
    return ret;
}

int idp_node_get(hub_txn_t *txn, const char *id, idp_node_t **out)
{
    json_t *o = NULL;
    int ret;

    *out = NULL;
    if (id == NULL || id[0] == '\0' || strlen(id) > IDP_CLIENT_ID_MAX)
        return HUB_E_NOTFOUND;
    if ((ret = hub_store_get_json(txn, HUB_T_NODES, id, &o)) != 0)
        return ret;
    ret = node_from_json(o, out);
    json_decref(o);
    return ret;
}

typedef struct {
    int (*cb)(void *arg, const idp_node_t *node);
    void *arg;
} node_each_t;

static int node_each_cb(void *_arg, hub_val_t key, hub_val_t val)
{
    node_each_t *a = _arg;
    json_t *o = json_loadb(val.data, val.len, 0, NULL);
    idp_node_t *n = NULL;
    int ret = 0;

    if (o != NULL && node_from_json(o, &n) == 0)
        ret = a->cb(a->arg, n);
    idp_node_free(n);
    json_decref(o);
    return ret;
}

int idp_node_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_node_t *node), void *arg)
{
    node_each_t a = {cb, arg};
    return hub_store_each(txn, HUB_T_NODES, NULL, 0, node_each_cb, &a);
}

int idp_node_revoke(hub_txn_t *txn, const char *id)
{
    idp_node_t *node = NULL;
    int ret;

    if ((ret = idp_node_get(txn, id, &node)) != 0)
        return ret;
    node->revoked = 1;
    if ((ret = idp_node_put(txn, node)) == 0 && (ret = idp_client_disable(txn, id)) == HUB_E_NOTFOUND)
        ret = 0; /* its client is gone already */
    if (ret == 0)
        ret = idp_family_revoke_client(txn, id);
    idp_node_free(node);
    return ret;
}

int idp_client_remove(hub_txn_t *txn, const char *client_id)
{
    idp_node_t *node = NULL;
    int ret;

    if ((ret = idp_client_del(txn, client_id)) != 0)
        return ret;
    if (idp_node_get(txn, client_id, &node) == 0 && !node->revoked) {
        node->revoked = 1;
        ret = idp_node_put(txn, node);
    }
    idp_node_free(node);
    return ret;
}
