/* Parking requests (not their loop) until another thread says they may go on, a time passes or the client goes away:
 * a request whose token names a kid not fetched yet waits for a JWKS round (fed_worker.c), one whose session is due
 * waits for its refresh (fed_refresh.c). One mechanism for both: a request waits in a line with a ticket, a release of
 * the line up to that ticket wakes it on its own loop (posted through the loop's fetch port). */
#ifndef FED_PARK_H
#define FED_PARK_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

/* Called on req's loop when a parked request may go on: it checks again what it waited for, with no resume callback
 * this time, and answers (or hands req on to the next handler). Never called once req is disposed. */
typedef void (*fed_resume_cb)(h2o_req_t *req, void *data);

typedef struct st_fed_park_t fed_park_t;

/* A line requests wait in. Owned by its user, who initialises it with fed_park_line_init and keeps it until nothing
 * is parked in it any more (release every ticket first: a released request leaves its line). The fields belong to the
 * park (under its mutex). */
typedef struct st_fed_park_line_t {
    h2o_linklist_t waiting; /* parked requests, in no particular order */
    uint64_t reached;       /* the highest ticket released so far */
    size_t n, max;          /* requests parked now; at most max (0: no limit) */
    int gave_up;            /* a request of this line ran out of time before its release */
} fed_park_line_t;

/* A park for the loops 0 .. nloops - 1 (hub_thread_t.index). Out of memory is fatal. */
fed_park_t *fed_park_create(size_t nloops);

/* Frees the park; after the loops stopped (a parked request is gone with its connection). p may be NULL. */
void fed_park_destroy(fed_park_t *p);

/* An empty line of at most max parked requests (0: no limit). */
void fed_park_line_init(fed_park_line_t *line, size_t max);

/* On req's loop thread: parks req in line until the line is released up to ticket (fed_park_release), ms milliseconds
 * pass (counted in turns of the loop's one-second timeout, rounded up), or req is disposed; then resume(req, data)
 * runs on req's loop, once, unless req was disposed. A ticket the line reached already goes on at the loop's next
 * turn. Returns 1 when req is parked (the caller answers nothing now), 0 when it is not and the caller answers at once:
 * resume is NULL, the line holds max requests, or req's loop is not one of the park's or has no fetch port. */
int fed_park_wait(fed_park_t *p, fed_park_line_t *line, uint64_t ticket, h2o_req_t *req, unsigned ms, fed_resume_cb resume,
                  void *data);

/* Releases every request of line whose ticket is at most upto (and any parked later with such a ticket): each goes on
 * on its own loop. Thread-safe, never blocks on a loop. */
void fed_park_release(fed_park_t *p, fed_park_line_t *line, uint64_t upto);

/* 1 when a request of line ran out of time before its release (its user may then stop parking more). */
int fed_park_gave_up(fed_park_t *p, fed_park_line_t *line);

#endif
