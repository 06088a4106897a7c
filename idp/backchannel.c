/* Delivers the queued back-channel logouts: a thread of hubd polls the queue and hands signed logout tokens to hub/fetch. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/log.h"
#include "hub/util.h"
#include "idp/backchannel.h"
#include "idp/revocation.h"
#include "idp/mint.h"

#define BATCH 32
#define MAX_BATCHES 8 /* per pass: a mass change (role del of a common role) reaches the fetcher over several passes */
#define DELIVERY_TIMEOUT_MS 5000
#define DELIVERY_RETRIES 5
#define DELIVERY_RETRY_DELAY_MS 500
#define RETRY_BACKOFF_S 2 /* doubled per failed attempt */

struct st_idp_backchannel_t {
    idp_t *idp;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int stopping;
};

int idp_backchannel_post(idp_t *idp, const char *client_id, const char *uri, const char *sub, const char *sid)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded"};
    char *jwt = NULL, *body = NULL;
    size_t len;
    int ret;

    if (idp->fetcher == NULL)
        return HUB_E_INVAL;
    if ((ret = idp_mint_logout_token(idp, client_id, sub, sid, &jwt)) != 0)
        return ret;
    /* a compact JWS is base64url and dots only: nothing to percent-encode */
    len = strlen("logout_token=") + strlen(jwt);
    if ((body = malloc(len + 1)) == NULL)
        h2o_fatal("out of memory");
    snprintf(body, len + 1, "logout_token=%s", jwt);
    hub_fetch_req_t fr = {.method = "POST",
                          .url = uri,
                          .headers = headers,
                          .nheaders = 1,
                          .body = body,
                          .body_len = len,
                          .timeout_ms = DELIVERY_TIMEOUT_MS,
                          .retries = DELIVERY_RETRIES,
                          .retry_delay_ms = DELIVERY_RETRY_DELAY_MS,
                          .public_only = 1}; /* never a link-local or metadata address, however the name resolves */
    ret = hub_fetch_start(idp->fetcher, NULL, &fr, NULL, NULL);
    free(body);
    free(jwt);
    return ret;
}

/* ---- one pass ---- */

typedef struct {
    char *client_id, *uri;
} target_t;

typedef struct {
    target_t *v;
    size_t n, cap;
} targets_t;

static int collect_target(void *arg, const idp_client_t *c)
{
    targets_t *t = arg;

    /* a disabled client (a revoked node) is no longer told anything about users */
    if (!c->enabled || c->backchannel_logout_uri == NULL || c->backchannel_logout_uri[0] == '\0')
        return 0;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        if ((t->v = realloc(t->v, t->cap * sizeof(*t->v))) == NULL)
            h2o_fatal("out of memory");
    }
    t->v[t->n].client_id = hub_strdup(c->client_id);
    t->v[t->n++].uri = hub_strdup(c->backchannel_logout_uri);
    return 0;
}

static void targets_dispose(targets_t *t)
{
    for (size_t i = 0; i != t->n; ++i) {
        free(t->v[i].client_id);
        free(t->v[i].uri);
    }
    free(t->v);
}

typedef enum { JOB_KEEP = 0, JOB_DONE, JOB_RETRY, JOB_DROP } job_outcome_t;

typedef struct {
    idp_logout_job_t jobs[BATCH];
    job_outcome_t outcome[BATCH];
    size_t n;
    uint64_t now;
} batch_t;

/* Reads the due jobs and, when there are any, the clients to tell. */
static int read_batch(idp_t *idp, batch_t *b, targets_t *t)
{
    hub_txn_t *txn = NULL;
    int ret;

    if ((ret = hub_store_read_begin(idp->store, &txn)) != 0)
        return ret;
    if ((ret = idp_logout_queue_due(txn, b->now, b->jobs, BATCH, &b->n)) == 0 && b->n != 0)
        ret = idp_client_each(txn, collect_target, t);
    hub_store_read_end(txn);
    return ret;
}

/* Hands one job to every target. HUB_E_INVAL when the fetcher refused (stop the pass), another code when a token could
 * not be signed. */
static int hand_over(idp_t *idp, const idp_logout_job_t *job, const targets_t *t)
{
    int ret;

    for (size_t i = 0; i != t->n; ++i)
        if ((ret = idp_backchannel_post(idp, t->v[i].client_id, t->v[i].uri, job->sub, job->sid)) != 0)
            return ret;
    hub_log_info("back-channel logout (%s): handed to %zu client%s",
                 job->reason != NULL && job->reason[0] != '\0' ? job->reason : "-", t->n, t->n == 1 ? "" : "s");
    return 0;
}

/* Applies the outcomes in one write transaction (may run again when the map grows: every step is idempotent). */
static int settle_txn(hub_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    int ret = 0;

    for (size_t i = 0; ret == 0 && i != b->n; ++i) {
        const idp_logout_job_t *job = &b->jobs[i];
        switch (b->outcome[i]) {
        case JOB_DONE:
        case JOB_DROP:
            if ((ret = idp_logout_queue_done(txn, job->key)) == HUB_E_NOTFOUND)
                ret = 0;
            break;
        case JOB_RETRY:
            if ((ret = idp_logout_queue_retry(txn, job, b->now + ((uint64_t)RETRY_BACKOFF_S << job->attempts))) == HUB_E_NOTFOUND)
                ret = 0;
            break;
        case JOB_KEEP:
            break;
        }
    }
    return ret;
}

/* Delivers one batch; *more is set when the batch was full. */
static int drain_batch(idp_t *idp, size_t *done, int *more)
{
    batch_t *b = calloc(1, sizeof(*b));
    targets_t t = {NULL, 0, 0};
    int ret, refused = 0;

    if (b == NULL)
        h2o_fatal("out of memory");
    b->now = hub_now();
    if ((ret = read_batch(idp, b, &t)) != 0 || b->n == 0)
        goto out;
    for (size_t i = 0; i != b->n && !refused; ++i) {
        int r = hand_over(idp, &b->jobs[i], &t);
        if (r == HUB_E_INVAL) {
            refused = 1; /* the fetcher is stopping: this job and the rest wait for the next hubd */
        } else if (r == 0) {
            b->outcome[i] = JOB_DONE;
            ++*done;
        } else if (b->jobs[i].attempts + 1 >= IDP_BACKCHANNEL_MAX_ATTEMPTS) {
            b->outcome[i] = JOB_DROP;
            hub_log_error("back-channel logout (%s): dropped after %u failed attempts: %s", b->jobs[i].reason,
                          b->jobs[i].attempts + 1, hub_strerror(r));
        } else {
            b->outcome[i] = JOB_RETRY;
            hub_log_warn("back-channel logout (%s): cannot sign a logout token (will retry): %s", b->jobs[i].reason,
                         hub_strerror(r));
        }
    }
    ret = hub_store_write(idp->store, settle_txn, b);
    *more = !refused && b->n == BATCH;
out:
    for (size_t i = 0; i != b->n; ++i)
        idp_logout_job_dispose(&b->jobs[i]);
    targets_dispose(&t);
    free(b);
    return ret;
}

int idp_backchannel_drain(idp_t *idp, size_t *done)
{
    size_t n = 0;
    int ret = 0, more;

    for (int i = 0; i != MAX_BATCHES; ++i) {
        more = 0;
        if ((ret = drain_batch(idp, &n, &more)) != 0 || !more)
            break;
    }
    if (done != NULL)
        *done = n;
    return ret;
}

/* ---- the thread ---- */

static void *drain_main(void *arg)
{
    idp_backchannel_t *bc = arg;
    int last_err = 0;

    pthread_mutex_lock(&bc->mutex);
    while (!bc->stopping) {
        struct timespec deadline;
        pthread_mutex_unlock(&bc->mutex);
        int ret = idp_backchannel_drain(bc->idp, NULL);
        if (ret != 0 && ret != last_err) /* once per kind of failure, not every poll */
            hub_log_warn("back-channel logout: cannot read or update the queue: %s", hub_strerror(ret));
        last_err = ret;
        pthread_mutex_lock(&bc->mutex);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += (long)IDP_BACKCHANNEL_POLL_MS * 1000000L;
        deadline.tv_sec += deadline.tv_nsec / 1000000000L;
        deadline.tv_nsec %= 1000000000L;
        while (!bc->stopping && pthread_cond_timedwait(&bc->cond, &bc->mutex, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&bc->mutex);
    return NULL;
}

int idp_backchannel_start(idp_t *idp, idp_backchannel_t **out)
{
    idp_backchannel_t *bc = calloc(1, sizeof(*bc));
    pthread_condattr_t ca;

    if (bc == NULL)
        h2o_fatal("out of memory");
    bc->idp = idp;
    pthread_mutex_init(&bc->mutex, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&bc->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&bc->thread, NULL, drain_main, bc) != 0) {
        pthread_cond_destroy(&bc->cond);
        pthread_mutex_destroy(&bc->mutex);
        free(bc);
        return HUB_E_NOMEM;
    }
    *out = bc;
    return 0;
}

void idp_backchannel_stop(idp_backchannel_t *bc)
{
    if (bc == NULL)
        return;
    pthread_mutex_lock(&bc->mutex);
    bc->stopping = 1;
    pthread_cond_signal(&bc->cond);
    pthread_mutex_unlock(&bc->mutex);
    pthread_join(bc->thread, NULL);
    pthread_cond_destroy(&bc->cond);
    pthread_mutex_destroy(&bc->mutex);
    free(bc);
}
