/* hubctl client: add, update (the same options, applied to the stored client and validated as a whole), list, show,
 * del, rotate-secret. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "idp/client.h"
#include "idp/frappe_site.h"
#include "idp/node.h"
#include "idp/role.h"
#include "tools/hubctl/hubctl.h"
#include "hub/util.h"

#define DEFAULT_SCOPES "openid;profile;email;roles"

enum {
    C_APP_NAME = 1,
    C_REDIRECT_URIS,
    C_DEFAULT_REDIRECT,
    C_SCOPES,
    C_GRANT,
    C_RESPONSE,
    C_SKIP,
    C_NO_SKIP,
    C_AUTH,
    C_ALLOWED_ROLES,
    C_BACKCHANNEL,
    C_POST_LOGOUT,
    C_ROLE,
    C_INTROSPECT_ANY,
    C_NO_INTROSPECT_ANY,
    C_FRAPPE_SITE,
    C_NO_FRAPPE_SITE,
    C__COUNT
};

static const struct option client_opts[] = {{"app-name", required_argument, NULL, C_APP_NAME},
                                            {"redirect-uris", required_argument, NULL, C_REDIRECT_URIS},
                                            {"default-redirect-uri", required_argument, NULL, C_DEFAULT_REDIRECT},
                                            {"scopes", required_argument, NULL, C_SCOPES},
                                            {"grant-type", required_argument, NULL, C_GRANT},
                                            {"response-type", required_argument, NULL, C_RESPONSE},
                                            {"skip-authorization", no_argument, NULL, C_SKIP},
                                            {"no-skip-authorization", no_argument, NULL, C_NO_SKIP},
                                            {"auth-method", required_argument, NULL, C_AUTH},
                                            {"allowed-roles", required_argument, NULL, C_ALLOWED_ROLES},
                                            {"backchannel-logout-uri", required_argument, NULL, C_BACKCHANNEL},
                                            {"post-logout-redirect-uris", required_argument, NULL, C_POST_LOGOUT},
                                            {"role", required_argument, NULL, C_ROLE},
                                            {"introspect-any", no_argument, NULL, C_INTROSPECT_ANY},
                                            {"no-introspect-any", no_argument, NULL, C_NO_INTROSPECT_ANY},
                                            {"frappe-site", required_argument, NULL, C_FRAPPE_SITE},
                                            {"no-frappe-site", no_argument, NULL, C_NO_FRAPPE_SITE},
                                            {"help", no_argument, NULL, 'h'},
                                            {0}};

/* The options given to client add/update: value[opt] is NULL when the option was absent. */
typedef struct {
    const char *value[C__COUNT];
    idp_strv_t roles; /* --role, repeated */
    idp_grant_type_t grant;
    idp_response_type_t response;
    idp_auth_method_t auth;
    char *frappe_site; /* --frappe-site, normalised (idp_frappe_site_parse) */
} client_opts_t;

/* Pairs of options that contradict each other. */
static const struct {
    int yes, no;
    const char *msg;
} conflicts[] = {
    {C_SKIP, C_NO_SKIP, "--skip-authorization: conflicts with --no-skip-authorization"},
    {C_INTROSPECT_ANY, C_NO_INTROSPECT_ANY, "--introspect-any: conflicts with --no-introspect-any"},
    {C_FRAPPE_SITE, C_NO_FRAPPE_SITE, "--frappe-site: conflicts with --no-frappe-site"},
};

static int takes_value(int c)
{
    for (const struct option *o = client_opts; o->name != NULL; ++o)
        if (o->val == c)
            return o->has_arg != no_argument;
    return 0;
}

/* Checks one option's value where it can be checked alone (enums, the Frappe site); EXIT_OK or EXIT_USAGE. */
static int parse_client_opt(int c, const char *arg, client_opts_t *o)
{
    idp_invalid_t inv;

    if (c == C_ROLE)
        ctl_add_roles(&o->roles, arg);
    else if (c == C_GRANT && idp_grant_type_parse(arg, &o->grant) != 0)
        return ctl_say(EXIT_USAGE, "--grant-type: \"%s\" is not authorization_code, implicit or client_credentials", arg);
    else if (c == C_RESPONSE && idp_response_type_parse(arg, &o->response) != 0)
        return ctl_say(EXIT_USAGE, "--response-type: \"%s\" is not code or token", arg);
    else if (c == C_AUTH && idp_auth_method_parse(arg, &o->auth) != 0)
        return ctl_say(EXIT_USAGE, "--auth-method: \"%s\" is not client_secret_basic, client_secret_post or none", arg);
    if (c == C_FRAPPE_SITE) {
        free(o->frappe_site);
        if (idp_frappe_site_parse(arg, &o->frappe_site, &inv) != 0)
            return ctl_say_invalid(EXIT_USAGE, &inv);
    }
    return EXIT_OK;
}

/* Parses the options of client add/update; the rest is checked as a whole later. EXIT_OK, an exit code, or -1 for
 * --help. */
static int parse_client_opts(ctl_t *ctl, int argc, char **argv, client_opts_t *o)
{
    int c, ret;

    idp_strv_split(&o->roles, "", 0);
    while ((c = ctl_next_opt(ctl, argc, argv, client_opts)) != -1) {
        if (c == 'h')
            return ctl_print_usage(ctl) - 1;
        if (c <= 0 || c >= C__COUNT)
            return ctl_bad_option(ctl, c, argv);
        o->value[c] = takes_value(c) ? optarg : "";
        if ((ret = parse_client_opt(c, optarg, o)) != EXIT_OK)
            return ret;
    }
    for (size_t i = 0; i != sizeof(conflicts) / sizeof(conflicts[0]); ++i)
        if (o->value[conflicts[i].yes] != NULL && o->value[conflicts[i].no] != NULL)
            return ctl_say(EXIT_USAGE, "%s", conflicts[i].msg);
    return EXIT_OK;
}

static void set_list(idp_strv_t *sv, const char *value, int ws)
{
    idp_strv_free(sv);
    idp_strv_split(sv, value, ws);
}

/* Applies the URI options (and a Frappe site, whose login URIs always stay first). */
static void apply_uris(const client_opts_t *o, idp_client_t *c)
{
    const char *const *v = o->value;

    if (v[C_REDIRECT_URIS] != NULL) {
        set_list(&c->redirect_uris, v[C_REDIRECT_URIS], 1);
        if (c->default_redirect_uri != NULL && !idp_strv_has(&c->redirect_uris, c->default_redirect_uri))
            ctl_replace(&c->default_redirect_uri, NULL); /* becomes the first of the new list */
    }
    if (v[C_NO_FRAPPE_SITE] != NULL)
        ctl_replace(&c->frappe_site, NULL); /* its URIs and auth method stay until changed */
    /* a Frappe site's --redirect-uris are extra ones (a Connected App's callback): its login URIs always stay */
    if (o->frappe_site != NULL || (v[C_REDIRECT_URIS] != NULL && c->frappe_site != NULL))
        idp_client_set_frappe_site(c, o->frappe_site != NULL ? o->frappe_site : c->frappe_site);
    if (v[C_DEFAULT_REDIRECT] != NULL)
        ctl_replace(&c->default_redirect_uri, v[C_DEFAULT_REDIRECT]);
    if (v[C_BACKCHANNEL] != NULL)
        ctl_replace(&c->backchannel_logout_uri, v[C_BACKCHANNEL]);
    if (v[C_POST_LOGOUT] != NULL)
        set_list(&c->post_logout_redirect_uris, v[C_POST_LOGOUT], 1);
}

/* Applies the given options to c; a secret is made (into secret) when c needs one and has none. */
static void apply_client_opts(const client_opts_t *o, idp_client_t *c, char secret[44])
{
    const char *const *v = o->value;

    if (v[C_APP_NAME] != NULL)
        ctl_replace(&c->app_name, v[C_APP_NAME]);
    apply_uris(o, c);
    if (v[C_SCOPES] != NULL)
        set_list(&c->scopes, v[C_SCOPES], 1);
    if (v[C_GRANT] != NULL) {
        c->grant_type = o->grant;
        if (v[C_RESPONSE] == NULL) /* the type that pairs with it */
            c->response_type = o->grant == IDP_GRANT_IMPLICIT ? IDP_RESPONSE_TOKEN : IDP_RESPONSE_CODE;
    }
    if (v[C_RESPONSE] != NULL)
        c->response_type = o->response;
    if (v[C_SKIP] != NULL || v[C_NO_SKIP] != NULL)
        c->skip_authorization = v[C_SKIP] != NULL;
    if (v[C_INTROSPECT_ANY] != NULL || v[C_NO_INTROSPECT_ANY] != NULL)
        c->introspect_any = v[C_INTROSPECT_ANY] != NULL;
    if (v[C_AUTH] != NULL)
        c->auth_method = o->auth;
    if (v[C_ALLOWED_ROLES] != NULL)
        set_list(&c->allowed_roles, v[C_ALLOWED_ROLES], 0);
    if (v[C_ROLE] != NULL) {
        set_list(&c->service_roles, "", 0);
        for (size_t i = 0; i != o->roles.n; ++i)
            idp_strv_add(&c->service_roles, o->roles.v[i]);
    }
    if (c->auth_method == IDP_AUTH_NONE)
        ctl_replace(&c->secret_hash, NULL);
    else if (c->secret_hash == NULL)
        idp_client_new_secret(c, secret);
}

typedef struct {
    ctl_t *ctl;
    const char *id; /* update, del, rotate-secret */
    client_opts_t opts;
    idp_client_t *client; /* the client written */
    char secret[44];      /* a new secret to print, or "" */
} client_arg_t;

static idp_client_t *new_client(void)
{
    idp_client_t *c = hub_xcalloc(1, sizeof(*c));
    c->enabled = 1;
    idp_strv_split(&c->scopes, DEFAULT_SCOPES, 1);
    idp_strv_split(&c->redirect_uris, "", 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    return c;
}

/* Refuses (exit 2) the first role of roles that does not exist, naming field's option. */
static int check_roles(ctl_t *ctl, hub_txn_t *txn, const idp_strv_t *roles, idp_field_t field)
{
    idp_invalid_t inv;
    int ret = idp_roles_exist(txn, roles, field, &inv);
    return ret == HUB_E_NOTFOUND ? ctl_refuse_invalid(ctl, EXIT_USAGE, &inv) : ret;
}

static int client_write_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_client_t *c = NULL;
    idp_invalid_t inv;
    int ret;

    idp_client_free(a->client);
    a->client = NULL;
    a->secret[0] = '\0';
    if (a->id == NULL)
        c = new_client();
    else if ((ret = idp_client_get(txn, a->id, &c)) != 0)
        return ret == HUB_E_NOTFOUND ? ctl_refuse(a->ctl, EXIT_USAGE, "ID: no client \"%s\"", a->id) : ret;
    a->client = c;
    apply_client_opts(&a->opts, c, a->secret);
    if (idp_client_validate(c, &inv) != 0)
        return ctl_refuse_invalid(a->ctl, EXIT_USAGE, &inv);
    if ((ret = check_roles(a->ctl, txn, &c->allowed_roles, IDP_FIELD_ALLOWED_ROLES)) != 0 ||
        (ret = check_roles(a->ctl, txn, &c->service_roles, IDP_FIELD_SERVICE_ROLES)) != 0)
        return ret;
    return idp_client_put(txn, c);
}

static int cmd_client_write(ctl_t *ctl, int argc, char **argv, int update)
{
    static const char *const names[] = {"ID"};
    client_arg_t a = {ctl};
    int ret;

    if ((ret = parse_client_opts(ctl, argc, argv, &a.opts)) != EXIT_OK) {
        ret = CTL_ARGS_DONE(ret);
        goto out;
    }
    if ((ret = ctl_positionals(ctl, argc, argv, update ? 1 : 0, names, &a.id)) != EXIT_OK)
        goto out;
    if (!update && a.opts.value[C_APP_NAME] == NULL) {
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
    idp_strv_free(&a.opts.roles);
    free(a.opts.frappe_site);
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
    int ret = idp_client_remove(txn, a->id);
    return ret == HUB_E_NOTFOUND ? ctl_refuse(a->ctl, EXIT_USAGE, "ID: no client \"%s\"", a->id) : ret;
}

static int client_rotate_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_client_t *c = NULL;
    int ret;

    if ((ret = idp_client_get(txn, a->id, &c)) != 0)
        return ret == HUB_E_NOTFOUND ? ctl_refuse(a->ctl, EXIT_USAGE, "ID: no client \"%s\"", a->id) : ret;
    if (c->auth_method == IDP_AUTH_NONE)
        ret = ctl_refuse(a->ctl, EXIT_USAGE, "ID: client \"%s\" uses auth method none and has no secret", a->id);
    else
        idp_client_new_secret(c, a->secret);
    if (ret == 0)
        ret = idp_client_put(txn, c);
    idp_client_free(c);
    return ret;
}

static int cmd_client_by_id(ctl_t *ctl, int argc, char **argv, int (*fn)(hub_txn_t *, void *))
{
    static const char *const names[] = {"ID"};
    client_arg_t a = {ctl};
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 1, names, &a.id)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = ctl_write(ctl, fn, &a)) == EXIT_OK && a.secret[0] != '\0')
        printf("client_secret: %s\n", a.secret);
    OPENSSL_cleanse(a.secret, sizeof(a.secret));
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
