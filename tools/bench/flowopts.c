/* bench-flowload's command line: the options, their bounds, the secrets read from files and the modes by name. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/bench/flowload.h"

/* --mode NAME: which flow a connection sets up with and which one it repeats (flowsteps.c has the steps). */
static const fl_mode_def_t modes[] = {
    {"signin", -1, ST_AUTHORIZE, 1, 1},
    {"sso", ST_AUTHORIZE, ST_AUTHORIZE, 0, 0},
    {"refresh", ST_AUTHORIZE, ST_REFRESH, -1, 0},
    {"introspect", ST_AUTHORIZE, ST_INTROSPECT, -1, 0},
    {"cc", -1, ST_CC, -1, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flowload --url http://IPV4:PORT --mode signin|sso|refresh|introspect|cc --client-id ID\n"
            "                --client-secret-file FILE [--redirect-uri URI] [--scope SCOPE]\n"
            "                [--user NAME | --user-prefix P --user-count N [--user-digits D]] [--password-file FILE]\n"
            "                [-c CONNECTIONS] [-d SECONDS] [--warmup SECONDS] [--timeout SECONDS] [--setup-timeout SECONDS]\n"
            "                [--series FILE] [--seed N] [--node-pid PID]\n"
            "signin: authorize without a session -> /login -> POST /login -> authorize -> code -> token, a new browser each time\n"
            "sso: a signed-in browser: authorize -> code -> token; refresh: each connection rotates its own refresh chain;\n"
            "introspect: POST /oauth2/introspect of the connection's access token; cc: client_credentials.\n"
            "--series FILE: one line per flow that ended well, \"MONOTONIC_SECONDS LATENCY_MS\"; --node-pid: report that\n"
            "process's CPU over the measured window; SIGINT or SIGTERM ends that window early. Exit status: 0 when every flow "
            "succeeded, 1 on any failure, 2 on bad usage.\n");
}

static double num(const char *name, const char *s, double lo, double hi)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        fl_die("%s: expected a number from %g to %g, got \"%s\"", name, lo, hi, s);
    return v;
}

/* Reads a secret from a file: at most one line; one trailing newline is not part of it. */
static void read_secret(const char *name, const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        fl_die("%s: cannot open %s: %s", name, path, strerror(errno));
    n = fread(out, 1, cap - 1, f);
    if (!feof(f) || ferror(f))
        fl_die("%s: %s is not a file of at most %zu bytes", name, path, cap - 2);
    fclose(f);
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    if (n == 0 || strlen(out) != n || strchr(out, '\n') != NULL)
        fl_die("%s: %s must hold one line", name, path);
}

static void parse_url(const char *url)
{
    const char *p = url + 7, *colon = NULL;
    struct in_addr a;

    if (strncmp(url, "http://", 7) != 0 || (colon = strchr(p, ':')) == NULL || (size_t)(colon - p) >= sizeof(fl.o.host))
        fl_die("--url: expected http://IPV4:PORT, got \"%s\"", url);
    memcpy(fl.o.host, p, (size_t)(colon - p));
    fl.o.host[colon - p] = '\0';
    if (inet_pton(AF_INET, fl.o.host, &a) != 1)
        fl_die("--url: %s is not an IPv4 address", fl.o.host);
    fl.o.port = (unsigned)num("--url port", colon + 1, 1, 65535);
}

enum {
    O_URL = 256,
    O_MODE,
    O_CID,
    O_CSECRET,
    O_REDIRECT,
    O_SCOPE,
    O_USER,
    O_UPREFIX,
    O_UCOUNT,
    O_UDIGITS,
    O_PW,
    O_WARMUP,
    O_TIMEOUT,
    O_SETUP_TIMEOUT,
    O_SERIES,
    O_SEED,
    O_NODE_PID
};

static void parse_opt(int opt, const char *arg)
{
    switch (opt) {
    case O_URL:
        parse_url(arg);
        break;
    case O_MODE:
        fl.o.mode_name = arg;
        break;
    case 'c':
        fl.o.conns = (unsigned)num("-c", arg, 1, MAX_CONNS);
        break;
    case 'd':
        fl.o.duration = num("-d", arg, 0.1, 86400);
        break;
    case O_WARMUP:
        fl.o.warmup = num("--warmup", arg, 0, 3600);
        break;
    case O_TIMEOUT:
        fl.o.timeout = num("--timeout", arg, 0.1, 3600);
        break;
    case O_SETUP_TIMEOUT:
        fl.o.setup_timeout = num("--setup-timeout", arg, 1, 86400);
        break;
    case O_CID:
        fl.o.client_id = arg;
        break;
    case O_CSECRET:
        read_secret("--client-secret-file", arg, fl.o.client_secret, sizeof(fl.o.client_secret));
        break;
    case O_REDIRECT:
        fl.o.redirect_uri = arg;
        break;
    case O_SCOPE:
        fl.o.scope = arg;
        break;
    case O_USER:
        fl.o.user = arg;
        break;
    case O_UPREFIX:
        fl.o.user_prefix = arg;
        break;
    case O_UCOUNT:
        fl.o.user_count = (unsigned)num("--user-count", arg, 1, 1e9);
        break;
    case O_UDIGITS:
        fl.o.user_digits = (unsigned)num("--user-digits", arg, 0, 12);
        break;
    case O_PW:
        read_secret("--password-file", arg, fl.o.password, sizeof(fl.o.password));
        break;
    case O_SERIES:
        fl.o.series_path = arg;
        break;
    case O_SEED:
        fl.o.seed = (uint64_t)num("--seed", arg, 0, 1e15);
        break;
    case O_NODE_PID:
        fl.o.node_pid = (int)num("--node-pid", arg, 1, 1 << 30);
        break;
    default:
        usage(stderr);
        exit(2);
    }
}

void fl_parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {{"url", 1, NULL, O_URL},
                                             {"mode", 1, NULL, O_MODE},
                                             {"connections", 1, NULL, 'c'},
                                             {"duration", 1, NULL, 'd'},
                                             {"warmup", 1, NULL, O_WARMUP},
                                             {"timeout", 1, NULL, O_TIMEOUT},
                                             {"setup-timeout", 1, NULL, O_SETUP_TIMEOUT},
                                             {"client-id", 1, NULL, O_CID},
                                             {"client-secret-file", 1, NULL, O_CSECRET},
                                             {"redirect-uri", 1, NULL, O_REDIRECT},
                                             {"scope", 1, NULL, O_SCOPE},
                                             {"user", 1, NULL, O_USER},
                                             {"user-prefix", 1, NULL, O_UPREFIX},
                                             {"user-count", 1, NULL, O_UCOUNT},
                                             {"user-digits", 1, NULL, O_UDIGITS},
                                             {"password-file", 1, NULL, O_PW},
                                             {"series", 1, NULL, O_SERIES},
                                             {"seed", 1, NULL, O_SEED},
                                             {"node-pid", 1, NULL, O_NODE_PID},
                                             {"help", 0, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    size_t i;

    fl.o = (fl_opts_t){.conns = 16,
                       .duration = 10,
                       .warmup = 1,
                       .timeout = 30,
                       .setup_timeout = 120,
                       .scope = "openid",
                       .user_digits = 7,
                       .seed = 1};
    while ((opt = getopt_long(argc, argv, "c:d:h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        parse_opt(opt, optarg);
    }
    if (optind != argc || fl.o.port == 0 || fl.o.mode_name == NULL || fl.o.client_id == NULL || fl.o.client_secret[0] == '\0')
        fl_die("--url, --mode, --client-id and --client-secret-file are required (--help)");
    for (i = 0; i != sizeof(modes) / sizeof(modes[0]) && strcmp(modes[i].name, fl.o.mode_name) != 0; ++i)
        ;
    if (i == sizeof(modes) / sizeof(modes[0]))
        fl_die("--mode: expected signin, sso, refresh, introspect or cc, got \"%s\"", fl.o.mode_name);
    fl.mode = &modes[i];
    if (fl.mode->run_first == ST_CC)
        return;
    if (fl.o.redirect_uri == NULL || fl.o.password[0] == '\0' || (fl.o.user == NULL) == (fl.o.user_prefix == NULL))
        fl_die("--mode %s needs --redirect-uri, --password-file and one of --user or --user-prefix", fl.o.mode_name);
    if (fl.o.user_prefix != NULL && (fl.o.user_count == 0 || strlen(fl.o.user_prefix) > 64))
        fl_die("--user-prefix needs --user-count (and at most 64 bytes)");
    if (fl.o.user != NULL && strlen(fl.o.user) > 120)
        fl_die("--user: at most 120 bytes");
}
