/* The admin console's Users (SPEC §11): a search by username or e-mail, paged through the store's indexes (nothing
 * before the page is read), a new user, and a user's page: enable or disable, roles, a new password (Argon2id on the
 * worker pool, as at sign-in), deletion. A change that takes something away goes through idp_user_update
 * (idp/revocation.h), as hubctl's do: the user's sessions end, their tokens are revoked, the clients are told. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/admin_users.h"
#include "idp/password.h"
#include "idp/revocation.h"
#include "idp/role.h"

#define PATH_LIST "/admin/users"
#define PATH_NEW "/admin/users/new"
#define PATH_EDIT "/admin/users/edit"
#define PATH_STATE "/admin/users/state"
#define PATH_ROLES "/admin/users/roles"
#define PATH_PASSWORD "/admin/users/password"
#define PATH_DELETE "/admin/users/delete"
#define PAGE_SIZE 50
#define MAX_QUERY 254
#define MAX_SUB 128

enum { F_USERNAME = 0, F_EMAIL, F_FULL_NAME, F_GIVEN_NAME, F_FAMILY_NAME, F_PASSWORD, F_AGAIN, F__COUNT };
static const idp_form_field_t fields[F__COUNT] = {
    [F_USERNAME] = {"username", "Username", IDP_FIELD_USERNAME},
    [F_EMAIL] = {"email", "E-mail", IDP_FIELD_EMAIL},
    [F_FULL_NAME] = {"full_name", "Full name", IDP_FIELD_FULL_NAME},
    [F_GIVEN_NAME] = {"given_name", "Given name", IDP_FIELD_GIVEN_NAME},
    [F_FAMILY_NAME] = {"family_name", "Family name", IDP_FIELD_FAMILY_NAME},
    [F_PASSWORD] = {"password", "Password", IDP_FIELD_PASSWORD},
    [F_AGAIN] = {"password_again", "Password again", IDP_FIELD_PASSWORD_AGAIN},
};
static const idp_form_field_t roles_field = {"role", "Roles", IDP_FIELD_USER_ROLES};

/* ---- shared pieces ---- */

/* What a user's pages read with the gate: every role of the store (the checkboxes) and, on a user's own pages, the user
 * the query's "id" (GET) or the form's "sub" (POST) names (NULL when there is none). */
typedef struct {
    idp_strv_t all_roles;
    idp_user_t *user;
} user_data_t;

static int roles_read(hub_txn_t *txn, idp_creq_t *c)
{
    return idp_role_list(txn, &((user_data_t *)c->data)->all_roles);
}

static int user_read(hub_txn_t *txn, idp_creq_t *c)
{
    user_data_t *d = c->data;
    const char *sub = idp_console_arg(c, c->post ? "sub" : "id");
    int ret;

    if ((ret = idp_role_list(txn, &d->all_roles)) != 0)
        return ret;
    if (sub == NULL || strlen(sub) > MAX_SUB || (ret = idp_user_get(txn, sub, &d->user)) == HUB_E_NOTFOUND || ret == HUB_E_PARSE) {
        d->user = NULL;
        return 0;
    }
    return ret;
}

static void user_data_dispose(void *data)
{
    user_data_t *d = data;

    idp_strv_free(&d->all_roles);
    idp_user_free(d->user);
}

static const char *edit_path(idp_creq_t *c, const char *sub)
{
    size_t cap = sizeof(PATH_EDIT) + 3 * strlen(sub) + 8;
    char *s = h2o_mem_alloc_pool(&c->req->pool, cap);
    snprintf(s, cap, PATH_EDIT "?id=%s", hub_url_encode(&c->req->pool, sub, strlen(sub)).base);
    return s;
}

/* The "role" values of the form (a checkbox each, so repeated) into *out, each once. */
static void posted_roles(idp_creq_t *c, idp_strv_t *out)
{
    idp_strv_split(out, "", 0);
    for (size_t i = 0; i != c->form.n; ++i)
        if (strcmp(c->form.items[i].name.base, roles_field.name) == 0)
            idp_strv_add(out, c->form.items[i].value.base);
}

/* A checkbox per role of the store, checked when held. */
static void role_boxes(idp_creq_t *c, hub_page_t *p, const idp_strv_t *held, const idp_invalid_t *inv)
{
    const idp_strv_t *all = &((const user_data_t *)c->data)->all_roles;

    hub_page_raw(p, "<fieldset id=\"f-role\"><legend>Roles</legend>\n");
    for (size_t i = 0; i != all->n; ++i) {
        hub_page_printf(p, "<div class=\"field check\"><input type=\"checkbox\" name=\"role\" id=\"role-%zu\" value=\"", i);
        hub_page_text(p, all->v[i]);
        hub_page_printf(p, "\"%s><label for=\"role-%zu\">", idp_strv_has(held, all->v[i]) ? " checked" : "", i);
        hub_page_text(p, all->v[i]);
        hub_page_raw(p, "</label></div>\n");
    }
    if (inv != NULL && inv->field == IDP_FIELD_USER_ROLES) {
        hub_page_raw(p, "<span class=\"msg\" id=\"m-role\">");
        hub_page_text(p, inv->text);
        hub_page_raw(p, "</span>\n");
    }
    hub_page_raw(p, "</fieldset>\n");
}

/* ---- the list ---- */

/* A row of the list, copied out of the read. */
typedef struct {
    char *sub, *username, *email, *full_name, *roles;
    int enabled;
} row_t;

/* The page of users matching the query's "q" after its "after", read with the gate. */
typedef struct {
    row_t rows[PAGE_SIZE];
    size_t n;
    int more, by_email;
    const char *q, *after; /* the query's (c's memory) */
} list_t;

static int list_row(void *arg, const idp_user_t *u)
{
    list_t *l = arg;

    if (l->n == PAGE_SIZE) {
        l->more = 1; /* one more: a next page */
        return 1;
    }
    l->rows[l->n++] = (row_t){hub_strdup(u->sub),
                              hub_strdup(u->username),
                              hub_strdup(u->email),
                              u->full_name != NULL ? hub_strdup(u->full_name) : NULL,
                              idp_strv_join(&u->roles, "; "),
                              u->enabled};
    return 0;
}

static int list_read(hub_txn_t *txn, idp_creq_t *c)
{
    list_t *l = c->data;
    int ret;

    l->q = idp_console_arg(c, "q");
    l->after = idp_console_arg(c, "after");
    if (l->q == NULL || strlen(l->q) > MAX_QUERY)
        l->q = "";
    if (l->after != NULL && (l->after[0] == '\0' || strlen(l->after) > MAX_QUERY))
        l->after = NULL;
    l->by_email = strchr(l->q, '@') != NULL;
    return (ret = idp_user_each_after(txn, l->by_email, l->q, l->after, list_row, l)) == 1 ? 0 : ret;
}

static void list_dispose(void *data)
{
    list_t *l = data;

    for (size_t i = 0; i != l->n; ++i) {
        free(l->rows[i].sub);
        free(l->rows[i].username);
        free(l->rows[i].email);
        free(l->rows[i].full_name);
        free(l->rows[i].roles);
    }
}

static void list_html(idp_creq_t *c, hub_page_t *p, const row_t *r)
{
    hub_page_raw(p, "<tr><td><a href=\"" PATH_EDIT "?id=");
    hub_page_text(p, hub_url_encode(&c->req->pool, r->sub, strlen(r->sub)).base);
    hub_page_raw(p, "\">");
    hub_page_text(p, r->username);
    hub_page_raw(p, "</a></td><td>");
    hub_page_text(p, r->email);
    hub_page_raw(p, "</td><td>");
    hub_page_text(p, r->full_name);
    hub_page_raw(p, r->enabled ? "</td><td><span class=\"badge\">enabled</span></td><td>"
                               : "</td><td><span class=\"badge off\">disabled</span></td><td>");
    hub_page_text(p, r->roles);
    hub_page_raw(p, "</td></tr>\n");
}

static void search_form(hub_page_t *p, const char *q)
{
    hub_page_raw(p, "<form method=\"get\" action=\"" PATH_LIST "\" class=\"card\" role=\"search\">\n<div class=\"field\">"
                    "<label for=\"f-q\">Find users</label>\n<input id=\"f-q\" name=\"q\" type=\"search\" value=\"");
    hub_page_text(p, q);
    hub_page_raw(p, "\" maxlength=\"254\" aria-describedby=\"h-q\" spellcheck=\"false\">\n<span class=\"hint\" id=\"h-q\">The "
                    "start of a username, or of an e-mail address when it holds an @.</span></div>\n<div class=\"actions\">"
                    "<button type=\"submit\">Search</button> <a class=\"button secondary\" id=\"new-user\" href=\"" PATH_NEW
                    "\">New user</a></div>\n</form>\n");
}

static void pager(idp_creq_t *c, hub_page_t *p, const list_t *l)
{
    const char *key;

    if (!l->more)
        return;
    key = l->by_email ? l->rows[l->n - 1].email : l->rows[l->n - 1].username;
    hub_page_raw(p, "<nav class=\"pager\" aria-label=\"Pages\"><a id=\"next-page\" href=\"" PATH_LIST "?q=");
    hub_page_text(p, hub_url_encode(&c->req->pool, l->q, strlen(l->q)).base);
    hub_page_raw(p, "&amp;after=");
    hub_page_text(p, hub_url_encode(&c->req->pool, key, strlen(key)).base);
    hub_page_raw(p, "\">Next page</a></nav>\n");
}

static void on_list(idp_creq_t *c)
{
    const list_t *l = c->data;
    hub_page_t p;

    idp_console_begin(c, &p, "Users", PATH_LIST);
    search_form(&p, l->q);
    hub_page_raw(&p, "<div class=\"table-wrap\"><table id=\"users\"><thead><tr><th scope=\"col\">Username</th><th scope=\"col\">"
                     "E-mail</th><th scope=\"col\">Full name</th><th scope=\"col\">State</th><th scope=\"col\">Roles</th></tr>"
                     "</thead>\n<tbody>\n");
    for (size_t i = 0; i != l->n; ++i)
        list_html(c, &p, &l->rows[i]);
    hub_page_raw(&p, "</tbody></table></div>\n");
    if (l->n == 0)
        hub_page_raw(&p, "<p id=\"no-users\">No user matches.</p>\n");
    pager(c, &p, l);
    idp_console_end(c, &p, 200);
}

/* ---- new ---- */

static void new_page(idp_creq_t *c, int status, const char **v, const idp_strv_t *roles, const idp_invalid_t *inv)
{
    static const idp_input_t types[F__COUNT] = {
        [F_EMAIL] = IDP_INPUT_EMAIL, [F_PASSWORD] = IDP_INPUT_PASSWORD, [F_AGAIN] = IDP_INPUT_PASSWORD};
    static const char *const attrs[F__COUNT] = {
        [F_USERNAME] = "required maxlength=\"64\" autocomplete=\"off\" autocapitalize=\"none\" spellcheck=\"false\"",
        [F_EMAIL] = "required maxlength=\"254\" autocomplete=\"off\"",
        [F_PASSWORD] = "required minlength=\"8\" maxlength=\"1024\" autocomplete=\"new-password\"",
        [F_AGAIN] = "required minlength=\"8\" maxlength=\"1024\" autocomplete=\"new-password\""};
    static const char *const hints[F__COUNT] = {
        [F_USERNAME] = "Letters, digits and . _ @ - (at most 64).", [F_PASSWORD] = "At least 8 characters."};
    hub_page_t p;

    idp_console_begin(c, &p, "New user", PATH_LIST);
    if (inv != NULL)
        idp_console_problem(&p, inv, fields, F__COUNT);
    idp_console_form(c, &p, PATH_NEW);
    for (size_t i = 0; i != F__COUNT; ++i)
        idp_console_input(&p, &fields[i], types[i], v != NULL ? v[i] : NULL, hints[i], inv, attrs[i]);
    role_boxes(c, &p, roles, inv);
    hub_page_raw(
        &p, "<div class=\"actions\"><button type=\"submit\">Create user</button> <a class=\"button secondary\" href=\"" PATH_LIST
            "\">Cancel</a></div>\n</form>\n");
    idp_console_end(c, &p, status);
}

static void on_new_get(idp_creq_t *c)
{
    idp_strv_t none;
    idp_strv_split(&none, "", 0);
    new_page(c, 200, NULL, &none, NULL);
    idp_strv_free(&none);
}

/* A password hashed on the worker pool, then a change made with it: a new user, or a user's new password. In c's
 * memory. */
typedef struct st_hash_job_t {
    char *password;
    size_t len;
    char *hash;              /* the result, NULL when hashing failed */
    idp_user_t *user;        /* the new user (new), or NULL */
    const char *v[F__COUNT]; /* the form's values (c's memory) */
    idp_invalid_t inv;       /* a refused new user */
} hash_job_t;

static void hash_work(void *arg)
{
    hash_job_t *j = arg;
    if (idp_password_hash(j->password, j->len, &j->hash) != 0)
        j->hash = NULL;
}

static void hash_dispose(void *arg)
{
    hash_job_t *j = arg;

    OPENSSL_cleanse(j->password, j->len);
    free(j->password);
    if (j->hash != NULL)
        OPENSSL_cleanse(j->hash, strlen(j->hash));
    free(j->hash);
    idp_user_free(j->user);
}

static hash_job_t *hash_job(idp_creq_t *c, const char *password)
{
    hash_job_t *j = idp_console_alloc(c, sizeof(*j), hash_dispose);

    j->password = hub_strdup(password);
    j->len = strlen(password);
    return j;
}

static int create_txn(hub_txn_t *txn, void *arg, char *target)
{
    hash_job_t *j = arg;
    snprintf(target, IDP_AUDIT_TEXT, "user %s", j->user->username);
    return idp_user_create(txn, j->user, &j->inv);
}

static void created(idp_creq_t *c, void *arg, int ret)
{
    hash_job_t *j = arg;

    if (ret == HUB_E_INVAL || ret == HUB_E_NOTFOUND || ret == HUB_E_EXISTS)
        new_page(c, 400, j->v, &j->user->roles, &j->inv);
    else if (ret != 0)
        idp_console_failed(c, ret, "Not created", "The user could not be created right now. Please try again.");
    else
        idp_console_done(c, edit_path(c, j->user->sub), "user-saved");
}

static void new_done(idp_creq_t *c, void *arg)
{
    hash_job_t *j = arg;

    if (j->hash == NULL) {
        idp_console_failed(c, HUB_E_CRYPTO, "Not created", "The user could not be created right now. Please try again.");
        return;
    }
    free(j->user->password_hash);
    j->user->password_hash = hub_strdup(j->hash);
    idp_console_change(c, "user.create", create_txn, j, created);
}
/* The new user the form describes, checked as hubctl checks one (idp_user_validate, idp_password_check). */
static idp_user_t *new_user(idp_creq_t *c, const char **v, idp_invalid_t *inv)
{
    idp_user_t *u = hub_xcalloc(1, sizeof(*u));

    posted_roles(c, &u->roles);
    u->username = hub_strdup(v[F_USERNAME]);
    u->email = hub_strdup(v[F_EMAIL]);
    u->full_name = v[F_FULL_NAME] != NULL && v[F_FULL_NAME][0] != '\0' ? hub_strdup(v[F_FULL_NAME]) : NULL;
    u->given_name = v[F_GIVEN_NAME] != NULL && v[F_GIVEN_NAME][0] != '\0' ? hub_strdup(v[F_GIVEN_NAME]) : NULL;
    u->family_name = v[F_FAMILY_NAME] != NULL && v[F_FAMILY_NAME][0] != '\0' ? hub_strdup(v[F_FAMILY_NAME]) : NULL;
    u->enabled = 1;
    u->email_verified = 1; /* set by an administrator, as hubctl does */
    if (idp_user_validate(u, inv) != 0 || idp_password_check(v[F_PASSWORD], strlen(v[F_PASSWORD]), inv) != 0 ||
        (strcmp(v[F_PASSWORD], v[F_AGAIN]) != 0 && idp_invalid(inv, IDP_FIELD_PASSWORD_AGAIN, "does not match the password"))) {
        idp_user_free(u);
        return NULL;
    }
    return u;
}

static void on_new_post(idp_creq_t *c)
{
    const char *v[F__COUNT];
    idp_invalid_t inv;
    idp_user_t *u = NULL;
    idp_strv_t roles;
    hash_job_t *j;

    posted_roles(c, &roles);
    if (idp_console_read(c, fields, F__COUNT, (1u << F_USERNAME) | (1u << F_EMAIL) | (1u << F_PASSWORD) | (1u << F_AGAIN), v,
                         &inv) != 0 ||
        (u = new_user(c, v, &inv)) == NULL) {
        new_page(c, 400, v, &roles, &inv);
        idp_strv_free(&roles);
        return;
    }
    idp_strv_free(&roles);
    j = hash_job(c, v[F_PASSWORD]);
    j->user = u;
    memcpy(j->v, v, sizeof(v));
    idp_console_job(c, hash_work, new_done, j);
}

/* ---- a user's page ---- */

/* The user the page names, or NULL after a 404 page. */
static const idp_user_t *one(idp_creq_t *c)
{
    const idp_user_t *u = ((const user_data_t *)c->data)->user;

    if (u == NULL)
        idp_console_message(c, 404, "No such user", "There is no user with that ID.");
    return u;
}

static void user_props(hub_page_t *p, const idp_user_t *u)
{
    hub_page_raw(p, "<section class=\"card\"><dl class=\"props\"><dt>Username</dt><dd id=\"username\">");
    hub_page_text(p, u->username);
    hub_page_raw(p, "</dd><dt>E-mail</dt><dd id=\"email\">");
    hub_page_text(p, u->email);
    hub_page_raw(p, "</dd><dt>Full name</dt><dd>");
    hub_page_text(p, u->full_name != NULL ? u->full_name : "-");
    hub_page_raw(p, "</dd><dt>Subject (sub)</dt><dd><code>");
    hub_page_text(p, u->sub);
    hub_page_printf(p, "</code></dd><dt>State</dt><dd id=\"state\">%s</dd><dt>Password</dt><dd>%s</dd><dt>Created</dt><dd>",
                    u->enabled ? "enabled" : "disabled", u->password_hash != NULL ? "set" : "none (cannot sign in)");
    idp_console_time(p, u->created_at);
    hub_page_raw(p, "</dd></dl></section>\n");
}

static void user_page(idp_creq_t *c, int status, const idp_user_t *u, const idp_strv_t *roles, const idp_invalid_t *inv)
{
    static const char *const pw_attrs = "required minlength=\"8\" maxlength=\"1024\" autocomplete=\"new-password\"";
    hub_page_t p;

    idp_console_begin(c, &p, "User", PATH_LIST);
    if (inv != NULL)
        idp_console_problem(&p, inv, fields, F__COUNT);
    user_props(&p, u);
    hub_page_raw(&p, "<section class=\"card\"><h2>Access</h2><div class=\"actions\">\n");
    idp_console_button(c, &p, PATH_STATE, "sub", u->sub, u->enabled ? "Disable user" : "Enable user", u->enabled ? "danger" : NULL);
    idp_console_button(c, &p, PATH_DELETE, "sub", u->sub, "Delete user", "danger");
    hub_page_raw(&p, "</div><p class=\"muted\">Disabling or deleting ends the user's sessions and revokes their tokens at once."
                     "</p></section>\n<section class=\"card\"><h2>Roles</h2>\n");
    idp_console_form(c, &p, PATH_ROLES);
    hub_page_raw(&p, "<input type=\"hidden\" name=\"sub\" value=\"");
    hub_page_text(&p, u->sub);
    hub_page_raw(&p, "\">\n");
    role_boxes(c, &p, roles, inv);
    hub_page_raw(&p, "<div class=\"actions\"><button type=\"submit\">Save roles</button></div></form></section>\n"
                     "<section class=\"card\"><h2>Set a password</h2>\n");
    idp_console_form(c, &p, PATH_PASSWORD);
    hub_page_raw(&p, "<input type=\"hidden\" name=\"sub\" value=\"");
    hub_page_text(&p, u->sub);
    hub_page_raw(&p, "\">\n");
    idp_console_input(&p, &fields[F_PASSWORD], IDP_INPUT_PASSWORD, NULL, "At least 8 characters.", inv, pw_attrs);
    idp_console_input(&p, &fields[F_AGAIN], IDP_INPUT_PASSWORD, NULL, NULL, inv, pw_attrs);
    hub_page_raw(&p, "<div class=\"actions\"><button type=\"submit\">Set password</button></div></form>\n"
                     "<p class=\"muted\">The user's sessions end and their tokens are revoked.</p></section>\n");
    idp_console_end(c, &p, status);
}

static void on_edit(idp_creq_t *c)
{
    const idp_user_t *u = one(c);

    if (u != NULL)
        user_page(c, 200, u, &u->roles, NULL);
}

/* ---- a user's changes ---- */

typedef enum { CH_ENABLE, CH_DISABLE, CH_ROLES, CH_PASSWORD, CH_DELETE } change_kind_t;

/* A change to the user the page read (c's memory). */
typedef struct {
    const idp_user_t *user; /* as read with the gate */
    change_kind_t kind;
    idp_strv_t roles; /* CH_ROLES: the roles posted */
    const char *hash; /* CH_PASSWORD: the new hash (the hash job's) */
    idp_invalid_t inv;
    int gone; /* the user is no more */
} change_t;

static void change_dispose(void *ptr)
{
    idp_strv_free(&((change_t *)ptr)->roles);
}

static change_t *change_new(idp_creq_t *c, const idp_user_t *u, change_kind_t kind)
{
    change_t *a = idp_console_alloc(c, sizeof(*a), change_dispose);

    a->user = u;
    a->kind = kind;
    a->inv = (idp_invalid_t){IDP_FIELD_NONE, ""};
    return a;
}

static int change_txn(hub_txn_t *txn, void *arg, char *target)
{
    change_t *a = arg;
    idp_user_t *u = NULL;
    int ret;

    a->gone = 0;
    if ((ret = idp_user_get(txn, a->user->sub, &u)) != 0) {
        a->gone = ret == HUB_E_NOTFOUND;
        return ret;
    }
    snprintf(target, IDP_AUDIT_TEXT, "user %s", u->username);
    if (a->kind == CH_DELETE) {
        ret = idp_user_remove(txn, u->sub);
    } else if (a->kind == CH_ROLES && (ret = idp_roles_exist(txn, &a->roles, IDP_FIELD_USER_ROLES, &a->inv)) != 0) {
        /* refused: a role that does not exist (any more) */
    } else {
        if (a->kind == CH_ENABLE || a->kind == CH_DISABLE)
            u->enabled = a->kind == CH_ENABLE;
        if (a->kind == CH_ROLES) {
            idp_strv_free(&u->roles);
            idp_strv_split(&u->roles, "", 0);
            for (size_t i = 0; i != a->roles.n; ++i)
                idp_strv_add(&u->roles, a->roles.v[i]);
        }
        if (a->kind == CH_PASSWORD) {
            free(u->password_hash);
            u->password_hash = hub_strdup(a->hash);
        }
        ret = idp_user_update(txn, u, NULL); /* what it takes away ends the user's sessions and tokens */
    }
    idp_user_free(u);
    return ret;
}

static const struct {
    const char *action, *flash;
} change_names[] = {
    [CH_ENABLE] = {"user.enable", "user-enabled"}, [CH_DISABLE] = {"user.disable", "user-disabled"},
    [CH_ROLES] = {"user.roles", "roles-saved"},    [CH_PASSWORD] = {"user.password", "password-set"},
    [CH_DELETE] = {"user.delete", "user-deleted"},
};

/* The answer to change a: the user's page with its flash, the list after a deletion, the page with the refusal. */
static void changed(idp_creq_t *c, void *arg, int ret)
{
    change_t *a = arg;

    if (ret == HUB_E_NOTFOUND && a->gone)
        idp_console_message(c, 404, "No such user", "There is no user with that ID any more.");
    else if (ret == HUB_E_NOTFOUND && a->kind == CH_ROLES)
        user_page(c, 400, a->user, &a->roles, &a->inv);
    else if (ret != 0)
        idp_console_failed(c, ret, "Not changed", "The user could not be changed right now. Please try again.");
    else
        idp_console_done(c, a->kind == CH_DELETE ? PATH_LIST : edit_path(c, a->user->sub), change_names[a->kind].flash);
}

static void change(idp_creq_t *c, change_t *a)
{
    idp_console_change(c, change_names[a->kind].action, change_txn, a, changed);
}

static void on_state(idp_creq_t *c)
{
    const idp_user_t *u = one(c);

    if (u != NULL)
        change(c, change_new(c, u, u->enabled ? CH_DISABLE : CH_ENABLE));
}

static void on_roles(idp_creq_t *c)
{
    const idp_user_t *u = one(c);
    change_t *a;

    if (u == NULL)
        return;
    a = change_new(c, u, CH_ROLES);
    posted_roles(c, &a->roles);
    change(c, a);
}

static void on_delete(idp_creq_t *c)
{
    const idp_user_t *u = one(c);
    char text[IDP_USERNAME_MAX + 160];

    if (u == NULL)
        return;
    snprintf(text, sizeof(text), "Delete the user \"%s\"? Their sessions end and their tokens are revoked. This cannot be undone.",
             u->username);
    if (idp_console_confirmed(c, "Delete user", text, PATH_DELETE, "sub", u->sub, "Delete user", edit_path(c, u->sub)))
        change(c, change_new(c, u, CH_DELETE));
}

static void password_done(idp_creq_t *c, void *arg)
{
    hash_job_t *j = arg;
    change_t *a;

    if (j->hash == NULL) {
        idp_console_failed(c, HUB_E_CRYPTO, "Not changed", "The password could not be hashed right now. Please try again.");
        return;
    }
    a = change_new(c, ((const user_data_t *)c->data)->user, CH_PASSWORD);
    a->hash = j->hash;
    change(c, a); /* a user deleted meanwhile: 404 */
}

static void on_password(idp_creq_t *c)
{
    const idp_user_t *u = one(c);
    const char *v[2];
    idp_invalid_t inv;

    if (u == NULL)
        return;
    if (idp_console_read(c, &fields[F_PASSWORD], 2, 3, v, &inv) != 0 || idp_password_check(v[0], strlen(v[0]), &inv) != 0 ||
        (strcmp(v[0], v[1]) != 0 && idp_invalid(&inv, IDP_FIELD_PASSWORD_AGAIN, "does not match the password"))) {
        user_page(c, 400, u, &u->roles, &inv);
        return;
    }
    idp_console_job(c, hash_work, password_done, hash_job(c, v[0]));
}

#define USER_DATA user_read, sizeof(user_data_t), user_data_dispose
/* A path before any prefix of it (idp_console_add). */
static const idp_console_page_t pages[] = {
    {PATH_NEW, 1, on_new_get, on_new_post, roles_read, sizeof(user_data_t), user_data_dispose},
    {PATH_EDIT, 1, on_edit, NULL, USER_DATA},
    {PATH_STATE, 1, NULL, on_state, USER_DATA},
    {PATH_ROLES, 1, NULL, on_roles, USER_DATA},
    {PATH_PASSWORD, 1, NULL, on_password, USER_DATA},
    {PATH_DELETE, 1, NULL, on_delete, USER_DATA},
    {PATH_LIST, 1, on_list, NULL, list_read, sizeof(list_t), list_dispose},
};
#undef USER_DATA

void idp_admin_users_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
