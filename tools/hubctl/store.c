/* hubctl store export: every live record of the store as JSON lines on stdout (hub/dump.h), read in one read
 * transaction through hub/store.h alone, so that it works on any backend; private signing keys, as PEM read through the
 * vault (idp/keyrec.h: files, or sealed in the store), only with --with-keys. store import is in store_import.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/dump.h"
#include "hub/err.h"
#include "idp/keyrec.h"
#include "tools/hubctl/hubctl.h"

/* Records that are key material: a dump made without --with-keys leaves them out. */
static const struct {
    hub_table_t table;
    const char *prefix; /* of the key; "" = every record of the table */
} key_material[] = {
    {HUB_T_KEYS, ""},            /* signing keys: a record means nothing without its private key */
    {HUB_T_SETTINGS, "secret:"}, /* the primary's CSRF key (idp/csrf.c) */
    {HUB_T_FED, "node_key"},     /* a secondary's own key (federation/fed_ctx.h) */
};

static int key_material_record(hub_table_t t, const void *key, size_t klen)
{
    for (size_t i = 0; i != sizeof(key_material) / sizeof(key_material[0]); ++i) {
        size_t plen = strlen(key_material[i].prefix);
        if (key_material[i].table == t && klen >= plen && memcmp(key, key_material[i].prefix, plen) == 0)
            return 1;
    }
    return 0;
}

typedef struct {
    ctl_t *ctl;
    const idp_keyvault_t *vault; /* with keys */
    hub_txn_t *txn;
    hub_table_t table; /* the one being walked */
    int with_keys;
    uint64_t lines;    /* written after the header */
    size_t left_out;   /* key material records not written */
    char failure[200]; /* why the walk stopped, when it did */
} export_t;

/* Writes a line (freed, cleansed first: it may hold a private key) and counts it. */
static int put_line(export_t *x, char *line, size_t len)
{
    int ok = fwrite(line, 1, len, stdout) == len;

    OPENSSL_cleanse(line, len);
    free(line);
    if (!ok) {
        snprintf(x->failure, sizeof(x->failure), "standard output: write error");
        return HUB_E_IO;
    }
    ++x->lines;
    return 0;
}

/* Why a private key cannot be read, for the operator (idp_keyrec_private_load's errors). */
static const char *unreadable(int ret)
{
    static const struct {
        int ret;
        const char *why;
    } whys[] = {
        {HUB_E_DENIED, "it is sealed with a cluster secret and the store names none hubctl can use (start a primary of the "
                       "cluster first: it saves its primary.cluster_secret_file)"},
        {HUB_E_CRYPTO, "the cluster secret the store names does not open it (another cluster secret, or altered)"},
        {HUB_E_VERSION, "it is sealed in a format this version does not know"},
    };
    for (size_t i = 0; i != sizeof(whys) / sizeof(whys[0]); ++i)
        if (whys[i].ret == ret)
            return whys[i].why;
    return hub_strerror(ret);
}

/* The line of the private key of signing key kid (its record's key), right after the record, read in the export's
 * transaction; none for a key that has no private key left (revoked). */
static int put_private_key(export_t *x, hub_val_t key)
{
    char kid[HUB_DUMP_KID_MAX + 1], *pem = NULL, *line;
    size_t len = 0, llen;
    int ret;

    if (key.len > HUB_DUMP_KID_MAX || memchr(key.data, '\0', key.len) != NULL) {
        snprintf(x->failure, sizeof(x->failure), "keys: a record whose key is not a kid");
        return HUB_E_PARSE;
    }
    memcpy(kid, key.data, key.len);
    kid[key.len] = '\0';
    if ((ret = idp_keyrec_private_load(x->vault, x->txn, kid, &pem, &len)) == HUB_E_NOTFOUND)
        return 0;
    if (ret == 0 && (line = hub_dump_private_key(kid, pem, len, &llen)) == NULL)
        ret = HUB_E_PARSE;
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    if (ret != 0) {
        snprintf(x->failure, sizeof(x->failure), "the private key of signing key %s: %s", kid, unreadable(ret));
        return ret;
    }
    return put_line(x, line, llen);
}

static int export_cb(void *arg, hub_val_t key, hub_val_t val)
{
    export_t *x = arg;
    uint64_t exp;
    size_t len;
    char *line;
    int ret;

    if (x->table == HUB_T_META && key.len == strlen(HUB_DUMP_SCHEMA_KEY) && memcmp(key.data, HUB_DUMP_SCHEMA_KEY, key.len) == 0)
        return 0; /* the header says it */
    if (!x->with_keys && key_material_record(x->table, key.data, key.len)) {
        ++x->left_out;
        return 0;
    }
    if ((ret = hub_store_expiry(x->txn, x->table, key.data, key.len, &exp)) != 0 ||
        (line = hub_dump_record(x->table, key.data, key.len, val.data, val.len, exp, &len)) == NULL) {
        snprintf(x->failure, sizeof(x->failure), "%s: a record cannot be read: %s", hub_dump_table_name(x->table),
                 hub_strerror(ret != 0 ? ret : HUB_E_INVAL));
        return ret != 0 ? ret : HUB_E_INVAL;
    }
    if ((ret = put_line(x, line, len)) != 0)
        return ret;
    return x->with_keys && x->table == HUB_T_KEYS ? put_private_key(x, key) : 0;
}

/* Header, every table in its order, end line: in one read transaction, so the dump is one consistent state. */
static int export_all(export_t *x)
{
    char *line;
    size_t len;
    int ret;

    if ((ret = hub_store_read_begin(x->ctl->store, &x->txn)) != 0) {
        snprintf(x->failure, sizeof(x->failure), "cannot read the store: %s", hub_strerror(ret));
        return ret;
    }
    line = hub_dump_header(HUB_STORE_SCHEMA_VERSION, hub_now(), x->with_keys, &len);
    if ((ret = put_line(x, line, len)) == 0)
        x->lines = 0; /* the end line counts the lines after the header */
    for (x->table = 0; ret == 0 && x->table != HUB_T__COUNT; ++x->table)
        if (hub_dump_carries(x->table) && (ret = hub_store_each(x->txn, x->table, NULL, 0, export_cb, x)) != 0 &&
            x->failure[0] == '\0')
            snprintf(x->failure, sizeof(x->failure), "%s: %s", hub_dump_table_name(x->table), hub_strerror(ret));
    hub_store_read_end(x->txn);
    if (ret == 0) {
        line = hub_dump_end(x->lines, &len);
        ret = put_line(x, line, len);
    }
    if (ret == 0 && fflush(stdout) != 0) {
        snprintf(x->failure, sizeof(x->failure), "standard output: write error");
        ret = HUB_E_IO;
    }
    return ret;
}

/* With keys: the vault the store's private keys are in (the policy the primary saved names its cluster secret). */
static int open_vault(ctl_t *ctl, idp_keyvault_t **vault)
{
    hub_config_t cfg;
    int ret;

    if ((ret = ctl_keys_config(ctl, &cfg)) != 0)
        ret = ctl_say(EXIT_RUNTIME, "store export: cannot read the store: %s", hub_strerror(ret));
    else
        ret = ctl_keys_vault(ctl, &cfg, vault);
    hub_config_dispose(&cfg);
    return ret;
}

static int cmd_export(ctl_t *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"with-keys", no_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'}, {0}};
    idp_keyvault_t *vault = NULL;
    export_t x = {.ctl = ctl};
    int c, ret;

    while ((c = ctl_next_opt(ctl, argc, argv, opts)) != -1) {
        if (c == 'k')
            x.with_keys = 1;
        else if (c == 'h')
            return ctl_print_usage(ctl);
        else
            return ctl_bad_option(ctl, c, argv);
    }
    if ((ret = ctl_positionals(ctl, argc, argv, 0, NULL, NULL)) != EXIT_OK)
        return ret;
    if (x.with_keys && (ret = open_vault(ctl, &vault)) != EXIT_OK)
        return ret;
    x.vault = vault;
    /* an incomplete dump has no end line, so an import refuses it */
    ret = export_all(&x) != 0 ? ctl_say(EXIT_RUNTIME, "store export: %s (the dump is incomplete)", x.failure) : EXIT_OK;
    idp_keyvault_close(vault);
    return ret;
}

const ctl_command_t ctl_store_commands[] = {
    {"store export", cmd_export, "[--with-keys]"},
    {"store import", ctl_store_import, "[--cluster-secret FILE]", 1},
    {NULL},
};
