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

/* A checkbox per role of the store (all, read), checked when held. */
static void role_boxes(hub_page_t *p, const idp_strv_t *all, const idp_strv_t *held, const idp_invalid_t *inv)
{
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

/* A page with role boxes, after its read: the store's roles and, for a user's page, the user (sub). */
typedef struct st_form_page_t {
    char *sub;       /* a user's page: the user's, a copy; NULL: the new user's page */
    idp_user_t *u;   /* read: the user */
    idp_strv_t all;  /* read: every role */
    idp_strv_t held; /* the roles to show checked (a copy); a user's page without any: the user's own */
    int status, have_held;
    idp_invalid_t inv;       /* field IDP_FIELD_NONE: none */
    const char *v[F__COUNT]; /* the new user's form (the request's pool: read on the loop only), or NULLs */
} form_page_t;

static void form_page_free(void *arg)
{
    form_page_t *f = arg;

    free(f->sub);
    idp_user_free(f->u);
    idp_strv_free(&f->all);
    idp_strv_free(&f->held);
    free(f);
}

static int form_page_txn(hub_txn_t *txn, void *arg)
{
    form_page_t *f = arg;
    int ret;

    if (f->sub != NULL && (ret = idp_user_get(txn, f->sub, &f->u)) != 0)
        return ret == HUB_E_NOTFOUND ? 0 : ret;
    return idp_role_list(txn, &f->all);
}

static void new_page_read(idp_creq_t *c, form_page_t *f);
static void user_page_read(idp_creq_t *c, form_page_t *f);

static void form_page_read(idp_creq_t *c, void *arg, int ret)
{
    form_page_t *f = arg;

    if (ret != 0)
        idp_console_message(c, 503, "Unavailable", "The page could not be read right now. Please try again.");
    else if (f->sub != NULL && f->u == NULL)
        idp_console_message(c, 404, "No such user", "There is no user with that ID.");
    else if (f->sub == NULL)
        new_page_read(c, f);
    else
        user_page_read(c, f);
}

/* Reads what the page shows (the user sub, or none for the new user's page, and every role), then shows it with status,
 * the roles held (NULL: the user's own, or none) and the problem inv (may be NULL). */
static form_page_t *form_page(idp_creq_t *c, int status, const char *sub, const idp_strv_t *held, const idp_invalid_t *inv)
{
    form_page_t *f = hub_xcalloc(1, sizeof(*f));

    f->sub = sub != NULL ? hub_strdup(sub) : NULL;
    f->status = status;
    f->inv.field = IDP_FIELD_NONE;
    if (inv != NULL)
        f->inv = *inv;
    idp_strv_split(&f->held, "", 0);
    if ((f->have_held = held != NULL))
        for (size_t i = 0; i != held->n; ++i)
            idp_strv_add(&f->held, held->v[i]);
    return f;
}

static void form_page_show(idp_creq_t *c, form_page_t *f)
{
    idp_console_load(c, form_page_txn, f, form_page_read, form_page_free);
}

/* ---- the list ---- */

/* A page of the list: its rows written off the loop into a fragment, the key of the last user shown (malloc'ed). */
typedef struct {
    char *q, *after; /* copies */
    hub_page_t *p;
    int by_email;
    size_t n;
    char *last;
    char *html;
} list_t;

static void list_free(void *arg)
{
    list_t *l = arg;

    free(l->q);
    free(l->after);
    free(l->last);
    free(l->html);
    free(l);
}

static int list_row(void *arg, const idp_user_t *u)
{
    list_t *l = arg;
    char *roles;

    if (l->n++ == PAGE_SIZE)
        return 1; /* one more: a next page */
    hub_page_raw(l->p, "<tr><td><a href=\"" PATH_EDIT "?id=");
    hub_page_text(l->p, hub_url_encode(hub_page_pool(l->p), u->sub, strlen(u->sub)).base);
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
    free(l->last);
    l->last = hub_strdup(l->by_email ? u->email : u->username);
    return 0;
}

static int list_txn(hub_txn_t *txn, void *arg)
{
    list_t *l = arg;
    hub_page_t p;
    size_t len;
    int ret;

    l->p = &p;
    hub_page_fragment(&p);
    ret = idp_user_each_after(txn, l->by_email, l->q, l->after, list_row, l);
    l->html = hub_page_fragment_end(&p, &len);
    l->p = NULL;
    return ret < 0 ? ret : 0; /* a walk stopped early (a full page) is no error */
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

static void listed(idp_creq_t *c, void *arg, int ret)
{
    list_t *l = arg;
    hub_page_t p;

    idp_console_begin(c, &p, "Users", PATH_LIST);
    search_form(&p, l->q);
    hub_page_raw(&p, "<div class=\"table-wrap\"><table id=\"users\"><thead><tr><th scope=\"col\">Username</th><th scope=\"col\">"
                     "E-mail</th><th scope=\"col\">Full name</th><th scope=\"col\">State</th><th scope=\"col\">Roles</th></tr>"
                     "</thead>\n<tbody>\n");
    if (ret == 0)
        hub_page_raw(&p, l->html);
    hub_page_raw(&p, "</tbody></table></div>\n");
    if (l->n == 0)
        hub_page_raw(&p, "<p id=\"no-users\">No user matches.</p>\n");
    if (l->n > PAGE_SIZE) {
        hub_page_raw(&p, "<nav class=\"pager\" aria-label=\"Pages\"><a id=\"next-page\" href=\"" PATH_LIST "?q=");
        hub_page_text(&p, hub_url_encode(&c->req->pool, l->q, strlen(l->q)).base);
        hub_page_raw(&p, "&amp;after=");
        hub_page_text(&p, hub_url_encode(&c->req->pool, l->last, strlen(l->last)).base);
        hub_page_raw(&p, "\">Next page</a></nav>\n");
    }
    idp_console_end(c, &p, 200);
}

static void on_list(idp_creq_t *c)
{
    const char *q = idp_console_arg(c, "q"), *after = idp_console_arg(c, "after");
    list_t *l = hub_xcalloc(1, sizeof(*l));

    l->q = hub_strdup(q != NULL && strlen(q) <= MAX_QUERY ? q : "");
    l->after = after != NULL && after[0] != '\0' && strlen(after) <= MAX_QUERY ? hub_strdup(after) : NULL;
    l->by_email = strchr(l->q, '@') != NULL;
    idp_console_load(c, list_txn, l, listed, list_free);
}

/* ---- new ---- */

static void new_page_read(idp_creq_t *c, form_page_t *f)
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
    const idp_invalid_t *inv = f->inv.field != IDP_FIELD_NONE ? &f->inv : NULL;
    hub_page_t p;

    idp_console_begin(c, &p, "New user", PATH_LIST);
    if (inv != NULL)
        idp_console_problem(&p, inv, fields, F__COUNT);
    idp_console_form(c, &p, PATH_NEW);
    for (size_t i = 0; i != F__COUNT; ++i)
        idp_console_input(&p, &fields[i], types[i], f->v[i], hints[i], inv, attrs[i]);
    role_boxes(&p, &f->all, &f->held, inv);
    hub_page_raw(
        &p, "<div class=\"actions\"><button type=\"submit\">Create user</button> <a class=\"button secondary\" href=\"" PATH_LIST
            "\">Cancel</a></div>\n</form>\n");
    idp_console_end(c, &p, f->status);
}

/* The new user's page with the form's values v (may be NULL), the roles checked and the problem inv (may be NULL). */
static void new_page(idp_creq_t *c, int status, const char **v, const idp_strv_t *roles, const idp_invalid_t *inv)
{
    form_page_t *f = form_page(c, status, NULL, roles, inv);

    for (size_t i = 0; v != NULL && i != F__COUNT; ++i)
        f->v[i] = v[i];
    form_page_show(c, f);
}

static void on_new_get(idp_creq_t *c)
{
    new_page(c, 200, NULL, NULL, NULL);
}

/* A password hashed on the worker pool, then a change made with it: a new user, or a user's new password. */
typedef struct st_hash_job_t {
    char *password;
    size_t len;
    char *hash;              /* the result, NULL when hashing failed */
    idp_user_t *user;        /* the new user (new), or NULL */
    char *sub;               /* the user whose password is set, or NULL */
    const char *v[F__COUNT]; /* the form's values, in the request's pool (read only on the loop) */
    idp_invalid_t inv;
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

    if (j->password != NULL)
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

/* The next step takes over what the job holds: the step that ran it frees an empty one. */
static hash_job_t *hash_job_move(hash_job_t *j)
{
    hash_job_t *next = hub_xcalloc(1, sizeof(*next));

    *next = *j;
    memset(j, 0, sizeof(*j));
    return next;
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
        idp_console_message(c, 503, "Not created", "The user could not be created right now. Please try again.");
    else
        idp_console_done(c, edit_path(c, j->user->sub), "user-saved");
}

static void new_done(idp_creq_t *c, void *arg)
{
    hash_job_t *j = hash_job_move(arg);

    if (j->hash == NULL) {
        idp_console_message(c, 503, "Not created", "The user could not be created right now. Please try again.");
        hash_dispose(j);
        return;
    }
    free(j->user->password_hash);
    j->user->password_hash = hub_strdup(j->hash);
    idp_console_change(c, "user.create", create_txn, j, created, hash_dispose);
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

static void user_page_read(idp_creq_t *c, form_page_t *f)
{
    static const char *const pw_attrs = "required minlength=\"8\" maxlength=\"1024\" autocomplete=\"new-password\"";
    const idp_invalid_t *inv = f->inv.field != IDP_FIELD_NONE ? &f->inv : NULL;
    const idp_user_t *u = f->u;
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
    role_boxes(&p, &f->all, f->have_held ? &f->held : &u->roles, inv);
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
    idp_console_end(c, &p, f->status);
}

/* The page of user sub (a 404 page when there is none), with status, the roles shown checked (NULL: the user's own) and
 * the problem inv (may be NULL). */
static void user_page(idp_creq_t *c, int status, const char *sub, const idp_strv_t *roles, const idp_invalid_t *inv)
{
    if (sub == NULL || strlen(sub) > MAX_SUB)
        idp_console_message(c, 404, "No such user", "There is no user with that ID.");
    else
        form_page_show(c, form_page(c, status, sub, roles, inv));
}

static void on_edit(idp_creq_t *c)
{
    user_page(c, 200, idp_console_arg(c, "id"), NULL, NULL);
}

/* ---- a user's changes ---- */

typedef enum { CH_ENABLE, CH_DISABLE, CH_ROLES, CH_PASSWORD, CH_DELETE } change_kind_t;

/* A change of a user's, with copies of what it writes; made on the user as the change's transaction finds it. */
typedef struct {
    char *sub;
    change_kind_t kind; /* CH_ENABLE stands for "enable or disable, whichever it is not" until the write reads it */
    idp_strv_t roles;
    char *hash;
    char *username; /* read in the write, for the confirmation */
    int enabled;    /* read in the write */
    idp_invalid_t inv;
    int gone; /* the user is no more */
} change_t;

static void change_free(void *arg)
{
    change_t *a = arg;

    free(a->sub);
    idp_strv_free(&a->roles);
    if (a->hash != NULL)
        OPENSSL_cleanse(a->hash, strlen(a->hash));
    free(a->hash);
    free(a->username);
    free(a);
}

static change_t *change_new(const char *sub, change_kind_t kind)
{
    change_t *a = hub_xcalloc(1, sizeof(*a));

    a->sub = hub_strdup(sub);
    a->kind = kind;
    idp_strv_split(&a->roles, "", 0);
    return a;
}

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

/* The answer to a change: the user's page with its flash, the list after a deletion, the page with the refusal. */
static void changed(idp_creq_t *c, void *arg, int ret)
{
    change_t *a = arg;

    if (ret == HUB_E_NOTFOUND && a->gone)
        idp_console_message(c, 404, "No such user", "There is no user with that ID any more.");
    else if (ret == HUB_E_NOTFOUND && a->kind == CH_ROLES)
        user_page(c, 400, a->sub, &a->roles, &a->inv);
    else if (ret != 0)
        idp_console_message(c, 503, "Not changed", "The user could not be changed right now. Please try again.");
    else
        idp_console_done(c, a->kind == CH_DELETE ? PATH_LIST : edit_path(c, a->sub), change_names[a->kind].flash);
}

static void change(idp_creq_t *c, change_t *a)
{
    idp_console_change(c, change_names[a->kind].action, change_txn, a, changed, change_free);
}

/* The sub of a change's form, or NULL after a 404 page. */
static const char *sub_arg(idp_creq_t *c)
{
    const char *sub = idp_console_arg(c, "sub");

    if (sub == NULL || strlen(sub) > MAX_SUB) {
        idp_console_message(c, 404, "No such user", "There is no user with that ID.");
        return NULL;
    }
    return sub;
}

static void state_read(idp_creq_t *c, void *arg, int ret);

/* Enable or disable: the opposite of what the user is when the page's read finds it. */
static void on_state(idp_creq_t *c)
{
    const char *sub = sub_arg(c);
    form_page_t *f;

    if (sub == NULL)
        return;
    f = form_page(c, 200, sub, NULL, NULL);
    idp_console_load(c, form_page_txn, f, state_read, form_page_free);
}

/* After the user was read: a change that depends on the user as it is (enable or disable, a deletion's confirmation). */
static void user_read(idp_creq_t *c, void *arg, int ret, void (*next)(idp_creq_t *c, const idp_user_t *u))
{
    form_page_t *f = arg;

    if (ret != 0)
        idp_console_message(c, 503, "Not changed", "The user could not be read right now. Please try again.");
    else if (f->u == NULL)
        idp_console_message(c, 404, "No such user", "There is no user with that ID.");
    else
        next(c, f->u);
}

static void toggle(idp_creq_t *c, const idp_user_t *u)
{
    change(c, change_new(u->sub, u->enabled ? CH_DISABLE : CH_ENABLE));
}

static void state_read(idp_creq_t *c, void *arg, int ret)
{
    user_read(c, arg, ret, toggle);
}

static void on_roles(idp_creq_t *c)
{
    const char *sub = sub_arg(c);
    change_t *a;

    if (sub == NULL)
        return;
    a = change_new(sub, CH_ROLES);
    idp_strv_free(&a->roles);
    posted_roles(c, &a->roles);
    change(c, a);
}

static void confirm_delete(idp_creq_t *c, const idp_user_t *u)
{
    char text[IDP_USERNAME_MAX + 160];

    snprintf(text, sizeof(text), "Delete the user \"%s\"? Their sessions end and their tokens are revoked. This cannot be undone.",
             u->username);
    if (idp_console_confirmed(c, "Delete user", text, PATH_DELETE, "sub", u->sub, "Delete user", edit_path(c, u->sub)))
        change(c, change_new(u->sub, CH_DELETE));
}

static void delete_read(idp_creq_t *c, void *arg, int ret)
{
    user_read(c, arg, ret, confirm_delete);
}

static void on_delete(idp_creq_t *c)
{
    const char *sub = sub_arg(c);

    if (sub != NULL)
        idp_console_load(c, form_page_txn, form_page(c, 200, sub, NULL, NULL), delete_read, form_page_free);
}

static void password_done(idp_creq_t *c, void *arg)
{
    hash_job_t *j = arg;
    change_t *a;

    if (j->hash == NULL) {
        idp_console_message(c, 503, "Not changed", "The password could not be hashed right now. Please try again.");
        return;
    }
    a = change_new(j->sub, CH_PASSWORD); /* a user gone meanwhile: the change says so (404) */
    a->hash = hub_strdup(j->hash);
    change(c, a);
}

static void on_password(idp_creq_t *c)
{
    const char *sub = sub_arg(c), *v[2];
    idp_invalid_t inv;
    hash_job_t *j;

    if (sub == NULL)
        return;
    if (idp_console_read(c, &fields[F_PASSWORD], 2, 3, v, &inv) != 0 || idp_password_check(v[0], strlen(v[0]), &inv) != 0 ||
        (strcmp(v[0], v[1]) != 0 && idp_invalid(&inv, IDP_FIELD_PASSWORD_AGAIN, "does not match the password"))) {
        user_page(c, 400, sub, NULL, &inv);
        return;
    }
    j = hash_job(v[0]);
    j->sub = hub_strdup(sub);
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
