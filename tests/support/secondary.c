/* A secondary node inside a C test (tests/support/secondary.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "federation/fed_ctx.h"
#include "hub/clock.h"
#include "hub/log.h"
#include "tests/support/secondary.h"
#include "tests/support/tmpdir.h"

#define START_MS 10000 /* the node discovers the primary and fetches its keys within this */

static void die(const char *what)
{
    fprintf(stderr, "test_secondary: %s\n", what);
    exit(2);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        die(path);
}

static void serve_json(test_stub_t *s, const char *method, const char *path, int status, const char *headers, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    test_stub_answer(s, method, path, status, headers, text);
    free(text);
    json_decref(doc);
}

void test_secondary_publish(test_secondary_t *t, int both)
{
    json_t *keys = json_array();
    json_array_append_new(keys, hub_key_to_jwk(t->key));
    if (both)
        json_array_append_new(keys, hub_key_to_jwk(t->new_key));
    serve_json(t->primary, "GET", "/oauth2/jwks", 200, "Content-Type: application/json\r\nCache-Control: max-age=3600\r\n",
               json_pack("{s:o}", "keys", keys));
}

/* Discovery, the JWKS, and a token endpoint that refuses a client_credentials probe without revoking anything. */
static void script_primary(test_secondary_t *t)
{
    const char *url = test_stub_url(t->primary);
    char ep[5][128];
    static const char *const paths[] = {"/oauth2/authorize", "/oauth2/token", "/oauth2/jwks", "/oauth2/logout", "/oauth2/register"};
    for (size_t i = 0; i != 5; ++i)
        snprintf(ep[i], sizeof(ep[i]), "%s%s", url, paths[i]);
    serve_json(t->primary, "GET", "/.well-known/openid-configuration", 200, "Content-Type: application/json\r\n",
               json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "issuer", url, "authorization_endpoint", ep[0], "token_endpoint", ep[1],
                         "jwks_uri", ep[2], "end_session_endpoint", ep[3], "registration_endpoint", ep[4]));
    test_secondary_publish(t, 0);
    serve_json(t->primary, "POST", "/oauth2/token", 400, "Content-Type: application/json\r\n",
               json_pack("{s:s}", "error", "unauthorized_client"));
}

static void write_config(test_secondary_t *t, const char *secondary_yaml)
{
    char path[512], secret[512], *yaml;
    size_t len;

    snprintf(secret, sizeof(secret), "%s/client.secret", t->dir);
    write_file(secret, "node-secret\n");
    len = strlen(t->dir) * 2 + strlen(test_stub_url(t->primary)) + (secondary_yaml != NULL ? strlen(secondary_yaml) : 0) + 1024;
    if ((yaml = malloc(len)) == NULL)
        die("out of memory");
    snprintf(yaml, len,
             "node:\n  role: secondary\n  name: " TEST_SECONDARY_NAME "\n  listen: 127.0.0.1:1\n"
             "  public_url: http://127.0.0.1:1\n  data_dir: %s/data\n  threads: 1\n  log_level: warn\n"
             "secondary:\n  server_url: %s\n  client_id: " TEST_SECONDARY_CLIENT "\n  client_secret_file: %s\n%s",
             t->dir, test_stub_url(t->primary), secret, secondary_yaml != NULL ? secondary_yaml : "");
    snprintf(path, sizeof(path), "%s/hub.yaml", t->dir);
    write_file(path, yaml);
    free(yaml);
    if (hub_config_load(&t->cfg, path, stderr, NULL) != 0)
        die("the node's configuration does not load");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void test_secondary_start(test_secondary_t *t, const char *tag, const char *secondary_yaml)
{
    memset(t, 0, sizeof(*t));
    hub_log_init(HUB_LOG_WARN, TEST_SECONDARY_NAME); /* warnings and errors only: the tests' output stays readable */
    t->dir = test_tmpdir(tag);
    t->primary = test_stub_start();
    if (hub_key_generate(&t->key, HUB_ALG_ES256) != 0 || hub_key_generate(&t->new_key, HUB_ALG_ES256) != 0)
        die("cannot make the primary's keys");
    script_primary(t);
    write_config(t, secondary_yaml);
    if (hub_store_open(&t->store, t->cfg.node.data_dir) != 0 || hub_fetcher_create(&t->fetcher) != 0 ||
        hub_server_create(&t->server, &t->cfg, t->store, t->fetcher) != 0 || fed_create(&t->fed, t->server) != 0)
        die("the node does not start");
    test_loop_init(&t->loop, t->server, t->fetcher);
    for (int waited = 0; fed_jwks_count(t->fed->jwks) == 0 || fed_join_current(t->fed->join)->token_endpoint == NULL;
         waited += 20) {
        if (waited >= START_MS)
            die("the node did not discover the primary or fetch its keys");
        sleep_ms(20);
    }
}

void test_secondary_stop(test_secondary_t *t)
{
    test_loop_dispose(&t->loop);
    fed_destroy(t->fed);
    hub_server_destroy(t->server);
    hub_fetcher_destroy(t->fetcher);
    hub_store_close(t->store);
    test_stub_stop(t->primary);
    hub_key_free(t->key);
    hub_key_free(t->new_key);
    hub_config_dispose(&t->cfg);
    if (test_tmpdir_remove(t->dir) != 0)
        die("cannot remove the data dir");
}

char *test_secondary_sign(const hub_key_t *key, const char *typ, json_t *claims)
{
    char *token = NULL;
    if (hub_jws_sign(key, typ, claims, &token) != 0)
        die("cannot sign");
    json_decref(claims);
    return token;
}

json_t *test_secondary_at_claims(const test_secondary_t *t, const char *sub, const char *const *roles, long ttl, const char *name,
                                 const char *email)
{
    uint64_t now = hub_now();
    json_t *r = json_array(), *c;
    static unsigned serial;
    char jti[32];

    for (; roles != NULL && *roles != NULL; ++roles)
        json_array_append_new(r, json_string(*roles));
    snprintf(jti, sizeof(jti), "jti-%u", ++serial);
    c = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:o}", "iss", test_stub_url(t->primary), "sub", sub, "aud", TEST_SECONDARY_CLIENT,
                  "exp", (json_int_t)now + ttl, "iat", (json_int_t)now, "jti", jti, "client_id", TEST_SECONDARY_CLIENT, "roles", r);
    if (name != NULL)
        json_object_set_new(c, "name", json_string(name));
    if (email != NULL)
        json_object_set_new(c, "email", json_string(email));
    return c;
}

void test_secondary_session(test_secondary_t *t, const char *sub, const char *sid, const char *const *roles, long due_in,
                            const char *refresh_token, char cookie[FED_SESSION_COOKIE_LEN + 1])
{
    size_t n = 0;
    fed_session_t s;

    while (roles != NULL && roles[n] != NULL)
        ++n;
    memset(&s, 0, sizeof(s));
    s.id.sub = sub;
    s.id.sid = sid;
    s.id.name = "Test User";
    s.id.email = "user@example.com";
    s.id.client_id = TEST_SECONDARY_CLIENT;
    s.id.roles = (const char **)roles;
    s.id.nroles = n;
    s.refresh_token = refresh_token;
    s.due = (uint64_t)((long)hub_now() + due_in);
    s.life = 600;
    if (fed_session_create(t->store, &s, 3600, cookie) != 0)
        die("cannot start a session");
}

test_req_t *test_secondary_get(test_secondary_t *t, const char *method, const char *path, const char *cookie, const char *auth)
{
    test_req_t *r = test_req_new(&t->loop, method, path);
    if (cookie != NULL)
        test_req_header(r, "cookie", cookie);
    if (auth != NULL)
        test_req_header(r, "authorization", auth);
    test_req_run(r, 5000);
    return r;
}
