/* Tests federation/fed_notify.c in process: POST /auth/jwks-changed from anyone only asks for the shared JWKS refresh
 * (the node then knows a key the primary started publishing), every other method is a 405, and asks past the rate
 * limit are kept for later, never refused differently or fetched again at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hub/clock.h"
#include "federation/fed_ctx.h"
#include "tests/check.h"
#include "tests/support/secondary.h"

#define WAIT_MS 5000

static int status_of(test_secondary_t *t, const char *method, const char *path, const char *body)
{
    test_req_t *r = test_req_new(&t->loop, method, path);
    int status;

    if (body != NULL)
        test_req_body(r, "application/x-www-form-urlencoded", body);
    test_req_run(r, WAIT_MS);
    status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

static void test_methods(test_secondary_t *t)
{
    static const char *const refused[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    size_t i;

    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_req_new(&t->loop, refused[i], "/auth/jwks-changed");
        CHECK(test_req_run(r, WAIT_MS) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "POST") == 0);
        CHECK(strcmp(refused[i], "HEAD") == 0 || strstr(test_req_text(r), "\"invalid_request\"") != NULL);
        test_req_free(r);
    }
    CHECK(status_of(t, "POST", "/auth/jwks-changed/x", NULL) == 404);
    CHECK(status_of(t, "POST", "/auth/jwks-changedx", NULL) == 404);
    CHECK(status_of(t, "POST", "/auth/jwks-changed/../jwks-changed", NULL) == 400); /* not canonical */
}

/* The key the primary publishes next is known after one POST, without a request having to wait for it. */
static uint64_t refreshed_at; /* hub_now() of the notice that refreshed */

static void test_refresh(test_secondary_t *t)
{
    static const char *const roles[] = {"Employee", NULL};
    char *token = test_secondary_sign(t->new_key, "at+jwt", test_secondary_at_claims(t, "n1", roles, 600, NULL, NULL));
    char auth[4096];
    unsigned before = test_stub_hits(t->primary, "/oauth2/jwks");

    snprintf(auth, sizeof(auth), "Bearer %s", token);
    test_secondary_publish(t, 1);
    refreshed_at = hub_now();
    test_req_t *r = test_req_new(&t->loop, "POST", "/auth/jwks-changed");
    CHECK(test_req_run(r, WAIT_MS) && test_req_status(r) == 204 && test_req_len(r) == 0);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    test_req_free(r);
    CHECK(test_stub_wait_hits(t->primary, "/oauth2/jwks", before + 1, WAIT_MS) == before + 1);
    for (int i = 0; i != 250 && fed_jwks_find(t->fed->jwks, t->new_key->kid) == NULL; ++i) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    r = test_secondary_get(t, "GET", "/auth/me", NULL, auth);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    free(token);
}

/* Within the rate limit, more notices (with or without a body, from anyone) get the same answer and no fetch now:
 * one refresh is kept for when the limit allows. */
static void test_rate_limit(test_secondary_t *t)
{
    static const char *const bodies[] = {NULL, "", "logout_token=x", "a=%zz&&&="};
    unsigned before = test_stub_hits(t->primary, "/oauth2/jwks");
    size_t i;

    for (i = 0; i != sizeof(bodies) / sizeof(bodies[0]); ++i)
        CHECK(status_of(t, "POST", "/auth/jwks-changed", bodies[i]) == 204);
    test_loop_run(&t->loop, 200);
    if (hub_now() < refreshed_at + FED_JWKS_FORCE_INTERVAL - 2) { /* unless the machine stalled past the limit */
        CHECK(fed_jwks_deferred(t->fed->jwks, 0) != 0);           /* kept: the second it may be served */
        CHECK(test_stub_hits(t->primary, "/oauth2/jwks") == before);
    }
}

int main(void)
{
    test_secondary_t t;

    test_secondary_start(&t, "fed-notify", NULL);
    test_methods(&t);
    test_refresh(&t);
    test_rate_limit(&t);
    test_secondary_stop(&t);
    return check_report("federation/notify");
}
