/* flowload: a load driver for the primary's user flows (a bench helper, not a test). N keep-alive HTTP/1.1 connections
 * on one epoll loop, each running its own flow as a state machine: a fresh sign-in + code flow, an SSO code flow, a
 * refresh chain, introspection or client_credentials. This file holds main, the epoll loop, the connections and the
 * progress of each flow; flowsteps.c builds each step's request and checks its answer, flowopts.c reads the command
 * line, flowreport.c sets the run up and prints the rate, p50/p99 and the failures by kind (any failure: exit 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "tools/bench/flowload.h"

fl_state_t fl;

static volatile sig_atomic_t stop_asked; /* SIGINT or SIGTERM: end the measured window now and report */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

/* ---- small helpers ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void fl_die(const char *fmt, ...)
{
    va_list ap;
    fputs("flowload: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    if ((p = realloc(p, n)) == NULL)
        fl_die("out of memory");
    return p;
}

static void lat_add(fl_lat_t *l, double ms)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = ms;
}

/* ---- failures ---- */

/* Counts one failure of the given kind ("step:reason"). */
static void count_failure(const char *kind)
{
    size_t i;

    fl.failures++;
    for (i = 0; i != fl.nfails; ++i)
        if (strcmp(fl.fails[i].kind, kind) == 0)
            break;
    if (i == fl.nfails) {
        if (fl.nfails == MAX_FAIL_KINDS) {
            i = MAX_FAIL_KINDS - 1; /* the last slot collects whatever does not fit */
            snprintf(fl.fails[i].kind, FAIL_KIND_CAP, "other");
        } else {
            snprintf(fl.fails[fl.nfails++].kind, FAIL_KIND_CAP, "%s", kind);
        }
    }
    fl.fails[i].n++;
}

/* ---- connections ---- */

static void conn_failed(fl_conn_t *c, const char *kind);
static void flow_begin(fl_conn_t *c);

static void ep_set(fl_conn_t *c, int op, int want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u64 = (uint64_t)c->gen << 32 | c->idx};

    if (epoll_ctl(fl.ep, op, c->fd, &ev) != 0)
        fl_die("epoll_ctl: %s", strerror(errno));
    c->want_out = want_out;
}

static void conn_close(fl_conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(fl.ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->gen++;
    c->in_len = c->out_len = c->out_off = 0;
    c->connecting = c->want_out = 0;
}

static int conn_open(fl_conn_t *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fl.o.port)};
    int one = 1;

    if (inet_pton(AF_INET, fl.o.host, &sa.sin_addr) != 1)
        return -1;
    if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->connecting = 1;
    ep_set(c, EPOLL_CTL_ADD, 1);
    return 0;
}

static void conn_flush(fl_conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out)
                ep_set(c, EPOLL_CTL_MOD, 1);
            return;
        } else {
            conn_failed(c, "conn:send");
            return;
        }
    }
    if (c->want_out)
        ep_set(c, EPOLL_CTL_MOD, 0);
}

/* Sends the request of step s (opening a connection first when there is none). */
static void step_start(fl_conn_t *c, fl_step_t s)
{
    char kind[FAIL_KIND_CAP];

    c->step = s;
    c->in_len = 0;
    if (fl_steps[s].build(c) != 0) {
        snprintf(kind, sizeof(kind), "%s:request_too_big", fl_steps[s].name);
        conn_failed(c, kind);
        return;
    }
    c->t_req = now();
    if (c->fd < 0 && conn_open(c) != 0) {
        conn_failed(c, "conn:connect");
        return;
    }
    if (!c->connecting)
        conn_flush(c);
}

/* After a failure the connection is closed and, after a short pause, starts over: from its setup (a new sign-in, a
 * new refresh chain: the old one may have been rotated by the request that failed) or with a new flow. */
static void conn_failed(fl_conn_t *c, const char *kind)
{
    double t = now();

    count_failure(kind);
    conn_close(c);
    if (c->phase == PH_DONE || (fl.running && t >= fl.deadline)) {
        c->phase = PH_DONE;
        return;
    }
    c->after_sleep = fl.mode->setup_first >= 0 ? PH_SETUP : PH_RUN;
    c->phase = PH_SLEEP;
    c->wake_at = t + RETRY_DELAY;
}

/* ---- flows ---- */

static void start_run(double t)
{
    unsigned i;

    fl.running = 1;
    fl.run_start = t;
    fl.measure_start = t + fl.o.warmup;
    fl.deadline = fl.measure_start + fl.o.duration;
    for (i = 0; i != fl.o.conns; ++i)
        if (fl.conns[i].phase == PH_READY) {
            fl.conns[i].phase = PH_RUN;
            flow_begin(&fl.conns[i]);
        }
}

static void flow_begin(fl_conn_t *c)
{
    int setup = c->phase == PH_SETUP;

    if (setup || fl.mode->fresh_browser)
        c->jar.n = 0; /* a new browser */
    c->did_login = 0;
    c->flows++;
    snprintf(c->state, sizeof(c->state), "s%ux%lu", c->idx, c->flows);
    snprintf(c->nonce, sizeof(c->nonce), "n%ux%lu", c->idx, c->flows);
    c->t_flow = now();
    step_start(c, setup ? (fl_step_t)fl.mode->setup_first : fl.mode->run_first);
}

/* A flow ended well at t: counted when it ended inside the measured window, then the next one starts (until the
 * deadline). A setup flow makes the connection ready; the last one ready starts every connection at once. */
static void flow_done(fl_conn_t *c, double t)
{
    double ms = (t - c->t_flow) * 1000;

    if (c->phase == PH_SETUP) {
        fl.setup_flows++;
        if (!c->did_login) {
            conn_failed(c, "setup:no_sign_in");
        } else if (fl.running) {
            c->phase = PH_RUN;
            flow_begin(c);
        } else {
            c->phase = PH_READY;
            if (++fl.ready == fl.o.conns)
                start_run(t);
        }
        return;
    }
    if (fl.mode->must_login >= 0 && c->did_login != fl.mode->must_login) {
        conn_failed(c, fl.mode->must_login ? "flow:no_sign_in" : "flow:signed_in_again");
        return;
    }
    fl.all_flows++;
    if (fl.series != NULL)
        fprintf(fl.series, "%.6f %.3f\n", t, ms);
    if (t >= fl.measure_start && t <= fl.deadline) {
        fl.flows++;
        lat_add(&fl.flow_lat, ms);
    } else if (t > fl.deadline) {
        fl.late++;
    }
    if (t >= fl.deadline) {
        c->phase = PH_DONE;
        conn_close(c);
        return;
    }
    flow_begin(c);
}

static void on_response(fl_conn_t *c, const fh_resp_t *r, size_t used)
{
    double t = now();
    int next;

    if (used != c->in_len) {
        conn_failed(c, "http:extra_bytes"); /* one request at a time: nothing may follow the answer */
        return;
    }
    if (c->phase == PH_RUN && t >= fl.measure_start && t <= fl.deadline) {
        fl.requests++;
        lat_add(&fl.step_lat[c->step], (t - c->t_req) * 1000);
    }
    next = fl_steps[c->step].handle(c, r);
    c->in_len = 0;
    if (r->close)
        conn_close(c);
    if (next == NEXT_FAIL)
        conn_failed(c, fl_fail_kind);
    else if (next == NEXT_DONE)
        flow_done(c, t);
    else
        step_start(c, (fl_step_t)next);
}

static void on_readable(fl_conn_t *c)
{
    char kind[FAIL_KIND_CAP];
    const char *why;
    fh_resp_t r;
    size_t used;
    int ret;

    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (c->phase != PH_SETUP && c->phase != PH_RUN) { /* nothing asked: the server closed an idle connection */
            conn_close(c);
            return;
        }
        if (n <= 0) {
            conn_failed(c, n == 0 ? "conn:closed" : "conn:recv");
            return;
        }
        c->in_len += (size_t)n;
        if ((ret = fh_parse_response(c->in, c->in_len, IN_CAP, &c->jar, &r, &used, &why)) < 0) {
            snprintf(kind, sizeof(kind), "http:%s", why);
            conn_failed(c, kind);
            return;
        }
        if (ret > 0) {
            on_response(c, &r, used);
            return;
        }
    }
}

static void on_event(const struct epoll_event *ev)
{
    fl_conn_t *c = &fl.conns[(uint32_t)ev->data.u64];
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->fd < 0 || c->gen != (uint32_t)(ev->data.u64 >> 32))
        return; /* an event of a socket closed since */
    if (c->connecting && (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            conn_failed(c, "conn:connect");
            return;
        }
        c->connecting = 0;
        conn_flush(c);
        return;
    }
    if ((ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
        on_readable(c);
    else if ((ev->events & EPOLLOUT) != 0)
        conn_flush(c);
}

/* Every few ms: requests past their timeout fail, connections that paused after a failure start again. */
static void tick(double t)
{
    char kind[FAIL_KIND_CAP];
    unsigned i;

    for (i = 0; i != fl.o.conns; ++i) {
        fl_conn_t *c = &fl.conns[i];
        if (c->phase == PH_SLEEP && t >= c->wake_at) {
            c->phase = c->after_sleep;
            if (fl.running && t >= fl.deadline)
                c->phase = PH_DONE;
            else
                flow_begin(c);
        } else if ((c->phase == PH_SETUP || c->phase == PH_RUN) && t - c->t_req > fl.o.timeout) {
            snprintf(kind, sizeof(kind), "%s:timeout", fl_steps[c->step].name);
            conn_failed(c, kind);
        }
    }
}

/* ---- the loop ---- */

/* Ends whatever is still in flight once the grace after the deadline has passed (a request past its timeout). */
static void give_up(void)
{
    char kind[FAIL_KIND_CAP];
    unsigned i;

    for (i = 0; i != fl.o.conns; ++i) {
        fl_conn_t *c = &fl.conns[i];
        if (c->phase == PH_SETUP || c->phase == PH_RUN) {
            snprintf(kind, sizeof(kind), "%s:%s", fl_steps[c->step].name, fl.running ? "timeout" : "setup_timeout");
            count_failure(kind);
        }
        c->phase = PH_DONE;
        conn_close(c);
    }
}

static int all_done(void)
{
    for (unsigned i = 0; i != fl.o.conns; ++i)
        if (fl.conns[i].phase != PH_DONE)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    struct epoll_event evs[256];
    double t, last_tick = 0;
    int n, i, rc;

    fl_parse_args(argc, argv);
    fl_init();
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    signal(SIGPIPE, SIG_IGN);
    fl.start = now();
    if (fl.ready == 0 && fl.mode->setup_first < 0) {
        fl.ready = fl.o.conns;
        start_run(fl.start);
    } else {
        for (unsigned k = 0; k != fl.o.conns; ++k)
            flow_begin(&fl.conns[k]);
    }
    for (;;) {
        if ((n = epoll_wait(fl.ep, evs, 256, 5)) < 0 && errno != EINTR)
            fl_die("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; ++i)
            on_event(&evs[i]);
        t = now();
        if (t - last_tick >= 0.005) {
            tick(t);
            last_tick = t;
        }
        if (stop_asked && fl.running && t < fl.deadline) {
            fl.o.duration = t > fl.measure_start ? t - fl.measure_start : 1e-9;
            fl.deadline = t;
        }
        if (stop_asked && !fl.running) {
            give_up();
            break;
        }
        for (int w = 0; w != 2; ++w)
            if (fl.running && !fl.sampled[w] && t >= (w == 0 ? fl.measure_start : fl.deadline))
                fl_sample_cpu(w);
        if (fl.running && all_done())
            break;
        if ((fl.running && t > fl.deadline + fl.o.timeout + 1) || (!fl.running && t - fl.start > fl.o.setup_timeout)) {
            give_up();
            break;
        }
    }
    rc = fl_report();
    if (fl.series != NULL && fclose(fl.series) != 0)
        rc = 1;
    return rc;
}
