/* User records (HUB_T_USERS, key = sub) and their indexes by username and by lower-cased e-mail. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/util.h"
#include "idp/record.h"
#include "idp/role.h"
#include "idp/user.h"

#define SUB_MAX 128 /* an index entry's value */

static int username_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > IDP_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i != n; ++i)
        if (!isalnum((unsigned char)s[i]) && strchr("._@-", s[i]) == NULL)
            return 0;
    return 1;
}

static int email_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    const char *at;

    if (n == 0 || n > IDP_EMAIL_MAX || (at = strchr(s, '@')) == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return 0;
    for (size_t i = 0; i != n; ++i)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return idp_record_printable(s);
}

static int names_ok(const idp_user_t *u, idp_invalid_t *inv)
{
    static const struct {
        size_t off;
        idp_field_t field;
    } names[] = {{offsetof(idp_user_t, full_name), IDP_FIELD_FULL_NAME},
                 {offsetof(idp_user_t, given_name), IDP_FIELD_GIVEN_NAME},
                 {offsetof(idp_user_t, family_name), IDP_FIELD_FAMILY_NAME}};

    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (!idp_record_name_ok(*(char *const *)((const char *)u + names[i].off)))
            return idp_invalid(inv, names[i].field, "at most %d bytes of printable UTF-8", IDP_NAME_MAX);
    return 0;
}

int idp_user_validate(const idp_user_t *u, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    int ret;

    if (!username_ok(u->username))
        return idp_invalid(inv, IDP_FIELD_USERNAME, "\"%s\" must be 1 to %d characters of A-Z a-z 0-9 . _ @ -",
                           idp_quote(q, sizeof(q), u->username), IDP_USERNAME_MAX);
    if (!email_ok(u->email))
        return idp_invalid(inv, IDP_FIELD_EMAIL, "\"%s\" is not an e-mail address (local@domain, at most %d bytes)",
                           idp_quote(q, sizeof(q), u->email), IDP_EMAIL_MAX);
    if ((ret = names_ok(u, inv)) != 0)
        return ret;
    if (u->picture != NULL && !idp_record_uri_ok(u->picture))
        return idp_invalid(inv, IDP_FIELD_PICTURE, "not an absolute http(s) URI");
    for (size_t i = 0; i != u->roles.n; ++i)
        if ((ret = idp_role_name_check(u->roles.v[i], IDP_FIELD_USER_ROLES, inv)) != 0)
            return ret;
    return 0;
}

static json_t *user_json(const idp_user_t *u, int with_hash)
{
    json_t *o = json_object();
    idp_record_set_str(o, "sub", u->sub);
    idp_record_set_str(o, "username", u->username);
    idp_record_set_str(o, "email", u->email);
    idp_record_set_str(o, "full_name", u->full_name);
    idp_record_set_str(o, "given_name", u->given_name);
    idp_record_set_str(o, "family_name", u->family_name);
    idp_record_set_str(o, "picture", u->picture);
    json_object_set_new(o, "enabled", json_boolean(u->enabled));
    json_object_set_new(o, "email_verified", json_boolean(u->email_verified));
    json_object_set_new(o, "roles", idp_strv_to_json(&u->roles));
    if (with_hash)
        idp_record_set_str(o, "password_hash", u->password_hash);
    else
        json_object_set_new(o, "has_password", json_boolean(u->password_hash != NULL));
    idp_record_set_uint(o, "created_at", u->created_at);
    return o;
}

json_t *idp_user_to_json(const idp_user_t *user)
{
    return user_json(user, 0);
}

static int user_from_json(const json_t *o, idp_user_t **out)
{
    idp_user_t *u;

    *out = NULL;
    if (!json_is_string(json_object_get(o, "sub")) || !json_is_string(json_object_get(o, "username")) ||
        !json_is_string(json_object_get(o, "email")))
        return HUB_E_PARSE;
    u = hub_xcalloc(1, sizeof(*u));
    u->sub = hub_json_strdup(o, "sub");
    u->username = hub_json_strdup(o, "username");
    u->email = hub_json_strdup(o, "email");
    u->full_name = hub_json_strdup(o, "full_name");
    u->given_name = hub_json_strdup(o, "given_name");
    u->family_name = hub_json_strdup(o, "family_name");
    u->picture = hub_json_strdup(o, "picture");
    u->enabled = idp_record_bool(o, "enabled");
    u->email_verified = idp_record_bool(o, "email_verified");
    idp_strv_from_json(&u->roles, json_object_get(o, "roles"));
    u->password_hash = hub_json_strdup(o, "password_hash");
    u->created_at = hub_json_uint(o, "created_at");
    *out = u;
    return 0;
}

void idp_user_free(idp_user_t *u)
{
    if (u == NULL)
        return;
    free(u->sub);
    free(u->username);
    free(u->email);
    free(u->full_name);
    free(u->given_name);
    free(u->family_name);
    free(u->picture);
    idp_strv_free(&u->roles);
    if (u->password_hash != NULL)
        OPENSSL_cleanse(u->password_hash, strlen(u->password_hash));
    free(u->password_hash);
    free(u);
}

int idp_user_get(hub_txn_t *txn, const char *sub, idp_user_t **out)
{
    json_t *o = NULL;
    int ret;

    *out = NULL;
    if (sub == NULL || sub[0] == '\0')
        return HUB_E_NOTFOUND;
    if ((ret = hub_store_get_json(txn, HUB_T_USERS, sub, &o)) != 0)
        return ret;
    ret = user_from_json(o, out);
    json_decref(o);
    return ret;
}

/* ---- indexes ---- */

/* Reads an index entry (a sub) into buf. */
static int index_get(hub_txn_t *txn, hub_table_t t, const char *key, char *buf, size_t size)
{
    hub_val_t v;
    int ret;

    if (key == NULL || key[0] == '\0')
        return HUB_E_NOTFOUND;
    if ((ret = hub_store_get(txn, t, key, strlen(key), &v)) != 0)
        return ret;
    if (v.len == 0 || v.len >= size)
        return HUB_E_PARSE;
    memcpy(buf, v.data, v.len);
    buf[v.len] = '\0';
    return 0;
}

/* The e-mail index's key: the address lower-cased (malloc'ed). */
static char *email_key(const char *email)
{
    char *k = hub_strdup(email);
    for (char *p = k; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

int idp_user_find(hub_txn_t *txn, const char *username_or_email, idp_user_t **out)
{
    char sub[SUB_MAX], *key = NULL;
    int ret;

    *out = NULL;
    if (username_or_email == NULL || username_or_email[0] == '\0' || strlen(username_or_email) > IDP_EMAIL_MAX)
        return HUB_E_NOTFOUND;
    ret = index_get(txn, HUB_T_USERS_BY_NAME, username_or_email, sub, sizeof(sub));
    if (ret == HUB_E_NOTFOUND && strchr(username_or_email, '@') != NULL) {
        key = email_key(username_or_email);
        ret = index_get(txn, HUB_T_USERS_BY_EMAIL, key, sub, sizeof(sub));
    }
    if (ret == 0)
        ret = idp_user_get(txn, sub, out);
    free(key);
    return ret;
}

/* Points index t's key at sub unless another user holds it. */
static int index_claim(hub_txn_t *txn, hub_table_t t, const char *key, const char *sub)
{
    char owner[SUB_MAX];
    int ret = index_get(txn, t, key, owner, sizeof(owner));

    if (ret == 0 && strcmp(owner, sub) != 0)
        return HUB_E_EXISTS;
    if (ret != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    return hub_store_put(txn, t, key, strlen(key), sub, strlen(sub), 0, 0);
}

/* Deletes an index entry that may be gone already. */
static int index_drop(hub_txn_t *txn, hub_table_t t, const char *key)
{
    int ret = hub_store_del(txn, t, key, strlen(key));
    return ret == HUB_E_NOTFOUND ? 0 : ret;
}

/* A rename or a new e-mail releases old's index entries. */
static int index_release(hub_txn_t *txn, const idp_user_t *old, const idp_user_t *now, const char *now_email)
{
    char *old_email = email_key(old->email);
    int ret = 0;

    if (strcmp(old->username, now->username) != 0)
        ret = index_drop(txn, HUB_T_USERS_BY_NAME, old->username);
    if (ret == 0 && strcmp(old_email, now_email) != 0)
        ret = index_drop(txn, HUB_T_USERS_BY_EMAIL, old_email);
    free(old_email);
    return ret;
}

int idp_user_put(hub_txn_t *txn, idp_user_t *user)
{
    idp_user_t *old = NULL;
    json_t *o = NULL;
    char *new_email = NULL, sub[IDP_ID_LEN + 1];
    int ret;

    if ((ret = idp_user_validate(user, NULL)) != 0 || (ret = idp_roles_exist(txn, &user->roles, IDP_FIELD_USER_ROLES, NULL)) != 0)
        return ret;
    if (user->sub == NULL) {
        idp_record_new_id(sub);
        user->sub = hub_strdup(sub);
        user->created_at = hub_now();
    } else if ((ret = idp_user_get(txn, user->sub, &old)) != 0 && ret != HUB_E_NOTFOUND) {
        goto out;
    }
    new_email = email_key(user->email);
    if ((ret = index_claim(txn, HUB_T_USERS_BY_NAME, user->username, user->sub)) != 0 ||
        (ret = index_claim(txn, HUB_T_USERS_BY_EMAIL, new_email, user->sub)) != 0)
        goto out;
    if (old != NULL) {
        if ((ret = index_release(txn, old, user, new_email)) != 0)
            goto out;
        if (user->created_at == 0)
            user->created_at = old->created_at;
    }
    if (user->created_at == 0)
        user->created_at = hub_now();
    o = user_json(user, 1);
    ret = hub_store_put_json(txn, HUB_T_USERS, user->sub, o, 0, 0);
out:
    json_decref(o);
    free(new_email);
    idp_user_free(old);
    return ret;
}

int idp_user_del(hub_txn_t *txn, const char *sub)
{
    idp_user_t *u = NULL;
    char *ekey = NULL;
    int ret;

    if ((ret = idp_user_get(txn, sub, &u)) != 0)
        return ret;
    ekey = email_key(u->email);
    if ((ret = index_drop(txn, HUB_T_USERS_BY_NAME, u->username)) == 0 && (ret = index_drop(txn, HUB_T_USERS_BY_EMAIL, ekey)) == 0)
        ret = hub_store_del(txn, HUB_T_USERS, sub, strlen(sub));
    free(ekey);
    idp_user_free(u);
    return ret;
}

typedef struct {
    hub_txn_t *txn;
    int (*cb)(void *arg, const idp_user_t *user);
    void *arg;
} user_each_t;

static int user_each_cb(void *_arg, hub_val_t key, hub_val_t val)
{
    user_each_t *a = _arg;
    idp_user_t *u = NULL;
    char sub[SUB_MAX];
    int ret;

    if (val.len == 0 || val.len >= sizeof(sub))
        return 0;
    memcpy(sub, val.data, val.len);
    sub[val.len] = '\0';
    if (idp_user_get(a->txn, sub, &u) != 0)
        return 0; /* a dangling index entry is skipped */
    ret = a->cb(a->arg, u);
    idp_user_free(u);
    return ret;
}

int idp_user_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_user_t *user), void *arg)
{
    user_each_t a = {txn, cb, arg};
    return hub_store_each(txn, HUB_T_USERS_BY_NAME, NULL, 0, user_each_cb, &a);
}

int idp_user_each_after(hub_txn_t *txn, int by_email, const char *prefix, const char *after,
                        int (*cb)(void *arg, const idp_user_t *user), void *arg)
{
    user_each_t a = {txn, cb, arg};
    hub_table_t t = by_email ? HUB_T_USERS_BY_EMAIL : HUB_T_USERS_BY_NAME;
    char *p = by_email ? email_key(prefix != NULL ? prefix : "") : hub_strdup(prefix != NULL ? prefix : ""), *from = NULL;
    size_t plen = strlen(p), flen = plen;
    int ret;

    if (after != NULL) { /* after itself (an e-mail lower-cased), then one NUL byte: the smallest key past it */
        from = by_email ? email_key(after) : hub_strdup(after);
        flen = strlen(from) + 1; /* the copy's own NUL */
    }
    ret = flen > 511 ? 0 : hub_store_each_from(txn, t, p, plen, from != NULL ? from : p, flen, user_each_cb, &a);
    free(from);
    free(p);
    return ret == HUB_E_INVAL ? 0 : ret; /* a start outside the prefix: nothing there */
}

int idp_user_create(hub_txn_t *txn, idp_user_t *user, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    idp_user_t *other = NULL;
    int ret;

    free(user->sub); /* a rerun of the transaction starts afresh */
    user->sub = NULL;
    if ((ret = idp_user_validate(user, inv)) != 0 || (ret = idp_roles_exist(txn, &user->roles, IDP_FIELD_USER_ROLES, inv)) != 0)
        return ret;
    if (idp_user_find(txn, user->username, &other) == 0) {
        idp_user_free(other);
        idp_invalid(inv, IDP_FIELD_USERNAME, "user \"%s\" already exists", idp_quote(q, sizeof(q), user->username));
        return HUB_E_EXISTS;
    }
    if ((ret = idp_user_put(txn, user)) == HUB_E_EXISTS)
        idp_invalid(inv, IDP_FIELD_EMAIL, "\"%s\" belongs to another user", idp_quote(q, sizeof(q), user->email));
    return ret;
}
