/* libFuzzer target for hub_jws_parse and hub_jws_verify: arbitrary bytes as a compact JWS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hub/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One ES256 key for the whole run; it stays reachable, so it is no leak. */
    static hub_key_t *key;
    hub_jws_t jws;

    if (key == NULL && hub_key_generate(&key, HUB_ALG_ES256) != 0)
        abort();
    if (hub_jws_parse((const char *)data, size, &jws) == 0) {
        /* parse's promises: objects, borrowed strings, alg always present */
        if (!json_is_object(jws.header) || !json_is_object(jws.payload) || jws.alg == NULL)
            abort();
        if (hub_jws_verify(key, (const char *)data, size) == 0)
            abort(); /* nobody but us holds this key */
        hub_jws_dispose(&jws);
    } else if (hub_jws_verify(key, (const char *)data, size) == 0) {
        abort(); /* a token that does not parse never verifies */
    }
    return 0;
}
