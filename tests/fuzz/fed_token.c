/* libFuzzer target for a secondary's untrusted inputs: the JWKS document (fed_jwks_install),
 * a Bearer access token and a logout token (fed_verify_*), Cache-Control and next paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_jwks.h"
#include "federation/fed_login.h"
#include "federation/fed_verify.h"
#include "hub/util.h"
#include "hub/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One cache and verifier for the whole run, with one real key; they stay reachable. */
    static fed_jwks_t *jwks;
    static fed_verify_t *verify;
    char *s = malloc(size + 1);
    h2o_mem_pool_t pool;
    fed_identity_t id;
    json_t *claims = NULL;
    const char *next;

    if (jwks == NULL) {
        hub_key_t *key;
        json_t *doc = json_object(), *arr = json_array();
        char *text;
        if (hub_key_generate(&key, HUB_ALG_ES256) != 0)
            abort();
        json_array_append_new(arr, hub_key_to_jwk(key));
        json_object_set_new(doc, "keys", arr);
        text = json_dumps(doc, JSON_COMPACT);
        jwks = fed_jwks_create(NULL, NULL);
        if (fed_jwks_install(jwks, text, strlen(text)) != 0)
            abort();
        free(text);
        json_decref(doc);
        hub_key_free(key);
        verify = fed_verify_create(jwks, "http://127.0.0.1:8080", NULL, 0, 60, 64);
    }
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';

    /* a JWKS answer: parsing it must never crash; our own key set must stay usable when it is bad */
    {
        fed_jwks_t *j = fed_jwks_create(NULL, NULL);
        if (fed_jwks_install(j, s, size) != 0 && fed_jwks_count(j) != 0)
            abort();
        fed_jwks_destroy(j);
    }
    /* tokens: nobody else holds the key, so nothing verifies */
    h2o_mem_init_pool(&pool);
    if (fed_verify_access_token(verify, "c", s, size, &pool, &id, NULL) == 0)
        abort();
    h2o_mem_clear_pool(&pool);
    if (fed_verify_logout_token(verify, "c", s, size, &claims, NULL) == 0 || claims != NULL)
        abort();
    if (fed_verify_id_token(verify, "c", "n", s, size, &claims, NULL) == 0 || claims != NULL)
        abort();
    fed_jwks_max_age(s);
    next = hub_safe_next(s);
    if (next[0] != '/' || next[1] == '/' || next[1] == '\\' || strchr(next, '\\') != NULL)
        abort();
    free(s);
    return 0;
}
