/* Tests idp/session.c: session records, the sid index, clients, the session's families, ending, expiry and disabled
 * users. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hub/clock.h"
#include "hub/config.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/store.h"
#include "idp/grants.h"
#include "idp/ctx.h"
#include "idp/user.h"
#include "idp/session.h"
#include "tests/check.h"
#include "tests/support/owners.h"
#include "tests/support/tmpdir.h"

/* A request without a connection: enough for cookies in and out. */
typedef struct {
    h2o_req_t req;
} fake_req_t;

static void req_init(fake_req_t *r, const char *cookie_header)
{
    memset(r, 0, sizeof(*r));
    h2o_mem_init_pool(&r->req.pool);
    if (cookie_header != NULL)
        h2o_add_header(&r->req.pool, &r->req.headers, H2O_TOKEN_COOKIE, NULL, cookie_header, strlen(cookie_header));
}

static void req_dispose(fake_req_t *r)
{
    h2o_mem_clear_pool(&r->req.pool);
}

/* The value the response set for cookie name ("" when deleted), or NULL; into out. */
static const char *set_cookie_value(h2o_req_t *req, const char *name, char *out, size_t size, int *attrs_ok)
{
    size_t i, nlen = strlen(name);
    for (i = 0; i != req->res.headers.size; ++i) {
        h2o_header_t *h = req->res.headers.entries + i;
        if (h->name != &H2O_TOKEN_SET_COOKIE->buf)
            continue;
        if (h->value.len > nlen && memcmp(h->value.base, name, nlen) == 0 && h->value.base[nlen] == '=') {
            const char *v = h->value.base + nlen + 1, *end = memchr(v, ';', h->value.len - nlen - 1);
            size_t vlen = end != NULL ? (size_t)(end - v) : h->value.len - nlen - 1;
            if (attrs_ok != NULL)
                *attrs_ok = memmem(h->value.base, h->value.len, "HttpOnly", 8) != NULL &&
                            memmem(h->value.base, h->value.len, "SameSite=Lax", 12) != NULL;
            if (vlen >= size)
                return NULL;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
    }
    return NULL;
}

struct user_ctx {
    const char *name;
    int enabled;
    char sub[128];
};

static int put_user_txn(hub_txn_t *txn, void *arg)
{
    struct user_ctx *c = arg;
    idp_user_t *u = NULL;
    char email[300];
    int ret;

    if (idp_user_find(txn, c->name, &u) != 0) {
        if ((u = calloc(1, sizeof(*u))) == NULL)
            abort();
        u->username = strdup(c->name);
        snprintf(email, sizeof(email), "%s@example.com", c->name);
        u->email = strdup(email);
    }
    u->enabled = c->enabled;
    if ((ret = idp_user_put(txn, u)) == 0)
        snprintf(c->sub, sizeof(c->sub), "%s", u->sub);
    idp_user_free(u);
    return ret;
}

struct sid_ctx {
    const char *sid, *client;
    idp_session_t *ended;
    char family[33];
};

static int family_txn(hub_txn_t *txn, void *arg)
{
    struct sid_ctx *c = arg;
    return idp_family_create(txn, c->client, "someone", c->sid, NULL, hub_now() + 3600, c->family);
}

/* 1 when the family is revoked, 0 when live, -1 when unreadable. */
static int family_revoked(hub_store_t *store, const char *id)
{
    hub_txn_t *txn;
    idp_family_t *f = NULL;
    int revoked = -1;
    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    if (idp_family_get(txn, id, &f) == 0)
        revoked = f->revoked != 0;
    idp_family_free(f);
    hub_store_read_end(txn);
    return revoked;
}

static int add_client_txn(hub_txn_t *txn, void *arg)
{
    struct sid_ctx *c = arg;
    return idp_session_add_client(txn, c->sid, c->client);
}

static int end_txn(hub_txn_t *txn, void *arg)
{
    struct sid_ctx *c = arg;
    idp_session_free(c->ended);
    c->ended = NULL;
    return idp_session_end(txn, c->sid, &c->ended);
}

static idp_session_t *by_sid(hub_store_t *store, const char *sid, int *err)
{
    hub_txn_t *txn;
    idp_session_t *s = NULL;
    if (hub_store_read_begin(store, &txn) != 0)
        return NULL;
    *err = idp_session_get_by_sid(txn, sid, &s);
    hub_store_read_end(txn);
    return s;
}

static idp_session_t *current(idp_t *idp, const char *cookie_value)
{
    char hdr[256];
    fake_req_t r;
    idp_session_t *s;

    snprintf(hdr, sizeof(hdr), "other=1; %s=%s", idp->session_cookie, cookie_value);
    req_init(&r, hdr);
    s = idp_session_current(idp, &r.req);
    req_dispose(&r);
    return s;
}

/* What the parts of test_sessions share: alice's session s (its cookie), bob's (cookie2; bob_s once read back). */
typedef struct {
    idp_t *idp;
    struct user_ctx alice, bob;
    char cookie[128], cookie2[128];
    idp_session_t *s, *bob_s;
} ses_state_t;

/* Two users; alice signs in: a 43-character HttpOnly SameSite=Lax cookie that is not the sid, the ttl applied. */
static void ses_start(ses_state_t *st)
{
    fake_req_t r;
    int attrs = 0;

    CHECK(hub_store_write(st->idp->store, put_user_txn, &st->alice) == 0);
    CHECK(hub_store_write(st->idp->store, put_user_txn, &st->bob) == 0);

    req_init(&r, NULL);
    CHECK(idp_session_start(st->idp, &r.req, st->alice.sub, &st->s) == 0);
    CHECK(set_cookie_value(&r.req, st->idp->session_cookie, st->cookie, sizeof(st->cookie), &attrs) != NULL);
    CHECK(attrs);
    CHECK(strlen(st->cookie) == 43);
    req_dispose(&r);
    if (st->s == NULL)
        return;
    CHECK(strcmp(st->s->sub, st->alice.sub) == 0);
    CHECK(strcmp(st->s->sid, st->cookie) != 0);
    CHECK(st->s->expires_at == st->s->auth_time + st->idp->cfg->primary.session_ttl);
}

/* The cookie finds the session; a near miss, garbage or no cookie does not. */
static void ses_cookie_lookup(ses_state_t *st)
{
    fake_req_t r;
    idp_session_t *s2;
    char first = st->cookie[0];

    s2 = current(st->idp, st->cookie);
    CHECK(s2 != NULL && strcmp(s2->sid, st->s->sid) == 0 && strcmp(s2->sub, st->alice.sub) == 0 && s2->clients.n == 0);
    idp_session_free(s2);
    st->cookie[0] = first == 'A' ? 'B' : 'A';
    CHECK(current(st->idp, st->cookie) == NULL);
    st->cookie[0] = first;
    CHECK(current(st->idp, "x") == NULL);
    CHECK(current(st->idp, "") == NULL);
    req_init(&r, NULL);
    CHECK(idp_session_current(st->idp, &r.req) == NULL);
    req_dispose(&r);
}

/* The store holds only the hash of the cookie. */
static void ses_stored_hashed(ses_state_t *st)
{
    hub_txn_t *txn;
    hub_val_t v;
    char hash[HUB_SECRET_HASH_LEN + 1];

    hub_secret_hash(hash, st->cookie, strlen(st->cookie));
    CHECK(hub_store_read_begin(st->idp->store, &txn) == 0);
    CHECK(hub_store_get(txn, HUB_T_SESSIONS, st->cookie, strlen(st->cookie), &v) == HUB_E_NOTFOUND);
    CHECK(hub_store_get(txn, HUB_T_SESSIONS, hash, strlen(hash), &v) == 0);
    hub_store_read_end(txn);
}

/* By sid (an unknown one not found), clients recorded once each, none for an unknown sid. */
static void ses_by_sid_and_clients(ses_state_t *st)
{
    idp_session_t *s2;
    int err = 0;
    struct sid_ctx a = {st->s->sid, "client-a"}, b = {st->s->sid, "client-b"}, none = {"no-such-sid", "client-a"};

    s2 = by_sid(st->idp->store, st->s->sid, &err);
    CHECK(err == 0 && s2 != NULL && strcmp(s2->sub, st->alice.sub) == 0);
    idp_session_free(s2);
    CHECK(by_sid(st->idp->store, "nope", &err) == NULL && err == HUB_E_NOTFOUND);
    CHECK(hub_store_write(st->idp->store, add_client_txn, &a) == 0);
    CHECK(hub_store_write(st->idp->store, add_client_txn, &b) == 0);
    CHECK(hub_store_write(st->idp->store, add_client_txn, &a) == 0);
    CHECK(hub_store_write(st->idp->store, add_client_txn, &none) == HUB_E_NOTFOUND);
    s2 = by_sid(st->idp->store, st->s->sid, &err);
    CHECK(s2 != NULL && s2->clients.n == 2 && idp_strv_has(&s2->clients, "client-a") && idp_strv_has(&s2->clients, "client-b"));
    idp_session_free(s2);
}

struct fam_ctx {
    const char *sid, *client, *scope;
    char family[IDP_FAMILY_ID_LEN + 1];
    uint64_t until; /* what the authorization must cover (0: an hour) */
};

static int session_family_txn(hub_txn_t *txn, void *arg)
{
    struct fam_ctx *c = arg;
    return idp_session_family(txn, c->sid, c->client, c->scope, c->until != 0 ? c->until : hub_now() + 3600, c->family);
}

static int revoke_family_txn(hub_txn_t *txn, void *arg)
{
    return idp_family_revoke(txn, arg);
}

/* Makes the session of cookie hold family for c->client with c->scope, as a record written wrongly would. */
struct plant_ctx {
    const char *cookie;
    struct fam_ctx *c;
    const char *family;
};

static int plant_family_txn(hub_txn_t *txn, void *arg)
{
    struct plant_ctx *p = arg;
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *rec = NULL;
    uint64_t exp = 0;
    int ret;

    hub_secret_hash(hash, p->cookie, strlen(p->cookie));
    if ((ret = hub_store_get_json(txn, HUB_T_SESSIONS, hash, &rec)) != 0 ||
        (ret = hub_store_expiry(txn, HUB_T_SESSIONS, hash, strlen(hash), &exp)) != 0)
        return ret;
    json_object_set_new(json_object_get(rec, "families"), p->c->client, json_pack("{s:s, s:s}", "id", p->family, "scope", p->c->scope));
    ret = hub_store_put_json(txn, HUB_T_SESSIONS, hash, rec, exp, 0);
    json_decref(rec);
    return ret;
}

static int count_cb(void *arg, hub_val_t key, hub_val_t val)
{
    ++*(long *)arg;
    return 0;
}

static long families(hub_store_t *store)
{
    hub_txn_t *txn;
    long n = 0;
    if (hub_store_read_begin(store, &txn) != 0)
        return -1;
    if (hub_store_each(txn, HUB_T_FAMILIES, NULL, 0, count_cb, &n) != 0)
        n = -1;
    hub_store_read_end(txn);
    return n;
}

/* The session's family for a client: the same for every authorization of that client and scope while it is live; a new
 * one for another client, another scope, once it is revoked, or when what the session names is not a family of this
 * session, user and client; none for an unknown session; the client noted for back-channel logout. */
static void ses_families(ses_state_t *st)
{
    hub_store_t *S = st->idp->store;
    const char *sid = st->s->sid;
    struct fam_ctx f1 = {sid, "client-f", "openid"}, f2 = f1, g = {sid, "client-g", "openid"}, wide = {sid, "client-f", "openid email"},
                   none = {"no-such-sid", "client-f", "openid"};
    struct sid_ctx other = {"other-sid", "client-f"};
    long before = families(S);
    idp_session_t *s2;
    int err = 0;

    CHECK(hub_store_write(S, session_family_txn, &f1) == 0 && strlen(f1.family) == IDP_FAMILY_ID_LEN);
    CHECK(hub_store_write(S, session_family_txn, &f2) == 0 && strcmp(f1.family, f2.family) == 0);
    CHECK(hub_store_write(S, session_family_txn, &g) == 0 && strcmp(g.family, f1.family) != 0);
    CHECK(families(S) == before + 2);
    CHECK(hub_store_write(S, session_family_txn, &wide) == 0 && strcmp(wide.family, f1.family) != 0);
    CHECK(hub_store_write(S, session_family_txn, &wide) == 0 && families(S) == before + 3);
    struct fam_ctx reordered = {sid, "client-f", " email  openid"}, more = {sid, "client-f", "email openid profile"};
    CHECK(hub_store_write(S, session_family_txn, &reordered) == 0 && strcmp(reordered.family, wide.family) == 0);
    CHECK(hub_store_write(S, session_family_txn, &more) == 0 && strcmp(more.family, wide.family) != 0);
    CHECK(hub_store_write(S, session_family_txn, &wide) == 0 && strcmp(wide.family, more.family) != 0 && families(S) == before + 5);
    CHECK(hub_store_write(S, revoke_family_txn, wide.family) == 0);
    CHECK(hub_store_write(S, session_family_txn, &f2) == 0 && strcmp(f2.family, wide.family) != 0 &&
          strcmp(f2.family, f1.family) != 0 && family_revoked(S, f2.family) == 0);
    CHECK(hub_store_write(S, session_family_txn, &none) == HUB_E_NOTFOUND);
    /* a reused family is made to cover what the new authorization needs (it grows only then) */
    struct fam_ctx longer = f2;
    uint64_t exp = test_family_expiry(S, f2.family);
    longer.until = hub_now() + 3600; /* covered already: no change */
    CHECK(hub_store_write(S, session_family_txn, &longer) == 0 && strcmp(longer.family, f2.family) == 0 &&
          test_family_expiry(S, f2.family) == exp);
    longer.until = exp + 100000;
    CHECK(hub_store_write(S, session_family_txn, &longer) == 0 && strcmp(longer.family, f2.family) == 0 &&
          test_family_expiry(S, f2.family) >= exp + 100000);
    s2 = by_sid(S, sid, &err);
    CHECK(s2 != NULL && idp_strv_has(&s2->clients, "client-f") && idp_strv_has(&s2->clients, "client-g"));
    idp_session_free(s2);
    /* what the session names must be this session's family for this client: another session's, another client's */
    CHECK(hub_store_write(S, family_txn, &other) == 0);
    const char *planted[] = {other.family, g.family, "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i != sizeof(planted) / sizeof(planted[0]); ++i) {
        struct plant_ctx p = {st->cookie, &f1, planted[i]};
        CHECK(hub_store_write(S, plant_family_txn, &p) == 0);
        CHECK(hub_store_write(S, session_family_txn, &f1) == 0 && strcmp(f1.family, planted[i]) != 0);
        CHECK(family_revoked(S, f1.family) == 0);
    }
}

/* A second session of another user is independent. */
static void ses_second_user(ses_state_t *st)
{
    fake_req_t r;

    req_init(&r, NULL);
    CHECK(idp_session_start(st->idp, &r.req, st->bob.sub, NULL) == 0);
    CHECK(set_cookie_value(&r.req, st->idp->session_cookie, st->cookie2, sizeof(st->cookie2), NULL) != NULL);
    req_dispose(&r);
    CHECK(strcmp(st->cookie, st->cookie2) != 0);
}

/* Disabling the user kills the session; enabling brings it back (it was never ended). */
static void ses_disabled_user(ses_state_t *st)
{
    idp_session_t *s2;

    st->alice.enabled = 0;
    CHECK(hub_store_write(st->idp->store, put_user_txn, &st->alice) == 0);
    CHECK(current(st->idp, st->cookie) == NULL);
    st->alice.enabled = 1;
    CHECK(hub_store_write(st->idp->store, put_user_txn, &st->alice) == 0);
    s2 = current(st->idp, st->cookie);
    CHECK(s2 != NULL);
    idp_session_free(s2);
}

/* Ending: returns the record with its clients, revokes its families (only its own), and is gone after; bob's stays. */
static void ses_end(ses_state_t *st)
{
    int err = 0;
    struct sid_ctx e = {st->s->sid, NULL, NULL}, mine = {st->s->sid, "client-a"}, other = {"other-sid", "client-a"};

    CHECK(hub_store_write(st->idp->store, family_txn, &mine) == 0);
    CHECK(hub_store_write(st->idp->store, family_txn, &other) == 0);
    CHECK(family_revoked(st->idp->store, mine.family) == 0);
    CHECK(hub_store_write(st->idp->store, end_txn, &e) == 0);
    CHECK(e.ended != NULL && e.ended->clients.n == 4 && strcmp(e.ended->sub, st->alice.sub) == 0); /* a, b, f, g */
    CHECK(family_revoked(st->idp->store, mine.family) == 1);
    CHECK(family_revoked(st->idp->store, other.family) == 0);
    idp_session_free(e.ended);
    e.ended = NULL;
    CHECK(hub_store_write(st->idp->store, end_txn, &e) == HUB_E_NOTFOUND);
    idp_session_free(e.ended);
    CHECK(current(st->idp, st->cookie) == NULL);
    CHECK(by_sid(st->idp->store, st->s->sid, &err) == NULL && err == HUB_E_NOTFOUND);
    st->bob_s = current(st->idp, st->cookie2);
    CHECK(st->bob_s != NULL && strcmp(st->bob_s->sub, st->bob.sub) == 0);
}

/* idp_session_end_current ends the cookie's session and clears the cookie; a second time finds nothing. */
static void ses_end_current(ses_state_t *st)
{
    fake_req_t r;
    char hdr[256], v[128];
    idp_session_t *ended = NULL;

    snprintf(hdr, sizeof(hdr), "%s=%s", st->idp->session_cookie, st->cookie2);
    req_init(&r, hdr);
    CHECK(idp_session_end_current(st->idp, &r.req, &ended) == 0);
    CHECK(ended != NULL && st->bob_s != NULL && strcmp(ended->sid, st->bob_s->sid) == 0);
    CHECK(set_cookie_value(&r.req, st->idp->session_cookie, v, sizeof(v), NULL) != NULL && v[0] == '\0');
    idp_session_free(ended);
    req_dispose(&r);
    CHECK(current(st->idp, st->cookie2) == NULL);
    req_init(&r, hdr);
    CHECK(idp_session_end_current(st->idp, &r.req, &ended) == HUB_E_NOTFOUND && ended == NULL);
    req_dispose(&r);
}

/* Sessions of two users through start, lookup, the store, clients, disabling and ending, each part in turn on one
 * state (each goes on from what the ones before left). */
static void test_sessions(idp_t *idp)
{
    static void (*const parts[])(ses_state_t *) = {ses_cookie_lookup, ses_stored_hashed, ses_by_sid_and_clients, ses_families,
                                                   ses_second_user,   ses_disabled_user, ses_end,                ses_end_current};
    ses_state_t st = {.idp = idp, .alice = {"alice", 1}, .bob = {"bob", 1}};

    ses_start(&st);
    if (st.s == NULL)
        return;
    for (size_t i = 0; i != sizeof(parts) / sizeof(parts[0]); ++i)
        parts[i](&st);
    idp_session_free(st.bob_s);
    idp_session_free(st.s);
}

static void test_expiry(idp_t *idp, hub_config_t *cfg)
{
    struct user_ctx carol = {"carol", 1};
    char cookie[128];
    fake_req_t r;
    idp_session_t *s;
    uint64_t ttl = cfg->primary.session_ttl;

    CHECK(hub_store_write(idp->store, put_user_txn, &carol) == 0);
    cfg->primary.session_ttl = 1;
    req_init(&r, NULL);
    CHECK(idp_session_start(idp, &r.req, carol.sub, NULL) == 0);
    CHECK(set_cookie_value(&r.req, idp->session_cookie, cookie, sizeof(cookie), NULL) != NULL);
    req_dispose(&r);
    s = current(idp, cookie);
    CHECK(s != NULL);
    idp_session_free(s);
    sleep(2);
    CHECK(current(idp, cookie) == NULL);
    cfg->primary.session_ttl = ttl;
}

int main(void)
{
    char *dir = test_tmpdir("idp-session");
    hub_config_t cfg;
    hub_store_t *store = NULL;
    idp_t idp;

    hub_config_defaults(&cfg);
    if (hub_store_open(&store, dir) != 0) {
        printf("FAIL cannot open the store\n");
        return 1;
    }
    memset(&idp, 0, sizeof(idp));
    idp.cfg = &cfg;
    idp.store = store;
    snprintf(idp.session_cookie, sizeof(idp.session_cookie), "hub_test_session");

    test_sessions(&idp);
    test_expiry(&idp, &cfg);

    hub_store_close(store);
    hub_config_dispose(&cfg);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/session");
}
