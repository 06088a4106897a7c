/* Tests federation/fed_park.c: requests parked in lines wake on their own loop when another thread releases their
 * ticket, never before it, once, at the loop's next turn when the ticket was reached already, after their time when
 * nobody releases them (the line then says someone gave up), never once the client is gone; and parking is refused
 * when the line is full or the loop cannot be woken. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_park.h"
#include "hub/server.h"
#include "tests/check.h"
#include "tests/support/loopback.h"

#define WAIT_MS 5000

static test_loop_t loop;
static pthread_t loop_thread;

/* What happened to one parked request. */
typedef struct {
    int resumed;    /* times resume ran */
    int on_loop;    /* it ran on the loop's thread */
    h2o_req_t *req; /* the request it was given */
} seen_t;

static void on_resume(h2o_req_t *req, void *data)
{
    seen_t *s = data;
    ++s->resumed;
    s->on_loop = pthread_equal(pthread_self(), loop_thread);
    s->req = req;
}

typedef struct {
    fed_park_t *park;
    fed_park_line_t *line;
    uint64_t upto;
} release_arg_t;

static void *release_main(void *arg)
{
    release_arg_t *a = arg;
    fed_park_release(a->park, a->line, a->upto);
    return NULL;
}

/* Releases line up to upto from another thread, as the worker and the fetch thread do. */
static void release_elsewhere(fed_park_t *park, fed_park_line_t *line, uint64_t upto)
{
    release_arg_t a = {park, line, upto};
    pthread_t tid;
    if (pthread_create(&tid, NULL, release_main, &a) != 0)
        abort();
    pthread_join(tid, NULL);
}

/* Runs the loop until s resumed or ms pass. */
static int wait_for(seen_t *s, unsigned ms)
{
    for (unsigned waited = 0; s->resumed == 0 && waited < ms; waited += 20)
        test_loop_run(&loop, 20);
    return s->resumed != 0;
}

static void test_release_by_ticket(fed_park_t *park)
{
    fed_park_line_t line;
    test_req_t *a = test_req_new(&loop, "GET", "/a"), *b = test_req_new(&loop, "GET", "/b");
    seen_t sa = {0}, sb = {0};

    fed_park_line_init(&line, 0);
    CHECK(fed_park_wait(park, &line, 2, test_req_h2o(b), 10000, on_resume, &sb) == 1);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(a), 10000, on_resume, &sa) == 1);
    test_loop_run(&loop, 50);
    CHECK(sa.resumed == 0 && sb.resumed == 0); /* nothing before its release */
    release_elsewhere(park, &line, 1);
    CHECK(wait_for(&sa, WAIT_MS) && sa.on_loop && sa.req == test_req_h2o(a));
    test_loop_run(&loop, 50);
    CHECK(sb.resumed == 0); /* ticket 2 waits for a later release */
    release_elsewhere(park, &line, 5);
    CHECK(wait_for(&sb, WAIT_MS) && sb.on_loop);
    test_loop_run(&loop, 50);
    CHECK(sa.resumed == 1 && sb.resumed == 1); /* once each */
    CHECK(!fed_park_gave_up(park, &line));
    /* a ticket the line reached already goes on at the next turn, not inside the call */
    seen_t sc = {0};
    test_req_t *c = test_req_new(&loop, "GET", "/c");
    CHECK(fed_park_wait(park, &line, 3, test_req_h2o(c), 10000, on_resume, &sc) == 1 && sc.resumed == 0);
    CHECK(wait_for(&sc, WAIT_MS) && sc.resumed == 1);
    test_req_free(a);
    test_req_free(b);
    test_req_free(c);
}

static void test_out_of_time(fed_park_t *park)
{
    fed_park_line_t line;
    test_req_t *a = test_req_new(&loop, "GET", "/a");
    seen_t sa = {0};

    fed_park_line_init(&line, 0);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(a), 1000, on_resume, &sa) == 1);
    CHECK(wait_for(&sa, WAIT_MS) && sa.on_loop); /* nobody released it: its second ran out */
    CHECK(fed_park_gave_up(park, &line));
    release_elsewhere(park, &line, 1); /* a late release finds nobody */
    test_loop_run(&loop, 50);
    CHECK(sa.resumed == 1);
    test_req_free(a);
}

/* The client goes away while parked: its memory goes with the request, and a release must not touch it. */
static void test_gone(fed_park_t *park)
{
    fed_park_line_t line;
    seen_t sa = {0}, sb = {0};
    test_req_t *a = test_req_new(&loop, "GET", "/a"), *b = test_req_new(&loop, "GET", "/b");

    fed_park_line_init(&line, 0);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(a), 10000, on_resume, &sa) == 1);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(b), 10000, on_resume, &sb) == 1);
    test_req_free(a);
    release_elsewhere(park, &line, 1);
    CHECK(wait_for(&sb, WAIT_MS));
    test_loop_run(&loop, 50);
    CHECK(sa.resumed == 0 && sb.resumed == 1);
    /* released, and gone before its loop woke it */
    seen_t sc = {0};
    test_req_t *c = test_req_new(&loop, "GET", "/c");
    CHECK(fed_park_wait(park, &line, 2, test_req_h2o(c), 10000, on_resume, &sc) == 1);
    release_elsewhere(park, &line, 2);
    test_req_free(c);
    test_loop_run(&loop, 100);
    CHECK(sc.resumed == 0);
    test_req_free(b);
}

static void test_refused(fed_park_t *park, fed_park_t *small)
{
    fed_park_line_t line;
    seen_t s[3] = {{0}};
    test_req_t *r[3];
    size_t i;

    fed_park_line_init(&line, 2);
    for (i = 0; i != 3; ++i)
        r[i] = test_req_new(&loop, "GET", "/r");
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(r[0]), 10000, on_resume, &s[0]) == 1);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(r[1]), 10000, on_resume, &s[1]) == 1);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(r[2]), 10000, on_resume, &s[2]) == 0); /* full */
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(r[2]), 10000, NULL, NULL) == 0);       /* no resume */
    release_elsewhere(park, &line, 1);
    CHECK(wait_for(&s[0], WAIT_MS) && wait_for(&s[1], WAIT_MS));
    /* room again once they went on */
    CHECK(fed_park_wait(park, &line, 2, test_req_h2o(r[2]), 10000, on_resume, &s[2]) == 1);
    release_elsewhere(park, &line, 2);
    CHECK(wait_for(&s[2], WAIT_MS));
    /* a park without a slot for this loop cannot wake it: refused */
    fed_park_line_init(&line, 0);
    test_req_t *x = test_req_new(&loop, "GET", "/x");
    CHECK(fed_park_wait(small, &line, 1, test_req_h2o(x), 10000, on_resume, &s[0]) == 0);
    test_req_free(x);
    for (i = 0; i != 3; ++i)
        test_req_free(r[i]);
}

int main(void)
{
    hub_config_t cfg;
    hub_server_t *server = NULL;
    hub_fetcher_t *fetcher = NULL;
    fed_park_t *park = fed_park_create(1), *none = fed_park_create(0);

    hub_config_defaults(&cfg);
    if (hub_fetcher_create(&fetcher) != 0 || hub_server_create(&server, &cfg, NULL, fetcher) != 0) {
        fprintf(stderr, "cannot set up a server\n");
        return 1;
    }
    loop_thread = pthread_self();
    test_loop_init(&loop, server, NULL);
    /* without a fetch port the loop cannot be woken from elsewhere: nothing parks */
    test_req_t *r = test_req_new(&loop, "GET", "/");
    fed_park_line_t line;
    seen_t s = {0};
    fed_park_line_init(&line, 0);
    CHECK(fed_park_wait(park, &line, 1, test_req_h2o(r), 1000, on_resume, &s) == 0);
    test_req_free(r);
    test_loop_dispose(&loop);

    test_loop_init(&loop, server, fetcher);
    test_release_by_ticket(park);
    test_out_of_time(park);
    test_gone(park);
    test_refused(park, none);
    test_loop_dispose(&loop);
    fed_park_destroy(park);
    fed_park_destroy(none);
    hub_server_destroy(server);
    hub_fetcher_destroy(fetcher);
    hub_config_dispose(&cfg);
    return check_report("federation/park");
}
