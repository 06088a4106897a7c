/* The consoles (idp/console.h) in C tests: a signed-in browser's requests to /admin/ and /account/ pages, with the
 * console's form token of its session. */
#ifndef TESTS_SUPPORT_CONSOLE_H
#define TESTS_SUPPORT_CONSOLE_H

#include <stddef.h>
#include "tests/support/primary.h"

/* A browser signed in as a user: its Cookie header value and the console's form token of its session. */
typedef struct st_test_browser_t {
    char cookie[512];
    char token[64];
} test_browser_t;

/* Signs username in (tests/support/primary.h) and reads the console's token from /account/; exits the test (status 2)
 * when either fails. */
void test_browser_sign_in(test_primary_t *t, test_browser_t *b, const char *username, const char *password);

/* GET path with b's cookies (b NULL: none), run to completion; the caller frees it. */
test_req_t *test_console_get(test_primary_t *t, const test_browser_t *b, const char *path);
/* POST to path the form "csrf_token=<b's token>&" fields (fields already encoded; may be ""), or fields alone when
 * with_token is 0. */
test_req_t *test_console_post(test_primary_t *t, const test_browser_t *b, const char *path, const char *fields, int with_token);
/* The status of a GET (b may be NULL). */
int test_console_status(test_primary_t *t, const test_browser_t *b, const char *path);

/* The number of audit entries stored (HUB_T_AUDIT). */
size_t test_console_audits(test_primary_t *t);
/* 1 when html has, after the element whose id is id ("id=\"...\""), the text needle before the next '<' that closes
 * it, i.e. <tag id="id">needle...; 0 otherwise. */
int test_html_has(const char *html, const char *id, const char *needle);
/* The value of the form field name inside the element opening at "id=\"form_id\"" or the form with action (either may
 * be NULL), copied into out; 0 or -1. */
int test_html_field(const char *html, const char *action, const char *name, char *out, size_t cap);

#endif
