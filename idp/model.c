/* The primary's records (users, roles, clients, settings, join tokens, nodes) as JSON in the hub store. */
#include <argon2.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/url.h"
#include "idp/grants.h"
#include "idp/model.h"
#include "idp/origins.h"

#define MAX_USERNAME 64
#define MAX_EMAIL 254
#define MAX_NAME 256 /* full, given and family names, app names */
#define MAX_ROLE 128
#define MAX_SCOPE 128
#define MAX_PASSWORD 1024
#define MAX_CLIENT_ID 256

/* Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). */
#define ARGON_T 2
#define ARGON_M 19456
#define ARGON_P 1
#define ARGON_SALT 16
#define ARGON_HASH 32
/* Verified when there is no account (or no password, or a damaged hash), so that a sign-in costs the same either way.
 * Made once with the parameters above, so it always costs what a real hash costs, whatever they become. */
static char *dummy_hash;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

#define SETTING_SKIP_AUTH "skip_authorization"
#define CLIENTS_GEN "gen:clients" /* bumped by every write of a client record (idp_client_get_cached) */

/* ---- small helpers ---- */

/* A random identifier of 16 bytes (22 base64url chars) that does not begin with '-', so that it never reads as an
 * option on a command line (hubctl client show ID). */
static void new_id(char out[HUB_B64URL_LEN(16) + 1])
{
    do
        hub_random_token(out, 16);
    while (out[0] == '-');
}

static void replace_str(char **dst, const char *s)
{
    free(*dst);
    *dst = hub_strdup(s);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen != 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return HUB_E_INVAL;
}

/* Valid UTF-8 (jansson refuses anything else) without control characters. */
static int printable_utf8(const char *s)
{
    json_t *probe;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    if ((probe = json_string(s)) == NULL)
        return 0;
    json_decref(probe);
    return 1;
}

static void lower_ascii(char *s)
{
    for (; *s != '\0'; ++s)
        *s = (char)tolower((unsigned char)*s);
}

static int jbool(const json_t *obj, const char *name)
{
    return json_is_true(json_object_get(obj, name));
}

/* Sets name to s, or to null when s is NULL (so --json output always has every field). */
static void jset_str(json_t *obj, const char *name, const char *s)
{
    json_object_set_new(obj, name, s != NULL ? json_string(s) : json_null());
}

static void jset_uint(json_t *obj, const char *name, uint64_t v)
{
    json_object_set_new(obj, name, json_integer((json_int_t)v));
}

static json_t *strv_to_json(const idp_strv_t *sv)
{
    json_t *arr = json_array();
    for (size_t i = 0; i != sv->n; ++i)
        json_array_append_new(arr, json_string(sv->v[i]));
    return arr;
}

static void strv_from_json(idp_strv_t *sv, const json_t *arr)
{
    size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;
    const json_t *item;

    if ((sv->v = calloc(n + 1, sizeof(char *))) == NULL)
        abort();
    sv->n = 0;
    json_array_foreach(arr, i, item)
    {
        if (json_is_string(item))
            sv->v[sv->n++] = hub_strdup(json_string_value(item));
    }
}

/* ---- string vectors ---- */

void idp_strv_free(idp_strv_t *sv)
{
    if (sv == NULL)
        return;
    for (size_t i = 0; i != sv->n; ++i)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

int idp_strv_has(const idp_strv_t *sv, const char *s)
{
    if (sv == NULL || s == NULL)
        return 0;
    for (size_t i = 0; i != sv->n; ++i)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

static int is_sep(char c, int ws)
{
    return c == ';' || (ws && isspace((unsigned char)c));
}

void idp_strv_split(idp_strv_t *out, const char *list, int ws)
{
    size_t cap = 1;
    const char *p;

    out->v = NULL;
    out->n = 0;
    if (list == NULL)
        list = "";
    for (p = list; *p != '\0'; ++p)
        if (is_sep(*p, ws))
            ++cap;
    if ((out->v = calloc(cap + 1, sizeof(char *))) == NULL)
        abort();
    for (p = list;;) {
        const char *start = p, *end;
        while (*p != '\0' && !is_sep(*p, ws))
            ++p;
        end = p;
        while (start < end && isspace((unsigned char)*start))
            ++start;
        while (end > start && isspace((unsigned char)end[-1]))
            --end;
        if (end > start) {
            char *item = strndup(start, (size_t)(end - start));
            if (item == NULL)
                abort();
            if (idp_strv_has(out, item))
                free(item);
            else
                out->v[out->n++] = item;
        }
        if (*p == '\0')
            break;
        ++p;
    }
}

char *idp_strv_join(const idp_strv_t *sv, const char *sep)
{
    size_t len = 1, seplen = strlen(sep), off = 0;
    char *out;

    for (size_t i = 0; sv != NULL && i != sv->n; ++i)
        len += strlen(sv->v[i]) + seplen;
    if ((out = malloc(len)) == NULL)
        abort();
    out[0] = '\0';
    for (size_t i = 0; sv != NULL && i != sv->n; ++i) {
        size_t l = strlen(sv->v[i]);
        if (i != 0) {
            memcpy(out + off, sep, seplen);
            off += seplen;
        }
        memcpy(out + off, sv->v[i], l);
        off += l;
    }
    out[off] = '\0';
    return out;
}

/* ---- field checks ---- */

static int username_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > MAX_USERNAME)
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

    if (n == 0 || n > MAX_EMAIL || (at = strchr(s, '@')) == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return 0;
    for (size_t i = 0; i != n; ++i)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return printable_utf8(s);
}

static int name_ok(const char *s)
{
    return s == NULL || (strlen(s) <= MAX_NAME && printable_utf8(s));
}

static int role_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n != 0 && n <= MAX_ROLE && strchr(s, ';') == NULL && !isspace((unsigned char)s[0]) &&
           !isspace((unsigned char)s[n - 1]) && printable_utf8(s);
}

/* An absolute http(s) URI with a host and a valid port, without fragment, userinfo or white space (hub_url_parse). */
static int uri_ok(const char *s)
{
    hub_url_t u;
    return hub_url_parse(s, &u, NULL) == 0;
}

static int scope_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_SCOPE)
        return 0;
    for (size_t i = 0; i != n; ++i) /* RFC 6749 §3.3 scope-token */
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '"' || s[i] == '\\' || s[i] == ';')
            return 0;
    return 1;
}

static int roles_ok(const idp_strv_t *roles, const char *field, char *err, size_t errlen)
{
    for (size_t i = 0; i != roles->n; ++i)
        if (!role_name_ok(roles->v[i]))
            return fail(err, errlen, "%s: \"%s\" is not a valid role name", field, roles->v[i]);
    return 0;
}

/* HUB_E_NOTFOUND (with the role in err) when one of roles does not exist. */
static int roles_exist(hub_txn_t *txn, const idp_strv_t *roles, const char **missing)
{
    for (size_t i = 0; i != roles->n; ++i)
        if (!idp_role_exists(txn, roles->v[i])) {
            *missing = roles->v[i];
            return HUB_E_NOTFOUND;
        }
    return 0;
}

/* ---- users ---- */

int idp_user_validate(const idp_user_t *u, char *err, size_t errlen)
{
    if (!username_ok(u->username))
        return fail(err, errlen, "username: \"%.80s\" must be 1 to %d characters of A-Z a-z 0-9 . _ @ -",
                    u->username != NULL ? u->username : "", MAX_USERNAME);
    if (!email_ok(u->email))
        return fail(err, errlen, "--email: \"%.80s\" is not an e-mail address (local@domain, at most %d bytes)",
                    u->email != NULL ? u->email : "", MAX_EMAIL);
    if (!name_ok(u->full_name))
        return fail(err, errlen, "--full-name: at most %d bytes of printable UTF-8", MAX_NAME);
    if (!name_ok(u->given_name))
        return fail(err, errlen, "--given-name: at most %d bytes of printable UTF-8", MAX_NAME);
    if (!name_ok(u->family_name))
        return fail(err, errlen, "--family-name: at most %d bytes of printable UTF-8", MAX_NAME);
    if (u->picture != NULL && !uri_ok(u->picture))
        return fail(err, errlen, "picture: not an absolute http(s) URI");
    return roles_ok(&u->roles, "--role", err, errlen);
}

static json_t *user_json(const idp_user_t *u, int with_hash)
{
    json_t *o = json_object();
    jset_str(o, "sub", u->sub);
    jset_str(o, "username", u->username);
    jset_str(o, "email", u->email);
    jset_str(o, "full_name", u->full_name);
    jset_str(o, "given_name", u->given_name);
    jset_str(o, "family_name", u->family_name);
    jset_str(o, "picture", u->picture);
    json_object_set_new(o, "enabled", json_boolean(u->enabled));
    json_object_set_new(o, "email_verified", json_boolean(u->email_verified));
    json_object_set_new(o, "roles", strv_to_json(&u->roles));
    if (with_hash)
        jset_str(o, "password_hash", u->password_hash);
    else
        json_object_set_new(o, "has_password", json_boolean(u->password_hash != NULL));
    jset_uint(o, "created_at", u->created_at);
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
    if ((u = calloc(1, sizeof(*u))) == NULL)
        abort();
    u->sub = hub_json_strdup(o, "sub");
    u->username = hub_json_strdup(o, "username");
    u->email = hub_json_strdup(o, "email");
    u->full_name = hub_json_strdup(o, "full_name");
    u->given_name = hub_json_strdup(o, "given_name");
    u->family_name = hub_json_strdup(o, "family_name");
    u->picture = hub_json_strdup(o, "picture");
    u->enabled = jbool(o, "enabled");
    u->email_verified = jbool(o, "email_verified");
    strv_from_json(&u->roles, json_object_get(o, "roles"));
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

static char *email_key(const char *email)
{
    char *k = hub_strdup(email);
    lower_ascii(k);
    return k;
}

int idp_user_find(hub_txn_t *txn, const char *username_or_email, idp_user_t **out)
{
    char sub[128], *key = NULL;
    int ret;

    *out = NULL;
    if (username_or_email == NULL || username_or_email[0] == '\0' || strlen(username_or_email) > MAX_EMAIL)
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
    char owner[128];
    int ret = index_get(txn, t, key, owner, sizeof(owner));

    if (ret == 0 && strcmp(owner, sub) != 0)
        return HUB_E_EXISTS;
    if (ret != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    return hub_store_put(txn, t, key, strlen(key), sub, strlen(sub), 0, 0);
}

int idp_user_put(hub_txn_t *txn, idp_user_t *user)
{
    idp_user_t *old = NULL;
    json_t *o = NULL;
    char *new_email = NULL, *old_email = NULL, sub[HUB_B64URL_LEN(16) + 1];
    const char *missing;
    int ret;

    if ((ret = idp_user_validate(user, NULL, 0)) != 0)
        return ret;
    if ((ret = roles_exist(txn, &user->roles, &missing)) != 0)
        return ret;
    if (user->sub == NULL) {
        new_id(sub);
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
        /* a rename or a new e-mail releases the old index entries */
        if (strcmp(old->username, user->username) != 0 &&
            (ret = hub_store_del(txn, HUB_T_USERS_BY_NAME, old->username, strlen(old->username))) != 0 && ret != HUB_E_NOTFOUND)
            goto out;
        old_email = email_key(old->email);
        if (strcmp(old_email, new_email) != 0 &&
            (ret = hub_store_del(txn, HUB_T_USERS_BY_EMAIL, old_email, strlen(old_email))) != 0 && ret != HUB_E_NOTFOUND)
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
    free(old_email);
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
    if (((ret = hub_store_del(txn, HUB_T_USERS_BY_NAME, u->username, strlen(u->username))) != 0 && ret != HUB_E_NOTFOUND) ||
        ((ret = hub_store_del(txn, HUB_T_USERS_BY_EMAIL, ekey, strlen(ekey))) != 0 && ret != HUB_E_NOTFOUND))
        goto out;
    ret = hub_store_del(txn, HUB_T_USERS, sub, strlen(sub));
out:
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
    char sub[128];
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

/* ---- passwords ---- */

int idp_password_hash(const char *password, size_t len, char **encoded)
{
    uint8_t salt[ARGON_SALT];
    size_t elen = argon2_encodedlen(ARGON_T, ARGON_M, ARGON_P, ARGON_SALT, ARGON_HASH, Argon2_id) + 1;
    char *out;

    *encoded = NULL;
    if (password == NULL || len == 0 || len > MAX_PASSWORD)
        return HUB_E_INVAL;
    if ((out = malloc(elen)) == NULL)
        abort();
    hub_random_bytes(salt, sizeof(salt));
    if (argon2id_hash_encoded(ARGON_T, ARGON_M, ARGON_P, password, len, salt, sizeof(salt), ARGON_HASH, out, elen) != ARGON2_OK) {
        free(out);
        return HUB_E_CRYPTO;
    }
    *encoded = out;
    return 0;
}

static void make_dummy_hash(void)
{
    char pw[HUB_B64URL_LEN(16) + 1];

    hub_random_token(pw, 16);
    if (idp_password_hash(pw, strlen(pw), &dummy_hash) != 0)
        abort(); /* out of memory: Argon2id fails for nothing else with these fixed parameters */
}

const char *idp_password_dummy_hash(void)
{
    pthread_once(&dummy_once, make_dummy_hash);
    return dummy_hash;
}

int idp_password_verify(const char *encoded, const char *password, size_t len)
{
    const char *dummy = idp_password_dummy_hash();
    int rc;

    if (password == NULL)
        password = "", len = 0;
    if (len > MAX_PASSWORD)
        len = MAX_PASSWORD;
    rc = argon2id_verify(encoded != NULL ? encoded : dummy, password, len);
    if (rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH) /* a malformed hash still costs a verification */
        (void)argon2id_verify(dummy, password, len);
    return encoded != NULL && rc == ARGON2_OK ? 0 : HUB_E_DENIED;
}

/* ---- roles ---- */

int idp_role_exists(hub_txn_t *txn, const char *role)
{
    hub_val_t v;
    return role != NULL && role[0] != '\0' && hub_store_get(txn, HUB_T_ROLES, role, strlen(role), &v) == 0;
}

int idp_role_add(hub_txn_t *txn, const char *role)
{
    json_t *o;
    int ret;

    if (!role_name_ok(role))
        return HUB_E_INVAL;
    o = json_object();
    jset_str(o, "name", role);
    jset_uint(o, "created_at", hub_now());
    ret = hub_store_put_json(txn, HUB_T_ROLES, role, o, 0, HUB_STORE_NOOVERWRITE);
    json_decref(o);
    return ret;
}

static int json_array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *item;
    json_array_foreach(arr, i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), s) == 0)
            return 1;
    }
    return 0;
}

/* Returns HUB_E_BUSY when the record (a user or a client) holds the role. */
static int holds_role_cb(void *arg, hub_val_t key, hub_val_t val)
{
    static const char *const fields[] = {"roles", "allowed_roles", "service_roles"};
    json_t *o = json_loadb(val.data, val.len, 0, NULL);
    int busy = 0;

    for (size_t i = 0; o != NULL && !busy && i != sizeof(fields) / sizeof(fields[0]); ++i)
        busy = json_array_has(json_object_get(o, fields[i]), arg);
    json_decref(o);
    return busy ? HUB_E_BUSY : 0;
}

int idp_role_held_by_client(hub_txn_t *txn, const char *role)
{
    int ret = hub_store_each(txn, HUB_T_CLIENTS, NULL, 0, holds_role_cb, (void *)role);
    return ret == HUB_E_BUSY ? 1 : ret;
}

int idp_role_del(hub_txn_t *txn, const char *role)
{
    int ret;

    if (!idp_role_exists(txn, role))
        return HUB_E_NOTFOUND;
    if (strcmp(role, IDP_ROLE_SYSTEM_MANAGER) == 0 || strcmp(role, IDP_ROLE_GUEST) == 0)
        return HUB_E_DENIED;
    if ((ret = hub_store_each(txn, HUB_T_USERS, NULL, 0, holds_role_cb, (void *)role)) != 0 ||
        (ret = hub_store_each(txn, HUB_T_CLIENTS, NULL, 0, holds_role_cb, (void *)role)) != 0)
        return ret;
    return hub_store_del(txn, HUB_T_ROLES, role, strlen(role));
}

static int role_list_cb(void *arg, hub_val_t key, hub_val_t val)
{
    idp_strv_t *sv = arg;
    char **v = realloc(sv->v, (sv->n + 2) * sizeof(char *));
    if (v == NULL)
        abort();
    sv->v = v;
    if ((v[sv->n] = strndup(key.data, key.len)) == NULL)
        abort();
    v[++sv->n] = NULL;
    return 0;
}

int idp_role_list(hub_txn_t *txn, idp_strv_t *out)
{
    int ret;

    out->n = 0;
    if ((out->v = calloc(1, sizeof(char *))) == NULL)
        abort();
    if ((ret = hub_store_each(txn, HUB_T_ROLES, NULL, 0, role_list_cb, out)) != 0)
        idp_strv_free(out);
    return ret;
}

/* ---- client enums ---- */

static const char *const grant_names[] = {"authorization_code", "implicit", "client_credentials"};
static const char *const response_names[] = {"code", "token"};
static const char *const auth_names[] = {"client_secret_basic", "client_secret_post", "none"};

static int parse_name(const char *const *names, size_t n, const char *s, int *out)
{
    for (size_t i = 0; s != NULL && i != n; ++i)
        if (strcmp(names[i], s) == 0) {
            *out = (int)i;
            return 0;
        }
    return HUB_E_INVAL;
}

#define NAME_OF(table, i) ((size_t)(i) < sizeof(table) / sizeof(table[0]) ? table[i] : "?")

const char *idp_grant_type_name(idp_grant_type_t g)
{
    return NAME_OF(grant_names, g);
}

int idp_grant_type_parse(const char *s, idp_grant_type_t *g)
{
    int v, ret = parse_name(grant_names, sizeof(grant_names) / sizeof(grant_names[0]), s, &v);
    if (ret == 0)
        *g = (idp_grant_type_t)v;
    return ret;
}

const char *idp_response_type_name(idp_response_type_t r)
{
    return NAME_OF(response_names, r);
}

int idp_response_type_parse(const char *s, idp_response_type_t *r)
{
    int v, ret = parse_name(response_names, sizeof(response_names) / sizeof(response_names[0]), s, &v);
    if (ret == 0)
        *r = (idp_response_type_t)v;
    return ret;
}

const char *idp_auth_method_name(idp_auth_method_t m)
{
    return NAME_OF(auth_names, m);
}

int idp_auth_method_parse(const char *s, idp_auth_method_t *m)
{
    int v, ret = parse_name(auth_names, sizeof(auth_names) / sizeof(auth_names[0]), s, &v);
    if (ret == 0)
        *m = (idp_auth_method_t)v;
    return ret;
}

/* ---- clients ---- */

static json_t *client_json(const idp_client_t *c, int with_secrets)
{
    json_t *o = json_object();
    jset_str(o, "client_id", c->client_id);
    jset_str(o, "app_name", c->app_name);
    json_object_set_new(o, "skip_authorization", json_boolean(c->skip_authorization));
    json_object_set_new(o, "scopes", strv_to_json(&c->scopes));
    json_object_set_new(o, "redirect_uris", strv_to_json(&c->redirect_uris));
    jset_str(o, "default_redirect_uri", c->default_redirect_uri);
    json_object_set_new(o, "grant_type", json_string(idp_grant_type_name(c->grant_type)));
    json_object_set_new(o, "response_type", json_string(idp_response_type_name(c->response_type)));
    json_object_set_new(o, "auth_method", json_string(idp_auth_method_name(c->auth_method)));
    json_object_set_new(o, "allowed_roles", strv_to_json(&c->allowed_roles));
    json_object_set_new(o, "service_roles", strv_to_json(&c->service_roles));
    jset_str(o, "backchannel_logout_uri", c->backchannel_logout_uri);
    json_object_set_new(o, "post_logout_redirect_uris", strv_to_json(&c->post_logout_redirect_uris));
    json_object_set_new(o, "enabled", json_boolean(c->enabled));
    jset_str(o, "node_id", c->node_id);
    json_object_set_new(o, "introspect_any", json_boolean(c->introspect_any));
    jset_str(o, "frappe_site", c->frappe_site);
    jset_uint(o, "created_at", c->created_at);
    if (with_secrets) {
        jset_str(o, "secret_hash", c->secret_hash);
        jset_str(o, "registration_token_hash", c->registration_token_hash);
    }
    return o;
}

json_t *idp_client_to_json(const idp_client_t *client)
{
    return client_json(client, 0);
}

static int client_from_json(const json_t *o, idp_client_t **out)
{
    idp_client_t *c;
    int v;

    *out = NULL;
    if (!json_is_string(json_object_get(o, "client_id")))
        return HUB_E_PARSE;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        abort();
    c->client_id = hub_json_strdup(o, "client_id");
    c->app_name = hub_json_strdup(o, "app_name");
    c->secret_hash = hub_json_strdup(o, "secret_hash");
    c->skip_authorization = jbool(o, "skip_authorization");
    strv_from_json(&c->scopes, json_object_get(o, "scopes"));
    strv_from_json(&c->redirect_uris, json_object_get(o, "redirect_uris"));
    c->default_redirect_uri = hub_json_strdup(o, "default_redirect_uri");
    c->grant_type = parse_name(grant_names, 3, json_string_value(json_object_get(o, "grant_type")), &v) == 0 ? v : 0;
    c->response_type = parse_name(response_names, 2, json_string_value(json_object_get(o, "response_type")), &v) == 0 ? v : 0;
    c->auth_method = parse_name(auth_names, 3, json_string_value(json_object_get(o, "auth_method")), &v) == 0 ? v : 0;
    strv_from_json(&c->allowed_roles, json_object_get(o, "allowed_roles"));
    strv_from_json(&c->service_roles, json_object_get(o, "service_roles"));
    c->backchannel_logout_uri = hub_json_strdup(o, "backchannel_logout_uri");
    strv_from_json(&c->post_logout_redirect_uris, json_object_get(o, "post_logout_redirect_uris"));
    c->enabled = jbool(o, "enabled");
    c->node_id = hub_json_strdup(o, "node_id");
    c->registration_token_hash = hub_json_strdup(o, "registration_token_hash");
    c->introspect_any = jbool(o, "introspect_any");
    c->frappe_site = hub_json_strdup(o, "frappe_site");
    c->created_at = hub_json_uint(o, "created_at");
    *out = c;
    return 0;
}

void idp_client_free(idp_client_t *c)
{
    if (c == NULL)
        return;
    /* refs counts the holders besides one: whoever finds it at 0 is the last */
    if (__atomic_fetch_sub(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(c->client_id);
    free(c->app_name);
    free(c->secret_hash);
    idp_strv_free(&c->scopes);
    idp_strv_free(&c->redirect_uris);
    free(c->default_redirect_uri);
    idp_strv_free(&c->allowed_roles);
    idp_strv_free(&c->service_roles);
    free(c->backchannel_logout_uri);
    idp_strv_free(&c->post_logout_redirect_uris);
    free(c->node_id);
    free(c->registration_token_hash);
    free(c->frappe_site);
    free(c);
}

int idp_client_get(hub_txn_t *txn, const char *client_id, idp_client_t **out)
{
    json_t *o = NULL;
    int ret;

    *out = NULL;
    if (client_id == NULL || client_id[0] == '\0' || strlen(client_id) > MAX_CLIENT_ID)
        return HUB_E_NOTFOUND;
    if ((ret = hub_store_get_json(txn, HUB_T_CLIENTS, client_id, &o)) != 0)
        return ret;
    ret = client_from_json(o, out);
    json_decref(o);
    return ret;
}

static int uris_ok(const idp_strv_t *uris, const char *field, char *err, size_t errlen)
{
    for (size_t i = 0; i != uris->n; ++i)
        if (!uri_ok(uris->v[i]))
            return fail(err, errlen, "%s: \"%.200s\" is not an absolute http(s) URI (with a host, without fragment)", field,
                        uris->v[i]);
    return 0;
}

/* The hub POSTs logout tokens to it: an absolute http(s) URI that never points at a link-local or metadata address. */
static int bcl_ok(const char *uri, char *err, size_t errlen)
{
    hub_url_t u;
    const char *why;
    if (hub_url_parse(uri, &u, NULL) != 0)
        return fail(err, errlen, "--backchannel-logout-uri: \"%.200s\" is not an absolute http(s) URI", uri);
    if ((why = hub_url_forbidden_host(&u)) != NULL)
        return fail(err, errlen, "--backchannel-logout-uri: \"%.200s\" points at %s", uri, why);
    return 0;
}

int idp_client_validate(idp_client_t *c, char *err, size_t errlen)
{
    int ret;

    if (c->app_name == NULL || c->app_name[0] == '\0' || !name_ok(c->app_name))
        return fail(err, errlen, "--app-name: 1 to %d bytes of printable UTF-8", MAX_NAME);
    if ((unsigned)c->grant_type > IDP_GRANT_CLIENT_CREDENTIALS)
        return fail(err, errlen, "--grant-type: unknown grant type");
    if ((unsigned)c->response_type > IDP_RESPONSE_TOKEN)
        return fail(err, errlen, "--response-type: unknown response type");
    if ((unsigned)c->auth_method > IDP_AUTH_NONE)
        return fail(err, errlen, "--auth-method: unknown method");
    if (c->grant_type == IDP_GRANT_AUTHORIZATION_CODE && c->response_type != IDP_RESPONSE_CODE)
        return fail(err, errlen, "--response-type: grant type authorization_code needs response type code");
    if (c->grant_type == IDP_GRANT_IMPLICIT && c->response_type != IDP_RESPONSE_TOKEN)
        return fail(err, errlen, "--response-type: grant type implicit needs response type token");
    if (c->grant_type == IDP_GRANT_CLIENT_CREDENTIALS && c->auth_method == IDP_AUTH_NONE)
        return fail(err, errlen, "--auth-method: none is not allowed for client_credentials");
    if (c->scopes.n == 0)
        return fail(err, errlen, "--scopes: at least one scope is required");
    for (size_t i = 0; i != c->scopes.n; ++i)
        if (!scope_ok(c->scopes.v[i]))
            return fail(err, errlen, "--scopes: \"%.80s\" is not a valid scope", c->scopes.v[i]);
    if ((ret = uris_ok(&c->redirect_uris, "--redirect-uris", err, errlen)) != 0)
        return ret;
    if (c->redirect_uris.n == 0 && c->grant_type != IDP_GRANT_CLIENT_CREDENTIALS)
        return fail(err, errlen, "--redirect-uris: at least one redirect URI is required for %s",
                    idp_grant_type_name(c->grant_type));
    if (c->default_redirect_uri == NULL) {
        if (c->redirect_uris.n != 0)
            c->default_redirect_uri = hub_strdup(c->redirect_uris.v[0]);
    } else if (!idp_strv_has(&c->redirect_uris, c->default_redirect_uri)) {
        return fail(err, errlen, "--default-redirect-uri: \"%.200s\" is not one of the redirect URIs", c->default_redirect_uri);
    }
    if (c->backchannel_logout_uri != NULL && (ret = bcl_ok(c->backchannel_logout_uri, err, errlen)) != 0)
        return ret;
    if (c->introspect_any && (c->auth_method == IDP_AUTH_NONE || c->node_id != NULL))
        return fail(err, errlen, "--introspect-any: only for a confidential client that is not a node's");
    if (c->frappe_site != NULL && (ret = idp_frappe_site_check(c, err, errlen)) != 0)
        return ret;
    if ((ret = uris_ok(&c->post_logout_redirect_uris, "--post-logout-redirect-uris", err, errlen)) != 0 ||
        (ret = roles_ok(&c->allowed_roles, "--allowed-roles", err, errlen)) != 0 ||
        (ret = roles_ok(&c->service_roles, "--role", err, errlen)) != 0)
        return ret;
    return 0;
}

static int client_write(hub_txn_t *txn, const idp_client_t *c, int flags)
{
    idp_client_t *old = NULL;
    json_t *o = client_json(c, 1);
    int ret;

    if (idp_client_get(txn, c->client_id, &old) != 0)
        old = NULL; /* new, or unreadable: the put below reports a store failure */
    ret = hub_store_put_json(txn, HUB_T_CLIENTS, c->client_id, o, 0, flags);
    json_decref(o);
    if (ret == 0)
        ret = hub_store_bump(txn, CLIENTS_GEN, NULL);
    if (ret == 0)
        ret = idp_origins_update(txn, old, c);
    idp_client_free(old);
    return ret;
}

int idp_client_put(hub_txn_t *txn, idp_client_t *c)
{
    char id[HUB_B64URL_LEN(16) + 1];
    const char *missing;
    int ret, flags = 0;

    if ((ret = idp_client_validate(c, NULL, 0)) != 0)
        return ret;
    if ((ret = roles_exist(txn, &c->allowed_roles, &missing)) != 0 || (ret = roles_exist(txn, &c->service_roles, &missing)) != 0)
        return ret;
    if (c->client_id == NULL) {
        new_id(id);
        c->client_id = hub_strdup(id);
        c->created_at = hub_now();
        flags = HUB_STORE_NOOVERWRITE;
    }
    if (c->created_at == 0)
        c->created_at = hub_now();
    return client_write(txn, c, flags);
}

int idp_client_del(hub_txn_t *txn, const char *client_id)
{
    idp_node_t *node = NULL;
    idp_client_t *old = NULL;
    int ret;

    if (client_id == NULL || client_id[0] == '\0')
        return HUB_E_NOTFOUND;
    if (idp_client_get(txn, client_id, &old) != 0)
        old = NULL;
    ret = hub_store_del(txn, HUB_T_CLIENTS, client_id, strlen(client_id));
    if (ret == 0 && (ret = hub_store_bump(txn, CLIENTS_GEN, NULL)) == 0)
        ret = idp_origins_update(txn, old, NULL);
    idp_client_free(old);
    if (ret != 0)
        return ret;
    /* nothing issued to a deleted client stays valid, and its node (if any) is revoked */
    if ((ret = idp_family_revoke_client(txn, client_id)) != 0)
        return ret;
    if (idp_node_get(txn, client_id, &node) == 0 && !node->revoked) {
        node->revoked = 1;
        ret = idp_node_put(txn, node);
    }
    idp_node_free(node);
    return ret;
}

typedef struct {
    int (*cb)(void *arg, const idp_client_t *client);
    void *arg;
} client_each_t;

static int client_each_cb(void *_arg, hub_val_t key, hub_val_t val)
{
    client_each_t *a = _arg;
    json_t *o = json_loadb(val.data, val.len, 0, NULL);
    idp_client_t *c = NULL;
    int ret = 0;

    if (o != NULL && client_from_json(o, &c) == 0)
        ret = a->cb(a->arg, c);
    idp_client_free(c);
    json_decref(o);
    return ret;
}

int idp_client_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_client_t *client), void *arg)
{
    client_each_t a = {cb, arg};
    return hub_store_each(txn, HUB_T_CLIENTS, NULL, 0, client_each_cb, &a);
}

int idp_client_allows_user(const idp_client_t *client, const idp_user_t *user)
{
    if (client->allowed_roles.n == 0)
        return 1;
    for (size_t i = 0; i != client->allowed_roles.n; ++i)
        if (idp_strv_has(&user->roles, client->allowed_roles.v[i]))
            return 1;
    return 0;
}

/* ---- cache of decoded clients ---- */

#define CACHE_WAYS 4 /* a set-associative table: a client_id hashes to one set of 4 slots */

typedef struct {
    idp_client_t *client; /* the cache's reference (the owner's); NULL = empty */
    uint64_t gen;         /* the generation of the transaction that read it */
    uint64_t used;        /* tick of the last use, for replacement within the set */
} cache_slot_t;

struct st_idp_client_cache_t {
    pthread_mutex_t lock; /* guards everything below; never held while reading or parsing */
    size_t nsets;         /* a power of two */
    cache_slot_t *slots;  /* nsets * CACHE_WAYS */
    uint64_t tick;
    uint64_t hits, misses;
};

idp_client_cache_t *idp_client_cache_create(size_t capacity)
{
    idp_client_cache_t *cache = calloc(1, sizeof(*cache));
    size_t nsets = 1;

    if (cache == NULL)
        abort();
    while (nsets * CACHE_WAYS < capacity)
        nsets *= 2;
    if ((cache->slots = calloc(nsets * CACHE_WAYS, sizeof(*cache->slots))) == NULL)
        abort();
    cache->nsets = nsets;
    pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void idp_client_cache_destroy(idp_client_cache_t *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i != cache->nsets * CACHE_WAYS; ++i)
        idp_client_free(cache->slots[i].client);
    pthread_mutex_destroy(&cache->lock);
    free(cache->slots);
    free(cache);
}

void idp_client_cache_stats(idp_client_cache_t *cache, idp_client_cache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&cache->lock);
    out->hits = cache->hits;
    out->misses = cache->misses;
    out->capacity = cache->nsets * CACHE_WAYS;
    for (size_t i = 0; i != out->capacity; ++i)
        out->entries += cache->slots[i].client != NULL;
    pthread_mutex_unlock(&cache->lock);
}

int idp_client_cache_prepare(hub_txn_t *txn)
{
    return hub_store_counter(txn, CLIENTS_GEN) == 0 ? hub_store_bump(txn, CLIENTS_GEN, NULL) : 0;
}

/* FNV-1a: only client_ids that exist are inserted, so the keys are not the attacker's choice. */
static cache_slot_t *cache_set(idp_client_cache_t *cache, const char *client_id)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)client_id; *p != '\0'; ++p)
        h = (h ^ *p) * 1099511628211u;
    return cache->slots + (size_t)(h & (cache->nsets - 1)) * CACHE_WAYS;
}

/* Under the lock: the slot for client_id (whatever its generation), else an empty slot, else the least recently used. */
static cache_slot_t *cache_victim(cache_slot_t *set, const char *client_id)
{
    cache_slot_t *victim = NULL;
    for (size_t i = 0; i != CACHE_WAYS; ++i) {
        if (set[i].client != NULL && strcmp(set[i].client->client_id, client_id) == 0)
            return set + i;
        if (victim == NULL || (victim->client != NULL && (set[i].client == NULL || set[i].used < victim->used)))
            victim = set + i;
    }
    return victim;
}

int idp_client_get_cached(idp_client_cache_t *cache, hub_txn_t *txn, const char *client_id, idp_client_t **out)
{
    idp_client_t *c = NULL, *old = NULL;
    cache_slot_t *set, *slot;
    uint64_t gen;
    int ret;

    *out = NULL;
    /* generation 0: never bumped, or unreadable; either way the cache cannot vouch for an entry */
    if (cache == NULL || client_id == NULL || (gen = hub_store_counter(txn, CLIENTS_GEN)) == 0)
        return idp_client_get(txn, client_id, out);
    if (client_id[0] == '\0' || strlen(client_id) > MAX_CLIENT_ID)
        return HUB_E_NOTFOUND;
    set = cache_set(cache, client_id);
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i != CACHE_WAYS; ++i) {
        if (set[i].client != NULL && set[i].gen == gen && strcmp(set[i].client->client_id, client_id) == 0) {
            c = set[i].client;
            __atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED); /* the cache's own reference keeps it alive meanwhile */
            set[i].used = ++cache->tick;
            ++cache->hits;
            break;
        }
    }
    if (c == NULL)
        ++cache->misses;
    pthread_mutex_unlock(&cache->lock);
    if (c != NULL) {
        *out = c;
        return 0;
    }

    if ((ret = idp_client_get(txn, client_id, &c)) != 0)
        return ret;
    pthread_mutex_lock(&cache->lock);
    slot = cache_victim(set, client_id);
    /* an older transaction must not push out what a newer one loaded (generations only grow) */
    if (slot->client == NULL || strcmp(slot->client->client_id, client_id) != 0 || slot->gen < gen) {
        old = slot->client;
        c->refs = 1; /* the caller's; the cache holds the owner's */
        slot->client = c;
        slot->gen = gen;
        slot->used = ++cache->tick;
    }
    pthread_mutex_unlock(&cache->lock);
    idp_client_free(old);
    *out = c;
    return 0;
}

void idp_client_new_secret(idp_client_t *client, char out[44])
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    hub_random_token(out, 32);
    hub_secret_hash(hash, out, strlen(out));
    replace_str(&client->secret_hash, hash);
}

int idp_client_secret_ok(const idp_client_t *client, const char *secret, size_t len)
{
    char hash[HUB_SECRET_HASH_LEN + 1];

    if (client->secret_hash == NULL || secret == NULL)
        return 0;
    hub_secret_hash(hash, secret, len);
    return hub_ct_equal(hash, strlen(hash), client->secret_hash, strlen(client->secret_hash));
}

/* 1 when u is an http URL whose host is written exactly 127.0.0.1 or [::1] (RFC 8252 §7.3 loopback literals). */
static int loopback_literal(const hub_url_t *u)
{
    return !u->https && ((u->kind == HUB_HOST_IPV4 && u->host_len == 9 && memcmp(u->host, "127.0.0.1", 9) == 0) ||
                         (u->kind == HUB_HOST_IPV6 && u->host_len == 3 && memcmp(u->host, "::1", 3) == 0));
}

/* RFC 8252 §7.3: the registered loopback URI reg matches uri with any port when host, path and query are the same. */
static int loopback_any_port(const char *reg, const hub_url_t *u)
{
    hub_url_t r;
    return hub_url_parse(reg, &r, NULL) == 0 && loopback_literal(&r) && r.host_len == u->host_len &&
           memcmp(r.host, u->host, r.host_len) == 0 && strcmp(r.rest, u->rest) == 0;
}

const char *idp_client_match_redirect(const idp_client_t *client, const char *uri)
{
    hub_url_t u;

    if (uri == NULL)
        return NULL;
    for (size_t i = 0; i != client->redirect_uris.n; ++i)
        if (strcmp(client->redirect_uris.v[i], uri) == 0)
            return client->redirect_uris.v[i];
    /* a native app's listener gets whatever port the OS gave it; only a public client is one */
    if (client->auth_method != IDP_AUTH_NONE || hub_url_parse(uri, &u, NULL) != 0 || !loopback_literal(&u))
        return NULL;
    for (size_t i = 0; i != client->redirect_uris.n; ++i)
        if (loopback_any_port(client->redirect_uris.v[i], &u))
            return client->redirect_uris.v[i];
    return NULL;
}

/* ---- OAuth Provider Settings ---- */

hub_skip_auth_t idp_settings_skip_authorization(hub_txn_t *txn, const hub_config_t *cfg)
{
    hub_val_t v;
    if (hub_store_get(txn, HUB_T_SETTINGS, SETTING_SKIP_AUTH, strlen(SETTING_SKIP_AUTH), &v) == 0) {
        if (v.len == 4 && memcmp(v.data, "auto", 4) == 0)
            return HUB_SKIP_AUTH_AUTO;
        if (v.len == 5 && memcmp(v.data, "force", 5) == 0)
            return HUB_SKIP_AUTH_FORCE;
    }
    return cfg != NULL && cfg->primary.skip_authorization == HUB_SKIP_AUTH_AUTO ? HUB_SKIP_AUTH_AUTO : HUB_SKIP_AUTH_FORCE;
}

int idp_settings_set_skip_authorization(hub_txn_t *txn, hub_skip_auth_t value)
{
    const char *s;
    switch (value) {
    case HUB_SKIP_AUTH_FORCE:
        s = "force";
        break;
    case HUB_SKIP_AUTH_AUTO:
        s = "auto";
        break;
    default:
        return HUB_E_INVAL;
    }
    return hub_store_put(txn, HUB_T_SETTINGS, SETTING_SKIP_AUTH, strlen(SETTING_SKIP_AUTH), s, strlen(s), 0, 0);
}

/* ---- join tokens ---- */

int idp_join_token_create(hub_txn_t *txn, const char *name, uint64_t ttl, char out[44])
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    uint64_t now = hub_now();
    json_t *o;
    int ret;

    out[0] = '\0';
    if (ttl == 0 || ttl > UINT64_C(10) * 365 * 86400 || !name_ok(name))
        return HUB_E_INVAL;
    hub_random_token(out, 32);
    hub_secret_hash(hash, out, strlen(out));
    o = json_object();
    jset_str(o, "name", name);
    jset_uint(o, "created_at", now);
    jset_uint(o, "expires_at", now + ttl);
    ret = hub_store_put_json(txn, HUB_T_JOIN_TOKENS, hash, o, now + ttl, HUB_STORE_NOOVERWRITE);
    json_decref(o);
    if (ret != 0)
        OPENSSL_cleanse(out, 44);
    return ret;
}

int idp_join_token_consume(hub_txn_t *txn, const char *token, size_t len, char **name)
{
    char hash[HUB_SECRET_HASH_LEN + 1];
    json_t *o = NULL;
    int ret;

    *name = NULL;
    if (token == NULL || len == 0 || len > 256)
        return HUB_E_NOTFOUND;
    hub_secret_hash(hash, token, len);
    if ((ret = hub_store_get_json(txn, HUB_T_JOIN_TOKENS, hash, &o)) != 0)
        return ret;
    if (hub_json_uint(o, "expires_at") <= hub_now()) {
        ret = HUB_E_NOTFOUND;
        goto out;
    }
    if ((ret = hub_store_del(txn, HUB_T_JOIN_TOKENS, hash, strlen(hash))) != 0)
        goto out;
    *name = hub_json_strdup(o, "name");
out:
    json_decref(o);
    return ret;
}

/* ---- nodes ---- */

static json_t *node_json(const idp_node_t *n)
{
    json_t *o = json_object();
    jset_str(o, "id", n->id);
    jset_str(o, "name", n->name);
    jset_str(o, "public_url", n->public_url);
    jset_uint(o, "registered_at", n->registered_at);
    json_object_set_new(o, "revoked", json_boolean(n->revoked));
    return o;
}

static int node_from_json(const json_t *o, idp_node_t **out)
{
    idp_node_t *n;

    *out = NULL;
    if (!json_is_string(json_object_get(o, "id")))
        return HUB_E_PARSE;
    if ((n = calloc(1, sizeof(*n))) == NULL)
        abort();
    n->id = hub_json_strdup(o, "id");
    n->name = hub_json_strdup(o, "name");
    n->public_url = hub_json_strdup(o, "public_url");
    n->registered_at = hub_json_uint(o, "registered_at");
    n->revoked = jbool(o, "revoked");
    *out = n;
    return 0;
}

void idp_node_free(idp_node_t *n)
{
    if (n == NULL)
        return;
    free(n->id);
    free(n->name);
    free(n->public_url);
    free(n);
}

int idp_node_put(hub_txn_t *txn, const idp_node_t *node)
{
    json_t *o;
    int ret;

    if (node->id == NULL || node->id[0] == '\0' || !name_ok(node->name))
        return HUB_E_INVAL;
    o = node_json(node);
    ret = hub_store_put_json(txn, HUB_T_NODES, node->id, o, 0, 0);
    json_decref(o);
    return ret;
}

int idp_node_get(hub_txn_t *txn, const char *id, idp_node_t **out)
{
    json_t *o = NULL;
    int ret;

    *out = NULL;
    if (id == NULL || id[0] == '\0' || strlen(id) > 256)
        return HUB_E_NOTFOUND;
    if ((ret = hub_store_get_json(txn, HUB_T_NODES, id, &o)) != 0)
        return ret;
    ret = node_from_json(o, out);
    json_decref(o);
    return ret;
}

typedef struct {
    int (*cb)(void *arg, const idp_node_t *node);
    void *arg;
} node_each_t;

static int node_each_cb(void *_arg, hub_val_t key, hub_val_t val)
{
    node_each_t *a = _arg;
    json_t *o = json_loadb(val.data, val.len, 0, NULL);
    idp_node_t *n = NULL;
    int ret = 0;

    if (o != NULL && node_from_json(o, &n) == 0)
        ret = a->cb(a->arg, n);
    idp_node_free(n);
    json_decref(o);
    return ret;
}

int idp_node_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_node_t *node), void *arg)
{
    node_each_t a = {cb, arg};
    return hub_store_each(txn, HUB_T_NODES, NULL, 0, node_each_cb, &a);
}

int idp_node_revoke(hub_txn_t *txn, const char *id)
{
    idp_node_t *node = NULL;
    idp_client_t *client = NULL;
    int ret;

    if ((ret = idp_node_get(txn, id, &node)) != 0)
        return ret;
    node->revoked = 1;
    if ((ret = idp_node_put(txn, node)) != 0)
        goto out;
    ret = idp_client_get(txn, id, &client);
    if (ret == 0) {
        client->enabled = 0;
        /* written as is: disabling must not fail on a record an older validation accepted */
        ret = client_write(txn, client, 0);
    } else if (ret == HUB_E_NOTFOUND) {
        ret = 0;
    }
    if (ret == 0)
        ret = idp_family_revoke_client(txn, id);
out:
    idp_client_free(client);
    idp_node_free(node);
    return ret;
}
