/* The admin console's overview, the OAuth Provider Settings (Skip Authorization: Force or Auto, as the seed's form) and
 * the audit log page. */
#include <stdio.h>
#include <string.h>
#include "hub/err.h"
#include "idp/admin.h"
#include "idp/settings.h"

#define PATH_SETTINGS "/admin/settings"
#define PATH_AUDIT "/admin/audit"
#define AUDIT_SHOWN 200

/* ---- GET /admin/ ---- */

static const struct {
    const char *path, *title, *text;
} cards[] = {
    {PATH_SETTINGS, "OAuth Provider Settings", "Whether users confirm each app (Force) or only the first time (Auto)."},
    {"/admin/clients", "OAuth Clients", "The apps that sign users in here: add, edit, rotate a secret, delete."},
    {"/admin/users", "Users", "Find, add, enable or disable users, set their roles and passwords."},
    {"/admin/roles", "Roles", "The roles users hold and clients require."},
    {"/admin/nodes", "Nodes", "The secondaries registered with this hub, and join tokens for new ones."},
    {"/admin/keys", "Signing Keys", "The keys that sign tokens: rotate, retire, revoke."},
    {PATH_AUDIT, "Audit Log", "Every change made in the consoles: who, what, when and from where."},
};

static void on_home(idp_creq_t *c)
{
    hub_page_t p;

    idp_console_begin(c, &p, "Administration", IDP_CONSOLE_ADMIN);
    for (size_t i = 0; i != sizeof(cards) / sizeof(cards[0]); ++i)
        hub_page_printf(&p, "<section class=\"card\"><h2><a href=\"%s\">%s</a></h2><p>%s</p></section>\n", cards[i].path,
                        cards[i].title, cards[i].text);
    idp_console_end(c, &p, 200);
}

/* ---- /admin/settings ---- */

static const idp_form_field_t skip_field = {"skip_authorization", "Skip Authorization", IDP_FIELD_SETTING};
static const char *const skip_options[] = {"force", "Force", "auto", "Auto", NULL};

static void settings_page(idp_creq_t *c, int status, const char *value, const idp_invalid_t *inv)
{
    hub_page_t p;

    idp_console_begin(c, &p, "OAuth Provider Settings", PATH_SETTINGS);
    if (inv != NULL)
        idp_console_problem(&p, inv, &skip_field, 1);
    hub_page_raw(&p, "<section class=\"card\">\n");
    idp_console_form(c, &p, PATH_SETTINGS);
    idp_console_select(&p, &skip_field, skip_options, value,
                       "Force: every sign-in into an app that does not skip authorization asks the user to confirm. Auto: "
                       "the user is asked only when they hold no unexpired grant for the app that covers the scopes asked.",
                       inv);
    hub_page_raw(&p, "<div class=\"actions\"><button type=\"submit\">Save</button></div>\n</form></section>\n");
    idp_console_end(c, &p, status);
}

/* What the settings page shows, read with the gate. */
static int settings_read(hub_txn_t *txn, idp_creq_t *c)
{
    hub_skip_auth_t *skip = c->data;

    *skip = idp_settings_skip_authorization(txn, c->idp->cfg);
    return 0;
}

static void on_settings_get(idp_creq_t *c)
{
    settings_page(c, 200, idp_skip_auth_name(*(hub_skip_auth_t *)c->data), NULL);
}

static int settings_txn(hub_txn_t *txn, void *arg, char *target)
{
    hub_skip_auth_t *skip = arg;
    snprintf(target, IDP_AUDIT_TEXT, IDP_SETTING_SKIP_AUTHORIZATION "=%s", idp_skip_auth_name(*skip));
    return idp_settings_set_skip_authorization(txn, *skip);
}

static void settings_saved(idp_creq_t *c, void *arg, int ret)
{
    if (ret != 0)
        idp_console_failed(c, ret, "Not saved", "The settings could not be saved right now. Please try again.");
    else
        idp_console_done(c, PATH_SETTINGS, "settings");
}

static void on_settings_post(idp_creq_t *c)
{
    hub_skip_auth_t *skip = idp_console_alloc(c, sizeof(*skip), NULL);
    const char *value = NULL;
    idp_invalid_t inv;

    if (idp_console_read(c, &skip_field, 1, 1, &value, &inv) != 0) {
        settings_page(c, 400, NULL, &inv);
        return;
    }
    if (idp_skip_auth_parse(value, skip) != 0) {
        idp_invalid(&inv, IDP_FIELD_SETTING, "must be Force or Auto");
        settings_page(c, 400, NULL, &inv);
        return;
    }
    idp_console_change(c, "settings.update", settings_txn, skip, settings_saved);
}

/* ---- GET /admin/audit ---- */

static int audit_read(hub_txn_t *txn, idp_creq_t *c)
{
    return idp_audit_recent(txn, AUDIT_SHOWN, c->data);
}

static void audit_dispose(void *data)
{
    idp_audit_list_free(data);
}

static void audit_row(hub_page_t *p, const idp_audit_t *e)
{
    hub_page_raw(p, "<tr><td>");
    idp_console_time(p, e->at);
    hub_page_raw(p, "</td><td>");
    hub_page_text(p, e->who);
    hub_page_raw(p, "</td><td>");
    hub_page_text(p, e->from);
    hub_page_raw(p, "</td><td><code>");
    hub_page_text(p, e->action);
    hub_page_raw(p, "</code></td><td>");
    hub_page_text(p, e->target);
    hub_page_raw(p, "</td></tr>\n");
}

static void on_audit(idp_creq_t *c)
{
    const idp_audit_list_t *list = c->data;
    hub_page_t p;

    idp_console_begin(c, &p, "Audit Log", PATH_AUDIT);
    hub_page_printf(&p,
                    "<p>The last %d changes made in the consoles, newest first (the hub keeps the last %d). Changes made with "
                    "hubctl are not listed.</p>\n",
                    AUDIT_SHOWN, IDP_AUDIT_KEEP);
    hub_page_raw(&p,
                 "<div class=\"table-wrap\"><table id=\"audit\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th>"
                 "<th scope=\"col\">From</th><th scope=\"col\">Action</th><th scope=\"col\">Target</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i != list->n; ++i)
        audit_row(&p, &list->v[i]);
    hub_page_raw(&p, "</tbody></table></div>\n");
    idp_console_end(c, &p, 200);
}

static const idp_console_page_t pages[] = {
    {PATH_SETTINGS, 1, on_settings_get, on_settings_post, settings_read, sizeof(hub_skip_auth_t), NULL},
    {PATH_AUDIT, 1, on_audit, NULL, audit_read, sizeof(idp_audit_list_t), audit_dispose},
};

const idp_console_page_t *idp_admin_home(void)
{
    static const idp_console_page_t home = {IDP_CONSOLE_ADMIN, 1, on_home, NULL};
    return &home;
}

void idp_admin_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
