/* flowload: a load driver for the primary's user flows (a bench helper, not a test). N keep-alive HTTP/1.1 connections
 * on one epoll loop, each running its own flow as a state machine: a fresh sign-in + code flow, an SSO code flow, a
 * refresh chain, introspection or client_credentials. It parses just enough of each answer (status, Location,
 * Set-Cookie, Content-Length or chunked, the form and JSON fields it needs) and prints the rate, p50/p99 and the
 * failures by kind; any failure makes it exit 1. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "tools/bench/flowhttp.h"

#define MAX_CONNS 4096
#define IN_CAP (64 * 1024)  /* one response: a sign-in page is ~1.2 KB, a token response with an RS256 id_token ~2 KB */
#define OUT_CAP (16 * 1024) /* one request */
#define FIELD_CAP 2048      /* a Location, the form's next, a query value */
#define TOKEN_CAP 4096      /* an access token (a JWT) or a refresh token */
#define MAX_FAIL_KINDS 64
#define FAIL_KIND_CAP 48
#define SECRET_CAP 1024
#define RETRY_DELAY 0.01 /* after a failure, before the connection starts again */

/* ---- options ---- */

typedef struct st_opts_t {
    char host[64];
    unsigned port;
    const char *mode_name;
    unsigned conns;
    double duration, warmup, timeout, setup_timeout;
    const char *client_id, *redirect_uri, *scope, *user, *user_prefix, *series_path;
    char client_secret[SECRET_CAP], password[SECRET_CAP];
    unsigned user_digits, user_count;
    uint64_t seed;
    int node_pid; /* 0: none; else its CPU time over the measured window is reported */
} opts_t;

/* ---- the connections and their flows ---- */

typedef enum {
    ST_AUTHORIZE = 0,
    ST_LOGIN_PAGE,
    ST_LOGIN_POST,
    ST_RESUME,
    ST_TOKEN_CODE,
    ST_REFRESH,
    ST_INTROSPECT,
    ST_CC,
    ST__COUNT
} step_t;
/* SETUP: the flow that gives a connection what its mode repeats (a session, a refresh token); READY: waiting for the
 * others (every connection starts the measured flows at once); SLEEP: after a failure, before starting again. */
typedef enum { PH_SETUP = 0, PH_READY, PH_RUN, PH_SLEEP, PH_DONE } phase_t;

typedef struct st_conn_t {
    unsigned idx;
    int fd, connecting, want_out;
    uint32_t gen; /* bumped when the socket is closed: events of an old socket are ignored */
    phase_t phase, after_sleep;
    step_t step;
    char out[OUT_CAP];
    size_t out_len, out_off;
    char in[IN_CAP];
    size_t in_len;
    double t_flow, t_req, wake_at;
    int did_login;
    fh_jar_t jar; /* the connection's browser */
    char location[FIELD_CAP], csrf[128], next[FIELD_CAP], code[256], state[48], nonce[48];
    char verifier[64], challenge[64];
    char refresh[TOKEN_CAP], access[TOKEN_CAP];
    unsigned long flows;
    uint64_t rng;
} conn_t;

/* A growable list of latencies (ms). */
typedef struct st_lat_t {
    double *v;
    size_t n, cap;
} lat_t;

typedef struct st_fail_t {
    char kind[FAIL_KIND_CAP];
    unsigned long n;
} fail_t;

/* What a handler decides: the next step, the end of the flow, or a failure (its kind set with fail()). */
enum { NEXT_DONE = -1, NEXT_FAIL = -2 };

typedef struct st_step_def_t {
    const char *name;
    int (*build)(conn_t *c);
    int (*handle)(conn_t *c, const fh_resp_t *r);
} step_def_t;

/* A mode: the flow a connection runs once before the measured ones (-1: none) and the flow it repeats; must_login:
 * whether each repeated flow has to pass the sign-in form (1), must not (0), or either (-1). */
typedef struct st_mode_def_t {
    const char *name;
    int setup_first;
    step_t run_first;
    int must_login;
    int fresh_browser; /* every repeated flow starts without cookies */
} mode_def_t;

static const mode_def_t modes[] = {
    {"signin", -1, ST_AUTHORIZE, 1, 1},
    {"sso", ST_AUTHORIZE, ST_AUTHORIZE, 0, 0},
    {"refresh", ST_AUTHORIZE, ST_REFRESH, -1, 0},
    {"introspect", ST_AUTHORIZE, ST_INTROSPECT, -1, 0},
    {"cc", -1, ST_CC, -1, 0},
};

static struct {
    opts_t o;
    const mode_def_t *mode;
    int ep;
    conn_t *conns;
    char basic[8 * SECRET_CAP];
    char redirect_enc[FIELD_CAP], scope_enc[FIELD_CAP];
    double start, run_start, measure_start, deadline;
    int running; /* the barrier has passed */
    unsigned ready;
    unsigned long flows, late, requests, failures;
    lat_t flow_lat, step_lat[ST__COUNT];
    fail_t fails[MAX_FAIL_KINDS];
    size_t nfails;
    unsigned long all_flows, setup_flows; /* every flow that ended well: measured or not, and setups */
    FILE *series;
    int sampled[2];                              /* CPU times taken at the measured window's start and end */
    double cpu[2], node_cpu[2], node_written[2]; /* node_written: bytes it sent to storage (/proc/PID/io) */
} G;

static const step_def_t steps[ST__COUNT];
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

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* User + system CPU seconds of process pid (from /proc), or -1. */
static double proc_cpu_seconds(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* after the command name in parentheses: state is field 3, utime 14, stime 15 */
    if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Bytes process pid caused to be written to storage (write_bytes of /proc/PID/io), or -1. */
static double proc_write_bytes(int pid)
{
    char path[64], line[128];
    unsigned long long v;
    double ret = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/io", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "write_bytes: %llu", &v) == 1)
            ret = (double)v;
    fclose(f);
    return ret;
}

static void die(const char *fmt, ...)
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
        die("out of memory");
    return p;
}

static void lat_add(lat_t *l, double ms)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of a sorted list; 0 when empty. */
static double quantile(const lat_t *l, double q)
{
    size_t i;
    if (l->n == 0)
        return 0;
    i = (size_t)(q * (double)l->n);
    return l->v[i >= l->n ? l->n - 1 : i];
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: enough to spread sign-ins over the users */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void b64url(char *out, const unsigned char *in, size_t len)
{
    char buf[128];
    int n = EVP_EncodeBlock((unsigned char *)buf, in, (int)len), j = 0;
    for (int i = 0; i < n && buf[i] != '='; ++i)
        out[j++] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : buf[i];
    out[j] = '\0';
}

/* ---- failures ---- */

/* Counts one failure of the given kind ("step:reason"). */
static void count_failure(const char *kind)
{
    size_t i;

    G.failures++;
    for (i = 0; i != G.nfails; ++i)
        if (strcmp(G.fails[i].kind, kind) == 0)
            break;
    if (i == G.nfails) {
        if (G.nfails == MAX_FAIL_KINDS) {
            i = MAX_FAIL_KINDS - 1; /* the last slot collects whatever does not fit */
            snprintf(G.fails[i].kind, FAIL_KIND_CAP, "other");
        } else {
            snprintf(G.fails[G.nfails++].kind, FAIL_KIND_CAP, "%s", kind);
        }
    }
    G.fails[i].n++;
}

static char fail_kind[FAIL_KIND_CAP];

/* Names the failure a handler returns NEXT_FAIL for. */
static int fail(conn_t *c, const char *reason)
{
    snprintf(fail_kind, sizeof(fail_kind), "%s:%.24s", steps[c->step].name, reason);
    return NEXT_FAIL;
}

static int fail_status(conn_t *c, int status)
{
    char reason[32];
    snprintf(reason, sizeof(reason), "status_%d", status);
    return fail(c, reason);
}

/* ---- requests ---- */

/* Writes one request into c->out: method, target, the cookies (browser steps), Sec-Fetch-Site (browser steps: the
 * primary refuses forms a browser says came from another origin), Basic authentication (client steps) and a form
 * body. -1 when it does not fit. */
static int request(conn_t *c, const char *method, const char *target, const char *fetch_site, int client_auth, const char *body)
{
    char cookies[FH_MAX_COOKIES * (FH_COOKIE_NAME_CAP + FH_COOKIE_VALUE_CAP + 2) + 16];
    size_t blen = body != NULL ? strlen(body) : 0;
    int n;

    cookies[0] = '\0';
    if (fetch_site != NULL)
        fh_jar_header(&c->jar, cookies, sizeof(cookies));
    n = snprintf(c->out, sizeof(c->out), "%s %s HTTP/1.1\r\nHost: %s:%u\r\n%s%s%s%s%s%s", method, target, G.o.host, G.o.port,
                 cookies, fetch_site != NULL ? "Sec-Fetch-Site: " : "", fetch_site != NULL ? fetch_site : "",
                 fetch_site != NULL ? "\r\n" : "", client_auth ? "Authorization: Basic " : "", client_auth ? G.basic : "");
    if (n < 0 || (size_t)n >= sizeof(c->out))
        return -1;
    if (client_auth)
        n += snprintf(c->out + n, sizeof(c->out) - (size_t)n, "\r\n");
    if (body != NULL)
        n += snprintf(c->out + n, sizeof(c->out) - (size_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s", blen, body);
    else
        n += snprintf(c->out + n, sizeof(c->out) - (size_t)n, "\r\n");
    if ((size_t)n >= sizeof(c->out))
        return -1;
    c->out_len = (size_t)n;
    c->out_off = 0;
    return 0;
}

static int build_authorize(conn_t *c)
{
    char target[FIELD_CAP * 2];
    int n = snprintf(target, sizeof(target),
                     "/oauth2/authorize?client_id=%s&response_type=code&redirect_uri=%s&scope=%s&state=%s&nonce=%s"
                     "&code_challenge=%s&code_challenge_method=S256",
                     G.o.client_id, G.redirect_enc, G.scope_enc, c->state, c->nonce, c->challenge);
    if (n < 0 || (size_t)n >= sizeof(target))
        return -1;
    /* the app sent the browser here: a navigation from another site */
    return request(c, "GET", target, "cross-site", 0, NULL);
}

/* GET of the Location the last answer gave (the sign-in page, or authorize again once signed in). */
static int build_follow(conn_t *c)
{
    return request(c, "GET", c->location, "same-origin", 0, NULL);
}

static void pick_user(conn_t *c, char *out, size_t cap)
{
    if (G.o.user_prefix == NULL) {
        snprintf(out, cap, "%s", G.o.user);
        return;
    }
    snprintf(out, cap, "%s%0*u", G.o.user_prefix, (int)G.o.user_digits, (unsigned)(rng_next(&c->rng) % G.o.user_count));
}

static int build_login_post(conn_t *c)
{
    char body[OUT_CAP / 2], user[128], user_enc[384], next_enc[FIELD_CAP * 3], pw_enc[SECRET_CAP * 3];
    int n;

    pick_user(c, user, sizeof(user));
    if (fh_url_encode(user_enc, sizeof(user_enc), user) != 0 || fh_url_encode(next_enc, sizeof(next_enc), c->next) != 0 ||
        fh_url_encode(pw_enc, sizeof(pw_enc), G.o.password) != 0)
        return -1;
    n = snprintf(body, sizeof(body), "csrf_token=%s&next=%s&username=%s&password=%s", c->csrf, next_enc, user_enc, pw_enc);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/login", "same-origin", 0, body);
}

static int build_token_code(conn_t *c)
{
    char body[2048];
    int n = snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", c->code,
                     G.redirect_enc, c->verifier);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/oauth2/token", NULL, 1, body);
}

static int build_refresh(conn_t *c)
{
    char body[TOKEN_CAP + 64];
    int n = snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", c->refresh);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/oauth2/token", NULL, 1, body);
}

static int build_introspect(conn_t *c)
{
    char body[TOKEN_CAP + 64];
    int n = snprintf(body, sizeof(body), "token=%s", c->access);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return request(c, "POST", "/oauth2/introspect", NULL, 1, body);
}

static int build_cc(conn_t *c)
{
    return request(c, "POST", "/oauth2/token", NULL, 1, "grant_type=client_credentials");
}

/* ---- handlers ---- */

/* Authorize (first or resumed): the browser is sent either to the sign-in page or back to the app with a code. */
static int handle_authorize(conn_t *c, const fh_resp_t *r)
{
    size_t rlen = strlen(G.o.redirect_uri);
    char state[sizeof(c->state)];

    if (r->status != 302)
        return fail_status(c, r->status);
    if (r->location == NULL)
        return fail(c, "no_location");
    if (r->location_len > rlen && memcmp(r->location, G.o.redirect_uri, rlen) == 0 && r->location[rlen] == '?') {
        if (fh_query_param(r->location, r->location_len, "code", c->code, sizeof(c->code)) != 0)
            return fh_query_param(r->location, r->location_len, "error", c->code, sizeof(c->code)) == 0 ? fail(c, c->code)
                                                                                                        : fail(c, "no_code");
        if (fh_query_param(r->location, r->location_len, "state", state, sizeof(state)) != 0 || strcmp(state, c->state) != 0)
            return fail(c, "state_mismatch");
        return ST_TOKEN_CODE;
    }
    if (c->step == ST_RESUME)
        return fail(c, "sign_in_asked_again");
    if (r->location_len < 7 || memcmp(r->location, "/login?", 7) != 0)
        return fail(c, "unexpected_location");
    if (fh_copy_n(c->location, sizeof(c->location), r->location, r->location_len) != 0)
        return fail(c, "location_too_long");
    return ST_LOGIN_PAGE;
}

static int handle_login_page(conn_t *c, const fh_resp_t *r)
{
    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_form_field(r->body, r->body_len, "csrf_token", c->csrf, sizeof(c->csrf)) != 0)
        return fail(c, "no_csrf_token");
    if (fh_form_field(r->body, r->body_len, "next", c->next, sizeof(c->next)) != 0 || c->next[0] != '/')
        return fail(c, "no_next");
    return ST_LOGIN_POST;
}

static int handle_login_post(conn_t *c, const fh_resp_t *r)
{
    if (r->status != 302)
        return fail_status(c, r->status);
    if (r->location == NULL || r->location_len != strlen(c->next) || memcmp(r->location, c->next, r->location_len) != 0)
        return fail(c, "not_sent_to_next");
    memcpy(c->location, c->next, r->location_len + 1);
    c->did_login = 1;
    return ST_RESUME;
}

static int handle_token_code(conn_t *c, const fh_resp_t *r)
{
    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_json_string(r->body, r->body_len, "access_token", c->access, sizeof(c->access)) != 0)
        return fail(c, "no_access_token");
    if (fh_json_string(r->body, r->body_len, "refresh_token", c->refresh, sizeof(c->refresh)) != 0)
        return fail(c, "no_refresh_token");
    return NEXT_DONE;
}

/* A rotation: the new refresh token replaces the one just used, which is never sent again. */
static int handle_refresh(conn_t *c, const fh_resp_t *r)
{
    char next[TOKEN_CAP];

    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_json_string(r->body, r->body_len, "access_token", c->access, sizeof(c->access)) != 0)
        return fail(c, "no_access_token");
    if (fh_json_string(r->body, r->body_len, "refresh_token", next, sizeof(next)) != 0)
        return fail(c, "no_refresh_token");
    if (strcmp(next, c->refresh) == 0)
        return fail(c, "not_rotated");
    memcpy(c->refresh, next, strlen(next) + 1);
    return NEXT_DONE;
}

static int handle_introspect(conn_t *c, const fh_resp_t *r)
{
    const char *v;

    if (r->status != 200)
        return fail_status(c, r->status);
    v = fh_json_value(r->body, r->body_len, "active");
    if (v == NULL || (size_t)(r->body + r->body_len - v) < 4 || memcmp(v, "true", 4) != 0)
        return fail(c, "not_active");
    return NEXT_DONE;
}

static int handle_cc(conn_t *c, const fh_resp_t *r)
{
    if (r->status != 200)
        return fail_status(c, r->status);
    if (fh_json_string(r->body, r->body_len, "access_token", c->access, sizeof(c->access)) != 0)
        return fail(c, "no_access_token");
    return NEXT_DONE;
}

static const step_def_t steps[ST__COUNT] = {
    [ST_AUTHORIZE] = {"authorize", build_authorize, handle_authorize},
    [ST_LOGIN_PAGE] = {"login_page", build_follow, handle_login_page},
    [ST_LOGIN_POST] = {"login_post", build_login_post, handle_login_post},
    [ST_RESUME] = {"resume", build_follow, handle_authorize},
    [ST_TOKEN_CODE] = {"token_code", build_token_code, handle_token_code},
    [ST_REFRESH] = {"refresh", build_refresh, handle_refresh},
    [ST_INTROSPECT] = {"introspect", build_introspect, handle_introspect},
    [ST_CC] = {"client_credentials", build_cc, handle_cc},
};

/* ---- connections ---- */

static void conn_failed(conn_t *c, const char *kind);
static void flow_begin(conn_t *c);

static void ep_set(conn_t *c, int op, int want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u64 = (uint64_t)c->gen << 32 | c->idx};

    if (epoll_ctl(G.ep, op, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->want_out = want_out;
}

static void conn_close(conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(G.ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->gen++;
    c->in_len = c->out_len = c->out_off = 0;
    c->connecting = c->want_out = 0;
}

static int conn_open(conn_t *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)G.o.port)};
    int one = 1;

    if (inet_pton(AF_INET, G.o.host, &sa.sin_addr) != 1)
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

static void conn_flush(conn_t *c)
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
static void step_start(conn_t *c, step_t s)
{
    char kind[FAIL_KIND_CAP];

    c->step = s;
    c->in_len = 0;
    if (steps[s].build(c) != 0) {
        snprintf(kind, sizeof(kind), "%s:request_too_big", steps[s].name);
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
static void conn_failed(conn_t *c, const char *kind)
{
    double t = now();

    count_failure(kind);
    conn_close(c);
    if (c->phase == PH_DONE || (G.running && t >= G.deadline)) {
        c->phase = PH_DONE;
        return;
    }
    c->after_sleep = G.mode->setup_first >= 0 ? PH_SETUP : PH_RUN;
    c->phase = PH_SLEEP;
    c->wake_at = t + RETRY_DELAY;
}

/* ---- flows ---- */

/* The driver's and the node's CPU times at the start (0) and the end (1) of the measured window. */
static void sample_cpu(int which)
{
    G.sampled[which] = 1;
    G.cpu[which] = cpu_seconds();
    G.node_cpu[which] = G.o.node_pid > 0 ? proc_cpu_seconds(G.o.node_pid) : -1;
    G.node_written[which] = G.o.node_pid > 0 ? proc_write_bytes(G.o.node_pid) : -1;
}

static void start_run(double t)
{
    unsigned i;

    G.running = 1;
    G.run_start = t;
    G.measure_start = t + G.o.warmup;
    G.deadline = G.measure_start + G.o.duration;
    for (i = 0; i != G.o.conns; ++i)
        if (G.conns[i].phase == PH_READY) {
            G.conns[i].phase = PH_RUN;
            flow_begin(&G.conns[i]);
        }
}

static void flow_begin(conn_t *c)
{
    int setup = c->phase == PH_SETUP;

    if (setup || G.mode->fresh_browser)
        c->jar.n = 0; /* a new browser */
    c->did_login = 0;
    c->flows++;
    snprintf(c->state, sizeof(c->state), "s%ux%lu", c->idx, c->flows);
    snprintf(c->nonce, sizeof(c->nonce), "n%ux%lu", c->idx, c->flows);
    c->t_flow = now();
    step_start(c, setup ? (step_t)G.mode->setup_first : G.mode->run_first);
}

/* A flow ended well at t: counted when it ended inside the measured window, then the next one starts (until the
 * deadline). A setup flow makes the connection ready; the last one ready starts every connection at once. */
static void flow_done(conn_t *c, double t)
{
    double ms = (t - c->t_flow) * 1000;

    if (c->phase == PH_SETUP) {
        G.setup_flows++;
        if (!c->did_login) {
            conn_failed(c, "setup:no_sign_in");
        } else if (G.running) {
            c->phase = PH_RUN;
            flow_begin(c);
        } else {
            c->phase = PH_READY;
            if (++G.ready == G.o.conns)
                start_run(t);
        }
        return;
    }
    if (G.mode->must_login >= 0 && c->did_login != G.mode->must_login) {
        conn_failed(c, G.mode->must_login ? "flow:no_sign_in" : "flow:signed_in_again");
        return;
    }
    G.all_flows++;
    if (G.series != NULL)
        fprintf(G.series, "%.6f %.3f\n", t, ms);
    if (t >= G.measure_start && t <= G.deadline) {
        G.flows++;
        lat_add(&G.flow_lat, ms);
    } else if (t > G.deadline) {
        G.late++;
    }
    if (t >= G.deadline) {
        c->phase = PH_DONE;
        conn_close(c);
        return;
    }
    flow_begin(c);
}

static void on_response(conn_t *c, const fh_resp_t *r, size_t used)
{
    double t = now();
    int next;

    if (used != c->in_len) {
        conn_failed(c, "http:extra_bytes"); /* one request at a time: nothing may follow the answer */
        return;
    }
    if (c->phase == PH_RUN && t >= G.measure_start && t <= G.deadline) {
        G.requests++;
        lat_add(&G.step_lat[c->step], (t - c->t_req) * 1000);
    }
    next = steps[c->step].handle(c, r);
    c->in_len = 0;
    if (r->close)
        conn_close(c);
    if (next == NEXT_FAIL)
        conn_failed(c, fail_kind);
    else if (next == NEXT_DONE)
        flow_done(c, t);
    else
        step_start(c, (step_t)next);
}

static void on_readable(conn_t *c)
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
    conn_t *c = &G.conns[(uint32_t)ev->data.u64];
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

    for (i = 0; i != G.o.conns; ++i) {
        conn_t *c = &G.conns[i];
        if (c->phase == PH_SLEEP && t >= c->wake_at) {
            c->phase = c->after_sleep;
            if (G.running && t >= G.deadline)
                c->phase = PH_DONE;
            else
                flow_begin(c);
        } else if ((c->phase == PH_SETUP || c->phase == PH_RUN) && t - c->t_req > G.o.timeout) {
            snprintf(kind, sizeof(kind), "%s:timeout", steps[c->step].name);
            conn_failed(c, kind);
        }
    }
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flowload --url http://IPV4:PORT --mode signin|sso|refresh|introspect|cc --client-id ID\n"
            "                --client-secret-file FILE [--redirect-uri URI] [--scope SCOPE]\n"
            "                [--user NAME | --user-prefix P --user-count N [--user-digits D]] [--password-file FILE]\n"
            "                [-c CONNECTIONS] [-d SECONDS] [--warmup SECONDS] [--timeout SECONDS] [--setup-timeout SECONDS]\n"
            "                [--series FILE] [--seed N] [--node-pid PID]\n"
            "signin: authorize without a session -> /login -> POST /login -> authorize -> code -> token, a new browser each time\n"
            "sso: a signed-in browser: authorize -> code -> token; refresh: each connection rotates its own refresh chain;\n"
            "introspect: POST /oauth2/introspect of the connection's access token; cc: client_credentials.\n"
            "--series FILE: one line per flow that ended well, \"MONOTONIC_SECONDS LATENCY_MS\"; --node-pid: report that\n"
            "process's CPU over the measured window; SIGINT or SIGTERM ends that window early. Exit status: 0 when every flow "
            "succeeded, 1 on any failure, 2 on bad usage.\n");
}

static double num(const char *name, const char *s, double lo, double hi)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        die("%s: expected a number from %g to %g, got \"%s\"", name, lo, hi, s);
    return v;
}

/* Reads a secret from a file: at most one line; one trailing newline is not part of it. */
static void read_secret(const char *name, const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        die("%s: cannot open %s: %s", name, path, strerror(errno));
    n = fread(out, 1, cap - 1, f);
    if (!feof(f) || ferror(f))
        die("%s: %s is not a file of at most %zu bytes", name, path, cap - 2);
    fclose(f);
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    if (n == 0 || strlen(out) != n || strchr(out, '\n') != NULL)
        die("%s: %s must hold one line", name, path);
}

static void parse_url(const char *url)
{
    const char *p = url + 7, *colon = NULL;
    struct in_addr a;

    if (strncmp(url, "http://", 7) != 0 || (colon = strchr(p, ':')) == NULL || (size_t)(colon - p) >= sizeof(G.o.host))
        die("--url: expected http://IPV4:PORT, got \"%s\"", url);
    memcpy(G.o.host, p, (size_t)(colon - p));
    G.o.host[colon - p] = '\0';
    if (inet_pton(AF_INET, G.o.host, &a) != 1)
        die("--url: %s is not an IPv4 address", G.o.host);
    G.o.port = (unsigned)num("--url port", colon + 1, 1, 65535);
}

enum {
    O_URL = 256,
    O_MODE,
    O_CID,
    O_CSECRET,
    O_REDIRECT,
    O_SCOPE,
    O_USER,
    O_UPREFIX,
    O_UCOUNT,
    O_UDIGITS,
    O_PW,
    O_WARMUP,
    O_TIMEOUT,
    O_SETUP_TIMEOUT,
    O_SERIES,
    O_SEED,
    O_NODE_PID
};

static void parse_opt(int opt, const char *arg)
{
    switch (opt) {
    case O_URL:
        parse_url(arg);
        break;
    case O_MODE:
        G.o.mode_name = arg;
        break;
    case 'c':
        G.o.conns = (unsigned)num("-c", arg, 1, MAX_CONNS);
        break;
    case 'd':
        G.o.duration = num("-d", arg, 0.1, 86400);
        break;
    case O_WARMUP:
        G.o.warmup = num("--warmup", arg, 0, 3600);
        break;
    case O_TIMEOUT:
        G.o.timeout = num("--timeout", arg, 0.1, 3600);
        break;
    case O_SETUP_TIMEOUT:
        G.o.setup_timeout = num("--setup-timeout", arg, 1, 86400);
        break;
    case O_CID:
        G.o.client_id = arg;
        break;
    case O_CSECRET:
        read_secret("--client-secret-file", arg, G.o.client_secret, sizeof(G.o.client_secret));
        break;
    case O_REDIRECT:
        G.o.redirect_uri = arg;
        break;
    case O_SCOPE:
        G.o.scope = arg;
        break;
    case O_USER:
        G.o.user = arg;
        break;
    case O_UPREFIX:
        G.o.user_prefix = arg;
        break;
    case O_UCOUNT:
        G.o.user_count = (unsigned)num("--user-count", arg, 1, 1e9);
        break;
    case O_UDIGITS:
        G.o.user_digits = (unsigned)num("--user-digits", arg, 0, 12);
        break;
    case O_PW:
        read_secret("--password-file", arg, G.o.password, sizeof(G.o.password));
        break;
    case O_SERIES:
        G.o.series_path = arg;
        break;
    case O_SEED:
        G.o.seed = (uint64_t)num("--seed", arg, 0, 1e15);
        break;
    case O_NODE_PID:
        G.o.node_pid = (int)num("--node-pid", arg, 1, 1 << 30);
        break;
    default:
        usage(stderr);
        exit(2);
    }
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {{"url", 1, NULL, O_URL},
                                             {"mode", 1, NULL, O_MODE},
                                             {"connections", 1, NULL, 'c'},
                                             {"duration", 1, NULL, 'd'},
                                             {"warmup", 1, NULL, O_WARMUP},
                                             {"timeout", 1, NULL, O_TIMEOUT},
                                             {"setup-timeout", 1, NULL, O_SETUP_TIMEOUT},
                                             {"client-id", 1, NULL, O_CID},
                                             {"client-secret-file", 1, NULL, O_CSECRET},
                                             {"redirect-uri", 1, NULL, O_REDIRECT},
                                             {"scope", 1, NULL, O_SCOPE},
                                             {"user", 1, NULL, O_USER},
                                             {"user-prefix", 1, NULL, O_UPREFIX},
                                             {"user-count", 1, NULL, O_UCOUNT},
                                             {"user-digits", 1, NULL, O_UDIGITS},
                                             {"password-file", 1, NULL, O_PW},
                                             {"series", 1, NULL, O_SERIES},
                                             {"seed", 1, NULL, O_SEED},
                                             {"node-pid", 1, NULL, O_NODE_PID},
                                             {"help", 0, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    size_t i;

    G.o = (opts_t){.conns = 16,
                   .duration = 10,
                   .warmup = 1,
                   .timeout = 30,
                   .setup_timeout = 120,
                   .scope = "openid",
                   .user_digits = 7,
                   .seed = 1};
    while ((opt = getopt_long(argc, argv, "c:d:h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        parse_opt(opt, optarg);
    }
    if (optind != argc || G.o.port == 0 || G.o.mode_name == NULL || G.o.client_id == NULL || G.o.client_secret[0] == '\0')
        die("--url, --mode, --client-id and --client-secret-file are required (--help)");
    for (i = 0; i != sizeof(modes) / sizeof(modes[0]) && strcmp(modes[i].name, G.o.mode_name) != 0; ++i)
        ;
    if (i == sizeof(modes) / sizeof(modes[0]))
        die("--mode: expected signin, sso, refresh, introspect or cc, got \"%s\"", G.o.mode_name);
    G.mode = &modes[i];
    if (G.mode->run_first == ST_CC)
        return;
    if (G.o.redirect_uri == NULL || G.o.password[0] == '\0' || (G.o.user == NULL) == (G.o.user_prefix == NULL))
        die("--mode %s needs --redirect-uri, --password-file and one of --user or --user-prefix", G.o.mode_name);
    if (G.o.user_prefix != NULL && (G.o.user_count == 0 || strlen(G.o.user_prefix) > 64))
        die("--user-prefix needs --user-count (and at most 64 bytes)");
    if (G.o.user != NULL && strlen(G.o.user) > 120)
        die("--user: at most 120 bytes");
}

/* ---- set-up and report ---- */

static void init(void)
{
    char id_enc[SECRET_CAP * 3], sec_enc[SECRET_CAP * 3], pair[SECRET_CAP * 6 + 2];
    unsigned char raw[32], digest[32];
    struct rlimit rl;
    unsigned i;

    if (fh_url_encode(id_enc, sizeof(id_enc), G.o.client_id) != 0 ||
        fh_url_encode(sec_enc, sizeof(sec_enc), G.o.client_secret) != 0)
        die("--client-id or the client secret is too long");
    snprintf(pair, sizeof(pair), "%s:%s", id_enc, sec_enc); /* RFC 6749 §2.3.1: each part form-urlencoded */
    if (4 * ((strlen(pair) + 2) / 3) >= sizeof(G.basic))
        die("--client-id or the client secret is too long");
    EVP_EncodeBlock((unsigned char *)G.basic, (const unsigned char *)pair, (int)strlen(pair));
    if (G.o.redirect_uri != NULL && (fh_url_encode(G.redirect_enc, sizeof(G.redirect_enc), G.o.redirect_uri) != 0 ||
                                     fh_url_encode(G.scope_enc, sizeof(G.scope_enc), G.o.scope) != 0))
        die("--redirect-uri or --scope is too long");
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < G.o.conns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((G.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    if ((G.conns = calloc(G.o.conns, sizeof(*G.conns))) == NULL)
        die("out of memory");
    if (G.o.series_path != NULL && (G.series = fopen(G.o.series_path, "w")) == NULL)
        die("--series: cannot write %s: %s", G.o.series_path, strerror(errno));
    for (i = 0; i != G.o.conns; ++i) {
        conn_t *c = &G.conns[i];
        c->idx = i;
        c->fd = -1;
        c->rng = (G.o.seed + 1) * 0x9E3779B97F4A7C15ull ^ (i + 1) * 0xBF58476D1CE4E5B9ull;
        /* PKCE S256 (RFC 7636), one verifier per connection */
        if (RAND_bytes(raw, sizeof(raw)) != 1 || EVP_Digest(NULL, 0, digest, NULL, EVP_sha256(), NULL) != 1)
            die("OpenSSL failed");
        b64url(c->verifier, raw, sizeof(raw));
        EVP_Digest(c->verifier, strlen(c->verifier), digest, NULL, EVP_sha256(), NULL);
        b64url(c->challenge, digest, sizeof(digest));
        c->phase = G.mode->setup_first >= 0 ? PH_SETUP : PH_READY;
    }
}

static void sort_lat(lat_t *l)
{
    qsort(l->v, l->n, sizeof(*l->v), cmp_double);
}

static int report(void)
{
    int cpu_ok = G.sampled[0] && G.sampled[1], node_ok = cpu_ok && G.node_cpu[0] >= 0 && G.node_cpu[1] >= 0;
    double cpu = cpu_ok ? G.cpu[1] - G.cpu[0] : 0, node = node_ok ? G.node_cpu[1] - G.node_cpu[0] : 0;
    double written = cpu_ok && G.node_written[0] >= 0 && G.node_written[1] >= 0 ? G.node_written[1] - G.node_written[0] : -1;
    size_t i;

    sort_lat(&G.flow_lat);
    printf("flowload: mode %s on http://%s:%u, %u connections, %.1f s measured after %.1f s warm-up\n", G.mode->name, G.o.host,
           G.o.port, G.o.conns, G.o.duration, G.o.warmup);
    printf("result mode=%s conns=%u seconds=%.2f flows=%lu flows_per_s=%.1f requests=%lu requests_per_flow=%.2f "
           "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f failures=%lu late=%lu all_flows=%lu setup_flows=%lu "
           "driver_cpu_pct=%.1f node_cpu_pct=%.1f node_write_kb_per_flow=%.2f\n",
           G.mode->name, G.o.conns, G.o.duration, G.flows, G.flows / G.o.duration, G.requests,
           G.flows ? (double)G.requests / G.flows : 0.0, quantile(&G.flow_lat, 0.5), quantile(&G.flow_lat, 0.9),
           quantile(&G.flow_lat, 0.99), G.flow_lat.n ? G.flow_lat.v[G.flow_lat.n - 1] : 0.0, G.failures, G.late, G.all_flows,
           G.setup_flows, 100 * cpu / G.o.duration, node_ok ? 100 * node / G.o.duration : -1.0,
           written >= 0 && G.flows > 0 ? written / 1024 / G.flows : -1.0);
    for (i = 0; i != ST__COUNT; ++i) {
        if (G.step_lat[i].n == 0)
            continue;
        sort_lat(&G.step_lat[i]);
        printf("step %s requests=%zu p50_ms=%.3f p99_ms=%.3f\n", steps[i].name, G.step_lat[i].n, quantile(&G.step_lat[i], 0.5),
               quantile(&G.step_lat[i], 0.99));
    }
    for (i = 0; i != G.nfails; ++i)
        printf("failure %s %lu\n", G.fails[i].kind, G.fails[i].n);
    return G.failures == 0 && G.flows > 0 ? 0 : 1;
}

/* Ends whatever is still in flight once the grace after the deadline has passed (a request past its timeout). */
static void give_up(void)
{
    char kind[FAIL_KIND_CAP];
    unsigned i;

    for (i = 0; i != G.o.conns; ++i) {
        conn_t *c = &G.conns[i];
        if (c->phase == PH_SETUP || c->phase == PH_RUN) {
            snprintf(kind, sizeof(kind), "%s:%s", steps[c->step].name, G.running ? "timeout" : "setup_timeout");
            count_failure(kind);
        }
        c->phase = PH_DONE;
        conn_close(c);
    }
}

static int all_done(void)
{
    for (unsigned i = 0; i != G.o.conns; ++i)
        if (G.conns[i].phase != PH_DONE)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    struct epoll_event evs[256];
    double t, last_tick = 0;
    int n, i, rc;

    parse_args(argc, argv);
    init();
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    signal(SIGPIPE, SIG_IGN);
    G.start = now();
    if (G.ready == 0 && G.mode->setup_first < 0) {
        G.ready = G.o.conns;
        start_run(G.start);
    } else {
        for (unsigned k = 0; k != G.o.conns; ++k)
            flow_begin(&G.conns[k]);
    }
    for (;;) {
        if ((n = epoll_wait(G.ep, evs, 256, 5)) < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; ++i)
            on_event(&evs[i]);
        t = now();
        if (t - last_tick >= 0.005) {
            tick(t);
            last_tick = t;
        }
        if (stop_asked && G.running && t < G.deadline) {
            G.o.duration = t > G.measure_start ? t - G.measure_start : 1e-9;
            G.deadline = t;
        }
        if (stop_asked && !G.running) {
            give_up();
            break;
        }
        for (int w = 0; w != 2; ++w)
            if (G.running && !G.sampled[w] && t >= (w == 0 ? G.measure_start : G.deadline))
                sample_cpu(w);
        if (G.running && all_done())
            break;
        if ((G.running && t > G.deadline + G.o.timeout + 1) || (!G.running && t - G.start > G.o.setup_timeout)) {
            give_up();
            break;
        }
    }
    rc = report();
    if (G.series != NULL && fclose(G.series) != 0)
        rc = 1;
    return rc;
}
