/* Parked requests (hub/park.h): a guard in the request's pool between the request and the job that answers it. */
#include "hub/park.h"

#include "hub/err.h"
#include "hub/log.h"
#include "hub/reader.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "hub/util.h"
#include "hub/writer.h"

/* h2o disposes of the request's pool (its client went away, or the answer was sent and the connection moved on). */
static void on_guard_dispose(void *arg)
{
    hub_park_t *p = *(hub_park_t **)arg;

    if (p != NULL)
        __atomic_store_n(&p->req, NULL, __ATOMIC_RELEASE); /* a worker may be reading it (hub_park_gone) */
}

/* Ties p to req for work that completes later on a port: the guard lives in req's pool. */
static void park(hub_park_t *p, h2o_req_t *req, hub_workport_t *port)
{
    p->req = req;
    p->guard = NULL;
    if (port == NULL)
        return; /* the work runs now: req cannot go away before done */
    p->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*p->guard), on_guard_dispose);
    *p->guard = p;
}

/* Undoes park after a refused submission. */
static void unpark(hub_park_t *p)
{
    if (p->guard != NULL)
        *p->guard = NULL;
    p->guard = NULL;
    p->req = NULL;
}

int hub_park_read(hub_park_t *p, h2o_req_t *req, int (*fn)(hub_txn_t *txn, void *arg), void *arg, hub_park_done_fn done)
{
    hub_thread_t *thr = hub_req_thread(req);
    int ret;

    park(p, req, thr->read_port);
    if ((ret = hub_store_read_async(hub_server_store(thr->server), thr->read_port, fn, arg, done)) != 0) {
        unpark(p);
        hub_log_warn("store: too many reads waiting; a request refused");
    }
    return ret;
}

int hub_park_read_try(hub_park_t *p, h2o_req_t *req, int (*try)(void *arg), int (*fn)(hub_txn_t *txn, void *arg), void *arg,
                      hub_park_done_fn done)
{
    if (!try(arg))
        return hub_park_read(p, req, fn, arg, done);
    park(p, req, NULL); /* done runs now: hub_park_resume hands it req */
    done(arg, 0);
    return 0;
}

int hub_park_write(hub_park_t *p, h2o_req_t *req, int (*fn)(hub_txn_t *txn, void *arg), void *arg, hub_park_done_fn done)
{
    hub_thread_t *thr = hub_req_thread(req);
    int ret;

    park(p, req, thr->write_port);
    if ((ret = hub_store_write_async(hub_server_store(thr->server), thr->write_port, fn, arg, done)) != 0) {
        unpark(p);
        hub_log_warn("store: too many writes waiting; a request refused");
    }
    return ret;
}

/* A job of a work pool (hub_park_work): its completion goes to the park's kind of done. */
typedef struct st_park_work_t {
    hub_work_fn work;
    hub_park_done_fn done;
    void *arg;
} park_work_t;

static void run_work(void *arg)
{
    park_work_t *w = arg;

    w->work(w->arg);
}

static void on_work_done(void *arg, int cancelled)
{
    park_work_t w = *(park_work_t *)arg;

    free(arg);
    w.done(w.arg, cancelled ? HUB_E_CANCELLED : 0);
}

int hub_park_work(hub_park_t *p, h2o_req_t *req, hub_workport_t *port, hub_work_fn work, void *arg, hub_park_done_fn done)
{
    park_work_t *w = hub_xcalloc(1, sizeof(*w));
    int ret;

    *w = (park_work_t){work, done, arg};
    park(p, req, port);
    if ((ret = hub_work_submit(port, run_work, on_work_done, w)) != 0) {
        free(w);
        unpark(p);
    }
    return ret;
}

int hub_park_gone(hub_park_t *p)
{
    return __atomic_load_n(&p->req, __ATOMIC_ACQUIRE) == NULL;
}

h2o_req_t *hub_park_resume(hub_park_t *p, int ret)
{
    h2o_req_t *req = __atomic_load_n(&p->req, __ATOMIC_ACQUIRE);

    /* A request still there owns the guard: it must not call back into a job about to be freed. On HUB_E_CANCELLED
     * this may run on the thread stopping the node, after the loop's thread ended: the guard is nobody else's then. */
    if (req != NULL && p->guard != NULL)
        *p->guard = NULL;
    p->guard = NULL;
    p->req = NULL;
    return ret == HUB_E_CANCELLED ? NULL : req;
}

int hub_park_unavailable(h2o_req_t *req, int ret, hub_style_t style)
{
    if (ret != HUB_E_UNAVAILABLE && ret != HUB_E_BUSY)
        return 0;
    hub_route_send_unavailable(req, style);
    return 1;
}
