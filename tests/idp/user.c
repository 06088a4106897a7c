/* Tests idp/user.c: user records, their username and e-mail indexes, validation naming the field, the JSON form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/role.h"
#include "idp/user.h"
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

static int roles_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_roles_add_builtin(txn) == 0);
    CHECK(idp_role_add(txn, "Employee") == 0);
    return 0;
}

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
    idp_invalid_t inv;

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
    static const char *const bad_names[] = {
        "",          "a b",         "x/y", "ünï", "a1234567890123456789012345678901234567890123456789012345678901234",
        "new\nline", "esc\x1b[31m", "cr\r"};
    for (size_t i = 0; i != sizeof(bad_names) / sizeof(bad_names[0]); ++i) {
        u = new_user(bad_names[i], "x@example.com", "");
        CHECK(idp_user_put(txn, u) == HUB_E_INVAL);
        CHECK(idp_user_validate(u, &inv) == HUB_E_INVAL && inv.field == IDP_FIELD_USERNAME);
        CHECK(strchr(inv.text, '\n') == NULL && strchr(inv.text, '\r') == NULL && strchr(inv.text, 0x1b) == NULL);
        idp_user_free(u);
    }
    u = new_user("a.b_c-d@e", "x@example.com", "");
    CHECK(idp_user_validate(u, &inv) == 0);
    idp_user_free(u);
    static const char *const bad_emails[] = {"", "plain", "@x", "x@", "a b@x", "a@b@c", "a@b\n"};
    for (size_t i = 0; i != sizeof(bad_emails) / sizeof(bad_emails[0]); ++i) {
        u = new_user("dave", bad_emails[i], "");
        CHECK(idp_user_validate(u, &inv) == HUB_E_INVAL && inv.field == IDP_FIELD_EMAIL && strchr(inv.text, '\n') == NULL);
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
    CHECK(idp_user_validate(u, &inv) == HUB_E_INVAL && inv.field == IDP_FIELD_FULL_NAME);
    idp_user_free(u);
    u = new_user("dave", "dave@example.com", "");
    u->family_name = xstrdup("bad\x01");
    CHECK(idp_user_validate(u, &inv) == HUB_E_INVAL && inv.field == IDP_FIELD_FAMILY_NAME);
    idp_user_free(u);
    u = new_user("dave", "dave@example.com", "x");
    free(u->roles.v[0]);
    u->roles.v[0] = xstrdup(" padded");
    CHECK(idp_user_validate(u, &inv) == HUB_E_INVAL && inv.field == IDP_FIELD_USER_ROLES);
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

int main(void)
{
    char *dir = test_tmpdir("idp-user");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        test_tmpdir_remove(dir);
        return 1;
    }
    CHECK(in_write(roles_txn, NULL) == 0);
    CHECK(in_write(users_txn, NULL) == 0);
    CHECK(in_write(users_update_txn, NULL) == 0);
    CHECK(in_write(users_del_txn, NULL) == 0);
    test_user_json();

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/user");
}
