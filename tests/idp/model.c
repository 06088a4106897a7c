/* Tests idp/model.c: lists, roles, users and their indexes, passwords, clients, redirect matching, settings, join tokens, nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <argon2.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/grants.h"
#include "idp/model.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

static char *xstrdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* ---- lists ---- */

static void test_strv(void)
{
    idp_strv_t sv;
    char *s;

    idp_strv_split(&sv, " a; b ;;c;a ", 0);
    CHECK(sv.n == 3 && strcmp(sv.v[0], "a") == 0 && strcmp(sv.v[1], "b") == 0 && strcmp(sv.v[2], "c") == 0 && sv.v[3] == NULL);
    s = idp_strv_join(&sv, " ");
    CHECK(strcmp(s, "a b c") == 0);
    free(s);
    idp_strv_free(&sv);

    idp_strv_split(&sv, "openid profile;email\troles\n openid", 1);
    CHECK(sv.n == 4 && strcmp(sv.v[3], "roles") == 0);
    CHECK(idp_strv_has(&sv, "email") && !idp_strv_has(&sv, "mail") && !idp_strv_has(&sv, NULL));
    idp_strv_free(&sv);

    /* role names keep their spaces: split on ';' only */
    idp_strv_split(&sv, "System Manager; Guest ;System Manager", 0);
    CHECK(sv.n == 2 && strcmp(sv.v[0], "System Manager") == 0 && strcmp(sv.v[1], "Guest") == 0);
    idp_strv_free(&sv);
    idp_strv_split(&sv, "System Manager", 1);
    CHECK(sv.n == 2);
    idp_strv_free(&sv);

    idp_strv_split(&sv, " ; ;", 1);
    CHECK(sv.n == 0 && sv.v != NULL && sv.v[0] == NULL);
    s = idp_strv_join(&sv, ";");
    CHECK(strcmp(s, "") == 0);
    free(s);
    idp_strv_free(&sv);
    idp_strv_split(&sv, NULL, 0);
    CHECK(sv.n == 0);
    idp_strv_free(&sv);
    CHECK(sv.v == NULL);
}

/* ---- roles ---- */

static int roles_txn(hub_txn_t *txn, void *arg)
{
    idp_strv_t sv;

    CHECK(idp_role_add(txn, IDP_ROLE_SYSTEM_MANAGER) == 0);
    CHECK(idp_role_add(txn, IDP_ROLE_GUEST) == 0);
    CHECK(idp_role_add(txn, "Employee") == 0);
    CHECK(idp_role_add(txn, "Auditor") == 0);
    CHECK(idp_role_add(txn, "Employee") == HUB_E_EXISTS);
    CHECK(idp_role_add(txn, "") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, "a;b") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, " lead") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, "bad\x01") == HUB_E_INVAL);
    CHECK(idp_role_add(txn, "bad\xff") == HUB_E_INVAL);
    CHECK(idp_role_exists(txn, "System Manager") && idp_role_exists(txn, "Employee"));
    CHECK(!idp_role_exists(txn, "employee") && !idp_role_exists(txn, "") && !idp_role_exists(txn, NULL));
    CHECK(idp_role_list(txn, &sv) == 0);
    CHECK(sv.n == 4 && strcmp(sv.v[0], "Auditor") == 0 && strcmp(sv.v[3], "System Manager") == 0 && sv.v[4] == NULL);
    idp_strv_free(&sv);
    CHECK(idp_role_del(txn, "Nope") == HUB_E_NOTFOUND);
    CHECK(idp_role_del(txn, IDP_ROLE_GUEST) == HUB_E_DENIED);
    CHECK(idp_role_del(txn, "Auditor") == 0);
    CHECK(!idp_role_exists(txn, "Auditor"));
    CHECK(idp_role_add(txn, "Temp") == 0);
    return 0;
}

/* ---- users ---- */

static char alice_sub[64], bob_sub[64];

static idp_user_t *new_user(const char *name, const char *email, const char *role)
{
    idp_user_t *u = calloc(1, sizeof(*u));
    u->username = xstrdup(name);
    u->email = xstrdup(email);
    u->enabled = 1;
    idp_strv_split(&u->roles, role, 0);
    return u;
}

static int users_txn(hub_txn_t *txn, void *arg)
{
    idp_user_t *u = new_user("alice", "Alice@Example.COM", "Employee"), *f = NULL;
    char err[256];

    u->full_name = xstrdup("Alice Doe");
    CHECK(idp_user_put(txn, u) == 0);
    CHECK(u->sub != NULL && strlen(u->sub) == 22 && u->created_at != 0);
    snprintf(alice_sub, sizeof(alice_sub), "%s", u->sub);
    idp_user_free(u);

    u = new_user("bob", "bob@example.com", "");
    CHECK(idp_user_put(txn, u) == 0);
    snprintf(bob_sub, sizeof(bob_sub), "%s", u->sub);
    CHECK(strcmp(alice_sub, bob_sub) != 0);
    idp_user_free(u);

    /* lookups never scan: by name, by e-mail in any case */
    CHECK(idp_user_find(txn, "alice", &f) == 0 && f != NULL && strcmp(f->sub, alice_sub) == 0);
    CHECK(f != NULL && strcmp(f->email, "Alice@Example.COM") == 0 && strcmp(f->full_name, "Alice Doe") == 0 && f->enabled);
    CHECK(f != NULL && f->roles.n == 1 && strcmp(f->roles.v[0], "Employee") == 0 && f->given_name == NULL);
    idp_user_free(f);
    CHECK(idp_user_find(txn, "alice@example.com", &f) == 0 && f != NULL && strcmp(f->sub, alice_sub) == 0);
    idp_user_free(f);
    CHECK(idp_user_find(txn, "ALICE@EXAMPLE.com", &f) == 0 && f != NULL && strcmp(f->username, "alice") == 0);
    idp_user_free(f);
    CHECK(idp_user_find(txn, "Alice", &f) == HUB_E_NOTFOUND && f == NULL);
    CHECK(idp_user_find(txn, "", &f) == HUB_E_NOTFOUND);
    CHECK(idp_user_get(txn, "nope", &f) == HUB_E_NOTFOUND);

    /* duplicates, unknown roles, bad fields */
    u = new_user("alice", "other@example.com", "");
    CHECK(idp_user_put(txn, u) == HUB_E_EXISTS);
    idp_user_free(u);
    u = new_user("carol", "ALICE@example.com", "");
    CHECK(idp_user_put(txn, u) == HUB_E_EXISTS);
    idp_user_free(u);
    u = new_user("carol", "carol@example.com", "Ghost");
    CHECK(idp_user_put(txn, u) == HUB_E_NOTFOUND);
    idp_user_free(u);
    static const char *const bad_names[] = {"", "a b", "x/y", "ünï",
                                            "a1234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i != sizeof(bad_names) / sizeof(bad_names[0]); ++i) {
        u = new_user(bad_names[i], "x@example.com", "");
        CHECK(idp_user_put(txn, u) == HUB_E_INVAL);
        CHECK(idp_user_validate(u, err, sizeof(err)) == HUB_E_INVAL && strncmp(err, "username:", 9) == 0);
        idp_user_free(u);
    }
    u = new_user("a.b_c-d@e", "x@example.com", "");
    CHECK(idp_user_validate(u, err, sizeof(err)) == 0);
    idp_user_free(u);
    static const char *const bad_emails[] = {"", "plain", "@x", "x@", "a b@x", "a@b@c", "a@b\n"};
    for (size_t i = 0; i != sizeof(bad_emails) / sizeof(bad_emails[0]); ++i) {
        u = new_user("dave", bad_emails[i], "");
        CHECK(idp_user_validate(u, err, sizeof(err)) == HUB_E_INVAL && strncmp(err, "--email:", 8) == 0);
        idp_user_free(u);
    }
    char longmail[300];
    memset(longmail, 'a', sizeof(longmail));
    memcpy(longmail + 255 - 12, "@example.com", 13); /* 255 chars */
    u = new_user("dave", longmail, "");
    CHECK(idp_user_put(txn, u) == HUB_E_INVAL);
    idp_user_free(u);
    u = new_user("dave", "dave@example.com", "");
    u->full_name = xstrdup("bad\x7f");
    CHECK(idp_user_validate(u, err, sizeof(err)) == HUB_E_INVAL && strncmp(err, "--full-name:", 12) == 0);
    idp_user_free(u);
    return 0;
}

static int users_update_txn(hub_txn_t *txn, void *arg)
{
    idp_user_t *u = NULL, *f = NULL;

    /* rename and new e-mail: the old index entries are released */
    CHECK(idp_user_get(txn, alice_sub, &u) == 0);
    if (u == NULL)
        return 0;
    uint64_t created = u->created_at;
    free(u->username);
    u->username = xstrdup("alice2");
    free(u->email);
    u->email = xstrdup("alice2@example.com");
    CHECK(idp_user_put(txn, u) == 0);
    CHECK(strcmp(u->sub, alice_sub) == 0);
    idp_user_free(u);
    CHECK(idp_user_find(txn, "alice", &f) == HUB_E_NOTFOUND);
    CHECK(idp_user_find(txn, "alice@example.com", &f) == HUB_E_NOTFOUND);
    CHECK(idp_user_find(txn, "ALICE2@example.com", &f) == 0 && f != NULL && f->created_at == created);
    idp_user_free(f);
    /* another user may now take the old name and address */
    u = new_user("alice", "alice@example.com", "");
    CHECK(idp_user_put(txn, u) == 0);
    /* but bob cannot take alice2's */
    idp_user_free(u);
    CHECK(idp_user_get(txn, bob_sub, &u) == 0);
    free(u->email);
    u->email = xstrdup("Alice2@Example.com");
    CHECK(idp_user_put(txn, u) == HUB_E_EXISTS);
    idp_user_free(u);
    return 0;
}

static int collect_user(void *arg, const idp_user_t *u)
{
    char *buf = arg;
    strncat(buf, u->username, 255 - strlen(buf));
    strncat(buf, ",", 255 - strlen(buf));
    return 0;
}

static int users_del_txn(hub_txn_t *txn, void *arg)
{
    idp_user_t *f = NULL;
    char names[256] = "";

    CHECK(idp_user_each(txn, collect_user, names) == 0);
    CHECK(strcmp(names, "alice,alice2,bob,") == 0);
    CHECK(idp_user_find(txn, "alice", &f) == 0);
    if (f != NULL) {
        CHECK(idp_user_del(txn, f->sub) == 0);
        CHECK(idp_user_del(txn, f->sub) == HUB_E_NOTFOUND);
        idp_user_free(f);
    }
    CHECK(idp_user_find(txn, "alice", &f) == HUB_E_NOTFOUND);
    CHECK(idp_user_find(txn, "alice@example.com", &f) == HUB_E_NOTFOUND);
    names[0] = '\0';
    CHECK(idp_user_each(txn, collect_user, names) == 0);
    CHECK(strcmp(names, "alice2,bob,") == 0);
    /* a role held by a user cannot be deleted */
    CHECK(idp_role_del(txn, "Employee") == HUB_E_BUSY);
    return 0;
}

static void test_user_json(void)
{
    idp_user_t *u = new_user("eve", "eve@example.com", "");
    u->password_hash = xstrdup("$argon2id$secret");
    json_t *j = idp_user_to_json(u);
    CHECK(json_object_get(j, "password_hash") == NULL);
    CHECK(json_is_true(json_object_get(j, "has_password")));
    char *text = json_dumps(j, 0);
    CHECK(strstr(text, "argon2") == NULL);
    free(text);
    json_decref(j);
    idp_user_free(u);
}

/* ---- passwords ---- */

/* CPU time of this thread: the work Argon2 does, whatever else the machine is running. */
static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_passwords(void)
{
    char *h = NULL, *h2 = NULL;
    double t0, t_real, t_none;

    CHECK(idp_password_hash("correct horse", 13, &h) == 0 && h != NULL);
    CHECK(h != NULL && strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK(idp_password_hash("correct horse", 13, &h2) == 0 && h2 != NULL && strcmp(h, h2) != 0); /* salted */
    free(h2);
    h2 = NULL;
    CHECK(idp_password_hash("", 0, &h2) == HUB_E_INVAL && h2 == NULL);
    /* the fastest of a few runs, so that a loaded machine does not make the timing check flaky */
    t_real = t_none = 1e9;
    for (int i = 0; i != 3; ++i) {
        t0 = seconds();
        CHECK(idp_password_verify(h, "correct horse", 13) == 0);
        if (seconds() - t0 < t_real)
            t_real = seconds() - t0;
        t0 = seconds();
        CHECK(idp_password_verify(NULL, "correct horse", 13) == HUB_E_DENIED);
        if (seconds() - t0 < t_none)
            t_none = seconds() - t0;
    }
    CHECK(idp_password_verify(h, "correct horsE", 13) == HUB_E_DENIED);
    CHECK(idp_password_verify(h, "correct horse", 12) == HUB_E_DENIED);
    CHECK(idp_password_verify(h, NULL, 0) == HUB_E_DENIED);
    /* no account costs a real verification too */
    CHECK(t_none > t_real * 0.5);
    CHECK(idp_password_verify("garbage", "x", 1) == HUB_E_DENIED);
    /* The hash checked when there is no usable one has exactly the real hashes' parameters and is a well-formed one
     * (a full verification that mismatches, not a decode error that would return at once). */
    const char *dummy = idp_password_dummy_hash();
    CHECK(dummy != NULL && dummy == idp_password_dummy_hash());
    CHECK(dummy != NULL && strncmp(dummy, h, 31) == 0 && strlen(dummy) == strlen(h));
    CHECK(dummy != NULL && argon2id_verify(dummy, "correct horse", 13) == ARGON2_VERIFY_MISMATCH);
    CHECK(dummy != NULL && argon2id_verify(dummy, "", 0) == ARGON2_VERIFY_MISMATCH);
    free(h);
}

/* ---- clients ---- */

static idp_client_t *new_client(const char *uris, const char *scopes)
{
    idp_client_t *c = calloc(1, sizeof(*c));
    c->app_name = xstrdup("app");
    c->enabled = 1;
    idp_strv_split(&c->redirect_uris, uris, 1);
    idp_strv_split(&c->scopes, scopes, 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    return c;
}

/* Expects validation to fail naming field. */
static void expect_invalid(idp_client_t *c, const char *field)
{
    char err[512] = "";
    CHECK(idp_client_validate(c, err, sizeof(err)) == HUB_E_INVAL);
    if (strncmp(err, field, strlen(field)) != 0) {
        ++failures;
        fprintf(stderr, "expected an error on %s, got \"%s\"\n", field, err);
    }
    idp_client_free(c);
}

static void test_client_validate(void)
{
    char err[512];
    idp_client_t *c = new_client("https://app.example/cb http://127.0.0.1:8000/cb", "openid;profile");

    CHECK(idp_client_validate(c, err, sizeof(err)) == 0);
    CHECK(c->default_redirect_uri != NULL && strcmp(c->default_redirect_uri, "https://app.example/cb") == 0);
    idp_client_free(c);

    c = new_client("https://app.example/cb", "openid");
    c->response_type = IDP_RESPONSE_TOKEN;
    expect_invalid(c, "--response-type:");
    c = new_client("https://app.example/cb", "openid");
    c->grant_type = IDP_GRANT_IMPLICIT;
    expect_invalid(c, "--response-type:");
    c = new_client("https://app.example/cb", "openid");
    c->grant_type = IDP_GRANT_IMPLICIT;
    c->response_type = IDP_RESPONSE_TOKEN;
    c->auth_method = IDP_AUTH_NONE;
    CHECK(idp_client_validate(c, err, sizeof(err)) == 0);
    idp_client_free(c);

    /* client_credentials: no redirect URI needed, response type ignored, a secret required */
    c = new_client("", "read");
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    c->response_type = IDP_RESPONSE_TOKEN;
    CHECK(idp_client_validate(c, err, sizeof(err)) == 0 && c->default_redirect_uri == NULL);
    c->auth_method = IDP_AUTH_NONE;
    expect_invalid(c, "--auth-method:");
    c = new_client("", "openid");
    expect_invalid(c, "--redirect-uris:");

    static const char *const bad_uris[] = {"ftp://x",
                                           "/relative",
                                           "https://app.example/cb#frag",
                                           "http:///nohost",
                                           "http://:80/cb",
                                           "javascript:alert",
                                           "https://user@evil/cb",
                                           "http://a b/",
                                           "http://127.0.0.1:65536/cb",
                                           "http://127.0.0.1:99999/cb",
                                           "http://127.0.0.1:0/cb",
                                           "http://127.0.0.1:080/cb",
                                           "http://127.0.0.1:/cb",
                                           "http://127.0.0.1:8a/cb",
                                           "http://app.example\\@evil.example/cb",
                                           "http://[fe80::1%25eth0]/cb",
                                           "http://999.1.1.1/cb"};
    for (size_t i = 0; i != sizeof(bad_uris) / sizeof(bad_uris[0]); ++i) {
        c = new_client("", "openid");
        c->redirect_uris.v = realloc(c->redirect_uris.v, 2 * sizeof(char *));
        c->redirect_uris.v[0] = xstrdup(bad_uris[i]);
        c->redirect_uris.v[1] = NULL;
        c->redirect_uris.n = 1;
        expect_invalid(c, "--redirect-uris:");
    }
    c = new_client("https://app.example/cb", "openid");
    c->default_redirect_uri = xstrdup("https://other.example/cb");
    expect_invalid(c, "--default-redirect-uri:");
    c = new_client("https://app.example/cb", "");
    expect_invalid(c, "--scopes:");
    c = new_client("https://app.example/cb", "openid bad\"scope");
    expect_invalid(c, "--scopes:");
    static const char *const bad_bcl[] = {"javascript:x",       "http://169.254.169.254/",          "http://[fe80::1]:80/bcl",
                                          "http://0xa9fea9fe/", "http://metadata.google.internal/", "http://a@b.example/"};
    for (size_t i = 0; i != sizeof(bad_bcl) / sizeof(bad_bcl[0]); ++i) {
        c = new_client("https://app.example/cb", "openid");
        c->backchannel_logout_uri = xstrdup(bad_bcl[i]);
        expect_invalid(c, "--backchannel-logout-uri:");
    }
    c = new_client("https://app.example/cb", "openid");
    idp_strv_free(&c->post_logout_redirect_uris);
    idp_strv_split(&c->post_logout_redirect_uris, "https://ok.example/ ftp://bad", 1);
    expect_invalid(c, "--post-logout-redirect-uris:");
    c = new_client("https://app.example/cb", "openid");
    free(c->app_name);
    c->app_name = xstrdup("");
    expect_invalid(c, "--app-name:");

    /* introspecting any token: a confidential resource server's right, never a public client's or a node's */
    c = new_client("https://app.example/cb", "openid");
    c->introspect_any = 1;
    CHECK(idp_client_validate(c, err, sizeof(err)) == 0);
    c->auth_method = IDP_AUTH_NONE;
    expect_invalid(c, "--introspect-any:");
    c = new_client("https://app.example/cb", "openid");
    c->introspect_any = 1;
    c->node_id = xstrdup("node-1");
    expect_invalid(c, "--introspect-any:");
}

/* Expects match(c, uri) to give registered (NULL = no match). */
static void expect_match(const idp_client_t *c, const char *uri, const char *registered)
{
    const char *m = idp_client_match_redirect(c, uri);
    if (registered == NULL ? m != NULL : m == NULL || strcmp(m, registered) != 0) {
        ++failures;
        fprintf(stderr, "%s client: %s matched %s, expected %s\n", c->auth_method == IDP_AUTH_NONE ? "public" : "confidential",
                uri != NULL ? uri : "(null)", m != NULL ? m : "nothing", registered != NULL ? registered : "nothing");
    }
}

static void test_match_redirect(void)
{
    static const char uris[] = "https://app.example/cb http://127.0.0.1:8080/cb http://[::1]:9/native?x=1 "
                               "http://127.0.0.1/noport http://localhost:7000/cb";
    idp_client_t *conf = new_client(uris, "openid"), *pub = new_client(uris, "openid");
    pub->auth_method = IDP_AUTH_NONE;

    /* exact matches, for every client */
    for (int i = 0; i != 2; ++i) {
        idp_client_t *c = i == 0 ? conf : pub;
        expect_match(c, "https://app.example/cb", "https://app.example/cb");
        expect_match(c, "http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb");
        expect_match(c, "http://localhost:7000/cb", "http://localhost:7000/cb");
        expect_match(c, "https://app.example/cb/", NULL);
        expect_match(c, "https://app.example:444/cb", NULL); /* only loopback may change port */
        expect_match(c, "https://APP.example/cb", NULL);
        expect_match(c, NULL, NULL);
    }
    /* RFC 8252 §7.3 any port: a public (native) client only */
    expect_match(pub, "http://127.0.0.1:55123/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://127.0.0.1/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://127.0.0.1:1/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://127.0.0.1:65535/cb", "http://127.0.0.1:8080/cb");
    expect_match(pub, "http://[::1]:40000/native?x=1", "http://[::1]:9/native?x=1");
    expect_match(pub, "http://127.0.0.1:7/noport", "http://127.0.0.1/noport");
    expect_match(conf, "http://127.0.0.1:55123/cb", NULL);
    expect_match(conf, "http://127.0.0.1/cb", NULL);
    expect_match(conf, "http://[::1]:40000/native?x=1", NULL);
    expect_match(conf, "http://127.0.0.1:7/noport", NULL);
    /* ports outside 1..65535 or not plain digits, other paths, queries, schemes and hosts never match */
    static const char *const never[] = {"http://127.0.0.1:65536/cb",
                                        "http://127.0.0.1:99999/cb",
                                        "http://127.0.0.1:123456/cb",
                                        "http://127.0.0.1:0/cb",
                                        "http://127.0.0.1:08080/cb",
                                        "http://127.0.0.1:/cb",
                                        "http://127.0.0.1:+80/cb",
                                        "http://127.0.0.1:8080:80/cb",
                                        "http://127.0.0.1:55123/other",
                                        "http://127.0.0.1:55123/cb?x",
                                        "http://127.0.0.1:55123/cb/",
                                        "https://127.0.0.1:55123/cb",
                                        "http://localhost:8080/cb",
                                        "http://localhost:7001/cb",
                                        "http://127.0.0.2:8080/cb",
                                        "http://2130706433:8080/cb",
                                        "http://127.1:8080/cb",
                                        "http://0x7f.0.0.1:8080/cb",
                                        "http://[::ffff:127.0.0.1]:8080/cb",
                                        "http://[0:0:0:0:0:0:0:1]:9/native?x=1",
                                        "http://127.0.0.1.evil.example:8080/cb",
                                        "http://evil@127.0.0.1:8080/cb",
                                        "http://[::1]:40000/native?x=2",
                                        "http://127.0.0.1:40000/native?x=1" /* hosts differ */};
    for (size_t i = 0; i != sizeof(never) / sizeof(never[0]); ++i) {
        expect_match(pub, never[i], NULL);
        expect_match(conf, never[i], NULL);
    }
    idp_client_free(conf);
    idp_client_free(pub);
}

static char web_id[64], cc_id[64], web_secret[44];

static int clients_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = new_client("https://app.example/cb", "openid profile"), *g = NULL;

    idp_client_new_secret(c, web_secret);
    CHECK(strlen(web_secret) == 43 && c->secret_hash != NULL && strcmp(c->secret_hash, web_secret) != 0);
    idp_strv_free(&c->allowed_roles);
    idp_strv_split(&c->allowed_roles, "Employee", 0);
    CHECK(idp_client_put(txn, c) == 0);
    CHECK(c->client_id != NULL && strlen(c->client_id) == 22 && c->created_at != 0);
    snprintf(web_id, sizeof(web_id), "%s", c->client_id);
    idp_client_free(c);

    c = new_client("", "read write");
    c->grant_type = IDP_GRANT_CLIENT_CREDENTIALS;
    idp_strv_free(&c->service_roles);
    idp_strv_split(&c->service_roles, "Temp", 0);
    CHECK(idp_client_put(txn, c) == 0);
    snprintf(cc_id, sizeof(cc_id), "%s", c->client_id);
    idp_client_free(c);

    c = new_client("https://app.example/cb", "openid");
    idp_strv_free(&c->allowed_roles);
    idp_strv_split(&c->allowed_roles, "Ghost", 0);
    CHECK(idp_client_put(txn, c) == HUB_E_NOTFOUND);
    idp_client_free(c);
    c = new_client("ftp://x", "openid");
    CHECK(idp_client_put(txn, c) == HUB_E_INVAL);
    idp_client_free(c);

    CHECK(idp_client_get(txn, web_id, &g) == 0 && g != NULL);
    if (g != NULL) {
        CHECK(strcmp(g->app_name, "app") == 0 && g->enabled && g->grant_type == IDP_GRANT_AUTHORIZATION_CODE);
        CHECK(g->scopes.n == 2 && strcmp(g->scopes.v[1], "profile") == 0);
        CHECK(strcmp(g->default_redirect_uri, "https://app.example/cb") == 0);
        CHECK(g->allowed_roles.n == 1 && strcmp(g->allowed_roles.v[0], "Employee") == 0);
        CHECK(idp_client_secret_ok(g, web_secret, strlen(web_secret)));
        CHECK(!idp_client_secret_ok(g, web_secret, strlen(web_secret) - 1));
        CHECK(!idp_client_secret_ok(g, "wrong", 5));
        json_t *j = idp_client_to_json(g);
        CHECK(json_object_get(j, "secret_hash") == NULL && json_object_get(j, "registration_token_hash") == NULL);
        CHECK(strcmp(json_string_value(json_object_get(j, "grant_type")), "authorization_code") == 0);
        CHECK(strcmp(json_string_value(json_object_get(j, "auth_method")), "client_secret_basic") == 0);
        CHECK(json_is_false(json_object_get(j, "introspect_any")));
        json_decref(j);
        /* an update keeps the id */
        g->skip_authorization = 1;
        g->introspect_any = 1;
        CHECK(idp_client_put(txn, g) == 0 && strcmp(g->client_id, web_id) == 0);
        idp_client_free(g);
    }
    CHECK(idp_client_get(txn, web_id, &g) == 0 && g != NULL && g->skip_authorization && g->introspect_any);
    if (g != NULL) {
        json_t *j = idp_client_to_json(g);
        CHECK(json_is_true(json_object_get(j, "introspect_any")));
        json_decref(j);
        g->introspect_any = 0;
        CHECK(idp_client_put(txn, g) == 0);
    }
    idp_client_free(g);
    CHECK(idp_client_get(txn, web_id, &g) == 0 && g != NULL && !g->introspect_any);
    idp_client_free(g);
    CHECK(idp_client_get(txn, cc_id, &g) == 0 && g != NULL && g->grant_type == IDP_GRANT_CLIENT_CREDENTIALS &&
          g->redirect_uris.n == 0 && g->default_redirect_uri == NULL && g->service_roles.n == 1);
    idp_client_free(g);
    CHECK(idp_client_get(txn, "nope", &g) == HUB_E_NOTFOUND && g == NULL);
    /* roles held by clients cannot be deleted */
    CHECK(idp_role_del(txn, "Temp") == HUB_E_BUSY);
    CHECK(idp_role_held_by_client(txn, "Temp") == 1 && idp_role_held_by_client(txn, "Employee") == 1);
    CHECK(idp_role_held_by_client(txn, IDP_ROLE_GUEST) == 0);
    return 0;
}

/* allowed_roles: any user when empty, else one of them held (whatever else the user holds) */
static void test_client_allows_user(void)
{
    idp_client_t *c = new_client("https://app.example/cb", "openid");
    idp_user_t u = {0};

    idp_strv_split(&u.roles, "", 0);
    CHECK(idp_client_allows_user(c, &u) == 1);
    idp_strv_free(&c->allowed_roles);
    idp_strv_split(&c->allowed_roles, "Employee;Manager", 0);
    CHECK(idp_client_allows_user(c, &u) == 0);
    idp_strv_free(&u.roles);
    idp_strv_split(&u.roles, "Guest;Manager", 0);
    CHECK(idp_client_allows_user(c, &u) == 1);
    idp_strv_free(&u.roles);
    idp_strv_split(&u.roles, "Guest;employee;MANAGER", 0); /* exact names only */
    CHECK(idp_client_allows_user(c, &u) == 0);
    idp_strv_free(&u.roles);
    idp_client_free(c);
}

static int count_client(void *arg, const idp_client_t *c)
{
    ++*(int *)arg;
    return 0;
}

static int clients_del_txn(hub_txn_t *txn, void *arg)
{
    int n = 0;
    CHECK(idp_client_each(txn, count_client, &n) == 0 && n == 2);
    CHECK(idp_client_del(txn, cc_id) == 0);
    CHECK(idp_client_del(txn, cc_id) == HUB_E_NOTFOUND);
    n = 0;
    CHECK(idp_client_each(txn, count_client, &n) == 0 && n == 1);
    CHECK(idp_role_del(txn, "Temp") == 0);
    return 0;
}

/* Generated ids never begin with '-' (they must not read as options on a command line); the txn is rolled back. */
static int ids_txn(hub_txn_t *txn, void *arg)
{
    int dash = 0;
    for (int i = 0; i != 400; ++i) {
        idp_client_t *c = new_client("https://app.example/cb", "openid");
        CHECK(idp_client_put(txn, c) == 0);
        dash += c->client_id[0] == '-';
        idp_client_free(c);
    }
    CHECK(dash == 0);
    return HUB_E_BUSY;
}

static void test_enums(void)
{
    idp_grant_type_t g;
    idp_response_type_t r;
    idp_auth_method_t m;
    CHECK(idp_grant_type_parse("implicit", &g) == 0 && g == IDP_GRANT_IMPLICIT);
    CHECK(idp_grant_type_parse("password", &g) == HUB_E_INVAL);
    CHECK(strcmp(idp_grant_type_name(IDP_GRANT_CLIENT_CREDENTIALS), "client_credentials") == 0);
    CHECK(idp_response_type_parse("token", &r) == 0 && r == IDP_RESPONSE_TOKEN && idp_response_type_parse("id_token", &r) != 0);
    CHECK(strcmp(idp_response_type_name(IDP_RESPONSE_CODE), "code") == 0);
    CHECK(idp_auth_method_parse("none", &m) == 0 && m == IDP_AUTH_NONE && idp_auth_method_parse(NULL, &m) != 0);
    CHECK(strcmp(idp_auth_method_name(IDP_AUTH_SECRET_POST), "client_secret_post") == 0);
}

/* ---- settings ---- */

static int settings_txn(hub_txn_t *txn, void *arg)
{
    hub_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.primary.skip_authorization = HUB_SKIP_AUTH_AUTO;
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_AUTO); /* nothing stored: the config's */
    cfg.primary.skip_authorization = HUB_SKIP_AUTH_FORCE;
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_FORCE);
    CHECK(idp_settings_set_skip_authorization(txn, HUB_SKIP_AUTH_AUTO) == 0);
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_AUTO); /* stored value wins */
    CHECK(idp_settings_skip_authorization(txn, NULL) == HUB_SKIP_AUTH_AUTO);
    cfg.primary.skip_authorization = HUB_SKIP_AUTH_AUTO;
    CHECK(idp_settings_set_skip_authorization(txn, HUB_SKIP_AUTH_FORCE) == 0);
    CHECK(idp_settings_skip_authorization(txn, &cfg) == HUB_SKIP_AUTH_FORCE);
    CHECK(idp_settings_set_skip_authorization(txn, (hub_skip_auth_t)7) == HUB_E_INVAL);
    return 0;
}

/* ---- join tokens and nodes ---- */

static char tok_a[44], tok_b[44], tok_short[44];

static int join_create_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_join_token_create(txn, "sec1", 3600, tok_a) == 0 && strlen(tok_a) == 43);
    CHECK(idp_join_token_create(txn, NULL, 3600, tok_b) == 0 && strcmp(tok_a, tok_b) != 0);
    CHECK(idp_join_token_create(txn, "short", 1, tok_short) == 0);
    char t[44];
    CHECK(idp_join_token_create(txn, "zero", 0, t) == HUB_E_INVAL);
    return 0;
}

static int join_consume_txn(hub_txn_t *txn, void *arg)
{
    char *name = NULL;
    CHECK(idp_join_token_consume(txn, tok_a, strlen(tok_a), &name) == 0 && name != NULL && strcmp(name, "sec1") == 0);
    free(name);
    CHECK(idp_join_token_consume(txn, tok_a, strlen(tok_a), &name) == HUB_E_NOTFOUND && name == NULL); /* single use */
    CHECK(idp_join_token_consume(txn, tok_b, strlen(tok_b), &name) == 0 && name == NULL);
    CHECK(idp_join_token_consume(txn, "guess", 5, &name) == HUB_E_NOTFOUND);
    CHECK(idp_join_token_consume(txn, tok_short, strlen(tok_short), &name) == HUB_E_NOTFOUND); /* expired */
    return 0;
}

static char node_family[33];

static int node_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = new_client("http://127.0.0.1:9/auth/callback", "openid");
    idp_node_t *n = NULL;

    CHECK(idp_client_put(txn, c) == 0);
    idp_node_t node = {c->client_id, "sec1", "http://127.0.0.1:9", hub_now(), 0};
    CHECK(idp_node_put(txn, &node) == 0);
    CHECK(idp_family_create(txn, c->client_id, alice_sub, NULL, hub_now() + 3600, node_family) == 0);
    CHECK(idp_node_get(txn, c->client_id, &n) == 0 && n != NULL && strcmp(n->name, "sec1") == 0 && !n->revoked &&
          strcmp(n->public_url, "http://127.0.0.1:9") == 0);
    idp_node_free(n);
    snprintf(arg, 64, "%s", c->client_id);
    idp_client_free(c);
    CHECK(idp_node_get(txn, "nope", &n) == HUB_E_NOTFOUND);
    CHECK(idp_node_revoke(txn, "nope") == HUB_E_NOTFOUND);
    return 0;
}

static int count_node(void *arg, const idp_node_t *n)
{
    ++*(int *)arg;
    return 0;
}

static int node_revoke_txn(hub_txn_t *txn, void *arg)
{
    idp_node_t *n = NULL;
    idp_client_t *c = NULL;
    idp_family_t *f = NULL;
    int count = 0;

    CHECK(idp_node_revoke(txn, arg) == 0);
    CHECK(idp_node_get(txn, arg, &n) == 0 && n != NULL && n->revoked);
    idp_node_free(n);
    CHECK(idp_client_get(txn, arg, &c) == 0 && c != NULL && !c->enabled);
    idp_client_free(c);
    CHECK(idp_family_get(txn, node_family, &f) == 0 && f != NULL && f->revoked);
    idp_family_free(f);
    CHECK(idp_node_each(txn, count_node, &count) == 0 && count == 1);
    return 0;
}

/* A refused change writes nothing: the caller's transaction is aborted. */
static int refused_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_role_add(txn, "Rolled Back") == 0);
    return HUB_E_INVAL;
}

int main(void)
{
    char *dir = test_tmpdir("idp-model"), node_id[64] = "";
    hub_txn_t *txn;

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    test_strv();
    test_enums();
    CHECK(in_write(roles_txn, NULL) == 0);
    CHECK(in_write(users_txn, NULL) == 0);
    CHECK(in_write(users_update_txn, NULL) == 0);
    CHECK(in_write(users_del_txn, NULL) == 0);
    test_user_json();
    test_passwords();
    test_client_validate();
    test_match_redirect();
    test_client_allows_user();
    CHECK(in_write(clients_txn, NULL) == 0);
    CHECK(in_write(clients_del_txn, NULL) == 0);
    CHECK(in_write(ids_txn, NULL) == HUB_E_BUSY);
    CHECK(in_write(settings_txn, NULL) == 0);
    CHECK(in_write(join_create_txn, NULL) == 0);
    sleep(2);
    CHECK(in_write(join_consume_txn, NULL) == 0);
    CHECK(in_write(node_txn, node_id) == 0);
    CHECK(in_write(node_revoke_txn, node_id) == 0);
    CHECK(in_write(refused_txn, NULL) == HUB_E_INVAL);
    CHECK(hub_store_read_begin(store, &txn) == 0);
    CHECK(!idp_role_exists(txn, "Rolled Back"));
    hub_store_read_end(txn);

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/model");
}
