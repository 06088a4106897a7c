/* hubctl node: join-token, list, revoke. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/config.h"
#include "hub/err.h"
#include "idp/join_token.h"
#include "idp/node.h"
#include "tools/hubctl/hubctl.h"

typedef struct {
    ctl_t *ctl;
    const char *name, *id;
    uint64_t ttl;
    char token[44];
} node_arg_t;

static int join_token_txn(hub_txn_t *txn, void *arg)
{
    node_arg_t *a = arg;
    return idp_join_token_create(txn, a->name, a->ttl, a->token);
}

/* Parses join-token's options into a. EXIT_OK, an exit code, or -1 for --help. */
static int join_token_opts(ctl_t *ctl, int argc, char **argv, node_arg_t *a)
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"ttl", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    idp_invalid_t inv;
    int c;

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'n') {
            a->name = optarg;
            if (idp_join_token_name_check(optarg, &inv) != 0)
                return ctl_say_invalid(EXIT_USAGE, &inv);
        } else if (c == 't') {
            if (idp_join_token_ttl_parse(optarg, &a->ttl, &inv) != 0)
                return ctl_say_invalid(EXIT_USAGE, &inv);
        } else if (c == 'j') {
            ctl->json = 1;
        } else if (c == 'h') {
            return ctl_print_usage(ctl) - 1;
        } else {
            return ctl_bad_option(ctl, c, argv);
        }
    }
    return EXIT_OK;
}

static int cmd_node_join_token(ctl_t *ctl, int argc, char **argv)
{
    node_arg_t a = {ctl};
    int ret;

    a.ttl = IDP_JOIN_TOKEN_TTL_DEFAULT;
    if ((ret = join_token_opts(ctl, argc, argv, &a)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = ctl_positionals(ctl, argc, argv, 0, NULL, NULL)) != EXIT_OK)
        return ret;
    if ((ret = ctl_write(ctl, join_token_txn, &a)) != EXIT_OK)
        return ret;
    if (ctl->json) {
        json_t *o = json_object();
        json_object_set_new(o, "token", json_string(a.token));
        json_object_set_new(o, "name", a.name != NULL ? json_string(a.name) : json_null());
        json_object_set_new(o, "expires_at", json_integer((json_int_t)(hub_now() + a.ttl)));
        ctl_print_json(o);
    } else {
        printf("%s\n", a.token);
    }
    OPENSSL_cleanse(a.token, sizeof(a.token));
    return EXIT_OK;
}

static int print_node_row(void *arg, const idp_node_t *n)
{
    json_t *list = arg;
    if (list != NULL)
        json_array_append_new(list, idp_node_to_json(n));
    else
        printf("%-24s %-20s %-32s %s\n", n->id, n->name != NULL ? n->name : "-", n->public_url != NULL ? n->public_url : "-",
               n->revoked ? "revoked" : "active");
    return 0;
}

static int walk_nodes(hub_txn_t *txn, json_t *list)
{
    return idp_node_each(txn, print_node_row, list);
}

static int cmd_node_list(ctl_t *ctl, int argc, char **argv)
{
    return ctl_run_list(ctl, argc, argv, "ID                       NAME                 PUBLIC_URL                       STATE\n",
                        walk_nodes);
}

static int node_revoke_txn(hub_txn_t *txn, void *arg)
{
    node_arg_t *a = arg;
    int ret = idp_node_revoke(txn, a->id);
    return ret == HUB_E_NOTFOUND ? ctl_refuse(a->ctl, EXIT_USAGE, "ID: no node \"%s\"", a->id) : ret;
}

static int cmd_node_revoke(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"ID"};
    node_arg_t a = {ctl};
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 1, names, &a.id)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    return ctl_write(ctl, node_revoke_txn, &a);
}

const ctl_command_t ctl_node_commands[] = {
    {"node join-token", cmd_node_join_token, "[--name N] [--ttl DURATION] [--json]"},
    {"node list", cmd_node_list, "[--json]"},
    {"node revoke", cmd_node_revoke, "ID"},
    {NULL},
};
