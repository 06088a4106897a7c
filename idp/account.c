/* /account/ (SPEC §11): every signed-in user's page. The profile, the apps holding a grant with Revoke, the password
 * change (the current one checked and the new one hashed with Argon2id on the worker pool, never on a loop; the user's
 * other sessions end) and sign out everywhere (every session ends, every token family is revoked, the clients are told
 * by back-channel logout, as when an administrator disables the user). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/util.h"
#include "idp/account.h"
#include "idp/console.h"
#include "idp/endpoint.h"
#include "idp/password.h"
#include "idp/revocation.h"
#include "idp/user_apps.h"

#define PATH_PASSWORD IDP_CONSOLE_ACCOUNT "password"
#define PATH_REVOKE IDP_CONSOLE_ACCOUNT "revoke"
#define PATH_EVERYWHERE IDP_CONSOLE_ACCOUNT "sign-out-everywhere"
/* Wrong current passwords a user may give within GUESS_WINDOW seconds before the form refuses for the rest of it: a
 * stolen session must not become a way to guess the password behind it. */
#define MAX_GUESSES 5
#define GUESS_WINDOW 900

enum { F_CURRENT = 0, F_NEW, F_AGAIN, F__COUNT };
static const idp_form_field_t pw_fields[F__COUNT] = {
    [F_CURRENT] = {"current_password", "Current password", IDP_FIELD_CURRENT_PASSWORD},
    [F_NEW] = {"new_password", "New password", IDP_FIELD_PASSWORD},
    [F_AGAIN] = {"new_password_again", "New password again", IDP_FIELD_PASSWORD_AGAIN},
};

/* ---- the page ---- */

static void profile(idp_creq_t *c, hub_page_t *p)
{
    const idp_user_t *u = c->user;
    char *roles = idp_strv_join(&u->roles, ", ");

    hub_page_raw(p,
                 "<section class=\"card\" aria-labelledby=\"profile-h\"><h2 id=\"profile-h\">Profile</h2>\n<dl class=\"props\">\n"
                 "<dt>Username</dt><dd id=\"username\">");
    hub_page_text(p, u->username);
    hub_page_raw(p, "</dd>\n<dt>Full name</dt><dd id=\"full-name\">");
    hub_page_text(p, u->full_name != NULL ? u->full_name : "-");
    hub_page_raw(p, "</dd>\n<dt>E-mail</dt><dd id=\"email\">");
    hub_page_text(p, u->email);
    hub_page_raw(p, "</dd>\n<dt>Roles</dt><dd id=\"roles\">");
    hub_page_text(p, roles[0] != '\0' ? roles : "None");
    hub_page_raw(p, "</dd>\n</dl></section>\n");
    free(roles);
}

static void app_row(idp_creq_t *c, hub_page_t *p, const idp_user_app_t *a)
{
    hub_page_raw(p, "<tr><td>");
    hub_page_text(p, a->app_name != NULL ? a->app_name : "(a deleted app)");
    hub_page_raw(p, "<br><span class=\"muted mono\">");
    hub_page_text(p, a->client_id);
    hub_page_raw(p, "</span></td><td>");
    hub_page_text(p, a->scope != NULL ? a->scope : "-");
    hub_page_raw(p, "</td><td>");
    idp_console_time(p, a->since);
    hub_page_raw(p, "</td><td>");
    idp_console_button(c, p, PATH_REVOKE, "client_id", a->client_id, "Revoke", "danger");
    hub_page_raw(p, "</td></tr>\n");
}

/* What /account/ and the password form read with the gate: the apps holding a grant and, for the password form, the
 * wrong current passwords counted. */
typedef struct {
    idp_user_app_t *apps;
    size_t n;
    uint64_t guesses;
} account_data_t;

static void apps(idp_creq_t *c, hub_page_t *p)
{
    const account_data_t *d = c->data;

    hub_page_raw(p, "<section class=\"card\" aria-labelledby=\"apps-h\"><h2 id=\"apps-h\">Apps with access to your account</h2>\n");
    if (d->n == 0) {
        hub_page_raw(p, "<p id=\"no-apps\">No app holds access to your account.</p>\n");
    } else {
        hub_page_raw(p, "<p>Revoking an app ends its access at once: its refresh tokens stop working and it must ask you "
                        "again.</p>\n<div class=\"table-wrap\"><table id=\"apps\"><thead><tr><th scope=\"col\">App</th>"
                        "<th scope=\"col\">Scopes</th><th scope=\"col\">Since</th><th scope=\"col\"><span class=\"skip\">"
                        "Action</span></th></tr></thead>\n<tbody>\n");
        for (size_t i = 0; i != d->n; ++i)
            app_row(c, p, &d->apps[i]);
        hub_page_raw(p, "</tbody></table></div>\n");
    }
    hub_page_raw(p, "</section>\n");
}

static void password_form(idp_creq_t *c, hub_page_t *p, const idp_invalid_t *inv)
{
    static const char *const attrs[F__COUNT] = {
        [F_CURRENT] = "autocomplete=\"current-password\" required maxlength=\"1024\"",
        [F_NEW] = "autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"1024\"",
        [F_AGAIN] = "autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"1024\"",
    };

    hub_page_raw(p, "<section class=\"card\" aria-labelledby=\"pw-h\"><h2 id=\"pw-h\">Change password</h2>\n");
    if (inv != NULL)
        idp_console_problem(p, inv, pw_fields, F__COUNT);
    idp_console_form(c, p, PATH_PASSWORD);
    /* the account the passwords are for, for password managers (and browsers, which ask a password form for one) */
    hub_page_raw(p, "<input type=\"text\" name=\"username\" autocomplete=\"username\" hidden readonly value=\"");
    hub_page_text(p, c->user->username);
    hub_page_raw(p, "\">\n");
    for (size_t i = 0; i != F__COUNT; ++i)
        idp_console_input(p, &pw_fields[i], IDP_INPUT_PASSWORD, NULL, i == F_NEW ? "At least 8 characters." : NULL, inv, attrs[i]);
    hub_page_raw(p, "<div class=\"actions\"><button type=\"submit\">Change password</button></div>\n</form>\n"
                    "<p class=\"muted\">Your other sessions are signed out when the password changes.</p></section>\n");
}

static void everywhere(idp_creq_t *c, hub_page_t *p)
{
    hub_page_raw(p, "<section class=\"card\" aria-labelledby=\"everywhere-h\"><h2 id=\"everywhere-h\">Sign out everywhere</h2>\n"
                    "<p>Ends every session of your account, on this browser and any other, and revokes the tokens of every "
                    "app.</p>\n<div class=\"actions\">");
    idp_console_button(c, p, PATH_EVERYWHERE, NULL, NULL, "Sign out everywhere", "danger");
    hub_page_raw(p, "</div></section>\n");
}

static void account_page(idp_creq_t *c, int status, const idp_invalid_t *inv)
{
    hub_page_t p;

    idp_console_begin(c, &p, "Your account", IDP_CONSOLE_ACCOUNT);
    profile(c, &p);
    apps(c, &p);
    password_form(c, &p, inv);
    everywhere(c, &p);
    idp_console_end(c, &p, status);
}

static void on_home(idp_creq_t *c)
{
    account_page(c, 200, NULL);
}

/* ---- wrong current passwords (LOGIN_FAILURES "p:" sub -> {"n"}, a fixed window from the first) ---- */

static void guess_key(char *out, size_t size, const char *sub)
{
    snprintf(out, size, "p:%s", sub);
}

static int account_read(hub_txn_t *txn, idp_creq_t *c)
{
    account_data_t *d = c->data;
    char key[300];
    json_t *rec = NULL;
    int ret;

    if ((ret = idp_user_apps_list(txn, c->user->sub, &d->apps, &d->n)) != 0)
        return ret;
    if (!c->post)
        return 0;
    guess_key(key, sizeof(key), c->user->sub);
    if ((ret = hub_store_get_json(txn, HUB_T_LOGIN_FAILURES, key, &rec)) == 0)
        d->guesses = (uint64_t)json_integer_value(json_object_get(rec, "n"));
    json_decref(rec);
    return ret == HUB_E_NOTFOUND || ret == HUB_E_PARSE ? 0 : ret;
}

static void account_dispose(void *data)
{
    account_data_t *d = data;

    idp_user_apps_free(d->apps, d->n);
}

static int guess_txn(hub_txn_t *txn, void *arg, char *target)
{
    const char *key = arg;
    uint64_t n = 0, exp = 0;
    json_t *rec = NULL;
    int ret;

    if (hub_store_get_json(txn, HUB_T_LOGIN_FAILURES, key, &rec) == 0) {
        n = (uint64_t)json_integer_value(json_object_get(rec, "n"));
        hub_store_expiry(txn, HUB_T_LOGIN_FAILURES, key, strlen(key), &exp);
    }
    json_decref(rec);
    if ((rec = json_pack("{s:I}", "n", (json_int_t)(n + 1))) == NULL)
        hub_oom();
    ret = hub_store_put_json(txn, HUB_T_LOGIN_FAILURES, key, rec, exp != 0 ? exp : hub_now() + GUESS_WINDOW, 0);
    json_decref(rec);
    return ret;
}

/* ---- POST /account/password ---- */

/* The password change, in c's memory: copies of the passwords (cleansed), the Argon2id check and the new hash. */
typedef struct st_pw_job_t {
    char *current, *fresh;
    size_t clen, flen;
    char *stored_hash; /* what the current password was checked against */
    char *new_hash;
    int verified;
    const char *sub, *keep_sid; /* the user and the session that stays (c's) */
    char key[300];              /* the user's count of wrong current passwords */
} pw_job_t;

static void pw_work(void *arg)
{
    pw_job_t *j = arg;

    j->verified = j->stored_hash != NULL && idp_password_verify(j->stored_hash, j->current, j->clen) == 0;
    if (j->verified && idp_password_hash(j->fresh, j->flen, &j->new_hash) != 0)
        j->new_hash = NULL;
}

static void pw_dispose(void *arg)
{
    pw_job_t *j = arg;

    OPENSSL_cleanse(j->current, j->clen);
    OPENSSL_cleanse(j->fresh, j->flen);
    free(j->current);
    free(j->fresh);
    free(j->stored_hash);
    free(j->new_hash);
}

static int pw_change_txn(hub_txn_t *txn, void *arg, char *target)
{
    pw_job_t *j = arg;
    idp_user_t *u = NULL;
    int ret;

    if ((ret = idp_user_get(txn, j->sub, &u)) != 0)
        return ret;
    if (u->password_hash == NULL || strcmp(u->password_hash, j->stored_hash) != 0) {
        idp_user_free(u);
        return HUB_E_BUSY; /* changed meanwhile: the password checked is not the one stored any more */
    }
    free(u->password_hash);
    u->password_hash = hub_strdup(j->new_hash);
    snprintf(target, IDP_AUDIT_TEXT, "%s", u->username);
    /* ends the user's other sessions and their tokens, and tells the clients (idp/revocation.h) */
    ret = idp_user_update(txn, u, j->keep_sid);
    idp_user_free(u);
    return ret;
}

static void pw_changed(idp_creq_t *c, void *arg, int ret)
{
    if (ret == HUB_E_BUSY)
        idp_console_message(c, 409, "Not changed", "Your password was changed elsewhere meanwhile. Nothing was changed.");
    else if (ret != 0)
        idp_console_failed(c, ret, "Not changed", "The password could not be changed right now. Please try again.");
    else
        idp_console_done(c, IDP_CONSOLE_ACCOUNT, "password-changed");
}

/* A wrong current password, counted before the answer says so. */
static void pw_counted(idp_creq_t *c, void *arg, int ret)
{
    idp_invalid_t inv;

    if (ret != 0)
        hub_log_error("account: cannot count a wrong password: %s", hub_strerror(ret));
    hub_log_info("account: %s (%s) gave a wrong current password", c->user->username, c->from);
    idp_invalid(&inv, IDP_FIELD_CURRENT_PASSWORD, "is not your current password");
    account_page(c, 400, &inv);
}

static void pw_done(idp_creq_t *c, void *arg)
{
    pw_job_t *j = arg;

    if (!j->verified)
        idp_console_write(c, guess_txn, j->key, pw_counted);
    else if (j->new_hash == NULL)
        idp_console_failed(c, HUB_E_CRYPTO, "Not changed", "The password could not be changed right now. Please try again.");
    else
        idp_console_change(c, "account.password", pw_change_txn, j, pw_changed);
}

/* The three fields, each once: the new one twice alike and acceptable (idp_password_check, as hubctl checks it). */
static int pw_read(idp_creq_t *c, const char **v, idp_invalid_t *inv)
{
    int ret;

    if ((ret = idp_console_read(c, pw_fields, F__COUNT, 7, v, inv)) != 0)
        return ret;
    if (v[F_CURRENT][0] == '\0')
        return idp_invalid(inv, IDP_FIELD_CURRENT_PASSWORD, "is required");
    if ((ret = idp_password_check(v[F_NEW], strlen(v[F_NEW]), inv)) != 0)
        return ret;
    if (strcmp(v[F_NEW], v[F_AGAIN]) != 0)
        return idp_invalid(inv, IDP_FIELD_PASSWORD_AGAIN, "does not match the new password");
    return 0;
}

static void on_password(idp_creq_t *c)
{
    const char *v[F__COUNT];
    idp_invalid_t inv;
    pw_job_t *j;

    if (pw_read(c, v, &inv) != 0) {
        account_page(c, 400, &inv);
        return;
    }
    if (((const account_data_t *)c->data)->guesses >= MAX_GUESSES) {
        hub_resp_header(c->req, "retry-after", "900");
        idp_console_message(c, 429, "Too many attempts",
                            "The current password was wrong too many times. Please wait a while before trying again.");
        return;
    }
    j = idp_console_alloc(c, sizeof(*j), pw_dispose);
    j->current = hub_xstrndup(v[F_CURRENT], IDP_PASSWORD_MAX);
    j->fresh = hub_strdup(v[F_NEW]);
    j->clen = strlen(j->current);
    j->flen = strlen(j->fresh);
    j->stored_hash = hub_strdup(c->user->password_hash);
    j->sub = c->user->sub;
    j->keep_sid = c->session->sid;
    guess_key(j->key, sizeof(j->key), c->user->sub);
    idp_console_job(c, pw_work, pw_done, j);
}

/* ---- POST /account/revoke ---- */

typedef struct {
    const char *sub, *client_id; /* the signed-in user's (never the form's), the form's */
    size_t revoked;
} revoke_t;

static int revoke_txn(hub_txn_t *txn, void *arg, char *target)
{
    revoke_t *r = arg;
    snprintf(target, IDP_AUDIT_TEXT, "client %s", r->client_id);
    return idp_user_app_revoke(txn, r->sub, r->client_id, &r->revoked);
}

static void revoked(idp_creq_t *c, void *arg, int ret)
{
    if (ret == HUB_E_NOTFOUND)
        idp_console_message(c, 404, "Nothing to revoke", "That app holds no access to your account. Nothing was changed.");
    else if (ret != 0)
        idp_console_failed(c, ret, "Not revoked", "The app's access could not be revoked right now. Please try again.");
    else
        idp_console_done(c, IDP_CONSOLE_ACCOUNT, "app-revoked");
}

static void on_revoke(idp_creq_t *c)
{
    revoke_t *r = idp_console_alloc(c, sizeof(*r), NULL);

    r->sub = c->user->sub;
    if ((r->client_id = idp_console_arg(c, "client_id")) == NULL || r->client_id[0] == '\0')
        idp_console_message(c, 400, "Bad request", "The form does not name one app. Nothing was changed.");
    else
        idp_console_change(c, "account.revoke-app", revoke_txn, r, revoked);
}

/* ---- POST /account/sign-out-everywhere ---- */

static int everywhere_txn(hub_txn_t *txn, void *arg, char *target)
{
    idp_creq_t *c = arg;
    snprintf(target, IDP_AUDIT_TEXT, "%s", c->user->username);
    return idp_user_revoke(txn, c->user->sub, NULL, "signed out everywhere");
}

static void everywhere_done(idp_creq_t *c, void *arg, int ret)
{
    if (ret != 0) {
        idp_console_failed(c, ret, "Not signed out", "Signing out everywhere failed right now. Please try again.");
        return;
    }
    idp_session_clear_cookie(c->idp, c->req);
    hub_send_redirect(c->req, 303, IDP_PATH_LOGIN);
}

static void on_everywhere(idp_creq_t *c)
{
    idp_console_change(c, "account.sign-out-everywhere", everywhere_txn, c, everywhere_done);
}

#define ACCOUNT_DATA account_read, sizeof(account_data_t), account_dispose
static const idp_console_page_t pages[] = {
    {PATH_PASSWORD, 0, NULL, on_password, ACCOUNT_DATA},
    {PATH_REVOKE, 0, NULL, on_revoke},
    {PATH_EVERYWHERE, 0, NULL, on_everywhere},
};

void idp_account_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}

const idp_console_page_t *idp_account_home(void)
{
    static const idp_console_page_t home = {IDP_CONSOLE_ACCOUNT, 0, on_home, NULL, ACCOUNT_DATA};
    return &home;
}
#undef ACCOUNT_DATA
