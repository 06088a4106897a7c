/* hubctl client: add, update (the same options, applied to the stored client and validated as a whole by
 * idp/client_edit.h, as the admin console's form is), list, show, del, rotate-secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "idp/client.h"
#include "idp/client_edit.h"
#include "tools/hubctl/hubctl.h"
#include "hub/util.h"

/* getopt's values: the edit's field + 1 (getopt reserves 0). */
#define OPT(what) (IDP_CEDIT_##what + 1)

static const struct option client_opts[] = {{"app-name", required_argument, NULL, OPT(APP_NAME)},
                                            {"redirect-uris", required_argument, NULL, OPT(REDIRECT_URIS)},
                                            {"default-redirect-uri", required_argument, NULL, OPT(DEFAULT_REDIRECT)},
                                            {"scopes", required_argument, NULL, OPT(SCOPES)},
                                            {"grant-type", required_argument, NULL, OPT(GRANT)},
                                            {"response-type", required_argument, NULL, OPT(RESPONSE)},
                                            {"skip-authorization", no_argument, NULL, OPT(SKIP)},
                                            {"no-skip-authorization", no_argument, NULL, OPT(NO_SKIP)},
                                            {"auth-method", required_argument, NULL, OPT(AUTH)},
                                            {"allowed-roles", required_argument, NULL, OPT(ALLOWED_ROLES)},
                                            {"backchannel-logout-uri", required_argument, NULL, OPT(BACKCHANNEL)},
                                            {"post-logout-redirect-uris", required_argument, NULL, OPT(POST_LOGOUT)},
                                            {"role", required_argument, NULL, OPT(SERVICE_ROLES)},
                                            {"introspect-any", no_argument, NULL, OPT(INTROSPECT_ANY)},
                                            {"no-introspect-any", no_argument, NULL, OPT(NO_INTROSPECT_ANY)},
                                            {"frappe-site", required_argument, NULL, OPT(FRAPPE_SITE)},
                                            {"no-frappe-site", no_argument, NULL, OPT(NO_FRAPPE_SITE)},
                                            {"help", no_argument, NULL, 'h'},
                                            {0}};

/* Pairs of options that contradict each other. */
static const struct {
    idp_cedit_t yes, no;
    const char *msg;
} conflicts[] = {
    {IDP_CEDIT_SKIP, IDP_CEDIT_NO_SKIP, "--skip-authorization: conflicts with --no-skip-authorization"},
    {IDP_CEDIT_INTROSPECT_ANY, IDP_CEDIT_NO_INTROSPECT_ANY, "--introspect-any: conflicts with --no-introspect-any"},
    {IDP_CEDIT_FRAPPE_SITE, IDP_CEDIT_NO_FRAPPE_SITE, "--frappe-site: conflicts with --no-frappe-site"},
};

static int takes_value(int c)
{
    for (const struct option *o = client_opts; o->name != NULL; ++o)
        if (o->val == c)
            return o->has_arg != no_argument;
    return 0;
}

/* Parses the options of client add/update into e (idp/client_edit.h checks what can be checked alone); the rest is
 * checked as a whole by the write. EXIT_OK, an exit code, or -1 for --help. */
static int parse_client_opts(ctl_t *ctl, int argc, char **argv, idp_client_edit_t *e)
{
    idp_invalid_t inv;
    int c;

    while ((c = ctl_next_opt(ctl, argc, argv, client_opts)) != -1) {
        if (c == 'h')
            return ctl_print_usage(ctl) - 1;
        if (c <= 0 || c > IDP_CEDIT__COUNT)
            return ctl_bad_option(ctl, c, argv);
        if (idp_client_edit_set(e, (idp_cedit_t)(c - 1), takes_value(c) ? optarg : "", &inv) != 0)
            return ctl_say_invalid(EXIT_USAGE, &inv);
    }
    for (size_t i = 0; i != sizeof(conflicts) / sizeof(conflicts[0]); ++i)
        if (e->value[conflicts[i].yes] != NULL && e->value[conflicts[i].no] != NULL)
            return ctl_say(EXIT_USAGE, "%s", conflicts[i].msg);
    return EXIT_OK;
}

typedef struct {
    ctl_t *ctl;
    const char *id; /* update, del, rotate-secret */
    idp_client_edit_t edit;
    idp_client_t *client;                   /* the client written */
    char secret[IDP_CLIENT_SECRET_LEN + 1]; /* a new secret to print, or "" */
} client_arg_t;

/* A refusal (HUB_E_INVAL, HUB_E_NOTFOUND with *inv) is printed as hubctl's one line, exit 2. */
static int refuse_or(client_arg_t *a, int ret, const idp_invalid_t *inv)
{
    return ret == HUB_E_INVAL || ret == HUB_E_NOTFOUND ? ctl_refuse_invalid(a->ctl, EXIT_USAGE, inv) : ret;
}

static int client_write_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_invalid_t inv;

    idp_client_free(a->client);
    a->client = NULL;
    return refuse_or(a, idp_client_edit_save(txn, &a->edit, a->id, &a->client, a->secret, &inv), &inv);
}

static int cmd_client_write(ctl_t *ctl, int argc, char **argv, int update)
{
    static const char *const names[] = {"ID"};
    client_arg_t a = {ctl};
    int ret;

    idp_client_edit_init(&a.edit);
    if ((ret = parse_client_opts(ctl, argc, argv, &a.edit)) != EXIT_OK) {
        ret = CTL_ARGS_DONE(ret);
        goto out;
    }
    if ((ret = ctl_positionals(ctl, argc, argv, update ? 1 : 0, names, &a.id)) != EXIT_OK)
        goto out;
    if (!update && a.edit.value[IDP_CEDIT_APP_NAME] == NULL) {
        ret = ctl_say(EXIT_USAGE, "--app-name: required");
        goto out;
    }
    if ((ret = ctl_write(ctl, client_write_txn, &a)) != EXIT_OK)
        goto out;
    if (!update)
        printf("client_id: %s\n", a.client->client_id);
    if (a.secret[0] != '\0')
        printf("client_secret: %s\n", a.secret);
out:
    OPENSSL_cleanse(a.secret, sizeof(a.secret));
    idp_client_edit_dispose(&a.edit);
    idp_client_free(a.client);
    return ret;
}

static int cmd_client_add(ctl_t *ctl, int argc, char **argv)
{
    return cmd_client_write(ctl, argc, argv, 0);
}

static int cmd_client_update(ctl_t *ctl, int argc, char **argv)
{
    return cmd_client_write(ctl, argc, argv, 1);
}

static int print_client_row(void *arg, const idp_client_t *c)
{
    json_t *list = arg;
    if (list != NULL)
        json_array_append_new(list, idp_client_to_json(c));
    else
        printf("%-24s %-24s %-20s %-20s %s\n", c->client_id, c->app_name != NULL ? c->app_name : "-",
               idp_grant_type_name(c->grant_type), idp_auth_method_name(c->auth_method), c->enabled ? "enabled" : "disabled");
    return 0;
}

static int walk_clients(hub_txn_t *txn, json_t *list)
{
    return idp_client_each(txn, print_client_row, list);
}

static int cmd_client_list(ctl_t *ctl, int argc, char **argv)
{
    return ctl_run_list(ctl, argc, argv,
                        "CLIENT_ID                APP_NAME                 GRANT_TYPE           AUTH_METHOD          STATE\n",
                        walk_clients);
}

static json_t *load_client_json(hub_txn_t *txn, const char *id, int *ret)
{
    idp_client_t *c = NULL;
    json_t *j = NULL;
    if ((*ret = idp_client_get(txn, id, &c)) == 0)
        j = idp_client_to_json(c);
    idp_client_free(c);
    return j;
}

static int cmd_client_show(ctl_t *ctl, int argc, char **argv)
{
    return ctl_run_show(ctl, argc, argv, "client", "ID", load_client_json);
}

/* A node's client deleted here revokes the node too (idp_client_remove). */
static int client_del_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_invalid_t inv;
    return refuse_or(a, idp_client_edit_remove(txn, a->id, &inv), &inv);
}

static int client_rotate_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_invalid_t inv;
    return refuse_or(a, idp_client_rotate_secret(txn, a->id, a->secret, &inv), &inv);
}

static int cmd_client_by_id(ctl_t *ctl, int argc, char **argv, int (*fn)(hub_txn_t *, void *))
{
    static const char *const names[] = {"ID"};
    client_arg_t a = {ctl};
    int ret;

    idp_client_edit_init(&a.edit);
    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 1, names, &a.id)) != EXIT_OK) {
        idp_client_edit_dispose(&a.edit);
        return CTL_ARGS_DONE(ret);
    }
    if ((ret = ctl_write(ctl, fn, &a)) == EXIT_OK && a.secret[0] != '\0')
        printf("client_secret: %s\n", a.secret);
    OPENSSL_cleanse(a.secret, sizeof(a.secret));
    idp_client_edit_dispose(&a.edit);
    return ret;
}

static int cmd_client_del(ctl_t *ctl, int argc, char **argv)
{
    return cmd_client_by_id(ctl, argc, argv, client_del_txn);
}

static int cmd_client_rotate(ctl_t *ctl, int argc, char **argv)
{
    return cmd_client_by_id(ctl, argc, argv, client_rotate_txn);
}

#define CLIENT_OPTIONS                                                                                                             \
    "[--redirect-uris LIST] [--default-redirect-uri U] [--scopes LIST] "                                                           \
    "[--grant-type authorization_code|implicit|client_credentials] [--response-type code|token] "                                  \
    "[--skip-authorization|--no-skip-authorization] [--auth-method client_secret_basic|client_secret_post|none] "                  \
    "[--allowed-roles LIST] [--backchannel-logout-uri U] [--post-logout-redirect-uris LIST] [--role R]... "                        \
    "[--introspect-any|--no-introspect-any] [--frappe-site SITE_URL|--no-frappe-site]"

const ctl_command_t ctl_client_commands[] = {
    {"client add", cmd_client_add, "--app-name N " CLIENT_OPTIONS},
    {"client list", cmd_client_list, "[--json]"},
    {"client show", cmd_client_show, "ID [--json]"},
    {"client del", cmd_client_del, "ID"},
    {"client rotate-secret", cmd_client_rotate, "ID"},
    {"client update", cmd_client_update, "ID [--app-name N] " CLIENT_OPTIONS},
    {NULL},
};
