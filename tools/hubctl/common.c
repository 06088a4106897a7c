/* hubctl's shared parts: one-line messages, write transactions, option and argument parsing, list/show printing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/keys.h"
#include "tools/hubctl/hubctl.h"

#define MAX_LINE 2048 /* longer messages (a huge argument) end in "..." */

/* ---- messages ---- */

static int vsay(int code, const char *fmt, va_list ap)
{
    char raw[MAX_LINE], line[MAX_LINE];

    vsnprintf(raw, sizeof(raw), fmt, ap);
    /* a value echoed into the message (a name, an option's argument) never breaks the line or reaches the terminal raw */
    fprintf(stderr, "hubctl: %s\n", idp_quote(line, sizeof(line), raw));
    return code;
}

int ctl_say(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = vsay(code, fmt, ap);
    va_end(ap);
    return code;
}

int ctl_say_invalid(int code, const idp_invalid_t *inv)
{
    return ctl_say(code, "%s: %s", idp_field_option(inv->field), inv->text);
}

int ctl_refuse(ctl_t *ctl, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctl->msg, sizeof(ctl->msg), fmt, ap);
    va_end(ap);
    ctl->refused = code;
    return HUB_E_INVAL;
}

int ctl_refuse_invalid(ctl_t *ctl, int code, const idp_invalid_t *inv)
{
    return ctl_refuse(ctl, code, "%s: %s", idp_field_option(inv->field), inv->text);
}

int ctl_write(ctl_t *ctl, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    int ret;
    ctl->refused = 0;
    ctl->msg[0] = '\0';
    if ((ret = hub_store_write(ctl->store, fn, arg)) == 0)
        return EXIT_OK;
    if (ctl->refused != 0)
        return ctl_say(ctl->refused, "%s", ctl->msg);
    return ctl_say(EXIT_RUNTIME, "%s: %s", ctl->cmd->words, hub_strerror(ret));
}

/* ---- arguments ---- */

/* The long option that arg ("--name" or "--name=value") selects, exactly or as GNU's unique abbreviation. */
static const struct option *long_option(const struct option *opts, const char *arg)
{
    const struct option *found = NULL;
    size_t len = strcspn(arg, "=");
    for (const struct option *o = opts; o->name != NULL; ++o) {
        if (strncmp(o->name, arg, len) != 0)
            continue;
        if (o->name[len] == '\0')
            return o;
        if (found != NULL)
            return NULL; /* ambiguous: getopt reports it */
        found = o;
    }
    return found;
}

/* Our commands have long options only (and -h), so an argument such as "-8BEDJfo" in the place of an ID is an
 * argument: it is replaced by a mark getopt leaves alone, and ctl_positionals gives the original back. */
static void hide_dash_args(ctl_t *ctl, int argc, char **argv, const struct option *opts)
{
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return;
        if (strncmp(a, "--", 2) == 0) {
            const struct option *o = long_option(opts, a + 2);
            if (o != NULL && o->has_arg == required_argument && strchr(a, '=') == NULL)
                ++i; /* its value, whatever it looks like */
        } else if (a[0] == '-' && a[1] != '\0' && strcmp(a, "-h") != 0 &&
                   ctl->nhidden < sizeof(ctl->hidden) / sizeof(ctl->hidden[0])) {
            snprintf(ctl->marks[ctl->nhidden], sizeof(ctl->marks[0]), "\x1d%zu", ctl->nhidden);
            ctl->hidden[ctl->nhidden] = argv[i];
            argv[i] = ctl->marks[ctl->nhidden++];
        }
    }
}

static const char *unhide(ctl_t *ctl, const char *arg)
{
    for (size_t i = 0; i != ctl->nhidden; ++i)
        if (arg == ctl->marks[i])
            return ctl->hidden[i];
    return arg;
}

int ctl_next_opt(ctl_t *ctl, int argc, char **argv, const struct option *opts)
{
    if (!ctl->scanned) {
        ctl->scanned = 1;
        optind = 0;
        hide_dash_args(ctl, argc, argv, opts);
    }
    return getopt_long(argc, argv, ":h", opts, NULL);
}

int ctl_bad_option(ctl_t *ctl, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    if (c == '?' && optopt != 0)
        arg = shortopt;
    if (c == ':')
        return ctl_say(EXIT_USAGE, "%s: %s: missing value", ctl->cmd->words, arg);
    return ctl_say(EXIT_USAGE, "%s: unknown option %s (usage: hubctl -d DIR %s %s)", ctl->cmd->words, arg, ctl->cmd->words,
                   ctl->cmd->usage);
}

int ctl_print_usage(ctl_t *ctl)
{
    printf("usage: hubctl -d DATA_DIR %s %s\n", ctl->cmd->words, ctl->cmd->usage);
    return EXIT_OK;
}

int ctl_positionals(ctl_t *ctl, int argc, char **argv, size_t n, const char *const *names, const char **out)
{
    size_t have = (size_t)(argc - optind);
    if (have < n)
        return ctl_say(EXIT_USAGE, "%s: missing %s", ctl->cmd->words, names[have]);
    if (have > n)
        return ctl_say(EXIT_USAGE, "%s: unexpected argument \"%s\"", ctl->cmd->words, unhide(ctl, argv[optind + (int)n]));
    for (size_t i = 0; i != n; ++i) {
        out[i] = unhide(ctl, argv[optind + (int)i]);
        if (out[i][0] == '\0')
            return ctl_say(EXIT_USAGE, "%s: %s must not be empty", ctl->cmd->words, names[i]);
    }
    return EXIT_OK;
}

int ctl_simple_args(ctl_t *ctl, int argc, char **argv, int json, size_t n, const char *const *names, const char **out)
{
    static const struct option with_json[] = {
        {"json", no_argument, NULL, CTL_OPT_JSON}, {"help", no_argument, NULL, CTL_OPT_HELP}, {0}};
    static const struct option without[] = {{"help", no_argument, NULL, CTL_OPT_HELP}, {0}};
    int c;

    while ((c = ctl_next_opt(ctl, argc, argv, json ? with_json : without)) != -1) {
        if (c == CTL_OPT_JSON)
            ctl->json = 1;
        else if (c == CTL_OPT_HELP)
            return ctl_print_usage(ctl) - 1; /* -1: handled, exit 0 */
        else
            return ctl_bad_option(ctl, c, argv);
    }
    return ctl_positionals(ctl, argc, argv, n, names, out);
}

void ctl_add_roles(idp_strv_t *sv, const char *value)
{
    idp_strv_t more;
    idp_strv_split(&more, value, 0);
    for (size_t i = 0; i != more.n; ++i)
        idp_strv_add(sv, more.v[i]);
    idp_strv_free(&more);
}

void ctl_replace(char **dst, const char *s)
{
    free(*dst);
    *dst = s != NULL && s[0] != '\0' ? hub_strdup(s) : NULL;
}

/* ---- output ---- */

void ctl_print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(j);
}

/* Prints an object as "key: value" lines (arrays joined with "; ", null as "-"). */
static void print_fields(const json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        printf("%s: ", key);
        if (json_is_string(v)) {
            fputs(json_string_value(v), stdout);
        } else if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) printf("%s%s", i != 0 ? "; " : "", json_string_value(item));
        } else if (json_is_null(v)) {
            fputs("-", stdout);
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            fputs(s, stdout);
            free(s);
        }
        fputc('\n', stdout);
    }
}

int ctl_list_begin(ctl_t *ctl, int argc, char **argv, const char *header, json_t **list)
{
    int ret;

    *list = NULL;
    if ((ret = ctl_simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return ret;
    if (ctl->json)
        *list = json_array();
    else
        fputs(header, stdout);
    return EXIT_OK;
}

int ctl_list_end(ctl_t *ctl, json_t *list, int ret)
{
    if (ret != 0) {
        json_decref(list);
        return ctl_say(EXIT_RUNTIME, "%s: %s", ctl->cmd->words, hub_strerror(ret));
    }
    if (list != NULL)
        ctl_print_json(list);
    return EXIT_OK;
}

int ctl_run_list(ctl_t *ctl, int argc, char **argv, const char *header, int (*walk)(hub_txn_t *txn, json_t *list))
{
    hub_txn_t *txn;
    json_t *list;
    int ret;

    if ((ret = ctl_list_begin(ctl, argc, argv, header, &list)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = walk(txn, list);
        hub_store_read_end(txn);
    }
    return ctl_list_end(ctl, list, ret);
}

int ctl_run_show(ctl_t *ctl, int argc, char **argv, const char *what, const char *arg_name,
                 json_t *(*load)(hub_txn_t *txn, const char *key, int *ret))
{
    const char *const names[] = {arg_name};
    const char *key = NULL; /* set by ctl_simple_args; NULL only to quiet -Wmaybe-uninitialized at -O3 */
    hub_txn_t *txn;
    json_t *j = NULL;
    int ret;

    if ((ret = ctl_simple_args(ctl, argc, argv, 1, 1, names, &key)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        j = load(txn, key, &ret);
        hub_store_read_end(txn);
    }
    if (ret == HUB_E_NOTFOUND)
        return ctl_say(EXIT_USAGE, "%s: no %s \"%s\"", arg_name, what, key);
    if (ret != 0)
        return ctl_say(EXIT_RUNTIME, "%s show: %s", what, hub_strerror(ret));
    if (ctl->json) {
        ctl_print_json(j);
    } else {
        print_fields(j);
        json_decref(j);
    }
    return EXIT_OK;
}

int ctl_keys_config(ctl_t *ctl, hub_config_t *cfg)
{
    hub_txn_t *txn;
    int ret;

    hub_config_defaults(cfg);
    free(cfg->node.data_dir);
    cfg->node.data_dir = hub_strdup(ctl->data_dir);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) != 0)
        return ret;
    ret = idp_keys_policy_load(txn, cfg);
    hub_store_read_end(txn);
    return ret;
}

int ctl_keys_vault(ctl_t *ctl, const hub_config_t *cfg, idp_keyvault_t **out)
{
    char why[512];
    if (idp_keyvault_open(out, cfg, ctl->data_dir, why, sizeof(why)) != 0)
        return ctl_say(EXIT_RUNTIME, "primary.cluster_secret_file: %s", why);
    return EXIT_OK;
}
