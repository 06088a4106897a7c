/* The index of the registered clients' browser origins: key = base64url(SHA-256(origin)) "\n" client_id (a fixed-size
 * prefix whatever the origin's length, within LMDB's key limit), value = the origin itself. */
#include <string.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/url.h"
#include "idp/origins.h"
#include "idp/record.h"

#define ORIGINS_MARK "idx:client_origins" /* in META: the index covers every client */
#define PREFIX_LEN HUB_B64URL_LEN(HUB_SHA256_LEN)
#define MAX_KEY (PREFIX_LEN + 1 + IDP_CLIENT_ID_MAX)

/* The key prefix of origin: its hash and the separator; returns the prefix length. */
static size_t origin_prefix(const char *origin, char out[PREFIX_LEN + 2])
{
    uint8_t md[HUB_SHA256_LEN];
    hub_sha256(md, origin, strlen(origin));
    hub_b64url_encode(out, md, sizeof(md));
    out[PREFIX_LEN] = '\n';
    out[PREFIX_LEN + 1] = '\0';
    return PREFIX_LEN + 1;
}

/* The origin of a redirect URI into out (HUB_ORIGIN_MAX bytes); 0, or HUB_E_INVAL for a URI that does not parse (the
 * model refuses those, so an older record is the only way to hold one). */
static int uri_origin(const char *uri, char *out)
{
    hub_url_t u;
    if (hub_url_parse(uri, &u, NULL) != 0 || hub_url_origin(&u, out, HUB_ORIGIN_MAX) < 0)
        return HUB_E_INVAL;
    return 0;
}

int idp_origins_match(const idp_strv_t *uris, const char *origin)
{
    char o[HUB_ORIGIN_MAX];
    for (size_t i = 0; i != uris->n; ++i)
        if (uri_origin(uris->v[i], o) == 0 && strcmp(o, origin) == 0)
            return 1;
    return 0;
}

/* Adds (add != 0) or removes the entries of client_id's redirect URIs uris (NULL = none). */
static int index_uris(hub_txn_t *txn, const char *client_id, const idp_strv_t *uris, int add)
{
    char origin[HUB_ORIGIN_MAX], key[MAX_KEY];
    size_t plen, idlen;
    int ret;

    if (uris == NULL || client_id == NULL || (idlen = strlen(client_id)) > MAX_KEY - PREFIX_LEN - 1)
        return 0;
    for (size_t i = 0; i != uris->n; ++i) {
        if (uri_origin(uris->v[i], origin) != 0)
            continue;
        plen = origin_prefix(origin, key);
        memcpy(key + plen, client_id, idlen);
        if (add)
            ret = hub_store_put(txn, HUB_T_CLIENT_ORIGINS, key, plen + idlen, origin, strlen(origin), 0, 0);
        else if ((ret = hub_store_del(txn, HUB_T_CLIENT_ORIGINS, key, plen + idlen)) == HUB_E_NOTFOUND)
            ret = 0; /* two redirect URIs of one origin share their entry */
        if (ret != 0)
            return ret;
    }
    return 0;
}

int idp_origins_update(hub_txn_t *txn, const char *client_id, const idp_strv_t *old, const idp_strv_t *now)
{
    int ret = index_uris(txn, client_id, old, 0);
    return ret != 0 ? ret : index_uris(txn, client_id, now, 1);
}

static int found_cb(void *arg, hub_val_t key, hub_val_t val)
{
    return 1;
}

int idp_origins_known(hub_txn_t *txn, const char *origin)
{
    char prefix[PREFIX_LEN + 2];
    size_t plen = origin_prefix(origin, prefix);
    return hub_store_each(txn, HUB_T_CLIENT_ORIGINS, prefix, plen, found_cb, NULL) == 1;
}

int idp_origins_prepare(hub_txn_t *txn, int (*index_all)(hub_txn_t *txn))
{
    int ret;
    if (hub_store_counter(txn, ORIGINS_MARK) != 0)
        return 0;
    if ((ret = index_all(txn)) != 0)
        return ret;
    return hub_store_bump(txn, ORIGINS_MARK, NULL);
}
