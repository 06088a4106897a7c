/* hubctl store import: a dump (hub/dump.h) from stdin into a new store, all or nothing. The input is checked whole
 * first while it is copied to a spool file (stdin may be a pipe), then every record goes in through hub/store.h, and
 * every private key into the target's vault (idp_keyrec_private_store: files, or sealed with --cluster-secret), in one
 * write transaction read from the spool (which a grown map runs again). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/dump.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/util.h"
#include "idp/keyrec.h"
#include "idp/keys.h"
#include "idp/owner_index.h"
#include "idp/role.h"
#include "tools/hubctl/hubctl.h"

#define MAX_KEYS 1024  /* private keys a dump may carry (the keyring uses 64) */
#define MAX_ASIDE 1024 /* records of the target that init made, set aside during the import */

/* What a target store may hold already (what hubctl init makes; anything else makes it "not empty"): such records are
 * set aside, the dump goes in, and they come back where the dump brought nothing in their place. */
typedef enum {
    ASIDE_NONE,  /* not allowed in the target */
    ASIDE_KEEP,  /* stays as it is (the store's schema version, which no dump holds) */
    ASIDE_EACH,  /* comes back unless the dump brought a record of its key */
    ASIDE_TABLE, /* comes back only when the dump brought nothing into its table */
} aside_rule_t;
static const struct {
    hub_table_t table;
    const char *key; /* NULL: any key */
    aside_rule_t rule;
} init_records[] = {
    {HUB_T_META, HUB_DUMP_SCHEMA_KEY, ASIDE_KEEP},
    /* set only by a node that served the target (never by init): it would vouch for an index of records it never saw */
    {HUB_T_META, IDP_OWNER_INDEX_MARK, ASIDE_NONE},
    {HUB_T_META, NULL, ASIDE_EACH},                     /* counters */
    {HUB_T_ROLES, IDP_ROLE_SYSTEM_MANAGER, ASIDE_EACH}, /* the built-in roles */
    {HUB_T_ROLES, IDP_ROLE_GUEST, ASIDE_EACH},
    {HUB_T_KEYS, NULL, ASIDE_TABLE}, /* init's key: only when the dump brings none (two key sets would mix) */
    /* init's private key sealed with -c's cluster secret: put back, then removed with its key record (keys_after) */
    {HUB_T_KEY_SECRETS, NULL, ASIDE_EACH},
};

typedef struct {
    char kid[HUB_DUMP_KID_MAX + 1];
    int written; /* handed to the vault by a run of the transaction: taken back when none commits */
} import_key_t;

typedef struct {
    hub_table_t table;
    char *key, *val;
    size_t klen, vlen;
    uint64_t expires_at;
    aside_rule_t rule;
    int dropped; /* replaced by the dump's records (init's key: its private key goes once the import is committed) */
} aside_t;

typedef struct {
    ctl_t *ctl;
    idp_keyvault_t *vault;    /* where the target keeps its private keys */
    char *secret_file;        /* the cluster secret the vault seals with (NULL: files) */
    const char *secret_given; /* --cluster-secret */
    FILE *spool;
    char *buf; /* a line: HUB_DUMP_LINE_MAX + 1 */
    int with_keys;
    import_key_t keys[MAX_KEYS];
    size_t nkeys;
    aside_t aside[MAX_ASIDE];
    size_t naside;
    size_t imported, expired;
    size_t per_table[HUB_T__COUNT]; /* records imported into each table */
    char msg[600];
} import_t;

/* The rule for a record of the target (the first entry of init_records that names it). */
static aside_rule_t aside_rule(hub_table_t t, hub_val_t key)
{
    for (size_t i = 0; i != sizeof(init_records) / sizeof(init_records[0]); ++i)
        if (init_records[i].table == t && (init_records[i].key == NULL || (strlen(init_records[i].key) == key.len &&
                                                                           memcmp(init_records[i].key, key.data, key.len) == 0)))
            return init_records[i].rule;
    return ASIDE_NONE;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *out = hub_xmalloc(n + 1);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

typedef struct {
    import_t *im;
    hub_txn_t *txn;
    hub_table_t table;
    int collect; /* in the write: keep what init made, to delete it and bring it back */
} walk_t;

static int walk_cb(void *arg, hub_val_t key, hub_val_t val)
{
    walk_t *w = arg;
    import_t *im = w->im;
    aside_rule_t rule = aside_rule(w->table, key);
    aside_t *a;

    if (rule == ASIDE_NONE || im->naside == MAX_ASIDE) {
        snprintf(im->msg, sizeof(im->msg),
                 "%s: not empty: table %s holds records (import into a new data dir, or one only hubctl init made)",
                 ctl_where(im->ctl), hub_dump_table_name(w->table));
        return HUB_E_EXISTS;
    }
    if (!w->collect || rule == ASIDE_KEEP)
        return 0;
    a = &im->aside[im->naside++];
    *a = (aside_t){w->table, dup_bytes(key.data, key.len), dup_bytes(val.data, val.len), key.len, val.len, 0, rule, 0};
    return hub_store_expiry(w->txn, w->table, key.data, key.len, &a->expires_at);
}

static void aside_free(import_t *im)
{
    for (size_t i = 0; i != im->naside; ++i) {
        free(im->aside[i].key);
        OPENSSL_cleanse(im->aside[i].val, im->aside[i].vlen);
        free(im->aside[i].val);
    }
    im->naside = 0;
}

/* Checks that the target holds only what init makes (im->msg says what else, HUB_E_EXISTS); with collect, sets those
 * records aside and deletes them, in the write transaction txn. */
static int walk_target(import_t *im, hub_txn_t *txn, int collect)
{
    walk_t w = {im, txn, 0, collect};
    int ret = 0;

    aside_free(im);
    for (w.table = 0; ret == 0 && w.table != HUB_T__COUNT; ++w.table)
        ret = hub_store_each(txn, w.table, NULL, 0, walk_cb, &w);
    for (size_t i = 0; ret == 0 && i != im->naside; ++i)
        ret = hub_store_del(txn, im->aside[i].table, im->aside[i].key, im->aside[i].klen);
    return ret;
}

/* ---- the check: every line, before anything is written ---- */

static int bad(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return HUB_E_PARSE;
}

/* A keys record (its value a key record of its own kid) or a private key (one of the key record before it, of its
 * algorithm, no longer than a vault keeps), its kid kept for the write. */
static int check_key_line(import_t *im, const hub_dump_line_t *l, idp_keyrec_t *last, char *err, size_t size)
{
    hub_key_t *key = NULL;

    if (l->kind == HUB_DUMP_RECORD) {
        if (idp_keyrec_decode(l->val, l->vlen, last) != 0)
            return bad(err, size, "value: not a signing key record");
        if (strlen(last->kid) != l->klen || memcmp(last->kid, l->key, l->klen) != 0)
            return bad(err, size, "key: not the kid of its record");
        return 0;
    }
    if (im->nkeys == MAX_KEYS)
        return bad(err, size, "private_key: more than %d private keys", MAX_KEYS);
    for (size_t i = 0; i != im->nkeys; ++i)
        if (strcmp(im->keys[i].kid, last->kid) == 0)
            return bad(err, size, "private_key: a second private key of the same kid");
    if (l->vlen > IDP_KEYREC_PEM_MAX)
        return bad(err, size, "pem: longer than %d bytes", IDP_KEYREC_PEM_MAX);
    if (hub_key_from_pem(&key, last->kid, last->alg, l->val, l->vlen) != 0)
        return bad(err, size, "pem: not a private key for %s", hub_alg_name(last->alg));
    hub_key_free(key);
    snprintf(im->keys[im->nkeys++].kid, sizeof(im->keys[0].kid), "%s", last->kid);
    return 0;
}

/* One line read from stdin: checked, then copied to the spool. */
static int check_line(import_t *im, hub_dump_reader_t *r, size_t len, idp_keyrec_t *last)
{
    hub_dump_line_t l;
    char why[300];
    int ret;

    if ((ret = hub_dump_next(r, im->buf, len, &l, im->msg, sizeof(im->msg))) != 0)
        return ret;
    if (l.kind == HUB_DUMP_HEADER)
        im->with_keys = l.with_keys;
    if ((l.kind == HUB_DUMP_RECORD && l.table == HUB_T_KEYS) || l.kind == HUB_DUMP_PRIVATE_KEY) {
        if ((ret = check_key_line(im, &l, last, why, sizeof(why))) != 0)
            snprintf(im->msg, sizeof(im->msg), "line %llu: %s", (unsigned long long)r->line, why);
    }
    hub_dump_line_clear(&l);
    if (ret == 0 && (fwrite(im->buf, 1, len, im->spool) != len || putc('\n', im->spool) == EOF)) {
        snprintf(im->msg, sizeof(im->msg), "cannot write the spool file in %s: %s", im->ctl->data_dir, strerror(errno));
        return HUB_E_IO;
    }
    return ret;
}

/* Reads the whole of stdin into the spool, checking each line; EXIT_OK, or the exit code with im->msg. */
static int check_input(import_t *im)
{
    hub_dump_reader_t r;
    idp_keyrec_t last = {0};
    size_t len;
    int ret;

    hub_dump_reader_init(&r);
    while ((ret = hub_dump_read_line(stdin, im->buf, HUB_DUMP_LINE_MAX, &len)) == 1) {
        if ((ret = check_line(im, &r, len, &last)) != 0)
            return ret == HUB_E_IO ? EXIT_RUNTIME : EXIT_USAGE;
        OPENSSL_cleanse(im->buf, len);
    }
    if (ret == HUB_E_TOOBIG) {
        snprintf(im->msg, sizeof(im->msg), "line %llu: longer than %zu bytes", (unsigned long long)r.line + 1, HUB_DUMP_LINE_MAX);
        return EXIT_USAGE;
    }
    if (ret != 0) {
        snprintf(im->msg, sizeof(im->msg), "standard input: read error");
        return EXIT_RUNTIME;
    }
    if (hub_dump_finish(&r, im->msg, sizeof(im->msg)) != 0)
        return EXIT_USAGE;
    if (fflush(im->spool) != 0) {
        snprintf(im->msg, sizeof(im->msg), "cannot write the spool file in %s: %s", im->ctl->data_dir, strerror(errno));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* ---- the write ---- */

/* 1 when the target held a record of t under key before the import (init made it). */
static int set_aside(const import_t *im, hub_table_t t, const char *key, size_t klen)
{
    for (size_t i = 0; i != im->naside; ++i)
        if (im->aside[i].table == t && im->aside[i].klen == klen && memcmp(im->aside[i].key, key, klen) == 0)
            return 1;
    return 0;
}

/* One record of the dump into txn (one whose time has passed is left out; *key_in says whether a signing key's record
 * went in, for its private key on the next line); the store says what it refuses. */
static int import_record(import_t *im, hub_txn_t *txn, const hub_dump_line_t *l, uint64_t line, uint64_t now, int *key_in)
{
    int ret;

    if (l->expires_at != 0 && l->expires_at <= now) {
        ++im->expired;
        return 0;
    }
    /* init's key under the dump's kid: its private key would be the dump's, then removed as init's */
    if (l->table == HUB_T_KEYS && set_aside(im, HUB_T_KEYS, l->key, l->klen))
        return ctl_refuse(im->ctl, EXIT_RUNTIME,
                          "store import: line %llu: key: signing key %s is the one hubctl init made in %s "
                          "(import into a new data dir)",
                          (unsigned long long)line, l->key, ctl_where(im->ctl));
    ret = hub_store_put(txn, l->table, l->key, l->klen, l->val, l->vlen, l->expires_at, HUB_STORE_NOOVERWRITE);
    if (ret == HUB_E_EXISTS)
        return ctl_refuse(im->ctl, EXIT_USAGE, "store import: line %llu: key: a second record of the same key in table %s",
                          (unsigned long long)line, hub_dump_table_name(l->table));
    if (ret == HUB_E_TOOBIG)
        return ctl_refuse(im->ctl, EXIT_USAGE, "store import: line %llu: key: too long for the store", (unsigned long long)line);
    if (ret != 0)
        return ret;
    ++im->imported;
    ++im->per_table[l->table];
    *key_in = l->table == HUB_T_KEYS;
    return 0;
}

/* The private key of the signing key whose record went in just before: into the target's vault, in txn (sealed, a record
 * of txn; a file, written now and taken back by keys_after when no run commits). Never over one the target holds. */
static int import_private_key(import_t *im, hub_txn_t *txn, const hub_dump_line_t *l)
{
    import_key_t *k = NULL;
    char *pem = NULL;
    size_t len = 0;
    int ret;

    for (size_t i = 0; k == NULL && i != im->nkeys; ++i)
        k = strcmp(im->keys[i].kid, l->key) == 0 ? &im->keys[i] : NULL;
    if (k == NULL)
        return ctl_refuse(im->ctl, EXIT_RUNTIME, "store import: the spool file changed: private key %s", l->key);
    if (!k->written && (ret = idp_keyrec_private_load(im->vault, txn, k->kid, &pem, &len)) != HUB_E_NOTFOUND) {
        if (pem != NULL) {
            OPENSSL_cleanse(pem, len);
            free(pem);
        }
        return ctl_refuse(im->ctl, EXIT_RUNTIME, "store import: the private key of signing key %s: %s", k->kid,
                          ret == 0 ? "the data dir holds one already (import into a new data dir)" : hub_strerror(ret));
    }
    k->written = 1;
    if ((ret = idp_keyrec_private_store(im->vault, txn, k->kid, l->val, l->vlen)) != 0)
        return ctl_refuse(im->ctl, EXIT_RUNTIME, "store import: the private key of signing key %s: %s", k->kid, hub_strerror(ret));
    return 0;
}

/* What init made comes back where the dump brought nothing in its place (init's keys: when it brought no key, else the
 * dump's keys sign). */
static int restore_aside(import_t *im, hub_txn_t *txn)
{
    int ret;

    for (size_t i = 0; i != im->naside; ++i) {
        aside_t *a = &im->aside[i];
        if (a->rule == ASIDE_TABLE && im->per_table[a->table] != 0) {
            a->dropped = 1;
            continue;
        }
        ret = hub_store_put(txn, a->table, a->key, a->klen, a->val, a->vlen, a->expires_at, HUB_STORE_NOOVERWRITE);
        if (ret == HUB_E_EXISTS)
            a->dropped = 1;
        else if (ret != 0)
            return ret;
    }
    return 0;
}

/* The write transaction: the target checked again and init's records set aside, every line of the spool, what init
 * made brought back, the policy naming where the private keys went. A grown map runs it again from the start. */
static int import_txn(hub_txn_t *txn, void *arg)
{
    import_t *im = arg;
    hub_dump_reader_t r;
    hub_dump_line_t l;
    uint64_t now = hub_now();
    size_t len;
    int ret, key_in = 0;

    im->imported = im->expired = 0;
    memset(im->per_table, 0, sizeof(im->per_table));
    if ((ret = walk_target(im, txn, 1)) != 0)
        return ret == HUB_E_EXISTS ? ctl_refuse(im->ctl, EXIT_RUNTIME, "store import: %s", im->msg) : ret;
    rewind(im->spool);
    hub_dump_reader_init(&r);
    while ((ret = hub_dump_read_line(im->spool, im->buf, HUB_DUMP_LINE_MAX, &len)) == 1) {
        if (hub_dump_next(&r, im->buf, len, &l, im->msg, sizeof(im->msg)) != 0)
            return ctl_refuse(im->ctl, EXIT_RUNTIME, "store import: the spool file changed: %s", im->msg);
        /* a private key whose record expired is left out with it */
        ret = l.kind == HUB_DUMP_PRIVATE_KEY && key_in ? import_private_key(im, txn, &l) : 0;
        key_in = 0;
        if (l.kind == HUB_DUMP_RECORD)
            ret = import_record(im, txn, &l, r.line, now, &key_in);
        hub_dump_line_clear(&l);
        OPENSSL_cleanse(im->buf, len);
        if (ret != 0)
            return ret;
    }
    if (ret != 0 || (ret = restore_aside(im, txn)) != 0)
        return ret;
    return idp_keys_policy_secret(txn, idp_keyvault_sealed(im->vault) ? im->secret_file : NULL);
}

/* After the write: the private keys of a failed import taken back, or those of init's keys the dump replaced. */
static void keys_after(import_t *im, int committed)
{
    for (size_t i = 0; i != im->nkeys; ++i)
        if (im->keys[i].written && !committed)
            idp_keyrec_private_remove(im->vault, im->ctl->store, im->keys[i].kid);
    for (size_t i = 0; i != im->naside; ++i) {
        const aside_t *a = &im->aside[i];
        idp_keyrec_t rec;
        /* the kid as its record has it (one the vault takes) */
        if (committed && a->dropped && a->table == HUB_T_KEYS && idp_keyrec_decode(a->val, a->vlen, &rec) == 0 &&
            strcmp(rec.kid, a->key) == 0)
            idp_keyrec_private_remove(im->vault, im->ctl->store, rec.kid);
    }
}

/* ---- the command ---- */

/* A file no one else sees (unlinked at once, mode 0600) in dir, the data dir: it may hold private keys. */
static FILE *open_spool(const char *dir)
{
    char path[4200];
    FILE *fp;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/.import-XXXXXX", dir) >= sizeof(path) || (fd = mkstemp(path)) == -1)
        return NULL;
    unlink(path);
    if ((fp = fdopen(fd, "w+")) == NULL)
        close(fd);
    return fp;
}

static void say_done(const import_t *im)
{
    size_t kept = 0;

    for (size_t i = 0; i != im->naside; ++i)
        kept += im->aside[i].table == HUB_T_KEYS && !im->aside[i].dropped;
    printf("imported %zu records into %s", im->imported, ctl_where(im->ctl));
    if (im->expired != 0)
        printf(" (%zu expired, left out)", im->expired);
    if (im->nkeys != 0)
        printf(" with %zu private signing key%s%s", im->nkeys, im->nkeys == 1 ? "" : "s",
               idp_keyvault_sealed(im->vault) ? ", sealed with the cluster secret" : "");
    printf("\n");
    if (!im->with_keys)
        printf("the dump holds no signing keys: %s; tokens signed before the export do not verify here (refresh tokens "
               "still do)\n",
               kept != 0 ? "the key hubctl init made signs" : "hubd makes a new key when it starts");
}

/* The target's vault: files, or sealed with the cluster secret --cluster-secret names (or the target's policy does). */
static int open_vault(import_t *im)
{
    hub_config_t cfg;
    int ret;

    if ((ret = ctl_keys_config(im->ctl, &cfg)) != 0) {
        hub_config_dispose(&cfg);
        return ctl_say(EXIT_RUNTIME, "%s: cannot read the store: %s", ctl_where(im->ctl), hub_strerror(ret));
    }
    if (im->secret_given != NULL) {
        free(cfg.primary.cluster_secret_file);
        cfg.primary.cluster_secret_file = hub_strdup(im->secret_given);
    }
    if ((ret = ctl_keys_vault(im->ctl, &cfg, &im->vault)) == EXIT_OK && hub_config_is_cluster(&cfg))
        im->secret_file = hub_strdup(cfg.primary.cluster_secret_file);
    hub_config_dispose(&cfg);
    return ret;
}

/* Target checked, vault opened, input checked into the spool, records and private keys written; EXIT_OK or an exit
 * code, said. */
static int run_import(import_t *im)
{
    hub_txn_t *txn;
    int ret;

    if ((ret = hub_store_read_begin(im->ctl->store, &txn)) != 0)
        return ctl_say(EXIT_RUNTIME, "%s: cannot read the store: %s", ctl_where(im->ctl), hub_strerror(ret));
    ret = walk_target(im, txn, 0);
    hub_store_read_end(txn);
    if (ret != 0)
        return ctl_say(EXIT_RUNTIME, "store import: %s", ret == HUB_E_EXISTS ? im->msg : hub_strerror(ret));
    if ((ret = open_vault(im)) != EXIT_OK)
        return ret;
    if ((im->spool = open_spool(im->ctl->data_dir)) == NULL)
        return ctl_say(EXIT_RUNTIME, "store import: cannot make a spool file in %s: %s", im->ctl->data_dir, strerror(errno));
    if ((ret = check_input(im)) != EXIT_OK)
        return ctl_say(ret, "store import: %s (nothing imported)", im->msg);
    ret = ctl_write(im->ctl, import_txn, im);
    keys_after(im, ret == EXIT_OK);
    if (ret == EXIT_OK)
        say_done(im);
    return ret;
}

/* The options; EXIT_OK to go on, else an exit code (or a negative value for --help: CTL_ARGS_DONE). */
static int import_options(ctl_t *ctl, int argc, char **argv, const char **secret)
{
    static const struct option opts[] = {{"cluster-secret", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 's') {
            *secret = optarg;
        } else if (c == 'h') {
            ctl_print_usage(ctl);
            return -1; /* answered */
        } else {
            return ctl_bad_option(ctl, c, argv);
        }
    }
    return ctl_positionals(ctl, argc, argv, 0, NULL, NULL);
}

int ctl_store_import(ctl_t *ctl, int argc, char **argv)
{
    const char *secret = NULL;
    import_t *im;
    int ret;

    if ((ret = import_options(ctl, argc, argv, &secret)) != EXIT_OK)
        return CTL_ARGS_DONE(ret);
    if (isatty(STDIN_FILENO))
        return ctl_say(EXIT_USAGE, "store import: reads a dump on standard input (hubctl -d %s store import < FILE)",
                       ctl->data_dir);
    /* the store -d or -c names, created when missing (a new LMDB data dir, a PostgreSQL database without the schema) */
    if ((ret = ctl_open_store(ctl, 1)) != EXIT_OK)
        return ret;
    im = hub_xcalloc(1, sizeof(*im));
    im->ctl = ctl;
    im->secret_given = secret;
    im->buf = hub_xmalloc(HUB_DUMP_LINE_MAX + 1);
    ret = run_import(im);
    aside_free(im);
    if (im->spool != NULL)
        fclose(im->spool);
    idp_keyvault_close(im->vault);
    free(im->secret_file);
    OPENSSL_cleanse(im->buf, HUB_DUMP_LINE_MAX + 1);
    free(im->buf);
    free(im);
    return ret;
}
