/* hubctl: administers a primary's data directory (SPEC §2). main finds the command in the nouns' tables (init, user,
 * role, client, settings, node, keys, store: one file each), opens the store and runs it. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hub/err.h"
#include "tools/hubctl/hubctl.h"

static const ctl_command_t *const tables[] = {ctl_init_commands,     ctl_user_commands, ctl_role_commands, ctl_client_commands,
                                              ctl_settings_commands, ctl_node_commands, ctl_keys_commands, ctl_store_commands};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hubctl -d DATA_DIR COMMAND ...\n"
                "Exit codes: 0 ok, 1 runtime error, 2 usage or validation error. Every read command takes --json.\n"
                "A LIST is separated by ';' (scopes and URIs also by white space).\n\n");
    for (size_t t = 0; t != NTABLES; ++t)
        for (const ctl_command_t *c = tables[t]; c->words != NULL; ++c)
            fprintf(fp, "  hubctl -d DIR %s %s\n", c->words, c->usage);
}

/* 1 when the words of c start argv; *nwords is how many words they took. */
static int matches(const ctl_command_t *c, int argc, char **argv, int *nwords)
{
    const char *space = strchr(c->words, ' ');
    size_t first = space != NULL ? (size_t)(space - c->words) : strlen(c->words);

    if (strlen(argv[0]) != first || strncmp(argv[0], c->words, first) != 0)
        return 0;
    if (space == NULL) {
        *nwords = 1;
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], space + 1) == 0) {
        *nwords = 2;
        return 1;
    }
    return 0;
}

/* The command whose words start argv; *nwords is how many words it took. */
static const ctl_command_t *find_command(int argc, char **argv, int *nwords)
{
    for (size_t t = 0; t != NTABLES; ++t)
        for (const ctl_command_t *c = tables[t]; c->words != NULL; ++c)
            if (matches(c, argc, argv, nwords))
                return c;
    return NULL;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Reads -d DATA_DIR and --help before the command; returns -1 to go on, else the exit code. */
static int global_options(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:d:h", opts, NULL)) != -1) {
        if (c == 'd') {
            ctl->data_dir = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return EXIT_OK;
        } else {
            return ctl_say(EXIT_USAGE, c == ':' ? "%s: missing value" : "unknown option %s (see hubctl --help)", argv[optind - 1]);
        }
    }
    return -1;
}

/* root working in a data dir that belongs to a service user (/var/lib/hub/NAME is hub's) would leave files there that
 * the node cannot read, such as a new signing key (mode 0600): refused, with the way to do it. */
static int check_owner(const char *dir)
{
    struct stat st;
    const struct passwd *pw;
    char uid[24];

    if (geteuid() != 0 || stat(dir, &st) != 0 || st.st_uid == 0)
        return EXIT_OK;
    snprintf(uid, sizeof(uid), "%lu", (unsigned long)st.st_uid);
    pw = getpwuid(st.st_uid);
    return ctl_say(EXIT_RUNTIME, "%s: belongs to user %s; run hubctl as that user (runuser -u %s -- hubctl -d %s ...)", dir,
                   pw != NULL ? pw->pw_name : uid, pw != NULL ? pw->pw_name : uid, dir);
}

int main(int argc, char **argv)
{
    ctl_t ctl = {0};
    int nwords, ret;

    if ((ret = global_options(&ctl, argc, argv)) >= 0)
        return ret;
    if (optind >= argc)
        return ctl_say(EXIT_USAGE, "missing command (see hubctl --help)");
    if ((ctl.cmd = find_command(argc - optind, argv + optind, &nwords)) == NULL)
        return ctl_say(EXIT_USAGE, "unknown command \"%s%s%s\" (see hubctl --help)", argv[optind], optind + 1 < argc ? " " : "",
                       optind + 1 < argc ? argv[optind + 1] : "");
    if (ctl.data_dir == NULL || ctl.data_dir[0] == '\0')
        return ctl_say(EXIT_USAGE, "-d DATA_DIR: required");
    /* the command sees argv[0] = its last word, then its arguments */
    argv += optind + nwords - 1;
    argc -= optind + nwords - 1;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; ++i)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return ctl_print_usage(&ctl); /* needs no data dir */
    if ((ret = check_owner(ctl.data_dir)) != EXIT_OK)
        return ret;
    if (!ctl.cmd->no_store) {
        if (!is_dir(ctl.data_dir))
            return ctl_say(EXIT_RUNTIME, "%s: no such data directory (run hubctl -d %s init)", ctl.data_dir, ctl.data_dir);
        if ((ret = hub_store_open(&ctl.store, ctl.data_dir)) != 0)
            return ctl_say(EXIT_RUNTIME, "%s: cannot open the store: %s", ctl.data_dir, hub_strerror(ret));
    }
    ret = ctl.cmd->run(&ctl, argc, argv);
    hub_store_close(ctl.store);
    return ret;
}
