/* A secondary node inside a C test, for the tests of federation/'s handlers: the real fed_create on a server whose
 * loop thread 0 is the test's thread (tests/support/loopback.h), against a scripted primary (tests/support/stub.h)
 * that publishes discovery, a JWKS and a token endpoint. */
#ifndef TESTS_SUPPORT_SECONDARY_H
#define TESTS_SUPPORT_SECONDARY_H

#include <jansson.h>
#include "federation/fed.h"
#include "federation/fed_session.h"
#include "hub/config.h"
#include "hub/fetch.h"
#include "hub/jws.h"
#include "hub/server.h"
#include "hub/store.h"
#include "tests/support/loopback.h"
#include "tests/support/stub.h"

#define TEST_SECONDARY_NAME "fedtest"
#define TEST_SECONDARY_CLIENT "node-client" /* the node's client_id at the primary (static credentials) */
#define TEST_SECONDARY_SESSION_COOKIE "hub_" TEST_SECONDARY_NAME "_session"
#define TEST_SECONDARY_STATE_COOKIE "hub_" TEST_SECONDARY_NAME "_state"

typedef struct st_test_secondary_t {
    char *dir;            /* data dir and config file, removed at stop */
    test_stub_t *primary; /* GET /.well-known/openid-configuration, GET /oauth2/jwks, POST /oauth2/token */
    hub_key_t *key;       /* signs the primary's tokens; in its JWKS from the start */
    hub_key_t *new_key;   /* a key of the primary its JWKS does not list until test_secondary_publish(..., 1) */
    hub_config_t cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    hub_server_t *server;
    fed_t *fed;
    test_loop_t loop;
} test_secondary_t;

/* Starts the primary, then the node: its config is a secondary named TEST_SECONDARY_NAME with static credentials,
 * plus secondary_yaml (lines indented by four spaces under "secondary:", e.g. routes; may be NULL). Returns once the
 * node has discovered the primary and installed its keys. Exits the test (status 2) when something cannot start. */
void test_secondary_start(test_secondary_t *t, const char *tag, const char *secondary_yaml);

/* Stops the node and the primary and removes the data dir; every request of the loop must be freed first. */
void test_secondary_stop(test_secondary_t *t);

/* What the primary's JWKS lists from now on: key, and new_key too when both is set. */
void test_secondary_publish(test_secondary_t *t, int both);

/* A JWT the primary would sign with key: header typ (NULL: none), claims as given (consumed). Caller frees. */
char *test_secondary_sign(const hub_key_t *key, const char *typ, json_t *claims);

/* The claims of an access token of the primary for this node: sub, the roles (NULL-terminated), exp in ttl seconds
 * (negative: expired), and name/email when not NULL. New reference. */
json_t *test_secondary_at_claims(const test_secondary_t *t, const char *sub, const char *const *roles, long ttl, const char *name,
                                 const char *email);

/* Starts a session of sub on the node, as a sign-in would: roles, re-validation due in due_in seconds, the primary's
 * refresh token (may be NULL) and its sid. Writes the cookie value into cookie. */
void test_secondary_session(test_secondary_t *t, const char *sub, const char *sid, const char *const *roles, long due_in,
                            const char *refresh_token, char cookie[FED_SESSION_COOKIE_LEN + 1]);

/* Runs a request with an optional Cookie header value and Authorization header value (either may be NULL) to
 * completion, at most 5 s; the caller checks test_req_done and frees it. */
test_req_t *test_secondary_get(test_secondary_t *t, const char *method, const char *path, const char *cookie, const char *auth);

#endif
