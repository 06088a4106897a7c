/* Tests idp/backchannel.c against a small HTTP receiver on 127.0.0.1: queued logouts reach every enabled client with a
 * back-channel URI as signed sub-only logout tokens, a job leaves the queue only once handed to the fetcher, and the
 * thread drains on its own. */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "hub/clock.h"
#include "hub/config.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/store.h"
#include "idp/backchannel.h"
#include "idp/ctx.h"
#include "idp/keyring.h"
#include "idp/client.h"
#include "idp/revocation.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

#define BCL_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define MAX_POSTS 1024

static idp_t idp;

/* ---- the receiver: one connection at a time, one request per connection ---- */

static struct {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mutex;
    size_t n;
    char path[MAX_POSTS][16];
    char *body[MAX_POSTS];
} rcv;

static void serve_one(int fd)
{
    char buf[16384], *eoh, *cl;
    size_t len = 0, head_len, clen = 0;
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&pfd, 1, 2000) <= 0 || (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        if ((eoh = strstr(buf, "\r\n\r\n")) != NULL)
            break;
        if (len == sizeof(buf) - 1)
            return;
    }
    head_len = (size_t)(eoh - buf) + 4;
    if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL && cl < eoh)
        clen = strtoul(cl + 17, NULL, 10);
    while (len < head_len + clen && len < sizeof(buf) - 1) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&pfd, 1, 2000) <= 0 || (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
            return;
        len += (size_t)n;
    }
    buf[len] = '\0';
    pthread_mutex_lock(&rcv.mutex);
    if (rcv.n < MAX_POSTS && strncmp(buf, "POST /", 6) == 0) {
        snprintf(rcv.path[rcv.n], sizeof(rcv.path[0]), "%.*s", (int)strcspn(buf + 5, " "), buf + 5);
        rcv.body[rcv.n++] = strdup(buf + head_len);
    }
    pthread_mutex_unlock(&rcv.mutex);
    send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL);
}

static void *rcv_main(void *arg)
{
    while (!atomic_load(&rcv.stop)) {
        struct pollfd pfd = {rcv.fd, POLLIN, 0};
        int c;
        if (poll(&pfd, 1, 100) <= 0 || (c = accept(rcv.fd, NULL, NULL)) < 0)
            continue;
        serve_one(c);
        close(c);
    }
    return NULL;
}

static int rcv_start(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sa);

    pthread_mutex_init(&rcv.mutex, NULL);
    if ((rcv.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(rcv.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(rcv.fd, 128) != 0 || getsockname(rcv.fd, (struct sockaddr *)&sa, &slen) != 0)
        return -1;
    rcv.port = ntohs(sa.sin_port);
    return pthread_create(&rcv.thread, NULL, rcv_main, NULL) == 0 ? 0 : -1;
}

static void rcv_stop(void)
{
    atomic_store(&rcv.stop, 1);
    pthread_join(rcv.thread, NULL);
    close(rcv.fd);
    for (size_t i = 0; i != rcv.n; ++i)
        free(rcv.body[i]);
    pthread_mutex_destroy(&rcv.mutex);
}

static size_t rcv_count(void)
{
    pthread_mutex_lock(&rcv.mutex);
    size_t n = rcv.n;
    pthread_mutex_unlock(&rcv.mutex);
    return n;
}

/* Waits (at most 10 s: a bound, not a speed check) until the receiver has n posts. */
static int rcv_wait(size_t n)
{
    for (int i = 0; i != 1000 && rcv_count() < n; ++i) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return rcv_count() >= n;
}

static void rcv_clear(void)
{
    pthread_mutex_lock(&rcv.mutex);
    for (size_t i = 0; i != rcv.n; ++i)
        free(rcv.body[i]);
    rcv.n = 0;
    pthread_mutex_unlock(&rcv.mutex);
}

/* ---- fixtures ---- */

static char client_a[64], client_b[64], client_d[64];

struct client_args {
    const char *name, *path; /* path NULL: no back-channel URI */
    int enabled;
    char *id_out;
};

static int client_txn(hub_txn_t *txn, void *arg)
{
    struct client_args *a = arg;
    idp_client_t *c = calloc(1, sizeof(*c));
    char uri[128];
    int ret;

    c->app_name = strdup(a->name);
    idp_strv_split(&c->scopes, "openid", 1);
    idp_strv_split(&c->redirect_uris, "https://app.example/cb", 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    if (a->path != NULL) {
        snprintf(uri, sizeof(uri), "http://127.0.0.1:%d%s", rcv.port, a->path);
        c->backchannel_logout_uri = strdup(uri);
    }
    c->enabled = a->enabled;
    if ((ret = idp_client_put(txn, c)) == 0 && a->id_out != NULL)
        snprintf(a->id_out, 64, "%s", c->client_id);
    idp_client_free(c);
    return ret;
}

static void add_client(const char *name, const char *path, int enabled, char *id_out)
{
    struct client_args a = {name, path, enabled, id_out};
    CHECK(hub_store_write(idp.store, client_txn, &a) == 0);
}

struct enqueue_args {
    const char *sub;
    int n;
};

static int enqueue_txn(hub_txn_t *txn, void *arg)
{
    struct enqueue_args *a = arg;
    int ret = 0;
    for (int i = 0; ret == 0 && i != a->n; ++i)
        ret = idp_logout_enqueue(txn, a->sub, NULL, "test");
    return ret;
}

static void enqueue(const char *sub, int n)
{
    struct enqueue_args a = {sub, n};
    CHECK(hub_store_write(idp.store, enqueue_txn, &a) == 0);
}

static size_t queue_length(unsigned *attempts)
{
    idp_logout_job_t jobs[64];
    hub_txn_t *txn;
    size_t n = 0;

    if (attempts != NULL)
        *attempts = 0;
    if (hub_store_read_begin(idp.store, &txn) != 0)
        return 0;
    CHECK(idp_logout_queue_due(txn, UINT64_MAX / 2, jobs, 64, &n) == 0);
    hub_store_read_end(txn);
    for (size_t i = 0; i != n; ++i) {
        if (attempts != NULL)
            *attempts += jobs[i].attempts;
        idp_logout_job_dispose(&jobs[i]);
    }
    return n;
}

/* Checks one received post: a logout token we signed for the client behind path, naming sub or alt (may be NULL), no sid. */
static void check_post(const char *path, const char *body, const char *sub, const char *alt)
{
    hub_jws_t jws = {0};
    const char *token = strncmp(body, "logout_token=", 13) == 0 ? body + 13 : NULL;
    const char *want_aud = strcmp(path, "/a") == 0 ? client_a : strcmp(path, "/b") == 0 ? client_b : "";

    CHECK(token != NULL);
    if (token == NULL || idp_keyring_verify(idp.keyring, token, strlen(token), &jws) != 0) {
        CHECK(!"a logout token signed by the primary");
        return;
    }
    json_t *p = jws.payload, *events = json_object_get(p, "events");
    CHECK(jws.typ != NULL && strcmp(jws.typ, "logout+jwt") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "iss")), idp.issuer) == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "aud")), want_aud) == 0);
    const char *got = json_string_value(json_object_get(p, "sub"));
    CHECK(got != NULL && (strcmp(got, sub) == 0 || (alt != NULL && strcmp(got, alt) == 0)));
    CHECK(json_object_get(p, "sid") == NULL && json_object_get(p, "nonce") == NULL);
    CHECK(json_is_object(json_object_get(events, BCL_EVENT)));
    CHECK(json_string_value(json_object_get(p, "jti")) != NULL);
    json_int_t iat = json_integer_value(json_object_get(p, "iat")), exp = json_integer_value(json_object_get(p, "exp"));
    CHECK(iat > 0 && (uint64_t)iat <= hub_now() && exp > iat);
    hub_jws_dispose(&jws);
}

/* ---- tests ---- */

static void test_drain(void)
{
    hub_fetcher_t *fetcher = idp.fetcher;
    unsigned attempts;
    size_t done = 99, a = 0, b = 0;

    enqueue("sub-1", 1);
    enqueue("sub-2", 1);
    /* a fetcher that takes nothing (none, or stopping): the jobs stay as they were */
    idp.fetcher = NULL;
    CHECK(idp_backchannel_drain(&idp, &done) == 0 && done == 0);
    CHECK(queue_length(&attempts) == 2 && attempts == 0);
    idp.fetcher = fetcher;
    /* handed over: removed; each reaches the two enabled clients with a URI, not the disabled one */
    CHECK(idp_backchannel_drain(&idp, &done) == 0 && done == 2);
    CHECK(queue_length(NULL) == 0);
    CHECK(rcv_wait(4));
    CHECK(idp_backchannel_drain(&idp, &done) == 0 && done == 0);
    pthread_mutex_lock(&rcv.mutex);
    CHECK(rcv.n == 4);
    for (size_t i = 0; i != rcv.n; ++i) {
        a += strcmp(rcv.path[i], "/a") == 0;
        b += strcmp(rcv.path[i], "/b") == 0;
        check_post(rcv.path[i], rcv.body[i], "sub-1", "sub-2");
    }
    pthread_mutex_unlock(&rcv.mutex);
    CHECK(a == 2 && b == 2);
    rcv_clear();
}

static void test_batches(void)
{
    size_t done = 0;

    /* more jobs than one batch: one pass takes several batches, at most 256 jobs; the next pass the rest */
    enqueue("sub-many", 300);
    CHECK(idp_backchannel_drain(&idp, &done) == 0 && done == 256);
    CHECK(queue_length(NULL) == 44);
    CHECK(idp_backchannel_drain(&idp, &done) == 0 && done == 44);
    CHECK(queue_length(NULL) == 0);
    CHECK(rcv_wait(600));
    pthread_mutex_lock(&rcv.mutex);
    for (size_t i = 0; i != rcv.n; ++i)
        check_post(rcv.path[i], rcv.body[i], "sub-many", NULL);
    pthread_mutex_unlock(&rcv.mutex);
    rcv_clear();
}

static void test_thread(void)
{
    idp_backchannel_t *bc = NULL;

    /* a job left over (hubd was not running) and one queued while it runs: both delivered without a call */
    enqueue("sub-left", 1);
    CHECK(idp_backchannel_start(&idp, &bc) == 0);
    CHECK(rcv_wait(2));
    enqueue("sub-live", 1);
    CHECK(rcv_wait(4));
    idp_backchannel_stop(bc);
    CHECK(queue_length(NULL) == 0);
    pthread_mutex_lock(&rcv.mutex);
    CHECK(rcv.n == 4);
    for (size_t i = 0; i != rcv.n; ++i)
        check_post(rcv.path[i], rcv.body[i], i < 2 ? "sub-left" : "sub-live", NULL);
    pthread_mutex_unlock(&rcv.mutex);
    rcv_clear();
    idp_backchannel_stop(NULL);
}

int main(void)
{
    char *dir = test_tmpdir("idp-backchannel");
    hub_config_t cfg;
    hub_store_t *store = NULL;
    hub_fetcher_t *fetcher = NULL;

    hub_config_defaults(&cfg);
    if (hub_store_open(&store, dir) != 0 || rcv_start() != 0 || hub_fetcher_create(&fetcher) != 0) {
        fprintf(stderr, "cannot set up in %s\n", dir);
        return 1;
    }
    free(cfg.node.data_dir);
    cfg.node.data_dir = strdup(dir);
    memset(&idp, 0, sizeof(idp));
    idp.cfg = &cfg;
    idp.store = store;
    idp.fetcher = fetcher;
    snprintf(idp.issuer, sizeof(idp.issuer), "https://idp.example");
    CHECK(idp_keyring_open(&idp.keyring, store, &cfg) == 0);
    add_client("a", "/a", 1, client_a);
    add_client("b", "/b", 1, client_b);
    add_client("c", NULL, 1, NULL);
    add_client("d", "/d", 0, client_d);

    if (idp.keyring != NULL) {
        test_drain();
        test_batches();
        test_thread();
    }

    idp_keyring_close(idp.keyring);
    hub_fetcher_destroy(fetcher);
    rcv_stop();
    hub_store_close(store);
    hub_config_dispose(&cfg);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/backchannel");
}
