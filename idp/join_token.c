/* Join token records (HUB_T_JOIN_TOKENS, key = the token's hash): created by an operator, consumed by a registration. */
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/config.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/util.h"
#include "idp/join_token.h"
#include "idp/record.h"

#define MAX_TOKEN 256 /* a presented token longer than this is no token of ours */

int idp_join_token_name_check(const char *name, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    if (name == NULL || (name[0] != '\0' && idp_record_name_ok(name)))
        return 0;
    return idp_invalid(inv, IDP_FIELD_NODE_NAME, "\"%s\" must be 1 to %d bytes of printable UTF-8", idp_quote(q, sizeof(q), name),
                       IDP_NAME_MAX);
}

int idp_join_token_create(hub_txn_t *txn, const char *name, uint64_t ttl, char out[44])
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    uint64_t now = hub_now();
    json_t *o;
    int ret;

    out[0] = '\0';
    if (ttl == 0 || ttl > IDP_JOIN_TOKEN_TTL_MAX || idp_join_token_name_check(name, NULL) != 0)
        return HUB_E_INVAL;
    hub_random_token(out, 32);
    hub_secret_hash(hash, out, strlen(out));
    o = json_object();
    idp_record_set_str(o, "name", name);
    idp_record_set_uint(o, "created_at", now);
    idp_record_set_uint(o, "expires_at", now + ttl);
    ret = hub_store_put_json(txn, HUB_T_JOIN_TOKENS, hash, o, now + ttl, HUB_STORE_NOOVERWRITE);
    json_decref(o);
    if (ret != 0)
        OPENSSL_cleanse(out, 44);
    return ret;
}

int idp_join_token_consume(hub_txn_t *txn, const char *token, size_t len, char **name)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *o = NULL;
    int ret;

    *name = NULL;
    if (token == NULL || len == 0 || len > MAX_TOKEN)
        return HUB_E_NOTFOUND;
    hub_secret_hash(hash, token, len);
    if ((ret = hub_store_get_json(txn, HUB_T_JOIN_TOKENS, hash, &o)) != 0)
        return ret;
    if (hub_json_uint(o, "expires_at") <= hub_now()) {
        ret = HUB_E_NOTFOUND;
        goto out;
    }
    if ((ret = hub_store_del(txn, HUB_T_JOIN_TOKENS, hash, strlen(hash))) != 0)
        goto out;
    *name = hub_json_strdup(o, "name");
out:
    json_decref(o);
    return ret;
}

int idp_join_token_ttl_parse(const char *s, uint64_t *ttl, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];

    if (s == NULL || hub_parse_duration(s, ttl) != 0 || *ttl == 0 || *ttl > IDP_JOIN_TOKEN_TTL_OPERATOR)
        return idp_invalid(inv, IDP_FIELD_JOIN_TTL, "\"%s\" is not a duration like 30m, 1h or 7d (at most 365d)",
                           idp_quote(q, sizeof(q), s));
    return 0;
}
