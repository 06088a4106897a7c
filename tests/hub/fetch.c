/* Tests for hub/fetch.c against a tiny HTTP server running in a thread of the test, on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hub/fetch.h"
#include "tests/check.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the test server: one thread per connection, one request per connection ---- */

#define MAX_CONNS 256
#define BIG_BODY (2 * 1024 * 1024)

static struct {
    int fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    atomic_int attempts_500;
    atomic_int hits_ff;
    atomic_int served_ok;
    pthread_mutex_t mutex;
    pthread_t conns[MAX_CONNS];
    size_t nconns;
} srv;

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int status, const char *extra_headers, const char *body, size_t len, int with_length)
{
    char head[512];
    int n;

    if (with_length)
        n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n", status, len,
                     extra_headers);
    else
        n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\n%s\r\n", status, extra_headers);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    size_t len = 0, head_len, clen = 0;
    char *eoh, *cl, method[16], path[256];

    /* read the head, then Content-Length bytes of body */
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&pfd, 1, 5000) <= 0 || (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
            goto out;
        len += (size_t)n;
        buf[len] = '\0';
        if ((eoh = strstr(buf, "\r\n\r\n")) != NULL)
            break;
        if (len == sizeof(buf) - 1)
            goto out;
    }
    head_len = (size_t)(eoh - buf) + 4;
    if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL && cl < eoh)
        clen = strtoul(cl + 17, NULL, 10);
    while (len < head_len + clen && len < sizeof(buf) - 1) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            goto out;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (sscanf(buf, "%15s %255s", method, path) != 2)
        goto out;

    if (strcmp(path, "/ok") == 0) {
        respond(fd, 200, "Content-Type: text/plain\r\n", "hello", 5, 1);
        atomic_fetch_add(&srv.served_ok, 1);
    } else if (strcmp(path, "/slow") == 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        poll(&pfd, 1, 3000); /* returns early when the client hangs up */
        respond(fd, 200, "", "slow", 4, 1);
    } else if (strcmp(path, "/500") == 0) {
        atomic_fetch_add(&srv.attempts_500, 1);
        respond(fd, 500, "", "oops", 4, 1);
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigstream") == 0 || strcmp(path, "/exact") == 0) {
        size_t n = strcmp(path, "/exact") == 0 ? HUB_FETCH_MAX_BODY : BIG_BODY;
        char *body = malloc(n);
        memset(body, 'x', n);
        respond(fd, 200, "", body, n, strcmp(path, "/bigstream") != 0);
        free(body);
    } else if (strcmp(path, "/headers") == 0) {
        respond(fd, 200, "Content-Type: application/json; charset=utf-8\r\nCache-Control:  no-store \r\n", buf, len, 1);
    } else if (strcmp(path, "/ff") == 0) {
        atomic_fetch_add(&srv.hits_ff, 1);
        respond(fd, 204, "", "", 0, 1);
    } else if (strcmp(path, "/redirect") == 0) {
        respond(fd, 302, "Location: /ok\r\n", "", 0, 1);
    } else {
        respond(fd, 404, "", "", 0, 1);
    }
out:
    shutdown(fd, SHUT_WR);
    close(fd);
    return NULL;
}

static void *server_main(void *arg)
{
    while (!atomic_load(&srv.stop)) {
        struct pollfd pfd = {srv.fd, POLLIN, 0};
        int c;
        if (poll(&pfd, 1, 50) <= 0 || (c = accept(srv.fd, NULL, NULL)) < 0)
            continue;
        pthread_mutex_lock(&srv.mutex);
        if (srv.nconns < MAX_CONNS && pthread_create(&srv.conns[srv.nconns], NULL, conn_main, (void *)(intptr_t)c) == 0)
            ++srv.nconns;
        else
            close(c);
        pthread_mutex_unlock(&srv.mutex);
    }
    return NULL;
}

static int listen_loopback(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &slen) != 0) {
        perror("listen");
        exit(1);
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

static void server_start(void)
{
    pthread_mutex_init(&srv.mutex, NULL);
    srv.fd = listen_loopback(&srv.port);
    pthread_create(&srv.thread, NULL, server_main, NULL);
}

static void server_stop(void)
{
    size_t i;

    atomic_store(&srv.stop, 1);
    pthread_join(srv.thread, NULL);
    for (i = 0; i < srv.nconns; ++i)
        pthread_join(srv.conns[i], NULL);
    close(srv.fd);
    pthread_mutex_destroy(&srv.mutex);
}

static char *url(const char *path)
{
    static __thread char buf[8][128];
    static __thread int i;
    char *u = buf[i++ % 8];
    snprintf(u, 128, "http://127.0.0.1:%d%s", srv.port, path);
    return u;
}

/* ---- synchronous transfers ---- */

/* A GET, a POST with headers and a body, a DELETE: status, body, Content-Type and Cache-Control read back. */
static void test_sync_methods(void)
{
    hub_fetch_req_t req = {.url = url("/ok")};
    hub_fetch_res_t res;
    const char *hdrs[] = {"X-Test: 1", "Content-Type: application/x-www-form-urlencoded"};

    CHECK(hub_fetch_sync(&req, &res) == 0);
    CHECK(res.err == 0 && res.status == 200 && res.body_len == 5 && strcmp(res.body, "hello") == 0);
    CHECK(res.content_type != NULL && strcmp(res.content_type, "text/plain") == 0);
    CHECK(res.cache_control == NULL);
    hub_fetch_res_dispose(&res);
    CHECK(res.body == NULL);

    req = (hub_fetch_req_t){
        .method = "POST", .url = url("/headers"), .headers = hdrs, .nheaders = 2, .body = "a=1&b=2", .body_len = 7};
    CHECK(hub_fetch_sync(&req, &res) == 0 && res.status == 200);
    CHECK(strncmp(res.body, "POST /headers HTTP/1.1\r\n", 24) == 0);
    CHECK(strstr(res.body, "\r\nX-Test: 1\r\n") != NULL);
    CHECK(strstr(res.body, "\r\nContent-Length: 7\r\n") != NULL);
    CHECK(strstr(res.body, "\r\n\r\na=1&b=2") != NULL);
    CHECK(res.content_type != NULL && strcmp(res.content_type, "application/json; charset=utf-8") == 0);
    CHECK(res.cache_control != NULL && strcmp(res.cache_control, "no-store") == 0);
    hub_fetch_res_dispose(&res);

    /* other methods */
    req = (hub_fetch_req_t){.method = "DELETE", .url = url("/headers")};
    CHECK(hub_fetch_sync(&req, &res) == 0 && strncmp(res.body, "DELETE /headers ", 16) == 0);
    hub_fetch_res_dispose(&res);
}

/* Redirects are not followed; a body of exactly 1 MiB passes, more fails with or without Content-Length. */
static void test_sync_redirect_and_limit(void)
{
    hub_fetch_req_t req;
    hub_fetch_res_t res;

    req = (hub_fetch_req_t){.url = url("/redirect")};
    CHECK(hub_fetch_sync(&req, &res) == 0 && res.status == 302 && res.body_len == 0 && strcmp(res.body, "") == 0);
    hub_fetch_res_dispose(&res);

    req = (hub_fetch_req_t){.url = url("/exact")};
    CHECK(hub_fetch_sync(&req, &res) == 0 && res.body_len == HUB_FETCH_MAX_BODY && res.body[HUB_FETCH_MAX_BODY] == '\0');
    hub_fetch_res_dispose(&res);
    req = (hub_fetch_req_t){.url = url("/big")};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_TOOBIG && res.err == HUB_E_TOOBIG && res.body != NULL && res.body_len == 0);
    hub_fetch_res_dispose(&res);
    req = (hub_fetch_req_t){.url = url("/bigstream")};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_TOOBIG);
    hub_fetch_res_dispose(&res);
}

/* Retries on 5xx with growing delays, none on 4xx, a timeout, a refused connection retried. */
static void test_sync_retries(void)
{
    hub_fetch_req_t req;
    hub_fetch_res_t res;
    uint64_t t0;
    int port, fd;
    char refused[64];

    atomic_store(&srv.attempts_500, 0);
    req = (hub_fetch_req_t){.url = url("/500"), .retries = 2, .retry_delay_ms = 40};
    t0 = now_ms();
    CHECK(hub_fetch_sync(&req, &res) == 0 && res.status == 500 && strcmp(res.body, "oops") == 0);
    CHECK(atomic_load(&srv.attempts_500) == 3);
    CHECK(now_ms() - t0 >= 120); /* 40 + 80 */
    hub_fetch_res_dispose(&res);

    /* no retries for 4xx */
    req = (hub_fetch_req_t){.url = url("/missing"), .retries = 3};
    CHECK(hub_fetch_sync(&req, &res) == 0 && res.status == 404);
    hub_fetch_res_dispose(&res);

    /* timeout */
    req = (hub_fetch_req_t){.url = url("/slow"), .timeout_ms = 200};
    t0 = now_ms();
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_TIMEOUT && res.status == 0);
    CHECK(now_ms() - t0 < 2000);
    hub_fetch_res_dispose(&res);

    /* connection refused, retried */
    fd = listen_loopback(&port);
    close(fd);
    snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/", port);
    req = (hub_fetch_req_t){.url = refused, .retries = 1, .retry_delay_ms = 10};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_NET && res.status == 0);
    hub_fetch_res_dispose(&res);
}

/* Only http and https. */
static void test_sync_schemes(void)
{
    hub_fetch_req_t req;
    hub_fetch_res_t res;

    req = (hub_fetch_req_t){.url = "file:///etc/passwd"};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_NET);
    hub_fetch_res_dispose(&res);
    req = (hub_fetch_req_t){.url = "ftp://127.0.0.1/"};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_NET);
    hub_fetch_res_dispose(&res);
}

/* public_only: no connection to an unspecified, link-local or metadata address, whatever the URL names (0.0.0.0 and
 * ::ffff:0.0.0.0 reach this host's listener on Linux, so a refusal here is the guard's, not the network's) */
static void test_sync_public_only(void)
{
    hub_fetch_req_t req;
    hub_fetch_res_t res;
    char addr_url[96];

    req = (hub_fetch_req_t){.url = url("/ok"), .public_only = 1};
    CHECK(hub_fetch_sync(&req, &res) == 0 && res.status == 200); /* loopback is fine */
    hub_fetch_res_dispose(&res);
    static const char *const internal[] = {"http://0.0.0.0:%d/ok", "http://0:%d/ok", "http://[::ffff:0.0.0.0]:%d/ok"};
    for (size_t i = 0; i != sizeof(internal) / sizeof(internal[0]); ++i) {
        snprintf(addr_url, sizeof(addr_url), internal[i], srv.port);
        req = (hub_fetch_req_t){.url = addr_url};
        int plain = hub_fetch_sync(&req, &res);
        hub_fetch_res_dispose(&res);
        req = (hub_fetch_req_t){.url = addr_url, .public_only = 1};
        CHECK(hub_fetch_sync(&req, &res) == HUB_E_NET && res.status == 0);
        hub_fetch_res_dispose(&res);
        if (i == 0)
            CHECK(plain == 0); /* the control: without the guard it connects */
    }
}

/* Invalid requests: no URL, a header with CRLF in it, a method with a space. */
static void test_sync_invalid(void)
{
    hub_fetch_req_t req;
    hub_fetch_res_t res;
    const char *bad_hdr[] = {"X-A: 1\r\nX-B: 2"};

    req = (hub_fetch_req_t){.url = NULL};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_INVAL);
    hub_fetch_res_dispose(&res);
    req = (hub_fetch_req_t){.url = url("/ok"), .headers = bad_hdr, .nheaders = 1};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_INVAL);
    hub_fetch_res_dispose(&res);
    req = (hub_fetch_req_t){.url = url("/ok"), .method = "GET /x"};
    CHECK(hub_fetch_sync(&req, &res) == HUB_E_INVAL);
    hub_fetch_res_dispose(&res);
}

/* ---- asynchronous transfers ---- */

typedef struct {
    int done;
    int err;
    long status;
    char body[64];
    char content_type[64];
    pthread_t thread;
    uint64_t at;
} result_t;

static void on_result(void *arg, const hub_fetch_res_t *res)
{
    result_t *r = arg;

    ++r->done;
    r->err = res->err;
    r->status = res->status;
    snprintf(r->body, sizeof(r->body), "%s", res->body);
    snprintf(r->content_type, sizeof(r->content_type), "%s", res->content_type != NULL ? res->content_type : "");
    r->thread = pthread_self();
    r->at = now_ms();
}

/* Runs the loop until every result in rs is done, or timeout_ms passes. */
static int run_until(h2o_loop_t *loop, result_t **rs, size_t n, long timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        size_t i, done = 0;
        for (i = 0; i < n; ++i)
            done += rs[i]->done != 0;
        if (done == n)
            return 1;
        if (now_ms() >= deadline)
            return 0;
        h2o_evloop_run(loop, 10);
    }
}

static void run_for(h2o_loop_t *loop, long ms)
{
    uint64_t deadline = now_ms() + (uint64_t)ms;
    while (now_ms() < deadline)
        h2o_evloop_run(loop, 10);
}

static void test_async(hub_fetcher_t *f, h2o_loop_t *loop, hub_fetch_port_t *port)
{
    result_t ok = {0}, hdr = {0};
    result_t *all[] = {&ok, &hdr};
    hub_fetch_req_t req = {.url = url("/ok")};

    CHECK(hub_fetch_start(f, port, &req, on_result, &ok) == 0);
    req.url = url("/headers");
    CHECK(hub_fetch_start(f, port, &req, on_result, &hdr) == 0);
    CHECK(run_until(loop, all, 2, 5000));
    CHECK(ok.done == 1 && ok.err == 0 && ok.status == 200 && strcmp(ok.body, "hello") == 0);
    CHECK(strcmp(ok.content_type, "text/plain") == 0);
    CHECK(pthread_equal(ok.thread, pthread_self()));
    CHECK(hdr.done == 1 && hdr.status == 200 && strcmp(hdr.content_type, "application/json; charset=utf-8") == 0);
    CHECK(pthread_equal(hdr.thread, pthread_self()));
    /* each callback exactly once */
    run_for(loop, 50);
    CHECK(ok.done == 1 && hdr.done == 1);

    /* cb without a port is refused */
    CHECK(hub_fetch_start(f, NULL, &req, on_result, &ok) == HUB_E_INVAL);
    req.url = NULL;
    CHECK(hub_fetch_start(f, port, &req, on_result, &ok) == HUB_E_INVAL);
}

static void test_timeout_no_hol(hub_fetcher_t *f, h2o_loop_t *loop, hub_fetch_port_t *port)
{
    result_t slow = {0}, ok = {0};
    result_t *all[] = {&slow, &ok};
    hub_fetch_req_t req = {.url = url("/slow"), .timeout_ms = 300};
    uint64_t t0 = now_ms();

    CHECK(hub_fetch_start(f, port, &req, on_result, &slow) == 0);
    req = (hub_fetch_req_t){.url = url("/ok")};
    CHECK(hub_fetch_start(f, port, &req, on_result, &ok) == 0);
    CHECK(run_until(loop, all, 2, 5000));
    CHECK(ok.done == 1 && ok.err == 0 && ok.status == 200);
    CHECK(ok.at < slow.at); /* not held up by /slow (ordering, not a timing bound: the machine may be loaded) */
    CHECK(slow.done == 1 && slow.err == HUB_E_TIMEOUT && slow.status == 0);
    CHECK(slow.at - t0 >= 280 && slow.at - t0 < 2000);
}

static void test_async_retries(hub_fetcher_t *f, h2o_loop_t *loop, hub_fetch_port_t *port)
{
    result_t r500 = {0}, ok = {0};
    result_t *all[] = {&r500, &ok};
    hub_fetch_req_t req = {.url = url("/500"), .retries = 3, .retry_delay_ms = 50};
    uint64_t t0 = now_ms();

    atomic_store(&srv.attempts_500, 0);
    CHECK(hub_fetch_start(f, port, &req, on_result, &r500) == 0);
    sleep_ms(20);
    req = (hub_fetch_req_t){.url = url("/ok")};
    CHECK(hub_fetch_start(f, port, &req, on_result, &ok) == 0);
    CHECK(run_until(loop, all, 2, 5000));
    CHECK(r500.done == 1 && r500.err == 0 && r500.status == 500 && strcmp(r500.body, "oops") == 0);
    CHECK(atomic_load(&srv.attempts_500) == 4);
    CHECK(r500.at - t0 >= 350);             /* 50 + 100 + 200 */
    CHECK(ok.done == 1 && ok.at < r500.at); /* the retry timer does not block */
}

static void test_async_toobig(hub_fetcher_t *f, h2o_loop_t *loop, hub_fetch_port_t *port)
{
    result_t big = {0}, stream = {0};
    result_t *all[] = {&big, &stream};
    hub_fetch_req_t req = {.url = url("/big"), .retries = 2};

    CHECK(hub_fetch_start(f, port, &req, on_result, &big) == 0);
    req.url = url("/bigstream");
    CHECK(hub_fetch_start(f, port, &req, on_result, &stream) == 0);
    CHECK(run_until(loop, all, 2, 5000));
    CHECK(big.err == HUB_E_TOOBIG && stream.err == HUB_E_TOOBIG && strcmp(big.body, "") == 0);
}

static void test_fire_and_forget(hub_fetcher_t *f)
{
    hub_fetch_req_t req = {.method = "POST", .url = url("/ff"), .body = "logout_token=x", .body_len = 14};
    uint64_t deadline = now_ms() + 5000;

    atomic_store(&srv.hits_ff, 0);
    CHECK(hub_fetch_start(f, NULL, &req, NULL, NULL) == 0);
    while (atomic_load(&srv.hits_ff) == 0 && now_ms() < deadline)
        sleep_ms(10);
    CHECK(atomic_load(&srv.hits_ff) == 1);
}

typedef struct {
    hub_fetcher_t *f;
    hub_fetch_port_t *port;
    result_t *results;
} submitter_t;

static void *submit_main(void *arg)
{
    submitter_t *s = arg;
    hub_fetch_req_t req = {.url = url("/ok")};
    int i;

    for (i = 0; i < 10; ++i)
        if (hub_fetch_start(s->f, s->port, &req, on_result, &s->results[i]) != 0)
            ++failures;
    return NULL;
}

/* Many threads submit at once; every result arrives once on the loop thread. */
static void test_concurrent_submit(hub_fetcher_t *f, h2o_loop_t *loop, hub_fetch_port_t *port)
{
    static result_t results[40];
    result_t *all[40];
    submitter_t subs[4];
    pthread_t th[4];
    int i;

    memset(results, 0, sizeof(results));
    for (i = 0; i < 40; ++i)
        all[i] = &results[i];
    for (i = 0; i < 4; ++i) {
        subs[i] = (submitter_t){f, port, &results[i * 10]};
        pthread_create(&th[i], NULL, submit_main, &subs[i]);
    }
    for (i = 0; i < 4; ++i)
        pthread_join(th[i], NULL);
    CHECK(run_until(loop, all, 40, 10000));
    run_for(loop, 30);
    for (i = 0; i < 40; ++i) {
        CHECK(results[i].done == 1 && results[i].status == 200);
        CHECK(pthread_equal(results[i].thread, pthread_self()));
    }
}

static void *post_from_thread(void *arg)
{
    void **a = arg; /* {port, result} */
    CHECK(hub_fetch_port_post(a[0], on_result, a[1]) == 0);
    return NULL;
}

/* A call posted from another thread runs once on the port's loop with an empty result; a call still queued when the port
 * is destroyed never runs. */
static void test_port_post(hub_fetcher_t *f, h2o_loop_t *loop, hub_fetch_port_t *port)
{
    hub_fetch_port_t *p = hub_fetch_port_create(f, loop);
    result_t posted = {0}, dropped = {0};
    result_t *all[] = {&posted};
    void *args[] = {port, &posted};
    pthread_t t;

    CHECK(pthread_create(&t, NULL, post_from_thread, args) == 0);
    pthread_join(t, NULL);
    CHECK(run_until(loop, all, 1, 2000));
    CHECK(posted.done == 1 && posted.err == 0 && posted.status == 0 && posted.body[0] == '\0');
    CHECK(pthread_equal(posted.thread, pthread_self()));
    run_for(loop, 20);
    CHECK(posted.done == 1);
    CHECK(hub_fetch_port_post(p, on_result, &dropped) == 0);
    hub_fetch_port_destroy(p); /* the queued call is dropped, not run */
    run_for(loop, 50);
    CHECK(dropped.done == 0);
}

/* Results queued for a port that is destroyed before its loop runs are dropped without leaks; transfers still in flight
 * for a destroyed port end quietly. */
static void test_port_destroy(hub_fetcher_t *f, h2o_loop_t *loop)
{
    hub_fetch_port_t *p = hub_fetch_port_create(f, loop);
    result_t queued = {0}, inflight = {0};
    hub_fetch_req_t req = {.url = url("/ok")};
    uint64_t deadline = now_ms() + 5000;
    int served = atomic_load(&srv.served_ok);

    CHECK(hub_fetch_start(f, p, &req, on_result, &queued) == 0);
    while (atomic_load(&srv.served_ok) == served && now_ms() < deadline)
        sleep_ms(5);
    sleep_ms(100); /* the result is now queued on the port, undelivered */
    req = (hub_fetch_req_t){.url = url("/slow"), .timeout_ms = 200};
    CHECK(hub_fetch_start(f, p, &req, on_result, &inflight) == 0);
    sleep_ms(20);
    hub_fetch_port_destroy(p);
    run_for(loop, 400);
    CHECK(queued.done == 0 && inflight.done == 0);
}

/* Destroying a fetcher with running transfers and armed retry timers is quick and calls nothing. */
static void test_destroy_pending(h2o_loop_t *loop)
{
    hub_fetcher_t *f;
    hub_fetch_port_t *p;
    result_t rs[4] = {{0}};
    hub_fetch_req_t slow = {.url = url("/slow"), .timeout_ms = 10000};
    hub_fetch_req_t retry = {.url = url("/500"), .retries = 5, .retry_delay_ms = 5000};
    uint64_t t0;

    CHECK(hub_fetcher_create(&f) == 0);
    p = hub_fetch_port_create(f, loop);
    CHECK(hub_fetch_start(f, p, &slow, on_result, &rs[0]) == 0);
    CHECK(hub_fetch_start(f, p, &slow, on_result, &rs[1]) == 0);
    CHECK(hub_fetch_start(f, p, &retry, on_result, &rs[2]) == 0);
    CHECK(hub_fetch_start(f, NULL, &slow, NULL, NULL) == 0);
    sleep_ms(200);
    t0 = now_ms();
    hub_fetcher_destroy(f);
    CHECK(now_ms() - t0 < 1000);
    run_for(loop, 100);
    CHECK(rs[0].done == 0 && rs[1].done == 0 && rs[2].done == 0);
    hub_fetch_port_destroy(p); /* after its fetcher: allowed */

    /* and a fetcher destroyed right after creation */
    CHECK(hub_fetcher_create(&f) == 0);
    hub_fetcher_destroy(f);
}

int main(void)
{
    hub_fetcher_t *f = NULL;
    h2o_loop_t *loop;
    hub_fetch_port_t *port;

    signal(SIGPIPE, SIG_IGN);
    server_start();

    test_sync_methods();
    test_sync_redirect_and_limit();
    test_sync_retries();
    test_sync_schemes();
    test_sync_public_only();
    test_sync_invalid();

    loop = h2o_evloop_create();
    CHECK(hub_fetcher_create(&f) == 0);
    port = hub_fetch_port_create(f, loop);
    test_async(f, loop, port);
    test_timeout_no_hol(f, loop, port);
    test_async_retries(f, loop, port);
    test_async_toobig(f, loop, port);
    test_fire_and_forget(f);
    test_concurrent_submit(f, loop, port);
    test_port_destroy(f, loop);
    test_port_post(f, loop, port);
    hub_fetch_port_destroy(port);
    hub_fetcher_destroy(f);
    test_destroy_pending(loop);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);

    server_stop();
    return check_report("hub/fetch");
}
