/* Tests idp/grants.c: families, single-use codes, refresh rotation with reuse detection, jti revocation, consent grants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hub/clock.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/store.h"
#include "hub/util.h"
#include "idp/grants.h"
#include "idp/mint.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

/* Runs fn in one write transaction; its return value decides commit (0) or abort. */
static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

/* ---- families ---- */

static char fam_a[33], fam_b[33], fam_c[33], fam_d[33];

static int families_txn(hub_txn_t *txn, void *arg)
{
    uint64_t exp = hub_now() + 3600;
    CHECK(idp_family_create(txn, "client-a", "sub-1", "sid-1", NULL, exp, fam_a) == 0);
    CHECK(idp_family_create(txn, "client-a", "sub-2", "sid-2", NULL, exp, fam_b) == 0);
    CHECK(idp_family_create(txn, "client-b", "sub-1", "sid-1", NULL, exp, fam_c) == 0);
    CHECK(idp_family_create(txn, "client-b", "sub-3", NULL, NULL, exp, fam_d) == 0);
    CHECK(strlen(fam_a) == 32 && strcmp(fam_a, fam_b) != 0);
    return 0;
}

static int family_revoked(const char *id)
{
    hub_txn_t *txn;
    idp_family_t *f = NULL;
    int r = -1;
    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    if (idp_family_get(txn, id, &f) == 0)
        r = f->revoked;
    idp_family_free(f);
    hub_store_read_end(txn);
    return r;
}

static int revoke_client_txn(hub_txn_t *txn, void *arg)
{
    return idp_family_revoke_client(txn, arg);
}

static int revoke_sid_txn(hub_txn_t *txn, void *arg)
{
    return idp_family_revoke_sid(txn, arg, "sub-1"); /* the session's user */
}

static void test_families(void)
{
    hub_txn_t *txn;
    idp_family_t *f = NULL;

    CHECK(in_write(families_txn, NULL) == 0);
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(idp_family_get(txn, fam_a, &f) == 0);
    if (f != NULL) {
        CHECK(strcmp(f->client_id, "client-a") == 0 && strcmp(f->sub, "sub-1") == 0 && strcmp(f->sid, "sid-1") == 0);
        CHECK(!f->revoked && f->expires_at > hub_now());
        idp_family_free(f);
    }
    CHECK(idp_family_get(txn, "nope", &f) == HUB_E_NOTFOUND);
    hub_store_read_end(txn);

    CHECK(in_write(revoke_client_txn, "client-a") == 0);
    CHECK(family_revoked(fam_a) == 1 && family_revoked(fam_b) == 1 && family_revoked(fam_c) == 0);
    CHECK(in_write(revoke_sid_txn, "sid-1") == 0);
    CHECK(family_revoked(fam_c) == 1 && family_revoked(fam_d) == 0);
}

static char fam_u1[33], fam_u2[33], fam_u3[33], fam_v[33];

static int user_families_txn(hub_txn_t *txn, void *arg)
{
    uint64_t exp = hub_now() + 3600;
    CHECK(idp_family_create(txn, "client-a", "sub-u", "sid-u1", NULL, exp, fam_u1) == 0);
    CHECK(idp_family_create(txn, "client-b", "sub-u", "sid-u2", NULL, exp, fam_u2) == 0);
    CHECK(idp_family_create(txn, "client-b", "sub-u", NULL, NULL, exp, fam_u3) == 0);
    CHECK(idp_family_create(txn, "client-a", "sub-v", "sid-u1", NULL, exp, fam_v) == 0);
    return 0;
}

static int revoke_sub_txn(hub_txn_t *txn, void *arg)
{
    const char **a = arg;
    return idp_family_revoke_sub(txn, a[0], a[1]);
}

/* Every family of a user, whatever its client or session, except those of the session kept. */
static void test_families_of_user(void)
{
    const char *keep[2] = {"sub-u", "sid-u1"}, *all[2] = {"sub-u", NULL};

    CHECK(in_write(user_families_txn, NULL) == 0);
    CHECK(in_write(revoke_sub_txn, keep) == 0);
    CHECK(family_revoked(fam_u1) == 0 && family_revoked(fam_u2) == 1 && family_revoked(fam_u3) == 1);
    CHECK(family_revoked(fam_v) == 0);
    CHECK(in_write(revoke_sub_txn, all) == 0);
    CHECK(family_revoked(fam_u1) == 1 && family_revoked(fam_v) == 0);
}

/* ---- keys of codes and refresh tokens ---- */

typedef struct {
    hub_table_t table;
    const char *token;
} legacy_t;

/* The key a token's record is stored under: the token's first HUB_TIMED_CHARS characters, then the hash of it all. */
static void timed_key(char key[HUB_TIMED_CHARS + HUB_SECRET_HASH_LEN + 1], const char *token)
{
    memcpy(key, token, HUB_TIMED_CHARS);
    hub_secret_hash(key + HUB_TIMED_CHARS, token, strlen(token));
}

/* Moves the record of a token to the key of a token made before keys began with the time: its hash alone. */
static int to_legacy_txn(hub_txn_t *txn, void *arg)
{
    legacy_t *l = arg;
    char key[HUB_TIMED_CHARS + HUB_SECRET_HASH_LEN + 1];
    hub_val_t v;
    uint64_t exp = 0;
    char *copy;
    int ret;

    timed_key(key, l->token);
    if ((ret = hub_store_get(txn, l->table, key, strlen(key), &v)) != 0 ||
        (ret = hub_store_expiry(txn, l->table, key, strlen(key), &exp)) != 0)
        return ret;
    copy = hub_xstrndup(v.data, v.len);
    if ((ret = hub_store_del(txn, l->table, key, strlen(key))) == 0)
        ret = hub_store_put(txn, l->table, key + HUB_TIMED_CHARS, HUB_SECRET_HASH_LEN, copy, strlen(copy), exp, 0);
    free(copy);
    return ret;
}

/* 1 when table holds a record under the timed key of token, 2 under its bare hash, 0 under neither. */
static int stored_as(hub_table_t table, const char *token)
{
    char key[HUB_TIMED_CHARS + HUB_SECRET_HASH_LEN + 1];
    hub_txn_t *txn;
    hub_val_t v;
    int r = 0;

    timed_key(key, token);
    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    if (hub_store_get(txn, table, key, strlen(key), &v) == 0)
        r = 1;
    else if (hub_store_get(txn, table, key + HUB_TIMED_CHARS, HUB_SECRET_HASH_LEN, &v) == 0)
        r = 2;
    hub_store_read_end(txn);
    return r;
}

/* ---- codes ---- */

typedef struct {
    char family[33];
    char code[44];
    const char *client; /* the client presenting it (NULL: client-x, the code's) */
    idp_code_t *got;
    int ret;
} code_state_t;

static int code_create_txn(hub_txn_t *txn, void *arg)
{
    code_state_t *s = arg;
    idp_code_t c = {"client-x", "https://app.example/cb", "sub-9", "sid-9", "openid profile", "n0nce", "challenge", NULL, 1234, 0};
    CHECK(idp_family_create(txn, "client-x", "sub-9", "sid-9", NULL, hub_now() + 600, s->family) == 0);
    c.family = s->family;
    return idp_code_create(txn, &c, 60, s->code);
}

static int code_redeem_txn(hub_txn_t *txn, void *arg)
{
    code_state_t *s = arg;
    idp_code_free(s->got);
    s->got = NULL;
    s->ret = idp_code_redeem(txn, s->code, strlen(s->code), s->client != NULL ? s->client : "client-x", &s->got);
    return 0; /* commit even a refused redemption: it revokes the family */
}

static void test_codes(void)
{
    code_state_t s = {{0}};
    hub_txn_t *txn;
    hub_val_t val;

    CHECK(in_write(code_create_txn, &s) == 0);
    CHECK(strlen(s.code) == 43);
    /* only the hash is stored */
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(hub_store_get(txn, HUB_T_CODES, s.code, strlen(s.code), &val) == HUB_E_NOTFOUND);
    hub_store_read_end(txn);

    CHECK(in_write(code_redeem_txn, &s) == 0);
    CHECK(s.ret == 0 && s.got != NULL);
    if (s.got != NULL) {
        CHECK(strcmp(s.got->client_id, "client-x") == 0 && strcmp(s.got->redirect_uri, "https://app.example/cb") == 0);
        CHECK(strcmp(s.got->scope, "openid profile") == 0 && strcmp(s.got->nonce, "n0nce") == 0);
        CHECK(strcmp(s.got->code_challenge, "challenge") == 0 && strcmp(s.got->family, s.family) == 0);
        CHECK(s.got->auth_time == 1234 && strcmp(s.got->sid, "sid-9") == 0);
    }
    CHECK(family_revoked(s.family) == 0);
    /* replayed by another client: refused, and nothing revoked (no client takes another's tokens back) */
    s.client = "client-other";
    CHECK(in_write(code_redeem_txn, &s) == 0);
    CHECK(s.ret == HUB_E_DENIED && s.got == NULL && family_revoked(s.family) == 0);
    s.client = NULL;
    /* replay by its client: refused, and everything from the code is revoked */
    CHECK(in_write(code_redeem_txn, &s) == 0);
    CHECK(s.ret == HUB_E_DENIED && s.got == NULL);
    CHECK(family_revoked(s.family) == 1);
    /* unknown code; and presented codes that cannot be ours (too short, too long, not base64url where the time is) */
    static const char *const unknown[] = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAA", "",
                                          "AAAA\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i != sizeof(unknown) / sizeof(unknown[0]); ++i) {
        snprintf(s.code, sizeof(s.code), "%s", unknown[i]);
        CHECK(in_write(code_redeem_txn, &s) == 0);
        CHECK(s.ret == HUB_E_NOTFOUND);
    }
    idp_code_free(s.got);
    s.got = NULL;

    /* a code issued before keys began with the time (stored under its hash alone) still redeems, once */
    legacy_t l = {HUB_T_CODES, s.code};
    CHECK(in_write(code_create_txn, &s) == 0);
    CHECK(stored_as(HUB_T_CODES, s.code) == 1);
    CHECK(in_write(to_legacy_txn, &l) == 0);
    CHECK(stored_as(HUB_T_CODES, s.code) == 2);
    CHECK(in_write(code_redeem_txn, &s) == 0);
    CHECK(s.ret == 0 && s.got != NULL && strcmp(s.got->family, s.family) == 0);
    CHECK(in_write(code_redeem_txn, &s) == 0);
    CHECK(s.ret == HUB_E_DENIED && family_revoked(s.family) == 1);
    idp_code_free(s.got);
}

/* ---- refresh tokens ---- */

typedef struct {
    char family[33];
    char rt[44], rt2[44], rt3[44];
    const char *present;
    uint64_t grace;
    char *out;
    int ret;
} rt_state_t;

static int rt_create_txn(hub_txn_t *txn, void *arg)
{
    rt_state_t *s = arg;
    idp_refresh_t rec = {s->family, "client-r", "sub-r", "sid-r", "openid profile email", 77, hub_now() + 3600, NULL, 0};
    CHECK(idp_family_create(txn, "client-r", "sub-r", "sid-r", NULL, hub_now() + 600, s->family) == 0);
    return idp_refresh_create(txn, &rec, s->rt);
}

static int rt_rotate_txn(hub_txn_t *txn, void *arg)
{
    rt_state_t *s = arg;
    idp_refresh_t *r = NULL;
    /* as the refresh grant does: the record read, then rotated in the same transaction */
    if ((s->ret = idp_refresh_get(txn, s->present, strlen(s->present), &r)) == 0)
        s->ret = idp_refresh_rotate(txn, r, 3600, s->grace, s->out);
    idp_refresh_free(r);
    return 0;
}

static idp_refresh_t *rt_get(const char *token)
{
    hub_txn_t *txn;
    idp_refresh_t *r = NULL;
    if (hub_store_read_begin(store, &txn) != 0)
        return NULL;
    if (idp_refresh_get(txn, token, strlen(token), &r) != 0)
        r = NULL;
    hub_store_read_end(txn);
    return r;
}

typedef struct {
    const char *token, *client;
    int ret;
} rt_revoke_t;

static int rt_revoke_txn(hub_txn_t *txn, void *arg)
{
    rt_revoke_t *r = arg;
    r->ret = idp_refresh_revoke(txn, r->token, strlen(r->token), r->client);
    return 0;
}

static int fam_revoke_txn(hub_txn_t *txn, void *arg)
{
    return idp_family_revoke(txn, arg);
}

/* Rotates present into out (grace seconds); the outcome of idp_refresh_rotate. */
static int rotate(rt_state_t *s, const char *present, char *out, uint64_t grace)
{
    s->present = present;
    s->out = out;
    s->grace = grace;
    CHECK(in_write(rt_rotate_txn, s) == 0);
    return s->ret;
}

static int refused_reuse_txn(hub_txn_t *txn, void *arg)
{
    rt_state_t *s = arg;
    s->ret = idp_refresh_refused_reuse(txn, s->present, strlen(s->present));
    return 0;
}

/* A fresh family with one refresh token (s->rt) rotated once into s->rt2. */
static void rotated_family(rt_state_t *s)
{
    memset(s, 0, sizeof(*s));
    CHECK(in_write(rt_create_txn, s) == 0);
    CHECK(rotate(s, s->rt, s->rt2, 5) == 0);
}

/* A new token read back; rotation keeps the scope and marks the parent rotated (s->rt into s->rt2). */
static void rt_created_and_rotated(rt_state_t *s)
{
    idp_refresh_t *r;

    CHECK(in_write(rt_create_txn, s) == 0);
    r = rt_get(s->rt);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK(strcmp(r->client_id, "client-r") == 0 && strcmp(r->scope, "openid profile email") == 0 && r->auth_time == 77);
        CHECK(r->successor_hash == NULL && strcmp(r->family, s->family) == 0 && !r->retried);
        idp_refresh_free(r);
    }
    /* rotation keeps the scope */
    CHECK(rotate(s, s->rt, s->rt2, 5) == 0);
    CHECK(strlen(s->rt2) == 43 && strcmp(s->rt, s->rt2) != 0);
    r = rt_get(s->rt2);
    CHECK(r != NULL && strcmp(r->scope, "openid profile email") == 0 && strcmp(r->family, s->family) == 0 && r->auth_time == 77);
    idp_refresh_free(r);
    r = rt_get(s->rt);
    CHECK(r != NULL && r->successor_hash != NULL && r->rotated_at != 0 && !r->retried);
    idp_refresh_free(r);
}

/* One retry of s->rt within the grace is honoured: a new token of the family that supersedes the successor;
 * the family goes on through it until the superseded successor comes back (whoever holds it): a reuse that kills
 * the family, the live token with it. */
static void rt_retry_in_grace(rt_state_t *s)
{
    idp_refresh_t *r;
    char rt4[44], rt5[44];

    CHECK(rotate(s, s->rt, s->rt3, 5) == 0);
    CHECK(strlen(s->rt3) == 43 && strcmp(s->rt3, s->rt2) != 0 && strcmp(s->rt3, s->rt) != 0);
    CHECK(family_revoked(s->family) == 0);
    r = rt_get(s->rt3);
    CHECK(r != NULL && strcmp(r->family, s->family) == 0 && strcmp(r->sub, "sub-r") == 0 && strcmp(r->sid, "sid-r") == 0 &&
          strcmp(r->scope, "openid profile email") == 0 && r->auth_time == 77 && r->successor_hash == NULL && !r->retried);
    idp_refresh_free(r);
    r = rt_get(s->rt2);
    CHECK(r != NULL && r->successor_hash != NULL && r->retried);
    idp_refresh_free(r);
    /* the family goes on through the retry's token */
    CHECK(rotate(s, s->rt3, rt4, 5) == 0);
    CHECK(family_revoked(s->family) == 0);
    /* the superseded successor coming back (whoever holds it) is a reuse: the family dies, the live token with it */
    CHECK(rotate(s, s->rt2, rt5, 5) == HUB_E_DENIED);
    CHECK(family_revoked(s->family) == 1);
    CHECK(rotate(s, rt4, rt5, 5) == HUB_E_DENIED);
}

/* A second retry of the same token is refused and revokes. */
static void rt_second_retry(rt_state_t *s)
{
    char rt4[44];

    rotated_family(s);
    CHECK(rotate(s, s->rt, s->rt3, 5) == 0);
    CHECK(rotate(s, s->rt, rt4, 5) == HUB_E_DENIED);
    CHECK(family_revoked(s->family) == 1);
    CHECK(rotate(s, s->rt3, rt4, 5) == HUB_E_DENIED);
}

/* The grace covers the parent of the current token only, not an older ancestor. */
static void rt_grace_parent_only(rt_state_t *s)
{
    char rt4[44];

    rotated_family(s);
    CHECK(rotate(s, s->rt2, s->rt3, 5) == 0);
    CHECK(rotate(s, s->rt, rt4, 5) == HUB_E_DENIED);
    CHECK(family_revoked(s->family) == 1);
    CHECK(rotate(s, s->rt3, rt4, 5) == HUB_E_DENIED);
}

/* A retry of a token whose family was revoked otherwise gets nothing. */
static void rt_retry_revoked_family(rt_state_t *s)
{
    rotated_family(s);
    CHECK(in_write(fam_revoke_txn, s->family) == 0);
    CHECK(rotate(s, s->rt, s->rt3, 5) == HUB_E_DENIED);
}

/* Refused requests: a current token is left alone, an unknown one ignored, a rotated one revokes its family. */
static void rt_refused_reuse(rt_state_t *s)
{
    rotated_family(s);
    s->present = s->rt2;
    CHECK(in_write(refused_reuse_txn, s) == 0);
    CHECK(s->ret == 0 && family_revoked(s->family) == 0);
    s->present = "unknown-token";
    CHECK(in_write(refused_reuse_txn, s) == 0);
    CHECK(s->ret == 0);
    s->present = s->rt;
    CHECK(in_write(refused_reuse_txn, s) == 0);
    CHECK(s->ret == 1 && family_revoked(s->family) == 1);
    CHECK(rotate(s, s->rt2, s->rt3, 5) == HUB_E_DENIED);
}

/* Reuse after the grace revokes the family, the live successor included; an unknown token is not found. */
static void rt_reuse_after_grace(rt_state_t *s)
{
    rotated_family(s);
    sleep(2);
    CHECK(rotate(s, s->rt, s->rt3, 1) == HUB_E_DENIED);
    CHECK(family_revoked(s->family) == 1);
    CHECK(rotate(s, s->rt2, s->rt3, 5) == HUB_E_DENIED);
    /* unknown */
    CHECK(rotate(s, "not-a-token", s->rt3, 5) == HUB_E_NOTFOUND);
}

/* RFC 7009: only the owner revokes; an unknown token is not found. */
static void rt_revoke_owner_only(rt_state_t *s)
{
    rt_state_t t = {{0}};
    CHECK(in_write(rt_create_txn, &t) == 0);
    rt_revoke_t rv = {t.rt, "someone-else", 0};
    CHECK(in_write(rt_revoke_txn, &rv) == 0);
    CHECK(rv.ret == HUB_E_DENIED && family_revoked(t.family) == 0);
    rv.client = "client-r";
    CHECK(in_write(rt_revoke_txn, &rv) == 0);
    CHECK(rv.ret == 0 && family_revoked(t.family) == 1);
    rv.token = "unknown";
    CHECK(in_write(rt_revoke_txn, &rv) == 0);
    CHECK(rv.ret == HUB_E_NOTFOUND);
}

/* Names in the legacy record of parent its successor by the successor's bare hash, as a rotation did before keys began
 * with the time. */
static int legacy_successor_txn(hub_txn_t *txn, void *arg)
{
    rt_state_t *s = arg;
    char key[HUB_SECRET_HASH_LEN + 1], succ[HUB_SECRET_HASH_LEN + 1];
    json_t *obj = NULL;
    uint64_t exp = 0;
    int ret;

    hub_secret_hash(key, s->rt, strlen(s->rt));
    hub_secret_hash(succ, s->rt2, strlen(s->rt2));
    if ((ret = hub_store_get_json(txn, HUB_T_REFRESH, key, &obj)) != 0 ||
        (ret = hub_store_expiry(txn, HUB_T_REFRESH, key, strlen(key), &exp)) != 0)
        return ret;
    json_object_set_new(obj, "successor_hash", json_string(succ));
    ret = hub_store_put_json(txn, HUB_T_REFRESH, key, obj, exp, 0);
    json_decref(obj);
    return ret;
}

/* Tokens issued before keys began with the time (records under the hash alone) go on working: they rotate into tokens
 * under timed keys, and a legacy parent's one retry in the grace and any reuse afterwards behave as any other's, its
 * successor under a timed key or (rotated before the change) a legacy one. */
static void rt_legacy_keys(rt_state_t *s)
{
    legacy_t l = {HUB_T_REFRESH, NULL};
    idp_refresh_t *r;
    char rt4[44];

    memset(s, 0, sizeof(*s));
    CHECK(in_write(rt_create_txn, s) == 0);
    CHECK(stored_as(HUB_T_REFRESH, s->rt) == 1);
    l.token = s->rt;
    CHECK(in_write(to_legacy_txn, &l) == 0);
    CHECK(stored_as(HUB_T_REFRESH, s->rt) == 2);
    r = rt_get(s->rt);
    CHECK(r != NULL && r->family != NULL && strcmp(r->family, s->family) == 0 && r->successor_hash == NULL);
    idp_refresh_free(r);
    CHECK(rotate(s, s->rt, s->rt2, 5) == 0);
    CHECK(stored_as(HUB_T_REFRESH, s->rt) == 2 && stored_as(HUB_T_REFRESH, s->rt2) == 1);
    CHECK(rotate(s, s->rt, s->rt3, 5) == 0); /* the one retry */
    CHECK(family_revoked(s->family) == 0 && stored_as(HUB_T_REFRESH, s->rt3) == 1);
    CHECK(rotate(s, s->rt2, rt4, 5) == HUB_E_DENIED); /* the superseded successor */
    CHECK(family_revoked(s->family) == 1);

    /* rotated before the change: parent and successor both legacy */
    memset(s, 0, sizeof(*s));
    CHECK(in_write(rt_create_txn, s) == 0);
    CHECK(rotate(s, s->rt, s->rt2, 5) == 0);
    l.token = s->rt;
    CHECK(in_write(to_legacy_txn, &l) == 0);
    l.token = s->rt2;
    CHECK(in_write(to_legacy_txn, &l) == 0);
    CHECK(in_write(legacy_successor_txn, s) == 0);
    CHECK(stored_as(HUB_T_REFRESH, s->rt) == 2 && stored_as(HUB_T_REFRESH, s->rt2) == 2);
    CHECK(rotate(s, s->rt, s->rt3, 5) == 0); /* the retry finds the legacy successor */
    CHECK(family_revoked(s->family) == 0);
    CHECK(rotate(s, s->rt3, rt4, 5) == 0);
    CHECK(rotate(s, s->rt2, rt4, 5) == HUB_E_DENIED);
    CHECK(family_revoked(s->family) == 1);
}

/* Refresh tokens: each part in turn on one state (rt_retry_in_grace goes on from the family rt_created_and_rotated
 * made; the others start their own). */
static void test_refresh(void)
{
    static void (*const parts[])(rt_state_t *) = {rt_created_and_rotated, rt_retry_in_grace,       rt_second_retry,
                                                  rt_grace_parent_only,   rt_retry_revoked_family, rt_refused_reuse,
                                                  rt_reuse_after_grace,   rt_revoke_owner_only,    rt_legacy_keys};
    rt_state_t s = {{0}};

    for (size_t i = 0; i != sizeof(parts) / sizeof(parts[0]); ++i)
        parts[i](&s);
}

/* ---- access token jtis ---- */

static char jfam[IDP_FAMILY_ID_LEN + 1], jold[IDP_FAMILY_ID_LEN + 1];
static char jti1[IDP_JTI_MAX + 1], jti2[IDP_JTI_MAX + 1], jti_cc[IDP_JTI_MAX + 1];

/* What an older version wrote for a token of family (NULL: none): jti -> {family, client_id, exp} in TOKENS. */
static int put_legacy_jti(hub_txn_t *txn, const char *jti, const char *family, uint64_t exp)
{
    json_t *obj = json_pack("{s:s, s:I}", "client_id", "client-j", "exp", (json_int_t)exp);
    int ret;
    if (family != NULL)
        json_object_set_new(obj, "family", json_string(family));
    ret = hub_store_put_json(txn, HUB_T_TOKENS, jti, obj, exp, 0);
    json_decref(obj);
    return ret;
}

static int jti_setup_txn(hub_txn_t *txn, void *arg)
{
    uint64_t exp = hub_now() + 600, iat;
    CHECK(idp_family_create(txn, "client-j", "sub-j", NULL, NULL, hub_now() + 60, jfam) == 0);
    CHECK(idp_family_create(txn, "client-j", "sub-j", NULL, NULL, hub_now() + 60, jold) == 0);
    char bad[IDP_JTI_MAX + 1];
    CHECK(idp_mint_at_id(jti1, jfam, &iat) == 0 && idp_mint_at_id(jti2, jfam, &iat) == 0);
    CHECK(idp_mint_at_id(jti_cc, NULL, &iat) == 0);
    /* no jti for a family id that is not one (a store written wrongly): the token would not name its family */
    CHECK(idp_mint_at_id(bad, "short", &iat) == HUB_E_INVAL && idp_mint_at_id(bad, "", &iat) == HUB_E_INVAL);
    CHECK(idp_mint_at_id(bad, "FAMILY-ID-OF-33-CHARACTERS-ABCDEF", &iat) == HUB_E_INVAL);
    CHECK(idp_family_cover(txn, jfam, exp) == 0);
    CHECK(idp_family_cover(txn, NULL, exp) == 0 && idp_family_cover(txn, "gone", exp) == 0);
    CHECK(put_legacy_jti(txn, "legacy-1", jold, exp) == 0 && put_legacy_jti(txn, "legacy-2", NULL, exp) == 0);
    return 0;
}

static int jti_revoke_txn(hub_txn_t *txn, void *arg)
{
    return idp_jti_revoke(txn, arg, hub_now() + 600);
}

static int active(const char *jti)
{
    hub_txn_t *txn;
    int a;
    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    a = idp_jti_is_active(txn, jti);
    hub_store_read_end(txn);
    return a;
}

static int count_cb(void *arg, hub_val_t key, hub_val_t val)
{
    ++*(size_t *)arg;
    return 0;
}

static size_t tokens_recorded(void)
{
    hub_txn_t *txn;
    size_t n = 0;
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(hub_store_each(txn, HUB_T_TOKENS, NULL, 0, count_cb, &n) == 0);
    hub_store_read_end(txn);
    return n;
}

/* A user's token names its family in its jti; nothing is recorded per token. */
static void test_jti_names_family(void)
{
    idp_family_t *f = NULL;
    hub_txn_t *txn;
    char other[IDP_JTI_MAX + 8];

    CHECK(in_write(jti_setup_txn, NULL) == 0);
    CHECK(strlen(jfam) == IDP_FAMILY_ID_LEN && strlen(jti1) == IDP_JTI_MAX && strncmp(jti1, jfam, IDP_FAMILY_ID_LEN) == 0 &&
          jti1[IDP_FAMILY_ID_LEN] == '.' && strcmp(jti1, jti2) != 0);
    CHECK(strlen(jti_cc) == 30 && strchr(jti_cc, '.') == NULL && hub_is_b64url(jti_cc, strlen(jti_cc)));
    CHECK(tokens_recorded() == 2); /* the two legacy records, none of ours */
    CHECK(active(jti1) == 1 && active(jti2) == 1 && active(jti_cc) == 1);
    CHECK(active("never-recorded") == 1); /* client_credentials tokens are not recorded */
    CHECK(active("") == 0);
    /* covering a token stretches its family to outlive it */
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(idp_family_get(txn, jfam, &f) == 0 && f->expires_at >= hub_now() + 590);
    idp_family_free(f);
    hub_store_read_end(txn);
    /* a jti naming no live family is not active: unknown, empty, too long a family part, a prefix of one */
    snprintf(other, sizeof(other), "%.*s.%s", IDP_FAMILY_ID_LEN, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x");
    CHECK(active(other) == 0 && active(".x") == 0 && active(".") == 0);
    snprintf(other, sizeof(other), "%sA.x", jfam);
    CHECK(active(other) == 0);
    snprintf(other, sizeof(other), "%.8s.x", jfam);
    CHECK(active(other) == 0);
    snprintf(other, sizeof(other), "%s.", jfam); /* the family's own, another token of it */
    CHECK(active(other) == 1);
}

static void test_jti_revoked(void)
{
    CHECK(in_write(jti_revoke_txn, jti1) == 0);
    CHECK(active(jti1) == 0 && active(jti2) == 1);
    CHECK(in_write(jti_revoke_txn, "never-recorded") == 0);
    CHECK(active("never-recorded") == 0);
    CHECK(active("legacy-1") == 1 && active("legacy-2") == 1);
    CHECK(in_write(fam_revoke_txn, jfam) == 0);
    CHECK(active(jti2) == 0 && active(jti_cc) == 1 && active("legacy-1") == 1);
    /* a token an older version recorded under TOKENS still dies with its family */
    CHECK(in_write(fam_revoke_txn, jold) == 0);
    CHECK(active("legacy-1") == 0 && active("legacy-2") == 1);
}

/* ---- consent ---- */

static int consent_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_consent_put(txn, "sub-c", "client-c", "openid profile", hub_now() + 3600) == 0);
    CHECK(idp_consent_put(txn, "sub-c", "client-old", "openid", hub_now() - 1) == 0);
    return 0;
}

static int consent_revoke_txn(hub_txn_t *txn, void *arg)
{
    return idp_consent_revoke(txn, "sub-c", "client-c");
}

static void test_consent(void)
{
    hub_txn_t *txn;
    CHECK(in_write(consent_txn, NULL) == 0);
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(idp_consent_covers(txn, "sub-c", "client-c", "openid") == 1);
    CHECK(idp_consent_covers(txn, "sub-c", "client-c", "profile openid") == 1);
    CHECK(idp_consent_covers(txn, "sub-c", "client-c", "openid email") == 0);
    CHECK(idp_consent_covers(txn, "sub-c", "client-c", "open") == 0);
    CHECK(idp_consent_covers(txn, "sub-other", "client-c", "openid") == 0);
    CHECK(idp_consent_covers(txn, "sub-c", "client-old", "openid") == 0); /* expired */
    hub_store_read_end(txn);
    CHECK(in_write(consent_revoke_txn, NULL) == 0);
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(idp_consent_covers(txn, "sub-c", "client-c", "openid") == 0);
    hub_store_read_end(txn);
}

int main(void)
{
    char *dir = test_tmpdir("idp-grants");
    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    test_families();
    test_families_of_user();
    test_codes();
    test_refresh();
    test_jti_names_family();
    test_jti_revoked();
    test_consent();
    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/grants");
}
