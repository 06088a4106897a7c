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

void idp_admin_home(idp_creq_t *c)
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

static void on_settings_get(idp_creq_t *c)
{
    hub_txn_t *txn = NULL;
    hub_skip_auth_t skip = HUB_SKIP_AUTH_FORCE;

    if (hub_store_read_begin(c->idp->store, &txn) == 0) {
        skip = idp_settings_skip_authorization(txn, c->idp->cfg);
        hub_store_read_end(txn);
    }
    settings_page(c, 200, idp_skip_auth_name(skip), NULL);
}

static int settings_txn(hub_txn_t *txn, void *arg, char *target)
{
    hub_skip_auth_t *skip = arg;
    snprintf(target, IDP_AUDIT_TEXT, IDP_SETTING_SKIP_AUTHORIZATION "=%s", idp_skip_auth_name(*skip));
    return idp_settings_set_skip_authorization(txn, *skip);
}

static void on_settings_post(idp_creq_t *c)
{
    const char *value = NULL;
    hub_skip_auth_t skip;
    idp_invalid_t inv;

    if (idp_console_read(c, &skip_field, 1, 1, &value, &inv) != 0) {
        settings_page(c, 400, NULL, &inv);
        return;
    }
    if (idp_skip_auth_parse(value, &skip) != 0) {
        idp_invalid(&inv, IDP_FIELD_SETTING, "must be Force or Auto");
        settings_page(c, 400, NULL, &inv);
        return;
    }
    if (idp_console_change(c, "settings.update", settings_txn, &skip) != 0) {
        idp_console_message(c, 503, "Not saved", "The settings could not be saved right now. Please try again.");
        return;
    }
    idp_console_done(c, PATH_SETTINGS, "settings");
}

/* ---- GET /admin/audit ---- */

static int audit_row(void *arg, const idp_audit_t *e)
{
    hub_page_t *p = arg;

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
    return 0;
}

static void on_audit(idp_creq_t *c)
{
    hub_txn_t *txn = NULL;
    hub_page_t p;

    idp_console_begin(c, &p, "Audit Log", PATH_AUDIT);
    hub_page_printf(&p,
                    "<p>The last %d changes made in the consoles, newest first (the hub keeps the last %d). Changes made with "
                    "hubctl are not listed.</p>\n",
                    AUDIT_SHOWN, IDP_AUDIT_KEEP);
    hub_page_raw(&p,
                 "<div class=\"table-wrap\"><table id=\"audit\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th>"
                 "<th scope=\"col\">From</th><th scope=\"col\">Action</th><th scope=\"col\">Target</th></tr></thead>\n<tbody>\n");
    if (hub_store_read_begin(c->idp->store, &txn) == 0) {
        idp_audit_recent(txn, AUDIT_SHOWN, audit_row, &p);
        hub_store_read_end(txn);
    }
    hub_page_raw(&p, "</tbody></table></div>\n");
    idp_console_end(c, &p, 200);
}

static const idp_console_page_t pages[] = {
    {PATH_SETTINGS, 1, on_settings_get, on_settings_post},
    {PATH_AUDIT, 1, on_audit, NULL},
};

void idp_admin_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
