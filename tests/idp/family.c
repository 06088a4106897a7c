/* Tests idp/family.c on both backends: revocation by session (logout), user (keep_sid) and client reaches exactly the
 * owner's families through the owner index once it is complete, and through a scan of every family while it is not;
 * index entries that outlived or never matched their family are harmless; extending a family extends its entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "idp/family.h"
#include "idp/owner_index.h"
#include "tests/check.h"
#include "tests/support/backend.h"
#include "tests/support/owners.h"

static test_backend_t *B;
static hub_store_t *S;

static const idp_owner_source_t families_only[] = {{HUB_T_FAMILIES, "token families", idp_family_index_record}};

/* A family to make: its owners, whether the old way (no index entries), its id once made. */
typedef struct {
    const char *client, *sub, *sid;
    int old;
    char id[33];
} fam_t;

typedef struct {
    fam_t *f;
    size_t n;
    uint64_t exp;
} make_t;

static int make_txn(hub_txn_t *txn, void *arg)
{
    make_t *m = arg;
    int ret = 0;
    for (size_t i = 0; ret == 0 && i != m->n; ++i)
        ret = m->f[i].old ? test_family_old(txn, m->f[i].client, m->f[i].sub, m->f[i].sid, m->exp, m->f[i].id)
                          : idp_family_create(txn, m->f[i].client, m->f[i].sub, m->f[i].sid, NULL, m->exp, m->f[i].id);
    return ret;
}

static void make(fam_t *f, size_t n, uint64_t exp)
{
    make_t m = {f, n, exp};
    CHECK_RC(hub_store_write(S, make_txn, &m), 0);
}

/* A revocation to run: by "sid" (of the user keep), "sub" (keeping the session keep) or "cli", of value. */
typedef struct {
    const char *by, *value, *keep;
} rev_t;

static int revoke_txn(hub_txn_t *txn, void *arg)
{
    rev_t *r = arg;
    if (strcmp(r->by, "sid") == 0)
        return idp_family_revoke_sid(txn, r->value, r->keep);
    if (strcmp(r->by, "sub") == 0)
        return idp_family_revoke_sub(txn, r->value, r->keep);
    return idp_family_revoke_client(txn, r->value);
}

static int revoke(const char *by, const char *value, const char *keep)
{
    rev_t r = {by, value, keep};
    return hub_store_write(S, revoke_txn, &r);
}

/* The states of f[0..n) as a string of '0' (live), '1' (revoked), '-' (absent). */
static const char *states(fam_t *f, size_t n)
{
    static char buf[64];
    for (size_t i = 0; i != n && i + 1 < sizeof(buf); ++i) {
        int s = test_family_state(S, f[i].id);
        buf[i] = s == 1 ? '1' : s == 0 ? '0' : '-';
        buf[i + 1] = '\0';
    }
    return buf;
}

#define CHECK_STATES(f, want)                                                                                                      \
    do {                                                                                                                           \
        const char *got_ = states(f, sizeof(f) / sizeof(f[0]));                                                                    \
        if (strcmp(got_, want) != 0) {                                                                                             \
            fprintf(stderr, "%s:%d: [%s] families %s, want %s\n", __FILE__, __LINE__, B->name, got_, want);                        \
            failures++;                                                                                                            \
        }                                                                                                                          \
    } while (0)

static void open_fresh(int indexed)
{
    S = NULL;
    CHECK(test_backend_fresh(B) == 0 && test_backend_open(B, &S, NULL, 0) == 0);
    if (S != NULL && indexed)
        CHECK_RC(idp_owner_index_build(S, families_only, 1, NULL, NULL), 0);
}

/* Logout, a user's revocation with and without keep_sid, a client's deletion: exactly the owner's families, by the
 * index (indexed) or by the scan of a store whose index is not complete. */
static void test_by_owner(int indexed)
{
    fam_t f[] = {
        {"cli-x", "sub-a", "sid-1"}, {"cli-y", "sub-a", "sid-1"}, {"cli-x", "sub-a", "sid-2"},   {"cli-x", "sub-b", "sid-3"},
        {"cli-y", "sub-a", NULL},    {"cli-z", "sub-b", "sid-3"}, {"cli-z", "sub-ab", "sid-12"},
    };

    open_fresh(indexed);
    if (S == NULL)
        return;
    make(f, sizeof(f) / sizeof(f[0]), hub_now() + 3600);
    CHECK_RC(revoke("sid", "sid-1", "sub-a"), 0); /* sign-out: that session's families, whoever else shares a prefix */
    CHECK_STATES(f, "1100000");
    CHECK_RC(revoke("sid", "sid-1", "sub-a"), 0); /* again: nothing more, no error */
    CHECK_RC(revoke("sub", "sub-a", "sid-2"), 0); /* user disable keeping one session */
    CHECK_STATES(f, "1100100");
    CHECK_RC(revoke("sub", "sub-a", NULL), 0);
    CHECK_STATES(f, "1110100");
    CHECK_RC(revoke("cli", "cli-x", NULL), 0); /* client deletion */
    CHECK_STATES(f, "1111100");
    CHECK_RC(revoke("cli", "cli-z", NULL), 0);
    CHECK_STATES(f, "1111111");
    CHECK_RC(revoke("sid", "nobody", "sub-a"), 0);
    CHECK_RC(revoke("sub", "", NULL), 0);
    hub_store_close(S);
}

/* Families written before the index: while the mark is unset every revocation scans and reaches them; a mark set over an
 * index that lacks them would miss them (the walk reads the index alone: why only the complete build sets it); the
 * build lists them and the index path then reaches them. */
static void test_old_families(void)
{
    fam_t f[] = {
        {"cli-o", "sub-o", "sid-o", 1}, {"cli-o", "sub-o", "sid-p", 1}, {"cli-q", "sub-o", "sid-q", 1},
        {"cli-o", "sub-r", "sid-r", 1}, {"cli-q", "sub-o", "sid-o", 0},
    };

    open_fresh(0);
    if (S == NULL)
        return;
    make(f, sizeof(f) / sizeof(f[0]), hub_now() + 3600);
    CHECK_RC(test_owner_index_mark(S), 0);
    CHECK_RC(revoke("sid", "sid-o", "sub-o"), 0);
    CHECK_STATES(f, "00001"); /* the index path: only the family written with its listing */
    CHECK_RC(test_owner_index_clear(S), 0);
    CHECK_RC(revoke("sid", "sid-o", "sub-o"), 0); /* the scan: the old one too */
    CHECK_STATES(f, "10001");
    CHECK_RC(idp_owner_index_build(S, families_only, 1, NULL, NULL), 0);
    CHECK_RC(revoke("sub", "sub-o", "sid-q"), 0);
    CHECK_STATES(f, "11001");
    CHECK_RC(revoke("cli", "cli-q", NULL), 0);
    CHECK_STATES(f, "11101");
    CHECK_RC(revoke("sub", "sub-r", NULL), 0);
    CHECK_STATES(f, "11111");
    hub_store_close(S);
}

typedef struct {
    const char *kind_owner[4][2]; /* {kind tag, owner} entries to plant, pointing at member */
    const char *member;
    uint64_t exp;
} plant_t;

static int plant_txn(hub_txn_t *txn, void *arg)
{
    static const char *const tags[] = {"sid", "sub", "cli"};
    static const idp_owner_kind_t kinds[] = {IDP_OWNER_FAMILY_SID, IDP_OWNER_FAMILY_SUB, IDP_OWNER_FAMILY_CLIENT};
    plant_t *p = arg;
    int ret = 0;

    for (size_t i = 0; ret == 0 && i != 4 && p->kind_owner[i][0] != NULL; ++i)
        for (size_t k = 0; k != 3; ++k)
            if (strcmp(p->kind_owner[i][0], tags[k]) == 0)
                ret = idp_owner_index_put(txn, kinds[k], p->kind_owner[i][1], p->member, p->exp);
    return ret;
}

static int del_txn(hub_txn_t *txn, void *arg)
{
    return hub_store_del(txn, HUB_T_FAMILIES, arg, strlen(arg));
}

/* Entries whose member is gone, expired, someone else's, or no family at all: each walk still succeeds and revokes
 * only what is the owner's. */
static void test_stale_entries(void)
{
    fam_t f[] = {{"cli-b", "sub-b", "sid-b"}, {"cli-g", "sub-g", "sid-g"}, {"cli-e", "sub-e", "sid-e"}};
    uint64_t later = hub_now() + 3600;

    open_fresh(1);
    if (S == NULL)
        return;
    make(f, 2, later);
    make(f + 2, 1, hub_now() - 5);                     /* expired at once */
    CHECK_RC(hub_store_write(S, del_txn, f[1].id), 0); /* deleted: its entries stay */
    plant_t someone_else = {{{"sid", "sid-s"}, {"sub", "sub-s"}, {"cli", "cli-s"}, {"sub", "sub-b"}}, f[0].id, later};
    plant_t gone = {{{"sid", "sid-s"}, {"sub", "sub-s"}, {"cli", "cli-s"}}, f[1].id, later};
    plant_t expired = {{{"sid", "sid-s"}, {"sub", "sub-s"}, {"cli", "cli-s"}}, f[2].id, later};
    plant_t nothing = {{{"sid", "sid-s"}, {"sub", "sub-s"}, {"cli", "cli-s"}}, "no-such-family", later};
    plant_t *plants[] = {&someone_else, &gone, &expired, &nothing};
    for (size_t i = 0; i != sizeof(plants) / sizeof(plants[0]); ++i)
        CHECK_RC(hub_store_write(S, plant_txn, plants[i]), 0);
    CHECK_RC(revoke("sid", "sid-s", NULL), 0);
    CHECK_RC(revoke("sub", "sub-s", NULL), 0);
    CHECK_RC(revoke("cli", "cli-s", NULL), 0);
    CHECK_STATES(f, "0--");
    CHECK_RC(revoke("sub", "sub-b", "sid-b"), 0); /* its own entries and the planted one: keep_sid holds for both */
    CHECK_STATES(f, "0--");
    CHECK_RC(revoke("sid", "sid-g", NULL), 0);
    CHECK_RC(revoke("cli", "cli-e", NULL), 0);
    CHECK_RC(revoke("sub", "sub-b", NULL), 0);
    CHECK_STATES(f, "1--");
    hub_store_close(S);
}

static int extend_txn(hub_txn_t *txn, void *arg)
{
    fam_t *f = arg;
    uint64_t until = hub_now() + 100000;
    int ret = 0;
    for (size_t i = 0; ret == 0 && i != 2; ++i)
        ret = idp_family_extend(txn, f[i].id, until);
    return ret;
}

/* A family's entries live as long as it when a refresh extends it: the sweep of what expired before its new expiry
 * keeps them, and a family older than the index gets entries at its first extension. Without the extension the entries
 * (made to expire with the family, a minute and a half after it was made) would be swept and logout, a user's
 * revocation or the client's deletion would miss the family. */
static void test_extend(void)
{
    fam_t f[] = {{"cli-t", "sub-t", "sid-t"}, {"cli-u", "sub-u", "sid-u", 1}, {"cli-v", "sub-v", "sid-v"}};
    size_t removed = 0;

    open_fresh(1);
    if (S == NULL)
        return;
    make(f, sizeof(f) / sizeof(f[0]), hub_now() + 60);
    CHECK_RC(hub_store_write(S, extend_txn, f), 0);
    CHECK_RC(hub_store_sweep(S, hub_now() + 5000, &removed), 0);
    CHECK(removed >= 3); /* f[2] and its entries at least */
    CHECK_STATES(f, "00-");
    CHECK_RC(revoke("sid", "sid-t", "sub-t"), 0);
    CHECK_RC(revoke("cli", "cli-u", NULL), 0);
    CHECK_STATES(f, "11-");
    hub_store_close(S);
}

typedef struct {
    const char *id;
    uint64_t until;
} ext_t;

static int extend_one_txn(hub_txn_t *txn, void *arg)
{
    ext_t *e = arg;
    return idp_family_extend(txn, e->id, e->until);
}

/* The expiry of f's listing under its user, or 0 when there is none. */
static uint64_t listing_exp(const fam_t *f)
{
    char key[256];
    hub_txn_t *txn;
    uint64_t exp = 0;
    snprintf(key, sizeof(key), "%s\n%s\n%s", f->sub, f->client, f->id);
    if (hub_store_read_begin(S, &txn) != 0)
        return 0;
    if (hub_store_expiry(txn, HUB_T_USER_FAMILIES, key, strlen(key), &exp) != 0)
        exp = 0;
    hub_store_read_end(txn);
    return exp;
}

/* A family grows past what it must cover by half the remaining time, so a refresh chain rewrites it rarely: an
 * extension within that margin leaves it as it is; one beyond grows it again by half; its entries expire with it, in
 * the same second (one place in the expiry index), before and after it grows, and the sweep takes them with it. */
static void test_extend_margin(void)
{
    fam_t f[] = {{"cli-m", "sub-m", "sid-m"}};
    uint64_t now = hub_now(), exp;
    size_t removed = 0;

    open_fresh(1);
    if (S == NULL)
        return;
    make(f, 1, now + 1000);
    exp = test_family_expiry(S, f[0].id);
    /* (a second may pass between now and the make: half of 999 s is 499) */
    CHECK(exp + 1 >= now + 1500 && exp <= hub_now() + 1500 && listing_exp(&f[0]) == exp);
    ext_t e = {f[0].id, now + 1400};
    CHECK_RC(hub_store_write(S, extend_one_txn, &e), 0);
    CHECK(test_family_expiry(S, f[0].id) == exp && listing_exp(&f[0]) == exp);
    e.until = hub_now() + 2000;
    CHECK_RC(hub_store_write(S, extend_one_txn, &e), 0);
    exp = test_family_expiry(S, f[0].id);
    CHECK(exp >= e.until + 1000 - 1 && exp <= e.until + 1000 && listing_exp(&f[0]) == exp);
    CHECK_RC(hub_store_sweep(S, exp - 1, &removed), 0);
    CHECK_STATES(f, "0");
    CHECK_RC(revoke("sid", "sid-m", "sub-m"), 0);
    CHECK_STATES(f, "1");
    CHECK_RC(hub_store_sweep(S, exp, &removed), 0);
    CHECK_STATES(f, "-");
    CHECK(listing_exp(&f[0]) == 0);
    hub_store_close(S);
    CHECK(test_backend_count(B, HUB_T_USER_FAMILIES, 0) == 0 && test_backend_count(B, HUB_T_OWNER_INDEX, 0) == 0);
}

/* Families a previous version wrote: listed by session, user and client in the owner index, not under their user. Logout
 * and a user's revocation still reach them (the index's sid and sub entries are read as well as the user's listing),
 * and only them: another session's family and another user's stay live. */
static void test_index_entries_of_before(void)
{
    fam_t f[] = {{"cli-p", "sub-p", "sid-p", 1}, {"cli-p", "sub-p", "sid-q", 1}, {"cli-p", "sub-w", "sid-w", 1},
                 {"cli-p", "sub-p", "sid-p"}};

    open_fresh(1);
    if (S == NULL)
        return;
    make(f, sizeof(f) / sizeof(f[0]), hub_now() + 3600);
    for (size_t i = 0; i != 3; ++i) {
        plant_t p = {{{"sid", f[i].sid}, {"sub", f[i].sub}, {"cli", f[i].client}}, f[i].id, hub_now() + 7200};
        CHECK_RC(hub_store_write(S, plant_txn, &p), 0);
    }
    CHECK_RC(revoke("sid", "sid-p", "sub-p"), 0);
    CHECK_STATES(f, "1001"); /* the old family by its sid entry, the new one by its user's listing */
    CHECK_RC(revoke("sub", "sub-p", NULL), 0);
    CHECK_STATES(f, "1101");
    CHECK_RC(revoke("sub", "sub-w", NULL), 0);
    CHECK_STATES(f, "1111");
    hub_store_close(S);
}

static void run(test_backend_t *b)
{
    B = b;
    test_by_owner(1);
    test_by_owner(0);
    test_old_families();
    test_stale_entries();
    test_extend();
    test_extend_margin();
    test_index_entries_of_before();
}

int main(void)
{
    failures += test_backend_each(&B, run);
    return check_report("idp/family");
}
