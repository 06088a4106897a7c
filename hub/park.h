/* A request that waits for store work: parked on its loop while the work runs on the store's readers or writer, and
 * answered by the work's completion back on that loop, unless its client went away meanwhile (the answer is then
 * dropped and the job freed; nothing ever touches a request h2o disposed of). The one mechanism every handler that
 * reads or writes the store uses. */
#ifndef HUB_PARK_H
#define HUB_PARK_H

#include <h2o.h>
#include "hub/route.h"
#include "hub/store.h"
#include "hub/workpool.h"

/* The parked state of a request, a member of the handler's job. */
typedef struct st_hub_park_t hub_park_t;
struct st_hub_park_t {
    h2o_req_t *req;     /* while parked: the request, NULL once its client went away */
    hub_park_t **guard; /* in req->pool, pointing back here: its dispose callback clears req; NULL when none is needed */
};

/* A job's completion, on the request's loop: arg is the job, ret what its store work came to (hub_park_resume). */
typedef void (*hub_park_done_fn)(void *arg, int ret);

/* Parks req on p and runs fn(txn, arg) in a read transaction (hub/reader.h) on the readers of req's loop, then
 * done(arg, ret) on that loop; without readers (a store whose reads are cheap) fn and done run now, before this returns.
 * p is part of arg, the job, which the caller allocated and done frees; fn runs on another thread and may read or write
 * only what the job owns (copies of the request's values: never req, its pool or its headers). Returns 0 when done will
 * run (or ran), or HUB_E_BUSY when the readers' queue is full: then neither ran, req is not parked, and the caller
 * answers it (hub_park_unavailable) and frees the job. */
int hub_park_read(hub_park_t *p, h2o_req_t *req, int (*fn)(hub_txn_t *txn, void *arg), void *arg, hub_park_done_fn done);

/* hub_park_read after an attempt from memory: try(arg) runs first, here on req's loop; when it returns 1 it did the
 * read's whole work (from what the node holds in memory, each under its own freshness rule, e.g. the client cache's
 * generation), and done(arg, 0) runs now, before this returns, with nothing parked; when it returns 0 the work needs the
 * store (try must then leave the job as it found it) and this is hub_park_read(p, req, fn, arg, done). */
int hub_park_read_try(hub_park_t *p, h2o_req_t *req, int (*try)(void *arg), int (*fn)(hub_txn_t *txn, void *arg), void *arg,
                      hub_park_done_fn done);

/* The same for a write on the store's writer (hub/writer.h: fn runs in a transaction nested in a batch, maybe more than
 * once, and must have no effects outside it; done runs once the batch is durable). Without a writer the write runs now
 * (hub_store_write). */
int hub_park_write(hub_park_t *p, h2o_req_t *req, int (*fn)(hub_txn_t *txn, void *arg), void *arg, hub_park_done_fn done);

/* The same for CPU-heavy work (an Argon2id check, a key generation) on the worker pool behind port (hub/workpool.h):
 * work(arg) runs on a worker, then done(arg, ret) on the loop with ret 0, or HUB_E_CANCELLED when it was dropped unrun.
 * port must not be NULL. Returns 0, or HUB_E_BUSY when the pool's queue is full (nothing runs, req is not parked). */
int hub_park_work(hub_park_t *p, h2o_req_t *req, hub_workport_t *port, hub_work_fn work, void *arg, hub_park_done_fn done);

/* For the work, on its thread: 1 once the parked request's client went away (the work may skip what only an answer
 * would need). */
int hub_park_gone(hub_park_t *p);

/* First thing in done: unparks p and returns the request to answer, or NULL when there is none: its client went away,
 * or ret is HUB_E_CANCELLED (the node stops; the request is not ours to answer any more, and done may be running on
 * another thread than its loop's). Either way p no longer refers to the request: the job may be freed, or parked again
 * for a next step with the request returned. */
h2o_req_t *hub_park_resume(hub_park_t *p, int ret);

/* The answer to a store that cannot serve now: when ret is HUB_E_UNAVAILABLE (its database is unreachable) or
 * HUB_E_BUSY (a queue is full: the return of hub_park_read and hub_park_write; a handler whose own fn returns HUB_E_BUSY
 * for something else maps that first), answers req 503 with Retry-After, as a temporarily_unavailable error object
 * (HUB_STYLE_OAUTH) or a short page (HUB_STYLE_HTML), and returns 1; otherwise returns 0 and sends nothing. */
int hub_park_unavailable(h2o_req_t *req, int ret, hub_style_t style);

#endif
