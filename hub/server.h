/* The HTTP server every node runs: libh2o evloop threads (a loop and an SO_REUSEPORT
 * listener each), a route table, access log, metrics, /healthz, /metrics, systemd
 * notifications, a TLS reload on SIGHUP and a graceful stop on SIGTERM/SIGINT. */
#ifndef HUB_SERVER_H
#define HUB_SERVER_H

#include <h2o.h>
#include "hub/config.h"
#include "hub/route.h"
#include "hub/store.h"

typedef struct st_hub_server_t hub_server_t;
typedef struct st_hub_fetcher_t hub_fetcher_t;
typedef struct st_hub_fetch_port_t hub_fetch_port_t;
typedef struct st_hub_workport_t hub_workport_t;
typedef struct st_hub_workpool_t hub_workpool_t;

/* One event-loop thread. Handlers find theirs with hub_req_thread(req). */
typedef struct st_hub_thread_t {
    h2o_context_t ctx; /* first: the h2o context of this loop */
    hub_server_t *server;
    unsigned index;
    hub_fetch_port_t *fetch_port; /* outbound HTTP results come back to this loop */
    hub_workport_t *work_port;    /* worker-pool completions come back to this loop; NULL without a pool */
    hub_workport_t *write_port;   /* the store's writer (group commit, hub/writer.h); NULL without one */
    hub_workport_t *read_port;    /* the store's readers (hub/reader.h); NULL without them: reads run on the loop */
} hub_thread_t;

/* Creates a server for cfg (borrowed; must outlive the server). store and fetcher may be
 * NULL; they are borrowed. Registers its own routes, /healthz and /metrics (GET, HEAD); hub_server_run adds "/" last,
 * the 404 of every path no route takes. */
int hub_server_create(hub_server_t **out, const hub_config_t *cfg, hub_store_t *store, hub_fetcher_t *fetcher);

/* Registers route (copied) with its handler: a request whose path h2o gives to the route's path or alias (by prefix,
 * the first registered wins: register a path before any prefix of it) passes the gate (hub/gate.h) and the router's
 * rules (hub_route_entry_serve: 404, 405, preflights), then cb(data, req) runs; when cb returns non-zero the router
 * answers 404 in the route's style. dispose (may be NULL) gets data once, when the server is destroyed, after h2o's configuration:
 * what the route's handler allocated is its own to free. Returns the pathconf of the route's path (for filters). Only before
 * hub_server_run. */
h2o_pathconf_t *hub_server_add_route(hub_server_t *server, const hub_route_t *route, hub_route_cb cb, void *data,
                                     void (*dispose)(void *data));

/* Calls fn(thread, arg) once a second on every loop thread (after start-up), e.g. to
 * notice data another process changed. Only before hub_server_run. */
void hub_server_on_tick(hub_server_t *server, void (*fn)(hub_thread_t *thread, void *arg), void *arg);

/* Gives the server a worker pool for CPU-heavy jobs (hub/workpool.h): nworkers threads at the given nice value, at
 * most max_queued jobs waiting. Each loop thread gets a port to it (hub_thread_t.work_port); the pool stops after the
 * loops. Only before hub_server_run; returns 0, or HUB_E_IO when no worker could start. */
int hub_server_use_workpool(hub_server_t *server, unsigned nworkers, size_t max_queued, int nice);

/* Gives the server a writer for its store (hub/writer.h: group commit), at most max_queued writes waiting; each loop
 * thread gets a port to it (hub_thread_t.write_port); the writer stops after the loops. Only before hub_server_run;
 * returns 0, HUB_E_INVAL without a store, or HUB_E_IO when its thread could not start. */
int hub_server_use_writer(hub_server_t *server, size_t max_queued);

/* Gives the server readers for its store (hub/reader.h) when its reads are not cheap in-process
 * (hub_store_reads_inline says 0): nworkers threads, at most max_queued reads waiting; each loop thread gets a port to them
 * (hub_thread_t.read_port). The environment variable HUB_READ_POOL=N forces a pool of N readers even for a store whose
 * reads are cheap (tests run the parked paths that way). Without readers the loops read in place. Only before
 * hub_server_run; returns 0, HUB_E_INVAL without a store, or HUB_E_IO when no reader could start. */
int hub_server_use_readers(hub_server_t *server, unsigned nworkers, size_t max_queued);

/* Binds, starts node.threads loops, prints "hubd: <role> listening on <public_url>", tells
 * systemd READY=1 (when $NOTIFY_SOCKET is set) and blocks until SIGTERM or SIGINT, re-reading
 * the TLS certificate and key on each SIGHUP (hub/tls.h); then tells STOPPING=1, stops
 * accepting, lets in-flight requests finish (at most 10 s) and returns 0. The caller blocks
 * SIGTERM, SIGINT and SIGHUP in every thread it started before. A bind failure returns
 * HUB_E_IO before anything runs. */
int hub_server_run(hub_server_t *server);

/* Asks a running server to stop as if it got SIGTERM (thread-safe). */
void hub_server_stop(hub_server_t *server);

void hub_server_destroy(hub_server_t *server);

const hub_config_t *hub_server_config(hub_server_t *server);
hub_store_t *hub_server_store(hub_server_t *server);
/* The node's metrics, for modules that add counters of their own (hub_metrics_add_counter, before running). */
struct st_hub_metrics_t *hub_server_metrics(hub_server_t *server);
hub_fetcher_t *hub_server_fetcher(hub_server_t *server);
/* The server's h2o configuration with every route registered so far: for running requests through the routes
 * in-process, without listeners (the C tests' loopback, tests/support/loopback.h). */
h2o_globalconf_t *hub_server_globalconf(hub_server_t *server);
/* The server's worker pool (hub_server_use_workpool), or NULL: for the C tests' loopback, whose loop binds a port to it as
 * the server's loops do. */
hub_workpool_t *hub_server_workpool(hub_server_t *server);
/* The server's writer (hub_server_use_writer), or NULL: for the C tests' loopback, as hub_server_workpool. */
hub_workpool_t *hub_server_writer(hub_server_t *server);
/* The server's readers (hub_server_use_readers), or NULL: the same. */
hub_workpool_t *hub_server_readers(hub_server_t *server);
int hub_server_is_tls(hub_server_t *server);

static inline hub_thread_t *hub_req_thread(h2o_req_t *req)
{
    return (hub_thread_t *)req->conn->ctx;
}

#endif
