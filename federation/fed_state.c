/* Pending sign-ins sealed in cookies: version | exp | binding | nonce | verifier | next, under
 * AES-256-GCM with the cookie's name as associated data. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include "federation/fed_state.h"
#include "hub/err.h"

#define VERSION 1
#define HEAD_LEN (1 + 8 + 32 + 2 * FED_STATE_SECRET_LEN) /* everything before next */
#define PLAIN_MAX (HEAD_LEN + FED_STATE_NEXT_MAX)
#define BOX_MAX (PLAIN_MAX + HUB_SEAL_OVERHEAD)
#define VALUE_MAX HUB_B64URL_LEN(BOX_MAX)

void fed_state_keys_init(fed_state_keys_t *k, const uint8_t node_key[HUB_KEY_LEN])
{
    hub_key_derive(k->seal, node_key, "hub secondary: pending sign-in cookie v1");
    hub_key_derive(k->mac, node_key, "hub secondary: state parameter v1");
}

int fed_pending_new(fed_pending_t *p, const char *next, uint64_t now)
{
    size_t len = strlen(next);

    memset(p, 0, sizeof(*p));
    if (len > FED_STATE_NEXT_MAX)
        return HUB_E_TOOBIG;
    p->exp = now + FED_STATE_TTL;
    hub_random_bytes(p->binding, sizeof(p->binding));
    hub_random_token(p->nonce, 32);
    hub_random_token(p->verifier, 32);
    memcpy(p->next, next, len + 1);
    return 0;
}

void fed_pending_state(const fed_state_keys_t *k, const fed_pending_t *p, char state[FED_STATE_LEN + 1])
{
    uint8_t mac[HUB_MAC_LEN];
    hub_hmac_sha256(mac, k->mac, HUB_KEY_LEN, p->binding, sizeof(p->binding));
    hub_b64url_encode(state, mac, sizeof(mac));
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int b64url_text(const char *s, size_t len)
{
    size_t i;
    for (i = 0; i != len; ++i)
        if (!b64url_char(s[i]))
            return 0;
    return 1;
}

int fed_state_valid(const char *state)
{
    return state != NULL && strlen(state) == FED_STATE_LEN && b64url_text(state, FED_STATE_LEN);
}

void fed_state_cookie_name(char *out, size_t size, const char *prefix, const char *state)
{
    snprintf(out, size, "%s_%.*s", prefix, FED_STATE_ID_LEN, state);
}

char *fed_pending_seal(const fed_state_keys_t *k, const char *name, const fed_pending_t *p, h2o_mem_pool_t *pool)
{
    uint8_t plain[PLAIN_MAX], box[BOX_MAX], *o = plain;
    size_t nlen = strlen(p->next), i;
    char *out;

    *o++ = VERSION;
    for (i = 0; i != 8; ++i)
        *o++ = (uint8_t)(p->exp >> (56 - 8 * i));
    memcpy(o, p->binding, 32);
    o += 32;
    memcpy(o, p->nonce, FED_STATE_SECRET_LEN);
    o += FED_STATE_SECRET_LEN;
    memcpy(o, p->verifier, FED_STATE_SECRET_LEN);
    o += FED_STATE_SECRET_LEN;
    if (nlen > FED_STATE_NEXT_MAX)
        nlen = FED_STATE_NEXT_MAX; /* fed_pending_new refused longer ones */
    memcpy(o, p->next, nlen);
    o += nlen;
    hub_seal(k->seal, name, strlen(name), plain, (size_t)(o - plain), box);
    out = h2o_mem_alloc_pool(pool, HUB_B64URL_LEN((size_t)(o - plain) + HUB_SEAL_OVERHEAD) + 1);
    hub_b64url_encode(out, box, (size_t)(o - plain) + HUB_SEAL_OVERHEAD);
    OPENSSL_cleanse(plain, sizeof(plain));
    return out;
}

/* Reads an opened box; 0 or HUB_E_NOTFOUND. */
static int unpack(const uint8_t *plain, size_t len, uint64_t now, fed_pending_t *p)
{
    const uint8_t *i = plain + 1;
    size_t n;

    if (len < HEAD_LEN || plain[0] != VERSION)
        return HUB_E_NOTFOUND;
    for (n = 0; n != 8; ++n)
        p->exp = p->exp << 8 | *i++;
    memcpy(p->binding, i, 32);
    i += 32;
    memcpy(p->nonce, i, FED_STATE_SECRET_LEN);
    i += FED_STATE_SECRET_LEN;
    memcpy(p->verifier, i, FED_STATE_SECRET_LEN);
    i += FED_STATE_SECRET_LEN;
    n = len - HEAD_LEN;
    memcpy(p->next, i, n);
    if (p->exp <= now || memchr(p->next, '\0', n) != NULL || !b64url_text(p->nonce, FED_STATE_SECRET_LEN) ||
        !b64url_text(p->verifier, FED_STATE_SECRET_LEN))
        return HUB_E_NOTFOUND;
    return 0;
}

int fed_pending_open(const fed_state_keys_t *k, const char *name, const char *value, uint64_t now, fed_pending_t *p)
{
    uint8_t box[BOX_MAX + 3], plain[BOX_MAX];
    size_t vlen = value != NULL ? strlen(value) : 0;
    int blen, plen, ret = HUB_E_NOTFOUND;

    memset(p, 0, sizeof(*p));
    if (vlen == 0 || vlen > VALUE_MAX || (blen = hub_b64url_decode(box, value, vlen)) < 0)
        return HUB_E_NOTFOUND;
    if ((plen = hub_open(k->seal, name, strlen(name), box, (size_t)blen, plain)) >= 0)
        ret = unpack(plain, (size_t)plen, now, p);
    OPENSSL_cleanse(plain, sizeof(plain));
    if (ret != 0)
        OPENSSL_cleanse(p, sizeof(*p));
    return ret;
}

int fed_pending_matches(const fed_state_keys_t *k, const fed_pending_t *p, const char *state)
{
    char want[FED_STATE_LEN + 1];
    int ok;
    if (state == NULL)
        return 0;
    fed_pending_state(k, p, want);
    ok = hub_ct_equal(want, FED_STATE_LEN, state, strlen(state));
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
