/* Tests hub/server.c. In process (the loopback harness): /healthz and /metrics with GET and HEAD, node.metrics_allow
 * refusing peers outside it, the counts /metrics shows, Strict-Transport-Security on every route's answers exactly when
 * the node is reached over TLS (its own certificate, or an https public_url), the access log line (peer, method, path
 * without its query, status; a long path cut; none below info), the in-flight gauge, and the dispose hooks at destroy.
 * Then hub_server_run on a real loopback port in a thread: the 404 of a path no route takes, the gate's framing check
 * reading the raw head from the socket (CL+TE, duplicate Content-Length, obs-fold: 400 and the connection closed), a
 * busy port refused before anything runs, and hub_server_stop. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/metrics.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "tests/check.h"
#include "tests/support/loopback.h"
#include "tests/support/tmpdir.h"

#define WAIT_MS 2000
#define HSTS "max-age=31536000"

static char *tmpdir;

/* A node in process: its configuration, server and loop. */
typedef struct st_node_t {
    hub_config_t cfg;
    hub_server_t *server;
    test_loop_t loop;
} node_t;

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = value != NULL ? strdup(value) : NULL;
}

/* Replaces node.metrics_allow with the n ranges of items. */
static void set_metrics_allow(hub_config_t *cfg, const char *const *items, size_t n)
{
    for (size_t i = 0; i != cfg->node.nmetrics_allow; ++i)
        free(cfg->node.metrics_allow[i]);
    free(cfg->node.metrics_allow);
    cfg->node.metrics_allow = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i != n; ++i)
        cfg->node.metrics_allow[i] = strdup(items[i]);
    cfg->node.nmetrics_allow = n;
}

static int on_echo(void *data, h2o_req_t *req)
{
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/echo/hang")))
        return 0; /* answers nothing: the request stays in flight until the client goes */
    hub_send_text(req, 200, "echo", 4);
    return 0;
}

static unsigned disposed;

static void on_dispose(void *data)
{
    ++disposed;
    free(data);
}

static const hub_route_t echo_route = {"/echo/", "/alias/", HUB_METHODS_ANY, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL};

/* Creates a node with public_url (NULL: the default) and the given metrics_allow (n < 0: the default), and an echo
 * route whose data its dispose hook frees. */
static int node_init(node_t *n, const char *public_url, const char *const *allow, int nallow, const char *cert, const char *key)
{
    memset(n, 0, sizeof(*n));
    hub_config_defaults(&n->cfg);
    if (public_url != NULL)
        set_string(&n->cfg.node.public_url, public_url);
    if (nallow >= 0)
        set_metrics_allow(&n->cfg, allow, (size_t)nallow);
    set_string(&n->cfg.node.tls_cert, cert);
    set_string(&n->cfg.node.tls_key, key);
    if (hub_server_create(&n->server, &n->cfg, NULL, NULL) != 0) {
        hub_config_dispose(&n->cfg);
        return -1;
    }
    hub_server_add_route(n->server, &echo_route, on_echo, malloc(16), on_dispose);
    test_loop_init(&n->loop, n->server, NULL);
    return 0;
}

static void node_dispose(node_t *n)
{
    test_loop_dispose(&n->loop);
    hub_server_destroy(n->server);
    hub_config_dispose(&n->cfg);
}

static test_req_t *run(node_t *n, const char *method, const char *path)
{
    test_req_t *r = test_req_new(&n->loop, method, path);
    CHECK(test_req_run(r, WAIT_MS));
    return r;
}

static const char *header(test_req_t *r, const char *name)
{
    return test_req_resp_header(r, name, 0) ?: "";
}

static const char *error_of(test_req_t *r)
{
    static char err[64];
    json_t *doc = json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
    snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(doc, "error")) ?: "");
    json_decref(doc);
    return err;
}

/* The value of the sample whose series is exactly series in a /metrics answer, or -1. */
static double sample(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
        if (strncmp(p, series, len) == 0 && p[len] == ' ')
            return strtod(p + len + 1, NULL);
    return -1;
}

static void test_health_and_metrics(void)
{
    node_t n;
    char series[128];
    static const char *const own[] = {"/healthz", "/echo/", "/alias/", "/metrics"};

    CHECK(node_init(&n, NULL, NULL, -1, NULL, NULL) == 0);
    for (int i = 0; i != 4; ++i) {
        test_req_t *r = run(&n, i == 3 ? "HEAD" : "GET", "/healthz");
        CHECK(test_req_status(r) == 200 && strcmp(header(r, "content-type"), "application/json") == 0);
        CHECK(strcmp(header(r, "cache-control"), "no-store") == 0);
        CHECK(i == 3 ? test_req_len(r) == 0 : strcmp(test_req_text(r), "{\"status\":\"ok\"}") == 0);
        test_req_free(r); /* the route's logger counts it now */
    }
    test_req_free(run(&n, "POST", "/healthz"));
    test_req_free(run(&n, "GET", "/echo/x"));
    test_req_free(run(&n, "DELETE", "/alias/y"));
    test_req_t *r = run(&n, "HEAD", "/metrics");
    CHECK(test_req_status(r) == 200 && test_req_len(r) == 0 && strcmp(header(r, "content-type"), "text/plain; version=0.0.4") == 0);
    test_req_free(r);
    r = run(&n, "GET", "/metrics");
    const char *text = test_req_text(r);
    CHECK(test_req_status(r) == 200 && strcmp(header(r, "content-type"), "text/plain; version=0.0.4") == 0);
    CHECK(test_req_h2o(r)->res.content_length == test_req_len(r));
    CHECK(sample(text, "hub_http_requests_total{route=\"/healthz\",status=\"200\"}") == 4);
    CHECK(sample(text, "hub_http_requests_total{route=\"/healthz\",status=\"405\"}") == 1);
    CHECK(sample(text, "hub_http_requests_total{route=\"/echo/\",status=\"200\"}") == 1);
    CHECK(sample(text, "hub_http_requests_total{route=\"/alias/\",status=\"200\"}") == 1); /* an alias is a route of its own */
    CHECK(sample(text, "hub_http_requests_total{route=\"/metrics\",status=\"200\"}") == 1);
    CHECK(sample(text, "hub_http_inflight_requests") == 1); /* this one */
    for (size_t i = 0; i != sizeof(own) / sizeof(own[0]); ++i) {
        snprintf(series, sizeof(series), "hub_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"}", own[i]);
        CHECK(sample(text, series) >= 1);
    }
    test_req_free(r);
    CHECK(hub_metrics_inflight(hub_server_metrics(n.server)) == 0);
    node_dispose(&n);
}

static void test_metrics_allow(void)
{
    static const struct {
        const char *allow[2];
        int n, status; /* of GET /metrics from 127.0.0.1 */
    } cases[] = {
        {{"127.0.0.1"}, 1, 200},  {{"127.0.0.0/8"}, 1, 200}, {{"0.0.0.0/0"}, 1, 200}, {{"10.0.0.0/8", "127.0.0.1/32"}, 2, 200},
        {{"10.0.0.0/8"}, 1, 403}, {{"::1/128"}, 1, 403},     {{"127.0.0.2"}, 1, 403}, {{"128.0.0.0/1"}, 1, 403},
        {{NULL}, 0, 403},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        node_t n;
        CHECK(node_init(&n, NULL, cases[i].allow, cases[i].n, NULL, NULL) == 0);
        for (int head = 0; head != 2; ++head) {
            test_req_t *r = run(&n, head ? "HEAD" : "GET", "/metrics");
            CHECK(test_req_status(r) == cases[i].status);
            if (!head && cases[i].status == 403)
                CHECK(strcmp(error_of(r), "access_denied") == 0 && strstr(test_req_text(r), "hub_http") == NULL);
            if (!head && cases[i].status == 200)
                CHECK(strstr(test_req_text(r), "# TYPE hub_http_requests_total counter") != NULL);
            test_req_free(r);
        }
        test_req_t *r = run(&n, "GET", "/healthz"); /* health stays open to every peer */
        CHECK(test_req_status(r) == 200);
        test_req_free(r);
        node_dispose(&n);
    }
}

/* A self-signed P-256 certificate and its key in tmpdir/cert.pem and tmpdir/key.pem. */
static void write_pair(char *cert, char *key, size_t size)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    FILE *cf, *kf;

    snprintf(cert, size, "%s/cert.pem", tmpdir);
    snprintf(key, size, "%s/key.pem", tmpdir);
    if (pkey == NULL || x == NULL || (cf = fopen(cert, "w")) == NULL || (kf = fopen(key, "w")) == NULL)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    if (X509_sign(x, pkey, EVP_sha256()) == 0 || PEM_write_X509(cf, x) != 1 ||
        PEM_write_PrivateKey(kf, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        abort();
    fclose(cf);
    fclose(kf);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

/* Every kind of answer: the node's own routes, a route's handler, the router's 404 and 405, the gate's 400. */
static void check_hsts(node_t *n, int expect)
{
    static const struct {
        const char *method, *path;
        int status;
    } answers[] = {{"GET", "/healthz", 200},    {"HEAD", "/healthz", 200},        {"GET", "/metrics", 200},
                   {"GET", "/echo/a", 200},     {"GET", "/healthz/x", 404},       {"PUT", "/healthz", 405},
                   {"GET", "/echo/a%2fb", 400}, {"GET", "/alias/a/%2e%2e/b", 400}};
    for (size_t i = 0; i != sizeof(answers) / sizeof(answers[0]); ++i) {
        test_req_t *r = run(n, answers[i].method, answers[i].path);
        CHECK(test_req_status(r) == answers[i].status);
        CHECK(expect ? strcmp(header(r, "strict-transport-security"), HSTS) == 0 &&
                           test_req_resp_header(r, "strict-transport-security", 1) == NULL
                     : test_req_resp_header(r, "strict-transport-security", 0) == NULL);
        test_req_free(r);
    }
}

static void test_hsts(void)
{
    char cert[512], key[512];
    node_t n;
    static const struct {
        const char *public_url;
        int tls, hsts;
    } cases[] = {{NULL, 0, 0},
                 {"http://hub.example", 0, 0},
                 {"https://hub.example", 0, 1},
                 {"https://127.0.0.1:8443/hub", 0, 1},
                 {"http://127.0.0.1:8443", 1, 1},
                 {"https://hub.example", 1, 1}};

    write_pair(cert, key, sizeof(cert));
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        CHECK(node_init(&n, cases[i].public_url, NULL, -1, cases[i].tls ? cert : NULL, cases[i].tls ? key : NULL) == 0);
        CHECK(hub_server_is_tls(n.server) == cases[i].tls);
        check_hsts(&n, cases[i].hsts);
        node_dispose(&n);
    }
    /* a pair that does not load: no server */
    CHECK(node_init(&n, NULL, NULL, -1, cert, cert) != 0);
    CHECK(node_init(&n, NULL, NULL, -1, key, key) != 0);
}

/* Runs fn with stderr going to tmpdir/stderr, and returns what was written there (static, cut to its size). */
static const char *captured(void (*fn)(node_t *n), node_t *n)
{
    static char text[8192];
    char path[512];
    int saved = dup(2), out;
    ssize_t len;

    snprintf(path, sizeof(path), "%s/stderr", tmpdir);
    if ((out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
        abort();
    dup2(out, 2);
    fn(n);
    dup2(saved, 2);
    close(saved);
    len = pread(out, text, sizeof(text) - 1, 0);
    text[len > 0 ? len : 0] = '\0';
    close(out);
    return text;
}

static char long_path[700]; /* "/echo/" and 600 'x' */

/* The requests whose log lines test_access_log reads. */
static void log_requests(node_t *n)
{
    test_req_free(run(n, "GET", "/healthz?code=SECRET1&state=s"));
    test_req_free(run(n, "GET", "/echo/a%2fb?token=SECRET2"));
    test_req_free(run(n, "POST", "/alias/z?refresh_token=SECRET3"));
    test_req_free(run(n, "GET", long_path));
    /* what an HTTP/2 :path or :method can carry past the HTTP/1 parser's checks: no raw control, quote or space */
    test_req_free(run(n, "GET", "/echo/a\nb 127.0.0.1 \"GET /forged\" 200"));
    test_req_free(run(n, "G\rET", "/echo/\x1b[31m%"));
    test_req_t *r = test_req_new(&n->loop, "GET", "/echo/hang?SECRET4");
    CHECK(test_req_run(r, 0) == 0);
    CHECK(hub_metrics_inflight(hub_server_metrics(n->server)) == 1); /* a stop would wait for it */
    test_req_free(r);                                                /* the client went away */
    CHECK(hub_metrics_inflight(hub_server_metrics(n->server)) == 0);
}

static void one_request(node_t *n)
{
    test_req_free(run(n, "GET", "/healthz?code=SECRET5"));
}

/* The access log line "127.0.0.1 \"method path\" status " (the bytes sent and the time after it) is in log, once. */
static int logged(const char *log, const char *method, const char *path, int status)
{
    char line[1024];
    snprintf(line, sizeof(line), " info server: 127.0.0.1 \"%s %s\" %d ", method, path, status);
    const char *at = strstr(log, line);
    return at != NULL && strstr(at + 1, line) == NULL && strchr(at, '\n') != NULL &&
           strstr(strchr(at + strlen(line), ' '), "ms\n") == strchr(at, '\n') - 2;
}

static void test_access_log(void)
{
    node_t n;
    char cut[600];

    memcpy(long_path, "/echo/", 6);
    memset(long_path + 6, 'x', 600);
    long_path[606] = '\0';
    snprintf(cut, sizeof(cut), "%.512s", long_path);
    CHECK(node_init(&n, NULL, NULL, -1, NULL, NULL) == 0);
    hub_log_init(HUB_LOG_INFO, "server");
    const char *log = captured(log_requests, &n);
    CHECK(logged(log, "GET", "/healthz", 200));
    CHECK(logged(log, "GET", "/echo/a%2fb", 400));
    CHECK(logged(log, "POST", "/alias/z", 200));
    CHECK(logged(log, "GET", cut, 200));                                                   /* cut at 512 bytes */
    CHECK(logged(log, "GET", "/echo/hang", 0));                                            /* never answered, still logged */
    CHECK(strstr(log, "\"/echo/a%0Ab%20127.0.0.1%20%22GET%20/forged%22%20200 ") != NULL || /* escaped, one line */
          logged(log, "GET", "/echo/a%0Ab%20127.0.0.1%20%22GET%20/forged%22%20200", 400));
    CHECK(strstr(log, "\"G%0DET /echo/%1B[31m%\" ") != NULL);
    CHECK(strstr(log, "\"GET /forged\"") == NULL && strchr(log, '\r') == NULL && strchr(log, 0x1b) == NULL);
    CHECK(strstr(log, "SECRET") == NULL && strchr(log, '?') == NULL); /* no query string, no secret in it */
    size_t lines = 0;
    for (const char *p = log; (p = strchr(p, '\n')) != NULL; ++p)
        ++lines;
    CHECK(lines == 7);
    /* below info: no access log, yet the counts go on */
    hub_log_init(HUB_LOG_WARN, "server");
    CHECK(*captured(one_request, &n) == '\0');
    test_req_t *r = run(&n, "GET", "/metrics");
    CHECK(sample(test_req_text(r), "hub_http_requests_total{route=\"/healthz\",status=\"200\"}") == 2);
    CHECK(sample(test_req_text(r), "hub_http_requests_total{route=\"/echo/\",status=\"0\"}") == 1);
    test_req_free(r);
    node_dispose(&n);
}

/* Each route's dispose hook runs once, at destroy (after h2o's configuration), with its data. */
static void test_dispose(void)
{
    node_t n;
    unsigned before = disposed;
    CHECK(node_init(&n, NULL, NULL, -1, NULL, NULL) == 0);
    test_req_free(run(&n, "GET", "/alias/x"));
    test_loop_dispose(&n.loop);
    CHECK(disposed == before);
    hub_server_destroy(n.server);
    CHECK(disposed == before + 1); /* once, though the route has a path and an alias */
    hub_config_dispose(&n.cfg);
    hub_server_destroy(NULL);
}

/* A node served by hub_server_run in a thread of its own, on a loopback port. */
typedef struct st_live_t {
    hub_config_t cfg;
    hub_server_t *server;
    pthread_t tid;
    int ret, done;
} live_t;

static void *live_main(void *arg)
{
    live_t *l = arg;
    l->ret = hub_server_run(l->server);
    __atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int connect_to(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends request and reads until the server closes the connection (5 s at most for each read) into out; returns the
 * bytes read, and *closed whether the server closed. */
static size_t exchange(uint16_t port, const char *request, char *out, size_t size, int *closed)
{
    int fd = connect_to(port);
    size_t len = 0;
    ssize_t n = -1;

    *closed = 0;
    out[0] = '\0';
    if (fd == -1 || write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        if (fd != -1)
            close(fd);
        return 0;
    }
    while (len + 1 < size && (n = read(fd, out + len, size - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    *closed = n == 0;
    close(fd);
    return len;
}

static uint16_t free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        abort();
    close(fd);
    return ntohs(sin.sin_port);
}

/* Starts l on a free port (another, when a test elsewhere took it meanwhile) and waits until it answers; 0 when it does. */
static int live_start(live_t *l)
{
    char buf[1024], url[64];
    int closed;

    for (int tries = 0; tries != 5; ++tries) {
        memset(l, 0, sizeof(*l));
        hub_config_defaults(&l->cfg);
        l->cfg.node.listen_port = free_port();
        l->cfg.node.threads = 2;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", l->cfg.node.listen_port);
        set_string(&l->cfg.node.public_url, url);
        if (hub_server_create(&l->server, &l->cfg, NULL, NULL) != 0 || pthread_create(&l->tid, NULL, live_main, l) != 0)
            abort();
        for (int wait = 0; wait != 1000 && !__atomic_load_n(&l->done, __ATOMIC_ACQUIRE); ++wait) {
            if (exchange(l->cfg.node.listen_port, "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", buf, sizeof(buf),
                         &closed) != 0 &&
                strncmp(buf, "HTTP/1.1 200 ", 13) == 0)
                return 0;
            usleep(10000);
        }
        pthread_join(l->tid, NULL); /* the port was taken: hub_server_run returned */
        hub_server_destroy(l->server);
        hub_config_dispose(&l->cfg);
    }
    return -1;
}

/* Stops l as SIGTERM would (again until it has: it may not be running yet) and returns what hub_server_run returned. */
static int live_stop(live_t *l)
{
    for (int i = 0; i != 3000 && !__atomic_load_n(&l->done, __ATOMIC_ACQUIRE); ++i) {
        hub_server_stop(l->server);
        usleep(10000);
    }
    CHECK(__atomic_load_n(&l->done, __ATOMIC_ACQUIRE));
    pthread_join(l->tid, NULL);
    hub_server_destroy(l->server);
    hub_config_dispose(&l->cfg);
    return l->ret;
}

static void test_live(void)
{
    static const struct {
        const char *request, *status, *body; /* body: a part of the answer after the head */
        int closes;                          /* the server closes though the client did not ask */
    } cases[] = {
        {"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "200", "{\"status\":\"ok\"}", 0},
        {"GET /healthz HTTP/1.0\r\n\r\n", "200", "{\"status\":\"ok\"}", 0},
        {"GET /nowhere HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "404", "\"not_found\"", 0},
        {"DELETE /a/b/c?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "404", "\"not_found\"", 0},
        {"GET /a/%2e%2e/healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "400", "not canonical", 0},
        {"POST /healthz HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400",
         "both Content-Length and Transfer-Encoding", 1},
        {"POST /nowhere HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "400",
         "both Content-Length and Transfer-Encoding", 1},
        {"POST /healthz HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", "400",
         "more than one Content-Length", 1},
        {"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", "400", "obs-fold", 1},
        {"GET /healthz HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfolded\r\n\r\n", "400", "obs-fold", 1},
    };
    live_t l;
    char buf[4096], status[16];
    int closed;

    if (live_start(&l) != 0) {
        CHECK(!"no server started");
        return;
    }
    uint16_t port = l.cfg.node.listen_port;
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        snprintf(status, sizeof(status), "HTTP/1.1 %s ", cases[i].status);
        exchange(port, cases[i].request, buf, sizeof(buf), &closed);
        const char *body = strstr(buf, "\r\n\r\n");
        CHECK(strncmp(buf, status, strlen(status)) == 0 && body != NULL && strstr(body, cases[i].body) != NULL);
        CHECK(closed);                               /* asked to, or because the framing is in doubt */
        CHECK(strstr(buf + 1, "HTTP/1.1 ") == NULL); /* one answer */
        CHECK(strstr(buf, "strict-transport-security") == NULL);
        if (strncmp(buf, status, strlen(status)) != 0)
            fprintf(stderr, "case %zu: %.60s\n", i, buf);
    }
    /* two requests in one packet: each head is judged as its own */
    exchange(port, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", buf,
             sizeof(buf), &closed);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strstr(buf + 1, "HTTP/1.1 404 ") != NULL && closed);
    /* another node on the same port: refused before anything runs */
    hub_server_t *other = NULL;
    CHECK(hub_server_create(&other, &l.cfg, NULL, NULL) == 0 && hub_server_run(other) == HUB_E_IO);
    hub_server_destroy(other);
    CHECK(live_stop(&l) == 0);
    CHECK(connect_to(port) == -1 || !"still listening after the stop");
}

int main(void)
{
    sigset_t set;

    unsetenv("NOTIFY_SOCKET"); /* the live node must not tell a service manager anything */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* as hubd does before starting threads */
    tmpdir = test_tmpdir("server");
    hub_log_init(HUB_LOG_WARN, "server");
    test_health_and_metrics();
    test_metrics_allow();
    test_hsts();
    test_access_log();
    test_dispose();
    test_live();
    CHECK(test_tmpdir_remove(tmpdir) == 0);
    return check_report("hub/server");
}
