/* Tests idp/owner_index.c on both backends: the one-time build of a store written before the index (in chunks that
 * resume after the last key, over more records than a chunk; stopped and started again; the mark set only once it is
 * complete), sessions ended by user through the index or the scan (idp_session_end_user), bad entries and ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/store.h"
#include "idp/family.h"
#include "idp/idp.h"
#include "idp/owner_index.h"
#include "idp/session.h"
#include "tests/check.h"
#include "tests/support/backend.h"
#include "tests/support/owners.h"
#include "tests/support/primary.h"

#define MANY (2 * IDP_OWNER_INDEX_CHUNK + 7)
#define BATCH 2000

static test_backend_t *B;
static hub_store_t *S;

static int open_fresh(void)
{
    S = NULL;
    CHECK(test_backend_fresh(B) == 0 && test_backend_open(B, &S, NULL, 0) == 0);
    return S != NULL;
}

static int ready(void)
{
    hub_txn_t *txn;
    int r = -1;
    if (hub_store_read_begin(S, &txn) == 0) {
        r = idp_owner_index_ready(txn);
        hub_store_read_end(txn);
    }
    return r;
}

/* ---- the build ---- */

typedef struct {
    int from, to;
    char (*ids)[33];
} many_t;

static int many_txn(hub_txn_t *txn, void *arg)
{
    many_t *m = arg;
    int ret = 0;
    for (int i = m->from; ret == 0 && i != m->to; ++i)
        ret = test_family_old(txn, i % 3 == 0 ? "cli-m" : "cli-n", "sub-m", i % 2 ? "sid-m" : "sid-n", hub_now() + 3600, m->ids[i]);
    return ret;
}

typedef struct {
    int calls, stop_at; /* stop_at: the call that says stop (0: never) */
} stopper_t;

static int stop_cb(void *arg, unsigned took_ms)
{
    stopper_t *s = arg;
    (void)took_ms;
    return ++s->calls == s->stop_at;
}

static int revoke_sub_txn(hub_txn_t *txn, void *arg)
{
    return idp_family_revoke_sub(txn, arg, NULL);
}

static int count_revoked(char (*ids)[33], int n)
{
    int revoked = 0;
    for (int i = 0; i != n; ++i)
        revoked += test_family_state(S, ids[i]) == 1;
    return revoked;
}

/* More old families than two chunks: a build stopped after its first chunk leaves the mark unset (revocations scan);
 * run again it completes, each chunk resuming after the last key, and the index reaches every one of them. */
static void test_build_chunks(void)
{
    char(*ids)[33] = calloc(MANY, sizeof(*ids));
    stopper_t once = {0, 1}, never = {0, 0};

    if (!open_fresh())
        goto out;
    for (int i = 0; i < MANY; i += BATCH) {
        many_t m = {i, i + BATCH < MANY ? i + BATCH : MANY, ids};
        CHECK_RC(hub_store_write(S, many_txn, &m), 0);
    }
    CHECK_RC(idp_owner_index_build(S, idp_owner_sources, idp_owner_nsources, stop_cb, &once), HUB_E_CANCELLED);
    CHECK(ready() == 0 && once.calls == 1); /* asked between the first chunk and the second */
    CHECK_RC(idp_owner_index_build(S, idp_owner_sources, idp_owner_nsources, stop_cb, &never), 0);
    CHECK(ready() == 1);
    CHECK(never.calls == 2); /* between three chunks of families (the last one short); one of (no) sessions */
    CHECK_RC(idp_owner_index_build(S, idp_owner_sources, idp_owner_nsources, stop_cb, &never), 0); /* done: not walked again */
    CHECK(never.calls == 2);
    CHECK_RC(hub_store_write(S, revoke_sub_txn, "sub-m"), 0);
    CHECK(count_revoked(ids, MANY) == MANY);
    hub_store_close(S);
out:
    free(ids);
}

/* ---- sessions by user ---- */

typedef struct {
    const char *sub;
    int old; /* written before the index */
    char hash[44], sid[33];
} ses_t;

static int sessions_txn(hub_txn_t *txn, void *arg)
{
    ses_t *s = arg;
    int ret = 0;

    for (; ret == 0 && s->sub != NULL; ++s) {
        if (s->old) {
            ret = test_session_old(txn, s->sub, hub_now() + 3600, s->hash, s->sid);
            continue;
        }
        idp_session_new_t n = {.auth_time = hub_now(), .expires_at = hub_now() + 3600};
        hub_random_token(n.cookie, 32);
        hub_random_token(n.sid, 24);
        hub_secret_hash(n.hash, n.cookie, strlen(n.cookie));
        memcpy(s->hash, n.hash, sizeof(n.hash));
        memcpy(s->sid, n.sid, sizeof(n.sid));
        ret = idp_session_put(txn, &n, s->sub);
    }
    return ret;
}

typedef struct {
    const char *sub, *keep_sid;
    size_t ended;
} end_t;

static int end_txn(hub_txn_t *txn, void *arg)
{
    end_t *e = arg;
    return idp_session_end_user(txn, e->sub, e->keep_sid, &e->ended);
}

static size_t end_user(const char *sub, const char *keep_sid)
{
    end_t e = {sub, keep_sid, 0};
    CHECK_RC(hub_store_write(S, end_txn, &e), 0);
    return e.ended;
}

/* Which of s still exist: '1' or '0' each. */
static const char *alive(const ses_t *s)
{
    static char buf[32];
    size_t i = 0;
    for (; s[i].sub != NULL && i + 1 < sizeof(buf); ++i)
        buf[i] = test_session_exists(S, s[i].hash) ? '1' : '0';
    buf[i] = '\0';
    return buf;
}

#define CHECK_ALIVE(s, want)                                                                                                       \
    do {                                                                                                                           \
        const char *got_ = alive(s);                                                                                               \
        if (strcmp(got_, want) != 0) {                                                                                             \
            fprintf(stderr, "%s:%d: [%s] sessions %s, want %s\n", __FILE__, __LINE__, B->name, got_, want);                        \
            failures++;                                                                                                            \
        }                                                                                                                          \
    } while (0)

/* A user's sessions end through the index (keep_sid kept, other users' untouched); sessions written before it are
 * reached by the scan while the mark is unset, missed by an index marked complete without them (so only the build
 * sets it), and reached through the index once built. */
static void test_sessions(void)
{
    ses_t s[] = {{"sub-a"}, {"sub-a"}, {"sub-a", 1}, {"sub-b"}, {"sub-b", 1}, {"sub-a", 1}, {"sub-ab"}, {NULL}};

    if (!open_fresh())
        return;
    CHECK_RC(hub_store_write(S, sessions_txn, s), 0);
    CHECK_RC(test_owner_index_mark(S), 0);
    CHECK(end_user("sub-a", s[1].sid) == 1); /* the index: s[0] only (s[1] kept, s[2] and s[5] not listed) */
    CHECK_ALIVE(s, "0111111");
    CHECK_RC(test_owner_index_clear(S), 0);
    CHECK(end_user("sub-a", s[1].sid) == 2); /* the scan: the old ones too */
    CHECK_ALIVE(s, "0101101");
    CHECK_RC(idp_owner_index_build(S, idp_owner_sources, idp_owner_nsources, NULL, NULL), 0);
    CHECK(ready() == 1);
    CHECK(end_user("sub-b", NULL) == 2); /* built: the old one of sub-b through the index */
    CHECK_ALIVE(s, "0100001");
    CHECK(end_user("sub-a", NULL) == 1);
    CHECK_ALIVE(s, "0000001");
    CHECK(end_user("sub-a", NULL) == 0);
    CHECK(end_user("nobody", NULL) == 0);
    hub_store_close(S);
}

typedef struct {
    const char *owner, *member;
} plant_t;

static int plant_txn(hub_txn_t *txn, void *arg)
{
    const plant_t *p = arg;
    int ret = 0;
    for (; ret == 0 && p->owner != NULL; ++p)
        ret = idp_owner_index_put(txn, IDP_OWNER_SESSION_SUB, p->owner, p->member, hub_now() + 3600);
    return ret;
}

/* Entries of a user naming another user's session, a session gone, a "sid:" pointer's key, a key that is no hash:
 * ending the user's sessions ends none of them, and fails on none. */
static void test_stale_sessions(void)
{
    ses_t s[] = {{"sub-b"}, {"sub-x"}, {NULL}};
    char sid_key[64];

    if (!open_fresh())
        return;
    CHECK_RC(idp_owner_index_build(S, idp_owner_sources, idp_owner_nsources, NULL, NULL), 0);
    CHECK_RC(hub_store_write(S, sessions_txn, s), 0);
    CHECK(end_user("sub-x", NULL) == 1); /* s[1]: its hash gone, its entry stays */
    snprintf(sid_key, sizeof(sid_key), "sid:%s", s[0].sid);
    plant_t p[] = {{"sub-x", s[0].hash}, {"sub-x", s[1].hash}, {"sub-x", sid_key}, {"sub-x", "not-a-hash"}, {NULL}};
    CHECK_RC(hub_store_write(S, plant_txn, p), 0);
    CHECK(end_user("sub-x", NULL) == 0);
    CHECK_ALIVE(s, "10");
    CHECK(end_user("sub-b", NULL) == 1);
    CHECK_ALIVE(s, "00");
    hub_store_close(S);
}

/* The key an entry had before keys began with the member's first characters: kind, the owner's hash, the member's. */
static int put_old_entry(hub_txn_t *txn, const char *tag, const char *owner, const char *member)
{
    uint8_t md[HUB_SHA256_LEN];
    char key[128];
    size_t n;

    n = (size_t)snprintf(key, sizeof(key), "%s\n", tag);
    hub_sha256(md, owner, strlen(owner));
    n += hub_b64url_encode(key + n, md, sizeof(md));
    key[n++] = '\n';
    hub_sha256(md, member, strlen(member));
    n += hub_b64url_encode(key + n, md, sizeof(md));
    return hub_store_put(txn, HUB_T_OWNER_INDEX, key, n, member, strlen(member), hub_now() + 3600, 0);
}

typedef struct {
    ses_t *s;
    char fam[33];
    idp_owner_list_t listed;
} both_t;

static int both_forms_txn(hub_txn_t *txn, void *arg)
{
    both_t *b = arg;
    int ret;
    if ((ret = idp_family_create(txn, "cli-2", "sub-2", b->s[0].sid, NULL, hub_now() + 3600, b->fam)) == 0 &&
        (ret = put_old_entry(txn, "ses", "sub-2", b->s[0].hash)) == 0 && (ret = put_old_entry(txn, "cli", "cli-2", b->fam)) == 0)
        ret = idp_owner_index_list(txn, IDP_OWNER_FAMILY_CLIENT, "cli-2", &b->listed);
    return ret;
}

static int revoke_client_txn(hub_txn_t *txn, void *arg)
{
    return idp_family_revoke_client(txn, arg);
}

/* A member listed under both forms of key (an entry from before keys began with the member's first characters, and
 * one written since: a family extended after the change): listed twice, revoked or ended once, without an error. */
static void test_both_key_forms(void)
{
    ses_t s[] = {{"sub-2"}, {NULL}};
    both_t b = {s, {0}, {NULL, 0, 0}};
    hub_txn_t *txn;
    idp_family_t *f = NULL;

    if (!open_fresh())
        return;
    CHECK_RC(idp_owner_index_build(S, idp_owner_sources, idp_owner_nsources, NULL, NULL), 0);
    CHECK_RC(hub_store_write(S, sessions_txn, s), 0);
    CHECK_RC(hub_store_write(S, both_forms_txn, &b), 0);
    CHECK(b.listed.n == 2 && strcmp(b.listed.v[0], b.fam) == 0 && strcmp(b.listed.v[1], b.fam) == 0);
    idp_owner_list_free(&b.listed);
    CHECK_RC(hub_store_write(S, revoke_client_txn, "cli-2"), 0);
    CHECK_RC(hub_store_read_begin(S, &txn), 0);
    CHECK(idp_family_get(txn, b.fam, &f) == 0 && f != NULL && f->revoked);
    idp_family_free(f);
    hub_store_read_end(txn);
    CHECK(end_user("sub-2", NULL) == 1);
    CHECK_ALIVE(s, "0");
    hub_store_close(S);
}

static int bad_put_txn(hub_txn_t *txn, void *arg)
{
    char long_member[600];
    idp_owner_list_t l;

    memset(long_member, 'f', sizeof(long_member) - 1);
    long_member[sizeof(long_member) - 1] = '\0';
    CHECK_RC(idp_owner_index_put(txn, IDP_OWNER_FAMILY_SID, "sid", "", 0), HUB_E_INVAL);
    CHECK_RC(idp_owner_index_put(txn, IDP_OWNER_FAMILY_SID, "sid", NULL, 0), HUB_E_INVAL);
    CHECK_RC(idp_owner_index_put(txn, IDP_OWNER_FAMILY_SID, "sid", long_member, 0), HUB_E_INVAL);
    CHECK_RC(idp_owner_index_put(txn, (idp_owner_kind_t)99, "sid", "fam", 0), HUB_E_INVAL);
    CHECK_RC(idp_owner_index_put(txn, IDP_OWNER_FAMILY_SID, NULL, "fam", 0), 0); /* no owner: nothing listed */
    long_member[500] = '\0';                                                     /* an owner of any length: hashed */
    CHECK_RC(idp_owner_index_put(txn, IDP_OWNER_FAMILY_SUB, long_member, "fam", 0), 0);
    CHECK_RC(idp_owner_index_list(txn, IDP_OWNER_FAMILY_SUB, long_member, &l), 0);
    CHECK(l.n == 1 && strcmp(l.v[0], "fam") == 0);
    idp_owner_list_free(&l);
    CHECK_RC(idp_owner_index_list(txn, IDP_OWNER_FAMILY_SID, NULL, &l), HUB_E_INVAL);
    CHECK(l.n == 0);
    return 0;
}

/* What the index refuses, and ids of any length. */
static void test_bad_input(void)
{
    if (!open_fresh())
        return;
    CHECK_RC(hub_store_write(S, bad_put_txn, NULL), 0);
    hub_store_close(S);
}

typedef struct {
    const char *sid;
    idp_session_t *ended;
} logout_t;

static int logout_txn(hub_txn_t *txn, void *arg)
{
    logout_t *l = arg;
    idp_session_free(l->ended);
    l->ended = NULL;
    return idp_session_end(txn, l->sid, &l->ended);
}

static int old_txn(hub_txn_t *txn, void *arg)
{
    char(*f)[33] = arg;
    const char *sid = (const char *)f[4];
    int ret = 0;
    for (int i = 0; ret == 0 && i != 3; ++i)
        ret = test_family_old(txn, "cli-s", i == 2 ? "sub-t" : "sub-s", i == 2 ? "sid-other" : sid, hub_now() + 3600, f[i]);
    return ret;
}

/* A store written before the index: the primary's start-up thread builds it (the node serving meanwhile), and then a
 * logout (idp_session_end: what POST /logout writes) revokes the old families of its session through the index. */
static void test_startup(void)
{
    ses_t s[] = {{"sub-s", 1}, {"sub-s", 1}, {NULL}};
    char f[5][33];
    test_primary_t p;
    logout_t l = {NULL, NULL};
    time_t deadline;

    if (!open_fresh())
        return;
    CHECK_RC(hub_store_write(S, sessions_txn, s), 0);
    memcpy(f[4], s[0].sid, sizeof(f[4]));
    CHECK_RC(hub_store_write(S, old_txn, f), 0);
    CHECK(ready() == 0);
    test_primary_start_store(&p, "idp-owners", NULL, S);
    /* bounded wait for the thread (not a speed check: a minute on a machine this busy is no failure of the index) */
    for (deadline = time(NULL) + 120; ready() != 1 && time(NULL) < deadline;)
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    CHECK(ready() == 1);
    l.sid = s[0].sid;
    CHECK_RC(hub_store_write(S, logout_txn, &l), 0);
    CHECK(l.ended != NULL && strcmp(l.ended->sub, "sub-s") == 0);
    CHECK(test_family_state(S, f[0]) == 1 && test_family_state(S, f[1]) == 1 && test_family_state(S, f[2]) == 0);
    CHECK(end_user("sub-s", NULL) == 1); /* the other old session, through the index */
    CHECK_ALIVE(s, "00");
    idp_session_free(l.ended);
    test_primary_stop(&p);
    hub_store_close(S);
}

static void run(test_backend_t *b)
{
    B = b;
    test_build_chunks();
    test_sessions();
    test_stale_sessions();
    test_both_key_forms();
    test_bad_input();
    test_startup();
}

int main(void)
{
    failures += test_backend_each(&B, run);
    return check_report("idp/owner_index");
}
