/* The admin console's Roles: the list with the built-in ones marked, a new role (idp_role_create: the name rules and
 * messages hubctl role add has), deletion after a confirmation (idp_role_remove: the users holding it lose it, a client
 * holding it refuses it). */
#include <stdio.h>
#include <string.h>
#include "hub/err.h"
#include "idp/admin_roles.h"
#include "idp/revocation.h"
#include "idp/role.h"

#define PATH_LIST "/admin/roles"
#define PATH_ADD "/admin/roles/add"
#define PATH_DELETE "/admin/roles/delete"

static const idp_form_field_t role_field = {"role", "Role name", IDP_FIELD_ROLE};

/* The roles, read with the gate (the list, and a refused new role's page). */
static int roles_read(hub_txn_t *txn, idp_creq_t *c)
{
    return idp_role_list(txn, c->data);
}

static void roles_dispose(void *data)
{
    idp_strv_free(data);
}

static void roles_page(idp_creq_t *c, int status, const char *value, const idp_invalid_t *inv)
{
    const idp_strv_t *roles = c->data;
    hub_page_t p;

    idp_console_begin(c, &p, "Roles", PATH_LIST);
    if (inv != NULL)
        idp_console_problem(&p, inv, &role_field, 1);
    hub_page_raw(&p, "<div class=\"table-wrap\"><table id=\"roles\"><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">"
                     "<span class=\"skip\">Action</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i != roles->n; ++i) {
        hub_page_raw(&p, "<tr><td>");
        hub_page_text(&p, roles->v[i]);
        hub_page_raw(&p, "</td><td>");
        if (idp_role_is_builtin(roles->v[i]))
            hub_page_raw(&p, "<span class=\"badge\">built in</span>");
        else
            idp_console_button(c, &p, PATH_DELETE, "role", roles->v[i], "Delete", "danger");
        hub_page_raw(&p, "</td></tr>\n");
    }
    hub_page_raw(&p, "</tbody></table></div>\n<section class=\"card\"><h2>New role</h2>\n");
    idp_console_form(c, &p, PATH_ADD);
    idp_console_input(&p, &role_field, IDP_INPUT_TEXT, value, "Spaces are allowed; ; is not.", inv,
                      "required maxlength=\"128\" autocomplete=\"off\"");
    hub_page_raw(&p, "<div class=\"actions\"><button type=\"submit\">Add role</button></div></form></section>\n");
    idp_console_end(c, &p, status);
}

static void on_list(idp_creq_t *c)
{
    roles_page(c, 200, NULL, NULL);
}

/* A change to one role; role is the form's (c's memory). */
typedef struct {
    const char *role;
    idp_invalid_t inv;
} role_arg_t;

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
        roles_page(c, 400, a->role, &a->inv); /* the list as read before the refused change: it changed nothing */
    else if (ret != 0)
        idp_console_failed(c, ret, "Not added", "The role could not be added right now. Please try again.");
    else
        idp_console_done(c, PATH_LIST, "role-added");
}

static void on_add(idp_creq_t *c)
{
    role_arg_t *a = idp_console_alloc(c, sizeof(*a), NULL);

    if (idp_console_read(c, &role_field, 1, 1, &a->role, &a->inv) != 0)
        roles_page(c, 400, a->role, &a->inv);
    else
        idp_console_change(c, "role.create", add_txn, a, added);
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
        idp_console_failed(c, ret, "Not deleted", "The role could not be deleted right now. Please try again.");
    else
        idp_console_done(c, PATH_LIST, "role-deleted");
}

static void on_delete(idp_creq_t *c)
{
    role_arg_t *a = idp_console_alloc(c, sizeof(*a), NULL);
    char text[IDP_ROLE_MAX * 6 + 160];

    if ((a->role = idp_console_arg(c, "role")) == NULL || strlen(a->role) > IDP_ROLE_MAX) {
        idp_console_message(c, 400, "Bad request", "The form does not name one role. Nothing was changed.");
        return;
    }
    snprintf(text, sizeof(text), "Delete the role \"%s\"? Every user holding it loses it, and their sessions end.", a->role);
    if (idp_console_confirmed(c, "Delete role", text, PATH_DELETE, "role", a->role, "Delete role", PATH_LIST))
        idp_console_change(c, "role.delete", delete_txn, a, deleted);
}

/* A path before any prefix of it (idp_console_add). */
static const idp_console_page_t pages[] = {
    {PATH_ADD, 1, NULL, on_add, roles_read, sizeof(idp_strv_t), roles_dispose},
    {PATH_DELETE, 1, NULL, on_delete},
    {PATH_LIST, 1, on_list, NULL, roles_read, sizeof(idp_strv_t), roles_dispose},
};

void idp_admin_roles_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
