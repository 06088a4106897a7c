/* In-process requests through a hub server's routes (tests/support/loopback.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include "hub/workpool.h"
#include "tests/support/loopback.h"

struct st_test_req_t {
    h2o_conn_t conn; /* first: h2o hands the handlers &conn */
    test_loop_t *loop;
    h2o_ostream_t final; /* the end of the response's stream: collects the body */
    char *body;
    size_t len, cap;
    int complete, started;
    h2o_req_t req; /* last, as in libh2o's loopback: large, with its own constructor */
};

/* The peer and the local end of a connection from 127.0.0.1. */
static socklen_t fake_name(struct sockaddr *sa, uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)sa;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = htons(port);
    return sizeof(*sin);
}

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    (void)conn;
    return fake_name(sa, 80);
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    (void)conn;
    return fake_name(sa, 50000);
}

static const h2o_conn_callbacks_t callbacks = {.get_sockname = get_sockname, .get_peername = get_peername};

static void on_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    test_req_t *r = H2O_STRUCT_FROM_MEMBER(test_req_t, final, self);
    size_t i;

    for (i = 0; i != n; ++i) {
        if (r->len + bufs[i].len + 1 > r->cap) {
            r->cap = (r->len + bufs[i].len + 1) * 2;
            if ((r->body = realloc(r->body, r->cap)) == NULL)
                h2o_fatal("out of memory");
        }
        memcpy(r->body + r->len, bufs[i].base, bufs[i].len);
        r->len += bufs[i].len;
        r->body[r->len] = '\0';
    }
    if (h2o_send_state_is_in_progress(state))
        h2o_proceed_response(req);
    else
        r->complete = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void test_loop_init(test_loop_t *l, hub_server_t *server, hub_fetcher_t *fetcher)
{
    memset(l, 0, sizeof(*l));
    h2o_context_init(&l->thr.ctx, h2o_evloop_create(), hub_server_globalconf(server));
    l->thr.server = server;
    l->thr.index = 0;
    if (fetcher != NULL)
        l->thr.fetch_port = hub_fetch_port_create(fetcher, l->thr.ctx.loop);
    if (hub_server_workpool(server) != NULL)
        l->thr.work_port = hub_workport_create(hub_server_workpool(server), l->thr.ctx.loop);
    if (hub_server_writer(server) != NULL)
        l->thr.write_port = hub_workport_create(hub_server_writer(server), l->thr.ctx.loop);
    if (hub_server_readers(server) != NULL)
        l->thr.read_port = hub_workport_create(hub_server_readers(server), l->thr.ctx.loop);
}

void test_loop_dispose(test_loop_t *l)
{
    h2o_evloop_t *loop = l->thr.ctx.loop;

    if (l->thr.fetch_port != NULL) {
        hub_fetch_port_destroy(l->thr.fetch_port);
        h2o_evloop_run(loop, 0); /* releases the port's queue socket */
    }
    if (l->thr.work_port != NULL) {
        hub_workport_destroy(l->thr.work_port); /* cancels or waits for its jobs; their completions run here */
        h2o_evloop_run(loop, 0);
    }
    if (l->thr.write_port != NULL) {
        hub_workport_destroy(l->thr.write_port);
        h2o_evloop_run(loop, 0);
    }
    if (l->thr.read_port != NULL) {
        hub_workport_destroy(l->thr.read_port);
        h2o_evloop_run(loop, 0);
    }
    h2o_context_dispose(&l->thr.ctx);
    h2o_evloop_destroy(loop);
}

test_req_t *test_req_new(test_loop_t *l, const char *method, const char *path)
{
    test_req_t *r =
        (test_req_t *)h2o_create_connection(sizeof(*r), &l->thr.ctx, l->thr.ctx.globalconf->hosts, (struct timeval){0}, &callbacks);

    memset((char *)r + sizeof(r->conn), 0, offsetof(test_req_t, req) - sizeof(r->conn));
    r->loop = l;
    h2o_init_request(&r->req, &r->conn, NULL);
    r->req._ostr_top = &r->final;
    r->final.do_send = on_send;
    r->req.input.method = h2o_strdup(&r->req.pool, method, SIZE_MAX);
    r->req.input.path = h2o_strdup(&r->req.pool, path, SIZE_MAX);
    r->req.input.scheme = &H2O_URL_SCHEME_HTTP;
    r->req.version = 0x101;
    gettimeofday(&r->req.timestamps.request_begin_at, NULL); /* the access log's latency counts from here */
    return r;
}

void test_req_header(test_req_t *r, const char *name, const char *value)
{
    h2o_iovec_t n = h2o_strdup(&r->req.pool, name, SIZE_MAX), v = h2o_strdup(&r->req.pool, value, SIZE_MAX);
    h2o_strtolower(n.base, n.len);
    h2o_add_header_by_str(&r->req.pool, &r->req.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

void test_req_body(test_req_t *r, const char *content_type, const char *body)
{
    test_req_header(r, "content-type", content_type);
    r->req.entity = h2o_strdup(&r->req.pool, body, SIZE_MAX);
}

void test_loop_run(test_loop_t *l, unsigned ms)
{
    uint64_t end = now_ms() + ms, now;

    while ((now = now_ms()) < end)
        h2o_evloop_run(l->thr.ctx.loop, (int32_t)(end - now));
}

int test_req_wait(test_req_t *r, unsigned ms)
{
    uint64_t end = now_ms() + ms, now;

    while (!r->complete && (now = now_ms()) < end)
        h2o_evloop_run(r->loop->thr.ctx.loop, (int32_t)(end - now));
    return r->complete;
}

int test_req_run(test_req_t *r, unsigned ms)
{
    if (!r->started) {
        r->started = 1;
        h2o_process_request(&r->req);
    }
    return test_req_wait(r, ms);
}

h2o_req_t *test_req_h2o(test_req_t *r)
{
    return &r->req;
}

int test_req_done(const test_req_t *r)
{
    return r->complete;
}

int test_req_status(const test_req_t *r)
{
    return r->req.res.status;
}

const char *test_req_text(const test_req_t *r)
{
    return r->body != NULL ? r->body : "";
}

size_t test_req_len(const test_req_t *r)
{
    return r->len;
}

const char *test_req_resp_header(test_req_t *r, const char *name, size_t nth)
{
    size_t i, len = strlen(name);

    for (i = 0; i != r->req.res.headers.size; ++i) {
        const h2o_header_t *h = &r->req.res.headers.entries[i];
        if (h->name->len == len && strncasecmp(h->name->base, name, len) == 0 && nth-- == 0)
            return h2o_strdup(&r->req.pool, h->value.base, h->value.len).base;
    }
    return NULL;
}

const char *test_req_set_cookie(test_req_t *r, const char *name, const char **attrs)
{
    size_t nth, len = strlen(name);
    const char *line;

    for (nth = 0; (line = test_req_resp_header(r, "set-cookie", nth)) != NULL; ++nth) {
        if (strncmp(line, name, len) != 0 || line[len] != '=')
            continue;
        if (attrs != NULL)
            *attrs = line;
        return h2o_strdup(&r->req.pool, line + len + 1, strcspn(line + len + 1, ";")).base;
    }
    return NULL;
}

void test_req_free(test_req_t *r)
{
    h2o_dispose_request(&r->req);
    free(r->body);
    free(r);
}
