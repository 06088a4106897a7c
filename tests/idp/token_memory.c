/* Tests the token endpoint's client authentication from memory (idp/token.c auth_try through hub_park_read_try,
 * idp/clientauth.c idp_client_check_cached, idp/client_cache.c idp_client_cache_peek) on LMDB (reads in place, and on
 * readers: HUB_READ_POOL) and on PostgreSQL: a request whose client the client cache holds at the store's current
 * generation is answered without any store job (the store's job hook counts them, tests/support/storehook.h), even
 * while every read is held; each refusal answers exactly as the read's; a change to the client (disabled, a new secret,
 * deleted; on PostgreSQL also through a second store handle, another primary) is seen within the generation bound; a
 * miss, an unknown client, a refresh grant's rotated-token check and a store that is away still take the read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/client.h"
#include "idp/client_cache.h"
#include "tests/check.h"
#include "tests/support/backend.h"
#include "tests/support/primary.h"
#include "tests/support/storehook.h"

#define WEB_CB "https://app.example/cb"
#define CC "grant_type=client_credentials"
#define BOUND_S 5.0 /* SPEC §9 says a second; a loaded sanitizer run keeps this one (the time is printed) */

static test_backend_t *cur;
static test_primary_t p;
static hub_store_t *other; /* PostgreSQL: a second handle on the same schema, as another primary has */
static char svc_secret[44], web_secret[44];

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "Basic base64(id:secret)" in one of two static buffers (two may be in use at once). */
static const char *basic(const char *id, const char *secret)
{
    static char out[2][512];
    static int next;
    next ^= 1;
    return test_basic(id, secret, out[next], sizeof(out[next]));
}

/* A token request, run to completion, with the store jobs it made: reads and writes (either may be NULL). */
static test_req_t *counted(const char *auth, const char *body, int *reads, int *writes)
{
    test_req_t *r;
    int nr, nw;

    test_store_fail(0, 0); /* the hook only counts */
    r = test_primary_request(&p, "POST", "/oauth2/token", NULL, auth, NULL, body);
    test_store_hook_seen(&nr, &nw);
    test_store_hook_off();
    if (reads != NULL)
        *reads = nr;
    if (writes != NULL)
        *writes = nw;
    return r;
}

/* The answer of r as "status|www-authenticate|cache-control|body" in out; frees r. */
static void answer_of(test_req_t *r, char *out, size_t cap)
{
    snprintf(out, cap, "%d|%s|%s|%s", test_req_done(r) ? test_req_status(r) : 0,
             test_req_resp_header(r, "www-authenticate", 0) ?: "", test_req_resp_header(r, "cache-control", 0) ?: "",
             test_req_text(r));
    test_req_free(r);
}

/* The status of a token request with auth and body, its store reads in *reads; frees it. */
static int status_of(const char *auth, const char *body, int *reads)
{
    test_req_t *r = counted(auth, body, reads, NULL);
    int status = test_req_done(r) ? test_req_status(r) : 0;

    test_req_free(r);
    return status;
}

/* Waits (bounded) until a request with auth and body is answered with no store job: the node's view of the store's
 * generation caught up with the client cache's entry (PostgreSQL's follows a notification or a poll). 1 when it was. */
static int until_from_memory(const char *auth, const char *body)
{
    for (double t0 = mono_now(); mono_now() - t0 < BOUND_S;) {
        int reads = -1;
        status_of(auth, body, &reads);
        if (reads == 0)
            return 1;
        usleep(5000);
    }
    return 0;
}

/* Waits (bounded) until the node's generation of the clients (hub_store_gen) is the one the store holds: an entry
 * cached before the last client write is then a miss. 1 when it is. */
static int until_gen_current(void)
{
    hub_txn_t *txn = NULL;
    uint64_t want = 0;

    if (hub_store_read_begin(p.store, &txn) != 0)
        return 0;
    want = hub_store_counter(txn, IDP_CLIENTS_GEN);
    hub_store_read_end(txn);
    for (double t0 = mono_now(); mono_now() - t0 < BOUND_S; usleep(5000))
        if (hub_store_gen(p.store, IDP_CLIENTS_GEN) == want)
            return 1;
    return 0;
}

/* A cached client's requests make no store job: client_credentials tokens, and the authentication of the writing
 * grants (their write is their only job); with the store's readers, also while every read is held. */
static void test_hits(void)
{
    idp_client_cache_stats_t before, after;
    int reads, writes;

    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    idp_client_cache_stats(p.idp->clients, &before);
    for (int i = 0; i != 5; ++i) {
        test_req_t *r = counted(basic("svc", svc_secret), i % 2 ? CC "&scope=write" : CC, &reads, &writes);
        json_t *doc = test_req_json(r);
        CHECK(test_req_done(r) && test_req_status(r) == 200 && reads == 0 && writes == 0);
        CHECK(strlen(test_json_str(doc, "access_token")) > 100);
        json_decref(doc);
        test_req_free(r);
    }
    idp_client_cache_stats(p.idp->clients, &after);
    CHECK(after.hits == before.hits + 5 && after.misses == before.misses);
    /* a writing grant of a cached client: its write alone (an unknown code or refresh token, refused in it) */
    CHECK(until_from_memory(basic("web", web_secret), CC));
    CHECK(status_of(basic("web", web_secret), "grant_type=authorization_code&code=x&redirect_uri=" WEB_CB, &reads) == 400);
    CHECK(reads == 0);
    test_req_t *r = counted(basic("web", web_secret), "grant_type=refresh_token&refresh_token=x", &reads, &writes);
    CHECK(test_req_done(r) && test_req_status(r) == 400 && reads == 0 && writes == 1);
    test_req_free(r);
    if (p.loop.thr.read_port == NULL)
        return;
    /* reads held inside their transactions: a cached client's token does not wait for them */
    test_store_hold_reads();
    r = test_primary_request(&p, "POST", "/oauth2/token", NULL, basic("svc", svc_secret), NULL, CC);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    test_store_hook_off();
}

/* Every refusal a cached client can get is answered as the read answers it (status, challenge, body), from memory. */
static void test_refusals_same(void)
{
    char wrong[44];
    const struct {
        const char *id, *secret; /* Basic credentials; id NULL: none */
        const char *body;
    } variants[] = {
        {"svc", "not-the-secret", CC},
        {"svc", wrong, CC}, /* the right secret but one byte off */
        {"svc", "", CC},
        {NULL, NULL, CC "&client_id=svc&client_secret=x"}, /* client_secret_post for a client_secret_basic client */
        {NULL, NULL, CC "&client_id=svc"},                 /* no secret: a public client's way */
        {"svc", svc_secret, CC "&scope=admin"},
        {"svc", svc_secret, CC "&scope=read%20openid"},
        {"web", web_secret, CC}, /* not registered for client_credentials */
        {"web", svc_secret, CC}, /* another client's secret */
    };
    idp_client_cache_t *saved = p.idp->clients;

    memcpy(wrong, svc_secret, sizeof(wrong));
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    for (size_t i = 0; i != sizeof(variants) / sizeof(variants[0]); ++i) {
        char miss[2048], hit[2048], auth[512];
        const char *a = variants[i].id != NULL ? test_basic(variants[i].id, variants[i].secret, auth, sizeof(auth)) : NULL;
        int r1 = -1, r2 = -1;
        /* an empty cache: the read decides (and caches the client), then the cache does */
        p.idp->clients = idp_client_cache_create(16);
        answer_of(counted(a, variants[i].body, &r1, NULL), miss, sizeof(miss));
        answer_of(counted(a, variants[i].body, &r2, NULL), hit, sizeof(hit));
        idp_client_cache_destroy(p.idp->clients);
        p.idp->clients = saved;
        CHECK(r1 == 1 && r2 == 0);
        CHECK(strncmp(miss, "40", 2) == 0 && strcmp(miss, hit) == 0);
        if (r1 != 1 || r2 != 0 || strcmp(miss, hit) != 0)
            fprintf(stderr, "  variant %zu: reads %d then %d: %s / %s\n", i, r1, r2, miss, hit);
    }
}

/* What the cache never vouches for takes the read every time: unknown client_ids (never cached; near misses of a
 * cached one included), and a refusal presenting a refresh token (whether it was rotated, SPEC §4). */
static void test_reads_kept(void)
{
    const char *unknown[] = {"nobody", "SVC", "svc ", "svc%2F", "sv", "svcx"};
    const char *rotation[][2] = {
        {NULL, "grant_type=refresh_token&refresh_token=x"},               /* svc: not registered for it */
        {NULL, "grant_type=refresh_token&refresh_token=x&scope=read"},    /* the same with a scope */
        {"Basic %%%", "grant_type=refresh_token&refresh_token=x"},        /* malformed credentials */
        {NULL, "grant_type=refresh_token&refresh_token=x&client_id=web"}, /* web without its secret */
    };
    int reads;

    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    for (size_t i = 0; i != sizeof(unknown) / sizeof(unknown[0]); ++i)
        for (int k = 0; k != 2; ++k) {
            CHECK(status_of(basic(unknown[i], svc_secret), CC, &reads) == 401 && reads == 1);
        }
    rotation[0][0] = rotation[1][0] = basic("svc", svc_secret);
    for (size_t i = 0; i != sizeof(rotation) / sizeof(rotation[0]); ++i) {
        int status = status_of(rotation[i][0], rotation[i][1], &reads);
        CHECK((status == 400 || status == 401) && reads == 1);
    }
}

static int disable_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_disable(txn, arg);
}

static int enable_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = NULL;
    int ret = idp_client_get(txn, arg, &c);

    if (ret == 0) {
        c->enabled = 1;
        ret = idp_client_put(txn, c);
    }
    idp_client_free(c);
    return ret;
}

/* hubctl client rotate-secret: a new secret into svc_secret. */
static int rotate_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = NULL;
    int ret = idp_client_get(txn, "svc", &c);

    if (ret == 0) {
        idp_client_new_secret(c, arg);
        ret = idp_client_put(txn, c);
    }
    idp_client_free(c);
    return ret;
}

static int put_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_put(txn, arg);
}

static int del_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_del(txn, arg);
}

/* Seconds until a request with auth is answered want (bounded), or a large value; *tries the requests it took. */
static double seen_after(const char *auth, int want, int *tries)
{
    double t0 = mono_now();

    for (*tries = 1;; ++*tries, usleep(5000)) {
        int reads;
        if (status_of(auth, CC, &reads) == want)
            return mono_now() - t0;
        if (mono_now() - t0 > BOUND_S)
            return 1e9;
    }
}

/* One change through via, seen within the bound (through the node's own store: by the very next request on LMDB). */
static void expect_seen(hub_store_t *via, const char *what, const char *auth, int want)
{
    int tries = 0;
    double t = seen_after(auth, want, &tries);

    CHECK(t < BOUND_S);
    if (via == p.store && !cur->pg)
        CHECK(tries == 1);
    printf("  %s %s: seen after %.3f s (%d requests)\n", via == p.store ? "here" : "another primary", what, t, tries);
}

/* Disabled, enabled again, a new secret, deleted and added again, each written through via (the node's store, as hubctl
 * writes it, or another primary's handle), each after the client was answered from memory. */
static void test_changes(hub_store_t *via)
{
    char old[44], secret[44];
    idp_client_t *c = NULL;

    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    CHECK(hub_store_write(via, disable_txn, "svc") == 0);
    expect_seen(via, "disable", basic("svc", svc_secret), 401);
    CHECK(hub_store_write(via, enable_txn, "svc") == 0);
    expect_seen(via, "enable", basic("svc", svc_secret), 200);

    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    memcpy(old, svc_secret, sizeof(old));
    CHECK(hub_store_write(via, rotate_txn, svc_secret) == 0);
    expect_seen(via, "rotate-secret (the old secret)", basic("svc", old), 401);
    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    CHECK(status_of(basic("svc", old), CC, NULL) == 401);

    CHECK(hub_store_write(via, del_txn, "svc") == 0);
    expect_seen(via, "delete", basic("svc", svc_secret), 401);
    /* added again (hubctl client add with the same id: a new secret) */
    c = calloc(1, sizeof(*c));
    c->client_id = strdup("svc");
    c->app_name = strdup("svc");
    c->enabled = 1;
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    c->auth_method = IDP_AUTH_SECRET_BASIC;
    idp_strv_split(&c->scopes, "read write", 1);
    idp_client_new_secret(c, secret);
    CHECK(hub_store_write(via, put_txn, c) == 0);
    idp_client_free(c);
    expect_seen(via, "add again (the deleted one's secret)", basic("svc", svc_secret), 401);
    memcpy(svc_secret, secret, sizeof(svc_secret));
    CHECK(until_from_memory(basic("svc", svc_secret), CC));
}

/* A miss (a client write since the entry was cached) takes the read: parked on the readers when there are some. */
static void test_miss_parks(void)
{
    char bump[44];
    int reads;

    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    test_primary_client(&p, "bump", "client_credentials", "client_secret_basic", NULL, NULL, 0, bump);
    CHECK(until_gen_current());
    if (p.loop.thr.read_port == NULL) {
        CHECK(status_of(basic("svc", svc_secret), CC, &reads) == 200 && reads == 1);
    } else {
        test_req_t *r = test_req_new(&p.loop, "POST", "/oauth2/token");
        test_req_header(r, "authorization", basic("svc", svc_secret));
        test_req_body(r, "application/x-www-form-urlencoded", CC);
        test_store_hold_reads();
        CHECK(test_req_run(r, 0) == 0 && test_store_wait_held(1, 10000) && !test_req_done(r));
        test_store_hook_off();
        CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 200);
        test_req_free(r);
    }
    CHECK(status_of(basic("svc", svc_secret), CC, &reads) == 200 && reads == 0); /* cached again by that read */
}

/* idp_client_cache_peek alone: never a miss counted, nothing before the first insert, nothing for a NULL cache. */
static void test_peek(void)
{
    idp_client_cache_t *cache = idp_client_cache_create(4);
    const idp_client_t *c = NULL, *d = NULL, *e = NULL;
    hub_txn_t *txn = NULL;

    CHECK(idp_client_cache_peek(NULL, p.store, "svc", &c) == HUB_E_NOTFOUND && c == NULL);
    CHECK(idp_client_cache_peek(cache, p.store, "svc", &c) == HUB_E_NOTFOUND && c == NULL);
    CHECK(until_gen_current() && hub_store_read_begin(p.store, &txn) == 0);
    CHECK(txn != NULL && idp_client_cache_get(cache, txn, "svc", &c) == 0 && c != NULL);
    hub_store_read_end(txn);
    CHECK(idp_client_cache_peek(cache, p.store, "svc", &d) == 0 && d == c);
    CHECK(idp_client_cache_peek(cache, p.store, "nobody", &e) == HUB_E_NOTFOUND && e == NULL);
    CHECK(idp_client_cache_peek(cache, p.store, "", &e) == HUB_E_NOTFOUND && idp_client_cache_peek(cache, p.store, NULL, &e) != 0);
    idp_client_cache_stats_t st;
    idp_client_cache_stats(cache, &st);
    CHECK(st.hits == 1 && st.misses == 1);
    idp_client_release(d);
    idp_client_release(c);
    idp_client_cache_destroy(cache);
}

/* PostgreSQL away: the node's store is not healthy, and a cached client's request is answered 503, not from the cache
 * (a node cut off from its database cannot know what another primary changed meanwhile). */
static void test_store_away(void)
{
    const idp_client_t *c = NULL;
    double t0;

    CHECK(until_from_memory(basic("svc", svc_secret), CC));
    CHECK(idp_client_cache_peek(p.idp->clients, p.store, "svc", &c) == 0 && c != NULL);
    idp_client_release(c);
    CHECK(test_backend_stop(cur) == 0);
    for (t0 = mono_now(); hub_store_healthy(p.store) && mono_now() - t0 < BOUND_S;)
        usleep(5000);
    CHECK(!hub_store_healthy(p.store));
    /* the router answers 503 first (hub/server.c); the cache does not vouch either, should a request get past it */
    CHECK(idp_client_cache_peek(p.idp->clients, p.store, "svc", &c) == HUB_E_NOTFOUND && c == NULL);
    /* (the read fails before its transaction began: the hook does not see it) */
    CHECK(status_of(basic("svc", svc_secret), CC, NULL) == 503);
    CHECK(test_backend_restart(cur) == 0);
    for (t0 = mono_now(); !hub_store_healthy(p.store) && mono_now() - t0 < 3 * BOUND_S;)
        usleep(10000);
    CHECK(until_from_memory(basic("svc", svc_secret), CC));
}

static void run_one(test_backend_t *b, const char *readers)
{
    hub_store_t *s = NULL;

    if (readers != NULL)
        setenv("HUB_READ_POOL", readers, 1);
    else
        unsetenv("HUB_READ_POOL");
    printf("%s%s\n", b->name, readers != NULL ? ", reads on readers" : "");
    CHECK(test_backend_fresh(b) == 0 && test_backend_open(b, &s, NULL, 0) == 0);
    if (b->pg)
        CHECK(test_backend_open(b, &other, NULL, 0) == 0);
    if (s == NULL || (b->pg && other == NULL))
        goto out;
    test_primary_start_store(&p, "idp-tokenmem", NULL, s);
    test_primary_client(&p, "svc", "client_credentials", "client_secret_basic", NULL, "read write", 0, svc_secret);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", WEB_CB, NULL, 1, web_secret);
    test_hits();
    test_refusals_same();
    test_reads_kept();
    test_changes(p.store);
    if (b->pg)
        test_changes(other);
    test_miss_parks();
    test_peek();
    if (b->pg)
        test_store_away();
    test_primary_stop(&p);
out:
    hub_store_close(other);
    other = NULL;
    hub_store_close(s);
}

static void run(test_backend_t *b)
{
    cur = b;
    run_one(b, NULL);
    if (!b->pg)
        run_one(b, "2");
}

int main(void)
{
    test_backend_t *b;

    failures += test_backend_each(&b, run);
    unsetenv("HUB_READ_POOL");
    return check_report("idp/token_memory");
}
