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
    idp_strv_t all = {NULL, 0};
    hub_txn_t *txn = NULL;

    if (hub_store_read_begin(c->idp->store, &txn) == 0) {
        if (idp_role_list(txn, &all) != 0)
            idp_strv_split(&all, "", 0);
        hub_store_read_end(txn);
    }
    hub_page_raw(p, "<fieldset id=\"f-role\"><legend>Roles</legend>\n");
    for (size_t i = 0; i != all.n; ++i) {
        hub_page_printf(p, "<div class=\"field check\"><input type=\"checkbox\" name=\"role\" id=\"role-%zu\" value=\"", i);
        hub_page_text(p, all.v[i]);
        hub_page_printf(p, "\"%s><label for=\"role-%zu\">", idp_strv_has(held, all.v[i]) ? " checked" : "", i);
        hub_page_text(p, all.v[i]);
        hub_page_raw(p, "</label></div>\n");
    }
    if (inv != NULL && inv->field == IDP_FIELD_USER_ROLES) {
        hub_page_raw(p, "<span class=\"msg\" id=\"m-role\">");
        hub_page_text(p, inv->text);
        hub_page_raw(p, "</span>\n");
    }
    hub_page_raw(p, "</fieldset>\n");
    idp_strv_free(&all);
}

/* ---- the list ---- */

typedef struct {
    hub_page_t *p;
    h2o_req_t *req;
    int by_email;
    size_t n;
    const char *last; /* the key of the last user shown (username, or e-mail), in the request's pool */
} list_t;

static int list_row(void *arg, const idp_user_t *u)
{
    list_t *l = arg;
    char *roles;

    if (l->n++ == PAGE_SIZE)
        return 1; /* one more: a next page */
    hub_page_raw(l->p, "<tr><td><a href=\"" PATH_EDIT "?id=");
    hub_page_text(l->p, hub_url_encode(&l->req->pool, u->sub, strlen(u->sub)).base);
    hub_page_raw(l->p, "\">");
    hub_page_text(l->p, u->username);
    hub_page_raw(l->p, "</a></td><td>");
    hub_page_text(l->p, u->email);
    hub_page_raw(l->p, "</td><td>");
    hub_page_text(l->p, u->full_name);
    hub_page_raw(l->p, u->enabled ? "</td><td><span class=\"badge\">enabled</span></td><td>"
                                  : "</td><td><span class=\"badge off\">disabled</span></td><td>");
    roles = idp_strv_join(&u->roles, "; ");
    hub_page_text(l->p, roles);
    free(roles);
    hub_page_raw(l->p, "</td></tr>\n");
    l->last = h2o_strdup(&l->req->pool, l->by_email ? u->email : u->username, SIZE_MAX).base;
    return 0;
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

static void pager(idp_creq_t *c, hub_page_t *p, const list_t *l, const char *q)
{
    if (l->n <= PAGE_SIZE)
        return;
    hub_page_raw(p, "<nav class=\"pager\" aria-label=\"Pages\"><a id=\"next-page\" href=\"" PATH_LIST "?q=");
    hub_page_text(p, hub_url_encode(&c->req->pool, q, strlen(q)).base);
    hub_page_raw(p, "&amp;after=");
    hub_page_text(p, hub_url_encode(&c->req->pool, l->last, strlen(l->last)).base);
    hub_page_raw(p, "\">Next page</a></nav>\n");
}

static void on_list(idp_creq_t *c)
{
    const char *q = idp_console_arg(c, "q"), *after = idp_console_arg(c, "after");
    list_t l = {NULL, c->req, 0, 0, NULL};
    hub_txn_t *txn = NULL;
    hub_page_t p;

    if (q == NULL || strlen(q) > MAX_QUERY)
        q = "";
    if (after != NULL && (after[0] == '\0' || strlen(after) > MAX_QUERY))
        after = NULL;
    l.p = &p;
    l.by_email = strchr(q, '@') != NULL;
    idp_console_begin(c, &p, "Users", PATH_LIST);
    search_form(&p, q);
    hub_page_raw(&p, "<div class=\"table-wrap\"><table id=\"users\"><thead><tr><th scope=\"col\">Username</th><th scope=\"col\">"
                     "E-mail</th><th scope=\"col\">Full name</th><th scope=\"col\">State</th><th scope=\"col\">Roles</th></tr>"
                     "</thead>\n<tbody>\n");
    if (hub_store_read_begin(c->idp->store, &txn) == 0) {
        idp_user_each_after(txn, l.by_email, q, after, list_row, &l);
        hub_store_read_end(txn);
    }
    hub_page_raw(&p, "</tbody></table></div>\n");
    if (l.n == 0)
        hub_page_raw(&p, "<p id=\"no-users\">No user matches.</p>\n");
    pager(c, &p, &l, q);
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

/* A password hashed on the worker pool, then a change made with it: a new user, or a user's new password. */
typedef struct st_hash_job_t {
    char *password;
    size_t len;
    char *hash;              /* the result, NULL when hashing failed */
    idp_user_t *user;        /* the new user (new), or NULL */
    char *sub;               /* the user whose password is set, or NULL */
    const char *v[F__COUNT]; /* the form's values, in the request's pool (read only while it is there) */
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
    free(j->sub);
    free(j);
}

static hash_job_t *hash_job(const char *password)
{
    hash_job_t *j = hub_xcalloc(1, sizeof(*j));

    j->password = hub_strdup(password);
    j->len = strlen(password);
    return j;
}

typedef struct {
    idp_user_t *user;
    idp_invalid_t inv;
} create_t;

static int create_txn(hub_txn_t *txn, void *arg, char *target)
{
    create_t *a = arg;
    snprintf(target, IDP_AUDIT_TEXT, "user %s", a->user->username);
    return idp_user_create(txn, a->user, &a->inv);
}

static void new_done(idp_creq_t *c, void *arg)
{
    hash_job_t *j = arg;
    create_t a = {j->user};
    int ret;

    free(j->user->password_hash);
    j->user->password_hash = hub_strdup(j->hash);
    ret = j->hash == NULL ? HUB_E_CRYPTO : idp_console_change(c, "user.create", create_txn, &a);
    if (ret == HUB_E_INVAL || ret == HUB_E_NOTFOUND || ret == HUB_E_EXISTS)
        new_page(c, 400, j->v, &j->user->roles, &a.inv);
    else if (ret != 0)
        idp_console_message(c, 503, "Not created", "The user could not be created right now. Please try again.");
    else
        idp_console_done(c, edit_path(c, j->user->sub), "user-saved");
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
    j = hash_job(v[F_PASSWORD]);
    j->user = u;
    memcpy(j->v, v, sizeof(v));
    idp_console_job(c, hash_work, new_done, hash_dispose, j);
}

/* ---- a user's page ---- */

static idp_user_t *load(idp_creq_t *c, const char *sub)
{
    idp_user_t *u = sub != NULL && strlen(sub) <= MAX_SUB ? idp_console_load_user(c->idp, sub) : NULL;

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
    idp_user_t *u = load(c, idp_console_arg(c, "id"));

    if (u != NULL)
        user_page(c, 200, u, &u->roles, NULL);
    idp_user_free(u);
}

/* ---- a user's changes ---- */

typedef enum { CH_ENABLE, CH_DISABLE, CH_ROLES, CH_PASSWORD, CH_DELETE } change_kind_t;

typedef struct {
    const char *sub;
    change_kind_t kind;
    const idp_strv_t *roles;
    const char *hash;
    idp_invalid_t inv;
    int gone; /* the user is no more */
} change_t;

static int change_txn(hub_txn_t *txn, void *arg, char *target)
{
    change_t *a = arg;
    idp_user_t *u = NULL;
    int ret;

    if ((ret = idp_user_get(txn, a->sub, &u)) != 0) {
        a->gone = ret == HUB_E_NOTFOUND;
        return ret;
    }
    snprintf(target, IDP_AUDIT_TEXT, "user %s", u->username);
    if (a->kind == CH_DELETE) {
        ret = idp_user_remove(txn, u->sub);
    } else if (a->kind == CH_ROLES && (ret = idp_roles_exist(txn, a->roles, IDP_FIELD_USER_ROLES, &a->inv)) != 0) {
        /* refused: a role that does not exist (any more) */
    } else {
        if (a->kind == CH_ENABLE || a->kind == CH_DISABLE)
            u->enabled = a->kind == CH_ENABLE;
        if (a->kind == CH_ROLES) {
            idp_strv_free(&u->roles);
            idp_strv_split(&u->roles, "", 0);
            for (size_t i = 0; i != a->roles->n; ++i)
                idp_strv_add(&u->roles, a->roles->v[i]);
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

/* Makes change a on user u and answers: the user's page with its flash, the list after a deletion, the page with the
 * refusal. */
static void change(idp_creq_t *c, const idp_user_t *u, change_t *a)
{
    int ret = idp_console_change(c, change_names[a->kind].action, change_txn, a);

    if (ret == HUB_E_NOTFOUND && a->gone)
        idp_console_message(c, 404, "No such user", "There is no user with that ID any more.");
    else if (ret == HUB_E_NOTFOUND && a->kind == CH_ROLES)
        user_page(c, 400, u, a->roles, &a->inv);
    else if (ret != 0)
        idp_console_message(c, 503, "Not changed", "The user could not be changed right now. Please try again.");
    else
        idp_console_done(c, a->kind == CH_DELETE ? PATH_LIST : edit_path(c, u->sub), change_names[a->kind].flash);
}

static void on_state(idp_creq_t *c)
{
    idp_user_t *u = load(c, idp_console_arg(c, "sub"));
    change_t a = {NULL};

    if (u == NULL)
        return;
    a.sub = u->sub;
    a.kind = u->enabled ? CH_DISABLE : CH_ENABLE;
    change(c, u, &a);
    idp_user_free(u);
}

static void on_roles(idp_creq_t *c)
{
    idp_user_t *u = load(c, idp_console_arg(c, "sub"));
    change_t a = {NULL};
    idp_strv_t roles;

    if (u == NULL)
        return;
    posted_roles(c, &roles);
    a.sub = u->sub;
    a.kind = CH_ROLES;
    a.roles = &roles;
    change(c, u, &a);
    idp_strv_free(&roles);
    idp_user_free(u);
}

static void on_delete(idp_creq_t *c)
{
    idp_user_t *u = load(c, idp_console_arg(c, "sub"));
    change_t a = {NULL};
    char text[IDP_USERNAME_MAX + 160];

    if (u == NULL)
        return;
    snprintf(text, sizeof(text), "Delete the user \"%s\"? Their sessions end and their tokens are revoked. This cannot be undone.",
             u->username);
    if (idp_console_confirmed(c, "Delete user", text, PATH_DELETE, "sub", u->sub, "Delete user", edit_path(c, u->sub))) {
        a.sub = u->sub;
        a.kind = CH_DELETE;
        change(c, u, &a);
    }
    idp_user_free(u);
}

static void password_done(idp_creq_t *c, void *arg)
{
    hash_job_t *j = arg;
    idp_user_t *u = idp_console_load_user(c->idp, j->sub);
    change_t a = {j->sub, CH_PASSWORD, NULL, j->hash, {IDP_FIELD_NONE, ""}, 0};

    if (u == NULL)
        idp_console_message(c, 404, "No such user", "There is no user with that ID any more.");
    else if (j->hash == NULL)
        idp_console_message(c, 503, "Not changed", "The password could not be hashed right now. Please try again.");
    else
        change(c, u, &a);
    idp_user_free(u);
}

static void on_password(idp_creq_t *c)
{
    idp_user_t *u = load(c, idp_console_arg(c, "sub"));
    const char *v[2];
    idp_invalid_t inv;
    hash_job_t *j;

    if (u == NULL)
        return;
    if (idp_console_read(c, &fields[F_PASSWORD], 2, 3, v, &inv) != 0 || idp_password_check(v[0], strlen(v[0]), &inv) != 0 ||
        (strcmp(v[0], v[1]) != 0 && idp_invalid(&inv, IDP_FIELD_PASSWORD_AGAIN, "does not match the password"))) {
        user_page(c, 400, u, &u->roles, &inv);
        idp_user_free(u);
        return;
    }
    j = hash_job(v[0]);
    j->sub = hub_strdup(u->sub);
    idp_user_free(u);
    idp_console_job(c, hash_work, password_done, hash_dispose, j);
}

/* A path before any prefix of it (idp_console_add). */
static const idp_console_page_t pages[] = {
    {PATH_NEW, 1, on_new_get, on_new_post}, {PATH_EDIT, 1, on_edit, NULL},         {PATH_STATE, 1, NULL, on_state},
    {PATH_ROLES, 1, NULL, on_roles},        {PATH_PASSWORD, 1, NULL, on_password}, {PATH_DELETE, 1, NULL, on_delete},
    {PATH_LIST, 1, on_list, NULL},
};

void idp_admin_users_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
