/* What hubctl's command files share (private to tools/hubctl/): the run context, each noun's command table, one-line
 * messages, option and argument parsing, and printing records. */
#ifndef HUBCTL_H
#define HUBCTL_H

#include <getopt.h>
#include <stddef.h>
#include <jansson.h>
#include "hub/config.h"
#include "hub/store.h"
#include "idp/invalid.h"
#include "idp/strv.h"

/* Exit codes of SPEC §2. */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

typedef struct st_ctl_command_t ctl_command_t;

typedef struct st_ctl_t {
    const char *data_dir;
    const ctl_command_t *cmd;
    hub_store_t *store; /* opened by main (by the command itself for init) */
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

struct st_ctl_command_t {
    const char *words; /* "user add" */
    int (*run)(ctl_t *ctl, int argc, char **argv);
    const char *usage;
    int no_store; /* main opens no store for it (init creates the data dir) */
};

/* Each noun's commands, ended by an entry with words NULL; main walks them in this order. */
extern const ctl_command_t ctl_init_commands[];
extern const ctl_command_t ctl_user_commands[];
extern const ctl_command_t ctl_role_commands[];
extern const ctl_command_t ctl_client_commands[];
extern const ctl_command_t ctl_settings_commands[];
extern const ctl_command_t ctl_node_commands[];
extern const ctl_command_t ctl_keys_commands[];
extern const ctl_command_t ctl_store_commands[];

/* ---- messages ---- */

/* Prints "hubctl: MESSAGE" on stderr as ONE line (newlines, other control characters and bytes that are not UTF-8 in
 * the values it quotes are escaped, idp_quote) and returns code. */
int ctl_say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ctl_say of a validator's refusal, naming hubctl's option for the field. */
int ctl_say_invalid(int code, const idp_invalid_t *inv);
/* Inside a write transaction: records why the change is refused (printed by ctl_write once the txn is aborted) and
 * returns HUB_E_INVAL, which aborts it. */
int ctl_refuse(ctl_t *ctl, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ctl_refuse_invalid(ctl_t *ctl, int code, const idp_invalid_t *inv);
/* Runs fn in one write transaction; a refused or failed change has written nothing. Returns an exit code, having
 * printed the refusal or the failure. */
int ctl_write(ctl_t *ctl, int (*fn)(hub_txn_t *txn, void *arg), void *arg);

/* ---- arguments ---- */

enum { CTL_OPT_HELP = 'h', CTL_OPT_JSON = 1000 };

/* getopt_long over a command's long options (the first call starts the scan; an argument that begins with '-' but is
 * no option stays an argument). */
int ctl_next_opt(ctl_t *ctl, int argc, char **argv, const struct option *opts);
/* One line for getopt's complaint c about argv[optind - 1]; returns EXIT_USAGE. */
int ctl_bad_option(ctl_t *ctl, int c, char **argv);
/* The command's usage on stdout; returns EXIT_OK. */
int ctl_print_usage(ctl_t *ctl);
/* After the options: exactly n positional arguments named by names (e.g. "NAME") into out, none empty. */
int ctl_positionals(ctl_t *ctl, int argc, char **argv, size_t n, const char *const *names, const char **out);
/* Commands whose only options are --json (reads, when json is set) and --help: then n positional arguments. Returns
 * EXIT_OK, an exit code to return, or a negative value when --help was answered (CTL_ARGS_DONE turns it into 0). */
int ctl_simple_args(ctl_t *ctl, int argc, char **argv, int json, size_t n, const char *const *names, const char **out);
#define CTL_ARGS_DONE(r) ((r) < 0 ? EXIT_OK : (r))

/* Appends the roles of a --role value (one role, or several separated by ';'), each once. */
void ctl_add_roles(idp_strv_t *sv, const char *value);
/* Replaces *dst with a copy of s, or NULL when s is NULL or empty. */
void ctl_replace(char **dst, const char *s);

/* ---- output ---- */

/* Prints j indented on stdout and drops the reference. */
void ctl_print_json(json_t *j);
/* A list command's start: its arguments (--json only), then *list a new JSON array under --json, else header printed
 * and *list NULL. EXIT_OK, an exit code, or a negative value for --help (CTL_ARGS_DONE). */
int ctl_list_begin(ctl_t *ctl, int argc, char **argv, const char *header, json_t **list);
/* Its end: list printed (under --json), or, when the walk failed with ret, the failure reported and list dropped. */
int ctl_list_end(ctl_t *ctl, json_t *list, int ret);
/* user/client/node list: one read transaction walking the records into list (a JSON array under --json, else NULL:
 * walk prints table rows under header). */
int ctl_run_list(ctl_t *ctl, int argc, char **argv, const char *header, int (*walk)(hub_txn_t *txn, json_t *list));
/* user/client show: one record by its NAME or ID, as key: value lines or --json. load returns the record's JSON (a new
 * reference) or NULL with *ret set (HUB_E_NOTFOUND: "no WHAT"). */
int ctl_run_show(ctl_t *ctl, int argc, char **argv, const char *what, const char *arg_name,
                 json_t *(*load)(hub_txn_t *txn, const char *key, int *ret));

/* store import (store_import.c), listed in store.c's table. */
int ctl_store_import(ctl_t *ctl, int argc, char **argv);

/* cfg for the keyring's operator commands: defaults, the data dir and the rotation policy the primary saved (with the
 * cluster secret's file of a cluster's primary). */
int ctl_keys_config(ctl_t *ctl, hub_config_t *cfg);
/* The vault of private keys cfg names (idp/keyrec.h: files in the data dir, or sealed with the cluster secret) into
 * *out (idp_keyvault_close). Returns EXIT_OK, or EXIT_RUNTIME after printing why not. */
struct st_idp_keyvault_t;
int ctl_keys_vault(ctl_t *ctl, const hub_config_t *cfg, struct st_idp_keyvault_t **out);

#endif
