/* A primary node inside a C test (tests/support/primary.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include "hub/form.h"
#include "hub/log.h"
#include "idp/client.h"
#include "idp/idp.h"
#include "idp/password.h"
#include "idp/role.h"
#include "idp/user.h"
#include "tests/support/primary.h"
#include "tests/support/tmpdir.h"

static void die(const char *what)
{
    fprintf(stderr, "test_primary: %s\n", what);
    exit(2);
}

static void write_config(test_primary_t *t, const char *primary_yaml)
{
    char path[512], *yaml;
    size_t len = strlen(t->dir) + (primary_yaml != NULL ? strlen(primary_yaml) : 0) + 1024;
    FILE *f;

    if ((yaml = malloc(len)) == NULL)
        die("out of memory");
    snprintf(yaml, len,
             "node:\n  role: primary\n  name: " TEST_PRIMARY_NAME "\n  listen: 127.0.0.1:1\n"
             "  public_url: " TEST_PRIMARY_ISSUER "\n  data_dir: %s/data\n  threads: 1\n  log_level: warn\n"
             "primary:\n  signing_alg: ES256\n%s",
             t->dir, primary_yaml != NULL ? primary_yaml : "");
    snprintf(path, sizeof(path), "%s/hub.yaml", t->dir);
    if ((f = fopen(path, "w")) == NULL || fputs(yaml, f) < 0 || fclose(f) != 0)
        die(path);
    free(yaml);
    if (hub_config_load(&t->cfg, path, stderr, NULL) != 0)
        die("the node's configuration does not load");
}

void test_primary_start(test_primary_t *t, const char *tag, const char *primary_yaml)
{
    test_primary_start_store(t, tag, primary_yaml, NULL);
}

void test_primary_start_store(test_primary_t *t, const char *tag, const char *primary_yaml, hub_store_t *store)
{
    memset(t, 0, sizeof(*t));
    hub_log_init(HUB_LOG_WARN, TEST_PRIMARY_NAME); /* warnings and errors only: the tests' output stays readable */
    t->dir = test_tmpdir(tag);
    write_config(t, primary_yaml);
    t->store = store;
    t->borrowed = store != NULL;
    if (t->borrowed && mkdir(t->cfg.node.data_dir, 0700) != 0) /* the node's files (keys) */
        die("cannot make the data dir");
    if ((store == NULL && hub_store_open(&t->store, t->cfg.node.data_dir) != 0) || hub_fetcher_create(&t->fetcher) != 0 ||
        hub_server_create(&t->server, &t->cfg, t->store, t->fetcher) != 0 || idp_create(&t->idp, t->server) != 0)
        die("the node does not start");
    test_loop_init(&t->loop, t->server, t->fetcher);
}

void test_primary_stop(test_primary_t *t)
{
    test_loop_dispose(&t->loop);
    idp_destroy(t->idp);
    hub_server_destroy(t->server);
    hub_fetcher_destroy(t->fetcher);
    if (!t->borrowed)
        hub_store_close(t->store);
    hub_config_dispose(&t->cfg);
    if (test_tmpdir_remove(t->dir) != 0)
        die("cannot remove the data dir");
}

static int user_txn(hub_txn_t *txn, void *arg)
{
    idp_user_t *u = arg;
    size_t i;
    int ret;

    for (i = 0; i != u->roles.n; ++i)
        if (!idp_role_exists(txn, u->roles.v[i]) && (ret = idp_role_add(txn, u->roles.v[i])) != 0)
            return ret;
    return idp_user_put(txn, u);
}

char *test_primary_user(test_primary_t *t, const char *username, const char *password, const char *const *roles)
{
    idp_user_t u = {0};
    char email[128], *sub;

    snprintf(email, sizeof(email), "%s@example.com", username);
    u.username = (char *)username;
    u.email = email;
    u.full_name = (char *)"Test User";
    u.enabled = 1;
    for (; roles != NULL && *roles != NULL; ++roles)
        idp_strv_add(&u.roles, *roles);
    if (password != NULL && idp_password_hash(password, strlen(password), &u.password_hash) != 0)
        die("cannot hash a password");
    if (hub_store_write(t->store, user_txn, &u) != 0)
        die("cannot add a user");
    sub = u.sub;
    free(u.password_hash);
    idp_strv_free(&u.roles);
    return sub;
}

static int client_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_put(txn, arg);
}

void test_primary_put_client(test_primary_t *t, idp_client_t *client, char secret[44])
{
    char buf[44] = "";

    if (client->auth_method != IDP_AUTH_NONE)
        idp_client_new_secret(client, buf);
    if (hub_store_write(t->store, client_txn, client) != 0)
        die("a test client is refused");
    if (secret != NULL)
        memcpy(secret, buf, sizeof(buf));
}

void test_primary_client(test_primary_t *t, const char *client_id, const char *grant_type, const char *auth_method,
                         const char *redirect_uris, const char *scopes, int skip_authorization, char secret[44])
{
    idp_client_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        die("out of memory");
    c->client_id = strdup(client_id);
    c->app_name = strdup(client_id);
    c->enabled = 1;
    c->skip_authorization = skip_authorization;
    if (idp_grant_type_parse(grant_type, &c->grant_type) != 0 || idp_auth_method_parse(auth_method, &c->auth_method) != 0)
        die("a bad grant type or auth method");
    c->response_type = c->grant_type == IDP_GRANT_IMPLICIT ? IDP_RESPONSE_TOKEN : IDP_RESPONSE_CODE;
    idp_strv_split(&c->redirect_uris, redirect_uris != NULL ? redirect_uris : "", 1);
    idp_strv_split(&c->scopes, scopes != NULL ? scopes : "openid profile email roles", 1);
    test_primary_put_client(t, c, secret);
    idp_client_free(c);
}

static int disable_user_txn(hub_txn_t *txn, void *arg)
{
    idp_user_t *u = NULL;
    int ret = idp_user_find(txn, arg, &u);

    if (ret == 0) {
        u->enabled = 0;
        ret = idp_user_put(txn, u);
    }
    idp_user_free(u);
    return ret;
}

int test_primary_disable_user(test_primary_t *t, const char *username)
{
    return hub_store_write(t->store, disable_user_txn, (void *)username);
}

static int disable_txn(hub_txn_t *txn, void *arg)
{
    return idp_client_disable(txn, arg);
}

int test_primary_disable_client(test_primary_t *t, const char *client_id)
{
    return hub_store_write(t->store, disable_txn, (void *)client_id);
}

test_req_t *test_primary_request(test_primary_t *t, const char *method, const char *path, const char *cookie, const char *auth,
                                 const char *ctype, const char *body)
{
    test_req_t *r = test_req_new(&t->loop, method, path);

    if (cookie != NULL)
        test_req_header(r, "cookie", cookie);
    if (auth != NULL)
        test_req_header(r, "authorization", auth);
    if (body != NULL)
        test_req_body(r, ctype != NULL ? ctype : "application/x-www-form-urlencoded", body);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    return r;
}

int test_primary_authorize(test_primary_t *t, const char *cookie, const char *query, char *location, size_t cap)
{
    size_t len = strlen(query) + sizeof("/oauth2/authorize?");
    char *path = malloc(len);
    test_req_t *r;
    int status;

    if (path == NULL)
        die("out of memory");
    snprintf(path, len, "/oauth2/authorize?%s", query);
    r = test_primary_request(t, "GET", path, cookie, NULL, NULL, NULL);
    status = test_req_done(r) ? test_req_status(r) : -1;
    snprintf(location, cap, "%s", test_req_resp_header(r, "location", 0) ?: "");
    test_req_free(r);
    free(path);
    return status;
}

const char *test_basic(const char *id, const char *secret, char *out, size_t cap)
{
    size_t len = strlen(id) + strlen(secret) + 1;
    char *raw = malloc(len + 1);

    if (raw == NULL || cap < 4 * (len + 2) / 3 + 8)
        die("test_basic: too small");
    snprintf(raw, len + 1, "%s:%s", id, secret);
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)raw, (int)len);
    free(raw);
    return out;
}

json_t *test_primary_grant(test_primary_t *t, const char *auth, const char *body)
{
    test_req_t *r = test_primary_request(t, "POST", "/oauth2/token", NULL, auth, NULL, body);
    json_t *doc = test_req_done(r) && test_req_status(r) == 200 ? test_req_json(r) : NULL;

    test_req_free(r);
    return doc;
}

json_t *test_primary_code_flow(test_primary_t *t, const char *cookie, const char *client_id, const char *secret,
                               const char *redirect_uri, const char *scope)
{
    char query[1024], location[2048], code[64], body[1024], auth[512];
    h2o_mem_pool_t pool;
    json_t *doc = NULL;

    h2o_mem_init_pool(&pool);
    snprintf(query, sizeof(query), "client_id=%s&response_type=code&redirect_uri=%s&scope=%s", client_id,
             hub_url_encode(&pool, redirect_uri, strlen(redirect_uri)).base, hub_url_encode(&pool, scope, strlen(scope)).base);
    if (test_primary_authorize(t, cookie, query, location, sizeof(location)) == 302 &&
        test_url_param(location, "code", code, sizeof(code)) == 0) {
        snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=%s", code,
                 hub_url_encode(&pool, redirect_uri, strlen(redirect_uri)).base);
        doc = test_primary_grant(t, test_basic(client_id, secret, auth, sizeof(auth)), body);
    }
    h2o_mem_clear_pool(&pool);
    return doc;
}

json_t *test_req_json(test_req_t *r)
{
    return json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
}

const char *test_json_str(const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s != NULL ? s : "";
}

static int count_one(void *arg, hub_val_t key, hub_val_t val)
{
    (void)key, (void)val;
    ++*(size_t *)arg;
    return 0;
}

size_t test_primary_count(test_primary_t *t, hub_table_t table)
{
    hub_txn_t *txn = NULL;
    size_t n = 0;

    if (hub_store_read_begin(t->store, &txn) != 0)
        die("cannot read the store");
    if (hub_store_each(txn, table, NULL, 0, count_one, &n) != 0)
        die("cannot walk a table");
    hub_store_read_end(txn);
    return n;
}

int test_form_value(const char *html, const char *name, char *out, size_t cap)
{
    char needle[128];
    const char *p, *end;

    snprintf(needle, sizeof(needle), "name=\"%s\" value=\"", name);
    if ((p = strstr(html, needle)) == NULL)
        return -1;
    p += strlen(needle);
    if ((end = strchr(p, '"')) == NULL || (size_t)(end - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 0;
}

int test_url_param(const char *url, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name), len;
    const char *p = strpbrk(url, "?#");

    while (p != NULL) {
        ++p;
        len = strcspn(p, "&#");
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            if (len - n - 1 >= cap)
                return -1;
            memcpy(out, p + n + 1, len - n - 1);
            out[len - n - 1] = '\0';
            return 0;
        }
        p = p[len] != '\0' ? p + len : NULL;
    }
    return -1;
}

int test_primary_sign_in(test_primary_t *t, const char *username, const char *password, char *cookie, size_t cap)
{
    test_req_t *r = test_primary_request(t, "GET", "/login", NULL, NULL, NULL, NULL);
    char token[128], csrf[128] = "", body[1024];
    const char *v;
    int ret = -1;

    cookie[0] = '\0';
    if (!test_req_done(r) || test_form_value(test_req_text(r), "csrf_token", token, sizeof(token)) != 0 ||
        (v = test_req_set_cookie(r, TEST_PRIMARY_CSRF_COOKIE, NULL)) == NULL) {
        test_req_free(r);
        return -1;
    }
    snprintf(csrf, sizeof(csrf), "%s", v);
    test_req_free(r);
    snprintf(cookie, cap, TEST_PRIMARY_CSRF_COOKIE "=%s", csrf);
    snprintf(body, sizeof(body), "csrf_token=%s&username=%s&password=%s", token, username, password);
    r = test_primary_request(t, "POST", "/login", cookie, NULL, NULL, body);
    if (test_req_done(r) && test_req_status(r) == 302 && (v = test_req_set_cookie(r, TEST_PRIMARY_SESSION_COOKIE, NULL)) != NULL) {
        /* the sign-in gave the browser a new pre-session as well */
        const char *fresh = test_req_set_cookie(r, TEST_PRIMARY_CSRF_COOKIE, NULL);
        snprintf(cookie, cap, TEST_PRIMARY_SESSION_COOKIE "=%s; " TEST_PRIMARY_CSRF_COOKIE "=%s", v, fresh != NULL ? fresh : csrf);
        ret = 0;
    }
    test_req_free(r);
    return ret;
}

/* ---- holding the store's writer lock ---- */

static pthread_mutex_t hold_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int holding, released;
static pthread_t hold_tid;

static int hold_txn(hub_txn_t *txn, void *arg)
{
    pthread_mutex_lock(&hold_mutex);
    holding = 1;
    pthread_cond_broadcast(&hold_cond);
    while (!released)
        pthread_cond_wait(&hold_cond, &hold_mutex);
    pthread_mutex_unlock(&hold_mutex);
    return 0;
}

static void *hold_main(void *arg)
{
    test_primary_t *t = arg;

    hub_store_write(t->store, hold_txn, NULL);
    return NULL;
}

void test_primary_hold_writes(test_primary_t *t)
{
    holding = released = 0;
    if (pthread_create(&hold_tid, NULL, hold_main, t) != 0)
        die("pthread_create");
    pthread_mutex_lock(&hold_mutex);
    while (!holding)
        pthread_cond_wait(&hold_cond, &hold_mutex);
    pthread_mutex_unlock(&hold_mutex);
}

void test_primary_release_writes(test_primary_t *t)
{
    pthread_mutex_lock(&hold_mutex);
    released = 1;
    pthread_cond_broadcast(&hold_cond);
    pthread_mutex_unlock(&hold_mutex);
    pthread_join(hold_tid, NULL);
}
