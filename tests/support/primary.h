/* A primary node inside a C test, for the tests of idp/'s handlers: the real idp_create on a server whose loop thread 0
 * is the test's thread (tests/support/loopback.h), on a store in a temporary directory, with its sign-in workers (the
 * password checks run on the server's worker pool and complete on the test's loop). */
#ifndef TESTS_SUPPORT_PRIMARY_H
#define TESTS_SUPPORT_PRIMARY_H

#include <jansson.h>
#include "hub/config.h"
#include "hub/fetch.h"
#include "hub/server.h"
#include "hub/store.h"
#include "idp/ctx.h"
#include "tests/support/loopback.h"

#define TEST_PRIMARY_NAME "idptest"
#define TEST_PRIMARY_ISSUER "http://127.0.0.1:1" /* node.public_url: no one listens there */
#define TEST_PRIMARY_SESSION_COOKIE "hub_" TEST_PRIMARY_NAME "_session"
#define TEST_PRIMARY_CSRF_COOKIE "hub_" TEST_PRIMARY_NAME "_csrf"
#define TEST_PRIMARY_WAIT_MS 10000 /* how long a request may take: a sign-in waits for an Argon2id check */

typedef struct st_test_primary_t {
    char *dir; /* data dir and config file, removed at stop */
    hub_config_t cfg;
    hub_store_t *store;
    hub_fetcher_t *fetcher;
    hub_server_t *server;
    idp_t *idp;
    test_loop_t loop;
    int borrowed; /* store is the caller's (test_primary_start_store): not closed at stop */
} test_primary_t;

/* Starts a primary named TEST_PRIMARY_NAME (signing with ES256) with primary_yaml appended under "primary:" (lines
 * indented by two spaces, e.g. "  skip_authorization: auto\n"; may be NULL). Exits the test (status 2) when it cannot
 * start. */
void test_primary_start(test_primary_t *t, const char *tag, const char *primary_yaml);

/* The same on store, the caller's (e.g. a PostgreSQL store of tests/support/backend.h), open until after
 * test_primary_stop. */
void test_primary_start_store(test_primary_t *t, const char *tag, const char *primary_yaml, hub_store_t *store);

/* Stops the node and removes its data dir; every request of the loop must be freed first. */
void test_primary_stop(test_primary_t *t);

/* Adds a user with a password (NULL: none) and roles (NULL-terminated, may be NULL); returns the user's sub
 * (malloc'ed). */
char *test_primary_user(test_primary_t *t, const char *username, const char *password, const char *const *roles);

/* Registers a client as hubctl would: client_id (given), grant type and auth method by name ("authorization_code",
 * "client_secret_basic", ...), redirect URIs and scopes separated by spaces (either may be NULL: none, the default
 * scopes), skip_authorization. Writes the secret into secret (may be NULL; "" for auth method none). Exits the test when
 * the client is refused. */
void test_primary_client(test_primary_t *t, const char *client_id, const char *grant_type, const char *auth_method,
                         const char *redirect_uris, const char *scopes, int skip_authorization, char secret[44]);

/* The same for a client the caller filled (validated and written as it is; its secret set when the auth method needs
 * one). */
void test_primary_put_client(test_primary_t *t, idp_client_t *client, char secret[44]);

/* Disables the user username in the store's record alone (as another process could, behind the node's back: no
 * session or token is ended); 0, or a store error. */
int test_primary_disable_user(test_primary_t *t, const char *username);

/* Disables client_id as hubctl would; 0, or a store error. */
int test_primary_disable_client(test_primary_t *t, const char *client_id);

/* A request with an optional Cookie header value, Authorization header value and body (content type
 * application/x-www-form-urlencoded unless ctype names another; body NULL: none), run to completion (at most
 * TEST_PRIMARY_WAIT_MS); the caller checks test_req_done and frees it. */
test_req_t *test_primary_request(test_primary_t *t, const char *method, const char *path, const char *cookie, const char *auth,
                                 const char *ctype, const char *body);

/* Signs username in through the real /login (GET for the form's token, then POST, parked for its password check on
 * the worker pool): writes "hub_<name>_session=...; hub_<name>_csrf=..." into cookie (cap bytes). Returns 0, or -1
 * when the sign-in did not end in a session (the cookie is then the pre-session's only). */
int test_primary_sign_in(test_primary_t *t, const char *username, const char *password, char *cookie, size_t cap);

/* GET /oauth2/authorize?query with the Cookie header value cookie (may be NULL): returns the status and copies the
 * Location header (may be absent: "") into location. */
int test_primary_authorize(test_primary_t *t, const char *cookie, const char *query, char *location, size_t cap);

/* "Basic base64(id:secret)" written into out (at least 2 * (strlen(id) + strlen(secret)) + 16 bytes); returns out. */
const char *test_basic(const char *id, const char *secret, char *out, size_t cap);

/* POSTs body to /oauth2/token with the Authorization header value auth (may be NULL): the answer's JSON when it was 200
 * (new reference), else NULL. */
json_t *test_primary_grant(test_primary_t *t, const char *auth, const char *body);

/* The code flow for the user of session cookie at a confidential client that skips consent and authenticates with
 * client_secret_basic (secret). Returns the token answer (new reference) or NULL. */
json_t *test_primary_code_flow(test_primary_t *t, const char *cookie, const char *client_id, const char *secret,
                               const char *redirect_uri, const char *scope);

/* The body of a finished request as JSON (new reference), or NULL. */
json_t *test_req_json(test_req_t *r);

/* The string member name of obj, or "" (never NULL). */
const char *test_json_str(const json_t *obj, const char *name);

/* The number of live records in table (sessions, codes, clients...): what a refused request must leave as it was. */
size_t test_primary_count(test_primary_t *t, hub_table_t table);

/* Takes the store's write lock on a thread of its own (a write transaction left open), so that the writer thread's next
 * batch waits and requests that write stay parked; test_primary_release_writes commits it and joins the thread. One
 * hold at a time. */
void test_primary_hold_writes(test_primary_t *t);
void test_primary_release_writes(test_primary_t *t);

/* The value of the hidden input name in an HTML page, copied into out (cap bytes); 0, or -1 when there is none. */
int test_form_value(const char *html, const char *name, char *out, size_t cap);

/* The value of parameter name in a URL's query or fragment (as sent: not percent-decoded) copied into out; 0, or -1. */
int test_url_param(const char *url, const char *name, char *out, size_t cap);

#endif
