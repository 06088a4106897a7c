/* Tests idp/revocation.c: each change that takes something away from a user ends exactly that user's sessions and token
 * families and queues one back-channel logout by sub, in the change's own transaction; other changes end nothing; the
 * logout queue's order, retry and removal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/config.h"
#include "hub/err.h"
#include "hub/store.h"
#include "idp/grants.h"
#include "idp/ctx.h"
#include "idp/client.h"
#include "idp/role.h"
#include "idp/user.h"
#include "idp/revocation.h"
#include "idp/session.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static idp_t idp;

/* ---- fixtures ---- */

static int roles_txn(hub_txn_t *txn, void *arg)
{
    static const char *const roles[] = {"Employee", "Temp", "Auditor", IDP_ROLE_GUEST, IDP_ROLE_SYSTEM_MANAGER};
    for (size_t i = 0; i != sizeof(roles) / sizeof(roles[0]); ++i)
        if (!idp_role_exists(txn, roles[i]) && idp_role_add(txn, roles[i]) != 0)
            return HUB_E_STORE;
    return 0;
}

struct new_user {
    const char *name, *roles; /* roles: a ';' list */
    char sub[64];
};

static int user_txn(hub_txn_t *txn, void *arg)
{
    struct new_user *n = arg;
    idp_user_t *u = calloc(1, sizeof(*u));
    char email[128];
    int ret;

    snprintf(email, sizeof(email), "%s@example.com", n->name);
    u->username = strdup(n->name);
    u->email = strdup(email);
    u->enabled = 1;
    u->password_hash = strdup("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g");
    idp_strv_split(&u->roles, n->roles, 0);
    if ((ret = idp_user_put(txn, u)) == 0)
        snprintf(n->sub, sizeof(n->sub), "%s", u->sub);
    idp_user_free(u);
    return ret;
}

static void new_user(struct new_user *n)
{
    CHECK(hub_store_write(idp.store, user_txn, n) == 0);
}

/* A session of sub (its public sid into sid). */
static void new_session(const char *sub, char sid[64])
{
    h2o_req_t req;
    idp_session_t *s = NULL;

    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    CHECK(idp_session_start(&idp, &req, sub, &s) == 0);
    snprintf(sid, 64, "%s", s != NULL ? s->sid : "");
    idp_session_free(s);
    h2o_mem_clear_pool(&req.pool);
}

struct new_family {
    const char *sub, *sid;
    char id[33];
};

static int family_txn(hub_txn_t *txn, void *arg)
{
    struct new_family *f = arg;
    return idp_family_create(txn, "client-x", f->sub, f->sid, NULL, hub_now() + 3600, f->id);
}

static void new_family(const char *sub, const char *sid, char id[33])
{
    struct new_family f = {sub, sid, {0}};
    CHECK(hub_store_write(idp.store, family_txn, &f) == 0);
    memcpy(id, f.id, 33);
}

static int session_alive(const char *sid)
{
    hub_txn_t *txn;
    idp_session_t *s = NULL;
    int alive;
    if (hub_store_read_begin(idp.store, &txn) != 0)
        return -1;
    alive = idp_session_get_by_sid(txn, sid, &s) == 0;
    idp_session_free(s);
    hub_store_read_end(txn);
    return alive;
}

static int family_revoked(const char *id)
{
    hub_txn_t *txn;
    idp_family_t *f = NULL;
    int r = -1;
    if (hub_store_read_begin(idp.store, &txn) != 0)
        return -1;
    if (idp_family_get(txn, id, &f) == 0)
        r = f->revoked;
    idp_family_free(f);
    hub_store_read_end(txn);
    return r;
}

#define MAX_JOBS 64

/* Every queued job (due or not), in queue order. */
static size_t queued(idp_logout_job_t jobs[MAX_JOBS])
{
    hub_txn_t *txn;
    size_t n = 0;
    if (hub_store_read_begin(idp.store, &txn) != 0)
        return 0;
    CHECK(idp_logout_queue_due(txn, UINT64_MAX / 2, jobs, MAX_JOBS, &n) == 0);
    hub_store_read_end(txn);
    return n;
}

static void dispose_jobs(idp_logout_job_t *jobs, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        idp_logout_job_dispose(&jobs[i]);
}

static int clear_queue_txn(hub_txn_t *txn, void *arg)
{
    idp_logout_job_t *jobs = arg;
    size_t n = 0;
    int ret = idp_logout_queue_due(txn, UINT64_MAX / 2, jobs, MAX_JOBS, &n);
    for (size_t i = 0; ret == 0 && i != n; ++i)
        ret = idp_logout_queue_done(txn, jobs[i].key);
    dispose_jobs(jobs, n);
    return ret;
}

static void clear_queue(void)
{
    idp_logout_job_t jobs[MAX_JOBS];
    CHECK(hub_store_write(idp.store, clear_queue_txn, jobs) == 0);
}

/* ---- the changes ---- */

typedef struct {
    const char *sub, *keep_sid, *arg;
} change_t;

static int load_change(hub_txn_t *txn, const change_t *c, idp_user_t **u)
{
    return idp_user_get(txn, c->sub, u);
}

#define CHANGE_TXN(name, body)                                                                                                     \
    static int name(hub_txn_t *txn, void *arg)                                                                                     \
    {                                                                                                                              \
        const change_t *c = arg;                                                                                                   \
        idp_user_t *u = NULL;                                                                                                      \
        int ret;                                                                                                                   \
        if ((ret = load_change(txn, c, &u)) != 0)                                                                                  \
            return ret;                                                                                                            \
        body;                                                                                                                      \
        ret = idp_user_update(txn, u, c->keep_sid);                                                                                \
        idp_user_free(u);                                                                                                          \
        return ret;                                                                                                                \
    }

static void set_password(idp_user_t *u, const char *hash)
{
    free(u->password_hash);
    u->password_hash = hash != NULL ? strdup(hash) : NULL;
}

static void drop_role(idp_user_t *u, const char *role)
{
    idp_strv_remove(&u->roles, role);
}

static void add_role(idp_user_t *u, const char *role)
{
    char **v = realloc(u->roles.v, (u->roles.n + 2) * sizeof(char *));
    v[u->roles.n++] = strdup(role);
    v[u->roles.n] = NULL;
    u->roles.v = v;
}

static void set_full_name(idp_user_t *u, const char *name)
{
    free(u->full_name);
    u->full_name = strdup(name);
}

/* a change refused by validation (an e-mail without '@') that would also have removed a role */
static void invalid_change(idp_user_t *u)
{
    drop_role(u, "Temp");
    free(u->email);
    u->email = strdup("not-an-address");
}

CHANGE_TXN(disable_txn, u->enabled = 0)
CHANGE_TXN(enable_txn, u->enabled = 1)
CHANGE_TXN(passwd_txn, set_password(u, c->arg))
CHANGE_TXN(roles_remove_txn, drop_role(u, c->arg))
CHANGE_TXN(roles_add_txn, add_role(u, c->arg))
CHANGE_TXN(rename_txn, set_full_name(u, c->arg))
CHANGE_TXN(invalid_txn, invalid_change(u))

static int client_put_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_put(txn, arg);
}

static int remove_user_txn(hub_txn_t *txn, void *arg)
{
    return idp_user_remove(txn, ((const change_t *)arg)->sub);
}

static int role_remove_txn(hub_txn_t *txn, void *arg)
{
    return idp_role_remove(txn, ((const change_t *)arg)->arg);
}

/* ---- scenarios ---- */

/* The subject (sessions a, b; families of a, b and one without a session) and a bystander holding Employee only. */
typedef struct {
    struct new_user subject, other;
    char other_name[64];
    char sid_a[64], sid_b[64], sid_o[64];
    char fam_a[33], fam_b[33], fam_n[33], fam_o[33];
} world_t;

static void make_world(world_t *w, const char *name)
{
    snprintf(w->other_name, sizeof(w->other_name), "%s-other", name);
    w->subject = (struct new_user){name, "Employee;Temp"};
    w->other = (struct new_user){w->other_name, "Employee"};
    new_user(&w->subject);
    new_user(&w->other);
    new_session(w->subject.sub, w->sid_a);
    new_session(w->subject.sub, w->sid_b);
    new_session(w->other.sub, w->sid_o);
    new_family(w->subject.sub, w->sid_a, w->fam_a);
    new_family(w->subject.sub, w->sid_b, w->fam_b);
    new_family(w->subject.sub, NULL, w->fam_n);
    new_family(w->other.sub, w->sid_o, w->fam_o);
}

typedef struct {
    const char *what;
    int (*txn)(hub_txn_t *, void *);
    const char *arg;
    const char *reason; /* NULL: nothing is taken away, nothing ends */
} scenario_t;

static void check_untouched(const world_t *w, const char *what)
{
    idp_logout_job_t jobs[MAX_JOBS];
    size_t n = queued(jobs);
    int ok = session_alive(w->sid_a) == 1 && session_alive(w->sid_b) == 1 && family_revoked(w->fam_a) == 0 &&
             family_revoked(w->fam_b) == 0 && family_revoked(w->fam_n) == 0 && n == 0;
    if (!ok)
        fprintf(stderr, "scenario %s: something ended or was queued\n", what);
    CHECK(ok);
    dispose_jobs(jobs, n);
}

static void check_bystander(const world_t *w, const char *what)
{
    int ok = session_alive(w->sid_o) == 1 && family_revoked(w->fam_o) == 0;
    if (!ok)
        fprintf(stderr, "scenario %s: the other user was touched\n", what);
    CHECK(ok);
}

static void run_scenario(const scenario_t *sc)
{
    world_t w;
    change_t c;
    idp_logout_job_t jobs[MAX_JOBS];
    size_t n;

    memset(&w, 0, sizeof(w));
    make_world(&w, sc->what);
    clear_queue();
    c = (change_t){w.subject.sub, NULL, sc->arg};
    CHECK(hub_store_write(idp.store, sc->txn, &c) == 0);
    check_bystander(&w, sc->what);
    if (sc->reason == NULL) {
        check_untouched(&w, sc->what);
        return;
    }
    int ended = session_alive(w.sid_a) == 0 && session_alive(w.sid_b) == 0 && family_revoked(w.fam_a) == 1 &&
                family_revoked(w.fam_b) == 1 && family_revoked(w.fam_n) == 1;
    if (!ended)
        fprintf(stderr, "scenario %s: the user's sessions or families are still alive\n", sc->what);
    CHECK(ended);
    /* one job names the user (a deleted role also names the earlier scenarios' users holding it), none the bystander */
    n = queued(jobs);
    size_t mine = 0;
    for (size_t i = 0; i != n; ++i) {
        CHECK(jobs[i].sub != NULL && strcmp(jobs[i].sub, w.other.sub) != 0);
        if (jobs[i].sub == NULL || strcmp(jobs[i].sub, w.subject.sub) != 0)
            continue;
        ++mine;
        CHECK(jobs[i].sid == NULL && jobs[i].attempts == 0 && jobs[i].created_at >= hub_now() - 5);
        CHECK(jobs[i].reason != NULL && strcmp(jobs[i].reason, sc->reason) == 0);
    }
    CHECK(mine == 1 && (n == 1 || sc->txn == role_remove_txn));
    dispose_jobs(jobs, n);
}

static void test_changes(void)
{
    static const scenario_t scenarios[] = {
        {"disable", disable_txn, NULL, "disabled"},
        {"passwd", passwd_txn, "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA", "password"},
        {"passwd-none", passwd_txn, NULL, "password"},
        {"roles-remove", roles_remove_txn, "Temp", "roles"},
        {"roles-remove-employee", roles_remove_txn, "Employee", "roles"},
        {"user-del", remove_user_txn, NULL, "deleted"},
        {"role-del", role_remove_txn, "Temp", "roles"},
        /* nothing taken away */
        {"enable", enable_txn, NULL, NULL},
        {"roles-add", roles_add_txn, "Auditor", NULL},
        {"roles-remove-unheld", roles_remove_txn, "Auditor", NULL},
        {"same-password", passwd_txn, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", NULL},
        {"rename", rename_txn, "Someone Else", NULL},
    };
    for (size_t i = 0; i != sizeof(scenarios) / sizeof(scenarios[0]); ++i) {
        run_scenario(&scenarios[i]);
        /* role-del recreates its role for the next scenario */
        CHECK(hub_store_write(idp.store, roles_txn, NULL) == 0);
    }
}

/* A user changing their own password keeps the session in use (and its families); every other one ends. */
static void test_keep_session(void)
{
    world_t w;
    change_t c;
    idp_logout_job_t jobs[MAX_JOBS];
    size_t n;

    memset(&w, 0, sizeof(w));
    make_world(&w, "keeper");
    clear_queue();
    c = (change_t){w.subject.sub, w.sid_a, "$argon2id$v=19$m=19456,t=2,p=1$a2VlcA$a2VlcGhhc2g"};
    CHECK(hub_store_write(idp.store, passwd_txn, &c) == 0);
    CHECK(session_alive(w.sid_a) == 1 && family_revoked(w.fam_a) == 0);
    CHECK(session_alive(w.sid_b) == 0 && family_revoked(w.fam_b) == 1 && family_revoked(w.fam_n) == 1);
    check_bystander(&w, "keeper");
    n = queued(jobs);
    CHECK(n == 1);
    dispose_jobs(jobs, n);
}

/* A refused change commits nothing, its revocation included. */
static void test_refusals(void)
{
    world_t w;
    change_t c;
    idp_client_t *client = NULL;

    memset(&w, 0, sizeof(w));
    make_world(&w, "refused");
    clear_queue();
    c = (change_t){w.subject.sub, NULL, NULL};
    CHECK(hub_store_write(idp.store, invalid_txn, &c) == HUB_E_INVAL);
    check_untouched(&w, "invalid change");

    /* a role in a client's allowed_roles is not deleted, and no user loses it */
    client = calloc(1, sizeof(*client));
    client->app_name = strdup("audit");
    idp_strv_split(&client->scopes, "openid", 1);
    idp_strv_split(&client->redirect_uris, "https://audit.example/cb", 1);
    idp_strv_split(&client->allowed_roles, "Temp", 0);
    idp_strv_split(&client->service_roles, "", 0);
    idp_strv_split(&client->post_logout_redirect_uris, "", 1);
    client->enabled = 1;
    c.arg = "Temp";
    CHECK(hub_store_write(idp.store, client_put_txn, client) == 0);
    CHECK(hub_store_write(idp.store, role_remove_txn, &c) == HUB_E_BUSY);
    check_untouched(&w, "role held by a client");
    c.arg = IDP_ROLE_GUEST;
    CHECK(hub_store_write(idp.store, role_remove_txn, &c) == HUB_E_DENIED);
    c.arg = "Ghost";
    CHECK(hub_store_write(idp.store, role_remove_txn, &c) == HUB_E_NOTFOUND);
    check_untouched(&w, "unknown role");
    /* a user who is gone */
    c.sub = "no-such-sub";
    CHECK(hub_store_write(idp.store, remove_user_txn, &c) == HUB_E_NOTFOUND);
    idp_client_free(client);
}

/* ---- the queue ---- */

struct enqueue_args {
    const char *sub, *sid;
    int n;
};

static int enqueue_txn(hub_txn_t *txn, void *arg)
{
    struct enqueue_args *a = arg;
    int ret = 0;
    for (int i = 0; ret == 0 && i != a->n; ++i)
        ret = idp_logout_enqueue(txn, a->sub, a->sid, "test");
    return ret;
}

struct retry_args {
    idp_logout_job_t *job;
    uint64_t next_at;
};

static int retry_txn(hub_txn_t *txn, void *arg)
{
    struct retry_args *a = arg;
    return idp_logout_queue_retry(txn, a->job, a->next_at);
}

static int done_txn(hub_txn_t *txn, void *arg)
{
    return idp_logout_queue_done(txn, arg);
}

static size_t due_at(uint64_t now, idp_logout_job_t *jobs, size_t max)
{
    hub_txn_t *txn;
    size_t n = 0;
    if (hub_store_read_begin(idp.store, &txn) != 0)
        return 0;
    CHECK(idp_logout_queue_due(txn, now, jobs, max, &n) == 0);
    hub_store_read_end(txn);
    return n;
}

static void test_queue(void)
{
    struct enqueue_args twelve = {"sub-q", NULL, 12}, by_sid = {NULL, "sid-q", 1}, none = {NULL, NULL, 1};
    idp_logout_job_t jobs[MAX_JOBS], later[MAX_JOBS];
    uint64_t now = hub_now();
    size_t n;

    clear_queue();
    CHECK(hub_store_write(idp.store, enqueue_txn, &twelve) == 0);
    CHECK(hub_store_write(idp.store, enqueue_txn, &by_sid) == 0);
    CHECK(hub_store_write(idp.store, enqueue_txn, &none) == HUB_E_INVAL);
    n = queued(jobs);
    CHECK(n == 13);
    /* queue order survives the tenth key (zero-padded sequence numbers) */
    for (size_t i = 1; i < n; ++i)
        CHECK(strcmp(jobs[i - 1].key, jobs[i].key) < 0);
    CHECK(n == 13 && jobs[12].sub == NULL && jobs[12].sid != NULL && strcmp(jobs[12].sid, "sid-q") == 0);
    dispose_jobs(jobs, n);

    /* a batch is bounded */
    n = due_at(now, jobs, 5);
    CHECK(n == 5);
    /* a job whose hand-over failed waits until next_at, then comes back with its count */
    struct retry_args r = {&jobs[0], now + 100};
    CHECK(hub_store_write(idp.store, retry_txn, &r) == 0);
    n = due_at(now, later, MAX_JOBS);
    CHECK(n == 12);
    for (size_t i = 0; i != n; ++i)
        CHECK(strcmp(later[i].key, jobs[0].key) != 0);
    dispose_jobs(later, n);
    n = due_at(now + 100, later, MAX_JOBS);
    CHECK(n == 13 && strcmp(later[0].key, jobs[0].key) == 0 && later[0].attempts == 1);
    dispose_jobs(later, n);
    /* done removes; twice is "not found" */
    CHECK(hub_store_write(idp.store, done_txn, jobs[1].key) == 0);
    CHECK(hub_store_write(idp.store, done_txn, jobs[1].key) == HUB_E_NOTFOUND);
    CHECK(queued(later) == 12);
    dispose_jobs(later, 12);
    dispose_jobs(jobs, 5);
    clear_queue();
}

int main(void)
{
    char *dir = test_tmpdir("idp-revocation");
    hub_config_t cfg;
    hub_store_t *store = NULL;

    hub_config_defaults(&cfg);
    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    memset(&idp, 0, sizeof(idp));
    idp.cfg = &cfg;
    idp.store = store;
    snprintf(idp.session_cookie, sizeof(idp.session_cookie), "hub_test_session");
    CHECK(hub_store_write(store, roles_txn, NULL) == 0);

    test_changes();
    test_keep_session();
    test_refusals();
    test_queue();

    hub_store_close(store);
    hub_config_dispose(&cfg);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/revocation");
}
