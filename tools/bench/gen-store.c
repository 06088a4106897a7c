/* gen-store: fills a primary's data dir with a store of production size (a bench helper, not a test): users, OAuth
 * clients, live refresh tokens (each in its own token family) and browser sessions, written through the node's own
 * model and grants APIs, many records per write transaction; and refresh tokens that expire soon, for the expiry
 * sweep bench. Run `hubctl init` on the data dir first (keys and roles). Every user gets the same password and, to
 * make a million users affordable, the same Argon2id hash of it, computed once (a real hash with the node's
 * parameters, so a sign-in costs what it costs in production; only the salts are not unique). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/crypto.h"
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/store.h"
#include "idp/grants.h"
#include "idp/idp.h"
#include "idp/client.h"
#include "idp/password.h"
#include "idp/user.h"
#include "idp/session.h"

#define ID_WIDTH 64      /* a slot of a pool: a sub, a client_id or a sid (22 to 32 chars) */
#define SAMPLE 16        /* records of each kind read back through the node's APIs at the end */
#define OWNERS_MAX 10000 /* users or clients read from the store when this run made none */
#define SECRET_CAP 1024
#define SCOPE "openid profile email roles"
#define ROLE "Guest" /* made by hubctl init */

/* ---- what the run makes ---- */

typedef struct st_pool_t {
    char *v; /* n slots of ID_WIDTH bytes, each a NUL-terminated id */
    size_t n, cap;
} pool_t;

typedef enum { K_USERS = 0, K_CLIENTS, K_SESSIONS, K_REFRESH, K_EXPIRING, K__COUNT } kind_t;

typedef struct st_gen_t {
    const char *dir, *user_prefix;
    unsigned user_digits;
    unsigned long user_start;
    unsigned long count[K__COUNT];
    unsigned long batch;
    uint64_t expire_in, session_ttl, refresh_ttl, now;
    char password[SECRET_CAP];
    char *hash; /* the one Argon2id hash every user gets */
    pool_t subs, clients, sids;
    char sample_tokens[SAMPLE][44]; /* refresh tokens (first of the run), to read back */
    uint64_t rng;
    int quiet;
} gen_t;

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("gen-store: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void pool_reserve(pool_t *p, size_t n)
{
    if (n <= p->cap)
        return;
    if ((p->v = realloc(p->v, n * ID_WIDTH)) == NULL)
        die("out of memory");
    p->cap = n;
}

/* Slot i of the pool (reserved before). */
static char *pool_slot(pool_t *p, size_t i)
{
    return p->v + i * ID_WIDTH;
}

static const char *pool_pick(pool_t *p, uint64_t *rng)
{
    return p->n == 0 ? NULL : pool_slot(p, (size_t)(rng_next(rng) % p->n));
}

static void set_slot(pool_t *p, size_t i, const char *id)
{
    if (strlen(id) >= ID_WIDTH)
        die("an id longer than %d bytes: %s", ID_WIDTH - 1, id);
    memcpy(pool_slot(p, i), id, strlen(id) + 1);
}

/* ---- the node's APIs: every record is written here, through them (the one place to adapt when the model's files
 * move) ---- */

static int put_user(hub_txn_t *txn, gen_t *g, unsigned long i)
{
    char name[128], email[192], full[160];
    idp_user_t *u = calloc(1, sizeof(*u));
    int ret;

    if (u == NULL)
        die("out of memory");
    snprintf(name, sizeof(name), "%s%0*lu", g->user_prefix, (int)g->user_digits, g->user_start + i);
    snprintf(email, sizeof(email), "%s@bench.example", name);
    snprintf(full, sizeof(full), "Bench User %lu", g->user_start + i);
    u->username = name;
    u->email = email;
    u->full_name = full;
    u->enabled = 1;
    u->email_verified = 1;
    idp_strv_split(&u->roles, ROLE, 0);
    u->password_hash = g->hash;
    if ((ret = idp_user_put(txn, u)) == 0)
        set_slot(&g->subs, i, u->sub);
    u->username = u->email = u->full_name = u->password_hash = NULL; /* ours, not the record's */
    idp_user_free(u);
    return ret;
}

static int put_client(hub_txn_t *txn, gen_t *g, unsigned long i)
{
    char uri[128], name[64], secret[44];
    idp_client_t *c = calloc(1, sizeof(*c));
    int ret;

    if (c == NULL)
        die("out of memory");
    snprintf(uri, sizeof(uri), "https://app%06lu.bench.example/oauth/callback", i);
    snprintf(name, sizeof(name), "Bench App %lu", i);
    c->app_name = strdup(name);
    idp_strv_split(&c->scopes, SCOPE, 1);
    idp_strv_split(&c->redirect_uris, uri, 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    c->grant_type = IDP_GRANT_AUTHORIZATION_CODE;
    c->response_type = IDP_RESPONSE_CODE;
    c->auth_method = IDP_AUTH_SECRET_BASIC;
    c->enabled = 1;
    idp_client_new_secret(c, secret); /* a random secret nobody learns: these clients are background */
    if ((ret = idp_client_put(txn, c)) == 0)
        set_slot(&g->clients, i, c->client_id);
    idp_client_free(c);
    return ret;
}

/* A browser session of a random user, written as a sign-in writes it (idp_session_put: the session, its "sid:" pointer
 * and its entry in the owner index), living session_ttl. */
static int put_session(hub_txn_t *txn, gen_t *g, unsigned long i)
{
    const char *sub = pool_pick(&g->subs, &g->rng);
    idp_session_new_t n;
    int ret;

    if (sub == NULL)
        die("sessions need users");
    idp_session_prepare_ttl(&n, g->session_ttl);
    if ((ret = idp_session_put(txn, &n, sub)) == 0)
        set_slot(&g->sids, i, n.sid);
    return ret;
}

/* A refresh token as a code exchange leaves it: a family (client, user, session) and its first token, both living
 * until exp. */
static int put_refresh_until(hub_txn_t *txn, gen_t *g, unsigned long i, uint64_t exp)
{
    const char *client_id = pool_pick(&g->clients, &g->rng), *sub = pool_pick(&g->subs, &g->rng);
    const char *sid = pool_pick(&g->sids, &g->rng);
    char family[33], token[44];
    int ret;

    if (client_id == NULL || sub == NULL)
        die("refresh tokens need users and clients");
    if ((ret = idp_family_create(txn, client_id, sub, sid, SCOPE, exp, family)) != 0)
        return ret;
    idp_refresh_t rec = {family, (char *)client_id, (char *)sub, (char *)sid, SCOPE, g->now, exp};
    if ((ret = idp_refresh_create(txn, &rec, token)) == 0 && i < SAMPLE)
        memcpy(g->sample_tokens[i], token, sizeof(token));
    return ret;
}

static int put_refresh(hub_txn_t *txn, gen_t *g, unsigned long i)
{
    return put_refresh_until(txn, g, i, g->now + g->refresh_ttl);
}

static int put_expiring(hub_txn_t *txn, gen_t *g, unsigned long i)
{
    return put_refresh_until(txn, g, SAMPLE + i, g->now + g->expire_in); /* never a sample: they go away */
}

/* Reads the first records of each kind back through the node's read APIs, as the node reads them. */
static void check_sample(hub_store_t *store, gen_t *g)
{
    hub_txn_t *txn = NULL;
    idp_user_t *u = NULL;
    idp_client_t *c = NULL;
    idp_session_t *s = NULL;
    idp_refresh_t *r = NULL;
    char name[128];
    size_t i;

    if (hub_store_read_begin(store, &txn) != 0)
        die("cannot read the store back");
    for (i = 0; i != SAMPLE; ++i) {
        snprintf(name, sizeof(name), "%s%0*lu", g->user_prefix, (int)g->user_digits, g->user_start + i);
        /* one Argon2id verification is enough: every user carries the same hash */
        if (i < g->count[K_USERS] && (idp_user_find(txn, name, &u) != 0 || strcmp(u->sub, pool_slot(&g->subs, i)) != 0 ||
                                      (i == 0 && idp_password_verify(u->password_hash, g->password, strlen(g->password)) != 0)))
            die("user %s does not read back as written", name);
        if (i < g->count[K_CLIENTS] && idp_client_get(txn, pool_slot(&g->clients, i), &c) != 0)
            die("client %s does not read back", pool_slot(&g->clients, i));
        if (i < g->count[K_SESSIONS] && (idp_session_get_by_sid(txn, pool_slot(&g->sids, i), &s) != 0 || s->sub == NULL))
            die("session %s does not read back (has idp/session.c's layout changed? see put_session)", pool_slot(&g->sids, i));
        if (i < g->count[K_REFRESH] && (idp_refresh_get(txn, g->sample_tokens[i], 43, &r) != 0 || r->successor_hash != NULL))
            die("refresh token %zu does not read back as a live token", i);
        idp_user_free(u);
        idp_client_free(c);
        idp_session_free(s);
        idp_refresh_free(r);
        u = NULL, c = NULL, s = NULL, r = NULL;
    }
    hub_store_read_end(txn);
}

/* ---- batches ---- */

typedef struct st_kind_def_t {
    const char *name;
    int (*put)(hub_txn_t *txn, gen_t *g, unsigned long i);
    pool_t *(*pool)(gen_t *g); /* where the ids go, or NULL */
} kind_def_t;

static pool_t *subs_of(gen_t *g)
{
    return &g->subs;
}
static pool_t *clients_of(gen_t *g)
{
    return &g->clients;
}
static pool_t *sids_of(gen_t *g)
{
    return &g->sids;
}

/* In dependency order: sessions and tokens belong to users (and tokens to clients and sessions). */
static const kind_def_t kinds[K__COUNT] = {
    [K_USERS] = {"users", put_user, subs_of},          [K_CLIENTS] = {"clients", put_client, clients_of},
    [K_SESSIONS] = {"sessions", put_session, sids_of}, [K_REFRESH] = {"refresh", put_refresh, NULL},
    [K_EXPIRING] = {"expiring", put_expiring, NULL},
};

typedef struct st_batch_t {
    gen_t *g;
    kind_t kind;
    unsigned long first, n;
} batch_t;

/* One write transaction. hub_store_write runs it again after growing the map: it writes the same slots again. */
static int batch_txn(hub_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    unsigned long i;
    int ret;

    for (i = 0; i != b->n; ++i)
        if ((ret = kinds[b->kind].put(txn, b->g, b->first + i)) != 0)
            return ret;
    return 0;
}

static void make_kind(hub_store_t *store, gen_t *g, kind_t k)
{
    unsigned long total = g->count[k], done = 0;
    double t0 = now_s(), shown = t0;
    pool_t *pool = kinds[k].pool != NULL ? kinds[k].pool(g) : NULL;
    int ret;

    if (total == 0)
        return;
    if (pool != NULL) {
        pool_reserve(pool, total);
        pool->n = 0; /* this run's records replace the ids read from the store */
    }
    while (done < total) {
        batch_t b = {g, k, done, total - done < g->batch ? total - done : g->batch};
        if ((ret = hub_store_write(store, batch_txn, &b)) != 0)
            die("writing %s %lu..%lu: %s%s", kinds[k].name, done, done + b.n, hub_strerror(ret),
                ret == HUB_E_NOTFOUND ? " (run hubctl init on the data dir first)" : "");
        done += b.n;
        if (pool != NULL)
            pool->n = done;
        if (!g->quiet && (now_s() - shown >= 5 || done == total)) {
            shown = now_s();
            fprintf(stderr, "gen-store: %s %lu/%lu (%.0f/s)\n", kinds[k].name, done, total, done / (shown - t0 + 1e-9));
        }
    }
}

/* ---- owners already in the store (a run that adds tokens to a generated store) ---- */

static int take_user(void *arg, const idp_user_t *u)
{
    pool_t *p = arg;
    set_slot(p, p->n++, u->sub);
    return p->n == OWNERS_MAX;
}

static int take_client(void *arg, const idp_client_t *c)
{
    pool_t *p = arg;
    if (c->grant_type != IDP_GRANT_AUTHORIZATION_CODE || !c->enabled)
        return 0;
    set_slot(p, p->n++, c->client_id);
    return p->n == OWNERS_MAX;
}

/* Tokens and sessions of a run that makes no users (or clients) belong to some of those in the store. */
static void load_owners(hub_store_t *store, gen_t *g)
{
    hub_txn_t *txn = NULL;
    int need_users = g->count[K_USERS] == 0 && g->count[K_SESSIONS] + g->count[K_REFRESH] + g->count[K_EXPIRING] > 0;
    int need_clients = g->count[K_CLIENTS] == 0 && g->count[K_REFRESH] + g->count[K_EXPIRING] > 0;

    if (!need_users && !need_clients)
        return;
    if (hub_store_read_begin(store, &txn) != 0)
        die("cannot read the store");
    if (need_users) {
        pool_reserve(&g->subs, OWNERS_MAX);
        if (idp_user_each(txn, take_user, &g->subs) < 0 || g->subs.n == 0)
            die("the store has no users to own sessions or tokens (--users)");
    }
    if (need_clients) {
        pool_reserve(&g->clients, OWNERS_MAX);
        if (idp_client_each(txn, take_client, &g->clients) < 0 || g->clients.n == 0)
            die("the store has no authorization_code clients to own tokens (--clients)");
    }
    hub_store_read_end(txn);
}

/* ---- options ---- */

static unsigned long count_arg(const char *name, const char *s, unsigned long max)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || v > max)
        die("%s: expected a whole number up to %lu, got \"%s\"", name, max, s);
    return v;
}

static void read_password(gen_t *g, const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        die("--password-file: cannot open %s: %s", path, strerror(errno));
    n = fread(g->password, 1, sizeof(g->password) - 1, f);
    if (!feof(f) || ferror(f))
        die("--password-file: %s is longer than %zu bytes", path, sizeof(g->password) - 2);
    fclose(f);
    g->password[n] = '\0';
    if (n > 0 && g->password[n - 1] == '\n')
        g->password[--n] = '\0';
    if (n == 0 || strlen(g->password) != n || strchr(g->password, '\n') != NULL)
        die("--password-file: %s must hold one line", path);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gen-store -d DATA_DIR [--users N] [--clients N] [--sessions N] [--refresh N]\n"
               "                 [--expiring N --expire-in SECONDS] [--password-file FILE] [--user-prefix P]\n"
               "                 [--user-digits D] [--user-start K] [--batch N] [--session-ttl S] [--refresh-ttl S] [--quiet]\n"
               "Writes users P0000000.. (e-mail P0000000@bench.example, role Guest, all with the password of FILE), clients\n"
               "(authorization_code, https://appNNNNNN.bench.example/oauth/callback), sessions of random users, refresh tokens\n"
               "(each in its own family, of a random user, client and session) living --refresh-ttl (30 days), and --expiring\n"
               "more that expire --expire-in seconds from now (each with its family: 2 records). A run that makes no users\n"
               "or clients gives its sessions and tokens to some of those already in the store. Run hubctl init first.\n");
}

enum {
    O_USERS = 256,
    O_CLIENTS,
    O_SESSIONS,
    O_REFRESH,
    O_EXPIRING,
    O_EXPIRE_IN,
    O_PW,
    O_PREFIX,
    O_DIGITS,
    O_START,
    O_BATCH,
    O_SESSION_TTL,
    O_REFRESH_TTL,
    O_QUIET
};

static void parse_opt(gen_t *g, int opt, const char *arg)
{
    const unsigned long big = 1000000000ul;

    switch (opt) {
    case 'd':
        g->dir = arg;
        break;
    case O_USERS:
        g->count[K_USERS] = count_arg("--users", arg, 100000000ul);
        break;
    case O_CLIENTS:
        g->count[K_CLIENTS] = count_arg("--clients", arg, 999999ul);
        break;
    case O_SESSIONS:
        g->count[K_SESSIONS] = count_arg("--sessions", arg, big);
        break;
    case O_REFRESH:
        g->count[K_REFRESH] = count_arg("--refresh", arg, big);
        break;
    case O_EXPIRING:
        g->count[K_EXPIRING] = count_arg("--expiring", arg, big);
        break;
    case O_EXPIRE_IN:
        g->expire_in = count_arg("--expire-in", arg, 86400 * 365ul);
        break;
    case O_PW:
        read_password(g, arg);
        break;
    case O_PREFIX:
        g->user_prefix = arg;
        break;
    case O_DIGITS:
        g->user_digits = (unsigned)count_arg("--user-digits", arg, 12);
        break;
    case O_START:
        g->user_start = count_arg("--user-start", arg, big);
        break;
    case O_BATCH:
        g->batch = count_arg("--batch", arg, 100000);
        break;
    case O_SESSION_TTL:
        g->session_ttl = count_arg("--session-ttl", arg, 86400 * 365ul);
        break;
    case O_REFRESH_TTL:
        g->refresh_ttl = count_arg("--refresh-ttl", arg, 86400 * 3650ul);
        break;
    case O_QUIET:
        g->quiet = 1;
        break;
    default:
        usage(stderr);
        exit(2);
    }
}

static void parse_args(gen_t *g, int argc, char **argv)
{
    static const struct option longopts[] = {{"data-dir", 1, NULL, 'd'},
                                             {"users", 1, NULL, O_USERS},
                                             {"clients", 1, NULL, O_CLIENTS},
                                             {"sessions", 1, NULL, O_SESSIONS},
                                             {"refresh", 1, NULL, O_REFRESH},
                                             {"expiring", 1, NULL, O_EXPIRING},
                                             {"expire-in", 1, NULL, O_EXPIRE_IN},
                                             {"password-file", 1, NULL, O_PW},
                                             {"user-prefix", 1, NULL, O_PREFIX},
                                             {"user-digits", 1, NULL, O_DIGITS},
                                             {"user-start", 1, NULL, O_START},
                                             {"batch", 1, NULL, O_BATCH},
                                             {"session-ttl", 1, NULL, O_SESSION_TTL},
                                             {"refresh-ttl", 1, NULL, O_REFRESH_TTL},
                                             {"quiet", 0, NULL, O_QUIET},
                                             {"help", 0, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;

    *g = (gen_t){.user_prefix = "user", .user_digits = 7, .batch = 5000, .session_ttl = 12 * 3600, .refresh_ttl = 30 * 86400};
    while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        parse_opt(g, opt, optarg);
    }
    if (optind != argc || g->dir == NULL)
        die("-d DATA_DIR is required (--help)");
    if (g->batch == 0 || g->session_ttl == 0 || g->refresh_ttl == 0)
        die("--batch, --session-ttl and --refresh-ttl must be positive");
    if (g->count[K_EXPIRING] > 0 && g->expire_in == 0)
        die("--expiring needs --expire-in SECONDS");
    if (g->count[K_USERS] > 0 && g->password[0] == '\0')
        die("--users needs --password-file (the password every generated user signs in with)");
    if (strlen(g->user_prefix) == 0 || strlen(g->user_prefix) > 40)
        die("--user-prefix: 1 to 40 characters");
}

int main(int argc, char **argv)
{
    hub_store_t *store = NULL;
    gen_t g;
    double t0 = now_s();
    int ret, k;

    parse_args(&g, argc, argv);
    g.rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull | 1;
    g.now = hub_now();
    if (g.count[K_USERS] > 0 && idp_password_hash(g.password, strlen(g.password), &g.hash) != 0)
        die("cannot hash the password");
    if ((ret = hub_store_open(&store, g.dir)) != 0)
        die("cannot open the store in %s: %s", g.dir, hub_strerror(ret));
    /* everything below is written with its owner index entries: on a new store (or one already indexed) the build finds
     * nothing to do and sets the mark, so the node's first start has no index to build; a store written before the index
     * gets it built here, as a node would */
    if ((ret = idp_owner_index_build(store, idp_owner_sources, idp_owner_nsources, NULL, NULL)) != 0)
        die("cannot index the store's families and sessions: %s", hub_strerror(ret));
    load_owners(store, &g);
    for (k = 0; k != K__COUNT; ++k)
        make_kind(store, &g, (kind_t)k);
    check_sample(store, &g);
    printf("generated users=%lu clients=%lu sessions=%lu refresh=%lu expiring=%lu seconds=%.1f mapsize=%zu\n", g.count[K_USERS],
           g.count[K_CLIENTS], g.count[K_SESSIONS], g.count[K_REFRESH], g.count[K_EXPIRING], now_s() - t0,
           hub_store_mapsize(store));
    hub_store_close(store);
    free(g.hash);
    free(g.subs.v);
    free(g.clients.v);
    free(g.sids.v);
    return 0;
}
