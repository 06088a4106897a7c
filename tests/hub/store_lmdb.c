/* Tests what is LMDB's own in hub/store_lmdb.c: the map that grows in one process and in another. What both backends
 * do: tests/hub/store.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/store.h"
#include "tests/check.h"
#include "tests/support/backend.h"
#include "tests/support/tmpdir.h"

#define GROW_VLEN 1000

static void test_growth(void)
{
    char *dir = test_tmpdir("store");
    hub_store_t *s = NULL;
    size_t initial;
    int n = 0;

    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK(hub_store_healthy(s) == 1); /* an embedded store has no link to lose */
    initial = hub_store_mapsize(s);
    CHECK(initial == (size_t)8 << 20);
    /* 24 MB in six calls, then 16 MB in a single call that needs more than one doubling */
    for (int i = 0; i < 6; i++, n += 4000)
        CHECK_RC(test_write_many(s, "g%06d", n, n + 4000, GROW_VLEN, 0), 0);
    CHECK_RC(test_write_many(s, "g%06d", n, n + 16000, GROW_VLEN, 0), 0);
    n += 16000;
    CHECK(hub_store_mapsize(s) >= (size_t)40 << 20);
    CHECK(test_verify_many(s, "g%06d", 0, n, GROW_VLEN) == n);
    hub_store_close(s);
    s = NULL;
    /* the grown size is kept */
    CHECK_RC(hub_store_open(&s, dir), 0);
    if (s == NULL)
        goto out;
    CHECK(hub_store_mapsize(s) >= (size_t)40 << 20);
    CHECK(test_verify_many(s, "g%06d", 0, n, GROW_VLEN) == n);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

static int child_fail(const char *what)
{
    fprintf(stderr, "FAIL child: %s\n", what);
    return 1;
}

#define BIG_N 24000

static int child_grow(void *dir, int done_fd)
{
    hub_store_t *s = NULL;
    int rc = 0;

    if (hub_store_open(&s, dir) != 0)
        return child_fail("open");
    for (int i = 0; i < BIG_N && rc == 0; i += 6000)
        if (test_write_many(s, "c%06d", i, i + 6000, GROW_VLEN, 0) != 0)
            rc = child_fail("write");
    if (rc == 0 && hub_store_mapsize(s) <= (size_t)8 << 20)
        rc = child_fail("map did not grow");
    hub_store_close(s);
    return rc;
}

/* A child grows the map while the parent sits on a small one: the parent follows (MDB_MAP_RESIZED). */
static void test_map_resized(void)
{
    char *dir = test_tmpdir("store"), buf[64];
    hub_store_t *s = NULL;
    int go[2], done[2];
    pid_t pid;

    pid = test_fork_child(go, done, child_grow, dir);
    CHECK_RC(hub_store_open(&s, dir), 0);
    CHECK(write(go[1], "g", 1) == 1);
    CHECK(test_wait_child(pid) == 0);
    close(go[1]);
    close(done[1]);
    if (s == NULL)
        goto out;
    CHECK(hub_store_mapsize(s) == (size_t)8 << 20);
    CHECK(test_verify_many(s, "c%06d", 0, BIG_N, GROW_VLEN) == BIG_N);
    CHECK(hub_store_mapsize(s) > (size_t)8 << 20);
    CHECK_RC(test_put(s, HUB_T_USERS, "after", "x", 0, 0), 0);
    CHECK_RC(test_get(s, HUB_T_USERS, "after", buf, sizeof(buf)), 0);
out:
    hub_store_close(s);
    CHECK(test_tmpdir_remove(dir) == 0);
}

int main(void)
{
    test_growth();
    test_map_resized();
    return check_report("hub/store_lmdb");
}
