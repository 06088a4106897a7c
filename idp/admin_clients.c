/* The admin console's OAuth Clients (SPEC §11): the list, the seed's form (App Name, Skip Authorization, Scopes,
 * Redirect URIs separated by ';', Default Redirect URI, Grant Type, Response Type) with the hub's other fields and the
 * Frappe site choice, a new or rotated secret shown once, and deletion. Every change goes through idp/client_edit.h,
 * as hubctl's do: the same rules and messages, and the client cache sees it at once (gen:clients). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/admin_clients.h"
#include "idp/client_edit.h"
#include "idp/node.h"

#define PATH_LIST "/admin/clients"
#define PATH_NEW "/admin/clients/new"
#define PATH_EDIT "/admin/clients/edit"
#define PATH_ROTATE "/admin/clients/rotate-secret"
#define PATH_DELETE "/admin/clients/delete"
#define PAGE_SIZE 50
#define MAX_ID 256

enum {
    F_APP_NAME = 0,
    F_SKIP,
    F_SCOPES,
    F_REDIRECT_URIS,
    F_DEFAULT_REDIRECT,
    F_GRANT,
    F_RESPONSE,
    F_AUTH,
    F_ALLOWED_ROLES,
    F_BACKCHANNEL,
    F_POST_LOGOUT,
    F_FRAPPE_SITE,
    F_SERVICE_ROLES,
    F_INTROSPECT_ANY,
    F__COUNT
};

/* The seed's fields first, with its labels, then the hub's. */
static const idp_form_field_t fields[F__COUNT] = {
    [F_APP_NAME] = {"app_name", "App Name", IDP_FIELD_APP_NAME},
    [F_SKIP] = {"skip_authorization", "Skip Authorization", IDP_FIELD_NONE},
    [F_SCOPES] = {"scopes", "Scopes", IDP_FIELD_SCOPES},
    [F_REDIRECT_URIS] = {"redirect_uris", "Redirect URIs", IDP_FIELD_REDIRECT_URIS},
    [F_DEFAULT_REDIRECT] = {"default_redirect_uri", "Default Redirect URI", IDP_FIELD_DEFAULT_REDIRECT_URI},
    [F_GRANT] = {"grant_type", "Grant Type", IDP_FIELD_GRANT_TYPE},
    [F_RESPONSE] = {"response_type", "Response Type", IDP_FIELD_RESPONSE_TYPE},
    [F_AUTH] = {"auth_method", "Auth Method", IDP_FIELD_AUTH_METHOD},
    [F_ALLOWED_ROLES] = {"allowed_roles", "Allowed Roles", IDP_FIELD_ALLOWED_ROLES},
    [F_BACKCHANNEL] = {"backchannel_logout_uri", "Back-channel Logout URI", IDP_FIELD_BACKCHANNEL_LOGOUT_URI},
    [F_POST_LOGOUT] = {"post_logout_redirect_uris", "Post-logout Redirect URIs", IDP_FIELD_POST_LOGOUT_REDIRECT_URIS},
    [F_FRAPPE_SITE] = {"frappe_site", "Frappe Site", IDP_FIELD_FRAPPE_SITE},
    [F_SERVICE_ROLES] = {"service_roles", "Service Roles", IDP_FIELD_SERVICE_ROLES},
    [F_INTROSPECT_ANY] = {"introspect_any", "Introspect Any Token", IDP_FIELD_INTROSPECT_ANY},
};
#define CHECKBOXES ((1ul << F_SKIP) | (1ul << F_INTROSPECT_ANY))
#define REQUIRED (((1ul << F__COUNT) - 1) & ~CHECKBOXES) /* every text field and select is posted, empty or not */

/* What each field sets (idp/client_edit.h); a checkbox sets `what` when checked and `no` when not. */
static const struct {
    idp_cedit_t what, no;
} edits[F__COUNT] = {
    [F_APP_NAME] = {IDP_CEDIT_APP_NAME, IDP_CEDIT__COUNT},
    [F_SKIP] = {IDP_CEDIT_SKIP, IDP_CEDIT_NO_SKIP},
    [F_SCOPES] = {IDP_CEDIT_SCOPES, IDP_CEDIT__COUNT},
    [F_REDIRECT_URIS] = {IDP_CEDIT_REDIRECT_URIS, IDP_CEDIT__COUNT},
    [F_DEFAULT_REDIRECT] = {IDP_CEDIT_DEFAULT_REDIRECT, IDP_CEDIT__COUNT},
    [F_GRANT] = {IDP_CEDIT_GRANT, IDP_CEDIT__COUNT},
    [F_RESPONSE] = {IDP_CEDIT_RESPONSE, IDP_CEDIT__COUNT},
    [F_AUTH] = {IDP_CEDIT_AUTH, IDP_CEDIT__COUNT},
    [F_ALLOWED_ROLES] = {IDP_CEDIT_ALLOWED_ROLES, IDP_CEDIT__COUNT},
    [F_BACKCHANNEL] = {IDP_CEDIT_BACKCHANNEL, IDP_CEDIT__COUNT},
    [F_POST_LOGOUT] = {IDP_CEDIT_POST_LOGOUT, IDP_CEDIT__COUNT},
    [F_FRAPPE_SITE] = {IDP_CEDIT_FRAPPE_SITE, IDP_CEDIT_NO_FRAPPE_SITE},
    [F_SERVICE_ROLES] = {IDP_CEDIT_SERVICE_ROLES, IDP_CEDIT__COUNT},
    [F_INTROSPECT_ANY] = {IDP_CEDIT_INTROSPECT_ANY, IDP_CEDIT_NO_INTROSPECT_ANY},
};

static const char *const grant_options[] = {"authorization_code", "Authorization Code", "implicit", "Implicit",
                                            "client_credentials", "Client Credentials", NULL};
static const char *const response_options[] = {"code", "Code", "token", "Token", NULL};
static const char *const auth_options[] = {"client_secret_basic",
                                           "Client Secret Basic (HTTP Basic)",
                                           "client_secret_post",
                                           "Client Secret Post (form body)",
                                           "none",
                                           "None (a public client, with PKCE)",
                                           NULL};

static const char *const hints[F__COUNT] = {
    [F_SKIP] = "If this is checked, signing in to this app shows no confirmation page.",
    [F_SCOPES] = "Scopes shown to the user on the confirmation page, separated by ;",
    [F_REDIRECT_URIS] = "Redirect URIs separated by ;",
    [F_DEFAULT_REDIRECT] = "One of the Redirect URIs; empty: the first one.",
    [F_RESPONSE] = "Authorization Code pairs with Code, Implicit with Token; Client Credentials ignores it.",
    [F_ALLOWED_ROLES] = "Only users holding one of these roles may sign in, separated by ; (empty: every user).",
    [F_BACKCHANNEL] = "Where the hub posts a logout token when a user's session ends (empty: none).",
    [F_POST_LOGOUT] = "Where the app may send users after signing out, separated by ;",
    [F_FRAPPE_SITE] = "The URL of a Frappe site whose stock \"Frappe\" Social Login Key points at this hub: fills in its two "
                      "login redirect URIs, Authorization Code, Code and Client Secret Post, and gives scope openid the "
                      "meaning Frappe gives it. Empty: not a Frappe site.",
    [F_SERVICE_ROLES] = "The roles of a Client Credentials client's own tokens, separated by ;",
    [F_INTROSPECT_ANY] = "A resource server that may introspect tokens issued to other clients.",
};

/* ---- the form ---- */

/* v[] from a stored client (lists joined with ';', as the seed's form shows them), strings in the request's pool. */
static void values_of(h2o_req_t *req, const idp_client_t *cl, const char **v)
{
    const idp_strv_t *lists[F__COUNT] = {[F_SCOPES] = &cl->scopes,
                                         [F_REDIRECT_URIS] = &cl->redirect_uris,
                                         [F_ALLOWED_ROLES] = &cl->allowed_roles,
                                         [F_POST_LOGOUT] = &cl->post_logout_redirect_uris,
                                         [F_SERVICE_ROLES] = &cl->service_roles};

    for (size_t i = 0; i != F__COUNT; ++i) {
        v[i] = NULL;
        if (lists[i] != NULL) {
            char *s = idp_strv_join(lists[i], ";");
            v[i] = h2o_strdup(&req->pool, s, SIZE_MAX).base;
            free(s);
        }
    }
    v[F_APP_NAME] = cl->app_name;
    v[F_SKIP] = cl->skip_authorization ? "1" : NULL;
    v[F_DEFAULT_REDIRECT] = cl->default_redirect_uri;
    v[F_GRANT] = idp_grant_type_name(cl->grant_type);
    v[F_RESPONSE] = idp_response_type_name(cl->response_type);
    v[F_AUTH] = idp_auth_method_name(cl->auth_method);
    v[F_BACKCHANNEL] = cl->backchannel_logout_uri;
    v[F_FRAPPE_SITE] = cl->frappe_site;
    v[F_INTROSPECT_ANY] = cl->introspect_any ? "1" : NULL;
}

static void field(hub_page_t *p, size_t i, const char **v, const idp_invalid_t *inv)
{
    static const idp_input_t types[F__COUNT] = {[F_REDIRECT_URIS] = IDP_INPUT_TEXTAREA,
                                                [F_POST_LOGOUT] = IDP_INPUT_TEXTAREA,
                                                [F_DEFAULT_REDIRECT] = IDP_INPUT_URL,
                                                [F_BACKCHANNEL] = IDP_INPUT_URL,
                                                [F_FRAPPE_SITE] = IDP_INPUT_URL};
    static const char *const *options[F__COUNT] = {
        [F_GRANT] = grant_options, [F_RESPONSE] = response_options, [F_AUTH] = auth_options};

    if ((CHECKBOXES >> i) & 1)
        idp_console_checkbox(p, &fields[i], v[i] != NULL, hints[i], inv);
    else if (options[i] != NULL)
        idp_console_select(p, &fields[i], options[i], v[i], hints[i], inv);
    else
        idp_console_input(p, &fields[i], types[i], v[i], hints[i], inv,
                          i == F_APP_NAME ? "required maxlength=\"256\" autocomplete=\"off\"" : "spellcheck=\"false\"");
}

static void fieldset(hub_page_t *p, const char *legend, size_t from, size_t to, const char **v, const idp_invalid_t *inv)
{
    hub_page_printf(p, "<fieldset><legend>%s</legend>\n", legend);
    for (size_t i = from; i != to; ++i)
        field(p, i, v, inv);
    hub_page_raw(p, "</fieldset>\n");
}

/* The form (new when client_id is NULL) with the values v and the refusal inv (may be NULL). */
static void form_page(idp_creq_t *c, int status, const char *client_id, const char **v, const idp_invalid_t *inv)
{
    hub_page_t p;

    idp_console_begin(c, &p, client_id == NULL ? "New OAuth Client" : "OAuth Client", PATH_LIST);
    if (inv != NULL)
        idp_console_problem(&p, inv, fields, F__COUNT);
    idp_console_form(c, &p, client_id == NULL ? PATH_NEW : PATH_EDIT);
    if (client_id != NULL) {
        hub_page_raw(&p, "<p>Client ID: <code id=\"client-id\">");
        hub_page_text(&p, client_id);
        hub_page_raw(&p, "</code></p>\n<input type=\"hidden\" name=\"client_id\" value=\"");
        hub_page_text(&p, client_id);
        hub_page_raw(&p, "\">\n");
    }
    fieldset(&p, "OAuth Client", F_APP_NAME, F_AUTH, v, inv);
    fieldset(&p, "Sign-in and sign-out", F_AUTH, F_FRAPPE_SITE, v, inv);
    fieldset(&p, "Frappe site", F_FRAPPE_SITE, F_SERVICE_ROLES, v, inv);
    fieldset(&p, "Services", F_SERVICE_ROLES, F__COUNT, v, inv);
    hub_page_printf(&p,
                    "<div class=\"actions\"><button type=\"submit\">%s</button> <a class=\"button secondary\" href=\"%s\">"
                    "Cancel</a></div>\n</form>\n",
                    client_id == NULL ? "Create client" : "Save", PATH_LIST);
    if (client_id != NULL) {
        hub_page_raw(&p, "<section class=\"card\"><h2>Secret and deletion</h2><div class=\"actions\">\n");
        idp_console_button(c, &p, PATH_ROTATE, "client_id", client_id, "Rotate secret", "secondary");
        idp_console_button(c, &p, PATH_DELETE, "client_id", client_id, "Delete client", "danger");
        hub_page_raw(&p, "</div></section>\n");
    }
    idp_console_end(c, &p, status);
}

/* The client's id and secret after a change that made a secret (shown this once). */
static void secret_page(idp_creq_t *c, const char *title, const idp_client_t *cl, const char *secret)
{
    hub_page_t p;

    idp_console_begin(c, &p, title, PATH_LIST);
    hub_page_raw(&p, "<section class=\"card\"><dl class=\"props\"><dt>App Name</dt><dd id=\"app-name\">");
    hub_page_text(&p, cl->app_name);
    hub_page_raw(&p, "</dd><dt>Client ID</dt><dd><code id=\"client-id\">");
    hub_page_text(&p, cl->client_id);
    hub_page_raw(&p, "</code></dd></dl></section>\n");
    if (secret[0] != '\0')
        idp_console_secret(&p, "Client Secret", secret);
    hub_page_raw(&p, "<div class=\"actions\"><a class=\"button\" href=\"" PATH_EDIT "?id=");
    hub_page_text(&p, hub_url_encode(&c->req->pool, cl->client_id, strlen(cl->client_id)).base);
    hub_page_raw(&p, "\">Edit the client</a> <a class=\"button secondary\" href=\"" PATH_LIST "\">All clients</a></div>\n");
    idp_console_end(c, &p, 200);
}

/* ---- the list ---- */

/* A row of the list, copied out of the read. */
typedef struct {
    char *client_id, *app_name;
    idp_grant_type_t grant;
    idp_auth_method_t auth;
    int enabled, node, frappe_site;
} row_t;

/* The page of clients after the query's "after", read with the gate: at most PAGE_SIZE rows, and whether more follow. */
typedef struct {
    row_t rows[PAGE_SIZE];
    size_t n;
    int more;
} list_t;

static int list_row(void *arg, const idp_client_t *cl)
{
    list_t *l = arg;
    row_t *r = &l->rows[l->n];

    if (l->n == PAGE_SIZE) {
        l->more = 1; /* one more exists: a next page */
        return 1;
    }
    *r = (row_t){hub_strdup(cl->client_id),
                 hub_strdup(cl->app_name != NULL ? cl->app_name : ""),
                 cl->grant_type,
                 cl->auth_method,
                 cl->enabled,
                 cl->node_id != NULL,
                 cl->frappe_site != NULL};
    ++l->n;
    return 0;
}

static int list_read(hub_txn_t *txn, idp_creq_t *c)
{
    const char *after = idp_console_arg(c, "after");
    int ret;

    if (after != NULL && (after[0] == '\0' || strlen(after) > MAX_ID))
        after = NULL;
    return (ret = idp_client_each_after(txn, after, list_row, c->data)) == 1 ? 0 : ret;
}

static void list_dispose(void *data)
{
    list_t *l = data;

    for (size_t i = 0; i != l->n; ++i) {
        free(l->rows[i].client_id);
        free(l->rows[i].app_name);
    }
}

static void list_html(idp_creq_t *c, hub_page_t *p, const row_t *r)
{
    hub_page_raw(p, "<tr><td><a href=\"" PATH_EDIT "?id=");
    hub_page_text(p, hub_url_encode(&c->req->pool, r->client_id, strlen(r->client_id)).base);
    hub_page_raw(p, "\">");
    hub_page_text(p, r->app_name[0] != '\0' ? r->app_name : "(no name)");
    hub_page_raw(p, "</a></td><td><code>");
    hub_page_text(p, r->client_id);
    hub_page_raw(p, "</code></td><td>");
    hub_page_text(p, idp_grant_type_name(r->grant));
    hub_page_raw(p, "</td><td>");
    hub_page_text(p, idp_auth_method_name(r->auth));
    hub_page_printf(p, "</td><td>%s%s%s</td></tr>\n",
                    r->enabled ? "<span class=\"badge\">enabled</span>" : "<span class=\"badge off\">disabled</span>",
                    r->node ? " <span class=\"badge\">node</span>" : "",
                    r->frappe_site ? " <span class=\"badge\">Frappe site</span>" : "");
}

static void on_list(idp_creq_t *c)
{
    const list_t *l = c->data;
    hub_page_t p;

    idp_console_begin(c, &p, "OAuth Clients", PATH_LIST);
    hub_page_raw(&p, "<div class=\"actions\"><a class=\"button\" id=\"new-client\" href=\"" PATH_NEW "\">New client</a></div>\n"
                     "<div class=\"table-wrap\"><table id=\"clients\"><thead><tr><th scope=\"col\">App Name</th>"
                     "<th scope=\"col\">Client ID</th><th scope=\"col\">Grant Type</th><th scope=\"col\">Auth Method</th>"
                     "<th scope=\"col\">State</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i != l->n; ++i)
        list_html(c, &p, &l->rows[i]);
    hub_page_raw(&p, "</tbody></table></div>\n");
    if (l->n == 0)
        hub_page_raw(&p, "<p>No clients yet.</p>\n");
    if (l->more) {
        const char *last = l->rows[l->n - 1].client_id;
        hub_page_raw(&p, "<nav class=\"pager\" aria-label=\"Pages\"><a id=\"next-page\" href=\"" PATH_LIST "?after=");
        hub_page_text(&p, hub_url_encode(&c->req->pool, last, strlen(last)).base);
        hub_page_raw(&p, "\">Next page</a></nav>\n");
    }
    idp_console_end(c, &p, 200);
}

/* ---- new, edit ---- */

static void on_new_get(idp_creq_t *c)
{
    idp_client_t *cl = idp_client_new();
    const char *v[F__COUNT];

    values_of(c->req, cl, v);
    v[F_APP_NAME] = NULL;
    form_page(c, 200, NULL, v, NULL);
    idp_client_free(cl);
}

/* The client a page names (GET: the query's "id", POST: the form's "client_id"), read with the gate: NULL when there is
 * no such client. */
typedef struct {
    idp_client_t *cl;
} one_t;

static int one_read(hub_txn_t *txn, idp_creq_t *c)
{
    const char *id = idp_console_arg(c, c->post ? "client_id" : "id");
    one_t *o = c->data;
    int ret;

    if (id == NULL || strlen(id) > MAX_ID || (ret = idp_client_get(txn, id, &o->cl)) == HUB_E_NOTFOUND || ret == HUB_E_PARSE) {
        o->cl = NULL;
        return 0;
    }
    return ret;
}

static void one_dispose(void *data)
{
    idp_client_free(((one_t *)data)->cl);
}

/* The client read, or NULL after a 404 page. */
static const idp_client_t *one(idp_creq_t *c)
{
    const one_t *o = c->data;

    if (o->cl == NULL)
        idp_console_message(c, 404, "No such client", "There is no client with that ID.");
    return o->cl;
}

static void on_edit_get(idp_creq_t *c)
{
    const idp_client_t *cl = one(c);
    const char *v[F__COUNT];

    if (cl == NULL)
        return;
    values_of(c->req, cl, v);
    form_page(c, 200, cl->client_id, v, NULL);
}

/* A save: the form's values (c's memory), the edit they make, and what the change wrote. */
typedef struct {
    const char *v[F__COUNT];
    idp_client_edit_t edit;
    const char *id;
    idp_client_t *written;
    char secret[IDP_CLIENT_SECRET_LEN + 1];
    idp_invalid_t inv;
} save_t;

static void save_dispose(void *ptr)
{
    save_t *s = ptr;

    OPENSSL_cleanse(s->secret, sizeof(s->secret));
    idp_client_free(s->written);
    idp_client_edit_dispose(&s->edit);
}

static int save_txn(hub_txn_t *txn, void *arg, char *target)
{
    save_t *s = arg;
    int ret;

    idp_client_free(s->written);
    s->written = NULL;
    if ((ret = idp_client_edit_save(txn, &s->edit, s->id, &s->written, s->secret, &s->inv)) == 0)
        snprintf(target, IDP_AUDIT_TEXT, "client %s (%s)", s->written->client_id, s->written->app_name);
    return ret;
}
/* The edit the form asks for: every field's value set (a checkbox's either way), but the grant type, response type and
 * auth method of a Frappe site, which the site's stock key fixes. 0, or HUB_E_INVAL with *inv. */
static int edit_of(const char **v, int had_frappe_site, idp_client_edit_t *e, idp_invalid_t *inv)
{
    int site = v[F_FRAPPE_SITE] != NULL && v[F_FRAPPE_SITE][0] != '\0', ret = 0;

    for (size_t i = 0; i != F__COUNT; ++i) {
        int on = v[i] != NULL && v[i][0] != '\0';
        if (site && (i == F_GRANT || i == F_RESPONSE || i == F_AUTH))
            continue; /* a Frappe site's are its stock key's (idp_client_set_frappe_site), as with hubctl's --frappe-site */
        if ((CHECKBOXES >> i) & 1)
            ret = idp_client_edit_set(e, on ? edits[i].what : edits[i].no, "", inv);
        else if (i == F_FRAPPE_SITE)
            ret = on                ? idp_client_edit_set(e, edits[i].what, v[i], inv)
                  : had_frappe_site ? idp_client_edit_set(e, edits[i].no, "", inv)
                                    : 0;
        else
            ret = idp_client_edit_set(e, edits[i].what, v[i], inv);
        if (ret != 0)
            return ret;
    }
    return 0;
}

static void saved(idp_creq_t *c, void *arg, int ret)
{
    save_t *s = arg;
    char path[sizeof(PATH_EDIT) + 3 * MAX_ID + 8];

    if (ret == HUB_E_INVAL || ret == HUB_E_NOTFOUND) {
        form_page(c, 400, s->id, s->v, &s->inv);
    } else if (ret != 0) {
        idp_console_failed(c, ret, "Not saved", "The client could not be saved right now. Please try again.");
    } else if (s->secret[0] != '\0' || s->id == NULL) {
        secret_page(c, s->id == NULL ? "Client created" : "Client saved", s->written, s->secret);
    } else {
        snprintf(path, sizeof(path), PATH_EDIT "?id=%s", hub_url_encode(&c->req->pool, s->id, strlen(s->id)).base);
        idp_console_done(c, path, "client-saved");
    }
}

/* Saves the form to client id (NULL: a new client). */
static void save(idp_creq_t *c, const char *id, int had_frappe_site)
{
    save_t *s = idp_console_alloc(c, sizeof(*s), save_dispose);

    s->id = id;
    idp_client_edit_init(&s->edit);
    if (idp_console_read(c, fields, F__COUNT, REQUIRED, s->v, &s->inv) != 0 ||
        edit_of(s->v, had_frappe_site, &s->edit, &s->inv) != 0)
        form_page(c, 400, id, s->v, &s->inv);
    else
        idp_console_change(c, id == NULL ? "client.create" : "client.update", save_txn, s, saved);
}

static void on_new_post(idp_creq_t *c)
{
    save(c, NULL, 0);
}

static void on_edit_post(idp_creq_t *c)
{
    const idp_client_t *cl = one(c);

    if (cl != NULL)
        save(c, cl->client_id, cl->frappe_site != NULL);
}

/* ---- rotate, delete ---- */

typedef struct {
    const idp_client_t *cl;
    char secret[IDP_CLIENT_SECRET_LEN + 1];
    idp_invalid_t inv;
} by_id_t;

static void by_id_dispose(void *ptr)
{
    OPENSSL_cleanse(((by_id_t *)ptr)->secret, IDP_CLIENT_SECRET_LEN + 1);
}

static int rotate_txn(hub_txn_t *txn, void *arg, char *target)
{
    by_id_t *b = arg;
    snprintf(target, IDP_AUDIT_TEXT, "client %s", b->cl->client_id);
    return idp_client_rotate_secret(txn, b->cl->client_id, b->secret, &b->inv);
}

static int delete_txn(hub_txn_t *txn, void *arg, char *target)
{
    by_id_t *b = arg;
    snprintf(target, IDP_AUDIT_TEXT, "client %s", b->cl->client_id);
    return idp_client_edit_remove(txn, b->cl->client_id, &b->inv);
}

/* A refusal of rotate or delete as a page: 404 for no such client, 409 for one that cannot (no secret). */
static void refused(idp_creq_t *c, int ret, const idp_invalid_t *inv)
{
    if (ret == HUB_E_NOTFOUND || ret == HUB_E_INVAL)
        idp_console_message(c, ret == HUB_E_NOTFOUND ? 404 : 409, "Not done", inv->text);
    else
        idp_console_failed(c, ret, "Not done", "The change could not be made right now. Please try again.");
}

static void rotated(idp_creq_t *c, void *arg, int ret)
{
    by_id_t *b = arg;

    if (ret != 0)
        refused(c, ret, &b->inv);
    else
        secret_page(c, "New client secret", b->cl, b->secret);
}

static void on_rotate(idp_creq_t *c)
{
    by_id_t *b = idp_console_alloc(c, sizeof(*b), by_id_dispose);

    if ((b->cl = one(c)) != NULL)
        idp_console_change(c, "client.rotate-secret", rotate_txn, b, rotated);
}

static void deleted(idp_creq_t *c, void *arg, int ret)
{
    by_id_t *b = arg;

    if (ret != 0)
        refused(c, ret, &b->inv);
    else
        idp_console_done(c, PATH_LIST, "client-deleted");
}

static void on_delete(idp_creq_t *c)
{
    by_id_t *b = idp_console_alloc(c, sizeof(*b), by_id_dispose);
    char text[IDP_AUDIT_TEXT + 128], back[sizeof(PATH_EDIT) + 3 * MAX_ID + 8];
    const idp_client_t *cl;

    if ((b->cl = cl = one(c)) == NULL)
        return;
    snprintf(text, sizeof(text), "Delete the client \"%s\"? Every token issued to it is revoked%s. This cannot be undone.",
             cl->app_name != NULL ? cl->app_name : cl->client_id, cl->node_id != NULL ? " and its node is revoked" : "");
    snprintf(back, sizeof(back), PATH_EDIT "?id=%s", hub_url_encode(&c->req->pool, cl->client_id, strlen(cl->client_id)).base);
    if (idp_console_confirmed(c, "Delete client", text, PATH_DELETE, "client_id", cl->client_id, "Delete client", back))
        idp_console_change(c, "client.delete", delete_txn, b, deleted);
}

/* A path before any prefix of it: h2o gives a request to the first route registered whose path is a prefix of its own. */
static const idp_console_page_t pages[] = {
    {PATH_NEW, 1, on_new_get, on_new_post},
    {PATH_EDIT, 1, on_edit_get, on_edit_post, one_read, sizeof(one_t), one_dispose},
    {PATH_ROTATE, 1, NULL, on_rotate, one_read, sizeof(one_t), one_dispose},
    {PATH_DELETE, 1, NULL, on_delete, one_read, sizeof(one_t), one_dispose},
    {PATH_LIST, 1, on_list, NULL, list_read, sizeof(list_t), list_dispose},
};

void idp_admin_clients_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
