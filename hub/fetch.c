/* Outbound HTTP(S) on libcurl: one background thread runs every transfer, results come back on an h2o event loop. */
#include "hub/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include "hub/url.h"
#include "hub/util.h"

#define MAX_HEADER_VALUE 1024              /* longer Content-Type / Cache-Control values are ignored */
#define MAX_RETRY_DELAY_MS (3600L * 1000L) /* the doubling stops here */
#define MAX_POLL_MS 1000

/* The request as copied at submit time, plus retry state. */
typedef struct {
    char *method, *url, *body;
    size_t body_len;
    struct curl_slist *headers;
    long timeout_ms;
    int public_only;
    unsigned retries_left;
    long next_delay_ms;
} req_copy_t;

/* The response of the current attempt. */
typedef struct {
    char *buf;
    size_t len, cap;
    int toobig;
    char *content_type, *cache_control;
} resp_acc_t;

typedef struct st_fetch_job_t {
    h2o_linklist_t link; /* in submitted, running or waiting */
    req_copy_t req;
    resp_acc_t acc;
    CURL *easy;
    hub_fetch_port_t *port; /* a reference, or NULL when fire-and-forget */
    hub_fetch_cb cb;
    void *arg;
    uint64_t due_ms; /* when waiting for a retry */
} fetch_job_t;

struct st_hub_fetcher_t {
    pthread_mutex_t mutex;
    pthread_t thread;
    CURLM *multi;
    h2o_linklist_t submitted; /* under mutex */
    int stopping;             /* under mutex */
    h2o_linklist_t running;   /* fetch thread only */
    h2o_linklist_t waiting;   /* fetch thread only, sorted by due_ms */
};

/* Shared by the loop thread and the fetch thread: refs counts the owner plus every transfer bound to the port, so the
 * struct outlives hub_fetch_port_destroy until the last of those transfers ends. */
struct st_hub_fetch_port_t {
    h2o_multithread_receiver_t receiver;
    h2o_multithread_queue_t *queue;
    pthread_mutex_t mutex; /* guards refs and dead; held while sending so destroy can drain safely */
    unsigned refs;
    int dead;
};

typedef struct {
    h2o_multithread_message_t super;
    hub_fetch_cb cb;
    void *arg;
    hub_fetch_res_t res;
} fetch_msg_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        hub_fatal("curl_global_init failed");
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void req_copy_dispose(req_copy_t *r)
{
    free(r->method);
    free(r->url);
    free(r->body);
    curl_slist_free_all(r->headers);
    memset(r, 0, sizeof(*r));
}

/* Validates and deep-copies a request; HUB_E_INVAL for a missing url, a bad method or a header line with CR/LF. */
static int req_copy_init(req_copy_t *r, const hub_fetch_req_t *in)
{
    const char *method = in->method != NULL ? in->method : "GET";
    const unsigned char *m;
    size_t i;
    int ret = HUB_E_INVAL;

    memset(r, 0, sizeof(*r));
    if (in->url == NULL || *method == '\0' || (in->body == NULL && in->body_len > 0) || (in->headers == NULL && in->nheaders > 0))
        goto out;
    for (m = (const unsigned char *)method; *m != '\0'; ++m)
        if (!is_tchar(*m))
            goto out;
    if (strpbrk(in->url, "\r\n") != NULL)
        goto out;
    r->method = hub_strdup(method);
    r->url = hub_strdup(in->url);
    r->body = h2o_mem_alloc(in->body_len + 1);
    if (in->body_len > 0)
        memcpy(r->body, in->body, in->body_len);
    r->body[in->body_len] = '\0';
    r->body_len = in->body_len;
    for (i = 0; i < in->nheaders; ++i) {
        struct curl_slist *l;
        if (in->headers[i] == NULL || strpbrk(in->headers[i], "\r\n") != NULL)
            goto out;
        if ((l = curl_slist_append(r->headers, in->headers[i])) == NULL)
            hub_oom();
        r->headers = l;
    }
    /* never wait for "100 Continue": the peer may not implement it and the timeout is short */
    if ((r->headers = curl_slist_append(r->headers, "Expect:")) == NULL)
        hub_oom();
    r->timeout_ms = in->timeout_ms > 0 ? in->timeout_ms : HUB_FETCH_DEFAULT_TIMEOUT_MS;
    r->public_only = in->public_only;
    r->retries_left = in->retries;
    r->next_delay_ms = in->retry_delay_ms > 0 ? in->retry_delay_ms : 0;
    ret = 0;
out:
    if (ret != 0)
        req_copy_dispose(r);
    return ret;
}

static void acc_reset(resp_acc_t *a)
{
    free(a->buf);
    free(a->content_type);
    free(a->cache_control);
    memset(a, 0, sizeof(*a));
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    resp_acc_t *a = ud;
    size_t n = size * nmemb;

    if (n > HUB_FETCH_MAX_BODY - a->len) {
        a->toobig = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap != 0 ? a->cap : 4096;
        while (cap < a->len + n + 1)
            cap *= 2;
        if (cap > HUB_FETCH_MAX_BODY + 1)
            cap = HUB_FETCH_MAX_BODY + 1;
        a->buf = hub_xrealloc(a->buf, cap);
        a->cap = cap;
    }
    memcpy(a->buf + a->len, ptr, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return n;
}

/* Stores the value of header line (name: value) into *slot when its name matches and *slot is still empty. */
static void capture_header(const char *line, size_t len, const char *name, char **slot)
{
    size_t nlen = strlen(name);
    const char *v;
    size_t vlen;

    if (*slot != NULL || len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return;
    v = line + nlen + 1;
    vlen = len - nlen - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        ++v;
        --vlen;
    }
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        --vlen;
    if (vlen > MAX_HEADER_VALUE || memchr(v, '\0', vlen) != NULL)
        return;
    *slot = hub_xstrndup(v, vlen);
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    resp_acc_t *a = ud;
    size_t n = size * nmemb;

    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        /* a new status line (after an interim 1xx response): forget earlier headers */
        free(a->content_type);
        free(a->cache_control);
        a->content_type = NULL;
        a->cache_control = NULL;
        return n;
    }
    capture_header(ptr, n, "content-type", &a->content_type);
    capture_header(ptr, n, "cache-control", &a->cache_control);
    return n;
}

/* CURLOPT_OPENSOCKETFUNCTION of a public_only transfer: checks the address the name resolved to, so a registered name
 * that points at a metadata service (or is re-pointed there later) gets no connection. */
static curl_socket_t open_public_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    const uint8_t *addr;
    size_t len;

    if (a->family == AF_INET) {
        addr = (const uint8_t *)&((const struct sockaddr_in *)&a->addr)->sin_addr;
        len = 4;
    } else if (a->family == AF_INET6) {
        addr = (const uint8_t *)&((const struct sockaddr_in6 *)&a->addr)->sin6_addr;
        len = 16;
    } else {
        return CURL_SOCKET_BAD;
    }
    if (hub_addr_forbidden(addr, len) != NULL)
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static CURL *easy_create(req_copy_t *r, resp_acc_t *acc, void *priv)
{
    CURL *e;
    CURLcode rc = CURLE_OK;

    if ((e = curl_easy_init()) == NULL)
        return NULL;
    rc |= curl_easy_setopt(e, CURLOPT_URL, r->url);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HUB_FETCH_MAX_BODY);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "hub");
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, acc);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, acc);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, priv);
    if (r->public_only)
        rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_public_socket);
    if (strcmp(r->method, "HEAD") == 0) {
        rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "GET") == 0 && r->body_len == 0) {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        if (r->body_len > 0 || strcmp(r->method, "POST") == 0) {
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        }
        if (strcmp(r->method, "POST") != 0)
            rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (rc != CURLE_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

/* Turns the outcome of one attempt into a result; takes the accumulated buffers (acc is left empty). */
static void build_result(CURL *e, CURLcode rc, resp_acc_t *acc, hub_fetch_res_t *res)
{
    memset(res, 0, sizeof(*res));
    if (rc == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res->status);
        if (acc->buf == NULL)
            acc->buf = hub_strdup("");
        res->body = acc->buf;
        res->body_len = acc->len;
        res->content_type = acc->content_type;
        res->cache_control = acc->cache_control;
        memset(acc, 0, sizeof(*acc));
        return;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
        res->err = HUB_E_TIMEOUT;
    else if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR && acc->toobig))
        res->err = HUB_E_TOOBIG;
    else
        res->err = HUB_E_NET;
    acc_reset(acc);
    res->body = hub_strdup("");
}

static int should_retry(const req_copy_t *r, const hub_fetch_res_t *res)
{
    if (r->retries_left == 0)
        return 0;
    return res->err == HUB_E_TIMEOUT || res->err == HUB_E_NET || (res->err == 0 && res->status >= 500);
}

/* Consumes one retry and returns the delay before it. */
static long take_retry(req_copy_t *r)
{
    long delay = r->next_delay_ms;

    --r->retries_left;
    r->next_delay_ms = delay > MAX_RETRY_DELAY_MS / 2 ? MAX_RETRY_DELAY_MS : delay * 2;
    return delay;
}

void hub_fetch_res_dispose(hub_fetch_res_t *res)
{
    free(res->body);
    free(res->content_type);
    free(res->cache_control);
    memset(res, 0, sizeof(*res));
}

/* ---- ports ---- */

static void port_ref(hub_fetch_port_t *p)
{
    pthread_mutex_lock(&p->mutex);
    ++p->refs;
    pthread_mutex_unlock(&p->mutex);
}

static void port_unref(hub_fetch_port_t *p)
{
    int last;

    pthread_mutex_lock(&p->mutex);
    last = --p->refs == 0;
    pthread_mutex_unlock(&p->mutex);
    if (last) {
        pthread_mutex_destroy(&p->mutex);
        free(p);
    }
}

static void msg_free(fetch_msg_t *m)
{
    hub_fetch_res_dispose(&m->res);
    free(m);
}

/* Runs on the loop thread: h2o hands over every message queued since the last wake-up. */
static void on_port_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        fetch_msg_t *m = H2O_STRUCT_FROM_MEMBER(fetch_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        m->cb(m->arg, &m->res);
        msg_free(m);
    }
}

hub_fetch_port_t *hub_fetch_port_create(hub_fetcher_t *f, h2o_loop_t *loop)
{
    hub_fetch_port_t *p = h2o_mem_alloc(sizeof(*p));

    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mutex, NULL);
    p->refs = 1;
    p->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(p->queue, &p->receiver, on_port_messages);
    return p;
}

void hub_fetch_port_destroy(hub_fetch_port_t *p)
{
    pthread_mutex_lock(&p->mutex);
    p->dead = 1;
    pthread_mutex_unlock(&p->mutex);
    /* senders check dead under the mutex, so nobody else touches the receiver from here on */
    while (!h2o_linklist_is_empty(&p->receiver._messages)) {
        fetch_msg_t *m = H2O_STRUCT_FROM_MEMBER(fetch_msg_t, super.link, p->receiver._messages.next);
        h2o_linklist_unlink(&m->super.link);
        msg_free(m);
    }
    h2o_multithread_unregister_receiver(p->queue, &p->receiver);
    h2o_multithread_destroy_queue(p->queue);
    p->queue = NULL;
    port_unref(p);
}

int hub_fetch_port_post(hub_fetch_port_t *p, hub_fetch_cb cb, void *arg)
{
    fetch_msg_t *m = h2o_mem_alloc(sizeof(*m));
    int ret = HUB_E_INVAL;

    memset(m, 0, sizeof(*m));
    m->cb = cb;
    m->arg = arg;
    m->res.body = h2o_mem_alloc(1); /* never NULL, as for a transfer */
    m->res.body[0] = '\0';
    pthread_mutex_lock(&p->mutex);
    if (!p->dead) {
        h2o_multithread_send_message(&p->receiver, &m->super);
        m = NULL;
        ret = 0;
    }
    pthread_mutex_unlock(&p->mutex);
    if (m != NULL)
        msg_free(m);
    return ret;
}

/* Hands a result to the job's port (or drops it) and frees the job; fetch thread. */
static void job_deliver(fetch_job_t *job, hub_fetch_res_t *res)
{
    fetch_msg_t *m;

    if (job->port == NULL) {
        hub_fetch_res_dispose(res);
        return;
    }
    m = h2o_mem_alloc(sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->cb = job->cb;
    m->arg = job->arg;
    m->res = *res;
    memset(res, 0, sizeof(*res));
    pthread_mutex_lock(&job->port->mutex);
    if (!job->port->dead) {
        h2o_multithread_send_message(&job->port->receiver, &m->super);
        m = NULL;
    }
    pthread_mutex_unlock(&job->port->mutex);
    if (m != NULL)
        msg_free(m);
}

static void job_free(fetch_job_t *job)
{
    if (job->easy != NULL)
        curl_easy_cleanup(job->easy);
    req_copy_dispose(&job->req);
    acc_reset(&job->acc);
    if (job->port != NULL)
        port_unref(job->port);
    free(job);
}

/* ---- the fetch thread ---- */

static void job_complete(hub_fetcher_t *f, fetch_job_t *job, CURLcode rc);

static void job_start(hub_fetcher_t *f, fetch_job_t *job)
{
    acc_reset(&job->acc);
    if (job->easy == NULL && (job->easy = easy_create(&job->req, &job->acc, job)) == NULL) {
        job_complete(f, job, CURLE_FAILED_INIT);
        return;
    }
    if (curl_multi_add_handle(f->multi, job->easy) != CURLM_OK) {
        job_complete(f, job, CURLE_FAILED_INIT);
        return;
    }
    h2o_linklist_insert(&f->running, &job->link);
}

static void job_complete(hub_fetcher_t *f, fetch_job_t *job, CURLcode rc)
{
    hub_fetch_res_t res;
    h2o_linklist_t *pos;

    build_result(job->easy, rc, &job->acc, &res);
    if (!should_retry(&job->req, &res)) {
        job_deliver(job, &res);
        job_free(job);
        return;
    }
    hub_fetch_res_dispose(&res);
    job->due_ms = now_ms() + (uint64_t)take_retry(&job->req);
    for (pos = f->waiting.next; pos != &f->waiting; pos = pos->next)
        if (H2O_STRUCT_FROM_MEMBER(fetch_job_t, link, pos)->due_ms > job->due_ms)
            break;
    h2o_linklist_insert(pos, &job->link);
}

static void collect_done(hub_fetcher_t *f)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        fetch_job_t *job = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&job);
        curl_multi_remove_handle(f->multi, e); /* invalidates msg */
        h2o_linklist_unlink(&job->link);
        job_complete(f, job, rc);
    }
}

static void free_list(h2o_linklist_t *list, CURLM *multi)
{
    while (!h2o_linklist_is_empty(list)) {
        fetch_job_t *job = H2O_STRUCT_FROM_MEMBER(fetch_job_t, link, list->next);
        h2o_linklist_unlink(&job->link);
        if (multi != NULL)
            curl_multi_remove_handle(multi, job->easy);
        job_free(job);
    }
}

static void *fetch_thread_main(void *arg)
{
    hub_fetcher_t *f = arg;
    h2o_linklist_t incoming;
    int still_running;

    for (;;) {
        uint64_t now;
        long timeout = MAX_POLL_MS;

        h2o_linklist_init_anchor(&incoming);
        pthread_mutex_lock(&f->mutex);
        if (f->stopping) {
            pthread_mutex_unlock(&f->mutex);
            break;
        }
        h2o_linklist_insert_list(&incoming, &f->submitted);
        pthread_mutex_unlock(&f->mutex);

        while (!h2o_linklist_is_empty(&incoming)) {
            fetch_job_t *job = H2O_STRUCT_FROM_MEMBER(fetch_job_t, link, incoming.next);
            h2o_linklist_unlink(&job->link);
            job_start(f, job);
        }
        now = now_ms();
        while (!h2o_linklist_is_empty(&f->waiting)) {
            fetch_job_t *job = H2O_STRUCT_FROM_MEMBER(fetch_job_t, link, f->waiting.next);
            if (job->due_ms > now)
                break;
            h2o_linklist_unlink(&job->link);
            job_start(f, job);
        }
        curl_multi_perform(f->multi, &still_running);
        collect_done(f);

        if (!h2o_linklist_is_empty(&f->waiting)) {
            uint64_t due = H2O_STRUCT_FROM_MEMBER(fetch_job_t, link, f->waiting.next)->due_ms;
            now = now_ms();
            timeout = due <= now ? 0 : (due - now < MAX_POLL_MS ? (long)(due - now) : MAX_POLL_MS);
        }
        curl_multi_poll(f->multi, NULL, 0, (int)timeout, NULL);
    }

    /* cancelled: no callbacks */
    free_list(&f->running, f->multi);
    free_list(&f->waiting, NULL);
    pthread_mutex_lock(&f->mutex);
    free_list(&f->submitted, NULL);
    pthread_mutex_unlock(&f->mutex);
    return NULL;
}

int hub_fetcher_create(hub_fetcher_t **out)
{
    hub_fetcher_t *f;
    int ret = 0;

    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    f = h2o_mem_alloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mutex, NULL);
    h2o_linklist_init_anchor(&f->submitted);
    h2o_linklist_init_anchor(&f->running);
    h2o_linklist_init_anchor(&f->waiting);
    if ((f->multi = curl_multi_init()) == NULL) {
        ret = HUB_E_NOMEM;
        goto out;
    }
    if (pthread_create(&f->thread, NULL, fetch_thread_main, f) != 0) {
        ret = HUB_E_IO;
        goto out;
    }
    *out = f;
    f = NULL;
out:
    if (f != NULL) {
        if (f->multi != NULL)
            curl_multi_cleanup(f->multi);
        pthread_mutex_destroy(&f->mutex);
        free(f);
    }
    return ret;
}

void hub_fetcher_destroy(hub_fetcher_t *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mutex);
    f->stopping = 1;
    curl_multi_wakeup(f->multi);
    pthread_mutex_unlock(&f->mutex);
    pthread_join(f->thread, NULL);
    curl_multi_cleanup(f->multi);
    pthread_mutex_destroy(&f->mutex);
    free(f);
}

int hub_fetch_start(hub_fetcher_t *f, hub_fetch_port_t *port, const hub_fetch_req_t *req, hub_fetch_cb cb, void *arg)
{
    fetch_job_t *job;
    int ret;

    if (cb != NULL && port == NULL)
        return HUB_E_INVAL;
    if (cb == NULL)
        port = NULL; /* nobody to tell */
    job = h2o_mem_alloc(sizeof(*job));
    memset(job, 0, sizeof(*job));
    if ((ret = req_copy_init(&job->req, req)) != 0) {
        free(job);
        return ret;
    }
    job->cb = cb;
    job->arg = arg;
    if (port != NULL) {
        port_ref(port);
        job->port = port;
    }
    pthread_mutex_lock(&f->mutex);
    if (f->stopping) {
        pthread_mutex_unlock(&f->mutex);
        job_free(job);
        return HUB_E_INVAL;
    }
    h2o_linklist_insert(&f->submitted, &job->link);
    curl_multi_wakeup(f->multi);
    pthread_mutex_unlock(&f->mutex);
    return 0;
}

int hub_fetch_sync(const hub_fetch_req_t *req, hub_fetch_res_t *res)
{
    req_copy_t r;
    resp_acc_t acc = {NULL};
    CURL *e = NULL;

    memset(res, 0, sizeof(*res));
    pthread_once(&curl_once, curl_init_once);
    if ((res->err = req_copy_init(&r, req)) != 0) {
        res->body = hub_strdup("");
        return res->err;
    }
    if ((e = easy_create(&r, &acc, NULL)) == NULL) {
        res->err = HUB_E_NET;
        res->body = hub_strdup("");
        goto out;
    }
    for (;;) {
        CURLcode rc;
        acc_reset(&acc);
        rc = curl_easy_perform(e);
        build_result(e, rc, &acc, res);
        if (!should_retry(&r, res))
            break;
        hub_fetch_res_dispose(res);
        long delay = take_retry(&r);
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
out:
    if (e != NULL)
        curl_easy_cleanup(e);
    acc_reset(&acc);
    req_copy_dispose(&r);
    return res->err;
}
