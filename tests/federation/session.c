/* Tests federation/fed_session.c: create, look up, end, and end by sid / sub with exact index
 * matching, re-validation updates (new roles, rotated refresh token, another user refused, an
 * ended session not revived), and the sign-out form's token, on a real store in a temporary
 * directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "federation/fed_session.h"
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static int live(hub_store_t *store, const char *cookie)
{
    h2o_mem_pool_t pool;
    fed_identity_t id;
    int ret;
    h2o_mem_init_pool(&pool);
    ret = fed_session_get(store, cookie, &pool, &id, NULL);
    h2o_mem_clear_pool(&pool);
    return ret == 0;
}

static void make(hub_store_t *store, const char *sub, const char *sid, char cookie[FED_SESSION_COOKIE_LEN + 1])
{
    const char *roles[] = {"Employee", "System Manager"};
    fed_session_t s = {
        .id = {.sub = sub, .sid = sid, .name = "Alice", .email = "a@example.com", .client_id = "c1", .roles = roles, .nroles = 2},
        .id_token = "id.token.hint",
        .refresh_token = "rt-1",
        .due = hub_now() + 600,
        .life = 600};
    CHECK(fed_session_create(store, &s, 3600, cookie) == 0);
    CHECK(strlen(cookie) == FED_SESSION_COOKIE_LEN);
    CHECK(strlen(s.hash) == HUB_SECRET_HASH_LEN);
}

/* Re-validation: what a refresh may change, and what it must not. */
static void test_update(hub_store_t *store)
{
    char a[44], b[44];
    const char *fewer[] = {"Guest"};
    h2o_mem_pool_t pool;
    fed_session_t s, t;
    uint64_t now = hub_now();

    make(store, "upd", "s-upd", a);
    h2o_mem_init_pool(&pool);
    CHECK(fed_session_load(store, a, &pool, &s) == 0);
    CHECK(strcmp(s.refresh_token, "rt-1") == 0 && s.due == now + 600 && s.life == 600);
    CHECK(strcmp(s.id_token, "id.token.hint") == 0 && s.id.nroles == 2);
    /* new roles, a rotated refresh token, a later due; no name in the access token keeps the name */
    fed_session_t fresh = {
        .id = {.sub = "upd", .roles = fewer, .nroles = 1}, .refresh_token = "rt-2", .due = now + 900, .life = 300};
    CHECK(fed_session_update(store, s.hash, &fresh) == 0);
    CHECK(fed_session_load(store, a, &pool, &t) == 0);
    CHECK(t.id.nroles == 1 && strcmp(t.id.roles[0], "Guest") == 0);
    CHECK(strcmp(t.refresh_token, "rt-2") == 0 && t.due == now + 900 && t.life == 300);
    CHECK(strcmp(t.id.name, "Alice") == 0 && strcmp(t.id.email, "a@example.com") == 0 && strcmp(t.id.sid, "s-upd") == 0);
    CHECK(t.id.exp == s.id.exp); /* the session's end does not move */
    /* with an id_token the profile follows it; no roles at all is a valid answer (every role removed) */
    fresh = (fed_session_t){.id = {.sub = "upd", .name = "Alice B", .email = "b@example.com"},
                            .id_token = "new.id.token",
                            .due = now + 1000,
                            .life = 300};
    CHECK(fed_session_update(store, s.hash, &fresh) == 0);
    CHECK(fed_session_load(store, a, &pool, &t) == 0);
    CHECK(t.id.nroles == 0 && strcmp(t.id.name, "Alice B") == 0 && strcmp(t.id_token, "new.id.token") == 0);
    CHECK(strcmp(t.refresh_token, "rt-2") == 0); /* no new refresh token keeps the stored one */
    /* another user's tokens never land in this session */
    fresh = (fed_session_t){.id = {.sub = "mallory", .roles = fewer, .nroles = 1}, .refresh_token = "rt-x", .due = now + 2000};
    CHECK(fed_session_update(store, s.hash, &fresh) == HUB_E_DENIED);
    fresh.id.sub = NULL;
    CHECK(fed_session_update(store, s.hash, &fresh) == HUB_E_DENIED);
    CHECK(fed_session_load(store, a, &pool, &t) == 0 && strcmp(t.refresh_token, "rt-2") == 0 && t.due == now + 1000);
    /* an oversized refresh token is refused */
    {
        char big[FED_REFRESH_TOKEN_MAX + 2];
        memset(big, 'r', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        fresh = (fed_session_t){.id = {.sub = "upd"}, .refresh_token = big, .due = now + 2000};
        CHECK(fed_session_update(store, s.hash, &fresh) == HUB_E_INVAL);
        CHECK(fed_session_postpone(store, s.hash, big, now + 2000) == HUB_E_INVAL);
    }
    /* postpone: only due (and the refresh token when given) */
    CHECK(fed_session_postpone(store, s.hash, NULL, now + 5) == 0);
    CHECK(fed_session_load(store, a, &pool, &t) == 0 && t.due == now + 5 && strcmp(t.refresh_token, "rt-2") == 0);
    CHECK(t.life == 300 && strcmp(t.id.name, "Alice B") == 0);
    CHECK(fed_session_postpone(store, s.hash, "rt-3", now + 6) == 0);
    CHECK(fed_session_load(store, a, &pool, &t) == 0 && t.due == now + 6 && strcmp(t.refresh_token, "rt-3") == 0);
    /* an ended session is not revived by a late refresh */
    make(store, "upd", "s-upd2", b);
    CHECK(fed_session_load(store, b, &pool, &t) == 0);
    CHECK(fed_session_end_hash(store, t.hash) == 0);
    CHECK(fed_session_end_hash(store, t.hash) == HUB_E_NOTFOUND);
    fresh = (fed_session_t){.id = {.sub = "upd"}, .refresh_token = "rt-late", .due = now + 900};
    CHECK(fed_session_update(store, t.hash, &fresh) == HUB_E_NOTFOUND);
    CHECK(fed_session_postpone(store, t.hash, "rt-late", now + 900) == HUB_E_NOTFOUND);
    CHECK(fed_session_load(store, b, &pool, &t) == HUB_E_NOTFOUND);
    CHECK(fed_session_load_hash(store, "short", &pool, &t) == HUB_E_NOTFOUND);
    /* the index keys went with it: ending by sid finds only the live one */
    size_t n;
    CHECK(fed_session_end_by(store, "s-upd2", NULL, &n) == 0 && n == 0);
    CHECK(fed_session_end_by(store, NULL, "upd", &n) == 0 && n == 1);
    h2o_mem_clear_pool(&pool);
}

/* The sign-out form's token: one per session, only a node key makes it. */
static void test_csrf(hub_store_t *store)
{
    uint8_t k1[HUB_KEY_LEN], k2[HUB_KEY_LEN];
    char a[44], b[44], t1[FED_CSRF_LEN + 1], t2[FED_CSRF_LEN + 1], t3[FED_CSRF_LEN + 1], t4[FED_CSRF_LEN + 1];

    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    make(store, "csrf", NULL, a);
    make(store, "csrf", NULL, b);
    fed_session_csrf(k1, a, t1);
    fed_session_csrf(k1, a, t2);
    CHECK(strlen(t1) == FED_CSRF_LEN && strcmp(t1, t2) == 0); /* stable for one session */
    fed_session_csrf(k1, b, t2);
    CHECK(strcmp(t1, t2) != 0); /* another session of the same user */
    fed_session_csrf(k2, a, t3);
    CHECK(strcmp(t1, t3) != 0); /* another node */
    fed_session_csrf(k1, NULL, t3);
    fed_session_csrf(k1, "not-a-session-cookie", t4);
    CHECK(strcmp(t3, t4) == 0 && strcmp(t3, t1) != 0); /* no session: one token, not a session's */
}

int main(void)
{
    char *dir = test_tmpdir("fed-session");
    hub_store_t *store = NULL;
    char a[44], b[44], c[44], d[44], e[44];
    h2o_mem_pool_t pool;
    fed_identity_t id;
    const char *hint;
    size_t n;

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    make(store, "u1", "s1", a);
    make(store, "u1", "s2", b);
    make(store, "u2", "s1:x", c); /* a sid that extends another one must not match it */
    make(store, "u1:x", "s3", d);

    h2o_mem_init_pool(&pool);
    CHECK(fed_session_get(store, a, &pool, &id, &hint) == 0);
    CHECK(strcmp(id.sub, "u1") == 0 && strcmp(id.sid, "s1") == 0 && strcmp(id.name, "Alice") == 0);
    CHECK(strcmp(id.email, "a@example.com") == 0 && strcmp(id.client_id, "c1") == 0);
    CHECK(id.nroles == 2 && strcmp(id.roles[1], "System Manager") == 0);
    CHECK(id.exp > hub_now() + 3500 && id.exp <= hub_now() + 3600);
    CHECK(hint != NULL && strcmp(hint, "id.token.hint") == 0);
    h2o_mem_clear_pool(&pool);

    CHECK(!live(store, "short"));
    CHECK(!live(store, NULL));
    CHECK(!live(store, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    CHECK(!live(store, "sid:s1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));

    /* by sid: only exact sid matches */
    CHECK(fed_session_end_by(store, "s1", NULL, &n) == 0 && n == 1);
    CHECK(!live(store, a) && live(store, b) && live(store, c) && live(store, d));
    CHECK(fed_session_end_by(store, "s1", NULL, &n) == 0 && n == 0);
    /* by sub */
    CHECK(fed_session_end_by(store, NULL, "u1", &n) == 0 && n == 1);
    CHECK(!live(store, b) && live(store, c) && live(store, d));
    /* by cookie */
    CHECK(fed_session_end(store, c) == 0);
    CHECK(!live(store, c) && live(store, d));
    CHECK(fed_session_end(store, c) == HUB_E_NOTFOUND);
    CHECK(fed_session_end_by(store, NULL, NULL, &n) == HUB_E_INVAL);
    /* many sessions of one user end together (more than one batch) */
    for (int i = 0; i != 300; ++i)
        make(store, "many", "m", e);
    CHECK(fed_session_end_by(store, "m", NULL, &n) == 0 && n == 300);
    CHECK(!live(store, e) && live(store, d));
    /* invalid ids are refused */
    {
        fed_session_t bad = {.id = {.sub = ""}};
        CHECK(fed_session_create(store, &bad, 60, e) == HUB_E_INVAL);
    }
    test_update(store);
    test_csrf(store);

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("federation/session");
}
