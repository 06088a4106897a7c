/* Tests the consoles' store work off the loop (idp/console.h; SPEC §9: no store call blocks an event loop). Every page
 * reads the session, its user and what it shows in one read job, and every change writes in one write job after it (the
 * store's job hook counts them: a page that still read or wrote on its loop would make none); a request without a
 * session cookie makes none. With the store away each page answers 503 with Retry-After and each change stores nothing;
 * another store error is a 500. A refused form token (wrong, missing, another session's, from another site) makes no
 * write job. A client that leaves while its read, its Argon2id job or its write runs gets no answer and nothing touches
 * its request (ASan): a write already queued commits with its audit entry, nothing else is written. The session and
 * the role are checked again in the write's own transaction: taken between the read and the write (or during the
 * Argon2id job), the change is refused and nothing is stored. /account/ acts on the signed-in user only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/reader.h"
#include "idp/role.h"
#include "idp/settings.h"
#include "idp/user.h"
#include "tests/check.h"
#include "tests/support/console.h"
#include "tests/support/storehook.h"

#define PASSWORD "correct horse battery"
#define CB "https://app.example/cb"
#define NEW_CLIENT                                                                                                                 \
    "app_name=Park&scopes=openid&redirect_uris=https%3A%2F%2Fpark.example%2Fcb&default_redirect_uri=&grant_type="                  \
    "authorization_code&response_type=code&auth_method=client_secret_basic&allowed_roles=&backchannel_logout_uri=&"                \
    "post_logout_redirect_uris=&frappe_site=&service_roles="

static test_primary_t p;
static test_browser_t admin, bob, frank;
static char *admin_sub, *carol, *dave, web_secret[44];

/* ---- the store, read and written behind the node's back ---- */

static hub_skip_auth_t skip_setting(void)
{
    hub_txn_t *txn = NULL;
    hub_skip_auth_t v;

    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    v = idp_settings_skip_authorization(txn, &p.cfg);
    hub_store_read_end(txn);
    return v;
}

/* The stored password hash of sub (malloc'ed, "" when none). */
static char *hash_of(const char *sub)
{
    hub_txn_t *txn = NULL;
    idp_user_t *u = NULL;
    char *h;

    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    CHECK(idp_user_get(txn, sub, &u) == 0);
    hub_store_read_end(txn);
    h = strdup(u != NULL && u->password_hash != NULL ? u->password_hash : "");
    idp_user_free(u);
    return h;
}

/* a: username, then what the record alone gets (as another process could: no session ends): "+role", "-role", "off",
 * "on". */
static int record_txn(hub_txn_t *txn, void *arg)
{
    const char *const *a = arg;
    idp_user_t *u = NULL;
    int ret;

    if ((ret = idp_user_find(txn, a[0], &u)) != 0)
        return ret;
    if (a[1][0] == '+')
        idp_strv_add(&u->roles, a[1] + 1);
    else if (a[1][0] == '-')
        idp_strv_remove(&u->roles, a[1] + 1);
    else
        u->enabled = strcmp(a[1], "on") == 0;
    ret = idp_user_put(txn, u);
    idp_user_free(u);
    return ret;
}

static void record(const char *username, const char *what)
{
    const char *a[] = {username, what};
    CHECK(hub_store_write(p.store, record_txn, a) == 0);
}

/* ---- requests ---- */

/* A console request (a POST sends fields after the browser's form token) run to its answer while read jobs end with
 * read_err and write jobs with write_err; the jobs the store's hook saw into *reads and *writes. */
static test_req_t *run(const test_browser_t *b, const char *path, const char *fields, int read_err, int write_err, int *reads,
                       int *writes)
{
    test_req_t *r;
    int nr, nw;

    test_store_fail(read_err, write_err);
    r = fields == NULL ? test_console_get(&p, b, path) : test_console_post(&p, b, path, fields, 1);
    test_store_hook_seen(&nr, &nw);
    test_store_hook_off();
    if (reads != NULL)
        *reads = nr;
    if (writes != NULL)
        *writes = nw;
    return r;
}

/* status, Retry-After: 1 exactly when retry, an HTML page for an error; frees r. Returns 1 when all of it held. */
static int expect(test_req_t *r, int status, int retry)
{
    const char *ra = test_req_resp_header(r, "retry-after", 0), *ctype = test_req_resp_header(r, "content-type", 0);
    int ok = test_req_done(r) && test_req_status(r) == status && (retry ? ra != NULL && strcmp(ra, "1") == 0 : ra == NULL);

    if (ok && status >= 400)
        ok = strstr(ctype ?: "", "text/html") != NULL && strstr(test_req_text(r), "<h1>") != NULL;
    if (!ok)
        fprintf(stderr, "  got %d (retry-after %s), wanted %d\n", test_req_status(r), ra ?: "none", status);
    test_req_free(r);
    return ok;
}

/* ---- every page reads once; the store away ---- */

static void test_pages(void)
{
    char edit_user[160];
    const char *const pages[] = {"/admin/",        "/admin/settings",    "/admin/audit",
                                 "/admin/clients", "/admin/clients/new", "/admin/clients/edit?id=web",
                                 "/admin/users",   "/admin/users?q=c",   "/admin/users/new",
                                 edit_user,        "/admin/roles",       "/admin/nodes",
                                 "/admin/keys",    "/account/"};
    test_browser_t forged = {TEST_PRIMARY_SESSION_COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"};
    int reads, writes;

    snprintf(edit_user, sizeof(edit_user), "/admin/users/edit?id=%s", carol);
    for (size_t i = 0; i != sizeof(pages) / sizeof(pages[0]); ++i) {
        int ok = expect(run(&admin, pages[i], NULL, 0, 0, &reads, &writes), 200, 0) && reads == 1 && writes == 0;
        ok = expect(run(&admin, pages[i], NULL, HUB_E_UNAVAILABLE, 0, &reads, &writes), 503, 1) && reads == 1 && ok;
        ok = expect(run(&admin, pages[i], NULL, HUB_E_STORE, 0, &reads, &writes), 500, 0) && reads == 1 && ok;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  (%s)\n", pages[i]);
    }
    /* no session cookie: the sign-in page, no store job; a cookie naming no session: its one read, then the same */
    CHECK(expect(run(NULL, "/admin/users", NULL, HUB_E_UNAVAILABLE, 0, &reads, &writes), 302, 0) && reads == 0);
    CHECK(expect(run(&forged, "/admin/users", NULL, 0, 0, &reads, &writes), 302, 0) && reads == 1);
    CHECK(expect(run(&forged, "/account/", NULL, HUB_E_UNAVAILABLE, 0, &reads, &writes), 503, 1) && reads == 1);
    /* bob on an admin page: the read that finds his roles, and nothing of the page */
    CHECK(expect(run(&bob, "/admin/users", NULL, 0, 0, &reads, &writes), 403, 0) && reads == 1 && writes == 0);
    CHECK(expect(run(&bob, "/admin/settings", "skip_authorization=auto", 0, 0, &reads, &writes), 403, 0) && writes == 0);
}

/* One change: refused by the store away (503), by another store error (500), then made; each time one read and one
 * write. table changes by delta when it is made (and the audit log by one). */
static void change_case(const test_browser_t *b, const char *path, const char *fields, int status, hub_table_t table, int delta)
{
    size_t audits = test_console_audits(&p), n = test_primary_count(&p, table);
    int reads, writes, ok;

    ok = expect(run(b, path, fields, 0, HUB_E_UNAVAILABLE, &reads, &writes), 503, 1) && reads == 1 && writes == 1;
    ok = expect(run(b, path, fields, 0, HUB_E_STORE, &reads, &writes), 500, 0) && reads == 1 && writes == 1 && ok;
    ok = test_console_audits(&p) == audits && test_primary_count(&p, table) == n && ok;
    ok = expect(run(b, path, fields, 0, 0, &reads, &writes), status, 0) && reads == 1 && writes == 1 && ok;
    ok = test_console_audits(&p) == audits + 1 && test_primary_count(&p, table) == n + (size_t)delta && ok;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  (%s %s)\n", path, fields);
}

static void test_changes(void)
{
    char sub[256], sub_roles[256], sub_delete[256];

    snprintf(sub, sizeof(sub), "sub=%s", dave);
    snprintf(sub_roles, sizeof(sub_roles), "sub=%s&role=Editor", dave);
    snprintf(sub_delete, sizeof(sub_delete), "sub=%s&confirm=yes", dave);
    change_case(&admin, "/admin/settings", "skip_authorization=auto", 303, HUB_T_AUDIT, 1);
    CHECK(skip_setting() == HUB_SKIP_AUTH_AUTO);
    change_case(&admin, "/admin/roles/add", "role=Editor", 303, HUB_T_ROLES, 1);
    change_case(&admin, "/admin/users/roles", sub_roles, 303, HUB_T_AUDIT, 1);
    change_case(&admin, "/admin/users/state", sub, 303, HUB_T_AUDIT, 1);
    change_case(&admin, "/admin/roles/delete", "role=Editor&confirm=yes", 303, HUB_T_ROLES, -1);
    change_case(&admin, "/admin/clients/new", NEW_CLIENT, 200, HUB_T_CLIENTS, 1);
    change_case(&admin, "/admin/clients/rotate-secret", "client_id=web2", 200, HUB_T_AUDIT, 1);
    change_case(&admin, "/admin/clients/delete", "client_id=web2&confirm=yes", 303, HUB_T_CLIENTS, -1);
    change_case(&admin, "/admin/nodes/join-token", "ttl=1h", 200, HUB_T_JOIN_TOKENS, 1);
    change_case(&admin, "/admin/users/delete", sub_delete, 303, HUB_T_USERS, -1);
    change_case(&bob, "/account/revoke", "client_id=web", 303, HUB_T_AUDIT, 1);
    /* Argon2id on the worker pool first, then the write */
    change_case(&admin, "/admin/users/new",
                "username=erin&email=erin%40example.com&password=erin-password&password_again=erin-password", 303, HUB_T_USERS, 1);
    change_case(&frank, "/account/password",
                "current_password=" PASSWORD "&new_password=frank-new-password&new_password_again=frank-new-password", 303,
                HUB_T_AUDIT, 1);
    snprintf(sub, sizeof(sub), "sub=%s&password=carol-new-password&password_again=carol-new-password", carol);
    change_case(&admin, "/admin/users/password", sub, 303, HUB_T_AUDIT, 1);
    change_case(&admin, "/admin/settings", "skip_authorization=force", 303, HUB_T_AUDIT, 1);
}

/* A wrong current password is counted through the writer before the page says so. */
static void test_wrong_password(void)
{
    size_t failures = test_primary_count(&p, HUB_T_LOGIN_FAILURES);
    int reads, writes;

    CHECK(expect(run(&frank, "/account/password",
                     "current_password=not-it&new_password=frank-other-password&new_password_again=frank-other-password", 0, 0,
                     &reads, &writes),
                 400, 0) &&
          reads == 1 && writes == 1);
    CHECK(test_primary_count(&p, HUB_T_LOGIN_FAILURES) == failures + 1);
}

/* ---- a refused form token makes no write ---- */

/* A POST to path with the body as it is (its own csrf_token or none), the cookie of b, and Sec-Fetch-Site (may be
 * NULL); its status, and the jobs into *reads and *writes. */
static int post_raw(const test_browser_t *b, const char *path, const char *body, const char *fetch_site, int *reads, int *writes)
{
    test_req_t *r = test_req_new(&p.loop, "POST", path);
    int status;

    test_req_header(r, "cookie", b->cookie);
    if (fetch_site != NULL)
        test_req_header(r, "sec-fetch-site", fetch_site);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_store_fail(0, 0);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    test_store_hook_seen(reads, writes);
    test_store_hook_off();
    status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

static void test_csrf_before_write(void)
{
    static const char *const posts[] = {"/admin/settings",
                                        "/admin/roles/add",
                                        "/admin/roles/delete",
                                        "/admin/clients/new",
                                        "/admin/clients/edit",
                                        "/admin/clients/delete",
                                        "/admin/clients/rotate-secret",
                                        "/admin/users/new",
                                        "/admin/users/state",
                                        "/admin/users/roles",
                                        "/admin/users/password",
                                        "/admin/users/delete",
                                        "/admin/nodes/join-token",
                                        "/admin/nodes/revoke",
                                        "/admin/keys/rotate",
                                        "/admin/keys/retire",
                                        "/admin/keys/revoke",
                                        "/account/password",
                                        "/account/revoke",
                                        "/account/sign-out-everywhere"};
    size_t audits = test_console_audits(&p), keys = test_primary_count(&p, HUB_T_KEYS);
    char wrong[64], body[1024], fields[512];
    int reads, writes;

    snprintf(wrong, sizeof(wrong), "%s", admin.token);
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    snprintf(fields, sizeof(fields),
             "skip_authorization=auto&role=Guest&confirm=yes&client_id=web&sub=%s&kid=x&id=x&ttl=1h&password=pppppppp1&"
             "password_again=pppppppp1&current_password=" PASSWORD "&new_password=nnnnnnnn1&new_password_again=nnnnnnnn1",
             carol);
    for (size_t i = 0; i != sizeof(posts) / sizeof(posts[0]); ++i) {
        const char *const tokens[] = {wrong, bob.token, "", NULL};
        for (size_t t = 0; t != sizeof(tokens) / sizeof(tokens[0]); ++t) {
            if (tokens[t] != NULL)
                snprintf(body, sizeof(body), "csrf_token=%s&%s", tokens[t], fields);
            else
                snprintf(body, sizeof(body), "%s", fields);
            CHECK(post_raw(&admin, posts[i], body, NULL, &reads, &writes) == 403 && reads == 1 && writes == 0);
        }
        snprintf(body, sizeof(body), "csrf_token=%s&%s", admin.token, fields);
        CHECK(post_raw(&admin, posts[i], body, "cross-site", &reads, &writes) == 403 && reads == 1 && writes == 0);
    }
    test_loop_run(&p.loop, 20); /* nothing queued either */
    CHECK(test_console_audits(&p) == audits && test_primary_count(&p, HUB_T_KEYS) == keys && skip_setting() == HUB_SKIP_AUTH_FORCE);
}

/* ---- clients that leave ---- */

/* A hold of the test's own on the writer: every write job waits inside its transaction until released. */
static pthread_mutex_t hold_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int holding, held;

static int hold_hook(void *ctx, int is_write)
{
    pthread_mutex_lock(&hold_mutex);
    if (is_write) {
        ++held;
        while (holding)
            pthread_cond_wait(&hold_cond, &hold_mutex);
        --held;
    }
    pthread_mutex_unlock(&hold_mutex);
    return 0;
}

static int writes_held(void)
{
    pthread_mutex_lock(&hold_mutex);
    int n = held;
    pthread_mutex_unlock(&hold_mutex);
    return n;
}

static void hold_writes(void)
{
    holding = 1;
    hub_store_set_hook(hold_hook, NULL);
}

/* Runs the loop until a write waits in its transaction (at most 10 s); 1 when one does. */
static int wait_write_held(void)
{
    for (int i = 0; i != 1000 && writes_held() == 0; ++i)
        test_loop_run(&p.loop, 10);
    return writes_held() != 0;
}

static void release_writes(void)
{
    pthread_mutex_lock(&hold_mutex);
    holding = 0;
    pthread_cond_broadcast(&hold_cond);
    pthread_mutex_unlock(&hold_mutex);
    while (writes_held() != 0)
        usleep(1000);
    hub_store_set_hook(NULL, NULL);
}

/* Runs the loop until the audit log holds n entries (at most 10 s); 1 when it does. */
static int wait_audits(size_t n)
{
    for (int i = 0; i != 1000 && test_console_audits(&p) != n; ++i)
        test_loop_run(&p.loop, 10);
    return test_console_audits(&p) == n;
}

/* A change whose client leaves while its write waits for the store: it commits, with its audit entry, and its answer goes
 * nowhere. */
static void test_left_writing(void)
{
    size_t audits = test_console_audits(&p);
    char body[256];
    test_req_t *r = test_req_new(&p.loop, "POST", "/admin/settings");

    test_req_header(r, "cookie", admin.cookie);
    snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=auto", admin.token);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    hold_writes();
    CHECK(test_req_run(r, 0) == 0 && wait_write_held());
    CHECK(!test_req_done(r));
    test_req_free(r);
    release_writes();
    CHECK(wait_audits(audits + 1) && skip_setting() == HUB_SKIP_AUTH_AUTO);
    test_loop_run(&p.loop, 20); /* the write's completion finds no request */
    CHECK(expect(run(&admin, "/admin/settings", "skip_authorization=force", 0, 0, NULL, NULL), 303, 0));
}

/* A POST whose client leaves while its gate's read waits inside its transaction on the store's readers: nothing is
 * written, nothing answered. */
static void test_left_reading(void)
{
    size_t audits = test_console_audits(&p);
    const char *const paths[] = {"/admin/settings", "/account/revoke", "/admin/keys/rotate"};
    char body[256];

    if (p.loop.thr.read_port == NULL)
        return; /* read in place: a request cannot leave during its read */
    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        test_req_t *r = test_req_new(&p.loop, "POST", paths[i]);
        test_req_header(r, "cookie", admin.cookie);
        snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=auto&client_id=web", admin.token);
        test_req_body(r, "application/x-www-form-urlencoded", body);
        test_store_hold_reads();
        CHECK(test_req_run(r, 0) == 0 && test_store_wait_held(1, 10000));
        test_req_free(r);
        test_store_hook_off();
        test_loop_run(&p.loop, 20); /* the read's completion finds no request */
    }
    CHECK(test_console_audits(&p) == audits && skip_setting() == HUB_SKIP_AUTH_FORCE);
}

/* A password set by a POST that leaves at once, during its read (with readers) or its Argon2id job (without): not set,
 * since nobody waits for the answer. */
static void test_left_in_job(void)
{
    size_t audits = test_console_audits(&p);
    char *before = hash_of(carol), *after, body[512];
    test_req_t *r = test_req_new(&p.loop, "POST", "/admin/users/password");

    snprintf(body, sizeof(body), "csrf_token=%s&sub=%s&password=carol-left-password&password_again=carol-left-password",
             admin.token, carol);
    test_req_header(r, "cookie", admin.cookie);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    CHECK(test_req_run(r, 0) == 0);
    test_req_free(r);
    test_loop_run(&p.loop, 300); /* the job ends meanwhile, or later: its completion finds no request either way */
    after = hash_of(carol);
    CHECK(strcmp(before, after) == 0 && test_console_audits(&p) == audits);
    free(before);
    free(after);
}

/* ---- the gate's answer checked again by the write ---- */

/* Readers held: the POST's read finds the gate open; what happens to admin's record meanwhile (what) is seen by the
 * write's own transaction, which refuses with status; nothing is stored. undo puts the record back. */
static void stale_case(const char *what, const char *undo, int status)
{
    size_t audits = test_console_audits(&p);
    char body[256];
    test_req_t *r = test_req_new(&p.loop, "POST", "/admin/settings");

    test_req_header(r, "cookie", admin.cookie);
    snprintf(body, sizeof(body), "csrf_token=%s&skip_authorization=auto", admin.token);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_store_hold_reads();
    CHECK(test_req_run(r, 0) == 0 && test_store_wait_held(1, 10000));
    record("admin", what); /* after the held read's transaction began: it still sees the old record */
    test_store_hook_off();
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == status);
    if (status == 302)
        CHECK(strncmp(test_req_resp_header(r, "location", 0) ?: "", "/login?next=", 12) == 0);
    test_req_free(r);
    CHECK(test_console_audits(&p) == audits && skip_setting() == HUB_SKIP_AUTH_FORCE);
    record("admin", undo);
}

static void test_stale(void)
{
    size_t audits = test_console_audits(&p);
    char *before = hash_of(carol), *after, body[512];
    test_req_t *r;

    if (p.loop.thr.read_port != NULL) {
        stale_case("-" IDP_ROLE_SYSTEM_MANAGER, "+" IDP_ROLE_SYSTEM_MANAGER, 403); /* the role taken */
        stale_case("off", "on", 302);                                              /* the user disabled: no session */
    }
    /* the role taken while the password is hashed: the write refuses it */
    r = test_req_new(&p.loop, "POST", "/admin/users/password");
    snprintf(body, sizeof(body), "csrf_token=%s&sub=%s&password=carol-stale-password&password_again=carol-stale-password",
             admin.token, carol);
    test_req_header(r, "cookie", admin.cookie);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    CHECK(test_req_run(r, 0) == 0);
    record("admin", "-" IDP_ROLE_SYSTEM_MANAGER);
    CHECK(test_req_wait(r, TEST_PRIMARY_WAIT_MS) && test_req_status(r) == 403);
    test_req_free(r);
    after = hash_of(carol);
    CHECK(strcmp(before, after) == 0 && test_console_audits(&p) == audits);
    record("admin", "+" IDP_ROLE_SYSTEM_MANAGER);
    CHECK(expect(run(&admin, "/admin/users", NULL, 0, 0, NULL, NULL), 200, 0));
    free(before);
    free(after);
}

/* /account/ is the signed-in user's: a sub in the query or the form names nobody else. */
static void test_own_account(void)
{
    size_t families = test_primary_count(&p, HUB_T_USER_FAMILIES), audits = test_console_audits(&p);
    char path[256], fields[256];
    test_req_t *r;

    snprintf(path, sizeof(path), "/account/?sub=%s", admin_sub);
    r = run(&bob, path, NULL, 0, 0, NULL, NULL);
    CHECK(test_req_status(r) == 200 && test_html_has(test_req_text(r), "username", "bob"));
    CHECK(strstr(test_req_text(r), "id=\"no-apps\"") != NULL); /* bob's apps (revoked above), not admin's */
    test_req_free(r);
    snprintf(fields, sizeof(fields), "client_id=web&sub=%s", admin_sub);
    CHECK(expect(run(&bob, "/account/revoke", fields, 0, 0, NULL, NULL), 404, 0));
    CHECK(test_primary_count(&p, HUB_T_USER_FAMILIES) == families && test_console_audits(&p) == audits);
}

int main(void)
{
    static const char *const manager[] = {IDP_ROLE_SYSTEM_MANAGER, NULL};
    json_t *tokens;

    test_primary_start(&p, "idp-console-park", NULL);
    admin_sub = test_primary_user(&p, "admin", PASSWORD, manager);
    free(test_primary_user(&p, "bob", PASSWORD, NULL));
    free(test_primary_user(&p, "frank", PASSWORD, NULL));
    carol = test_primary_user(&p, "carol", PASSWORD, NULL);
    dave = test_primary_user(&p, "dave", PASSWORD, NULL);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", CB, NULL, 1, web_secret);
    test_primary_client(&p, "web2", "authorization_code", "client_secret_basic", CB, NULL, 1, NULL);
    test_browser_sign_in(&p, &admin, "admin", PASSWORD);
    test_browser_sign_in(&p, &bob, "bob", PASSWORD);
    test_browser_sign_in(&p, &frank, "frank", PASSWORD);
    CHECK((tokens = test_primary_code_flow(&p, bob.cookie, "web", web_secret, CB, "openid")) != NULL);
    json_decref(tokens);
    CHECK((tokens = test_primary_code_flow(&p, admin.cookie, "web", web_secret, CB, "openid")) != NULL);
    json_decref(tokens);
    test_pages();
    test_csrf_before_write();
    test_changes();
    test_wrong_password();
    test_left_reading();
    test_left_writing();
    test_left_in_job();
    test_stale();
    test_own_account();
    /* bob's one session ends: its record and its sid's index */
    change_case(&bob, "/account/sign-out-everywhere", "", 303, HUB_T_SESSIONS, -2);
    test_primary_stop(&p);
    free(admin_sub);
    free(carol);
    free(dave);
    return check_report("idp/console_park");
}
