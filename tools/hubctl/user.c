/* hubctl user: add, list, show, del, passwd, disable, enable, roles; passwords read from a file or the terminal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/password.h"
#include "idp/revocation.h"
#include "idp/role.h"
#include "idp/user.h"
#include "tools/hubctl/hubctl.h"

/* ---- passwords ---- */

/* Reads from the terminal without echo (at most IDP_PASSWORD_MAX + 1 bytes into buf); returns the bytes read. */
static size_t read_quietly(FILE *fp, char *buf)
{
    struct termios old, quiet;
    size_t n = 0;

    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return fread(buf, 1, IDP_PASSWORD_MAX + 2, fp);
    fputs("Password: ", stderr);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    if (fgets(buf, IDP_PASSWORD_MAX + 2, fp) != NULL)
        n = strlen(buf);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return n;
}

/* Reads a password from path (NULL = stdin): at most IDP_PASSWORD_MAX bytes, one trailing newline dropped, checked as
 * the consoles check a new password (idp_password_check). */
static int read_password(const char *path, char *buf, size_t *len)
{
    const char *what = path != NULL ? "--password-file" : "password (stdin)";
    FILE *fp = path != NULL ? fopen(path, "r") : stdin;
    idp_invalid_t inv;
    size_t n;
    int ret = EXIT_OK;

    if (fp == NULL)
        return ctl_say(EXIT_USAGE, "%s: %s: %s", what, path, strerror(errno));
    n = path == NULL && isatty(STDIN_FILENO) ? read_quietly(fp, buf) : fread(buf, 1, IDP_PASSWORD_MAX + 2, fp);
    if (path != NULL)
        fclose(fp);
    if (n > 0 && buf[n - 1] == '\n')
        --n;
    buf[n] = '\0';
    if (idp_password_check(buf, n, &inv) != 0)
        ret = ctl_say(EXIT_USAGE, "%s: %s", what, inv.text);
    *len = n;
    return ret;
}

/* Reads and hashes a password (Argon2id) into *hash. */
static int new_password(const char *path, char **hash)
{
    char buf[IDP_PASSWORD_MAX + 3];
    size_t len = 0;
    int ret = read_password(path, buf, &len);

    if (ret == EXIT_OK && idp_password_hash(buf, len, hash) != 0)
        ret = ctl_say(EXIT_RUNTIME, "cannot hash the password");
    OPENSSL_cleanse(buf, sizeof(buf));
    return ret;
}

/* ---- changes ---- */

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
        return ctl_refuse(a->ctl, EXIT_USAGE, "NAME: no user \"%s\"", a->name);
    return ret;
}

/* Refuses (exit 2) the first role of roles that does not exist, naming option. */
static int check_roles(ctl_t *ctl, hub_txn_t *txn, const idp_strv_t *roles, const char *option)
{
    idp_invalid_t inv;
    int ret = idp_roles_exist(txn, roles, IDP_FIELD_NONE, &inv);
    return ret == HUB_E_NOTFOUND ? ctl_refuse(ctl, EXIT_USAGE, "%s: %s", option, inv.text) : ret;
}

static int user_add_txn(hub_txn_t *txn, void *arg)
{
    user_arg_t *a = arg;
    idp_invalid_t inv;
    int ret = idp_user_create(txn, a->user, &inv);

    if (ret != HUB_E_INVAL && ret != HUB_E_NOTFOUND && ret != HUB_E_EXISTS)
        return ret;
    if (inv.field == IDP_FIELD_USERNAME) /* the positional argument */
        return ctl_refuse(a->ctl, EXIT_USAGE, "NAME: %s", inv.text);
    return ctl_refuse_invalid(a->ctl, EXIT_USAGE, &inv);
}

/* Parses user add's options into u; *pwfile is --password-file. Returns EXIT_OK, an exit code, or -1 for --help. */
static int user_add_opts(ctl_t *ctl, int argc, char **argv, idp_user_t *u, const char **pwfile)
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
    int c;

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == O_EMAIL)
            ctl_replace(&u->email, optarg);
        else if (c == O_FULL)
            ctl_replace(&u->full_name, optarg);
        else if (c == O_GIVEN)
            ctl_replace(&u->given_name, optarg);
        else if (c == O_FAMILY)
            ctl_replace(&u->family_name, optarg);
        else if (c == O_ROLE)
            ctl_add_roles(&u->roles, optarg);
        else if (c == O_PWFILE)
            *pwfile = optarg;
        else if (c == 'h')
            return ctl_print_usage(ctl) - 1;
        else
            return ctl_bad_option(ctl, c, argv);
    }
    return EXIT_OK;
}

static int cmd_user_add(ctl_t *ctl, int argc, char **argv)
{
    static const char *const names[] = {"NAME"};
    idp_user_t *u = hub_xcalloc(1, sizeof(*u));
    user_arg_t a = {ctl};
    const char *pwfile = NULL, *name;
    idp_invalid_t inv;
    int ret;

    idp_strv_split(&u->roles, "", 0);
    if ((ret = user_add_opts(ctl, argc, argv, u, &pwfile)) != EXIT_OK) {
        ret = CTL_ARGS_DONE(ret);
        goto out;
    }
    if ((ret = ctl_positionals(ctl, argc, argv, 1, names, &name)) != EXIT_OK)
        goto out;
    u->username = hub_strdup(name);
    if (u->email == NULL) {
        ret = ctl_say(EXIT_USAGE, "--email: required");
        goto out;
    }
    if (idp_user_validate(u, &inv) != 0) {
        ret = ctl_say_invalid(EXIT_USAGE, &inv);
        goto out;
    }
    if ((ret = new_password(pwfile, &u->password_hash)) != EXIT_OK)
        goto out;
    u->enabled = 1;
    u->email_verified = 1; /* set by the operator */
    a.user = u;
    if ((ret = ctl_write(ctl, user_add_txn, &a)) == EXIT_OK)
        printf("sub: %s\n", u->sub);
out:
    idp_user_free(u);
    return ret;
}

/* user list's walk: rows printed as they are read (JSON too: one array element at a time), never the whole list in
 * memory, stopped after limit users (0: no limit). */
typedef struct {
    int json;
    size_t limit, n;
    char *last; /* the last username printed */
} user_page_t;

static int print_user_row(void *arg, const idp_user_t *u)
{
    user_page_t *pg = arg;

    if (pg->limit != 0 && pg->n == pg->limit)
        return 1; /* one more exists: the page is full */
    if (pg->json) {
        json_t *j = idp_user_to_json(u);
        char *text = json_dumps(j, JSON_COMPACT);
        printf("%s  %s", pg->n != 0 ? ",\n" : "", text);
        free(text);
        json_decref(j);
    } else {
        char *roles = idp_strv_join(&u->roles, "; ");
        printf("%-24s %-32s %-8s %s\n", u->username, u->email, u->enabled ? "enabled" : "disabled", roles);
        free(roles);
    }
    free(pg->last);
    pg->last = hub_strdup(u->username);
    ++pg->n;
    return 0;
}

/* Parses user list's options: --json, --limit N, --after USERNAME. EXIT_OK, an exit code, or -1 for --help. */
static int user_list_opts(ctl_t *ctl, int argc, char **argv, user_page_t *pg, const char **after)
{
    enum { O_JSON = 1, O_LIMIT, O_AFTER };
    static const struct option opts[] = {{"json", no_argument, NULL, O_JSON},
                                         {"limit", required_argument, NULL, O_LIMIT},
                                         {"after", required_argument, NULL, O_AFTER},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c;

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == O_JSON) {
            pg->json = 1;
        } else if (c == O_LIMIT) {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (optarg[0] < '1' || optarg[0] > '9' || *end != '\0' || v > 1000000)
                return ctl_say(EXIT_USAGE, "user list: --limit: expected a whole number from 1 to 1000000");
            pg->limit = (size_t)v;
        } else if (c == O_AFTER) {
            *after = optarg;
        } else if (c == 'h') {
            return ctl_print_usage(ctl) - 1;
        } else {
            return ctl_bad_option(ctl, c, argv);
        }
    }
    return ctl_positionals(ctl, argc, argv, 0, NULL, NULL);
}

static int cmd_user_list(ctl_t *ctl, int argc, char **argv)
{
    user_page_t pg = {0};
    const char *after = NULL;
    hub_txn_t *txn;
    int ret;

    if ((ret = user_list_opts(ctl, argc, argv, &pg, &after)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    fputs(pg.json ? "[\n" : "USERNAME                 EMAIL                            STATE    ROLES\n", stdout);
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = idp_user_each_after(txn, 0, "", after, print_user_row, &pg);
        hub_store_read_end(txn);
    }
    if (pg.json)
        fputs(pg.n != 0 ? "\n]\n" : "]\n", stdout);
    if (ret == 1) /* the page is full and more users follow */
        fprintf(stderr, "user list: more users follow; the next page: --after %s\n", pg.last);
    free(pg.last);
    if (ret < 0)
        return ctl_say(EXIT_RUNTIME, "user list: %s", hub_strerror(ret));
    return EXIT_OK;
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
    return ctl_run_show(ctl, argc, argv, "user", "NAME", load_user_json);
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
        ctl_replace(&u->password_hash, a->password_hash);
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
            idp_strv_remove(&u->roles, a->remove.v[i]);
        for (size_t i = 0; i != a->add.n; ++i)
            idp_strv_add(&u->roles, a->add.v[i]);
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

    if ((ret = ctl_simple_args(ctl, argc, argv, 0, 1, names, &a.name)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    return ctl_write(ctl, user_change_txn, &a);
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

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'p')
            pwfile = optarg;
        else if (c == 'h')
            return ctl_print_usage(ctl);
        else
            return ctl_bad_option(ctl, c, argv);
    }
    if ((ret = ctl_positionals(ctl, argc, argv, 1, names, &a.name)) != EXIT_OK)
        return ret;
    /* refuse an unknown user before asking for a password */
    if ((ret = hub_store_read_begin(ctl->store, &txn)) == 0) {
        ret = idp_user_find(txn, a.name, &u);
        hub_store_read_end(txn);
        idp_user_free(u);
    }
    if (ret == HUB_E_NOTFOUND)
        return ctl_say(EXIT_USAGE, "NAME: no user \"%s\"", a.name);
    if ((ret = new_password(pwfile, &a.password_hash)) == EXIT_OK)
        ret = ctl_write(ctl, user_change_txn, &a);
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
    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'a') {
            ctl_add_roles(&a.add, optarg);
        } else if (c == 'r') {
            ctl_add_roles(&a.remove, optarg);
        } else {
            ret = c == 'h' ? ctl_print_usage(ctl) : ctl_bad_option(ctl, c, argv);
            goto out;
        }
    }
    if ((ret = ctl_positionals(ctl, argc, argv, 1, names, &a.name)) != EXIT_OK)
        goto out;
    if (a.add.n == 0 && a.remove.n == 0)
        ret = ctl_say(EXIT_USAGE, "user roles: give --add ROLE or --remove ROLE");
    else
        ret = ctl_write(ctl, user_change_txn, &a);
out:
    idp_strv_free(&a.add);
    idp_strv_free(&a.remove);
    return ret;
}

const ctl_command_t ctl_user_commands[] = {
    {"user add", cmd_user_add,
     "NAME --email E [--full-name F] [--given-name G] [--family-name L] [--role R]... [--password-file P]"},
    {"user list", cmd_user_list, "[--json] [--limit N] [--after USERNAME]"},
    {"user show", cmd_user_show, "NAME [--json]"},
    {"user del", cmd_user_del, "NAME"},
    {"user passwd", cmd_user_passwd, "NAME [--password-file P]"},
    {"user disable", cmd_user_disable, "NAME"},
    {"user enable", cmd_user_enable, "NAME"},
    {"user roles", cmd_user_roles, "NAME [--add R]... [--remove R]..."},
    {NULL},
};
