/* hubctl: administers a primary's data directory (SPEC §2): users, roles, clients, settings, nodes and signing keys. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/config.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/store.h"
#include "idp/keyring.h"
#include "idp/client.h"
#include "idp/frappe_site.h"
#include "idp/join_token.h"
#include "idp/node.h"
#include "idp/password.h"
#include "idp/role.h"
#include "idp/settings.h"
#include "idp/user.h"
#include "idp/revocation.h"

/* Exit codes of SPEC §2. */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define MAX_PASSWORD 1024
#define MIN_PASSWORD 8
#define DEFAULT_SCOPES "openid;profile;email;roles"
#define DEFAULT_JOIN_TTL 3600

typedef struct st_command_t command_t;

typedef struct st_ctl_t {
    const char *data_dir;
    const command_t *cmd;
    hub_store_t *store;
    int json;
    /* set by a transaction that refuses a change: the exit code and the one line to print */
    int refused;
    char msg[600];
    /* arguments that begin with '-' but are no option (a random id may), hidden from getopt */
    int scanned;
    size_t nhidden;
    char *hidden[16];
    char marks[16][8];
} ctl_t;

struct st_command_t {
    const char *words; /* "user add" */
    int (*run)(ctl_t *ctl, int argc, char **argv);
    const char *usage;
};

/* ---- messages ---- */

static int say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("hubctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* Inside a write transaction: records why the change is refused and aborts it. */
static int refuse(ctl_t *ctl, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(ctl_t *ctl, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctl->msg, sizeof(ctl->msg), fmt, ap);
    va_end(ap);
    ctl->refused = code;
    return HUB_E_INVAL;
}

/* Runs fn in one write transaction; a refused or failed change has written nothing. */
static int write_txn(ctl_t *ctl, int (*fn)(hub_txn_t *txn, void *arg), void *arg)
{
    int ret;
    ctl->refused = 0;
    ctl->msg[0] = '\0';
    if ((ret = hub_store_write(ctl->store, fn, arg)) == 0)
        return EXIT_OK;
    if (ctl->refused != 0)
        return say(ctl->refused, "%s", ctl->msg);
    return say(EXIT_RUNTIME, "%s: %s", ctl->cmd->words, hub_strerror(ret));
}

static void print_json(json_t *j)
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

/* ---- argument parsing ---- */

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
 * argument: it is replaced by a mark getopt leaves alone, and positionals() gives the original back. */
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

/* getopt_long over a command's options (the first call starts the scan). */
static int next_opt(ctl_t *ctl, int argc, char **argv, const struct option *opts)
{
    if (!ctl->scanned) {
        ctl->scanned = 1;
        optind = 0;
        hide_dash_args(ctl, argc, argv, opts);
    }
    return getopt_long(argc, argv, ":h", opts, NULL);
}

/* One line for getopt's complaint about argv[optind - 1]. */
static int bad_option(ctl_t *ctl, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    if (c == '?' && optopt != 0)
        arg = shortopt;
    if (c == ':')
        return say(EXIT_USAGE, "%s: %s: missing value", ctl->cmd->words, arg);
    return say(EXIT_USAGE, "%s: unknown option %s (usage: hubctl -d DIR %s %s)", ctl->cmd->words, arg, ctl->cmd->words,
               ctl->cmd->usage);
}

static int print_usage(ctl_t *ctl)
{
    printf("usage: hubctl -d DATA_DIR %s %s\n", ctl->cmd->words, ctl->cmd->usage);
    return EXIT_OK;
}

/* After options: exactly n positional arguments named by names (e.g. "NAME"). */
static int positionals(ctl_t *ctl, int argc, char **argv, size_t n, const char *const *names, const char **out)
{
    size_t have = (size_t)(argc - optind);
    if (have < n)
        return say(EXIT_USAGE, "%s: missing %s", ctl->cmd->words, names[have]);
    if (have > n)
        return say(EXIT_USAGE, "%s: unexpected argument \"%s\"", ctl->cmd->words, unhide(ctl, argv[optind + (int)n]));
    for (size_t i = 0; i != n; ++i) {
        out[i] = unhide(ctl, argv[optind + (int)i]);
        if (out[i][0] == '\0')
            return say(EXIT_USAGE, "%s: %s must not be empty", ctl->cmd->words, names[i]);
    }
    return EXIT_OK;
}

enum { OPT_HELP = 'h', OPT_JSON = 1000 };

/* Commands whose only options are --json (reads) or none: n positional arguments. */
static int simple_args(ctl_t *ctl, int argc, char **argv, int json, size_t n, const char *const *names, const char **out)
{
    static const struct option with_json[] = {{"json", no_argument, NULL, OPT_JSON}, {"help", no_argument, NULL, OPT_HELP}, {0}};
    static const struct option without[] = {{"help", no_argument, NULL, OPT_HELP}, {0}};
    int c;

    while ((c = next_opt(ctl, argc, argv, json ? with_json : without)) != -1) {
        if (c == OPT_JSON)
            ctl->json = 1;
        else if (c == OPT_HELP)
            return print_usage(ctl) - 1; /* -1: handled, exit 0 */
        else
            return bad_option(ctl, c, argv);
    }
    return positionals(ctl, argc, argv, n, names, out);
}

/* The exit code of simple_args' "--help handled" result. */
#define ARGS_DONE(r) ((r) < 0 ? EXIT_OK : (r))

/* Reads a password from path (NULL = stdin): at most MAX_PASSWORD bytes, one trailing newline dropped. */
static int read_password(const char *path, char *buf, size_t *len)
{
    const char *what = path != NULL ? "--password-file" : "password (stdin)";
    FILE *fp = path != NULL ? fopen(path, "r") : stdin;
    struct termios old, quiet;
    int tty = path == NULL && isatty(STDIN_FILENO), ret = EXIT_OK;
    size_t n = 0, chars = 0;

    if (fp == NULL)
        return say(EXIT_USAGE, "%s: %s: %s", what, path, strerror(errno));
    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        fputs("Password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        if (fgets(buf, MAX_PASSWORD + 2, fp) != NULL)
            n = strlen(buf);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    } else {
        n = fread(buf, 1, MAX_PASSWORD + 2, fp);
    }
    if (path != NULL)
        fclose(fp);
    if (n > 0 && buf[n - 1] == '\n')
        --n;
    buf[n] = '\0';
    for (size_t i = 0; i != n; ++i)
        chars += ((unsigned char)buf[i] & 0xc0) != 0x80;
    if (n == 0)
        ret = say(EXIT_USAGE, "%s: the password is empty", what);
    else if (n > MAX_PASSWORD)
        ret = say(EXIT_USAGE, "%s: the password is longer than %d bytes", what, MAX_PASSWORD);
    else if (memchr(buf, '\0', n) != NULL)
        ret = say(EXIT_USAGE, "%s: the password contains a NUL byte", what);
    else if (chars < MIN_PASSWORD)
        ret = say(EXIT_USAGE, "%s: the password must have at least %d characters", what, MIN_PASSWORD);
    *len = n;
    return ret;
}

/* Reads and hashes a password (Argon2id) into *hash. */
static int new_password(const char *path, char **hash)
{
    char buf[MAX_PASSWORD + 3];
    size_t len = 0;
    int ret = read_password(path, buf, &len);

    if (ret == EXIT_OK && idp_password_hash(buf, len, hash) != 0)
        ret = say(EXIT_RUNTIME, "cannot hash the password");
    OPENSSL_cleanse(buf, sizeof(buf));
    return ret;
}

/* Appends the roles of a --role value (one role, or several separated by ';'). */
static void add_roles(idp_strv_t *sv, const char *value)
{
    idp_strv_t more;
    idp_strv_split(&more, value, 0);
    for (size_t i = 0; i != more.n; ++i) {
        if (idp_strv_has(sv, more.v[i]))
            continue;
        char **v = realloc(sv->v, (sv->n + 2) * sizeof(char *));
        if (v == NULL)
            abort();
        sv->v = v;
        v[sv->n++] = more.v[i];
        v[sv->n] = NULL;
        more.v[i] = NULL; /* moved; a role already held stays in more and is freed with it */
    }
    idp_strv_free(&more);
}

static void remove_role(idp_strv_t *sv, const char *role)
{
    for (size_t i = 0; i != sv->n; ++i)
        if (strcmp(sv->v[i], role) == 0) {
            free(sv->v[i]);
            memmove(sv->v + i, sv->v + i + 1, (sv->n - i) * sizeof(char *));
            --sv->n;
            return;
        }
}

/* Refuses (exit 2) the first role of roles that does not exist, naming option. */
static int check_roles(ctl_t *ctl, hub_txn_t *txn, const idp_strv_t *roles, const char *option)
{
    for (size_t i = 0; i != roles->n; ++i)
        if (!idp_role_exists(txn, roles->v[i]))
            return refuse(ctl, EXIT_USAGE, "%s: role \"%s\" does not exist", option, roles->v[i]);
    return 0;
}

static char *xstrdup(const char *s)
{
    char *copy;
    if (s == NULL)
        return NULL;
    if ((copy = strdup(s)) == NULL)
        abort();
    return copy;
}

static void replace(char **dst, const char *s)
{
    free(*dst);
    *dst = s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

/* ---- init ---- */

static int count_key(void *arg, const idp_key_info_t *info)
{
    ++*(size_t *)arg;
    return 0;
}

static int init_roles_txn(hub_txn_t *txn, void *arg)
{
    return idp_roles_add_builtin(txn);
}

/* Fills cfg for the keyring's operator commands: defaults, the data dir and the saved rotation policy. */
static int keys_config(ctl_t *ctl, hub_config_t *cfg)
{
    hub_txn_t *txn;
    int ret;

    hub_config_defaults(cfg);
    free(cfg->node.data_dir);
    cfg->node.data_dir = xstrdup(ctl->data_dir);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) != 0)
        return ret;
    ret = idp_keys_policy_load(txn, cfg);
    hub_store_read_end(txn);
    return ret;
}

static int initialised(ctl_t *ctl, int *yes)
{
    hub_config_t cfg;
    hub_txn_t *txn;
    size_t keys = 0;
    int ret;

    *yes = 0;
    if ((ret = keys_config(ctl, &cfg)) == 0 && (ret = idp_keys_list(ctl->store, &cfg, count_key, &keys)) == 0 &&
        (ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        *yes = keys != 0 || idp_role_exists(txn, IDP_ROLE_SYSTEM_MANAGER);
        hub_store_read_end(txn);
    }
    hub_config_dispose(&cfg);
    return ret;
}

static int cmd_init(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"alg", required_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {0}};
    hub_alg_t alg = HUB_ALG_RS256;
    int c, ret, yes;

    while ((c = next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'a') {
            if (hub_alg_parse(optarg, &alg) != 0)
                return say(EXIT_USAGE, "--alg: \"%s\" is not RS256, ES256 or EdDSA", optarg);
        } else if (c == 'h') {
            return print_usage(ctl);
        } else {
            return bad_option(ctl, c, argv);
        }
    }
    if ((ret = positionals(ctl, argc, argv, 0, NULL, NULL)) != EXIT_OK)
        return ret;
    if ((ret = hub_store_open(&ctl->store, ctl->data_dir)) != 0)
        return say(EXIT_RUNTIME, "%s: cannot open the store: %s", ctl->data_dir, hub_strerror(ret));
    if ((ret = initialised(ctl, &yes)) != 0)
        return say(EXIT_RUNTIME, "%s: %s", ctl->data_dir, hub_strerror(ret));
    if (yes)
        return say(EXIT_RUNTIME, "%s: already initialised", ctl->data_dir);
    if ((ret = idp_keys_init(ctl->store, ctl->data_dir, alg)) != 0)
        return say(EXIT_RUNTIME, "%s: %s", ctl->data_dir,
                   ret == HUB_E_EXISTS ? "already initialised" : "cannot create the signing key");
    if ((ret = hub_store_write(ctl->store, init_roles_txn, NULL)) != 0)
        return say(EXIT_RUNTIME, "%s: cannot create the roles: %s", ctl->data_dir, hub_strerror(ret));
    printf("initialised %s (signing key %s, roles \"%s\" and \"%s\")\n", ctl->data_dir, hub_alg_name(alg), IDP_ROLE_SYSTEM_MANAGER,
           IDP_ROLE_GUEST);
    return EXIT_OK;
}

/* ---- users ---- */

typedef enum { USER_DEL, USER_PASSWD, USER_ENABLE, USER_DISABLE, USER_ROLES } user_op_t;

typedef struct {
    ctl_t *ctl;
    user_op_t op;
    const char *name;
    idp_user_t *user;       /* user add: the new user */
    char *password_hash;    /* user passwd */
    idp_strv_t add, remove; /* user roles */
} user_arg_t;

/* Loads the user named by a->name (username or e-mail) or refuses. */
static int load_user(user_arg_t *a, hub_txn_t *txn, idp_user_t **u)
{
    int ret = idp_user_find(txn, a->name, u);
    if (ret == HUB_E_NOTFOUND)
        return refuse(a->ctl, EXIT_USAGE, "NAME: no user \"%s\"", a->name);
    return ret;
}

static int user_add_txn(hub_txn_t *txn, void *arg)
{
    user_arg_t *a = arg;
    idp_user_t *other = NULL;
    int ret;

    free(a->user->sub); /* a rerun starts afresh */
    a->user->sub = NULL;
    if ((ret = check_roles(a->ctl, txn, &a->user->roles, "--role")) != 0)
        return ret;
    if (idp_user_find(txn, a->user->username, &other) == 0) {
        idp_user_free(other);
        return refuse(a->ctl, EXIT_USAGE, "NAME: user \"%s\" already exists", a->user->username);
    }
    if ((ret = idp_user_put(txn, a->user)) == HUB_E_EXISTS)
        return refuse(a->ctl, EXIT_USAGE, "--email: \"%s\" belongs to another user", a->user->email);
    return ret;
}

static int cmd_user_add(ctl_t *ctl, int argc, char **argv)
{
    enum { O_EMAIL = 1, O_FULL, O_GIVEN, O_FAMILY, O_ROLE, O_PWFILE };
    static const struct option opts[] = {{"email", required_argument, NULL, O_EMAIL},
                                         {"full-name", required_argument, NULL, O_FULL},
                                         {"given-name", required_argument, NULL, O_GIVEN},
                                         {"family-name", required_argument, NULL, O_FAMILY},
                                         {"role", required_argument, NULL, O_ROLE},
                                         {"password-file", required_argument, NULL, O_PWFILE},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    static const char *const names[] = {"NAME"};
    idp_user_t *u = calloc(1, sizeof(*u));
    user_arg_t a = {ctl};
    const char *pwfile = NULL, *name;
    idp_invalid_t inv;
    int c, ret;

    if (u == NULL)
        abort();
    idp_strv_split(&u->roles, "", 0);
    while ((c = next_opt(ctl, argc, argv, opts)) != -1) {
        switch (c) {
        case O_EMAIL:
            replace(&u->email, optarg);
            break;
        case O_FULL:
            replace(&u->full_name, optarg);
            break;
        case O_GIVEN:
            replace(&u->given_name, optarg);
            break;
        case O_FAMILY:
            replace(&u->family_name, optarg);
            break;
        case O_ROLE:
            add_roles(&u->roles, optarg);
            break;
        case O_PWFILE:
            pwfile = optarg;
            break;
        case 'h':
            ret = print_usage(ctl);
            goto out;
        default:
            ret = bad_option(ctl, c, argv);
            goto out;
        }
    }
    if ((ret = positionals(ctl, argc, argv, 1, names, &name)) != EXIT_OK)
        goto out;
    u->username = xstrdup(name);
    if (u->email == NULL) {
        ret = say(EXIT_USAGE, "--email: required");
        goto out;
    }
    if (idp_user_validate(u, &inv) != 0) {
        ret = say(EXIT_USAGE, "%s: %s", idp_field_option(inv.field), inv.text);
        goto out;
    }
    if ((ret = new_password(pwfile, &u->password_hash)) != EXIT_OK)
        goto out;
    u->enabled = 1;
    u->email_verified = 1; /* set by the operator */
    a.user = u;
    if ((ret = write_txn(ctl, user_add_txn, &a)) == EXIT_OK)
        printf("sub: %s\n", u->sub);
out:
    idp_user_free(u);
    return ret;
}

/* user/client/node list: one read transaction walking the records, as a table or --json. */
static int run_list(ctl_t *ctl, int argc, char **argv, const char *what, const char *header,
                    int (*walk)(hub_txn_t *txn, json_t *list))
{
    hub_txn_t *txn;
    json_t *list = NULL;
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return ARGS_DONE(ret);
    if (ctl->json)
        list = json_array();
    else
        fputs(header, stdout);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = walk(txn, list);
        hub_store_read_end(txn);
    }
    if (ret != 0) {
        json_decref(list);
        return say(EXIT_RUNTIME, "%s list: %s", what, hub_strerror(ret));
    }
    if (list != NULL)
        print_json(list);
    return EXIT_OK;
}

/* user/client show: one record by its NAME or ID, as key: value lines or --json. load
 * returns the record's JSON (new reference) or NULL with *ret set. */
static int run_show(ctl_t *ctl, int argc, char **argv, const char *what, const char *arg_name,
                    json_t *(*load)(hub_txn_t *txn, const char *key, int *ret))
{
    const char *const names[] = {arg_name};
    const char *key;
    hub_txn_t *txn;
    json_t *j = NULL;
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 1, 1, names, &key)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        j = load(txn, key, &ret);
        hub_store_read_end(txn);
    }
    if (ret == HUB_E_NOTFOUND)
        return say(EXIT_USAGE, "%s: no %s \"%s\"", arg_name, what, key);
    if (ret != 0)
        return say(EXIT_RUNTIME, "%s show: %s", what, hub_strerror(ret));
    if (ctl->json) {
        print_json(j);
    } else {
        print_fields(j);
        json_decref(j);
    }
    return EXIT_OK;
}

static int print_user_row(void *arg, const idp_user_t *u)
{
    json_t *list = arg;
    if (list != NULL) {
        json_array_append_new(list, idp_user_to_json(u));
    } else {
        char *roles = idp_strv_join(&u->roles, "; ");
        printf("%-24s %-32s %-8s %s\n", u->username, u->email, u->enabled ? "enabled" : "disabled", roles);
        free(roles);
    }
    return 0;
}

static int walk_users(hub_txn_t *txn, json_t *list)
{
    return idp_user_each(txn, print_user_row, list);
}

static int cmd_user_list(ctl_t *ctl, int argc, char **argv)
{
    return run_list(ctl, argc, argv, "user", "USERNAME                 EMAIL                            STATE    ROLES\n",
                    walk_users);
}

static json_t *load_user_json(hub_txn_t *txn, const char *name, int *ret)
{
    idp_user_t *u = NULL;
    json_t *j = NULL;
    if ((*ret = idp_user_find(txn, name, &u)) == 0)
        j = idp_user_to_json(u);
    idp_user_free(u);
    return j;
}

static int cmd_user_show(ctl_t *ctl, int argc, char **argv)
{
    return run_show(ctl, argc, argv, "user", "NAME", load_user_json);
}

/* user del / passwd / enable / disable / roles: one transaction on the named user. A change that takes something away
 * (del, disable, passwd, a role removed) also ends the user's sessions and token families and queues a back-channel
 * logout for the running hubd to deliver, in the same transaction (idp/revocation.h). */
static int user_change_txn(hub_txn_t *txn, void *arg)
{
    user_arg_t *a = arg;
    idp_user_t *u = NULL;
    int ret;

    if ((ret = load_user(a, txn, &u)) != 0)
        return ret;
    switch (a->op) {
    case USER_DEL:
        ret = idp_user_remove(txn, u->sub);
        goto out;
    case USER_PASSWD:
        free(u->password_hash);
        u->password_hash = xstrdup(a->password_hash);
        break;
    case USER_ENABLE:
    case USER_DISABLE:
        u->enabled = a->op == USER_ENABLE;
        break;
    case USER_ROLES:
        if ((ret = check_roles(a->ctl, txn, &a->add, "--add")) != 0 ||
            (ret = check_roles(a->ctl, txn, &a->remove, "--remove")) != 0)
            goto out;
        for (size_t i = 0; i != a->remove.n; ++i)
            remove_role(&u->roles, a->remove.v[i]);
        for (size_t i = 0; i != a->add.n; ++i)
            add_roles(&u->roles, a->add.v[i]);
        break;
    }
    ret = idp_user_update(txn, u, NULL);
out:
    idp_user_free(u);
    return ret;
}

static int cmd_user_simple(ctl_t *ctl, int argc, char **argv, user_op_t op)
{
    static const char *const names[] = {"NAME"};
    user_arg_t a = {ctl, op};
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 1, names, &a.name)) != EXIT_OK)
        return ARGS_DONE(ret);
    return write_txn(ctl, user_change_txn, &a);
}

static int cmd_user_del(ctl_t *ctl, int argc, char **argv)
{
    return cmd_user_simple(ctl, argc, argv, USER_DEL);
}

static int cmd_user_enable(ctl_t *ctl, int argc, char **argv)
{
    return cmd_user_simple(ctl, argc, argv, USER_ENABLE);
}

static int cmd_user_disable(ctl_t *ctl, int argc, char **argv)
{
    return cmd_user_simple(ctl, argc, argv, USER_DISABLE);
}

static int cmd_user_passwd(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"password-file", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'}, {0}};
    static const char *const names[] = {"NAME"};
    user_arg_t a = {ctl, USER_PASSWD};
    const char *pwfile = NULL;
    hub_txn_t *txn;
    idp_user_t *u = NULL;
    int c, ret;

    while ((c = next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'p')
            pwfile = optarg;
        else if (c == 'h')
            return print_usage(ctl);
        else
            return bad_option(ctl, c, argv);
    }
    if ((ret = positionals(ctl, argc, argv, 1, names, &a.name)) != EXIT_OK)
        return ret;
    /* refuse an unknown user before asking for a password */
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = idp_user_find(txn, a.name, &u);
        hub_store_read_end(txn);
        idp_user_free(u);
    }
    if (ret == HUB_E_NOTFOUND)
        return say(EXIT_USAGE, "NAME: no user \"%s\"", a.name);
    if ((ret = new_password(pwfile, &a.password_hash)) == EXIT_OK)
        ret = write_txn(ctl, user_change_txn, &a);
    free(a.password_hash);
    return ret;
}

static int cmd_user_roles(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"add", required_argument, NULL, 'a'}, {"remove", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {0}};
    static const char *const names[] = {"NAME"};
    user_arg_t a = {ctl, USER_ROLES};
    int c, ret;

    idp_strv_split(&a.add, "", 0);
    idp_strv_split(&a.remove, "", 0);
    while ((c = next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'a') {
            add_roles(&a.add, optarg);
        } else if (c == 'r') {
            add_roles(&a.remove, optarg);
        } else if (c == 'h') {
            ret = print_usage(ctl);
            goto out;
        } else {
            ret = bad_option(ctl, c, argv);
            goto out;
        }
    }
    if ((ret = positionals(ctl, argc, argv, 1, names, &a.name)) != EXIT_OK)
        goto out;
    if (a.add.n == 0 && a.remove.n == 0) {
        ret = say(EXIT_USAGE, "user roles: give --add ROLE or --remove ROLE");
        goto out;
    }
    ret = write_txn(ctl, user_change_txn, &a);
out:
    idp_strv_free(&a.add);
    idp_strv_free(&a.remove);
    return ret;
}

/* ---- roles ---- */

static int role_add_txn(hub_txn_t *txn, void *arg)
{
    ctl_t *ctl = ((void **)arg)[0];
    const char *role = ((void **)arg)[1];
    int ret = idp_role_add(txn, role);
    if (ret == HUB_E_EXISTS)
        return refuse(ctl, EXIT_USAGE, "ROLE: role \"%s\" already exists", role);
    if (ret == HUB_E_INVAL)
        return refuse(ctl, EXIT_USAGE, "ROLE: \"%s\" is not a valid role name (1 to 128 characters, no ';', no control characters)",
                      role);
    return ret;
}

static int role_del_txn(hub_txn_t *txn, void *arg)
{
    ctl_t *ctl = ((void **)arg)[0];
    const char *role = ((void **)arg)[1];
    /* users holding it lose it (their sessions and tokens end); a client holding it keeps it and refuses the deletion */
    int ret = idp_role_remove(txn, role);
    if (ret == HUB_E_NOTFOUND)
        return refuse(ctl, EXIT_USAGE, "ROLE: no role \"%s\"", role);
    if (ret == HUB_E_DENIED)
        return refuse(ctl, EXIT_USAGE, "ROLE: \"%s\" is a built-in role", role);
    if (ret == HUB_E_BUSY)
        return refuse(ctl, EXIT_RUNTIME, "ROLE: \"%s\" is still held by a client", role);
    return ret;
}

static int cmd_role_change(ctl_t *ctl, int argc, char **argv, int (*fn)(hub_txn_t *, void *))
{
    static const char *const names[] = {"ROLE"};
    const char *role;
    void *arg[2] = {ctl, NULL};
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 1, names, &role)) != EXIT_OK)
        return ARGS_DONE(ret);
    arg[1] = (void *)role;
    return write_txn(ctl, fn, arg);
}

static int cmd_role_add(ctl_t *ctl, int argc, char **argv)
{
    return cmd_role_change(ctl, argc, argv, role_add_txn);
}

static int cmd_role_del(ctl_t *ctl, int argc, char **argv)
{
    return cmd_role_change(ctl, argc, argv, role_del_txn);
}

static int cmd_role_list(ctl_t *ctl, int argc, char **argv)
{
    hub_txn_t *txn;
    idp_strv_t roles = {0};
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = idp_role_list(txn, &roles);
        hub_store_read_end(txn);
    }
    if (ret != 0)
        return say(EXIT_RUNTIME, "role list: %s", hub_strerror(ret));
    if (ctl->json) {
        json_t *list = json_array();
        for (size_t i = 0; i != roles.n; ++i)
            json_array_append_new(list, json_string(roles.v[i]));
        print_json(list);
    } else {
        for (size_t i = 0; i != roles.n; ++i)
            printf("%s\n", roles.v[i]);
    }
    idp_strv_free(&roles);
    return EXIT_OK;
}

/* ---- clients ---- */

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

static int takes_value(int c)
{
    for (const struct option *o = client_opts; o->name != NULL; ++o)
        if (o->val == c)
            return o->has_arg != no_argument;
    return 0;
}

/* Parses the options of client add/update; the enum values and the Frappe site are checked here, the rest as a whole
 * later. */
static int parse_client_opts(ctl_t *ctl, int argc, char **argv, client_opts_t *o)
{
    idp_invalid_t inv;
    int c;

    idp_strv_split(&o->roles, "", 0);
    while ((c = next_opt(ctl, argc, argv, client_opts)) != -1) {
        if (c == 'h')
            return print_usage(ctl) - 1;
        if (c <= 0 || c >= C__COUNT)
            return bad_option(ctl, c, argv);
        o->value[c] = takes_value(c) ? optarg : "";
        if (c == C_ROLE)
            add_roles(&o->roles, optarg);
        else if (c == C_GRANT && idp_grant_type_parse(optarg, &o->grant) != 0)
            return say(EXIT_USAGE, "--grant-type: \"%s\" is not authorization_code, implicit or client_credentials", optarg);
        else if (c == C_RESPONSE && idp_response_type_parse(optarg, &o->response) != 0)
            return say(EXIT_USAGE, "--response-type: \"%s\" is not code or token", optarg);
        else if (c == C_AUTH && idp_auth_method_parse(optarg, &o->auth) != 0)
            return say(EXIT_USAGE, "--auth-method: \"%s\" is not client_secret_basic, client_secret_post or none", optarg);
        if (c == C_FRAPPE_SITE) {
            free(o->frappe_site);
            if (idp_frappe_site_parse(optarg, &o->frappe_site, &inv) != 0)
                return say(EXIT_USAGE, "%s: %s", idp_field_option(inv.field), inv.text);
        }
    }
    if (o->value[C_SKIP] != NULL && o->value[C_NO_SKIP] != NULL)
        return say(EXIT_USAGE, "--skip-authorization: conflicts with --no-skip-authorization");
    if (o->value[C_INTROSPECT_ANY] != NULL && o->value[C_NO_INTROSPECT_ANY] != NULL)
        return say(EXIT_USAGE, "--introspect-any: conflicts with --no-introspect-any");
    if (o->value[C_FRAPPE_SITE] != NULL && o->value[C_NO_FRAPPE_SITE] != NULL)
        return say(EXIT_USAGE, "--frappe-site: conflicts with --no-frappe-site");
    return EXIT_OK;
}

static void set_list(idp_strv_t *sv, const char *value, int ws)
{
    idp_strv_free(sv);
    idp_strv_split(sv, value, ws);
}

/* Applies the given options to c; a secret is made (into secret) when c needs one and has none. */
static void apply_client_opts(const client_opts_t *o, idp_client_t *c, char secret[44])
{
    const char *const *v = o->value;

    if (v[C_APP_NAME] != NULL)
        replace(&c->app_name, v[C_APP_NAME]);
    if (v[C_REDIRECT_URIS] != NULL) {
        set_list(&c->redirect_uris, v[C_REDIRECT_URIS], 1);
        if (c->default_redirect_uri != NULL && !idp_strv_has(&c->redirect_uris, c->default_redirect_uri))
            replace(&c->default_redirect_uri, NULL); /* becomes the first of the new list */
    }
    if (v[C_NO_FRAPPE_SITE] != NULL)
        replace(&c->frappe_site, NULL); /* its URIs and auth method stay until changed */
    /* a Frappe site's --redirect-uris are extra ones (a Connected App's callback): its login URIs always stay */
    if (o->frappe_site != NULL || (v[C_REDIRECT_URIS] != NULL && c->frappe_site != NULL))
        idp_client_set_frappe_site(c, o->frappe_site != NULL ? o->frappe_site : c->frappe_site);
    if (v[C_DEFAULT_REDIRECT] != NULL)
        replace(&c->default_redirect_uri, v[C_DEFAULT_REDIRECT]);
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
    if (v[C_BACKCHANNEL] != NULL)
        replace(&c->backchannel_logout_uri, v[C_BACKCHANNEL]);
    if (v[C_POST_LOGOUT] != NULL)
        set_list(&c->post_logout_redirect_uris, v[C_POST_LOGOUT], 1);
    if (v[C_ROLE] != NULL) {
        idp_strv_free(&c->service_roles);
        idp_strv_split(&c->service_roles, "", 0);
        for (size_t i = 0; i != o->roles.n; ++i)
            add_roles(&c->service_roles, o->roles.v[i]);
    }
    if (c->auth_method == IDP_AUTH_NONE) {
        replace(&c->secret_hash, NULL);
    } else if (c->secret_hash == NULL) {
        idp_client_new_secret(c, secret);
    }
}

typedef struct {
    ctl_t *ctl;
    const char *id; /* update, show, del, rotate-secret */
    client_opts_t opts;
    idp_client_t *client; /* the client written */
    char secret[44];      /* a new secret to print, or "" */
} client_arg_t;

static int client_write_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_client_t *c = NULL;
    idp_invalid_t inv;
    int ret;

    idp_client_free(a->client);
    a->client = NULL;
    a->secret[0] = '\0';
    if (a->id == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            abort();
        c->enabled = 1;
        idp_strv_split(&c->scopes, DEFAULT_SCOPES, 1);
        idp_strv_split(&c->redirect_uris, "", 1);
        idp_strv_split(&c->allowed_roles, "", 0);
        idp_strv_split(&c->service_roles, "", 0);
        idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    } else if ((ret = idp_client_get(txn, a->id, &c)) != 0) {
        return ret == HUB_E_NOTFOUND ? refuse(a->ctl, EXIT_USAGE, "ID: no client \"%s\"", a->id) : ret;
    }
    a->client = c;
    apply_client_opts(&a->opts, c, a->secret);
    if (idp_client_validate(c, &inv) != 0)
        return refuse(a->ctl, EXIT_USAGE, "%s: %s", idp_field_option(inv.field), inv.text);
    if ((ret = check_roles(a->ctl, txn, &c->allowed_roles, "--allowed-roles")) != 0 ||
        (ret = check_roles(a->ctl, txn, &c->service_roles, "--role")) != 0)
        return ret;
    return idp_client_put(txn, c);
}

static int cmd_client_write(ctl_t *ctl, int argc, char **argv, int update)
{
    static const char *const names[] = {"ID"};
    client_arg_t a = {ctl};
    int ret;

    if ((ret = parse_client_opts(ctl, argc, argv, &a.opts)) != EXIT_OK) {
        ret = ARGS_DONE(ret);
        goto out;
    }
    if ((ret = positionals(ctl, argc, argv, update ? 1 : 0, names, &a.id)) != EXIT_OK)
        goto out;
    if (!update && a.opts.value[C_APP_NAME] == NULL) {
        ret = say(EXIT_USAGE, "--app-name: required");
        goto out;
    }
    if ((ret = write_txn(ctl, client_write_txn, &a)) != EXIT_OK)
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
    return run_list(ctl, argc, argv, "client",
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
    return run_show(ctl, argc, argv, "client", "ID", load_client_json);
}

static int client_del_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    int ret = idp_client_remove(txn, a->id);
    return ret == HUB_E_NOTFOUND ? refuse(a->ctl, EXIT_USAGE, "ID: no client \"%s\"", a->id) : ret;
}

static int client_rotate_txn(hub_txn_t *txn, void *arg)
{
    client_arg_t *a = arg;
    idp_client_t *c = NULL;
    int ret;

    if ((ret = idp_client_get(txn, a->id, &c)) != 0)
        return ret == HUB_E_NOTFOUND ? refuse(a->ctl, EXIT_USAGE, "ID: no client \"%s\"", a->id) : ret;
    if (c->auth_method == IDP_AUTH_NONE)
        ret = refuse(a->ctl, EXIT_USAGE, "ID: client \"%s\" uses auth method none and has no secret", a->id);
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

    if ((ret = simple_args(ctl, argc, argv, 0, 1, names, &a.id)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = write_txn(ctl, fn, &a)) == EXIT_OK && a.secret[0] != '\0')
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

/* ---- settings ---- */

static int cmd_settings_show(ctl_t *ctl, int argc, char **argv)
{
    hub_config_t cfg;
    hub_txn_t *txn;
    hub_val_t v;
    hub_skip_auth_t skip;
    int ret, stored;

    if ((ret = simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) != 0)
        return say(EXIT_RUNTIME, "settings show: %s", hub_strerror(ret));
    hub_config_defaults(&cfg);
    skip = idp_settings_skip_authorization(txn, &cfg);
    stored = hub_store_get(txn, HUB_T_SETTINGS, "skip_authorization", 18, &v) == 0;
    hub_store_read_end(txn);
    hub_config_dispose(&cfg);
    const char *value = skip == HUB_SKIP_AUTH_AUTO ? "auto" : "force";
    if (ctl->json) {
        json_t *o = json_object();
        json_object_set_new(o, "skip_authorization", json_string(value));
        json_object_set_new(o, "stored", json_boolean(stored));
        print_json(o);
    } else {
        printf("skip_authorization: %s%s\n", value,
               stored ? "" : " (not stored: the primary's configured primary.skip_authorization applies, default force)");
    }
    return EXIT_OK;
}

static int settings_set_txn(hub_txn_t *txn, void *arg)
{
    return idp_settings_set_skip_authorization(txn, *(hub_skip_auth_t *)arg);
}

static int cmd_settings_set(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"NAME", "VALUE"};
    const char *pos[2];
    hub_skip_auth_t value;
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 2, names, pos)) != EXIT_OK)
        return ARGS_DONE(ret);
    if (strcmp(pos[0], "skip_authorization") != 0)
        return say(EXIT_USAGE, "NAME: unknown setting \"%s\" (known: skip_authorization)", pos[0]);
    if (strcmp(pos[1], "force") == 0)
        value = HUB_SKIP_AUTH_FORCE;
    else if (strcmp(pos[1], "auto") == 0)
        value = HUB_SKIP_AUTH_AUTO;
    else
        return say(EXIT_USAGE, "skip_authorization: \"%s\" is not force or auto", pos[1]);
    return write_txn(ctl, settings_set_txn, &value);
}

/* ---- nodes ---- */

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

static int cmd_node_join_token(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"ttl", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    node_arg_t a = {ctl};
    int c, ret;

    a.ttl = DEFAULT_JOIN_TTL;
    while ((c = next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'n') {
            a.name = optarg;
            if (optarg[0] == '\0' || strlen(optarg) > 256 || strpbrk(optarg, "\r\n\t") != NULL)
                return say(EXIT_USAGE, "--name: \"%s\" must be 1 to 256 printable characters", optarg);
        } else if (c == 't') {
            if (hub_parse_duration(optarg, &a.ttl) != 0 || a.ttl == 0 || a.ttl > UINT64_C(365) * 86400)
                return say(EXIT_USAGE, "--ttl: \"%s\" is not a duration like 30m, 1h or 7d (at most 365d)", optarg);
        } else if (c == 'j') {
            ctl->json = 1;
        } else if (c == 'h') {
            return print_usage(ctl);
        } else {
            return bad_option(ctl, c, argv);
        }
    }
    if ((ret = positionals(ctl, argc, argv, 0, NULL, NULL)) != EXIT_OK)
        return ret;
    if ((ret = write_txn(ctl, join_token_txn, &a)) != EXIT_OK)
        return ret;
    if (ctl->json) {
        json_t *o = json_object();
        json_object_set_new(o, "token", json_string(a.token));
        json_object_set_new(o, "name", a.name != NULL ? json_string(a.name) : json_null());
        json_object_set_new(o, "expires_at", json_integer((json_int_t)(hub_now() + a.ttl)));
        print_json(o);
    } else {
        printf("%s\n", a.token);
    }
    OPENSSL_cleanse(a.token, sizeof(a.token));
    return EXIT_OK;
}

static int print_node_row(void *arg, const idp_node_t *n)
{
    json_t *list = arg;
    if (list != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(n->id));
        json_object_set_new(o, "name", n->name != NULL ? json_string(n->name) : json_null());
        json_object_set_new(o, "public_url", n->public_url != NULL ? json_string(n->public_url) : json_null());
        json_object_set_new(o, "registered_at", json_integer((json_int_t)n->registered_at));
        json_object_set_new(o, "revoked", json_boolean(n->revoked));
        json_array_append_new(list, o);
    } else {
        printf("%-24s %-20s %-32s %s\n", n->id, n->name != NULL ? n->name : "-", n->public_url != NULL ? n->public_url : "-",
               n->revoked ? "revoked" : "active");
    }
    return 0;
}

static int walk_nodes(hub_txn_t *txn, json_t *list)
{
    return idp_node_each(txn, print_node_row, list);
}

static int cmd_node_list(ctl_t *ctl, int argc, char **argv)
{
    return run_list(ctl, argc, argv, "node",
                    "ID                       NAME                 PUBLIC_URL                       STATE\n", walk_nodes);
}

static int node_revoke_txn(hub_txn_t *txn, void *arg)
{
    node_arg_t *a = arg;
    int ret = idp_node_revoke(txn, a->id);
    return ret == HUB_E_NOTFOUND ? refuse(a->ctl, EXIT_USAGE, "ID: no node \"%s\"", a->id) : ret;
}

static int cmd_node_revoke(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"ID"};
    node_arg_t a = {ctl};
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 1, names, &a.id)) != EXIT_OK)
        return ARGS_DONE(ret);
    return write_txn(ctl, node_revoke_txn, &a);
}

/* ---- keys ---- */

static const char *utc(char *buf, size_t size, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "%llu", (unsigned long long)t);
    return buf;
}

static json_t *time_or_null(uint64_t t)
{
    return t != 0 ? json_integer((json_int_t)t) : json_null();
}

static int print_key_row(void *arg, const idp_key_info_t *k)
{
    json_t *list = arg;
    if (list != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "kid", json_string(k->kid));
        json_object_set_new(o, "alg", json_string(hub_alg_name(k->alg)));
        json_object_set_new(o, "state", json_string(idp_key_state_name(k->state)));
        json_object_set_new(o, "created_at", json_integer((json_int_t)k->created_at));
        json_object_set_new(o, "first_served", time_or_null(k->first_served));
        json_object_set_new(o, "activate_at", time_or_null(k->activate_at));
        json_object_set_new(o, "publish_until", time_or_null(k->publish_until));
        json_object_set_new(o, "revoked_at", time_or_null(k->revoked_at));
        json_array_append_new(list, o);
    } else {
        char activate[32], until[32];
        printf("%-24s %-6s %-9s %-21s %s\n", k->kid, hub_alg_name(k->alg), idp_key_state_name(k->state),
               k->activate_at != 0 ? utc(activate, sizeof(activate), k->activate_at) : "when-served",
               k->publish_until != 0 ? utc(until, sizeof(until), k->publish_until) : "-");
    }
    return 0;
}

static int cmd_keys_list(ctl_t *ctl, int argc, char **argv)
{
    hub_config_t cfg;
    json_t *list = NULL;
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 1, 0, NULL, NULL)) != EXIT_OK)
        return ARGS_DONE(ret);
    if (ctl->json)
        list = json_array();
    else
        printf("%-24s %-6s %-9s %-21s %s\n", "KID", "ALG", "STATE", "ACTIVATE_AT", "PUBLISH_UNTIL");
    if ((ret = keys_config(ctl, &cfg)) == 0)
        ret = idp_keys_list(ctl->store, &cfg, print_key_row, list);
    hub_config_dispose(&cfg);
    if (ret != 0) {
        json_decref(list);
        return say(EXIT_RUNTIME, "keys list: %s", hub_strerror(ret));
    }
    if (list != NULL)
        print_json(list);
    return EXIT_OK;
}

static int cmd_keys_rotate(ctl_t *ctl, int argc, char **argv)
{
    hub_config_t cfg;
    char kid[64] = "";
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 0, NULL, NULL)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = keys_config(ctl, &cfg)) == 0)
        ret = idp_keys_rotate(ctl->store, &cfg, ctl->data_dir, kid);
    hub_config_dispose(&cfg);
    if (ret == HUB_E_EXISTS)
        return say(EXIT_RUNTIME, "keys rotate: the next key %s is already published and activates on schedule", kid);
    if (ret != 0)
        return say(EXIT_RUNTIME, "keys rotate: %s", hub_strerror(ret));
    printf("next: %s\n", kid);
    return EXIT_OK;
}

static int cmd_keys_retire(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"KID"};
    hub_config_t cfg;
    const char *kid;
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 1, names, &kid)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = keys_config(ctl, &cfg)) == 0)
        ret = idp_keys_retire(ctl->store, &cfg, kid);
    hub_config_dispose(&cfg);
    if (ret == HUB_E_NOTFOUND)
        return say(EXIT_USAGE, "KID: no key \"%s\"", kid);
    if (ret == HUB_E_BUSY)
        return say(EXIT_RUNTIME,
                   "KID: %s is the active key and no next key has been served by the JWKS for publish_ahead yet "
                   "(run keys rotate, then retire it once the next key is due; keys revoke in an emergency)",
                   kid);
    if (ret == HUB_E_EXISTS)
        return say(EXIT_RUNTIME, "KID: %s is already retiring; it stays published until its last token expires", kid);
    if (ret == HUB_E_DENIED)
        return say(EXIT_RUNTIME, "KID: %s is revoked", kid);
    if (ret != 0)
        return say(EXIT_RUNTIME, "keys retire: %s", hub_strerror(ret));
    return EXIT_OK;
}

/* Emergency removal (SPEC §4): the running primary drops the key within a second and tells every node. */
static int cmd_keys_revoke(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"KID"};
    idp_revoke_result_t res;
    hub_config_t cfg;
    const char *kid;
    int ret;

    if ((ret = simple_args(ctl, argc, argv, 0, 1, names, &kid)) != EXIT_OK)
        return ARGS_DONE(ret);
    if ((ret = keys_config(ctl, &cfg)) == 0)
        ret = idp_keys_revoke(ctl->store, &cfg, ctl->data_dir, kid, &res);
    hub_config_dispose(&cfg);
    if (ret == HUB_E_NOTFOUND)
        return say(EXIT_USAGE, "KID: no key \"%s\"", kid);
    if (ret != 0)
        return say(EXIT_RUNTIME, "keys revoke: %s", hub_strerror(ret));
    printf("revoked: %s%s\n", kid, res.already ? " (already revoked; the nodes are told again)" : "");
    if (res.signer[0] != '\0')
        printf("signing: %s\n", res.signer);
    return EXIT_OK;
}

/* ---- dispatch ---- */

#define CLIENT_OPTIONS                                                                                                             \
    "[--redirect-uris LIST] [--default-redirect-uri U] [--scopes LIST] "                                                           \
    "[--grant-type authorization_code|implicit|client_credentials] [--response-type code|token] "                                  \
    "[--skip-authorization|--no-skip-authorization] [--auth-method client_secret_basic|client_secret_post|none] "                  \
    "[--allowed-roles LIST] [--backchannel-logout-uri U] [--post-logout-redirect-uris LIST] [--role R]... "                        \
    "[--introspect-any|--no-introspect-any] [--frappe-site SITE_URL|--no-frappe-site]"

static const command_t commands[] = {
    {"init", cmd_init, "[--alg RS256|ES256|EdDSA]"},
    {"user add", cmd_user_add,
     "NAME --email E [--full-name F] [--given-name G] [--family-name L] [--role R]... [--password-file P]"},
    {"user list", cmd_user_list, "[--json]"},
    {"user show", cmd_user_show, "NAME [--json]"},
    {"user del", cmd_user_del, "NAME"},
    {"user passwd", cmd_user_passwd, "NAME [--password-file P]"},
    {"user disable", cmd_user_disable, "NAME"},
    {"user enable", cmd_user_enable, "NAME"},
    {"user roles", cmd_user_roles, "NAME [--add R]... [--remove R]..."},
    {"role add", cmd_role_add, "ROLE"},
    {"role list", cmd_role_list, "[--json]"},
    {"role del", cmd_role_del, "ROLE"},
    {"client add", cmd_client_add, "--app-name N " CLIENT_OPTIONS},
    {"client list", cmd_client_list, "[--json]"},
    {"client show", cmd_client_show, "ID [--json]"},
    {"client del", cmd_client_del, "ID"},
    {"client rotate-secret", cmd_client_rotate, "ID"},
    {"client update", cmd_client_update, "ID [--app-name N] " CLIENT_OPTIONS},
    {"settings show", cmd_settings_show, "[--json]"},
    {"settings set", cmd_settings_set, "skip_authorization force|auto"},
    {"node join-token", cmd_node_join_token, "[--name N] [--ttl DURATION] [--json]"},
    {"node list", cmd_node_list, "[--json]"},
    {"node revoke", cmd_node_revoke, "ID"},
    {"keys list", cmd_keys_list, "[--json]"},
    {"keys rotate", cmd_keys_rotate, ""},
    {"keys retire", cmd_keys_retire, "KID"},
    {"keys revoke", cmd_keys_revoke, "KID"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hubctl -d DATA_DIR COMMAND ...\n"
                "Exit codes: 0 ok, 1 runtime error, 2 usage or validation error. Every read command takes --json.\n"
                "A LIST is separated by ';' (scopes and URIs also by white space).\n\n");
    for (size_t i = 0; i != NCOMMANDS; ++i)
        fprintf(fp, "  hubctl -d DIR %s %s\n", commands[i].words, commands[i].usage);
}

/* The command whose words start argv; *nwords is how many words it took. */
static const command_t *find_command(int argc, char **argv, int *nwords)
{
    for (size_t i = 0; i != NCOMMANDS; ++i) {
        const char *w = commands[i].words, *space = strchr(w, ' ');
        size_t first = space != NULL ? (size_t)(space - w) : strlen(w);
        if (strlen(argv[0]) != first || strncmp(argv[0], w, first) != 0)
            continue;
        if (space == NULL) {
            *nwords = 1;
            return &commands[i];
        }
        if (argc >= 2 && strcmp(argv[1], space + 1) == 0) {
            *nwords = 2;
            return &commands[i];
        }
    }
    return NULL;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    ctl_t ctl = {0};
    int c, nwords, ret;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:d:h", opts, NULL)) != -1) {
        if (c == 'd') {
            ctl.data_dir = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return EXIT_OK;
        } else {
            return say(EXIT_USAGE, c == ':' ? "%s: missing value" : "unknown option %s (see hubctl --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return say(EXIT_USAGE, "missing command (see hubctl --help)");
    if ((ctl.cmd = find_command(argc - optind, argv + optind, &nwords)) == NULL)
        return say(EXIT_USAGE, "unknown command \"%s%s%s\" (see hubctl --help)", argv[optind], optind + 1 < argc ? " " : "",
                   optind + 1 < argc ? argv[optind + 1] : "");
    if (ctl.data_dir == NULL || ctl.data_dir[0] == '\0')
        return say(EXIT_USAGE, "-d DATA_DIR: required");
    /* the handler sees argv[0] = the command's last word, then its arguments */
    argv += optind + nwords - 1;
    argc -= optind + nwords - 1;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; ++i)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return print_usage(&ctl); /* needs no data dir */
    if (ctl.cmd->run != cmd_init) {
        if (!is_dir(ctl.data_dir))
            return say(EXIT_RUNTIME, "%s: no such data directory (run hubctl -d %s init)", ctl.data_dir, ctl.data_dir);
        if ((ret = hub_store_open(&ctl.store, ctl.data_dir)) != 0)
            return say(EXIT_RUNTIME, "%s: cannot open the store: %s", ctl.data_dir, hub_strerror(ret));
    }
    ret = ctl.cmd->run(&ctl, argc, argv);
    hub_store_close(ctl.store);
    return ret;
}
