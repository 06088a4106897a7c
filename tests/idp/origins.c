/* Tests idp/origins.c (through idp/client.c, which keeps the index): which origins a client's redirect URIs give, and the store's
 * index of them following every kind of client write (create, update, disable, node revoke, delete, shared origins), its one-time
 * build for an older data dir, very long origins, and many clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store.h"
#include "hub/url.h"
#include "idp/client.h"
#include "idp/node.h"
#include "idp/origins.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static idp_client_t *new_client(const char *id, const char *uris, int enabled)
{
    idp_client_t *c = calloc(1, sizeof(*c));

    c->client_id = id != NULL ? strdup(id) : NULL;
    c->app_name = strdup("spa");
    c->enabled = enabled;
    c->created_at = 1;
    c->grant_type = IDP_GRANT_AUTHORIZATION_CODE;
    c->response_type = IDP_RESPONSE_CODE;
    c->auth_method = IDP_AUTH_NONE;
    idp_strv_split(&c->redirect_uris, uris, 1);
    idp_strv_split(&c->scopes, "openid profile", 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    return c;
}

static int put_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_put(txn, arg);
}

static int put_client(const char *id, const char *uris, int enabled)
{
    idp_client_t *c = new_client(id, uris, enabled);
    int ret = hub_store_write(store, put_txn, c);
    idp_client_free(c);
    return ret;
}

static int del_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_del(txn, arg);
}

static int revoke_txn(hub_txn_t *txn, void *arg)
{
    idp_node_t node = {.id = arg, .name = "node", .registered_at = 1};
    int ret = idp_node_put(txn, &node);
    return ret != 0 ? ret : idp_node_revoke(txn, arg);
}

static int prepare_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_prepare(txn);
}

static int known(const char *origin)
{
    hub_txn_t *txn = NULL;
    int k;
    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    k = idp_origins_known(txn, origin);
    hub_store_read_end(txn);
    return k;
}

static int count_cb(void *arg, hub_val_t key, hub_val_t val)
{
    ++*(size_t *)arg;
    return 0;
}

/* The number of index entries. */
static size_t entries(void)
{
    hub_txn_t *txn = NULL;
    size_t n = 0;
    if (hub_store_read_begin(store, &txn) == 0) {
        hub_store_each(txn, HUB_T_CLIENT_ORIGINS, NULL, 0, count_cb, &n);
        hub_store_read_end(txn);
    }
    return n;
}

typedef struct {
    char *keys[64];
    size_t lens[64], n;
} keys_t;

static int collect_cb(void *arg, hub_val_t key, hub_val_t val)
{
    keys_t *k = arg;
    if (k->n == 64)
        return 1;
    k->keys[k->n] = malloc(key.len);
    memcpy(k->keys[k->n], key.data, key.len);
    k->lens[k->n++] = key.len;
    return 0;
}

static int wipe_txn(hub_txn_t *txn, void *arg)
{
    keys_t *k = arg;
    for (size_t i = 0; i != k->n; ++i)
        if (hub_store_del(txn, HUB_T_CLIENT_ORIGINS, k->keys[i], k->lens[i]) != 0)
            return HUB_E_STORE;
    return 0;
}

/* Empties the index, as in a data dir written before it existed. */
static void wipe(void)
{
    keys_t k = {.n = 0};
    hub_txn_t *txn = NULL;
    CHECK(hub_store_read_begin(store, &txn) == 0);
    hub_store_each(txn, HUB_T_CLIENT_ORIGINS, NULL, 0, collect_cb, &k);
    hub_store_read_end(txn);
    CHECK(k.n < 64);
    CHECK(hub_store_write(store, wipe_txn, &k) == 0);
    for (size_t i = 0; i != k.n; ++i)
        free(k.keys[i]);
    CHECK(entries() == 0);
}

/* What origin a redirect URI gives: exactly what a browser at that address sends, and nothing near it. */
static void test_has_origin(void)
{
    idp_client_t *c = new_client("c-has",
                                 "HTTP://App.Example:80/cb https://spa.example:8443/x?y=1 http://127.0.0.1:5555/cb "
                                 "http://[0:0::1]:9/ http://0x7f.0.0.2/cb",
                                 1);
    static const char *const yes[] = {"http://app.example", "https://spa.example:8443", "http://127.0.0.1:5555", "http://[::1]:9",
                                      "http://127.0.0.2"};
    static const char *const no[] = {"http://App.Example",
                                     "HTTP://app.example",
                                     "http://app.example:80",
                                     "http://app.example/",
                                     "http://app.example/cb",
                                     "https://app.example",
                                     "https://spa.example",
                                     "https://spa.example:443",
                                     "http://spa.example:8443",
                                     "http://127.0.0.1:5556",
                                     "http://127.0.0.1",
                                     "http://127.0.0.1:55555",
                                     "http://localhost:5555",
                                     "http://[::1]",
                                     "http://[0:0::1]:9",
                                     "http://0x7f.0.0.2",
                                     "null",
                                     "",
                                     "*",
                                     "http://app.example.evil",
                                     "http://evil.app.example",
                                     "http://app.example.:80"};

    for (size_t i = 0; i != sizeof(yes) / sizeof(yes[0]); ++i)
        CHECK(idp_client_has_origin(c, yes[i]));
    for (size_t i = 0; i != sizeof(no) / sizeof(no[0]); ++i) {
        if (idp_client_has_origin(c, no[i]))
            fprintf(stderr, "origin %s matched\n", no[i]);
        CHECK(!idp_client_has_origin(c, no[i]));
    }
    idp_client_free(c);
}

/* Every write path keeps the index exact: what is indexed is what the enabled clients' redirect URIs give. */
static void test_index_follows_writes(void)
{
    CHECK(put_client("c-a", "http://x.example/cb https://y.example/cb", 1) == 0);
    CHECK(put_client("c-b", "https://y.example/other http://z.example:8080/", 1) == 0);
    CHECK(known("http://x.example") == 1 && known("https://y.example") == 1 && known("http://z.example:8080") == 1);
    CHECK(known("http://w.example") == 0 && known("http://z.example") == 0 && known("https://x.example") == 0);
    CHECK(entries() == 4);

    /* an update moves c-a's entries; y stays known through c-b */
    CHECK(put_client("c-a", "http://w.example/cb", 1) == 0);
    CHECK(known("http://x.example") == 0 && known("https://y.example") == 1 && known("http://w.example") == 1);
    CHECK(entries() == 3);

    /* deleting c-b takes its origins, y included, now that no one else has it */
    CHECK(hub_store_write(store, del_txn, "c-b") == 0);
    CHECK(known("https://y.example") == 0 && known("http://z.example:8080") == 0 && known("http://w.example") == 1);
    CHECK(hub_store_write(store, del_txn, "c-b") == HUB_E_NOTFOUND);
    CHECK(entries() == 1);

    /* two URIs of one origin in one client: one entry, gone with the client's last */
    CHECK(put_client("c-c", "http://v.example/a http://v.example/b", 1) == 0);
    CHECK(known("http://v.example") == 1 && entries() == 2);
    CHECK(put_client("c-c", "http://v.example/a", 1) == 0);
    CHECK(known("http://v.example") == 1 && entries() == 2);

    /* disabled, enabled again */
    CHECK(put_client("c-a", "http://w.example/cb", 0) == 0);
    CHECK(known("http://w.example") == 0 && entries() == 1);
    CHECK(put_client("c-a", "http://w.example/cb", 1) == 0);
    CHECK(known("http://w.example") == 1);

    /* a revoked node's client is disabled through the same path */
    CHECK(hub_store_write(store, revoke_txn, "c-a") == 0);
    CHECK(known("http://w.example") == 0 && known("http://v.example") == 1);

    /* a failed write changes nothing: a client that does not validate */
    CHECK(put_client("c-c", "not-a-uri", 1) == HUB_E_INVAL);
    CHECK(known("http://v.example") == 1);
    CHECK(hub_store_write(store, del_txn, "c-c") == 0);
    CHECK(entries() == 0);
}

/* A data dir whose clients were written before the index existed gets it once, when hubd prepares the dir. */
static int legacy_txn(hub_txn_t *txn, void *arg)
{
    json_t *o = json_pack("{s:s,s:s,s:b,s:[s],s:[s,s],s:s,s:s,s:s}", "client_id", "legacy", "app_name", "legacy", "enabled", 1,
                          "scopes", "openid", "redirect_uris", "http://legacy.example:3000/cb", "https://Legacy.Example/cb",
                          "grant_type", "authorization_code", "response_type", "code", "auth_method", "none");
    int ret = hub_store_put_json(txn, HUB_T_CLIENTS, "legacy", o, 0, 0);
    json_decref(o);
    return ret;
}

static void test_prepare(void)
{
    CHECK(put_client("c-new", "http://new.example/cb", 1) == 0);
    CHECK(hub_store_write(store, legacy_txn, NULL) == 0);
    wipe();
    CHECK(known("http://legacy.example:3000") == 0 && known("http://new.example") == 0);
    CHECK(hub_store_write(store, prepare_txn, NULL) == 0);
    CHECK(known("http://legacy.example:3000") == 1 && known("https://legacy.example") == 1 && known("http://new.example") == 1);
    CHECK(entries() == 3);
    /* once: a second start does not scan again */
    wipe();
    CHECK(hub_store_write(store, prepare_txn, NULL) == 0);
    CHECK(known("http://new.example") == 0);
    /* from then on the writes keep it */
    CHECK(put_client("c-new", "http://new.example/cb", 1) == 0);
    CHECK(known("http://new.example") == 1);
    CHECK(hub_store_write(store, del_txn, "c-new") == 0 && hub_store_write(store, del_txn, "legacy") == 0);
    CHECK(entries() == 0);
}

/* An origin far longer than a store key (LMDB: 511 bytes) is indexed by its hash. */
static void test_long_origin(void)
{
    size_t hostlen = HUB_URL_MAX - strlen("http://") - strlen("/cb") - 8;
    char *uri = malloc(HUB_URL_MAX + 1), *origin = malloc(HUB_URL_MAX + 1);

    memcpy(uri, "http://", 7);
    memset(uri + 7, 'h', hostlen);
    memcpy(uri + 7 + hostlen, "/cb", 4);
    memcpy(origin, uri, 7 + hostlen);
    origin[7 + hostlen] = '\0';
    CHECK(put_client("c-long", uri, 1) == 0);
    CHECK(known(origin) == 1);
    origin[7 + hostlen - 1] = '\0';
    CHECK(known(origin) == 0);
    CHECK(hub_store_write(store, del_txn, "c-long") == 0);
    CHECK(entries() == 0);
    free(uri);
    free(origin);
}

#define MANY 2000

static int many_txn(hub_txn_t *txn, void *arg)
{
    char id[32], uri[64];
    int ret = 0;
    for (int i = 0; i != MANY && ret == 0; ++i) {
        snprintf(id, sizeof(id), "m-%d", i);
        snprintf(uri, sizeof(uri), "http://app%d.example:%d/cb", i, 1000 + i);
        idp_client_t *c = new_client(id, uri, 1);
        ret = idp_client_put(txn, c);
        idp_client_free(c);
    }
    return ret;
}

/* Many clients: each origin is found, and none that differs only in a digit. */
static void test_many(void)
{
    char origin[64];
    CHECK(hub_store_write(store, many_txn, NULL) == 0);
    CHECK(entries() == MANY);
    for (int i = 0; i < MANY; i += 97) {
        snprintf(origin, sizeof(origin), "http://app%d.example:%d", i, 1000 + i);
        CHECK(known(origin) == 1);
        snprintf(origin, sizeof(origin), "http://app%d.example:%d", i, 1001 + i);
        CHECK(known(origin) == 0);
    }
}

int main(void)
{
    char *dir = test_tmpdir("idp-origins");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    test_has_origin();
    test_index_follows_writes();
    test_prepare();
    test_long_origin();
    test_many();

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/origins");
}
