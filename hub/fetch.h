/* Outbound HTTP(S) on libcurl: one background thread runs every transfer, results come back on an h2o event loop. */
#ifndef HUB_FETCH_H
#define HUB_FETCH_H

#include <h2o.h>
#include <stddef.h>

#include "hub/err.h"

#define HUB_FETCH_DEFAULT_TIMEOUT_MS 5000
#define HUB_FETCH_MAX_BODY (1024 * 1024) /* larger response bodies fail with HUB_E_TOOBIG */

/* A request. Everything (strings, headers, body) is copied when it is submitted, so the caller may free it right away. */
typedef struct {
    const char *method;         /* NULL = "GET" */
    const char *url;            /* http:// or https:// only; redirects are never followed */
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const char *body; /* may be NULL; sent for any method when body_len > 0 or method is POST */
    size_t body_len;
    long timeout_ms;     /* whole transfer, per attempt; <= 0 = HUB_FETCH_DEFAULT_TIMEOUT_MS */
    unsigned retries;    /* extra attempts after a network error, a timeout or a 5xx status */
    long retry_delay_ms; /* delay before the first retry, doubled for each further retry */
    int public_only;     /* never connect to a link-local, unspecified or metadata address (hub_addr_forbidden), whatever
                            name resolved to it: for URLs a client or node registered */
} hub_fetch_req_t;

/* A result. err is 0 when an HTTP response arrived (whatever its status), else HUB_E_TIMEOUT, HUB_E_NET or HUB_E_TOOBIG
 * (body over HUB_FETCH_MAX_BODY). body is never NULL and is NUL-terminated (empty unless err == 0); content_type and
 * cache_control are NUL-terminated header values or NULL when absent. status is 0 when no response arrived. */
typedef struct {
    int err;
    long status;
    char *body;
    size_t body_len;
    char *content_type;
    char *cache_control;
} hub_fetch_res_t;

typedef struct st_hub_fetcher_t hub_fetcher_t;
typedef struct st_hub_fetch_port_t hub_fetch_port_t;

/* Called exactly once per transfer, on the thread of the port's event loop (inside h2o_evloop_run). res and its buffers
 * are freed when the callback returns: copy what must outlive it. Not called for transfers cancelled by
 * hub_fetcher_destroy, nor for results still undelivered when their port is destroyed. */
typedef void (*hub_fetch_cb)(void *arg, const hub_fetch_res_t *res);

/* Starts the fetch thread. Returns 0 and *out, or HUB_E_NOMEM / HUB_E_IO. */
int hub_fetcher_create(hub_fetcher_t **out);

/* Cancels every pending transfer and retry timer, joins the thread and frees the fetcher. No callback of a cancelled
 * transfer runs after it returns (results already handed to a port are still delivered by that port's loop). Ports may be
 * destroyed before or after the fetcher. Must not be called from a fetch callback. */
void hub_fetcher_destroy(hub_fetcher_t *f);

/* Binds f to an event loop: results of transfers started with this port are delivered on that loop's thread. Call from the
 * loop's thread. Returns NULL only when out of memory. */
hub_fetch_port_t *hub_fetch_port_create(hub_fetcher_t *f, h2o_loop_t *loop);

/* Unbinds the port; call from the loop's thread, not from inside a fetch callback. Transfers still running for this port
 * continue but their results are discarded, and results already queued are dropped: no callback of this port runs after
 * it returns. The loop must run once more (or be destroyed) to release the queue's socket. */
void hub_fetch_port_destroy(hub_fetch_port_t *p);

/* Queues cb(arg, res) to run on the port's loop like a transfer's result, without a transfer (res->err and res->status
 * are 0, the body empty): how another thread hands work back to a loop. Thread-safe, never blocks. The caller must know
 * that the port has not been destroyed yet. Returns 0, or HUB_E_INVAL when the port is being destroyed (cb never runs). */
int hub_fetch_port_post(hub_fetch_port_t *p, hub_fetch_cb cb, void *arg);

/* Submits a transfer; thread-safe, never blocks on the network. cb(arg, res) is called later on port's loop. With
 * port == NULL and cb == NULL the transfer is fire-and-forget (its result is discarded, retries still apply). Retries
 * wait in the fetch thread's timer list without holding up other transfers. Returns 0, or HUB_E_INVAL (no url, cb without
 * port, fetcher shutting down). */
int hub_fetch_start(hub_fetcher_t *f, hub_fetch_port_t *port, const hub_fetch_req_t *req, hub_fetch_cb cb, void *arg);

/* A blocking transfer (with retries) for start-up and tools; never call it on an event loop thread. Fills *res (release
 * with hub_fetch_res_dispose) and returns res->err. */
int hub_fetch_sync(const hub_fetch_req_t *req, hub_fetch_res_t *res);

/* Frees the buffers of a result filled by hub_fetch_sync and clears it. Safe on a zeroed result. */
void hub_fetch_res_dispose(hub_fetch_res_t *res);

#endif
