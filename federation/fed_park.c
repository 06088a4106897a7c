/* Parked requests of the secondary (fed_park.h): lines of waiting requests, each woken on its own loop. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_park.h"
#include "hub/fetch.h"
#include "hub/server.h"
#include "hub/util.h"

/* The requests of one loop thread that were released and go on at its next wake-up. */
typedef struct st_park_loop_t {
    fed_park_t *park;
    hub_fetch_port_t *port; /* under the mutex: the loop's queue, where a release posts the wake-up */
    h2o_linklist_t ready;   /* under the mutex */
    int posted;             /* under the mutex: a wake-up is queued and has not run yet */
} park_loop_t;

struct st_fed_park_t {
    pthread_mutex_t mutex;
    size_t nloops;
    park_loop_t loops[];
};

/* A parked request, in its req->pool: the pool's release takes it off every list. */
typedef struct st_parked_t {
    h2o_linklist_t link;       /* under the mutex: in line->waiting, then (released) in loop->ready */
    h2o_timeout_entry_t timer; /* the loop's one-second timeout, or its zero timeout */
    park_loop_t *loop;
    fed_park_line_t *line; /* under the mutex: while in line->waiting, else NULL */
    h2o_req_t *req;
    uint64_t ticket;
    unsigned ticks_left;
    fed_resume_cb resume;
    void *data;
} parked_t;

fed_park_t *fed_park_create(size_t nloops)
{
    fed_park_t *p = hub_xcalloc(1, sizeof(*p) + nloops * sizeof(p->loops[0]));
    size_t i;

    pthread_mutex_init(&p->mutex, NULL);
    p->nloops = nloops;
    for (i = 0; i != nloops; ++i) {
        p->loops[i].park = p;
        h2o_linklist_init_anchor(&p->loops[i].ready);
    }
    return p;
}

void fed_park_destroy(fed_park_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mutex);
    free(p);
}

void fed_park_line_init(fed_park_line_t *line, size_t max)
{
    memset(line, 0, sizeof(*line));
    h2o_linklist_init_anchor(&line->waiting);
    line->max = max;
}

/* Takes w off the list that holds it; 1 when one did. gave_up marks its line when w was still waiting there. */
static int take(parked_t *w, int gave_up)
{
    fed_park_t *p = w->loop->park;
    int taken = 0;

    pthread_mutex_lock(&p->mutex);
    if (h2o_linklist_is_linked(&w->link)) {
        h2o_linklist_unlink(&w->link);
        taken = 1;
    }
    if (w->line != NULL) {
        --w->line->n;
        w->line->gave_up |= gave_up;
        w->line = NULL;
    }
    pthread_mutex_unlock(&p->mutex);
    return taken;
}

/* Lets w's request go on; its loop thread, w on no list. w may be freed by resume (the request may end in it). */
static void resume_now(parked_t *w)
{
    fed_resume_cb resume = w->resume;

    if (h2o_timeout_is_linked(&w->timer))
        h2o_timeout_unlink(&w->timer);
    w->resume = NULL;
    if (resume != NULL)
        resume(w->req, w->data);
}

/* The client went away (or the request ended): nothing may resume it any more. */
static void on_dispose(void *arg)
{
    parked_t *w = arg;
    take(w, 0);
    if (h2o_timeout_is_linked(&w->timer))
        h2o_timeout_unlink(&w->timer);
}

static void on_timer(h2o_timeout_entry_t *entry)
{
    parked_t *w = H2O_STRUCT_FROM_MEMBER(parked_t, timer, entry);
    fed_park_t *p = w->loop->park;
    int waiting;

    pthread_mutex_lock(&p->mutex);
    waiting = w->line != NULL;
    pthread_mutex_unlock(&p->mutex);
    if (waiting && w->ticks_left != 0 && --w->ticks_left != 0) {
        h2o_timeout_link(w->req->conn->ctx->loop, &w->req->conn->ctx->one_sec_timeout, &w->timer);
        return;
    }
    take(w, waiting); /* out of time, released and not woken yet, or a ticket reached already */
    resume_now(w);
}

/* Posted to a loop with released requests: they go on here. */
static void on_wake(void *arg, const hub_fetch_res_t *res)
{
    park_loop_t *loop = arg;
    fed_park_t *p = loop->park;
    (void)res;

    pthread_mutex_lock(&p->mutex);
    loop->posted = 0;
    pthread_mutex_unlock(&p->mutex);
    for (;;) {
        parked_t *w = NULL;
        pthread_mutex_lock(&p->mutex);
        if (!h2o_linklist_is_empty(&loop->ready)) {
            w = H2O_STRUCT_FROM_MEMBER(parked_t, link, loop->ready.next);
            h2o_linklist_unlink(&w->link);
        }
        pthread_mutex_unlock(&p->mutex);
        if (w == NULL)
            break;
        resume_now(w);
    }
}

int fed_park_wait(fed_park_t *p, fed_park_line_t *line, uint64_t ticket, h2o_req_t *req, unsigned ms, fed_resume_cb resume,
                  void *data)
{
    hub_thread_t *thr = hub_req_thread(req);
    h2o_context_t *ctx = req->conn->ctx;
    parked_t *w;
    int soon;

    if (resume == NULL || thr->index >= p->nloops || thr->fetch_port == NULL)
        return 0;
    pthread_mutex_lock(&p->mutex);
    if (line->max != 0 && line->n >= line->max) {
        pthread_mutex_unlock(&p->mutex);
        return 0;
    }
    w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), on_dispose);
    memset(w, 0, sizeof(*w));
    w->loop = &p->loops[thr->index];
    w->loop->port = thr->fetch_port;
    w->req = req;
    w->ticket = ticket;
    w->resume = resume;
    w->data = data;
    w->timer.cb = on_timer;
    /* compared under the mutex a release holds: a ticket is either reached here or seen by the release */
    soon = ticket <= line->reached;
    if (!soon) {
        w->line = line;
        h2o_linklist_insert(&line->waiting, &w->link);
        ++line->n;
    }
    w->ticks_left = soon ? 0 : (ms + 999) / 1000;
    pthread_mutex_unlock(&p->mutex);
    h2o_timeout_link(ctx->loop, soon ? &ctx->zero_timeout : &ctx->one_sec_timeout, &w->timer);
    return 1;
}

void fed_park_release(fed_park_t *p, fed_park_line_t *line, uint64_t upto)
{
    h2o_linklist_t *l, *next;
    size_t i;

    pthread_mutex_lock(&p->mutex);
    if (upto > line->reached)
        line->reached = upto;
    for (l = line->waiting.next; l != &line->waiting; l = next) {
        parked_t *w = H2O_STRUCT_FROM_MEMBER(parked_t, link, l);
        next = l->next;
        if (w->ticket > upto)
            continue;
        h2o_linklist_unlink(&w->link);
        --line->n;
        w->line = NULL;
        h2o_linklist_insert(&w->loop->ready, &w->link);
    }
    for (i = 0; i != p->nloops; ++i) {
        park_loop_t *loop = &p->loops[i];
        /* a parked request keeps its connection, so its loop and port are alive while it is listed */
        if (!h2o_linklist_is_empty(&loop->ready) && !loop->posted)
            loop->posted = hub_fetch_port_post(loop->port, on_wake, loop) == 0;
    }
    pthread_mutex_unlock(&p->mutex);
}

int fed_park_gave_up(fed_park_t *p, fed_park_line_t *line)
{
    int gave_up;

    pthread_mutex_lock(&p->mutex);
    gave_up = line->gave_up;
    pthread_mutex_unlock(&p->mutex);
    return gave_up;
}
