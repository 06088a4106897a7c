/* Tests federation/fed_join.c against a scripted primary: discovery takes only endpoints that are URLs as the hub
 * reads every URL it calls (hub/url.h) and an issuer that is server_url; a refused document stores and publishes
 * nothing; registration needs a registration_endpoint of the same kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_join.h"
#include "hub/err.h"
#include "tests/check.h"
#include "tests/support/stub.h"
#include "tests/support/tmpdir.h"

static test_stub_t *primary;
static hub_store_t *store;
static hub_config_t cfg;

/* Serves a discovery document whose endpoint `which` is url (the others are good). */
static void serve_discovery(const char *which, const char *url)
{
    const char *base = test_stub_url(primary);
    char good[4][256];
    static const char *const names[] = {"authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"};
    json_t *doc = json_pack("{s:s}", "issuer", base);
    char *text;
    size_t i;

    for (i = 0; i != 4; ++i) {
        snprintf(good[i], sizeof(good[i]), "%s/oauth2/%zu", base, i);
        json_object_set_new(doc, names[i], json_string(which != NULL && strcmp(which, names[i]) == 0 ? url : good[i]));
    }
    text = json_dumps(doc, JSON_COMPACT);
    test_stub_answer(primary, "GET", "/.well-known/openid-configuration", 200, "Content-Type: application/json\r\n", text);
    free(text);
    json_decref(doc);
}

/* What a node starting now would know of the primary's endpoints (read back from the store). */
static int stored_token_endpoint(char *out, size_t size)
{
    fed_join_t *j = NULL;
    int found;

    if (fed_join_create(&j, &cfg, store) != 0)
        return -1;
    found = fed_join_current(j)->token_endpoint != NULL;
    if (found)
        snprintf(out, size, "%s", fed_join_current(j)->token_endpoint);
    fed_join_destroy(j);
    return found;
}

static void test_endpoint_urls(void)
{
    /* each a URL the hub must never call: not http(s), userinfo, a fragment, white space or control characters,
     * non-ASCII, a backslash, a bad port, an IPv6 zone, no host */
    static const char *const bad[] = {"javascript:alert(1)",
                                      "ftp://127.0.0.1/token",
                                      "http://user:pass@127.0.0.1/token",
                                      "http://127.0.0.1@evil.example/token",
                                      "http://127.0.0.1/token#frag",
                                      "http://127.0.0.1/to ken",
                                      "http://127.0.0.1/token\r\nX-Injected: 1",
                                      "http://\xc3\xa9vil.example/token",
                                      "http://127.0.0.1\\@evil.example/token",
                                      "http://127.0.0.1:99999/token",
                                      "http://127.0.0.1:0/token",
                                      "http://[fe80::1%25eth0]/token",
                                      "http:///token",
                                      "http:/127.0.0.1/token",
                                      ""};
    static const char *const which[] = {"authorization_endpoint", "token_endpoint", "jwks_uri"};
    char seen[256];
    size_t i, w;

    for (i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        for (w = 0; w != sizeof(which) / sizeof(which[0]); ++w) {
            fed_join_t *j = NULL;
            serve_discovery(which[w], bad[i]);
            CHECK(fed_join_create(&j, &cfg, store) == 0);
            if (j == NULL)
                continue;
            if (fed_join_discover(j) != HUB_E_PARSE)
                fprintf(stderr, "accepted %s: %s\n", which[w], bad[i]), ++failures;
            CHECK(fed_join_current(j)->token_endpoint == NULL); /* nothing published */
            fed_join_destroy(j);
            CHECK(stored_token_endpoint(seen, sizeof(seen)) == 0); /* nothing stored */
        }
    }
}

static void test_good_document(void)
{
    static const char *const good[] = {"http://127.0.0.1:8080/oauth2/token", "https://idp.example/oauth2/token?x=1",
                                       "http://[::1]:8080/t", "HTTPS://IdP.Example/token"};
    fed_join_t *j = NULL;
    char seen[256];
    size_t i;

    for (i = 0; i != sizeof(good) / sizeof(good[0]); ++i) {
        serve_discovery("token_endpoint", good[i]);
        CHECK(fed_join_create(&j, &cfg, store) == 0 && fed_join_discover(j) == 0);
        CHECK(j != NULL && strcmp(fed_join_current(j)->token_endpoint ?: "", good[i]) == 0);
        fed_join_destroy(j);
        CHECK(stored_token_endpoint(seen, sizeof(seen)) == 1 && strcmp(seen, good[i]) == 0);
    }
}

/* An issuer that is not server_url is refused whatever its endpoints (a document from elsewhere). */
static void test_issuer(void)
{
    static const char *const issuers[] = {"http://127.0.0.1:1", "", "http://127.0.0.1:1/", NULL};
    fed_join_t *j = NULL;
    size_t i;

    for (i = 0; issuers[i] != NULL; ++i) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"issuer\":\"%s\",\"authorization_endpoint\":\"http://a/\",\"token_endpoint\":\"http://a/t\","
                 "\"jwks_uri\":\"http://a/k\"}",
                 issuers[i]);
        test_stub_answer(primary, "GET", "/.well-known/openid-configuration", 200, "", text);
        CHECK(fed_join_create(&j, &cfg, store) == 0 && fed_join_discover(j) == HUB_E_DENIED);
        fed_join_destroy(j);
    }
}

/* Registration posts the join token only to a registration_endpoint that is such a URL. */
static void test_registration_endpoint(const char *dir)
{
    static const char *const bad[] = {"http://u:p@127.0.0.1/reg", "http://127.0.0.1/reg#x", "file:///etc/passwd"};
    char path[512];
    FILE *f;
    size_t i;

    snprintf(path, sizeof(path), "%s/join.token", dir);
    if ((f = fopen(path, "w")) == NULL || fputs("join-token\n", f) < 0 || fclose(f) != 0) {
        CHECK(!"a join token file");
        return;
    }
    cfg.secondary.join_token_file = strdup(path);
    for (i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        fed_join_t *j = NULL;
        serve_discovery("registration_endpoint", bad[i]);
        CHECK(fed_join_create(&j, &cfg, store) == 0 && fed_join_discover(j) == 0);
        CHECK(fed_join_register(j) == HUB_E_DENIED);
        CHECK(fed_join_current(j)->client_id == NULL);
        fed_join_destroy(j);
    }
    CHECK(test_stub_hits(primary, "/reg") == 0);
}

int main(void)
{
    char *dir = test_tmpdir("fed-join");

    primary = test_stub_start();
    hub_config_defaults(&cfg);
    cfg.node.role = HUB_ROLE_SECONDARY;
    cfg.secondary.server_url = strdup(test_stub_url(primary));
    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        return 1;
    }
    test_endpoint_urls();
    test_good_document();
    test_issuer();
    test_registration_endpoint(dir);
    hub_store_close(store);
    hub_config_dispose(&cfg);
    test_stub_stop(primary);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("federation/join");
}
