/* Tests federation/fed_session.c: create, look up, end, and end by sid / sub with exact index
 * matching, on a real store in a temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "federation/fed_session.h"
#include "hub/err.h"
#include "hub/store.h"
#include "tests/check.h"

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
    fed_identity_t id = {
        .sub = sub, .sid = sid, .name = "Alice", .email = "a@example.com", .client_id = "c1", .roles = roles, .nroles = 2};
    CHECK(fed_session_create(store, &id, "id.token.hint", 3600, cookie) == 0);
    CHECK(strlen(cookie) == FED_SESSION_COOKIE_LEN);
}

int main(void)
{
    char dir[] = "/tmp/fedsession-XXXXXX", cmd[128];
    hub_store_t *store = NULL;
    char a[44], b[44], c[44], d[44], e[44];
    h2o_mem_pool_t pool;
    fed_identity_t id;
    const char *hint;
    size_t n;

    if (mkdtemp(dir) == NULL || hub_store_open(&store, dir) != 0) {
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
        fed_identity_t bad = {.sub = ""};
        CHECK(fed_session_create(store, &bad, NULL, 60, e) == HUB_E_INVAL);
    }

    hub_store_close(store);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_report("federation/session");
}
