/* A scripted HTTP/1.1 server on 127.0.0.1 for the C tests (a primary for a secondary's handlers, an upstream behind a
 * route): each request is answered from a table the test sets per method and path, on a connection of its own, and an
 * answer can be held back until the test releases it (a primary that hangs). */
#ifndef TESTS_SUPPORT_STUB_H
#define TESTS_SUPPORT_STUB_H

#include <stddef.h>

#define TEST_STUB_HOLD_MAX_MS 15000 /* a held answer goes out after this long even when never released */

typedef struct st_test_stub_t test_stub_t;

/* Listens on a free port of 127.0.0.1 and answers from a thread. Exits the test (status 2) when it cannot. */
test_stub_t *test_stub_start(void);

/* Stops answering (held answers go out first), joins every thread and frees the stub. */
void test_stub_stop(test_stub_t *s);

/* "http://127.0.0.1:<port>". */
const char *test_stub_url(const test_stub_t *s);

/* The answer to requests "method path" (path without its query): status, extra header lines (each ending in "\r\n",
 * may be "") and body (all copied). Replaces the earlier answer to the same method and path; others get 404. */
void test_stub_answer(test_stub_t *s, const char *method, const char *path, int status, const char *headers, const char *body);

/* Holds (hold = 1) every answer to path until it is released (hold = 0). */
void test_stub_hold(test_stub_t *s, const char *path, int hold);

/* Requests to path (any method) so far. */
unsigned test_stub_hits(test_stub_t *s, const char *path);

/* Waits until path had at least n requests or ms milliseconds pass; returns the number it had. */
unsigned test_stub_wait_hits(test_stub_t *s, const char *path, unsigned n, unsigned ms);

/* A copy of the head and body of the last request to path (malloc'ed, the caller frees it), or NULL. */
char *test_stub_last(test_stub_t *s, const char *path);
/* The same for the newest of path's last few requests that contains needle (a node's own background requests, say its
 * client_credentials check, may come between), or NULL. */
char *test_stub_find(test_stub_t *s, const char *path, const char *needle);

#endif
