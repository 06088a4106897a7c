/* The HTTP server: one libh2o evloop and one SO_REUSEPORT listener per thread, routes as
 * h2o handlers behind the request gate, an access-log/metrics logger per route, a cap on open
 * connections, the service manager's notifications, a TLS reload on SIGHUP and a graceful stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "hub/cidr.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/gate.h"
#include "hub/listen.h"
#include "hub/log.h"
#include "hub/metrics.h"
#include "hub/resp.h"
#include "hub/route.h"
#include "hub/sdnotify.h"
#include "hub/server.h"
#include "hub/tls.h"
#include "hub/workpool.h"
#include "hub/reader.h"
#include "hub/writer.h"
#include "hub/util.h"

#define MAX_TICKS 8
#define STOP_GRACE_MS 10000
#define MAX_REQUEST_BODY (1024 * 1024)
#define ACCEPT_RETRY_MS 100 /* a paused listener looks again this often */
#define EVICT_IDLE_MS 2000  /* at the cap, a connection that finished nothing this long and has nothing in flight goes */
#define HSTS_VALUE "max-age=31536000"

/* The h2o handler of one registered path (a route's path, or its alias). */
typedef struct st_route_handler_t {
    h2o_handler_t super; /* first: h2o calls on_req with this */
    hub_server_t *server;
    hub_route_entry_t *route;
    size_t metrics_route;
} route_handler_t;

typedef struct st_route_logger_t {
    h2o_logger_t super;
    hub_server_t *server;
    size_t metrics_route;
} route_logger_t;

typedef struct st_server_thread_t {
    hub_thread_t pub; /* first: hub_req_thread casts the h2o context to it */
    pthread_t tid;
    int listen_fd;
    h2o_socket_t *listener;
    h2o_accept_ctx_t accept_ctx;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t stop_receiver;
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick_entry;
    h2o_linklist_t conns; /* conn_t: every accepted socket still open, for the stop */
    int stopping;
    int paused;                  /* the listener is not read: at the cap, or out of descriptors */
    h2o_timeout_t retry_timeout; /* ACCEPT_RETRY_MS */
    h2o_timeout_entry_t retry_entry;
    uint64_t warned_ms;        /* now_ms() of the last "out of descriptors" line */
    uint64_t evict_warned_ms;  /* now_ms() of the last "closed idle connections at the cap" line */
    hub_tls_local_t tls_local; /* this loop's reference to the current TLS context */
} server_thread_t;

/* An accepted connection, tracked so a stop can close the idle keep-alive ones (libh2o
 * 2.2.5 leaves them open, and disposing a context under them aborts), and so a node at its
 * connection cap can make room by closing the idle ones. */
typedef struct st_conn_t {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    struct st_server_thread_t *thr;
    unsigned busy;    /* its requests inside a route handler, not yet logged */
    uint64_t last_ms; /* now_ms() when it was accepted or its last request was logged */
    int evicted;      /* shut down to make room */
    SSL_CTX *tls;     /* the TLS context it was accepted with (a reference, kept until it closes), or NULL */
} conn_t;

struct st_hub_server_t {
    const hub_config_t *cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    hub_workpool_t *workpool; /* NULL unless hub_server_use_workpool */
    hub_workpool_t *writer;   /* NULL unless hub_server_use_writer */
    hub_workpool_t *readers;  /* NULL unless hub_server_use_readers made them */
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *hostconf;
    hub_metrics_t *metrics;
    hub_route_entry_t *routes; /* every route registered, disposed of after h2o's configuration */
    hub_tls_t *tls;            /* NULL without node.tls */
    struct {
        void (*fn)(hub_thread_t *, void *);
        void *arg;
    } ticks[MAX_TICKS];
    size_t nticks;
    server_thread_t *threads;
    unsigned nthreads;
    pthread_mutex_t ready_mutex;
    pthread_cond_t ready_cond;
    unsigned nready;   /* loop threads done with their set-up */
    unsigned nstopped; /* loop threads whose loop has stopped */
    pthread_t main_tid;
    int running;
    unsigned max_conns; /* client connections open at once, every thread together */
    unsigned nconns;    /* atomic: accepted and not yet closed (or about to be accepted) */
    hub_cidr_t *metrics_allow;
    size_t nmetrics_allow;
    h2o_headers_command_t hsts[2]; /* Strict-Transport-Security on every response, when served over TLS */
};

static uint64_t now_ms(void);
static void on_conn_close(void *data);

/* The server's record of the connection req came on (NULL when it has no socket of ours); on req's loop thread. */
static conn_t *conn_of(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock != NULL && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

static int on_route_req(h2o_handler_t *_self, h2o_req_t *req)
{
    route_handler_t *self = (route_handler_t *)_self;
    conn_t *conn = conn_of(req);
    if (conn != NULL)
        ++conn->busy;
    hub_metrics_inflight_add(self->server->metrics, 1);
    if (hub_gate(req) == 0)
        hub_route_entry_serve(self->route, req);
    return 0;
}

static void on_route_log(h2o_logger_t *_self, h2o_req_t *req)
{
    route_logger_t *self = (route_logger_t *)_self;
    struct timeval now;
    int64_t us;
    char addr[INET6_ADDRSTRLEN] = "-";
    struct sockaddr_storage ss;
    socklen_t sslen;
    conn_t *conn = conn_of(req);

    if (conn != NULL) {
        if (conn->busy != 0)
            --conn->busy;
        conn->last_ms = now_ms();
    }

    gettimeofday(&now, NULL);
    us = (int64_t)(now.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1000000 +
         (now.tv_usec - req->timestamps.request_begin_at.tv_usec);
    if (us < 0)
        us = 0;
    hub_metrics_observe(self->server->metrics, self->metrics_route, req->res.status, (uint64_t)us);
    hub_metrics_inflight_add(self->server->metrics, -1);
    if (hub_log_level() < HUB_LOG_INFO)
        return;
    if ((sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss)) != 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    }
    /* The query string is never logged: it carries codes, states and tokens. */
    size_t plen = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    char method[3 * 16 + 1], path[3 * 512 + 1];
    hub_log_escape(method, sizeof(method), req->input.method.base, req->input.method.len > 16 ? 16 : req->input.method.len);
    hub_log_escape(path, sizeof(path), req->input.path.base, plen > 512 ? 512 : plen);
    hub_log_info("%s \"%s %s\" %d %zu %lld.%03lldms", addr, method, path, req->res.status, req->bytes_sent, (long long)(us / 1000),
                 (long long)(us % 1000)); /* integers: %f costs more than the rest of the line */
}

/* Registers one path of route on h2o: its handler behind the gate and the router's rules, its logger, HSTS. */
static h2o_pathconf_t *register_path(hub_server_t *server, hub_route_entry_t *route, const char *path)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(server->hostconf, path, 0);
    route_handler_t *handler = (route_handler_t *)h2o_create_handler(pathconf, sizeof(*handler));
    route_logger_t *logger = (route_logger_t *)h2o_create_logger(pathconf, sizeof(*logger));

    handler->super.on_req = on_route_req;
    handler->server = server;
    handler->route = route;
    handler->metrics_route = hub_metrics_add_route(server->metrics, path);
    logger->super.log_access = on_route_log;
    logger->server = server;
    logger->metrics_route = handler->metrics_route;
    if (server->hsts[0].cmd != H2O_HEADERS_CMD_NULL)
        h2o_headers_register(pathconf, server->hsts); /* also on what a reverse proxy behind the route answers */
    return pathconf;
}

h2o_pathconf_t *hub_server_add_route(hub_server_t *server, const hub_route_t *route, hub_route_cb cb, void *data,
                                     void (*dispose)(void *data))
{
    hub_route_entry_t *entry = hub_route_entry_add(&server->routes, route, cb, data, dispose);
    h2o_pathconf_t *pathconf = register_path(server, entry, hub_route_entry_route(entry)->path);

    if (route->alias != NULL)
        register_path(server, entry, hub_route_entry_route(entry)->alias);
    return pathconf;
}

void hub_server_on_tick(hub_server_t *server, void (*fn)(hub_thread_t *thread, void *arg), void *arg)
{
    if (server->nticks == MAX_TICKS)
        hub_fatal("too many tick callbacks");
    server->ticks[server->nticks].fn = fn;
    server->ticks[server->nticks].arg = arg;
    ++server->nticks;
}

static int on_healthz(void *data, h2o_req_t *req)
{
    hub_send_json(req, 200, json_pack("{s:s}", "status", "ok"), 1);
    return 0;
}

static int peer_may_read_metrics(hub_server_t *server, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
        return 0;
    return hub_cidr_match(server->metrics_allow, server->nmetrics_allow, (struct sockaddr *)&ss);
}

static int on_metrics(void *data, h2o_req_t *req)
{
    hub_server_t *server = data;
    size_t len;
    char *text;
    h2o_iovec_t copy;

    if (!peer_may_read_metrics(server, req)) {
        hub_send_oauth_error(req, HUB_OAUTH_ACCESS_DENIED, "this address may not read the metrics (node.metrics_allow)");
        return 0;
    }
    text = hub_metrics_render(server->metrics, &len);
    copy = h2o_strdup(&req->pool, text, len);
    free(text);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = copy.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; version=0.0.4"));
    hub_send_inline(req, copy.base, copy.len);
    return 0;
}

/* Every path no other route takes: the router's 404, in the style of the node's APIs. */
static int on_not_found(void *data, h2o_req_t *req)
{
    return -1;
}

/* The server's own routes (a node's health for load balancers and service managers, its counters for Prometheus),
 * and the route registered last, at "/", that answers every other path. */
static const hub_route_t healthz_route = {"/healthz", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL};
static const hub_route_t metrics_route = {"/metrics", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL};
static const hub_route_t not_found_route = {"/", NULL, HUB_METHODS_ANY, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL};

/* HSTS whenever browsers reach the node over TLS: its own listener, or a TLS front end (public_url https). */
static void setup_hsts_and_metrics(hub_server_t *server)
{
    const hub_config_t *cfg = server->cfg;
    size_t i;

    if (server->tls != NULL || strncmp(cfg->node.public_url, "https://", 8) == 0) {
        server->hsts[0].cmd = H2O_HEADERS_CMD_SET;
        server->hsts[0].name = &H2O_TOKEN_STRICT_TRANSPORT_SECURITY->buf;
        server->hsts[0].value = h2o_iovec_init(H2O_STRLIT(HSTS_VALUE));
    }
    server->metrics_allow = hub_xcalloc(cfg->node.nmetrics_allow + 1, sizeof(*server->metrics_allow));
    for (i = 0; i != cfg->node.nmetrics_allow; ++i)
        if (hub_cidr_parse(cfg->node.metrics_allow[i], &server->metrics_allow[server->nmetrics_allow], NULL) == 0)
            ++server->nmetrics_allow; /* the config check refused any other */
}

int hub_server_create(hub_server_t **out, const hub_config_t *cfg, hub_store_t *store, hub_fetcher_t *fetcher)
{
    hub_server_t *server = hub_xcalloc(1, sizeof(*server));
    int ret;

    server->cfg = cfg;
    server->store = store;
    server->fetcher = fetcher;
    server->metrics = hub_metrics_create();
    pthread_mutex_init(&server->ready_mutex, NULL);
    pthread_cond_init(&server->ready_cond, NULL);
    h2o_config_init(&server->globalconf);
    server->globalconf.max_request_entity_size = MAX_REQUEST_BODY;
    server->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("hub"));
    /* X-Forwarded-Proto toward upstreams is the one a route guard sets (the node's public scheme), never the client's */
    server->globalconf.proxy.preserve_x_forwarded_proto = 1;
    /* HTTP/2 only under TLS (ALPN). A cleartext "Upgrade: h2c" request would reach the handlers as HTTP/2, past the
     * gate's HTTP/1 framing checks, and through a front proxy it tunnels requests past the proxy's own rules. */
    server->globalconf.http1.upgrade_to_http2 = 0;
    server->hostconf = h2o_config_register_host(&server->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if ((ret = hub_tls_create(&server->tls, cfg)) != 0) {
        hub_server_destroy(server);
        return ret;
    }
    setup_hsts_and_metrics(server);
    hub_server_add_route(server, &healthz_route, on_healthz, server, NULL);
    hub_server_add_route(server, &metrics_route, on_metrics, server, NULL);
    *out = server;
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_accept(h2o_socket_t *listener, const char *err);

/* At the cap: shuts down this thread's connections that have nothing in flight and finished no request for
 * EVICT_IDLE_MS (idle keep-alives, heads or bodies trickled in, TLS handshakes left open, HTTP/2 connections kept alive
 * with frames but no requests); h2o then closes each, which makes room. Without this one client holding every place
 * keeps all others out until h2o's own timeouts, which its trickled bytes reset. Returns how many it shut down. */
static size_t evict_idle(server_thread_t *thr)
{
    hub_server_t *server = thr->pub.server;
    uint64_t now = now_ms();
    h2o_linklist_t *node;
    size_t n = 0;

    if (__atomic_load_n(&server->nconns, __ATOMIC_RELAXED) < server->max_conns)
        return 0;
    for (node = thr->conns.next; node != &thr->conns; node = node->next) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        int fd;
        if (conn->busy != 0 || conn->evicted || now - conn->last_ms < EVICT_IDLE_MS || (fd = h2o_socket_get_fd(conn->sock)) == -1)
            continue;
        shutdown(fd, SHUT_RDWR);
        conn->evicted = 1;
        ++n;
    }
    if (n != 0 && now - thr->evict_warned_ms >= 10000) {
        thr->evict_warned_ms = now;
        hub_log_warn("at the connection cap (%u): closed %zu connection(s) idle for %d ms or more", server->max_conns, n,
                     EVICT_IDLE_MS);
    }
    return n;
}

/* Stops reading the listener (the kernel keeps new connections in its backlog) until a connection of this thread
 * closes or ACCEPT_RETRY_MS pass: a listener that stays readable while nothing can be accepted would spin the loop. */
static void pause_accepting(server_thread_t *thr)
{
    if (thr->paused || thr->listener == NULL)
        return;
    thr->paused = 1;
    h2o_socket_read_stop(thr->listener);
    h2o_timeout_link(thr->pub.ctx.loop, &thr->retry_timeout, &thr->retry_entry);
}

static void resume_accepting(server_thread_t *thr)
{
    if (!thr->paused || thr->stopping || thr->listener == NULL)
        return;
    thr->paused = 0;
    if (h2o_timeout_is_linked(&thr->retry_entry))
        h2o_timeout_unlink(&thr->retry_entry);
    h2o_socket_read_start(thr->listener, on_accept);
}

static void on_accept_retry(h2o_timeout_entry_t *entry)
{
    server_thread_t *thr = H2O_STRUCT_FROM_MEMBER(server_thread_t, retry_entry, entry);
    hub_server_t *server = thr->pub.server;
    if (__atomic_load_n(&server->nconns, __ATOMIC_RELAXED) < server->max_conns)
        resume_accepting(thr);
    else if (!thr->stopping) {
        evict_idle(thr);
        h2o_timeout_link(thr->pub.ctx.loop, &thr->retry_timeout, &thr->retry_entry);
    }
}

static void on_conn_close(void *data)
{
    conn_t *conn = data;
    server_thread_t *thr = conn->thr;
    h2o_linklist_unlink(&conn->link);
    SSL_CTX_free(conn->tls); /* after h2o's own SSL (which holds another reference) is gone */
    free(conn);
    __atomic_sub_fetch(&thr->pub.server->nconns, 1, __ATOMIC_RELAXED);
    resume_accepting(thr);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    server_thread_t *thr = listener->data;
    hub_server_t *server = thr->pub.server;
    h2o_socket_t *sock;
    conn_t *conn;
    if (err != NULL)
        return;
    /* a place is taken before accepting, so the threads together never pass the cap */
    if (__atomic_fetch_add(&server->nconns, 1, __ATOMIC_RELAXED) >= server->max_conns) {
        __atomic_sub_fetch(&server->nconns, 1, __ATOMIC_RELAXED);
        pause_accepting(thr);
        return;
    }
    if ((sock = h2o_evloop_socket_accept(listener)) == NULL) {
        int e = errno;
        __atomic_sub_fetch(&server->nconns, 1, __ATOMIC_RELAXED);
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            if (now_ms() - thr->warned_ms >= 10000) { /* one line per ten seconds, not one per retry */
                thr->warned_ms = now_ms();
                hub_log_warn("accept: %s; pausing new connections (retried every %d ms)", strerror(e), ACCEPT_RETRY_MS);
            }
            pause_accepting(thr);
        }
        return;
    }
    conn = hub_xcalloc(1, sizeof(*conn));
    conn->sock = sock;
    conn->thr = thr;
    conn->last_ms = now_ms();
    h2o_linklist_insert(&thr->conns, &conn->link);
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = conn;
    if (server->tls != NULL) /* the context current now; a reload later does not touch this connection */
        thr->accept_ctx.ssl_ctx = conn->tls = hub_tls_acquire(server->tls, &thr->tls_local);
    h2o_accept(&thr->accept_ctx, sock);
}

/* Shuts the remaining (idle) connections down at the socket level: h2o then sees the end of
 * the stream and closes each through its own path. */
static void close_idle_conns(server_thread_t *thr)
{
    h2o_linklist_t *node;
    for (node = thr->conns.next; node != &thr->conns; node = node->next) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, node);
        int fd = h2o_socket_get_fd(conn->sock);
        if (fd != -1)
            shutdown(fd, SHUT_RDWR);
    }
}

static void on_stop_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    server_thread_t *thr = H2O_STRUCT_FROM_MEMBER(server_thread_t, stop_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        free(msg);
    }
    thr->stopping = 1;
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    server_thread_t *thr = H2O_STRUCT_FROM_MEMBER(server_thread_t, tick_entry, entry);
    hub_server_t *server = thr->pub.server;
    size_t i;
    for (i = 0; i != server->nticks; ++i)
        server->ticks[i].fn(&thr->pub, server->ticks[i].arg);
    if (!thr->stopping)
        evict_idle(thr); /* also when this thread's listener is not paused: the places are shared by every thread */
    if (!thr->stopping)
        h2o_timeout_link(thr->pub.ctx.loop, &thr->tick_timeout, &thr->tick_entry);
}

/* Everything of a loop is made on its own thread: libh2o 2.2.5 takes a socket's buffer allocator from the thread that
 * creates the socket (a thread-local), and a buffer allocated or freed on another thread races with that thread's
 * own allocations (seen as a heap-use-after-free under ASan in a queue's read). */
static void thread_setup(server_thread_t *thr)
{
    hub_server_t *server = thr->pub.server;

    h2o_context_init(&thr->pub.ctx, h2o_evloop_create(), &server->globalconf);
    thr->accept_ctx.ctx = &thr->pub.ctx;
    thr->accept_ctx.hosts = server->globalconf.hosts;
    /* behind a load balancer the client's address comes from its PROXY line (libh2o sets the peer from it); a
     * connection without one keeps its own peer, so only the balancer may reach listen (docs/OPERATIONS.md) */
    thr->accept_ctx.expect_proxy_line = server->cfg->node.proxy_protocol;
    thr->queue = h2o_multithread_create_queue(thr->pub.ctx.loop);
    h2o_multithread_register_receiver(thr->queue, &thr->stop_receiver, on_stop_message);
    if (server->fetcher != NULL)
        thr->pub.fetch_port = hub_fetch_port_create(server->fetcher, thr->pub.ctx.loop);
    if (server->workpool != NULL)
        thr->pub.work_port = hub_workport_create(server->workpool, thr->pub.ctx.loop);
    if (server->writer != NULL)
        thr->pub.write_port = hub_workport_create(server->writer, thr->pub.ctx.loop);
    if (server->readers != NULL)
        thr->pub.read_port = hub_workport_create(server->readers, thr->pub.ctx.loop);
    h2o_timeout_init(thr->pub.ctx.loop, &thr->tick_timeout, 1000);
    thr->tick_entry.cb = on_tick;
    h2o_timeout_link(thr->pub.ctx.loop, &thr->tick_timeout, &thr->tick_entry);
    h2o_timeout_init(thr->pub.ctx.loop, &thr->retry_timeout, ACCEPT_RETRY_MS);
    thr->retry_entry.cb = on_accept_retry;
    thr->listener = h2o_evloop_socket_create(thr->pub.ctx.loop, thr->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    thr->listen_fd = -1; /* owned by the socket now */
    thr->listener->data = thr;
    h2o_socket_read_start(thr->listener, on_accept);
}

/* The loop's end, on its own thread for the same reason. */
static void thread_teardown(server_thread_t *thr)
{
    h2o_evloop_t *loop = thr->pub.ctx.loop;

    if (!h2o_linklist_is_empty(&thr->conns)) {
        /* a connection would not close: disposing the context under it would abort */
        hub_log_warn("stop: thread %u still has open connections; leaving its loop as it is", thr->pub.index);
        return;
    }
    if (h2o_timeout_is_linked(&thr->tick_entry))
        h2o_timeout_unlink(&thr->tick_entry);
    if (h2o_timeout_is_linked(&thr->retry_entry))
        h2o_timeout_unlink(&thr->retry_entry);
    /* h2o_context_request_shutdown arms this one; h2o_context_dispose asserts it is idle */
    if (h2o_timeout_is_linked(&thr->pub.ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&thr->pub.ctx.http2._graceful_shutdown_timeout);
    if (thr->pub.fetch_port != NULL)
        hub_fetch_port_destroy(thr->pub.fetch_port);
    hub_workport_destroy(thr->pub.work_port); /* cancels or waits for its jobs; their callbacks run here */
    hub_workport_destroy(thr->pub.write_port);
    hub_workport_destroy(thr->pub.read_port);
    h2o_multithread_unregister_receiver(thr->queue, &thr->stop_receiver);
    h2o_multithread_destroy_queue(thr->queue);
    h2o_timeout_dispose(loop, &thr->tick_timeout);
    h2o_timeout_dispose(loop, &thr->retry_timeout);
    h2o_context_dispose(&thr->pub.ctx);
    h2o_evloop_destroy(loop);
    hub_tls_local_dispose(&thr->tls_local);
}

static void *thread_main(void *arg)
{
    server_thread_t *thr = arg;
    hub_server_t *server = thr->pub.server;
    h2o_evloop_t *loop;
    h2o_linklist_t deferred;
    uint64_t deadline;

    thread_setup(thr);
    pthread_mutex_lock(&server->ready_mutex);
    ++server->nready;
    pthread_cond_broadcast(&server->ready_cond);
    pthread_mutex_unlock(&server->ready_mutex);
    loop = thr->pub.ctx.loop;

    hub_log_batch_begin();
    hub_resp_defer_begin(&deferred);
    while (!thr->stopping) {
        h2o_evloop_run(loop, INT32_MAX);
        /* A response written now completes (h2o's write callback: keep-alive reads the next request) in h2o's
         * pending list, which the next epoll_wait does not look at: when nothing else changed the socket's state in
         * this turn (a response made in a completion from another thread, as the store's writer posts), the loop
         * would sleep until its next timer. One more turn without waiting runs those callbacks. */
        while (hub_resp_flush() != 0)
            h2o_evloop_run(loop, 0);
        hub_log_flush();
    }
    hub_resp_defer_end();
    hub_log_batch_end();

    /* Stop accepting, ask keep-alive connections to close after their current request, and
     * give what is in flight time to finish. */
    if (h2o_timeout_is_linked(&thr->retry_entry))
        h2o_timeout_unlink(&thr->retry_entry);
    h2o_socket_read_stop(thr->listener);
    h2o_socket_close(thr->listener);
    thr->listener = NULL;
    h2o_context_request_shutdown(&thr->pub.ctx);
    deadline = now_ms() + STOP_GRACE_MS;
    while (hub_metrics_inflight(server->metrics) > 0 && now_ms() < deadline)
        h2o_evloop_run(loop, 50);
    /* one more short turn so final writes are flushed, then close what stays idle */
    h2o_evloop_run(loop, 10);
    close_idle_conns(thr);
    deadline = now_ms() + 2000;
    while (!h2o_linklist_is_empty(&thr->conns) && now_ms() < deadline)
        h2o_evloop_run(loop, 50);
    /* as before the teardown moved here: no context is disposed while another loop still runs */
    pthread_mutex_lock(&server->ready_mutex);
    ++server->nstopped;
    pthread_cond_broadcast(&server->ready_cond);
    while (server->nstopped != server->nthreads)
        pthread_cond_wait(&server->ready_cond, &server->ready_mutex);
    pthread_mutex_unlock(&server->ready_mutex);
    thread_teardown(thr);
    return NULL;
}

/* A failed notification is worth a line: under Type=notify systemd would wait for READY=1 and then kill the node. */
static void notified(int ret)
{
    if (ret != 0)
        hub_log_warn("NOTIFY_SOCKET: cannot notify the service manager: %s", hub_strerror(ret));
}

/* SIGTERM, SIGINT or SIGHUP (the set the caller blocked). */
static int next_signal(const sigset_t *set)
{
    int sig;
    if (sigwait(set, &sig) != 0)
        sig = SIGTERM;
    return sig;
}

/* SIGHUP re-reads the TLS certificate and key (systemctl reload): new handshakes get the new pair, open connections
 * keep theirs, a pair that does not load leaves the current one in place. Nothing else of the configuration changes. */
static void on_sighup(hub_server_t *server)
{
    struct timespec ts;
    int ret = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    notified(hub_sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000));
    if (server->tls != NULL)
        ret = hub_tls_reload(server->tls);
    else
        hub_log_info("SIGHUP: no node.tls; nothing to reload");
    notified(hub_sd_notifyf("READY=1\nSTATUS=%s", ret == 0 ? "reloaded" : "TLS reload refused; the previous certificate stays"));
}

int hub_server_run(hub_server_t *server)
{
    const hub_config_t *cfg = server->cfg;
    sigset_t set;
    unsigned i;
    int sig, ret = 0;

    hub_server_add_route(server, &not_found_route, on_not_found, server, NULL);
    server->max_conns = hub_listen_cap(cfg);
    server->nthreads = cfg->node.threads > 0 ? cfg->node.threads : 1;
    server->threads = hub_xcalloc(server->nthreads, sizeof(*server->threads));
    for (i = 0; i != server->nthreads; ++i)
        server->threads[i].listen_fd = -1;
    /* Bind every listener before anything runs so a busy port fails the start. */
    for (i = 0; i != server->nthreads; ++i)
        if ((ret = hub_listen_open(cfg, i == 0, &server->threads[i].listen_fd)) != 0)
            goto out;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the loop threads; only sigwait sees them */
    server->main_tid = pthread_self();

    for (i = 0; i != server->nthreads; ++i) {
        server_thread_t *thr = &server->threads[i];
        thr->pub.server = server;
        thr->pub.index = i;
        h2o_linklist_init_anchor(&thr->conns);
    }
    for (i = 0; i != server->nthreads; ++i)
        pthread_create(&server->threads[i].tid, NULL, thread_main, &server->threads[i]);
    pthread_mutex_lock(&server->ready_mutex);
    while (server->nready != server->nthreads)
        pthread_cond_wait(&server->ready_cond, &server->ready_mutex);
    pthread_mutex_unlock(&server->ready_mutex);
    __atomic_store_n(&server->running, 1, __ATOMIC_RELEASE);

    fprintf(stderr, "hubd: %s listening on %s\n", cfg->node.role == HUB_ROLE_PRIMARY ? "primary" : "secondary",
            cfg->node.public_url);
    fflush(stderr);
    /* after the line above, so a reader of either sees the other's promise kept */
    notified(hub_sd_notifyf("READY=1\nMAINPID=%ld\nSTATUS=listening on %.512s", (long)getpid(), cfg->node.public_url));

    while ((sig = next_signal(&set)) == SIGHUP)
        on_sighup(server);
    notified(hub_sd_notify("STOPPING=1"));
    hub_log_info("stopping on signal %d", sig);

    for (i = 0; i != server->nthreads; ++i) {
        h2o_multithread_message_t *msg = hub_xcalloc(1, sizeof(*msg));
        h2o_multithread_send_message(&server->threads[i].stop_receiver, msg);
    }
    for (i = 0; i != server->nthreads; ++i)
        pthread_join(server->threads[i].tid, NULL);
    __atomic_store_n(&server->running, 0, __ATOMIC_RELEASE);
    /* after the loops: a job of a loop that could not tear down (open connections) is cancelled here */
    hub_workpool_destroy(server->workpool);
    server->workpool = NULL;
    hub_workpool_destroy(server->writer);
    server->writer = NULL;
    hub_workpool_destroy(server->readers);
    server->readers = NULL;

out:
    for (i = 0; i != server->nthreads; ++i)
        if (server->threads[i].listen_fd != -1)
            close(server->threads[i].listen_fd);
    return ret;
}

int hub_server_use_workpool(hub_server_t *server, unsigned nworkers, size_t max_queued, int nice)
{
    if (server->workpool != NULL)
        return 0;
    return hub_workpool_create(&server->workpool, nworkers, max_queued, nice);
}

int hub_server_use_writer(hub_server_t *server, size_t max_queued)
{
    if (server->store == NULL)
        return HUB_E_INVAL;
    return server->writer != NULL ? 0 : hub_writer_create(&server->writer, server->store, max_queued);
}

int hub_server_use_readers(hub_server_t *server, unsigned nworkers, size_t max_queued)
{
    if (server->store == NULL)
        return HUB_E_INVAL;
    if (server->readers != NULL || (nworkers = hub_store_readers_wanted(server->store, nworkers)) == 0)
        return 0;
    return hub_workpool_create(&server->readers, nworkers, max_queued, 0);
}

void hub_server_stop(hub_server_t *server)
{
    if (__atomic_load_n(&server->running, __ATOMIC_ACQUIRE))
        pthread_kill(server->main_tid, SIGTERM);
}

void hub_server_destroy(hub_server_t *server)
{
    if (server == NULL)
        return;
    hub_workpool_destroy(server->workpool); /* when hub_server_run failed before its loops */
    hub_workpool_destroy(server->writer);
    hub_workpool_destroy(server->readers);
    h2o_config_dispose(&server->globalconf);
    hub_route_entries_dispose(&server->routes); /* after h2o's handlers, which point at them */
    hub_tls_destroy(server->tls);
    hub_metrics_destroy(server->metrics);
    free(server->metrics_allow);
    pthread_cond_destroy(&server->ready_cond);
    pthread_mutex_destroy(&server->ready_mutex);
    free(server->threads);
    free(server);
}

const hub_config_t *hub_server_config(hub_server_t *server)
{
    return server->cfg;
}

hub_metrics_t *hub_server_metrics(hub_server_t *server)
{
    return server->metrics;
}

hub_store_t *hub_server_store(hub_server_t *server)
{
    return server->store;
}

h2o_globalconf_t *hub_server_globalconf(hub_server_t *server)
{
    return &server->globalconf;
}

hub_workpool_t *hub_server_workpool(hub_server_t *server)
{
    return server->workpool;
}

hub_workpool_t *hub_server_writer(hub_server_t *server)
{
    return server->writer;
}

hub_workpool_t *hub_server_readers(hub_server_t *server)
{
    return server->readers;
}

hub_fetcher_t *hub_server_fetcher(hub_server_t *server)
{
    return server->fetcher;
}

int hub_server_is_tls(hub_server_t *server)
{
    return server->tls != NULL;
}
