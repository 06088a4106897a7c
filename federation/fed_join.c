/* Joining the primary: discovery, dynamic registration with a join token, credential probe,
 * and the node's stored registration (table FED). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "federation/fed_join.h"
#include "hub/clock.h"
#include "hub/util.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/log.h"
#include "hub/url.h"

#define DISCOVERY_PATH "/.well-known/openid-configuration"
#define KEY_ENDPOINTS "endpoints"
#define KEY_REGISTRATION "registration"
#define FETCH_TIMEOUT_MS 5000
#define SECRET_FILE_MAX 4096

typedef struct st_snap_t {
    fed_reg_t reg; /* first: handed out as fed_reg_t */
    struct st_snap_t *older;
} snap_t;

struct st_fed_join_t {
    const hub_config_t *cfg;
    hub_store_t *store;
    snap_t *current; /* atomic; older snapshots are freed at destroy, readers hold no lock */
    pthread_mutex_t mutex;
    int revoked; /* atomic */
    int static_credentials;
    char join_token_hash[HUB_SECRET_HASH_LEN + 1]; /* of the token the stored registration used */
};

static void reg_clear(fed_reg_t *r)
{
    free(r->issuer);
    free(r->authorization_endpoint);
    free(r->token_endpoint);
    free(r->jwks_uri);
    free(r->end_session_endpoint);
    free(r->registration_endpoint);
    free(r->client_id);
    free(r->post_logout_redirect_uri);
    if (r->client_secret != NULL)
        OPENSSL_cleanse(r->client_secret, strlen(r->client_secret));
    free(r->client_secret);
}

static void reg_copy(fed_reg_t *d, const fed_reg_t *s)
{
    d->issuer = hub_strdup(s->issuer);
    d->authorization_endpoint = hub_strdup(s->authorization_endpoint);
    d->token_endpoint = hub_strdup(s->token_endpoint);
    d->jwks_uri = hub_strdup(s->jwks_uri);
    d->end_session_endpoint = hub_strdup(s->end_session_endpoint);
    d->registration_endpoint = hub_strdup(s->registration_endpoint);
    d->client_id = hub_strdup(s->client_id);
    d->client_secret = hub_strdup(s->client_secret);
    d->post_logout_redirect_uri = hub_strdup(s->post_logout_redirect_uri);
}

/* A new snapshot starting as a copy of the current one; publish() makes it current. */
static snap_t *snap_begin(fed_join_t *j)
{
    snap_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    reg_copy(&s->reg, &j->current->reg);
    return s;
}

static void publish(fed_join_t *j, snap_t *s)
{
    s->older = j->current;
    __atomic_store_n(&j->current, s, __ATOMIC_RELEASE);
}

const fed_reg_t *fed_join_current(fed_join_t *j)
{
    return &__atomic_load_n(&j->current, __ATOMIC_ACQUIRE)->reg;
}

char *fed_read_secret_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char buf[SECRET_FILE_MAX + 1];
    size_t n;

    if (fp == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    if (n > SECRET_FILE_MAX)
        return NULL;
    if (n != 0 && buf[n - 1] == '\n')
        --n;
    if (n != 0 && buf[n - 1] == '\r')
        --n;
    if (n == 0 || memchr(buf, '\0', n) != NULL)
        return NULL;
    buf[n] = '\0';
    char *s = hub_strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return s;
}

static char *json_str_dup(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) || json_string_length(v) == 0 ||
        json_string_length(v) > HUB_URL_MAX)
        return NULL;
    return hub_strdup(json_string_value(v));
}

static void load_endpoints(fed_reg_t *r, const json_t *doc)
{
    r->issuer = json_str_dup(doc, "issuer");
    r->authorization_endpoint = json_str_dup(doc, "authorization_endpoint");
    r->token_endpoint = json_str_dup(doc, "token_endpoint");
    r->jwks_uri = json_str_dup(doc, "jwks_uri");
    r->end_session_endpoint = json_str_dup(doc, "end_session_endpoint");
    r->registration_endpoint = json_str_dup(doc, "registration_endpoint");
}

int fed_join_create(fed_join_t **out, const hub_config_t *cfg, hub_store_t *store)
{
    fed_join_t *j = calloc(1, sizeof(*j));
    snap_t *s = calloc(1, sizeof(*s));
    hub_txn_t *txn = NULL;
    json_t *doc = NULL;
    const char *h;

    if (j == NULL || s == NULL)
        abort();
    j->cfg = cfg;
    j->store = store;
    pthread_mutex_init(&j->mutex, NULL);
    j->current = s;
    if (hub_store_read_begin(store, &txn) == 0) {
        if (hub_store_get_json(txn, HUB_T_FED, KEY_ENDPOINTS, &doc) == 0)
            load_endpoints(&s->reg, doc);
        json_decref(doc);
        doc = NULL;
        if (cfg->secondary.client_id == NULL && hub_store_get_json(txn, HUB_T_FED, KEY_REGISTRATION, &doc) == 0) {
            s->reg.client_id = json_str_dup(doc, "client_id");
            s->reg.client_secret = json_str_dup(doc, "client_secret");
            s->reg.post_logout_redirect_uri = json_str_dup(doc, "post_logout_redirect_uri");
            if ((h = json_string_value(json_object_get(doc, "join_token_hash"))) != NULL)
                snprintf(j->join_token_hash, sizeof(j->join_token_hash), "%s", h);
        }
        json_decref(doc);
        hub_store_read_end(txn);
    }
    if (cfg->secondary.client_id != NULL) {
        j->static_credentials = 1;
        s->reg.client_id = hub_strdup(cfg->secondary.client_id);
        if (cfg->secondary.client_secret_file == NULL ||
            (s->reg.client_secret = fed_read_secret_file(cfg->secondary.client_secret_file)) == NULL) {
            hub_log_error("secondary.client_secret_file: cannot read the client secret from %s",
                          cfg->secondary.client_secret_file != NULL ? cfg->secondary.client_secret_file : "(not set)");
            fed_join_destroy(j);
            return HUB_E_CONFIG;
        }
    }
    if (s->reg.client_id != NULL)
        hub_log_info("federation: using %s credentials of client %s", j->static_credentials ? "configured" : "stored",
                     s->reg.client_id);
    *out = j;
    return 0;
}

void fed_join_destroy(fed_join_t *j)
{
    snap_t *s, *older;
    if (j == NULL)
        return;
    for (s = j->current; s != NULL; s = older) {
        older = s->older;
        reg_clear(&s->reg);
        free(s);
    }
    pthread_mutex_destroy(&j->mutex);
    free(j);
}

static int put_fed_json(hub_txn_t *txn, void *arg)
{
    json_t **kv = arg; /* {key as json string, value} */
    return hub_store_put_json(txn, HUB_T_FED, json_string_value(kv[0]), kv[1], 0, 0);
}

static int store_json(fed_join_t *j, const char *key, json_t *val)
{
    json_t *kv[2] = {json_string(key), val};
    int ret = hub_store_write(j->store, put_fed_json, kv);
    json_decref(kv[0]);
    return ret;
}

/* An endpoint the primary publishes, as the hub reads every URL it calls (hub/url.h): absolute http(s), no userinfo, no
 * fragment, nothing but printable ASCII. */
static int is_http_url(const char *s)
{
    hub_url_t u;
    return s != NULL && hub_url_parse(s, &u, NULL) == 0;
}

int fed_join_discover(fed_join_t *j)
{
    const char *server_url = j->cfg->secondary.server_url;
    char url[HUB_URL_MAX + 64];
    static const char *const headers[] = {"Accept: application/json"};
    hub_fetch_req_t req = {.method = "GET", .url = url, .headers = headers, .nheaders = 1, .timeout_ms = FETCH_TIMEOUT_MS};
    hub_fetch_res_t res = {0};
    json_t *doc = NULL, *keep = NULL;
    fed_reg_t found = {0};
    snap_t *s;
    int ret;

    snprintf(url, sizeof(url), "%s%s", server_url, DISCOVERY_PATH);
    if ((ret = hub_fetch_sync(&req, &res)) != 0)
        goto out;
    if (res.status != 200 || (doc = json_loadb(res.body, res.body_len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
        !json_is_object(doc)) {
        hub_log_warn("federation: %s answered HTTP %ld without a discovery document", url, res.status);
        ret = res.status >= 500 ? HUB_E_NET : HUB_E_PARSE;
        goto out;
    }
    load_endpoints(&found, doc);
    if (found.issuer == NULL || strcmp(found.issuer, server_url) != 0) {
        hub_log_error("federation: the primary at %s names its issuer \"%s\", which is not secondary.server_url: refusing to "
                      "trust it (set server_url to the primary's exact public_url)",
                      server_url, found.issuer != NULL ? found.issuer : "");
        ret = HUB_E_DENIED;
        goto out;
    }
    if (!is_http_url(found.authorization_endpoint) || !is_http_url(found.token_endpoint) || !is_http_url(found.jwks_uri)) {
        hub_log_error("federation: the primary's discovery document lacks an http(s) URL for authorization_endpoint, "
                      "token_endpoint or jwks_uri");
        ret = HUB_E_PARSE;
        goto out;
    }
    keep = json_pack("{s:s,s:s,s:s,s:s}", "issuer", found.issuer, "authorization_endpoint", found.authorization_endpoint,
                     "token_endpoint", found.token_endpoint, "jwks_uri", found.jwks_uri);
    if (found.end_session_endpoint != NULL)
        json_object_set_new(keep, "end_session_endpoint", json_string(found.end_session_endpoint));
    if (found.registration_endpoint != NULL)
        json_object_set_new(keep, "registration_endpoint", json_string(found.registration_endpoint));
    if ((ret = store_json(j, KEY_ENDPOINTS, keep)) != 0)
        hub_log_warn("federation: cannot store the primary's endpoints: %s", hub_strerror(ret));
    pthread_mutex_lock(&j->mutex);
    s = snap_begin(j);
    free(s->reg.issuer);
    free(s->reg.authorization_endpoint);
    free(s->reg.token_endpoint);
    free(s->reg.jwks_uri);
    free(s->reg.end_session_endpoint);
    free(s->reg.registration_endpoint);
    load_endpoints(&s->reg, keep);
    publish(j, s);
    pthread_mutex_unlock(&j->mutex);
    ret = 0;
out:
    reg_clear(&found);
    json_decref(doc);
    json_decref(keep);
    hub_fetch_res_dispose(&res);
    return ret;
}

static char *read_join_token(const hub_config_t *cfg)
{
    const char *env;
    if (cfg->secondary.join_token_file != NULL)
        return fed_read_secret_file(cfg->secondary.join_token_file);
    if ((env = getenv("HUB_JOIN_TOKEN")) != NULL && env[0] != '\0')
        return hub_strdup(env);
    return NULL;
}

/* The landing page after logout: a route of its own, since "/" may be an application's. */
static void signed_out_uri(const hub_config_t *cfg, char *out, size_t size)
{
    snprintf(out, size, "%s/auth/signed-out", cfg->node.public_url);
}

static json_t *registration_metadata(const hub_config_t *cfg)
{
    const char *pub = cfg->node.public_url;
    char redirect[HUB_URL_MAX], bcl[HUB_URL_MAX], signed_out[HUB_URL_MAX];
    snprintf(redirect, sizeof(redirect), "%s/auth/callback", pub);
    snprintf(bcl, sizeof(bcl), "%s/auth/backchannel-logout", pub);
    signed_out_uri(cfg, signed_out, sizeof(signed_out));
    return json_pack("{s:s,s:[s],s:s,s:[s],s:[s,s],s:[s],s:s,s:s}", "client_name", cfg->node.name, "redirect_uris", redirect,
                     "backchannel_logout_uri", bcl, "post_logout_redirect_uris", signed_out, "grant_types", "authorization_code",
                     "refresh_token", "response_types", "code", "token_endpoint_auth_method", "client_secret_basic", "scope",
                     "openid profile email roles");
}

/* Logs why the primary refused the registration, without echoing anything secret. */
static void log_refusal(const hub_fetch_res_t *res)
{
    json_t *doc = json_loadb(res->body, res->body_len, 0, NULL);
    const char *err = json_string_value(json_object_get(doc, "error"));
    const char *desc = json_string_value(json_object_get(doc, "error_description"));
    hub_log_error("federation: the primary refused to register this node (HTTP %ld%s%s%s%s); ask its operator for a new join "
                  "token (hubctl node join-token) and restart this node with it",
                  res->status, err != NULL ? ", " : "", err != NULL ? err : "", desc != NULL ? ": " : "", desc != NULL ? desc : "");
    json_decref(doc);
}

/* The post-logout landing the primary stored for this node: ours when its answer lists it (or
 * lists none, as the metadata is then taken as sent), else NULL (the caller falls back). */
static char *registered_signed_out(const hub_config_t *cfg, const json_t *doc)
{
    const json_t *uris = json_object_get(doc, "post_logout_redirect_uris"), *u;
    char want[HUB_URL_MAX];
    size_t i;

    signed_out_uri(cfg, want, sizeof(want));
    if (uris == NULL)
        return hub_strdup(want);
    json_array_foreach(uris, i, u) if (json_is_string(u) && strcmp(json_string_value(u), want) == 0) return hub_strdup(want);
    return NULL;
}

/* Stores and publishes the credentials of a 200/201 registration answer. */
static int accept_registration(fed_join_t *j, const hub_fetch_res_t *res, const char *hash)
{
    json_t *doc = NULL, *rec = NULL;
    char *client_id = NULL, *secret = NULL, *signed_out = NULL;
    snap_t *s;
    int ret;

    if ((doc = json_loadb(res->body, res->body_len, 0, NULL)) == NULL || (client_id = json_str_dup(doc, "client_id")) == NULL ||
        (secret = json_str_dup(doc, "client_secret")) == NULL) {
        hub_log_error("federation: the primary's registration answer has no client_id and client_secret");
        ret = HUB_E_PARSE;
        goto out;
    }
    /* The node's own secret must be usable to authenticate to the primary, so it is stored
     * in clear in the data dir, which the store keeps at mode 0700 with 0600 files. */
    rec = json_pack("{s:s,s:s,s:s,s:I}", "client_id", client_id, "client_secret", secret, "join_token_hash", hash, "registered_at",
                    (json_int_t)hub_now());
    if (json_is_string(json_object_get(doc, "registration_client_uri")))
        json_object_set(rec, "registration_client_uri", json_object_get(doc, "registration_client_uri"));
    if (json_is_string(json_object_get(doc, "registration_access_token")))
        json_object_set(rec, "registration_access_token", json_object_get(doc, "registration_access_token"));
    if ((signed_out = registered_signed_out(j->cfg, doc)) != NULL)
        json_object_set_new(rec, "post_logout_redirect_uri", json_string(signed_out));
    if ((ret = store_json(j, KEY_REGISTRATION, rec)) != 0) {
        hub_log_error("federation: registered as client %s but cannot store the credentials: %s", client_id, hub_strerror(ret));
        goto out;
    }
    pthread_mutex_lock(&j->mutex);
    s = snap_begin(j);
    free(s->reg.client_id);
    if (s->reg.client_secret != NULL)
        OPENSSL_cleanse(s->reg.client_secret, strlen(s->reg.client_secret));
    free(s->reg.client_secret);
    s->reg.client_id = client_id;
    s->reg.client_secret = secret;
    free(s->reg.post_logout_redirect_uri);
    s->reg.post_logout_redirect_uri = signed_out;
    client_id = secret = signed_out = NULL;
    snprintf(j->join_token_hash, sizeof(j->join_token_hash), "%s", hash);
    publish(j, s);
    pthread_mutex_unlock(&j->mutex);
    __atomic_store_n(&j->revoked, 0, __ATOMIC_RELEASE);
    hub_log_info("federation: registered with the primary as client %s", fed_join_current(j)->client_id);
out:
    free(client_id);
    free(signed_out);
    if (secret != NULL)
        OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    json_decref(doc);
    json_decref(rec);
    return ret;
}

int fed_join_register(fed_join_t *j)
{
    const fed_reg_t *cur = fed_join_current(j);
    char *token = NULL, *body = NULL, *auth = NULL, hash[HUB_SECRET_HASH_LEN + 1];
    const char *headers[3];
    hub_fetch_req_t req = {.method = "POST", .headers = headers, .nheaders = 3, .timeout_ms = 2 * FETCH_TIMEOUT_MS};
    hub_fetch_res_t res = {0};
    json_t *md = NULL;
    int ret;

    if (j->static_credentials)
        return 0;
    token = read_join_token(j->cfg);
    if (cur->client_id != NULL && cur->client_secret != NULL) {
        /* a revoked node registers again only with a join token it has not used yet */
        hub_secret_hash(hash, token != NULL ? token : "", token != NULL ? strlen(token) : 0);
        if (!fed_join_revoked(j) || token == NULL || strcmp(hash, j->join_token_hash) == 0) {
            ret = 0;
            goto out;
        }
        hub_log_info("federation: registering again with a new join token");
    }
    if (token == NULL) {
        hub_log_error("federation: this node has no credentials and no join token: set secondary.join_token_file (or "
                      "HUB_JOIN_TOKEN) to a token from `hubctl node join-token`, or secondary.client_id and "
                      "client_secret_file");
        ret = HUB_E_CONFIG;
        goto out;
    }
    if (!is_http_url(cur->registration_endpoint)) {
        hub_log_error("federation: the primary publishes no registration_endpoint");
        ret = HUB_E_DENIED;
        goto out;
    }
    hub_secret_hash(hash, token, strlen(token));
    md = registration_metadata(j->cfg);
    body = json_dumps(md, JSON_COMPACT);
    if (body == NULL || asprintf(&auth, "Authorization: Bearer %s", token) < 0)
        abort();
    headers[0] = auth;
    headers[1] = "Content-Type: application/json";
    headers[2] = "Accept: application/json";
    req.url = cur->registration_endpoint;
    req.body = body;
    req.body_len = strlen(body);
    if ((ret = hub_fetch_sync(&req, &res)) != 0) {
        hub_log_warn("federation: registration at %s failed: %s", req.url, hub_strerror(ret));
    } else if (res.status >= 500) {
        hub_log_warn("federation: registration at %s answered HTTP %ld; will retry", req.url, res.status);
        ret = HUB_E_NET;
    } else if (res.status != 201 && res.status != 200) {
        log_refusal(&res);
        ret = HUB_E_DENIED;
    } else {
        ret = accept_registration(j, &res, hash);
    }
out:
    if (token != NULL)
        OPENSSL_cleanse(token, strlen(token));
    free(token);
    if (auth != NULL)
        OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
    free(body);
    json_decref(md);
    hub_fetch_res_dispose(&res);
    return ret;
}

int fed_join_revoked(fed_join_t *j)
{
    return __atomic_load_n(&j->revoked, __ATOMIC_ACQUIRE);
}

void fed_join_set_revoked(fed_join_t *j, int revoked)
{
    int was = __atomic_exchange_n(&j->revoked, revoked ? 1 : 0, __ATOMIC_ACQ_REL);
    const char *cid = fed_join_current(j)->client_id;
    if (revoked && !was)
        hub_log_error("federation: this node's registration was revoked or is unknown to the primary (client %s): users cannot "
                      "sign in here; register the node again with a new join token (hubctl node join-token on the primary, "
                      "then set secondary.join_token_file and restart)",
                      cid != NULL ? cid : "-");
    else if (!revoked && was)
        hub_log_info("federation: the primary accepts this node's credentials again");
}

/* application/x-www-form-urlencoded for one Basic-auth half (RFC 6749 §2.3.1). */
static void form_encode(char *out, size_t size, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s != '\0' && o + 4 < size; ++s) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

char *fed_join_basic_auth(const fed_reg_t *reg)
{
    char id[768], secret[768], pair[1600], *line;
    unsigned char b64[2200];
    int n;

    form_encode(id, sizeof(id), reg->client_id);
    form_encode(secret, sizeof(secret), reg->client_secret);
    n = snprintf(pair, sizeof(pair), "%s:%s", id, secret);
    if (n < 0 || (size_t)n >= sizeof(pair))
        n = sizeof(pair) - 1;
    EVP_EncodeBlock(b64, (const unsigned char *)pair, n);
    if (asprintf(&line, "Authorization: Basic %s", (const char *)b64) < 0)
        abort();
    OPENSSL_cleanse(pair, sizeof(pair));
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(b64, sizeof(b64));
    return line;
}

int fed_join_probe(fed_join_t *j)
{
    const fed_reg_t *cur = fed_join_current(j);
    char *auth = NULL;
    const char *headers[3];
    static const char body[] = "grant_type=client_credentials";
    hub_fetch_req_t req = {.method = "POST",
                           .headers = headers,
                           .nheaders = 3,
                           .body = body,
                           .body_len = sizeof(body) - 1,
                           .timeout_ms = FETCH_TIMEOUT_MS};
    hub_fetch_res_t res = {0};
    json_t *doc = NULL;
    const char *err;
    int ret;

    if (cur->client_id == NULL || cur->client_secret == NULL || !is_http_url(cur->token_endpoint))
        return HUB_E_NOTFOUND;
    auth = fed_join_basic_auth(cur);
    headers[0] = auth;
    headers[1] = "Content-Type: application/x-www-form-urlencoded";
    headers[2] = "Accept: application/json";
    req.url = cur->token_endpoint;
    if ((ret = hub_fetch_sync(&req, &res)) != 0)
        goto out;
    if (res.status >= 500) {
        ret = HUB_E_NET;
        goto out;
    }
    doc = json_loadb(res.body, res.body_len, 0, NULL);
    err = json_string_value(json_object_get(doc, "error"));
    fed_join_set_revoked(j, res.status == 401 || (err != NULL && strcmp(err, "invalid_client") == 0));
    ret = fed_join_revoked(j) ? HUB_E_DENIED : 0;
out:
    OPENSSL_cleanse(auth, strlen(auth));
    free(auth);
    json_decref(doc);
    hub_fetch_res_dispose(&res);
    return ret;
}
