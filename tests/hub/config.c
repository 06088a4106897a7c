/* Tests hub/config.c and hub/config_types.c: the example configs, defaults, every duration form, and one exact message per broken
 * config. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hub/config.h"
#include "hub/err.h"
#include "hub/log.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static char *tmpdir; /* where the test writes its YAML files */

#define CHECK_STR(a, b)                                                                                                            \
    do {                                                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                                                           \
        if (a_ == NULL || strcmp(a_, b_) != 0) {                                                                                   \
            printf("FAIL %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_);                 \
            ++failures;                                                                                                            \
        }                                                                                                                          \
    } while (0)

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(text, 1, strlen(text), fp) != strlen(text)) {
        perror(path);
        exit(1);
    }
    fclose(fp);
}

/* Loads text from a temp file; the messages land in *out (caller frees). */
static int load_text(hub_config_t *cfg, const char *text, char **out, size_t *nproblems)
{
    char path[256];
    size_t outlen;
    FILE *errs = open_memstream(out, &outlen);
    int ret;

    snprintf(path, sizeof(path), "%s/test.yaml", tmpdir);
    write_file(path, text);
    ret = hub_config_load(cfg, path, errs, nproblems);
    fclose(errs);
    unlink(path);
    return ret;
}

static void test_durations(void)
{
    static const struct {
        const char *s;
        uint64_t v;
    } good[] = {{"0", 0},
                {"1", 1},
                {"45", 45},
                {"30s", 30},
                {"10m", 600},
                {"12h", 43200},
                {"30d", 2592000},
                {"0s", 0},
                {"007m", 420},
                {"18446744073709551615", UINT64_MAX},
                {"213503982334601d", 213503982334601ull * 86400}};
    static const char *bad[] = {"",
                                "-1",
                                "+1",
                                " 1",
                                "1 ",
                                "1x",
                                "1.5h",
                                "s",
                                "1ss",
                                "1S",
                                "1M",
                                "0x10",
                                "1d1h",
                                "10 m",
                                "m10",
                                "18446744073709551616",
                                "213503982334602d",
                                "-0"};
    uint64_t v;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
        v = 12345;
        if (hub_parse_duration(good[i].s, &v) != 0 || v != good[i].v) {
            printf("FAIL duration \"%s\" -> %llu\n", good[i].s, (unsigned long long)v);
            ++failures;
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        v = 12345;
        if (hub_parse_duration(bad[i], &v) != HUB_E_PARSE || v != 12345) {
            printf("FAIL duration \"%s\" accepted\n", bad[i]);
            ++failures;
        }
    }
    CHECK(hub_parse_duration(NULL, &v) == HUB_E_PARSE);
}

static void test_defaults(void)
{
    hub_config_t cfg;

    hub_config_defaults(&cfg);
    CHECK(cfg.node.role == HUB_ROLE_PRIMARY);
    CHECK_STR(cfg.node.name, "primary");
    CHECK_STR(cfg.node.listen_host, "127.0.0.1");
    CHECK(cfg.node.listen_port == 8080);
    CHECK_STR(cfg.node.public_url, "http://127.0.0.1:8080");
    CHECK_STR(cfg.node.data_dir, "./data/primary");
    CHECK(cfg.node.threads == 2);
    CHECK(cfg.node.tls_cert == NULL && cfg.node.tls_key == NULL);
    CHECK(cfg.node.log_level == HUB_LOG_INFO);
    CHECK(cfg.node.max_connections == 0); /* derived from the open-file limit at start */
    CHECK(cfg.node.nmetrics_allow == 2);
    if (cfg.node.nmetrics_allow == 2) {
        CHECK_STR(cfg.node.metrics_allow[0], "127.0.0.0/8");
        CHECK_STR(cfg.node.metrics_allow[1], "::1/128");
        CHECK(cfg.node.metrics_allow[2] == NULL);
    }
    CHECK(cfg.node.proxy_protocol == 0);
    CHECK(cfg.primary.signing_alg == HUB_ALG_RS256);
    CHECK(cfg.primary.key_rotation_every == 30 * 86400);
    CHECK(cfg.primary.key_publish_ahead == 3600);
    CHECK(cfg.primary.access_token_ttl == 600);
    CHECK(cfg.primary.id_token_ttl == 600);
    CHECK(cfg.primary.refresh_token_ttl == 30 * 86400);
    CHECK(cfg.primary.code_ttl == 60);
    CHECK(cfg.primary.session_ttl == 12 * 3600);
    CHECK(cfg.primary.skip_authorization == HUB_SKIP_AUTH_FORCE);
    CHECK(cfg.primary.require_join_token == 1);
    CHECK(cfg.primary.login_max_failures == 5);
    CHECK(cfg.primary.login_lockout == 15 * 60);
    CHECK(cfg.primary.login_address_max_failures == 10);
    CHECK(cfg.primary.login_max_checks_per_second == 0 && cfg.primary.login_max_queued == 0); /* 0 = sized from the CPUs */
    CHECK(cfg.secondary.server_url == NULL && cfg.secondary.join_token_file == NULL);
    CHECK(cfg.secondary.client_id == NULL && cfg.secondary.client_secret_file == NULL);
    CHECK(cfg.secondary.nscopes == 4);
    if (cfg.secondary.nscopes == 4) {
        CHECK_STR(cfg.secondary.scopes[0], "openid");
        CHECK_STR(cfg.secondary.scopes[3], "roles");
        CHECK(cfg.secondary.scopes[4] == NULL);
    }
    CHECK(cfg.secondary.session_ttl == 8 * 3600);
    CHECK(cfg.secondary.clock_skew == 60);
    CHECK(cfg.secondary.naccept_audiences == 0 && cfg.secondary.accept_audiences != NULL &&
          cfg.secondary.accept_audiences[0] == NULL);
    CHECK(cfg.secondary.nroutes == 0 && cfg.secondary.routes == NULL);
    CHECK(cfg.store.backend == HUB_STORE_LMDB && cfg.store.pg_conninfo == NULL && cfg.store.pg_password_file == NULL);
    CHECK(cfg.store.pg_pool == 4);
    hub_config_dispose(&cfg);
    CHECK(cfg.node.name == NULL);
    hub_config_dispose(&cfg); /* disposing twice is harmless */
}

static void test_examples(void)
{
    const char *src = getenv("HUB_SOURCE_DIR");
    char path[1024], *out = NULL;
    size_t n = 99, outlen;
    FILE *errs;
    hub_config_t cfg;

    if (src == NULL)
        src = ".";
    snprintf(path, sizeof(path), "%s/conf/primary.yaml", src);
    errs = open_memstream(&out, &outlen);
    CHECK(hub_config_load(&cfg, path, errs, &n) == 0);
    fclose(errs);
    CHECK(n == 0);
    if (out[0] != '\0')
        printf("FAIL unexpected messages:\n%s", out);
    free(out);
    CHECK_STR(cfg.file, path);
    CHECK(cfg.node.role == HUB_ROLE_PRIMARY);
    CHECK_STR(cfg.node.public_url, "http://127.0.0.1:8080");
    CHECK(cfg.node.listen_port == 8080);
    CHECK(cfg.primary.login_lockout == 900);
    hub_config_dispose(&cfg);

    snprintf(path, sizeof(path), "%s/conf/secondary.yaml", src);
    errs = open_memstream(&out, &outlen);
    CHECK(hub_config_load(&cfg, path, errs, &n) == 0);
    fclose(errs);
    CHECK(n == 0);
    if (out[0] != '\0')
        printf("FAIL unexpected messages:\n%s", out);
    free(out);
    CHECK(cfg.node.role == HUB_ROLE_SECONDARY);
    CHECK_STR(cfg.node.name, "secondary");
    CHECK_STR(cfg.node.listen_host, "127.0.0.1");
    CHECK(cfg.node.listen_port == 8081);
    CHECK_STR(cfg.node.public_url, "http://127.0.0.1:8081");
    CHECK_STR(cfg.node.data_dir, "./data/secondary");
    CHECK_STR(cfg.secondary.server_url, "http://127.0.0.1:8080");
    CHECK_STR(cfg.secondary.join_token_file, "./data/secondary.join-token");
    CHECK(cfg.secondary.nscopes == 4);
    CHECK(cfg.secondary.nroutes == 1);
    if (cfg.secondary.nroutes == 1) {
        CHECK_STR(cfg.secondary.routes[0].path, "/app/");
        CHECK_STR(cfg.secondary.routes[0].upstream, "http://127.0.0.1:9000/");
        CHECK(cfg.secondary.routes[0].nroles == 0 && cfg.secondary.routes[0].roles != NULL &&
              cfg.secondary.routes[0].roles[0] == NULL);
    }
    hub_config_dispose(&cfg);

    CHECK(hub_config_load(&cfg, "/nonexistent/hub.yaml", NULL, NULL) == HUB_E_IO);
    hub_config_dispose(&cfg);
}

/* A primary with every duration form and most keys set: each value read as written. */
static void test_good_primary(void)
{
    static const char primary[] = "# every duration form\n"
                                  "node:\n"
                                  "  listen: '[::1]:8443'\n"
                                  "  public_url: https://idp.example.com:8443/\n"
                                  "  tls: {cert: /etc/hub/cert.pem, key: /etc/hub/key.pem}\n"
                                  "  threads: 64\n"
                                  "  log_level: debug\n"
                                  "  max_connections: 20000\n"
                                  "  metrics_allow: [10.0.0.0/8, \"fd00::/8\", 192.168.1.7, \"::1\"]\n"
                                  "  proxy_protocol: true\n"
                                  "primary:\n"
                                  "  signing_alg: EdDSA\n"
                                  "  key_rotation: {every: 7d, publish_ahead: 0}\n"
                                  "  access_token_ttl: 600\n"
                                  "  id_token_ttl: 90s\n"
                                  "  refresh_token_ttl: 2d\n"
                                  "  code_ttl: 1m\n"
                                  "  session_ttl: 3h\n"
                                  "  skip_authorization: auto\n"
                                  "  registration:\n"
                                  "    require_join_token: false\n"
                                  "  login: {max_failures: 3, lockout: \"5m\", address_max_failures: 1000000,\n"
                                  "          max_checks_per_second: 40, max_queued: 7}\n";
    hub_config_t cfg;
    char *out = NULL;
    size_t n;

    CHECK(load_text(&cfg, primary, &out, &n) == 0);
    if (out[0] != '\0')
        printf("FAIL unexpected messages:\n%s", out);
    free(out);
    CHECK_STR(cfg.node.listen_host, "::1");
    CHECK(cfg.node.listen_port == 8443);
    CHECK_STR(cfg.node.public_url, "https://idp.example.com:8443");
    CHECK_STR(cfg.node.tls_cert, "/etc/hub/cert.pem");
    CHECK_STR(cfg.node.tls_key, "/etc/hub/key.pem");
    CHECK(cfg.node.threads == 64);
    CHECK(cfg.node.log_level == HUB_LOG_DEBUG);
    CHECK(cfg.node.max_connections == 20000);
    CHECK(cfg.node.nmetrics_allow == 4);
    if (cfg.node.nmetrics_allow == 4)
        CHECK_STR(cfg.node.metrics_allow[1], "fd00::/8");
    CHECK(cfg.node.proxy_protocol == 1);
    CHECK(cfg.primary.signing_alg == HUB_ALG_EDDSA);
    CHECK(cfg.primary.key_rotation_every == 7 * 86400);
    CHECK(cfg.primary.key_publish_ahead == 0);
    CHECK(cfg.primary.access_token_ttl == 600);
    CHECK(cfg.primary.id_token_ttl == 90);
    CHECK(cfg.primary.refresh_token_ttl == 2 * 86400);
    CHECK(cfg.primary.code_ttl == 60);
    CHECK(cfg.primary.session_ttl == 3 * 3600);
    CHECK(cfg.primary.skip_authorization == HUB_SKIP_AUTH_AUTO);
    CHECK(cfg.primary.require_join_token == 0);
    CHECK(cfg.primary.login_max_failures == 3);
    CHECK(cfg.primary.login_lockout == 300);
    CHECK(cfg.primary.login_address_max_failures == 1000000);
    CHECK(cfg.primary.login_max_checks_per_second == 40 && cfg.primary.login_max_queued == 7);
    CHECK_STR(cfg.node.data_dir, "./data/primary");
    hub_config_dispose(&cfg);
}

/* A secondary with scopes, audiences and four routes in both YAML styles. */
static void test_good_secondary(void)
{
    static const char secondary[] =
        "node: {role: secondary, name: app-1.node_b, listen: 'localhost:9001'}\n"
        "secondary:\n"
        "  server_url: http://127.0.0.1:8080/\n"
        "  client_id: abc\n"
        "  client_secret_file: /run/secret\n"
        "  scopes:\n"
        "    - openid\n"
        "    - roles\n"
        "  clock_skew: 0\n"
        "  accept_audiences: [api-1, api-2]\n"
        "  routes:\n"
        "    - {path: /a/, upstream: 'http://127.0.0.1:9000', roles: [System Manager, Employee], pass_token: true}\n"
        "    - {path: \"/a/b-c_d~e/caf.e/\", upstream: 'http://127.0.0.1:9000'}\n"
        "    - {path: /ab/, upstream: 'http://127.0.0.1:9000'}\n"
        "    - path: /\n"
        "      upstream: http://localhost:9001/x/\n";
    hub_config_t cfg;
    char *out = NULL;
    size_t n;

    CHECK(load_text(&cfg, secondary, &out, &n) == 0);
    if (out[0] != '\0')
        printf("FAIL unexpected messages:\n%s", out);
    free(out);
    CHECK_STR(cfg.node.name, "app-1.node_b");
    CHECK_STR(cfg.node.listen_host, "localhost");
    CHECK(cfg.node.listen_port == 9001);
    CHECK_STR(cfg.secondary.server_url, "http://127.0.0.1:8080");
    CHECK_STR(cfg.secondary.client_id, "abc");
    CHECK(cfg.secondary.nscopes == 2 && cfg.secondary.scopes[2] == NULL);
    CHECK(cfg.secondary.clock_skew == 0);
    CHECK(cfg.secondary.naccept_audiences == 2);
    if (cfg.secondary.naccept_audiences == 2)
        CHECK_STR(cfg.secondary.accept_audiences[1], "api-2");
    CHECK(cfg.secondary.nroutes == 4);
    if (cfg.secondary.nroutes == 4) {
        CHECK_STR(cfg.secondary.routes[0].upstream, "http://127.0.0.1:9000");
        CHECK(cfg.secondary.routes[0].nroles == 2);
        if (cfg.secondary.routes[0].nroles == 2) {
            CHECK_STR(cfg.secondary.routes[0].roles[0], "System Manager");
            CHECK(cfg.secondary.routes[0].roles[2] == NULL);
        }
        CHECK(cfg.secondary.routes[0].pass_token == 1 && cfg.secondary.routes[1].pass_token == 0);
        CHECK_STR(cfg.secondary.routes[3].path, "/");
        CHECK(cfg.secondary.routes[3].nroles == 0 && cfg.secondary.routes[3].roles[0] == NULL);
    }
    hub_config_dispose(&cfg);
}

/* A join token from HUB_JOIN_TOKEN replaces join_token_file; the same file without it is refused. */
static void test_good_env_join(void)
{
    static const char env_join[] = "node:\n  role: secondary\nsecondary:\n  server_url: http://[::1]:8080\n";
    hub_config_t cfg;
    char *out = NULL;
    size_t n;

    setenv("HUB_JOIN_TOKEN", "tok", 1);
    CHECK(load_text(&cfg, env_join, &out, &n) == 0);
    free(out);
    CHECK_STR(cfg.secondary.server_url, "http://[::1]:8080");
    hub_config_dispose(&cfg);
    unsetenv("HUB_JOIN_TOKEN");
    CHECK(load_text(&cfg, env_join, &out, &n) == HUB_E_CONFIG);
    free(out);
    hub_config_dispose(&cfg);
}

/* The smallest primary: no messages, the default port. */
static void test_good_minimal(void)
{
    static const char minimal[] = "node: {}\nprimary:\n";
    hub_config_t cfg;
    char *out = NULL;
    size_t n;

    CHECK(load_text(&cfg, minimal, &out, &n) == 0 && n == 0);
    free(out);
    CHECK(cfg.node.listen_port == 8080);
    hub_config_dispose(&cfg);
}

static void secret_file(char *path, const char *name, const char *text, mode_t mode);
#define SECRET_32 "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=\n" /* 32 bytes, as openssl rand -base64 32 */

/* yaml with the primary's cluster secret (SPEC §9: required with store.backend postgresql) appended, into buf. */
static const char *with_secret(char *buf, size_t size, const char *yaml)
{
    char path[256];

    secret_file(path, "pg.secret", SECRET_32, 0600);
    snprintf(buf, size, "%sprimary:\n  cluster_secret_file: \"%s\"\n", yaml, path);
    return buf;
}

/* A primary on PostgreSQL (SPEC §9): keyword or URI conninfo without a secret (a passfile is no secret), the password
 * file and the pool. */
static void test_good_store(void)
{
    static const char *const good[] = {
        "store:\n  backend: postgresql\n  postgresql:\n    conninfo: \"host=127.0.0.1 port=5432 dbname=hub user=hub\"\n"
        "    password_file: /etc/hub/pg.password\n    pool: 64\n",
        "store: {backend: postgresql, postgresql: {conninfo: \"postgresql://hub@127.0.0.1:5433/hub?sslmode=disable\", pool: 1}}\n",
        "store:\n  backend: postgresql\n  postgresql: {conninfo: \"dbname=hub passfile=/etc/hub/pgpass\"}\n",
        "store:\n  backend: lmdb\n",
    };
    hub_config_t cfg;
    char *out = NULL;
    size_t n;

    char yaml[1024];

    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i) {
        CHECK(load_text(&cfg, with_secret(yaml, sizeof(yaml), good[i]), &out, &n) == 0 && n == 0);
        if (n != 0)
            printf("good store[%zu]: %s", i, out);
        free(out);
        CHECK(cfg.store.backend == (i == 3 ? HUB_STORE_LMDB : HUB_STORE_POSTGRESQL));
        CHECK(cfg.store.pg_pool == (i == 0 ? 64 : i == 1 ? 1 : 4));
        if (i == 0) {
            CHECK_STR(cfg.store.pg_conninfo, "host=127.0.0.1 port=5432 dbname=hub user=hub");
            CHECK_STR(cfg.store.pg_password_file, "/etc/hub/pg.password");
        }
        CHECK(i == 0 || cfg.store.pg_password_file == NULL);
        hub_config_dispose(&cfg);
    }
}

/* A password in the conninfo, in any of the forms libpq reads, is refused without repeating it. */
static void test_store_password(void)
{
    static const char *const conninfos[] = {
        "host=127.0.0.1 password=s3cr3t dbname=hub",
        "password = 's3cr3t'",
        "host=h password=",
        "postgresql://hub:s3cr3t@127.0.0.1/hub",
        "postgresql://hub@127.0.0.1/hub?password=s3cr3t",
        "postgres://127.0.0.1/hub?user=hub&password=s3cr3t",
        "host=h sslpassword=s3cr3t",
        "host=h PASSWORD=s3cr3t",
    };
    char yaml[512], full[1024], *out = NULL;
    hub_config_t cfg;
    size_t n;

    for (size_t i = 0; i != sizeof(conninfos) / sizeof(conninfos[0]); ++i) {
        snprintf(yaml, sizeof(yaml), "store:\n  backend: postgresql\n  postgresql:\n    conninfo: \"%s\"\n", conninfos[i]);
        CHECK(load_text(&cfg, with_secret(full, sizeof(full), yaml), &out, &n) == HUB_E_CONFIG && n == 1);
        CHECK(out != NULL && strstr(out, ":4: store.postgresql.conninfo: ") != NULL);
        CHECK(out != NULL && (strstr(out, "must not hold a password") != NULL || strstr(out, "expected libpq") != NULL));
        CHECK(out != NULL && strstr(out, "s3cr3t") == NULL);
        if (n != 1)
            printf("conninfo[%zu]: %s", i, out);
        free(out);
        CHECK(cfg.store.pg_conninfo == NULL);
        hub_config_dispose(&cfg);
    }
}

#define SECONDARY "node:\n  role: secondary\nsecondary:\n  server_url: http://127.0.0.1:8080\n  join_token_file: ./t\n"
#define PG "store:\n  backend: postgresql\n  postgresql:\n"

/* Each broken config and the start of its first message after "FILE:". */
static const struct {
    const char *yaml;
    const char *expect;
} broken[] = {
    {"node:\n  lisen: 127.0.0.1:80\n", "2: node.lisen: unknown key"},
    {"nodes:\n  role: primary\n", "1: nodes: unknown key"},
    {"node:\n  \"a\\nb\": 1\n", "2: node.a?b: unknown key"},
    {"primary:\n\n  access_token_ttl: 10x\n", "3: primary.access_token_ttl: expected a duration like 10m"},
    {"primary:\n  code_ttl: -5s\n", "2: primary.code_ttl: expected a duration like 10m"},
    {"primary:\n  id_token_ttl: 0\n", "2: primary.id_token_ttl: must be at least 1s"},
    {"primary:\n  refresh_token_ttl: 99999999999999999999999d\n", "2: primary.refresh_token_ttl: expected a duration like 10m"},
    {"primary:\n  refresh_token_ttl: 4000d\n", "2: primary.refresh_token_ttl: must be at most 3650d"},
    {"primary:\n  session_ttl: [1h]\n", "2: primary.session_ttl: expected a duration like 10m, not a list"},
    {"node:\n  role: tertiary\n", "2: node.role: expected one of primary|secondary"},
    {"primary:\n  signing_alg: HS256\n", "2: primary.signing_alg: expected one of RS256|ES256|EdDSA"},
    {"primary:\n  skip_authorization: never\n", "2: primary.skip_authorization: expected one of force|auto"},
    {"node:\n  log_level: verbose\n", "2: node.log_level: expected one of error|warn|info|debug"},
    {"node:\n  threads: 0\n", "2: node.threads: must be between 1 and 64"},
    {"node:\n  threads: 65\n", "2: node.threads: must be between 1 and 64"},
    {"node:\n  threads: two\n", "2: node.threads: expected a whole number"},
    {"node:\n  listen: 127.0.0.1\n", "2: node.listen: expected host:port"},
    {"node:\n  listen: 127.0.0.1:70000\n", "2: node.listen: expected host:port"},
    {"node:\n  listen: example.com:80\n", "2: node.listen: expected host:port"},
    {"node:\n  listen: '[::1:80'\n", "2: node.listen: expected host:port"},
    {"node:\n  public_url: ftp://127.0.0.1\n", "2: node.public_url: expected an absolute http:// or https:// URL"},
    {"node:\n  public_url: http://127.0.0.1/?a=b\n", "2: node.public_url: expected an absolute http:// or https:// URL"},
    {"node:\n  public_url: http://user@host/\n", "2: node.public_url: expected an absolute"},
    /* the same URL parser as the URLs the hub stores (hub/url): odd IPv4 spellings, leading zeros, backslashes */
    {"node:\n  public_url: http://127.1:8080\n", "2: node.public_url: expected an absolute"},
    {"node:\n  public_url: http://0x7f.0.0.1/\n", "2: node.public_url: expected an absolute"},
    {"node:\n  public_url: http://127.0.0.1:08080\n", "2: node.public_url: expected an absolute"},
    {"node:\n  public_url: \"http://a\\\\b/\"\n", "2: node.public_url: expected an absolute"},
    {"node:\n  public_url: http://[fe80::1%25eth0]/\n", "2: node.public_url: expected an absolute"},
    {"node:\n  public_url: HTTP://h/\n", "2: node.public_url: expected an absolute"},
    {"node:\n  role: secondary\nsecondary:\n  server_url: http://h:0\n", "4: secondary.server_url: expected an absolute"},
    {"node:\n  name:\n    a: b\n", "3: node.name: expected a name, not a mapping"},
    {"node:\n  name: two words\n", "2: node.name: expected 1 to 64 letters"},
    {"node:\n  name: \"a\\0b\"\n", "2: node.name: must not contain a NUL character"},
    {"node:\n  data_dir:\n", "2: node.data_dir: expected a string, the value is missing"},
    {"node: primary\n", "1: node: expected a mapping of keys, not a scalar"},
    {"node:\n  role: [primary\n", "3: yaml: did not find expected ',' or ']'"},
    {"node:\n  role: primary\n role: x\n", "3: yaml: "},
    {"", "1: yaml: the file is empty"},
    {"# only a comment\n", "1: yaml: the file is empty"},
    {"- node\n", "1: yaml: the top level must be a mapping"},
    {"node:\n  name: a\n  name: b\n", "3: node.name: duplicate key (first on line 2)"},
    {"node: {}\nprimary: {}\nnode: {}\n", "3: node: duplicate key (first on line 1)"},
    {"? [a]\n: b\n", "1: yaml: a key must be a plain word, not a list"},
    {"node: {}\n---\nnode: {}\n", "2: yaml: only one YAML document is allowed"},
    {"node: {proxy_protocol: yes please}\n", "1: node.proxy_protocol: expected true or false"},
    {"primary:\n  registration: {require_join_token: maybe}\n",
     "2: primary.registration.require_join_token: expected true or false"},
    {"primary:\n  login:\n    max_failures: 0\n", "3: primary.login.max_failures: must be between 1 and 1000"},
    {"primary:\n  login:\n    address_max_failures: 0\n", "3: primary.login.address_max_failures: must be between 1 and 1000000"},
    {"primary:\n  login: {max_checks_per_second: many}\n", "2: primary.login.max_checks_per_second: expected a whole number"},
    {"primary:\n  login: {max_checks_per_second: -1}\n", "2: primary.login.max_checks_per_second: expected a whole number"},
    {"primary:\n  login:\n\n    max_queued: 1000001\n", "4: primary.login.max_queued: must be between 0 and 1000000"},
    {"primary:\n  login: {max_queue: 5}\n", "2: primary.login.max_queue: unknown key"},
    {"primary:\n  key_rotation: {every: 1h, publish_ahead: 1h}\n", "2: primary.key_rotation.publish_ahead: must be shorter"},
    {"primary:\n  key_rotation: {every: 1h, evry: 2h}\n", "2: primary.key_rotation.evry: unknown key"},
    {SECONDARY "primary:\n  code_ttl: 1m\n", "6: primary: section only allowed when node.role is primary"},
    {"node:\n  role: primary\nsecondary:\n  session_ttl: 1h\n", "3: secondary: section only allowed when node.role is secondary"},
    {"node:\n  role: secondary\nsecondary:\n  join_token_file: ./t\n",
     "3: secondary.server_url: required when node.role is secondary"},
    {"node:\n  role: secondary\n", "2: secondary.server_url: required"},
    {"node:\n  role: secondary\nsecondary:\n  server_url: http://127.0.0.1:8080\n", "3: secondary.join_token_file: required"},
    {"node:\n  role: secondary\nsecondary:\n  server_url: http://h\n  client_id: x\n",
     "5: secondary.client_secret_file: required with secondary.client_id"},
    {SECONDARY "  client_id: x\n  client_secret_file: y\n", "5: secondary.join_token_file: give either"},
    {"node:\n  tls:\n    cert: /c.pem\n", "2: node.tls: needs both cert and key"},
    {"node:\n  tls: {cert: /c.pem, key: /k.pem, ca: /ca.pem}\n", "2: node.tls.ca: unknown key"},
    {SECONDARY "  scopes: [profile, email]\n", "6: secondary.scopes: must include openid"},
    {SECONDARY "  scopes: [openid, {a: b}]\n", "6: secondary.scopes: expected a list like [openid, profile], not a mapping"},
    {SECONDARY "  scopes: openid\n", "6: secondary.scopes: expected a list like"},
    {SECONDARY "  clock_skew: 2h\n", "6: secondary.clock_skew: must be at most 3600s"},
    {SECONDARY "  server_url: http://a\n", "6: secondary.server_url: duplicate key (first on line 4)"},
    {SECONDARY "  routes:\n    - path: app/\n      upstream: http://127.0.0.1:9000/\n",
     "7: secondary.routes[0].path: expected a URL path starting with '/'"},
    {SECONDARY "  routes:\n    - {path: /a/, upstream: http://127.0.0.1:9000/}\n    - {path: /b/, upstream: https://x/}\n",
     "8: secondary.routes[1].upstream: expected an absolute http:// URL"},
    {SECONDARY "  routes:\n    - path: /a/\n", "7: secondary.routes[0]: upstream is required"},
    {SECONDARY "  routes:\n    - path: /a/\n      upstream: http://h/\n      role: [x]\n",
     "9: secondary.routes[0].role: unknown key"},
    {SECONDARY "  routes:\n    - path: /a/\n      upstream: http://h/\n      roles: admin\n",
     "9: secondary.routes[0].roles: expected a list like [a, b], not a scalar"},
    {SECONDARY "  routes:\n    - /a/\n", "7: secondary.routes[0]: expected a mapping with path, upstream, roles"},
    {SECONDARY "  routes:\n    - {path: /a/, upstream: http://h/}\n    - {path: /a/, upstream: http://g/}\n",
     "8: secondary.routes[1]: path /a/ is already routed by secondary.routes[0]"},
    {SECONDARY "  routes: {path: /a/}\n", "6: secondary.routes: expected a list of {path, upstream, roles} mappings"},
    {SECONDARY "  routes:\n    - {path: /a/../b/, upstream: http://h/}\n",
     "7: secondary.routes[0].path: a route path must be canonical, without '%' escapes: a dot segment"},
    {SECONDARY "  routes:\n    - {path: /a//b/, upstream: http://h/}\n",
     "7: secondary.routes[0].path: a route path must be canonical, without '%' escapes: an empty path segment"},
    {SECONDARY "  routes:\n    - {path: \"/a;x/\", upstream: http://h/}\n",
     "7: secondary.routes[0].path: a route path must be canonical, without '%' escapes: path parameters"},
    {SECONDARY "  routes:\n    - {path: /a%41/, upstream: http://h/}\n",
     "7: secondary.routes[0].path: a route path must be canonical"},
    {SECONDARY "  routes:\n    - {path: /a%20b/, upstream: http://h/}\n",
     "7: secondary.routes[0].path: a route path must be canonical, without '%' escapes: '%' found"},
    {SECONDARY "  routes:\n    - {path: \"/a\\\\b/\", upstream: http://h/}\n",
     "7: secondary.routes[0].path: a route path must be canonical, without '%' escapes: a backslash"},
    {SECONDARY "  routes:\n    - {path: /app/, upstream: http://h/}\n    - {path: /APP/, upstream: http://g/}\n",
     "8: secondary.routes[1]: path /APP/ and secondary.routes[0] (/app/) differ only in letter case"},
    {SECONDARY "  routes:\n    - {path: /app/, upstream: http://h/}\n    - {path: /app, upstream: http://g/}\n",
     "8: secondary.routes[1]: path /app and secondary.routes[0] (/app/) differ only"},
    {SECONDARY "  routes:\n    - {path: /a/admin/, upstream: http://h/}\n    - {path: /a/Admin./, upstream: http://g/}\n",
     "8: secondary.routes[1]: path /a/Admin./ and secondary.routes[0] (/a/admin/) differ only"},
    {"node:\n  max_connections: -1\n", "2: node.max_connections: expected a whole number"},
    {"node:\n  max_connections: 1000001\n", "2: node.max_connections: must be between 0 and 1000000"},
    {"node:\n  metrics_allow: 127.0.0.1\n", "2: node.metrics_allow: expected a list of address ranges"},
    {"node:\n  metrics_allow: [10.1.2.3/8]\n", "2: node.metrics_allow: 10.1.2.3/8: address bits are set past the prefix"},
    {"node:\n  metrics_allow: [127.0.0.1/33]\n", "2: node.metrics_allow: 127.0.0.1/33: an IPv4 prefix length is 0 to 32"},
    {"node:\n  metrics_allow: [\"::1/200\"]\n", "2: node.metrics_allow: ::1/200: an IPv6 prefix length is 0 to 128"},
    {"node:\n  metrics_allow:\n    - localhost\n", "3: node.metrics_allow: localhost: expected an address range"},
    {"store:\n  backend: mysql\n", "2: store.backend: expected one of lmdb|postgresql"},
    {"store:\n  backend: postgresql\n", "2: store.postgresql.conninfo: required with store.backend: postgresql"},
    {PG "    pool: 4\n", "3: store.postgresql.conninfo: required with store.backend: postgresql"},
    {PG "    conninfo: \"host=h\"\n", "2: primary.cluster_secret_file: required with store.backend: postgresql"},
    {"store:\n  postgresql: {conninfo: \"host=h\"}\n", "2: store.postgresql: only with store.backend: postgresql"},
    {"store:\n  backend: lmdb\n  postgresql:\n    pool: 2\n", "3: store.postgresql: only with store.backend: postgresql"},
    {PG "    conninfo: \"host=h =x\"\n", "4: store.postgresql.conninfo: expected libpq keyword=value pairs"},
    {PG "    conninfo: \"host=h colour=blue\"\n", "4: store.postgresql.conninfo: expected libpq keyword=value pairs"},
    {PG "    conninfo: \"mysql://h/db\"\n", "4: store.postgresql.conninfo: expected libpq keyword=value pairs"},
    {PG "    conninfo: \"host='h\"\n", "4: store.postgresql.conninfo: expected libpq keyword=value pairs"},
    {PG "    conninfo: \"host=h\\tport=1\"\n", "4: store.postgresql.conninfo: must not contain control characters"},
    {PG "    conninfo: \"\"\n", "4: store.postgresql.conninfo: expected a non-empty string"},
    {PG "    conninfo: [host=h]\n", "4: store.postgresql.conninfo: expected a libpq connection string, not a list"},
    {PG "    conninfo: host=h\n    pool: 0\n", "5: store.postgresql.pool: must be between 1 and 64"},
    {PG "    conninfo: host=h\n    pool: 65\n", "5: store.postgresql.pool: must be between 1 and 64"},
    {PG "    conninfo: host=h\n    pool: four\n", "5: store.postgresql.pool: expected a whole number"},
    {PG "    conninfo: host=h\n    password_file:\n", "5: store.postgresql.password_file: expected a string, the value is missing"},
    {PG "    conninfo: host=h\n    user: hub\n", "5: store.postgresql.user: unknown key"},
    {SECONDARY PG "    conninfo: host=h\n", "7: store.backend: postgresql is for primaries"},
};

static void test_broken(void)
{
    char path[256], prefix[512];
    hub_config_t cfg;
    char *out;
    size_t n;

    snprintf(path, sizeof(path), "%s/test.yaml", tmpdir);
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); ++i) {
        int ret = load_text(&cfg, broken[i].yaml, &out, &n);
        snprintf(prefix, sizeof(prefix), "%s:%s", path, broken[i].expect);
        if (ret != HUB_E_CONFIG || n == 0 || strncmp(out, prefix, strlen(prefix)) != 0) {
            printf("FAIL broken[%zu] (ret %d, %zu problems): expected \"%s\", got:\n%s", i, ret, n, prefix, out);
            ++failures;
        }
        free(out);
        hub_config_dispose(&cfg);
    }
}

/* Writes a secret file of mode mode in the temporary directory into path (256 bytes). */
static void secret_file(char *path, const char *name, const char *text, mode_t mode)
{
    snprintf(path, 256, "%s/%s", tmpdir, name);
    write_file(path, text);
    CHECK(chmod(path, mode) == 0);
}

/* Loads a primary naming path as its cluster secret: no problem when want is NULL, else exactly one, "FILE:3: KEY: "
 * path and want. Returns what hub_config_load did; *cfg is to be disposed. */
static int load_cluster(hub_config_t *cfg, const char *path, const char *want)
{
    char yaml[512], prefix[1024], *out = NULL;
    size_t n;
    int ret;

    snprintf(yaml, sizeof(yaml), "node: {}\nprimary:\n  cluster_secret_file: \"%s\"\n", path);
    ret = load_text(cfg, yaml, &out, &n);
    snprintf(prefix, sizeof(prefix), "%s/test.yaml:3: primary.cluster_secret_file: %s%s", tmpdir,
             want != NULL && want[0] != ' ' ? "" : path, want != NULL ? want : "");
    if (want == NULL ? ret != 0 || n != 0 : ret != HUB_E_CONFIG || n != 1 || strncmp(out, prefix, strlen(prefix)) != 0) {
        printf("FAIL cluster secret %s: ret %d, expected \"%s\", got:\n%s", path, ret, want != NULL ? prefix : "no problem", out);
        ++failures;
    }
    free(out);
    return ret;
}

/* primary.cluster_secret_file: the file is read when the configuration is, so hubd --check names a missing, short,
 * exposed or malformed secret; only a usable one makes the node a cluster's (hub_config_is_cluster). */
static void test_cluster_secret(void)
{
    static const char b64_32[] = SECRET_32;
    static const char url_48[] = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJ\nq83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNF_-8\n"; /* wrapped */
    static const struct {
        const char *name, *text;
        mode_t mode;
        const char *want; /* after the path; NULL: accepted */
    } cases[] = {
        {"ok.secret", b64_32, 0600, NULL},
        {"url.secret", url_48, 0400, NULL},
        {"short.secret", "q83vASNFZ4mrze8BI0VniQ==\n", 0600, " holds 16 bytes; a cluster secret is 32 to 1024 random bytes"},
        {"31.secret", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZw==", 0600, " holds 31 bytes"},
        {"empty.secret", "", 0600, " holds 0 bytes"},
        {"group.secret", b64_32, 0640, " may be read by its group or others (mode 0640): chmod 600 "},
        {"world.secret", b64_32, 0604, " may be read by its group or others (mode 0604)"},
        {"text.secret", "correct horse battery staple correct horse battery staple\n", 0600, " does not hold base64 text"},
        {"pad.secret", "q83vASNFZ4mrze8B=I0VniavN7wEjRWeJq83vASNFZ4k\n", 0600, " does not hold base64 text"},
        {"raw.secret", "\x01\x02\x03\xff\xfe\x80 binary bytes are no base64 text at all\n", 0600, " does not hold base64 text"},
    };
    char path[256], dir[256];
    hub_config_t cfg;

    hub_config_defaults(&cfg);
    CHECK(!hub_config_is_cluster(&cfg)); /* no cluster without the key */
    hub_config_dispose(&cfg);
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        secret_file(path, cases[i].name, cases[i].text, cases[i].mode);
        load_cluster(&cfg, path, cases[i].want);
        CHECK(hub_config_is_cluster(&cfg) == (cases[i].want == NULL));
        CHECK(cases[i].want != NULL || strcmp(cfg.primary.cluster_secret_file, path) == 0);
        hub_config_dispose(&cfg);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/missing.secret", tmpdir);
    load_cluster(&cfg, path, "cannot read ");
    hub_config_dispose(&cfg);
    snprintf(dir, sizeof(dir), "%s/dir.secret", tmpdir);
    CHECK(mkdir(dir, 0700) == 0);
    load_cluster(&cfg, dir, " is not a regular file");
    hub_config_dispose(&cfg);
    CHECK(rmdir(dir) == 0);
    /* a FIFO is refused without being read (nothing would ever be written to it) */
    snprintf(path, sizeof(path), "%s/fifo.secret", tmpdir);
    CHECK(mkfifo(path, 0600) == 0);
    load_cluster(&cfg, path, " is not a regular file");
    hub_config_dispose(&cfg);
    unlink(path);
    /* a secondary has no primary section, so no cluster secret either */
    secret_file(path, "ok.secret", b64_32, 0600);
    {
        char yaml[512], *out = NULL;
        size_t n;
        snprintf(yaml, sizeof(yaml), SECONDARY "primary:\n  cluster_secret_file: \"%s\"\n", path);
        CHECK(load_text(&cfg, yaml, &out, &n) == HUB_E_CONFIG && strstr(out, "primary: section only allowed") != NULL);
        CHECK(!hub_config_is_cluster(&cfg));
        free(out);
    }
    hub_config_dispose(&cfg);
    unlink(path);
}

/* Loading keeps going: every problem is reported, one line each. */
static void test_many_problems(void)
{
    static const char text[] = "node:\n  lisen: x\n  threads: 0\nprimary:\n  code_ttl: soon\n  login: {lockout: 1y}\n";
    hub_config_t cfg;
    char *out;
    size_t n, lines = 0;

    CHECK(load_text(&cfg, text, &out, &n) == HUB_E_CONFIG);
    CHECK(n == 4);
    for (char *p = out; *p != '\0'; ++p)
        lines += *p == '\n';
    CHECK(lines == 4);
    CHECK(strstr(out, ":6: primary.login.lockout: expected a duration like 10m\n") != NULL);
    free(out);
    hub_config_dispose(&cfg);
}

int main(void)
{
    tmpdir = test_tmpdir("config");
    unsetenv("HUB_JOIN_TOKEN");
    test_durations();
    test_defaults();
    test_examples();
    test_good_primary();
    test_good_secondary();
    test_good_env_join();
    test_good_minimal();
    test_good_store();
    test_store_password();
    test_broken();
    test_many_problems();
    test_cluster_secret();
    CHECK(test_tmpdir_remove(tmpdir) == 0);
    return check_report("hub/config");
}
