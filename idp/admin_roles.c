/* The admin console's Roles: the list with the built-in ones marked, a new role (idp_role_create: the name rules and
 * messages hubctl role add has), deletion after a confirmation (idp_role_remove: the users holding it lose it, a client
 * holding it refuses it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/admin_roles.h"
#include "idp/revocation.h"
#include "idp/role.h"

#define PATH_LIST "/admin/roles"
#define PATH_ADD "/admin/roles/add"
#define PATH_DELETE "/admin/roles/delete"

static const idp_form_field_t role_field = {"role", "Role name", IDP_FIELD_ROLE};

/* The page as shown: the roles read off the loop, the status, a refused form's value (the request's pool: read on the
 * loop only) and problem. */
typedef struct {
    idp_strv_t roles;
    int status;
    const char *value;
    idp_invalid_t inv; /* field IDP_FIELD_NONE: none */
} page_t;

static void page_free(void *arg)
{
    page_t *pg = arg;

    idp_strv_free(&pg->roles);
    free(pg);
}

static int roles_txn(hub_txn_t *txn, void *arg)
{
    return idp_role_list(txn, &((page_t *)arg)->roles);
}

static void roles_read(idp_creq_t *c, void *arg, int ret)
{
    page_t *pg = arg;
    const idp_invalid_t *inv = pg->inv.field != IDP_FIELD_NONE ? &pg->inv : NULL;
    hub_page_t p;

    idp_console_begin(c, &p, "Roles", PATH_LIST);
    if (inv != NULL)
        idp_console_problem(&p, inv, &role_field, 1);
    hub_page_raw(&p, "<div class=\"table-wrap\"><table id=\"roles\"><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">"
                     "<span class=\"skip\">Action</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; ret == 0 && i != pg->roles.n; ++i) {
        hub_page_raw(&p, "<tr><td>");
        hub_page_text(&p, pg->roles.v[i]);
        hub_page_raw(&p, "</td><td>");
        if (idp_role_is_builtin(pg->roles.v[i]))
            hub_page_raw(&p, "<span class=\"badge\">built in</span>");
        else
            idp_console_button(c, &p, PATH_DELETE, "role", pg->roles.v[i], "Delete", "danger");
        hub_page_raw(&p, "</td></tr>\n");
    }
    hub_page_raw(&p, "</tbody></table></div>\n<section class=\"card\"><h2>New role</h2>\n");
    idp_console_form(c, &p, PATH_ADD);
    idp_console_input(&p, &role_field, IDP_INPUT_TEXT, pg->value, "Spaces are allowed; ; is not.", inv,
                      "required maxlength=\"128\" autocomplete=\"off\"");
    hub_page_raw(&p, "<div class=\"actions\"><button type=\"submit\">Add role</button></div></form></section>\n");
    idp_console_end(c, &p, pg->status);
}

static void roles_page(idp_creq_t *c, int status, const char *value, const idp_invalid_t *inv)
{
    page_t *pg = hub_xcalloc(1, sizeof(*pg));

    pg->status = status;
    pg->value = value;
    pg->inv.field = IDP_FIELD_NONE;
    if (inv != NULL)
        pg->inv = *inv;
    idp_console_load(c, roles_txn, pg, roles_read, page_free);
}

static void on_list(idp_creq_t *c)
{
    roles_page(c, 200, NULL, NULL);
}

/* A role change's state: the role's name (a copy) and what the store refused. */
typedef struct {
    char *role;
    idp_invalid_t inv;
} role_arg_t;

static void role_arg_free(void *arg)
{
    role_arg_t *a = arg;

    free(a->role);
    free(a);
}

static role_arg_t *role_arg(const char *role)
{
    role_arg_t *a = hub_xcalloc(1, sizeof(*a));

    a->role = hub_strdup(role);
    return a;
}

static int add_txn(hub_txn_t *txn, void *arg, char *target)
{
    role_arg_t *a = arg;
    snprintf(target, IDP_AUDIT_TEXT, "role %s", a->role);
    return idp_role_create(txn, a->role, &a->inv);
}

static void added(idp_creq_t *c, void *arg, int ret)
{
    role_arg_t *a = arg;

    if (ret == HUB_E_INVAL || ret == HUB_E_EXISTS)
        roles_page(c, 400, idp_console_arg(c, role_field.name), &a->inv);
    else if (ret != 0)
        idp_console_message(c, 503, "Not added", "The role could not be added right now. Please try again.");
    else
        idp_console_done(c, PATH_LIST, "role-added");
}

static void on_add(idp_creq_t *c)
{
    const char *role = NULL;
    idp_invalid_t inv;

    if (idp_console_read(c, &role_field, 1, 1, &role, &inv) != 0)
        roles_page(c, 400, role, &inv);
    else
        idp_console_change(c, "role.create", add_txn, role_arg(role), added, role_arg_free);
}

static int delete_txn(hub_txn_t *txn, void *arg, char *target)
{
    role_arg_t *a = arg;
    snprintf(target, IDP_AUDIT_TEXT, "role %s", a->role);
    return idp_role_refusal(idp_role_remove(txn, a->role), a->role, &a->inv);
}

static void deleted(idp_creq_t *c, void *arg, int ret)
{
    role_arg_t *a = arg;

    if (ret == HUB_E_NOTFOUND || ret == HUB_E_DENIED || ret == HUB_E_BUSY)
        idp_console_message(c, ret == HUB_E_NOTFOUND ? 404 : 409, "Not deleted", a->inv.text);
    else if (ret != 0)
        idp_console_message(c, 503, "Not deleted", "The role could not be deleted right now. Please try again.");
    else
        idp_console_done(c, PATH_LIST, "role-deleted");
}

static void on_delete(idp_creq_t *c)
{
    const char *role = idp_console_arg(c, "role");
    char text[IDP_ROLE_MAX * 6 + 160];

    if (role == NULL || strlen(role) > IDP_ROLE_MAX) {
        idp_console_message(c, 400, "Bad request", "The form does not name one role. Nothing was changed.");
        return;
    }
    snprintf(text, sizeof(text), "Delete the role \"%s\"? Every user holding it loses it, and their sessions end.", role);
    if (idp_console_confirmed(c, "Delete role", text, PATH_DELETE, "role", role, "Delete role", PATH_LIST))
        idp_console_change(c, "role.delete", delete_txn, role_arg(role), deleted, role_arg_free);
}

/* A path before any prefix of it (idp_console_add). */
static const idp_console_page_t pages[] = {
    {PATH_ADD, 1, NULL, on_add},
    {PATH_DELETE, 1, NULL, on_delete},
    {PATH_LIST, 1, on_list, NULL},
};

void idp_admin_roles_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
