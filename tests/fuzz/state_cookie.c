/* libFuzzer target for a secondary's pending sign-in cookie (fed_state.c): the input as a cookie
 * value and as a state parameter (nothing opens without the node key), and the input sealed with
 * the node key (so the contents of a box, which only the node writes, are parsed too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_state.h"
#include "hub/crypto.h"
#include "hub/err.h"

#define NAME "hub_fuzz_state_AAAAAAAA"
#define NOW 1700000000
#define PLAIN_CAP 2048

/* What an opened pending sign-in must look like, whatever the box held. */
static void check_opened(const fed_pending_t *p)
{
    if (p->exp <= NOW || strlen(p->next) > FED_STATE_NEXT_MAX || strlen(p->nonce) != FED_STATE_SECRET_LEN ||
        strlen(p->verifier) != FED_STATE_SECRET_LEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fed_state_keys_t keys;
    static int ready;
    uint8_t box[PLAIN_CAP + HUB_SEAL_OVERHEAD];
    char *s = malloc(size + 1), *value;
    size_t plain = size < PLAIN_CAP ? size : PLAIN_CAP;
    fed_pending_t p;

    if (!ready) {
        uint8_t node_key[HUB_KEY_LEN];
        memset(node_key, 0x42, sizeof(node_key));
        fed_state_keys_init(&keys, node_key);
        ready = 1;
    }
    if (s == NULL || (value = malloc(HUB_B64URL_LEN(sizeof(box)) + 1)) == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';

    /* as a cookie value and a state: refused (the fuzzer holds no key), never a crash */
    if (fed_pending_open(&keys, NAME, s, NOW, &p) == 0)
        check_opened(&p);
    if (fed_state_valid(s) && strlen(s) != FED_STATE_LEN)
        abort();
    memset(&p, 0, sizeof(p));
    if (fed_pending_matches(&keys, &p, s) && strlen(s) != FED_STATE_LEN)
        abort();
    /* as the contents of a box the node sealed */
    hub_seal(keys.seal, NAME, strlen(NAME), data, plain, box);
    hub_b64url_encode(value, box, plain + HUB_SEAL_OVERHEAD);
    if (fed_pending_open(&keys, NAME, value, NOW, &p) == 0)
        check_opened(&p);
    if (fed_pending_open(&keys, NAME "x", value, NOW, &p) == 0) /* another cookie's name never opens it */
        abort();
    free(value);
    free(s);
    return 0;
}
