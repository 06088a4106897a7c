/* libFuzzer target for the secondary's JWKS parser (fed_jwks_install in federation/fed_jwks.c, hub_key_from_jwk in
 * hub/jws.c): the input is the primary's answer. Checked against an independent reading of the same document: the
 * set installed is exactly its usable keys (a signature key with alg, kty and crv that agree, and a kid), at most 32,
 * each found by its kid; a refused document leaves the previous set in place; every usable JWK survives a round trip
 * through hub_key_to_jwk with the same kid, algorithm and public key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "federation/fed_jwks.h"
#include "hub/err.h"

#define MAX_KEYS 32 /* fed_jwks.c's bound */

/* The JWK as the hub writes it back, read again, is the same key. */
static void check_round_trip(const hub_key_t *key)
{
    json_t *jwk = hub_key_to_jwk(key);
    hub_key_t *again;

    if (jwk == NULL || hub_key_from_jwk(&again, jwk) != 0)
        abort();
    if (strcmp(again->kid, key->kid) != 0 || again->alg != key->alg || EVP_PKEY_eq(again->pkey, key->pkey) != 1)
        abort();
    hub_key_free(again);
    json_decref(jwk);
}

/* The usable keys of doc in order (at most MAX_KEYS), as fed_jwks must install them. */
static size_t usable_keys(const json_t *doc, hub_key_t **keys)
{
    const json_t *arr = json_object_get(doc, "keys"), *jwk;
    size_t i, n = 0;

    if (!json_is_array(arr))
        return 0;
    json_array_foreach(arr, i, jwk)
    {
        hub_key_t *key;
        if (n == MAX_KEYS)
            break;
        if (hub_key_from_jwk(&key, jwk) != 0)
            continue;
        check_round_trip(key);
        if (key->kid[0] == '\0')
            hub_key_free(key);
        else
            keys[n++] = key;
    }
    return n;
}

/* Each usable key is found by its kid: the first one of that kid. */
static void check_installed(fed_jwks_t *j, hub_key_t **keys, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        const hub_key_t *found = fed_jwks_find(j, keys[i]->kid);
        size_t first = 0;
        while (strcmp(keys[first]->kid, keys[i]->kid) != 0)
            ++first;
        if (found == NULL || found->alg != keys[first]->alg || EVP_PKEY_eq(found->pkey, keys[first]->pkey) != 1)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char good[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":\"prev\","
                               "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
    const char *text = (const char *)data;
    hub_key_t *keys[MAX_KEYS];
    json_t *doc = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    size_t n = doc != NULL ? usable_keys(doc, keys) : 0, i;
    fed_jwks_t *j = fed_jwks_create(NULL, NULL);
    char *raw;
    int ret;

    /* on an empty cache */
    ret = fed_jwks_install(j, text, size);
    if ((ret == 0) != (n != 0) || (ret != 0 && ret != HUB_E_PARSE) || fed_jwks_count(j) != n)
        abort();
    if (ret == 0) {
        check_installed(j, keys, n);
        if ((raw = fed_jwks_raw(j)) == NULL || strlen(raw) != size || memcmp(raw, text, size) != 0)
            abort();
        free(raw);
        if (fed_jwks_install(j, text, size) != 0 || fed_jwks_count(j) != n) /* the same document again */
            abort();
    }
    fed_jwks_destroy(j);

    /* over a good set: a refused document changes nothing */
    j = fed_jwks_create(NULL, NULL);
    if (fed_jwks_install(j, good, strlen(good)) != 0)
        abort();
    ret = fed_jwks_install(j, text, size);
    if (ret != 0 && (fed_jwks_count(j) != 1 || fed_jwks_find(j, "prev") == NULL))
        abort();
    if (ret == 0)
        check_installed(j, keys, n);
    fed_jwks_destroy(j);

    for (i = 0; i != n; ++i)
        hub_key_free(keys[i]);
    json_decref(doc);
    return 0;
}
