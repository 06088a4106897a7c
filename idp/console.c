/* The consoles' shared machinery: pages as routes behind one gate (session, the user read again, the role, the form and
 * its CSRF token), the frame, form fields with their messages, audited changes and jobs on the worker pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/form.h"
#include "hub/resp.h"
#include "hub/route.h"
#include "hub/server.h"
#include "hub/style.h"
#include "hub/workpool.h"
#include "idp/console.h"
#include "idp/csrf.h"
#include "idp/endpoint.h"
#include "idp/role.h"
#include "hub/util.h"

/* A route's data: the page it serves; prefix: "/admin/" itself only, the router's 404 under it. */
typedef struct st_route_data_t {
    idp_t *idp;
    idp_console_page_t page;
    int prefix;
} route_data_t;

/* The admin console's sections, in the order of its nav. */
static const struct {
    const char *path, *label;
} sections[] = {
    {IDP_CONSOLE_ADMIN, "Overview"},     {"/admin/settings", "Provider Settings"},
    {"/admin/clients", "OAuth Clients"}, {"/admin/users", "Users"},
    {"/admin/roles", "Roles"},           {"/admin/nodes", "Nodes"},
    {"/admin/keys", "Signing Keys"},     {"/admin/audit", "Audit Log"},
};

/* What a change's redirect says on the next page (the query names the code, never the text). */
static const struct {
    const char *code, *text;
} flashes[] = {
    {"settings", "The OAuth Provider Settings were saved. They apply to the next authorization."},
    {"client-saved", "The client was saved. It applies at once."},
    {"client-deleted", "The client was deleted; every token issued to it is revoked."},
    {"user-saved", "The user was saved."},
    {"user-enabled", "The user was enabled."},
    {"user-disabled", "The user was disabled: their sessions ended and their tokens are revoked."},
    {"user-deleted", "The user was deleted: their sessions ended and their tokens are revoked."},
    {"password-set", "The password was set: the user's sessions ended and their tokens are revoked."},
    {"roles-saved", "The roles were saved."},
    {"role-added", "The role was added."},
    {"role-deleted", "The role was deleted; the users who held it lost it."},
    {"node-revoked", "The node was revoked: its client is disabled and its tokens are revoked."},
    {"key-rotated", "A next key is published; it signs once the JWKS has served it for publish_ahead."},
    {"key-retired", "The key was retired."},
    {"key-revoked", "The key was revoked: it left the JWKS, a new key signs, and the nodes were told."},
    {"app-revoked", "The app's access was revoked: its refresh tokens no longer work."},
    {"password-changed", "Your password was changed. Your other sessions were signed out."},
};

/* ---- the request ---- */

static idp_creq_t *creq_new(idp_t *idp, h2o_req_t *req, const idp_console_page_t *page)
{
    idp_creq_t *c = hub_xcalloc(1, sizeof(*c));
    c->idp = idp;
    c->req = req;
    c->page = page;
    c->refs = 1; /* the gate's */
    h2o_mem_init_pool(&c->pool);
    return c;
}

/* Drops one reference (the gate's, or a step's that ended); the last frees c and what its memory holds. */
static void creq_release(idp_creq_t *c)
{
    if (--c->refs != 0)
        return;
    h2o_mem_clear_pool(&c->pool);
    idp_session_free(c->session);
    idp_user_free(c->user);
    free(c);
}

void *idp_console_alloc(idp_creq_t *c, size_t size, void (*dispose)(void *ptr))
{
    void *p = h2o_mem_alloc_shared(&c->pool, size, dispose);

    memset(p, 0, size);
    return p;
}

/* 302 to the sign-in page, which brings the browser back here. */
static void to_sign_in(h2o_req_t *req)
{
    h2o_iovec_t next = hub_url_encode(&req->pool, req->path.base, req->path.len);
    char *loc = h2o_mem_alloc_pool(&req->pool, sizeof(IDP_PATH_LOGIN "?next=") + next.len);

    memcpy(loc, IDP_PATH_LOGIN "?next=", sizeof(IDP_PATH_LOGIN "?next=") - 1);
    memcpy(loc + sizeof(IDP_PATH_LOGIN "?next=") - 1, next.base, next.len + 1);
    hub_send_redirect(req, 302, loc);
}

/* The form into c's memory: a POST's body (bounded, a form), a GET's query. 0, or the status it gets (answered once the
 * gate knows who asks: a stranger is sent to sign in whatever they posted). */
static int read_input(idp_creq_t *c)
{
    int ret;

    if (!c->post)
        return hub_form_parse_query(&c->pool, c->req, &c->form) == 0 ? 0 : 400;
    if (c->req->entity.len > IDP_CONSOLE_MAX_BODY || (ret = hub_form_parse_body(&c->pool, c->req, &c->form)) == HUB_E_TOOBIG)
        return 413;
    return ret == 0 ? 0 : 400;
}

static void input_refused(idp_creq_t *c)
{
    if (c->input == 413)
        idp_console_message(c, 413, "Form too large", "The form is larger than this page accepts. Nothing was changed.");
    else
        idp_console_message(c, 400, "Bad request",
                            c->post ? "The form could not be read. Nothing was changed." : "The address could not be read.");
}

int idp_console_allowed(hub_txn_t *txn, const idp_creq_t *c)
{
    idp_session_t *s = NULL;
    idp_user_t *u = NULL;
    int ret = idp_session_lookup(txn, c->session_hash, &s, &u);

    if (ret == 0 && (s == NULL || strcmp(u->sub, c->user->sub) != 0))
        ret = HUB_E_NOTFOUND;
    else if (ret == 0 && c->page->admin_only && !idp_strv_has(&u->roles, IDP_ROLE_SYSTEM_MANAGER))
        ret = HUB_E_DENIED;
    idp_session_free(s);
    idp_user_free(u);
    return ret;
}

/* The gate's read, on the store's readers: the session and its user, then what the page shows when it may run. */
static int gate_txn(hub_txn_t *txn, void *arg)
{
    idp_creq_t *c = arg;
    int ret;

    if ((ret = idp_session_lookup(txn, c->session_hash, &c->session, &c->user)) != 0 || c->session == NULL)
        return ret;
    c->admin = idp_strv_has(&c->user->roles, IDP_ROLE_SYSTEM_MANAGER);
    if ((c->page->admin_only && !c->admin) || c->input != 0 || c->page->read == NULL)
        return 0;
    return c->page->read(txn, c);
}

static void not_admin(idp_creq_t *c)
{
    hub_log_info("console: %s (%s) was refused %s: not a System Manager", c->user->username, c->from, c->page->path);
    idp_console_message(c, 403, "Not allowed", "This page is for System Managers only.");
}

/* The gate of SPEC §11 on what its read found, then the page's handler. */
static void gate(idp_creq_t *c, int ret)
{
    if (ret != 0) {
        idp_console_failed(c, ret, "Unavailable", "This page cannot be shown right now. Please try again.");
        return;
    }
    if (c->session == NULL) {
        to_sign_in(c->req);
        return;
    }
    c->csrf = idp_csrf_token(c->idp, c->req, c->session, IDP_CSRF_CONSOLE);
    if (c->page->admin_only && !c->admin)
        not_admin(c);
    else if (c->input != 0)
        input_refused(c);
    else if (c->post && !idp_csrf_ok(c->idp, c->req, c->session, IDP_CSRF_CONSOLE, &c->form))
        idp_console_message(c, 403, "Form expired",
                            "This form has expired or did not come from this site. Nothing was changed; please try again.");
    else
        (c->post ? c->page->post : c->page->get)(c);
}

static void on_gated(void *arg, int ret)
{
    idp_creq_t *c = arg;

    if ((c->req = hub_park_resume(&c->park, ret)) != NULL)
        gate(c, ret);
    creq_release(c);
}

static int on_console(void *data, h2o_req_t *req)
{
    route_data_t *d = data;
    idp_creq_t *c;
    int ret;

    if (d->prefix && !h2o_memis(req->path_normalized.base, req->path_normalized.len, d->page.path, strlen(d->page.path)))
        return 1; /* nothing under it: the router's 404 */
    c = creq_new(d->idp, req, &d->page);
    c->post = hub_method_is(req, "POST");
    c->input = read_input(c);
    hub_req_peer(req, c->from, sizeof(c->from));
    if (!idp_session_cookie_hash(c->idp, req, c->session_hash)) {
        to_sign_in(req); /* no session cookie: nothing to read */
        creq_release(c);
        return 0;
    }
    if (d->page.data_size != 0)
        c->data = idp_console_alloc(c, d->page.data_size, d->page.data_dispose);
    c->req = NULL;
    if ((ret = hub_park_read(&c->park, req, gate_txn, c, on_gated)) != 0) {
        c->req = req;
        idp_console_failed(c, ret, "Unavailable", "This page cannot be shown right now. Please try again.");
        creq_release(c);
    }
    return 0; /* on_gated answers (it may have already) */
}

/* ---- routes ---- */

static void add_route(idp_t *idp, const idp_console_page_t *page, hub_match_t match)
{
    route_data_t *d = hub_xcalloc(1, sizeof(*d));
    hub_route_t route = {page->path, NULL, 0, match, HUB_STYLE_HTML, NULL};

    d->idp = idp;
    d->page = *page;
    d->prefix = match == HUB_MATCH_PREFIX;
    route.methods = (page->get != NULL ? HUB_GET | HUB_HEAD : 0) | (page->post != NULL ? HUB_POST : 0);
    hub_server_add_route(idp->server, &route, on_console, d, free);
}

void idp_console_add(idp_t *idp, const idp_console_page_t *pages, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        add_route(idp, &pages[i], HUB_MATCH_EXACT);
}

static int on_style(void *data, h2o_req_t *req)
{
    hub_style_send(req);
    return 0;
}

static int on_slash(void *data, h2o_req_t *req)
{
    hub_send_redirect(req, 302, data);
    return 0;
}

void idp_console_register_tail(idp_t *idp, const idp_console_page_t *admin_home, const idp_console_page_t *account_home)
{
    /* the style sheet and the redirects to the folders come from memory: served while the store is away */
    static const hub_route_t style = {HUB_STYLE_PATH, NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT,
                                      HUB_STYLE_HTML, NULL, HUB_NEEDS_MEMORY};
    static const hub_route_t admin = {"/admin", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_HTML, NULL, HUB_NEEDS_MEMORY};
    static const hub_route_t account = {"/account",     NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT,
                                        HUB_STYLE_HTML, NULL, HUB_NEEDS_MEMORY};

    hub_server_add_route(idp->server, &style, on_style, NULL, NULL);
    add_route(idp, admin_home, HUB_MATCH_PREFIX);
    add_route(idp, account_home, HUB_MATCH_PREFIX);
    /* after the folders: h2o gives a path to the first route registered that is a prefix of it */
    hub_server_add_route(idp->server, &admin, on_slash, (void *)IDP_CONSOLE_ADMIN, NULL);
    hub_server_add_route(idp->server, &account, on_slash, (void *)IDP_CONSOLE_ACCOUNT, NULL);
}

/* ---- the frame ---- */

static void top_bar(idp_creq_t *c, hub_page_t *p)
{
    hub_page_raw(p, "<a class=\"skip\" href=\"#main\">Skip to content</a>\n<header class=\"top\">\n"
                    "<a class=\"brand\" href=\"" IDP_CONSOLE_ACCOUNT
                    "\">Hub</a>\n<span class=\"who\">Signed in as <strong id=\"who\">");
    hub_page_text(p, c->user->username);
    hub_page_raw(p, "</strong></span>\n<a href=\"" IDP_CONSOLE_ACCOUNT "\">Account</a>\n");
    if (c->admin)
        hub_page_raw(p, "<a href=\"" IDP_CONSOLE_ADMIN "\">Admin</a>\n");
    hub_page_raw(p, "<form method=\"post\" action=\"" IDP_PATH_LOGOUT "\"><input type=\"hidden\" name=\"csrf_token\" value=\"");
    hub_page_text(p, idp_csrf_token(c->idp, c->req, c->session, IDP_CSRF_LOGOUT));
    hub_page_raw(p, "\"><button type=\"submit\" name=\"decision\" value=\"yes\">Sign out</button></form>\n</header>\n");
}

static void admin_nav(hub_page_t *p, const char *current)
{
    hub_page_raw(p, "<nav class=\"tabs\" aria-label=\"Admin console\">\n");
    for (size_t i = 0; i != sizeof(sections) / sizeof(sections[0]); ++i)
        hub_page_printf(p, "<a href=\"%s\"%s>%s</a>\n", sections[i].path,
                        strcmp(sections[i].path, current) == 0 ? " aria-current=\"page\"" : "", sections[i].label);
    hub_page_raw(p, "</nav>\n");
}

static const char *flash_text(idp_creq_t *c)
{
    const char *code = hub_method_is(c->req, "POST") ? NULL : idp_console_arg(c, "flash");

    for (size_t i = 0; code != NULL && i != sizeof(flashes) / sizeof(flashes[0]); ++i)
        if (strcmp(flashes[i].code, code) == 0)
            return flashes[i].text;
    return NULL;
}

void idp_console_begin(idp_creq_t *c, hub_page_t *p, const char *title, const char *current)
{
    const char *flash;

    hub_page_begin(p, c->req, title);
    top_bar(c, p);
    if (current != NULL && c->admin && strncmp(current, IDP_CONSOLE_ADMIN, sizeof(IDP_CONSOLE_ADMIN) - 1) == 0)
        admin_nav(p, current);
    hub_page_raw(p, "<main id=\"main\">\n<h1>");
    hub_page_text(p, title);
    hub_page_raw(p, "</h1>\n");
    if ((flash = flash_text(c)) != NULL) {
        hub_page_raw(p, "<p class=\"flash\" role=\"status\" id=\"flash\">");
        hub_page_text(p, flash);
        hub_page_raw(p, "</p>\n");
    }
}

void idp_console_end(idp_creq_t *c, hub_page_t *p, int status)
{
    hub_page_raw(p, "</main>\n");
    hub_page_send(p, status, HUB_PAGE_CSP_CONSOLE);
}

void idp_console_message(idp_creq_t *c, int status, const char *title, const char *message)
{
    hub_page_t p;

    if (c->user == NULL || c->session == NULL) { /* before the gate knew the user: no frame */
        hub_page_begin(&p, c->req, title);
        hub_page_raw(&p, "<main id=\"main\" class=\"narrow\">\n<h1>");
        hub_page_text(&p, title);
        hub_page_raw(&p, "</h1>\n");
    } else {
        idp_console_begin(c, &p, title, c->page->path);
    }
    hub_page_raw(&p, "<p class=\"error-box\" role=\"alert\" id=\"error\">");
    hub_page_text(&p, message);
    hub_page_raw(&p, "</p>\n");
    idp_console_end(c, &p, status);
}

void idp_console_done(idp_creq_t *c, const char *path, const char *flash)
{
    size_t cap = strlen(path) + strlen(flash) + 16;
    char *loc = h2o_mem_alloc_pool(&c->req->pool, cap);

    snprintf(loc, cap, "%s%sflash=%s", path, strchr(path, '?') != NULL ? "&" : "?", flash);
    hub_send_redirect(c->req, 303, loc);
}

/* ---- forms ---- */

const char *idp_console_arg(idp_creq_t *c, const char *name)
{
    return hub_form_count(&c->form, name) == 1 ? hub_form_get(&c->form, name) : NULL;
}

int idp_console_read(idp_creq_t *c, const idp_form_field_t *fields, size_t n, unsigned long required, const char **values,
                     idp_invalid_t *inv)
{
    int ret = 0;

    for (size_t i = 0; i != n; ++i) { /* every value first: a refused form is shown again with all of them */
        size_t count = hub_form_count(&c->form, fields[i].name);
        values[i] = count == 1 ? hub_form_get(&c->form, fields[i].name) : NULL;
        /* a field no validator names (IDP_FIELD_NONE) is named in the text, since the box atop cannot link to it */
        const char *label = fields[i].field == IDP_FIELD_NONE ? fields[i].label : "", *sp = label[0] != '\0' ? " " : "";
        if (ret == 0 && count > 1)
            ret = idp_invalid(inv, fields[i].field, "%s%swas sent more than once", label, sp);
        else if (ret == 0 && count == 0 && (required >> i & 1))
            ret = idp_invalid(inv, fields[i].field, "%s%sis required", label, sp);
    }
    return ret;
}

void idp_console_problem(hub_page_t *p, const idp_invalid_t *inv, const idp_form_field_t *fields, size_t n)
{
    const idp_form_field_t *f = NULL;

    for (size_t i = 0; i != n && f == NULL; ++i)
        if (inv->field != IDP_FIELD_NONE && fields[i].field == inv->field)
            f = &fields[i];
    hub_page_raw(p, "<div class=\"error-box\" role=\"alert\" id=\"problem\"><p>Nothing was saved. ");
    if (f != NULL) {
        hub_page_printf(p, "<a href=\"#f-%s\">%s</a>: ", f->name, f->label);
    }
    hub_page_text(p, inv->text);
    hub_page_raw(p, "</p></div>\n");
}

void idp_console_form(idp_creq_t *c, hub_page_t *p, const char *action)
{
    hub_page_raw(p, "<form method=\"post\" action=\"");
    hub_page_text(p, action);
    hub_page_raw(p, "\">\n<input type=\"hidden\" name=\"csrf_token\" value=\"");
    hub_page_text(p, c->csrf);
    hub_page_raw(p, "\">\n");
}

void idp_console_button(idp_creq_t *c, hub_page_t *p, const char *action, const char *name, const char *value, const char *label,
                        const char *cls)
{
    idp_console_form(c, p, action);
    if (name != NULL) {
        hub_page_printf(p, "<input type=\"hidden\" name=\"%s\" value=\"", name);
        hub_page_text(p, value);
        hub_page_raw(p, "\">\n");
    }
    hub_page_printf(p, "<button type=\"submit\"%s%s%s>", cls != NULL ? " class=\"" : "", cls != NULL ? cls : "",
                    cls != NULL ? "\"" : "");
    hub_page_text(p, label);
    hub_page_raw(p, "</button></form>\n");
}

/* The opening of a field: its label, and the ids its input's aria-describedby names. */
static int field_begin(hub_page_t *p, const idp_form_field_t *f, const char *hint, const idp_invalid_t *inv, int label_first)
{
    int bad = inv != NULL && inv->field != IDP_FIELD_NONE && inv->field == f->field;

    hub_page_raw(p, label_first ? "<div class=\"field\">\n" : "<div class=\"field check\">\n");
    if (label_first)
        hub_page_printf(p, "<label for=\"f-%s\">%s</label>\n", f->name, f->label);
    return bad;
}

static void field_aria(hub_page_t *p, const idp_form_field_t *f, const char *hint, int bad)
{
    if (bad)
        hub_page_printf(p, " aria-invalid=\"true\" aria-describedby=\"m-%s%s%s\"", f->name, hint != NULL ? " h-" : "",
                        hint != NULL ? f->name : "");
    else if (hint != NULL)
        hub_page_printf(p, " aria-describedby=\"h-%s\"", f->name);
}

static void field_end(hub_page_t *p, const idp_form_field_t *f, const char *hint, const idp_invalid_t *inv, int bad)
{
    if (hint != NULL)
        hub_page_printf(p, "<span class=\"hint\" id=\"h-%s\">%s</span>\n", f->name, hint);
    if (bad) {
        hub_page_printf(p, "<span class=\"msg\" id=\"m-%s\">", f->name);
        hub_page_text(p, inv->text);
        hub_page_raw(p, "</span>\n");
    }
    hub_page_raw(p, "</div>\n");
}

void idp_console_input(hub_page_t *p, const idp_form_field_t *f, idp_input_t type, const char *value, const char *hint,
                       const idp_invalid_t *inv, const char *attrs)
{
    static const char *const types[] = {"text", "password", "email", "url", NULL};
    int bad = field_begin(p, f, hint, inv, 1);

    if (type == IDP_INPUT_TEXTAREA)
        hub_page_printf(p, "<textarea id=\"f-%s\" name=\"%s\" rows=\"3\"", f->name, f->name);
    else
        hub_page_printf(p, "<input id=\"f-%s\" name=\"%s\" type=\"%s\" value=\"", f->name, f->name, types[type]);
    if (type != IDP_INPUT_TEXTAREA)
        hub_page_text(p, type == IDP_INPUT_PASSWORD ? NULL : value);
    hub_page_raw(p, type != IDP_INPUT_TEXTAREA ? "\"" : "");
    field_aria(p, f, hint, bad);
    if (attrs != NULL)
        hub_page_printf(p, " %s", attrs);
    hub_page_raw(p, ">");
    if (type == IDP_INPUT_TEXTAREA) {
        hub_page_text(p, value);
        hub_page_raw(p, "</textarea>");
    }
    hub_page_raw(p, "\n");
    field_end(p, f, hint, inv, bad);
}

void idp_console_select(hub_page_t *p, const idp_form_field_t *f, const char *const *options, const char *selected,
                        const char *hint, const idp_invalid_t *inv)
{
    int bad = field_begin(p, f, hint, inv, 1);

    hub_page_printf(p, "<select id=\"f-%s\" name=\"%s\"", f->name, f->name);
    field_aria(p, f, hint, bad);
    hub_page_raw(p, ">\n");
    for (size_t i = 0; options[i] != NULL; i += 2)
        hub_page_printf(p, "<option value=\"%s\"%s>%s</option>\n", options[i],
                        selected != NULL && strcmp(selected, options[i]) == 0 ? " selected" : "", options[i + 1]);
    hub_page_raw(p, "</select>\n");
    field_end(p, f, hint, inv, bad);
}

void idp_console_checkbox(hub_page_t *p, const idp_form_field_t *f, int checked, const char *hint, const idp_invalid_t *inv)
{
    int bad = field_begin(p, f, hint, inv, 0);

    hub_page_printf(p, "<input id=\"f-%s\" name=\"%s\" type=\"checkbox\" value=\"1\"%s", f->name, f->name,
                    checked ? " checked" : "");
    field_aria(p, f, hint, bad);
    hub_page_printf(p, "><label for=\"f-%s\">%s</label>\n", f->name, f->label);
    field_end(p, f, hint, inv, bad);
}

int idp_console_confirmed(idp_creq_t *c, const char *title, const char *text, const char *action, const char *name,
                          const char *value, const char *button, const char *back)
{
    const char *confirm = idp_console_arg(c, "confirm");
    hub_page_t p;

    if (confirm != NULL && strcmp(confirm, "yes") == 0)
        return 1;
    idp_console_begin(c, &p, title, c->page->path);
    hub_page_raw(&p, "<section class=\"card\"><p id=\"confirm-text\">");
    hub_page_text(&p, text);
    hub_page_raw(&p, "</p>\n");
    idp_console_form(c, &p, action);
    hub_page_printf(&p, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    hub_page_text(&p, value);
    hub_page_raw(&p, "\">\n<input type=\"hidden\" name=\"confirm\" value=\"yes\">\n<div class=\"actions\"><button type=\"submit\" "
                     "class=\"danger\">");
    hub_page_text(&p, button);
    hub_page_raw(&p, "</button> <a class=\"button secondary\" href=\"");
    hub_page_text(&p, back);
    hub_page_raw(&p, "\">Cancel</a></div>\n</form></section>\n");
    idp_console_end(c, &p, 200);
    return 0;
}

void idp_console_secret(hub_page_t *p, const char *label, const char *value)
{
    hub_page_raw(p, "<div class=\"card\" id=\"secret-box\"><p class=\"label\">");
    hub_page_text(p, label);
    hub_page_raw(p, "</p>\n<code class=\"secret\" id=\"secret\">");
    hub_page_text(p, value);
    hub_page_raw(p, "</code>\n<p class=\"muted\">Copy it now: it is shown this once and stored only as a hash.</p></div>\n");
}

void idp_console_time(hub_page_t *p, uint64_t t)
{
    char buf[48];
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(buf, sizeof(buf), "-");
    hub_page_text(p, buf);
}

/* ---- changes ---- */

typedef struct {
    idp_creq_t *c;
    const char *action; /* NULL: a write of the page's own (idp_console_write) */
    int check;          /* idp_console_allowed first (idp_console_change) */
    int (*fn)(hub_txn_t *txn, void *arg, char *target);
    void *arg;
    idp_console_done_fn done;
    int refused; /* the gate's answer does not hold any more: idp_console_allowed's HUB_E_NOTFOUND or HUB_E_DENIED */
    idp_audit_t entry;
    char target[IDP_AUDIT_TEXT];
} change_t;

static int change_txn(hub_txn_t *txn, void *arg)
{
    change_t *ch = arg;
    idp_creq_t *c = ch->c;
    int ret;

    ch->target[0] = '\0';
    ch->refused = 0;
    if (ch->check && (ret = idp_console_allowed(txn, c)) != 0) {
        ch->refused = ret == HUB_E_NOTFOUND || ret == HUB_E_DENIED ? ret : 0;
        return ret;
    }
    if ((ret = ch->fn(txn, ch->arg, ch->target)) != 0 || ch->action == NULL)
        return ret;
    ch->entry =
        (idp_audit_t){.who = c->user->username, .sub = c->user->sub, .from = c->from, .action = ch->action, .target = ch->target};
    return idp_audit_add(txn, &ch->entry);
}

void idp_console_refuse(idp_creq_t *c, int why)
{
    if (why == HUB_E_DENIED)
        not_admin(c);
    else
        to_sign_in(c->req); /* the session ended, or its user was disabled, meanwhile */
}

static void on_changed(void *arg, int ret)
{
    change_t *ch = arg;
    idp_creq_t *c = ch->c;

    if (ret == 0 && ch->action != NULL)
        idp_audit_log(&ch->entry); /* committed, whether or not anyone waits for the answer */
    if ((c->req = hub_park_resume(&c->park, ret)) == NULL)
        ; /* the client left */
    else if (ch->refused != 0)
        idp_console_refuse(c, ch->refused);
    else
        ch->done(c, ch->arg, ret);
    free(ch);
    creq_release(c);
}

static void submit(idp_creq_t *c, change_t *ch)
{
    h2o_req_t *req = c->req;
    int ret;

    c->req = NULL;
    ++c->refs;
    if ((ret = hub_park_write(&c->park, req, change_txn, ch, on_changed)) != 0) {
        c->req = req;
        --c->refs;
        free(ch);
        idp_console_failed(c, ret, "Not changed", "Nothing was changed. Please try again.");
    }
}

static void start_write(idp_creq_t *c, const char *action, int check, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg,
                        idp_console_done_fn done)
{
    change_t *ch = hub_xcalloc(1, sizeof(*ch));

    *ch = (change_t){.c = c, .action = action, .check = check, .fn = fn, .arg = arg, .done = done};
    submit(c, ch);
}

void idp_console_change(idp_creq_t *c, const char *action, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg,
                        idp_console_done_fn done)
{
    start_write(c, action, 1, fn, arg, done);
}

int idp_console_audit_here(idp_creq_t *c, const char *action, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg)
{
    change_t ch = {.c = c, .action = action, .fn = fn, .arg = arg};
    int ret = hub_store_write(c->idp->store, change_txn, &ch);

    if (ret == 0)
        idp_audit_log(&ch.entry);
    return ret;
}

void idp_console_write(idp_creq_t *c, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg, idp_console_done_fn done)
{
    start_write(c, NULL, 0, fn, arg, done);
}

void idp_console_failed(idp_creq_t *c, int ret, const char *title, const char *message)
{
    if (!hub_park_unavailable(c->req, ret, HUB_STYLE_HTML))
        idp_console_message(c, 500, title, message);
}

/* ---- jobs ---- */

typedef struct st_job_t {
    idp_creq_t *c;
    void (*work)(void *arg);
    void (*done)(idp_creq_t *c, void *arg);
    void *arg;
} job_t;

static void job_work(void *arg)
{
    job_t *job = arg;

    if (!hub_park_gone(&job->c->park))
        job->work(job->arg);
}

static void job_done(void *arg, int ret)
{
    job_t *job = arg;
    idp_creq_t *c = job->c;

    if ((c->req = hub_park_resume(&c->park, ret)) != NULL)
        job->done(c, job->arg);
    free(job);
    creq_release(c);
}

void idp_console_job(idp_creq_t *c, void (*work)(void *arg), void (*done)(idp_creq_t *c, void *arg), void *arg)
{
    hub_workport_t *port = hub_req_thread(c->req)->work_port;
    h2o_req_t *req = c->req;
    job_t *job = hub_xcalloc(1, sizeof(*job));

    *job = (job_t){c, work, done, arg};
    c->req = NULL; /* the job's until it is done */
    ++c->refs;
    if (port == NULL || hub_park_work(&c->park, req, port, job_work, job, job_done) != 0) {
        c->req = req;
        --c->refs;
        free(job);
        idp_console_failed(c, HUB_E_BUSY, "Busy", "Nothing was changed. Please try again."); /* 503, Retry-After */
    }
}
