/* What bench-flowload's files share (private to the driver: flowload.c, flowsteps.c, flowopts.c, flowreport.c): the
 * options, a connection and its flow's state, the run's one state (fl) and each file's entry points. */
#ifndef BENCH_FLOWLOAD_H
#define BENCH_FLOWLOAD_H

#include <stdint.h>
#include <stdio.h>
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

typedef struct st_fl_opts_t {
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
} fl_opts_t;

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
} fl_step_t;
/* SETUP: the flow that gives a connection what its mode repeats (a session, a refresh token); READY: waiting for the
 * others (every connection starts the measured flows at once); SLEEP: after a failure, before starting again. */
typedef enum { PH_SETUP = 0, PH_READY, PH_RUN, PH_SLEEP, PH_DONE } fl_phase_t;

typedef struct st_fl_conn_t {
    unsigned idx;
    int fd, connecting, want_out;
    uint32_t gen; /* bumped when the socket is closed: events of an old socket are ignored */
    fl_phase_t phase, after_sleep;
    fl_step_t step;
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
} fl_conn_t;

/* A growable list of latencies (ms). */
typedef struct st_fl_lat_t {
    double *v;
    size_t n, cap;
} fl_lat_t;

typedef struct st_fl_fail_t {
    char kind[FAIL_KIND_CAP];
    unsigned long n;
} fl_fail_t;

/* What a handler decides: the next step, the end of the flow, or a failure (its kind in fl_fail_kind). */
enum { NEXT_DONE = -1, NEXT_FAIL = -2 };

typedef struct st_fl_step_def_t {
    const char *name;
    int (*build)(fl_conn_t *c);
    int (*handle)(fl_conn_t *c, const fh_resp_t *r);
} fl_step_def_t;

/* A mode: the flow a connection runs once before the measured ones (-1: none) and the flow it repeats; must_login:
 * whether each repeated flow has to pass the sign-in form (1), must not (0), or either (-1). */
typedef struct st_fl_mode_def_t {
    const char *name;
    int setup_first;
    fl_step_t run_first;
    int must_login;
    int fresh_browser; /* every repeated flow starts without cookies */
} fl_mode_def_t;

/* The run: its options, connections, counters and measurements (one per process, defined in flowload.c). */
typedef struct st_fl_state_t {
    fl_opts_t o;
    const fl_mode_def_t *mode;
    int ep;
    fl_conn_t *conns;
    char basic[8 * SECRET_CAP];
    char redirect_enc[FIELD_CAP], scope_enc[FIELD_CAP];
    double start, run_start, measure_start, deadline;
    int running; /* the barrier has passed */
    unsigned ready;
    unsigned long flows, late, requests, failures;
    fl_lat_t flow_lat, step_lat[ST__COUNT];
    fl_fail_t fails[MAX_FAIL_KINDS];
    size_t nfails;
    unsigned long all_flows, setup_flows; /* every flow that ended well: measured or not, and setups */
    FILE *series;
    int sampled[2];                              /* CPU times taken at the measured window's start and end */
    double cpu[2], node_cpu[2], node_written[2]; /* node_written: bytes it sent to storage (/proc/PID/io) */
    double node_majflt[2];                       /* the node's major page faults (/proc/PID/stat) */
} fl_state_t;

extern fl_state_t fl;

/* ---- flowload.c: the event loop and the connections ---- */

/* Prints "flowload: MESSAGE" on stderr and exits with 2. */
void fl_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- flowsteps.c: each step's request and the check of its answer ---- */

/* Indexed by fl_step_t. build writes the step's request into c->out (-1: it does not fit); handle checks the answer and
 * returns the next step, NEXT_DONE, or NEXT_FAIL with the failure's kind ("step:reason") in fl_fail_kind. */
extern const fl_step_def_t fl_steps[ST__COUNT];
extern char fl_fail_kind[FAIL_KIND_CAP];

/* ---- flowopts.c: the command line ---- */

/* Fills fl.o and fl.mode from the command line; prints the usage and exits with 0 on --help, exits with 2 on bad
 * usage. */
void fl_parse_args(int argc, char **argv);

/* ---- flowreport.c: set-up, measurements and the report ---- */

/* Prepares the run from fl.o: the Basic credentials, the encoded redirect URI and scope, the epoll instance, the
 * connections (each with its own PKCE pair) and the series file; exits with 2 when one cannot be had. */
void fl_init(void);
/* Takes the driver's and the node's CPU times (and the node's bytes written) at the start (0) or the end (1) of the
 * measured window. */
void fl_sample_cpu(int which);
/* Prints the summary, the result line, each step's latencies and the failures by kind; returns the exit code: 0 when
 * flows completed and none failed, else 1. */
int fl_report(void);

#endif
