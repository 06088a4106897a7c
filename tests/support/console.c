/* The consoles in C tests: signed-in browsers, their requests, and reading the pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/support/console.h"

static void die(const char *what)
{
    fprintf(stderr, "test support (console): %s\n", what);
    exit(2);
}

int test_html_field(const char *html, const char *action, const char *name, char *out, size_t cap)
{
    char needle[256];
    const char *from = html;

    if (action != NULL) {
        snprintf(needle, sizeof(needle), "action=\"%s\"", action);
        if ((from = strstr(html, needle)) == NULL)
            return -1;
    }
    return test_form_value(from, name, out, cap);
}

void test_browser_sign_in(test_primary_t *t, test_browser_t *b, const char *username, const char *password)
{
    test_req_t *r;

    if (test_primary_sign_in(t, username, password, b->cookie, sizeof(b->cookie)) != 0)
        die("cannot sign in");
    r = test_console_get(t, b, "/account/");
    if (!test_req_done(r) || test_req_status(r) != 200 ||
        test_html_field(test_req_text(r), "/account/password", "csrf_token", b->token, sizeof(b->token)) != 0)
        die("no console token on /account/");
    test_req_free(r);
}

test_req_t *test_console_get(test_primary_t *t, const test_browser_t *b, const char *path)
{
    return test_primary_request(t, "GET", path, b != NULL ? b->cookie : NULL, NULL, NULL, NULL);
}

test_req_t *test_console_post(test_primary_t *t, const test_browser_t *b, const char *path, const char *fields, int with_token)
{
    size_t cap = strlen(fields) + 128;
    char *body = malloc(cap);
    test_req_t *r;

    if (body == NULL)
        die("out of memory");
    if (with_token)
        snprintf(body, cap, "csrf_token=%s%s%s", b->token, fields[0] != '\0' ? "&" : "", fields);
    else
        snprintf(body, cap, "%s", fields);
    r = test_primary_request(t, "POST", path, b != NULL ? b->cookie : NULL, NULL, NULL, body);
    free(body);
    return r;
}

int test_console_status(test_primary_t *t, const test_browser_t *b, const char *path)
{
    test_req_t *r = test_console_get(t, b, path);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    test_req_free(r);
    return status;
}

size_t test_console_audits(test_primary_t *t)
{
    return test_primary_count(t, HUB_T_AUDIT);
}

int test_html_has(const char *html, const char *id, const char *needle)
{
    char pat[128];
    const char *p, *end;

    snprintf(pat, sizeof(pat), "id=\"%s\"", id);
    if ((p = strstr(html, pat)) == NULL || (p = strchr(p, '>')) == NULL)
        return 0;
    ++p;
    end = strstr(p, needle);
    return end != NULL && memchr(p, '<', (size_t)(end - p)) == NULL;
}
