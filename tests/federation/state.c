/* Tests federation/fed_state.c: a pending sign-in sealed in its cookie opens only for the node
 * and cookie name it was sealed for, before it expires and unaltered; the state parameter is
 * bound to the sealed binding value (another browser's cookie, or a cookie made from the state,
 * does not match); next is capped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_state.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "tests/check.h"

#define PREFIX "hub_node_a_state"

static void keys(fed_state_keys_t *k, uint8_t fill)
{
    uint8_t node[HUB_KEY_LEN];
    memset(node, fill, sizeof(node));
    fed_state_keys_init(k, node);
}

static void test_round_trip(void)
{
    fed_state_keys_t k;
    fed_pending_t p, q;
    char state[FED_STATE_LEN + 1], name[64], *value;
    h2o_mem_pool_t pool;
    uint64_t now = 1700000000;

    keys(&k, 1);
    h2o_mem_init_pool(&pool);
    CHECK(fed_pending_new(&p, "/app/x?y=1", now) == 0);
    CHECK(p.exp == now + FED_STATE_TTL && strlen(p.nonce) == FED_STATE_SECRET_LEN && strlen(p.verifier) == FED_STATE_SECRET_LEN);
    fed_pending_state(&k, &p, state);
    CHECK(fed_state_valid(state));
    fed_state_cookie_name(name, sizeof(name), PREFIX, state);
    CHECK(strncmp(name, PREFIX "_", strlen(PREFIX) + 1) == 0 && strlen(name) == strlen(PREFIX) + 1 + FED_STATE_ID_LEN);
    CHECK(strncmp(name + strlen(PREFIX) + 1, state, FED_STATE_ID_LEN) == 0);
    value = fed_pending_seal(&k, name, &p, &pool);
    /* the cookie holds nothing readable: not the next path, the nonce, the verifier or the state */
    CHECK(strstr(value, "app") == NULL && strstr(value, p.nonce) == NULL && strstr(value, p.verifier) == NULL &&
          strstr(value, state) == NULL);
    CHECK(fed_pending_open(&k, name, value, now + 1, &q) == 0);
    CHECK(strcmp(q.next, "/app/x?y=1") == 0 && strcmp(q.nonce, p.nonce) == 0 && strcmp(q.verifier, p.verifier) == 0);
    CHECK(q.exp == p.exp && memcmp(q.binding, p.binding, sizeof(p.binding)) == 0);
    CHECK(fed_pending_matches(&k, &q, state));
    h2o_mem_clear_pool(&pool);
}

/* Every way a cookie can be wrong: each is refused, never opened into something usable. */
static void test_refusals(void)
{
    fed_state_keys_t k, other;
    fed_pending_t p, q, r;
    char state[FED_STATE_LEN + 1], state2[FED_STATE_LEN + 1], name[64], name2[64], *value, *value2, *t;
    h2o_mem_pool_t pool;
    uint64_t now = 1700000000;
    size_t i, len;

    keys(&k, 1);
    keys(&other, 2);
    h2o_mem_init_pool(&pool);
    CHECK(fed_pending_new(&p, "/", now) == 0);
    fed_pending_state(&k, &p, state);
    fed_state_cookie_name(name, sizeof(name), PREFIX, state);
    value = fed_pending_seal(&k, name, &p, &pool);
    len = strlen(value);

    /* expired: at and after exp */
    CHECK(fed_pending_open(&k, name, value, p.exp, &q) == HUB_E_NOTFOUND);
    CHECK(fed_pending_open(&k, name, value, p.exp + 3600, &q) == HUB_E_NOTFOUND);
    CHECK(fed_pending_open(&k, name, value, p.exp - 1, &q) == 0);
    /* another node (another key) and another cookie name (moved value) */
    CHECK(fed_pending_open(&other, name, value, now, &q) == HUB_E_NOTFOUND);
    CHECK(fed_pending_open(&k, "hub_node_b_state_AAAAAAAA", value, now, &q) == HUB_E_NOTFOUND);
    CHECK(fed_pending_open(&k, PREFIX, value, now, &q) == HUB_E_NOTFOUND);
    /* every character changed, truncated, extended, empty, garbage, not base64url, too long */
    t = strdup(value);
    for (i = 0; i != len; ++i) {
        char c = t[i];
        t[i] = c == 'A' ? 'B' : 'A';
        CHECK(fed_pending_open(&k, name, t, now, &q) == HUB_E_NOTFOUND);
        t[i] = c;
    }
    t[len - 1] = '\0';
    CHECK(fed_pending_open(&k, name, t, now, &q) == HUB_E_NOTFOUND);
    free(t);
    t = malloc(len + 3);
    snprintf(t, len + 3, "%sAA", value);
    CHECK(fed_pending_open(&k, name, t, now, &q) == HUB_E_NOTFOUND);
    free(t);
    CHECK(fed_pending_open(&k, name, "", now, &q) == HUB_E_NOTFOUND);
    CHECK(fed_pending_open(&k, name, NULL, now, &q) == HUB_E_NOTFOUND);
    CHECK(fed_pending_open(&k, name, state, now, &q) == HUB_E_NOTFOUND); /* the old design: the state as the cookie */
    CHECK(fed_pending_open(&k, name, "a=b;c", now, &q) == HUB_E_NOTFOUND);
    t = malloc(8192);
    memset(t, 'A', 8191);
    t[8191] = '\0';
    CHECK(fed_pending_open(&k, name, t, now, &q) == HUB_E_NOTFOUND);
    free(t);

    /* the state is bound to the binding value: a state of the URL matches only its own cookie */
    CHECK(fed_pending_new(&r, "/", now) == 0);
    fed_pending_state(&k, &r, state2);
    CHECK(strcmp(state, state2) != 0);
    fed_state_cookie_name(name2, sizeof(name2), PREFIX, state2);
    value2 = fed_pending_seal(&k, name2, &r, &pool);
    CHECK(fed_pending_open(&k, name2, value2, now, &q) == 0);
    CHECK(fed_pending_matches(&k, &q, state2) && !fed_pending_matches(&k, &q, state));
    CHECK(!fed_pending_matches(&k, &q, NULL) && !fed_pending_matches(&k, &q, "") && !fed_pending_matches(&k, &q, "x"));
    /* the same binding under another node's key gives another state */
    fed_pending_state(&other, &r, state);
    CHECK(strcmp(state, state2) != 0 && !fed_pending_matches(&other, &q, state2));

    /* malformed states */
    CHECK(!fed_state_valid(NULL) && !fed_state_valid("") && !fed_state_valid("short"));
    memset(state, 'A', FED_STATE_LEN);
    state[FED_STATE_LEN] = '\0';
    CHECK(fed_state_valid(state));
    state[3] = '=';
    CHECK(!fed_state_valid(state));
    state[3] = ';';
    CHECK(!fed_state_valid(state));
    h2o_mem_clear_pool(&pool);
}

static void test_next_cap(void)
{
    fed_state_keys_t k;
    fed_pending_t p, q;
    char next[FED_STATE_NEXT_MAX + 2], state[FED_STATE_LEN + 1], name[64], *value;
    h2o_mem_pool_t pool;

    keys(&k, 3);
    h2o_mem_init_pool(&pool);
    next[0] = '/';
    memset(next + 1, 'n', FED_STATE_NEXT_MAX - 1);
    next[FED_STATE_NEXT_MAX] = '\0';
    CHECK(fed_pending_new(&p, next, 1000) == 0); /* exactly the cap */
    fed_pending_state(&k, &p, state);
    fed_state_cookie_name(name, sizeof(name), PREFIX, state);
    value = fed_pending_seal(&k, name, &p, &pool);
    CHECK(strlen(value) < 1600); /* fits a cookie, with room for others */
    CHECK(fed_pending_open(&k, name, value, 1001, &q) == 0 && strcmp(q.next, next) == 0);
    next[FED_STATE_NEXT_MAX] = 'n';
    next[FED_STATE_NEXT_MAX + 1] = '\0';
    CHECK(fed_pending_new(&p, next, 1000) == HUB_E_TOOBIG);
    h2o_mem_clear_pool(&pool);
}

int main(void)
{
    test_round_trip();
    test_refusals();
    test_next_cap();
    return check_report("federation/state");
}
