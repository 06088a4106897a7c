/* The node's configuration: one typed key table (value types in hub/config_types.c) drives defaults, YAML parsing,
 * validation and freeing. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "hub/config.h"
#include "hub/config_types.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/path.h"
#include "hub/util.h"

#define CONF_MAX_FILE (1024 * 1024)

_Static_assert(sizeof(hub_role_t) == sizeof(int), "enum fields are stored as int");
_Static_assert(HUB_LOG_DEBUG == 3, "log_level names follow hub_log_level_t");

typedef struct st_conf_table_t {
    const hub_conf_key_t *keys;
    size_t n;
} conf_table_t;

typedef struct st_conf_ctx_t {
    const char *file;
    FILE *errs;
    size_t nproblems;
    yaml_document_t *doc;
    hub_config_t *cfg;
    unsigned *lines; /* per key of the main table: line it was set on, 0 = absent */
    char *bad;       /* per key of the main table: its value was rejected */
} conf_ctx_t;

static void problem(conf_ctx_t *ctx, size_t line, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(conf_ctx_t *ctx, size_t line, const char *key, const char *fmt, ...)
{
    va_list ap;

    ++ctx->nproblems;
    if (ctx->errs == NULL)
        return;
    fprintf(ctx->errs, "%s:%zu: %s: ", ctx->file, line, key);
    va_start(ap, fmt);
    vfprintf(ctx->errs, fmt, ap);
    va_end(ap);
    fputc('\n', ctx->errs);
}

int hub_parse_duration(const char *s, uint64_t *seconds)
{
    return hub_conf_parse_duration(s, seconds);
}

static void dispose_routes(const hub_conf_key_t *key, void *base);
static const hub_conf_type_t type_section = {HUB_CONF_SECTION, "a mapping", NULL, NULL};
static const hub_conf_type_t type_routes = {HUB_CONF_ROUTES, "a list of routes", NULL, dispose_routes};

/* ---- the tables ---- */

static const char *const role_names[] = {"primary", "secondary", NULL};
static const char *const alg_names[] = {"RS256", "ES256", "EdDSA", NULL};
static const char *const skip_names[] = {"force", "auto", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const backend_names[] = {"lmdb", "postgresql", NULL};

#define C(f) offsetof(hub_config_t, f)
/* clang-format off */
#define SECTION(p) {p, &type_section}
#define KEY(p, t, f, d) {p, &t, C(f), 0, d}
#define PAIR(p, t, f, f2, d) {p, &t, C(f), C(f2), d}
#define RANGE(p, t, f, d, lo, hi) {p, &t, C(f), 0, d, lo, hi}
#define ENUM(p, f, d, n) {p, &hub_conf_enum, C(f), 0, d, 0, 0, n}
/* clang-format on */
#define TTL(p, f, d) RANGE(p, hub_conf_duration, f, d, 1, HUB_CONF_MAX_DURATION)

/* Every key of SPEC §3; a section's keys follow it. Defaults make a runnable loopback primary. */
static const hub_conf_key_t main_keys[] = {
    SECTION("node"),
    ENUM("node.role", node.role, "primary", role_names),
    KEY("node.name", hub_conf_name, node.name, "primary"),
    PAIR("node.listen", hub_conf_listen, node.listen_host, node.listen_port, "127.0.0.1:8080"),
    KEY("node.public_url", hub_conf_url, node.public_url, "http://127.0.0.1:8080"),
    KEY("node.data_dir", hub_conf_string, node.data_dir, "./data/primary"),
    RANGE("node.threads", hub_conf_uint, node.threads, "2", 1, 64),
    SECTION("node.tls"),
    KEY("node.tls.cert", hub_conf_string, node.tls_cert, NULL),
    KEY("node.tls.key", hub_conf_string, node.tls_key, NULL),
    ENUM("node.log_level", node.log_level, "info", level_names),
    RANGE("node.max_connections", hub_conf_uint, node.max_connections, "0", 0, 1000000),
    PAIR("node.metrics_allow", hub_conf_cidrs, node.metrics_allow, node.nmetrics_allow, "127.0.0.0/8 ::1/128"),
    KEY("node.proxy_protocol", hub_conf_bool, node.proxy_protocol, "false"),

    SECTION("store"),
    ENUM("store.backend", store.backend, "lmdb", backend_names),
    SECTION("store.postgresql"),
    KEY("store.postgresql.conninfo", hub_conf_conninfo, store.pg_conninfo, NULL),
    KEY("store.postgresql.password_file", hub_conf_string, store.pg_password_file, NULL),
    RANGE("store.postgresql.pool", hub_conf_uint, store.pg_pool, "4", 1, 64),

    SECTION("primary"),
    ENUM("primary.signing_alg", primary.signing_alg, "RS256", alg_names),
    SECTION("primary.key_rotation"),
    TTL("primary.key_rotation.every", primary.key_rotation_every, "30d"),
    RANGE("primary.key_rotation.publish_ahead", hub_conf_duration, primary.key_publish_ahead, "1h", 0, HUB_CONF_MAX_DURATION),
    TTL("primary.access_token_ttl", primary.access_token_ttl, "10m"),
    TTL("primary.id_token_ttl", primary.id_token_ttl, "10m"),
    TTL("primary.refresh_token_ttl", primary.refresh_token_ttl, "30d"),
    TTL("primary.code_ttl", primary.code_ttl, "60s"),
    TTL("primary.session_ttl", primary.session_ttl, "12h"),
    ENUM("primary.skip_authorization", primary.skip_authorization, "force", skip_names),
    SECTION("primary.registration"),
    KEY("primary.registration.require_join_token", hub_conf_bool, primary.require_join_token, "true"),
    SECTION("primary.login"),
    RANGE("primary.login.max_failures", hub_conf_uint, primary.login_max_failures, "5", 1, 1000),
    TTL("primary.login.lockout", primary.login_lockout, "15m"),
    RANGE("primary.login.address_max_failures", hub_conf_uint, primary.login_address_max_failures, "10", 1, 1000000),
    RANGE("primary.login.max_checks_per_second", hub_conf_uint, primary.login_max_checks_per_second, "0", 0, 1000000),
    RANGE("primary.login.max_queued", hub_conf_uint, primary.login_max_queued, "0", 0, 1000000),
    KEY("primary.cluster_secret_file", hub_conf_cluster_secret, primary.cluster_secret_file, NULL),

    SECTION("secondary"),
    KEY("secondary.server_url", hub_conf_url, secondary.server_url, NULL),
    KEY("secondary.join_token_file", hub_conf_string, secondary.join_token_file, NULL),
    KEY("secondary.client_id", hub_conf_string, secondary.client_id, NULL),
    KEY("secondary.client_secret_file", hub_conf_string, secondary.client_secret_file, NULL),
    PAIR("secondary.scopes", hub_conf_scopes, secondary.scopes, secondary.nscopes, "openid profile email roles"),
    TTL("secondary.session_ttl", secondary.session_ttl, "8h"),
    RANGE("secondary.clock_skew", hub_conf_duration, secondary.clock_skew, "60s", 0, 3600),
    PAIR("secondary.accept_audiences", hub_conf_strings, secondary.accept_audiences, secondary.naccept_audiences, ""),
    PAIR("secondary.routes", type_routes, secondary.routes, secondary.nroutes, NULL),
};

#undef C
#define C(f) offsetof(hub_route_conf_t, f)

static const hub_conf_key_t route_keys[] = {
    KEY("path", hub_conf_route_path, path, NULL),
    KEY("upstream", hub_conf_upstream, upstream, NULL),
    PAIR("roles", hub_conf_strings, roles, nroles, ""),
    KEY("pass_token", hub_conf_bool, pass_token, "false"),
};

#define NMAIN (sizeof(main_keys) / sizeof(main_keys[0]))
#define NROUTE (sizeof(route_keys) / sizeof(route_keys[0]))
static const conf_table_t main_table = {main_keys, NMAIN};
static const conf_table_t route_table = {route_keys, NROUTE};

static int key_index(const conf_table_t *tab, const char *path)
{
    for (size_t i = 0; i < tab->n; ++i)
        if (strcmp(tab->keys[i].path, path) == 0)
            return (int)i;
    return -1;
}

static char **split_words(const char *s, size_t *n)
{
    char **list = hub_xcalloc(HUB_CONF_MAX_ITEMS + 1, sizeof(*list));

    *n = 0;
    while (*n < HUB_CONF_MAX_ITEMS) {
        size_t len;
        s += strspn(s, " ");
        if ((len = strcspn(s, " ")) == 0)
            break;
        list[*n] = hub_xstrndup(s, len);
        ++*n;
        s += len;
    }
    return list;
}

static void apply_defaults(const conf_table_t *tab, void *base)
{
    char msg[HUB_CONF_MSG];

    for (size_t i = 0; i < tab->n; ++i) {
        const hub_conf_key_t *k = &tab->keys[i];
        if (k->def == NULL)
            continue;
        if (k->type->kind == HUB_CONF_LIST) {
            size_t n;
            char **list = split_words(k->def, &n);
            hub_conf_set_list(k, base, list, n);
        } else if (k->type->parse(k, base, k->def, msg, sizeof(msg)) != 0) {
            hub_fatal("config: the default of %s does not parse", k->path); /* a bug in the table */
        }
    }
}

static void dispose_table(const conf_table_t *tab, void *base)
{
    for (size_t i = 0; i < tab->n; ++i)
        if (tab->keys[i].type->dispose != NULL)
            tab->keys[i].type->dispose(&tab->keys[i], base);
}

static void dispose_routes(const hub_conf_key_t *key, void *base)
{
    hub_route_conf_t **slot = HUB_CONF_FIELD(base, key->off, hub_route_conf_t *);
    size_t *n = HUB_CONF_FIELD(base, key->off2, size_t);

    for (size_t i = 0; *slot != NULL && i < *n; ++i)
        dispose_table(&route_table, &(*slot)[i]);
    free(*slot);
    *slot = NULL;
    *n = 0;
}

int hub_config_is_cluster(const hub_config_t *cfg)
{
    return cfg->node.role == HUB_ROLE_PRIMARY && cfg->primary.cluster_secret_file != NULL;
}

void hub_config_defaults(hub_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    apply_defaults(&main_table, cfg);
}

void hub_config_dispose(hub_config_t *cfg)
{
    dispose_table(&main_table, cfg);
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- walking the YAML document ---- */

static size_t line_of(const yaml_node_t *node)
{
    return node->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *node)
{
    return node->type == YAML_MAPPING_NODE ? "mapping" : node->type == YAML_SEQUENCE_NODE ? "list" : "scalar";
}

static int is_null(const yaml_node_t *node)
{
    const char *s = (const char *)node->data.scalar.value;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *expectation(const hub_conf_key_t *k, char *buf, size_t size)
{
    if (k->type->expect != NULL)
        return k->type->expect;
    k->type->parse(k, NULL, "", buf, size); /* an enum lists its values when nothing matches */
    return buf + strlen("expected ");
}

/* Returns the scalar's text, or NULL after reporting why the node is not a usable scalar. */
static const char *scalar_text(conf_ctx_t *ctx, const hub_conf_key_t *k, yaml_node_t *node, const char *name)
{
    char buf[HUB_CONF_MSG];

    if (node->type != YAML_SCALAR_NODE) {
        problem(ctx, line_of(node), name, "expected %s, not a %s", expectation(k, buf, sizeof(buf)), node_kind(node));
        return NULL;
    }
    if (is_null(node)) {
        problem(ctx, line_of(node), name, "expected %s, the value is missing", expectation(k, buf, sizeof(buf)));
        return NULL;
    }
    if (memchr(node->data.scalar.value, '\0', node->data.scalar.length) != NULL) {
        problem(ctx, line_of(node), name, "must not contain a NUL character");
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

static void apply_list(conf_ctx_t *ctx, const hub_conf_key_t *k, yaml_node_t *node, void *base, const char *name)
{
    char msg[HUB_CONF_MSG], **list;
    size_t n = 0, before = ctx->nproblems;

    if (is_null(node)) {
        hub_conf_set_list(k, base, hub_xcalloc(1, sizeof(char *)), 0);
        return;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(ctx, line_of(node), name, "expected %s, not a %s", k->type->expect, node_kind(node));
        return;
    }
    if (node->data.sequence.items.top - node->data.sequence.items.start > HUB_CONF_MAX_ITEMS) {
        problem(ctx, line_of(node), name, "at most %d items", HUB_CONF_MAX_ITEMS);
        return;
    }
    list = hub_xcalloc(HUB_CONF_MAX_ITEMS + 1, sizeof(*list));
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; ++it) {
        yaml_node_t *item = yaml_document_get_node(ctx->doc, *it);
        const char *s;
        if (item == NULL || (s = scalar_text(ctx, k, item, name)) == NULL)
            continue;
        if (k->type->parse(k, NULL, s, msg, sizeof(msg)) != 0) {
            problem(ctx, line_of(item), name, "%s", msg);
            continue;
        }
        list[n++] = hub_strdup(s);
    }
    if (ctx->nproblems != before) {
        hub_conf_free_list(list);
        return;
    }
    hub_conf_set_list(k, base, list, n);
}

static void walk_mapping(conf_ctx_t *ctx, yaml_node_t *map, const conf_table_t *tab, void *base, unsigned *lines, const char *shown,
                         const char *rel);

/* Whether two route paths cover the same requests once case, trailing dots and a trailing '/' are ignored: a lenient
 * upstream could not tell which route a request is for. */
static int routes_collide(const char *a, const char *b)
{
    size_t alen = strlen(a), blen = strlen(b);
    char *fa = hub_xcalloc(alen + 2, 1), *fb = hub_xcalloc(blen + 2, 1);
    alen = hub_path_fold(a, alen, fa);
    blen = hub_path_fold(b, blen, fb);
    while (alen > 1 && fa[alen - 1] == '/')
        --alen;
    while (blen > 1 && fb[blen - 1] == '/')
        --blen;
    int same = alen == blen && memcmp(fa, fb, alen) == 0;
    free(fa);
    free(fb);
    return same;
}

static void apply_routes(conf_ctx_t *ctx, const hub_conf_key_t *k, yaml_node_t *node, void *base, const char *name)
{
    hub_route_conf_t *routes = NULL;
    size_t n = 0, count;
    int path_idx = key_index(&route_table, "path"), upstream_idx = key_index(&route_table, "upstream");

    if (is_null(node)) {
        dispose_routes(k, base);
        return;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(ctx, line_of(node), name, "expected a list of {path, upstream, roles} mappings, not a %s", node_kind(node));
        return;
    }
    count = node->data.sequence.items.top - node->data.sequence.items.start;
    if (count > HUB_CONF_MAX_ITEMS) {
        problem(ctx, line_of(node), name, "at most %d routes", HUB_CONF_MAX_ITEMS);
        return;
    }
    routes = hub_xcalloc(count, sizeof(*routes));
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; ++it) {
        yaml_node_t *item = yaml_document_get_node(ctx->doc, *it);
        hub_route_conf_t *r = &routes[n];
        unsigned lines[NROUTE] = {0};
        char shown[300];
        snprintf(shown, sizeof(shown), "%s[%zu]", name, n);
        ++n;
        apply_defaults(&route_table, r);
        if (item == NULL || item->type != YAML_MAPPING_NODE) {
            problem(ctx, item == NULL ? line_of(node) : line_of(item), shown, "expected a mapping with path, upstream, roles");
            continue;
        }
        walk_mapping(ctx, item, &route_table, r, lines, shown, NULL);
        if (lines[path_idx] == 0)
            problem(ctx, line_of(item), shown, "path is required");
        if (lines[upstream_idx] == 0)
            problem(ctx, line_of(item), shown, "upstream is required");
        for (size_t j = 0; r->path != NULL && j + 1 < n; ++j) {
            if (routes[j].path == NULL)
                continue;
            if (strcmp(routes[j].path, r->path) == 0)
                problem(ctx, lines[path_idx], shown, "path %s is already routed by %s[%zu]", r->path, name, j);
            else if (routes_collide(routes[j].path, r->path))
                problem(ctx, lines[path_idx], shown,
                        "path %s and %s[%zu] (%s) differ only in letter case, trailing dots or a trailing '/'", r->path, name, j,
                        routes[j].path);
        }
    }
    dispose_routes(k, base);
    *HUB_CONF_FIELD(base, k->off, hub_route_conf_t *) = routes;
    *HUB_CONF_FIELD(base, k->off2, size_t) = n;
}

static void apply_value(conf_ctx_t *ctx, const conf_table_t *tab, int idx, yaml_node_t *val, void *base, unsigned *lines,
                        const char *shown, const char *name)
{
    const hub_conf_key_t *k = &tab->keys[idx];
    char msg[HUB_CONF_MSG];
    const char *s;

    switch (k->type->kind) {
    case HUB_CONF_SECTION:
        if (is_null(val))
            break;
        if (val->type != YAML_MAPPING_NODE) {
            problem(ctx, line_of(val), name, "expected a mapping of keys, not a %s", node_kind(val));
            break;
        }
        walk_mapping(ctx, val, tab, base, lines, shown, k->path);
        break;
    case HUB_CONF_SCALAR:
        if ((s = scalar_text(ctx, k, val, name)) == NULL)
            break;
        if (k->type->parse(k, base, s, msg, sizeof(msg)) != 0)
            problem(ctx, line_of(val), name, "%s", msg);
        break;
    case HUB_CONF_LIST:
        apply_list(ctx, k, val, base, name);
        break;
    case HUB_CONF_ROUTES:
        apply_routes(ctx, k, val, base, name);
        break;
    }
}

/* Builds a key's table path (rel.key) and its name in messages (shown.rel.key, printable only);
 * returns 0 when the key is too long or holds bytes no table key has. */
static int key_names(const yaml_node_t *key, const char *rel, const char *shown, char *path, size_t pathsize, char *name,
                     size_t namesize)
{
    char word[101];
    size_t len = key->data.scalar.length;
    int plain = len < sizeof(word);

    if (!plain)
        len = sizeof(word) - 1;
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = key->data.scalar.value[i];
        if (c < 0x20 || c >= 0x7f)
            c = '?', plain = 0;
        word[i] = (char)c;
    }
    word[len] = '\0';
    snprintf(path, pathsize, "%s%s%s", rel != NULL ? rel : "", rel != NULL ? "." : "", word);
    snprintf(name, namesize, "%s%s%s", shown != NULL ? shown : "", shown != NULL ? "." : "", path);
    return plain;
}

/* Applies each pair of map through tab. rel is the dotted path of map inside the table (NULL at
 * its top); shown prefixes key names in messages (NULL when the table's paths are already whole). */
static void walk_mapping(conf_ctx_t *ctx, yaml_node_t *map, const conf_table_t *tab, void *base, unsigned *lines, const char *shown,
                         const char *rel)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; ++pair) {
        yaml_node_t *key = yaml_document_get_node(ctx->doc, pair->key), *val = yaml_document_get_node(ctx->doc, pair->value);
        char path[160], name[256];
        size_t before;
        int idx;
        if (key == NULL || val == NULL)
            continue;
        if (key->type != YAML_SCALAR_NODE) {
            problem(ctx, line_of(key),
                    rel != NULL     ? rel
                    : shown != NULL ? shown
                                    : "yaml",
                    "a key must be a plain word, not a %s", node_kind(key));
            continue;
        }
        idx = key_names(key, rel, shown, path, sizeof(path), name, sizeof(name)) ? key_index(tab, path) : -1;
        if (idx < 0) {
            problem(ctx, line_of(key), name, "unknown key");
            continue;
        }
        if (lines[idx] != 0) {
            problem(ctx, line_of(key), name, "duplicate key (first on line %u)", lines[idx]);
            continue;
        }
        lines[idx] = (unsigned)line_of(key);
        before = ctx->nproblems;
        apply_value(ctx, tab, idx, val, base, lines, shown, name);
        if (tab == &main_table && ctx->nproblems != before && tab->keys[idx].type->kind != HUB_CONF_SECTION)
            ctx->bad[idx] = 1;
    }
}

/* ---- cross-field checks ---- */

/* Line where the file set path, 0 when it did not. */
static unsigned line_for(conf_ctx_t *ctx, const char *path)
{
    int idx = key_index(&main_table, path);
    assert(idx >= 0);
    return ctx->lines[idx];
}

/* Whether path holds a value the file gave and the parser rejected (already reported). */
static int rejected(conf_ctx_t *ctx, const char *path)
{
    int idx = key_index(&main_table, path);
    assert(idx >= 0);
    return ctx->bad[idx];
}

/* The line of a, else of b, else 1: where a missing key is best reported. */
static unsigned first_line(conf_ctx_t *ctx, const char *a, const char *b)
{
    unsigned l = line_for(ctx, a);
    if (l == 0 && b != NULL)
        l = line_for(ctx, b);
    return l != 0 ? l : 1;
}

static void check_secondary(conf_ctx_t *ctx)
{
    hub_config_t *cfg = ctx->cfg;
    const char *env = getenv("HUB_JOIN_TOKEN");
    int id = line_for(ctx, "secondary.client_id") != 0, secret = line_for(ctx, "secondary.client_secret_file") != 0;
    int join = line_for(ctx, "secondary.join_token_file") != 0;

    if (line_for(ctx, "secondary.server_url") == 0)
        problem(ctx, first_line(ctx, "secondary", "node.role"), "secondary.server_url", "required when node.role is secondary");
    if (id && !secret)
        problem(ctx, line_for(ctx, "secondary.client_id"), "secondary.client_secret_file", "required with secondary.client_id");
    if (!id && secret)
        problem(ctx, line_for(ctx, "secondary.client_secret_file"), "secondary.client_id",
                "required with secondary.client_secret_file");
    if ((id || secret) && join)
        problem(ctx, line_for(ctx, "secondary.join_token_file"), "secondary.join_token_file",
                "give either join_token_file or client_id with client_secret_file, not both");
    if (!id && !secret && !join && (env == NULL || env[0] == '\0'))
        problem(ctx, first_line(ctx, "secondary", "node.role"), "secondary.join_token_file",
                "required (or env HUB_JOIN_TOKEN, or client_id with client_secret_file)");
    if (!rejected(ctx, "secondary.scopes")) {
        size_t i;
        for (i = 0; i < cfg->secondary.nscopes && strcmp(cfg->secondary.scopes[i], "openid") != 0; ++i)
            ;
        if (i == cfg->secondary.nscopes)
            problem(ctx, first_line(ctx, "secondary.scopes", "secondary"), "secondary.scopes", "must include openid");
    }
}

/* store.postgresql goes with store.backend postgresql, which needs its conninfo and is for primaries (a secondary's
 * store holds its own registration and sessions). */
static void check_store(conf_ctx_t *ctx)
{
    hub_config_t *cfg = ctx->cfg;
    unsigned section = line_for(ctx, "store.postgresql");

    if (rejected(ctx, "store.backend"))
        return;
    if (cfg->store.backend != HUB_STORE_POSTGRESQL) {
        if (section != 0)
            problem(ctx, section, "store.postgresql", "only with store.backend: postgresql");
        return;
    }
    if (line_for(ctx, "store.postgresql.conninfo") == 0 && !rejected(ctx, "store.postgresql.conninfo"))
        problem(ctx, first_line(ctx, "store.postgresql", "store.backend"), "store.postgresql.conninfo",
                "required with store.backend: postgresql");
    if (!rejected(ctx, "node.role") && cfg->node.role == HUB_ROLE_SECONDARY)
        problem(ctx, line_for(ctx, "store.backend"), "store.backend",
                "postgresql is for primaries; a secondary keeps its store in node.data_dir");
    else if (!rejected(ctx, "node.role") && line_for(ctx, "primary.cluster_secret_file") == 0 &&
             !rejected(ctx, "primary.cluster_secret_file"))
        /* SPEC §9: private keys in a database are sealed with it, never left in one primary's data_dir */
        problem(ctx, line_for(ctx, "store.backend"), "primary.cluster_secret_file", "required with store.backend: postgresql");
}

/* Rules that span keys. A rejected value was reported already, so rules reading it are skipped. */
static void check_cross(conf_ctx_t *ctx)
{
    hub_config_t *cfg = ctx->cfg;

    if ((line_for(ctx, "node.tls.cert") != 0) != (line_for(ctx, "node.tls.key") != 0))
        problem(ctx, first_line(ctx, "node.tls", NULL), "node.tls", "needs both cert and key");
    check_store(ctx);
    if (rejected(ctx, "node.role"))
        return;
    if (cfg->node.role == HUB_ROLE_SECONDARY) {
        if (line_for(ctx, "primary") != 0)
            problem(ctx, line_for(ctx, "primary"), "primary", "section only allowed when node.role is primary");
        check_secondary(ctx);
        return;
    }
    if (line_for(ctx, "secondary") != 0)
        problem(ctx, line_for(ctx, "secondary"), "secondary", "section only allowed when node.role is secondary");
    if (!rejected(ctx, "primary.key_rotation.every") && !rejected(ctx, "primary.key_rotation.publish_ahead") &&
        cfg->primary.key_publish_ahead >= cfg->primary.key_rotation_every)
        problem(ctx, first_line(ctx, "primary.key_rotation.publish_ahead", "primary.key_rotation.every"),
                "primary.key_rotation.publish_ahead", "must be shorter than primary.key_rotation.every");
}

/* ---- loading ---- */

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *fp = NULL;
    int ret = HUB_E_IO;

    *buf = NULL;
    *len = 0;
    if ((fp = fopen(path, "rb")) == NULL)
        goto out;
    *buf = hub_xcalloc(CONF_MAX_FILE + 1, 1);
    *len = fread(*buf, 1, CONF_MAX_FILE + 1, fp);
    if (ferror(fp))
        goto out;
    ret = *len > CONF_MAX_FILE ? HUB_E_TOOBIG : 0;
out:
    if (fp != NULL)
        fclose(fp);
    return ret;
}

static void syntax_problem(conf_ctx_t *ctx, yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        hub_oom();
    problem(ctx, parser->problem_mark.line + 1, "yaml", "%s%s%s", parser->problem != NULL ? parser->problem : "syntax error",
            parser->context != NULL ? " " : "", parser->context != NULL ? parser->context : "");
}

/* Walks the first document, then insists that no second one follows. */
static void load_document(conf_ctx_t *ctx, yaml_parser_t *parser)
{
    yaml_document_t doc, extra;
    yaml_node_t *root;

    if (!yaml_parser_load(parser, &doc)) {
        syntax_problem(ctx, parser);
        return;
    }
    ctx->doc = &doc;
    if ((root = yaml_document_get_root_node(&doc)) == NULL) {
        problem(ctx, 1, "yaml", "the file is empty");
    } else if (root->type != YAML_MAPPING_NODE) {
        problem(ctx, line_of(root), "yaml", "the top level must be a mapping with node, primary, secondary");
    } else {
        walk_mapping(ctx, root, &main_table, ctx->cfg, ctx->lines, NULL, NULL);
        if (!yaml_parser_load(parser, &extra)) {
            syntax_problem(ctx, parser);
        } else {
            if (yaml_document_get_root_node(&extra) != NULL)
                problem(ctx, extra.start_mark.line + 1, "yaml", "only one YAML document is allowed");
            yaml_document_delete(&extra);
        }
        check_cross(ctx);
    }
    ctx->doc = NULL;
    yaml_document_delete(&doc);
}

int hub_config_load(hub_config_t *cfg, const char *path, FILE *errs, size_t *nproblems)
{
    unsigned lines[NMAIN] = {0};
    char bad[NMAIN] = {0};
    conf_ctx_t ctx = {path, errs, 0, NULL, cfg, lines, bad};
    yaml_parser_t parser;
    char *buf = NULL;
    size_t len;
    int ret;

    hub_config_defaults(cfg);
    cfg->file = hub_strdup(path);
    if ((ret = read_file(path, &buf, &len)) == HUB_E_IO) {
        if (errs != NULL)
            fprintf(errs, "%s: cannot read: %s\n", path, strerror(errno));
        goto out;
    }
    if (ret == HUB_E_TOOBIG) {
        problem(&ctx, 1, "yaml", "the file is larger than %d bytes", CONF_MAX_FILE);
    } else {
        if (!yaml_parser_initialize(&parser))
            hub_oom();
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        load_document(&ctx, &parser);
        yaml_parser_delete(&parser);
    }
    ret = ctx.nproblems != 0 ? HUB_E_CONFIG : 0;
out:
    if (nproblems != NULL)
        *nproblems = ctx.nproblems;
    free(buf);
    return ret;
}

static void key_info(const hub_conf_key_t *k, const char *parent, hub_config_keyinfo_t *info)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->path, sizeof(info->path), "%s%s%s", parent != NULL ? parent : "", parent != NULL ? "[]." : "", k->path);
    info->section = k->type->kind == HUB_CONF_SECTION;
    info->list = k->type->kind == HUB_CONF_LIST || k->type->kind == HUB_CONF_ROUTES;
    info->def = k->def;
    info->ranged = k->type == &hub_conf_uint || k->type == &hub_conf_duration;
    info->duration = k->type == &hub_conf_duration;
    info->min = k->min;
    info->max = k->max;
    info->values = k->names;
}

int hub_config_key_info(size_t i, hub_config_keyinfo_t *info)
{
    if (i < NMAIN) {
        key_info(&main_keys[i], NULL, info);
        return 0;
    }
    if ((i -= NMAIN) < NROUTE) {
        for (size_t j = 0; j < NMAIN; ++j)
            if (main_keys[j].type->kind == HUB_CONF_ROUTES)
                key_info(&route_keys[i], main_keys[j].path, info);
        return 0;
    }
    return HUB_E_NOTFOUND;
}
