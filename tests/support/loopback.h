/* Requests run in-process through a hub server's routes, for the C tests of handlers: the test's own thread is loop
 * thread 0 of the server, a connection without a socket carries one request through the route's handlers (gate
 * included), and the response is captured. libh2o 2.2.5's unit tests do the same with their loopback connection
 * (t/00unit/test.c), which is not part of the installed library. */
#ifndef TESTS_SUPPORT_LOOPBACK_H
#define TESTS_SUPPORT_LOOPBACK_H

#include <stddef.h>
#include <h2o.h>
#include "hub/fetch.h"
#include "hub/server.h"

/* Loop thread 0 of a server, run by the test's thread. */
typedef struct st_test_loop_t {
    hub_thread_t thr; /* first: handlers find their loop thread (hub_req_thread) as on a running server */
} test_loop_t;

/* Makes the calling thread loop thread 0 of server, whose routes are all registered: an h2o context on a new evloop,
 * when fetcher is not NULL a fetch port (outbound calls and wake-ups come back to this loop), and when the server has a
 * worker pool a port to it (the pool's completions come back to this loop), and the same for the store's writer and
 * readers. */
void test_loop_init(test_loop_t *l, hub_server_t *server, hub_fetcher_t *fetcher);

/* Runs the loop for ms milliseconds (outbound calls and wake-ups that answer no request any more). */
void test_loop_run(test_loop_t *l, unsigned ms);

/* Tears the loop down; every request made on it must be freed first. */
void test_loop_dispose(test_loop_t *l);

/* One request on a loop, with the response it got. */
typedef struct st_test_req_t test_req_t;

/* A new request "method path" (path with its query, as a client sends it) over HTTP/1.1, not started. */
test_req_t *test_req_new(test_loop_t *l, const char *method, const char *path);

/* Adds a request header (both copied). */
void test_req_header(test_req_t *r, const char *name, const char *value);

/* Sets the request body (copied), with its Content-Type. */
void test_req_body(test_req_t *r, const char *content_type, const char *body);

/* The h2o request inside r, for code under test that takes one directly (before test_req_run, no handler saw it). */
h2o_req_t *test_req_h2o(test_req_t *r);

/* Hands r to the server's routes and runs the loop until the response is complete or ms milliseconds pass. Returns 1
 * when it is complete, 0 when r is still waiting (parked, or waiting for an outbound call): test_req_wait goes on. */
int test_req_run(test_req_t *r, unsigned ms);

/* Runs the loop until r's response is complete or ms milliseconds pass; 1 when complete. */
int test_req_wait(test_req_t *r, unsigned ms);

/* 1 when r's response is complete. */
int test_req_done(const test_req_t *r);

/* The response: status (0 while none), body (NUL-terminated; HEAD: empty) and its length. */
int test_req_status(const test_req_t *r);
const char *test_req_text(const test_req_t *r);
size_t test_req_len(const test_req_t *r);

/* The value of the nth (from 0) response header called name (any case), NUL-terminated in r's pool, or NULL. */
const char *test_req_resp_header(test_req_t *r, const char *name, size_t nth);

/* The value of the cookie name set by the response (Set-Cookie "name=value; ..."), in r's pool, or NULL; attrs (may
 * be NULL) gets the whole Set-Cookie line. */
const char *test_req_set_cookie(test_req_t *r, const char *name, const char **attrs);

/* Disposes r as a connection that closes does: its pool's dispose callbacks and the route's logger run, whether the
 * response was complete or not (a client that went away). */
void test_req_free(test_req_t *r);

#endif
