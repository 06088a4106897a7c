/* Tests for tools/bench/flowhttp.c, the HTTP/1.1 reading of the flow load driver: answers arriving in pieces,
 * Content-Length and chunked bodies, malformed and oversized answers, the cookie jar, form, JSON and query fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/flowhttp.h"
#include "tests/check.h"

/* Parses text (copied into a buffer of cap bytes) as it would stand after its first len bytes arrived. */
static int parse_prefix(const char *text, size_t len, size_t cap, fh_jar_t *jar, fh_resp_t *r, size_t *used, const char **why)
{
    static char buf[65536];
    memcpy(buf, text, len);
    return fh_parse_response(buf, len, cap, jar, r, used, why);
}

static int parse(const char *text, fh_jar_t *jar, fh_resp_t *r, size_t *used, const char **why)
{
    return parse_prefix(text, strlen(text), 65536, jar, r, used, why);
}

static void test_content_length(void)
{
    const char *a = "HTTP/1.1 302 Found\r\nContent-Length: 5\r\nLocation:  /login?next=%2F  \r\n"
                    "set-cookie: hub_p_csrf=abc; Path=/; HttpOnly\r\nSet-Cookie: other=1\r\nConnection: keep-alive\r\n\r\nhello";
    fh_jar_t jar = {0};
    fh_resp_t r;
    size_t used, n;
    const char *why;

    CHECK(parse(a, &jar, &r, &used, &why) == 1);
    CHECK(r.status == 302 && !r.close && used == strlen(a));
    CHECK(r.location_len == 15 && memcmp(r.location, "/login?next=%2F", 15) == 0);
    CHECK(r.body_len == 5 && memcmp(r.body, "hello", 5) == 0);
    CHECK(jar.n == 2 && strcmp(jar.v[0].name, "hub_p_csrf") == 0 && strcmp(jar.v[0].value, "abc") == 0);
    /* every shorter prefix needs more bytes, and applies no cookie before the answer is whole */
    for (n = 0; n != strlen(a); ++n) {
        fh_jar_t j2 = {0};
        CHECK(parse_prefix(a, n, 65536, &j2, &r, &used, &why) == 0);
        CHECK(j2.n == 0);
    }
    CHECK(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", &jar, &r, &used, &why) == 1);
    CHECK(r.close && r.body_len == 0 && r.location == NULL);
    CHECK(parse("HTTP/1.1 204 No Content\r\n\r\n", &jar, &r, &used, &why) == 1 && r.status == 204);
}

static void test_chunked(void)
{
    const char *a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
    const char *b = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
    fh_jar_t jar = {0};
    fh_resp_t r;
    size_t used, n;
    const char *why;

    CHECK(parse(a, &jar, &r, &used, &why) == 1);
    CHECK(r.body_len == 11 && memcmp(r.body, "hello world", 11) == 0 && used == strlen(a));
    for (n = strlen("HTTP/1.1 200 OK\r\n"); n != strlen(a); ++n)
        CHECK(parse_prefix(a, n, 65536, &jar, &r, &used, &why) == 0);
    CHECK(parse(b, &jar, &r, &used, &why) == 1);
    CHECK(r.body_len == 10 && memcmp(r.body, "0123456789", 10) == 0 && used == strlen(b));
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",                      /* not HTTP/1.1 */
        "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",                      /* status */
        "HTTP/1.1 200\r\n\r\n",                                              /* too short a status line, no length */
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",                          /* header line */
        "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",                    /* length */
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",                     /* negative length */
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",            /* absurd length */
        "HTTP/1.1 200 OK\r\n\r\nbody until close",                           /* no length at all */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", /* chunk size */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", /* chunk without its CRLF */
        "HTTP/1.1 200 OK\r\nSet-Cookie: novalue\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nSet-Cookie: =v\r\nContent-Length: 0\r\n\r\n",
    };
    fh_jar_t jar = {0};
    fh_resp_t r;
    size_t used, i;
    const char *why;

    for (i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        int ret = parse(bad[i], &jar, &r, &used, &why);
        if (ret != -1)
            fprintf(stderr, "case %zu: %d\n", i, ret);
        CHECK(ret == -1);
    }
    CHECK(jar.n == 0);
    /* a buffer full of headers that never end, and a body longer than the buffer */
    char big[200];
    memset(big, 'a', sizeof(big));
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    CHECK(parse_prefix(big, 64, 64, &jar, &r, &used, &why) == -1 && strcmp(why, "too_big") == 0);
    const char *longer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab";
    CHECK(parse_prefix(longer, strlen(longer), 64, &jar, &r, &used, &why) == -1 && strcmp(why, "too_big") == 0);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab", &jar, &r, &used, &why) == 0);
}

static void test_jar(void)
{
    fh_jar_t jar = {0};
    fh_resp_t r;
    size_t used;
    const char *why;
    char out[512], name[160];
    int i;

    CHECK(fh_jar_header(&jar, out, sizeof(out)) == 0 && out[0] == '\0');
    CHECK(parse("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2; Max-Age=60\r\nContent-Length: 0\r\n\r\n", &jar, &r, &used,
                &why) == 1);
    CHECK(fh_jar_header(&jar, out, sizeof(out)) == strlen("Cookie: a=1; b=2\r\n") && strcmp(out, "Cookie: a=1; b=2\r\n") == 0);
    CHECK(fh_jar_header(&jar, out, 10) == 0 && out[0] == '\0'); /* does not fit */
    /* the same name replaces; Max-Age=0 or a negative one removes */
    CHECK(parse("HTTP/1.1 200 OK\r\nSet-Cookie: a=3\r\nSet-Cookie: b=; max-age=0\r\nContent-Length: 0\r\n\r\n", &jar, &r, &used,
                &why) == 1);
    CHECK(jar.n == 1 && strcmp(jar.v[0].value, "3") == 0);
    CHECK(parse("HTTP/1.1 200 OK\r\nSet-Cookie: a=x; Path=/; Max-Age=-1\r\nContent-Length: 0\r\n\r\n", &jar, &r, &used, &why) == 1);
    CHECK(jar.n == 0);
    /* at most FH_MAX_COOKIES names; a name or value too long is refused */
    for (i = 0; i != FH_MAX_COOKIES + 1; ++i) {
        char msg[128];
        snprintf(msg, sizeof(msg), "HTTP/1.1 200 OK\r\nSet-Cookie: c%d=v\r\nContent-Length: 0\r\n\r\n", i);
        CHECK(parse(msg, &jar, &r, &used, &why) == (i < FH_MAX_COOKIES ? 1 : -1));
    }
    CHECK(jar.n == FH_MAX_COOKIES && strcmp(why, "bad_cookie") == 0);
    memset(name, 'n', sizeof(name));
    snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nSet-Cookie: %.100s=v\r\nContent-Length: 0\r\n\r\n", name);
    CHECK(parse(out, &jar, &r, &used, &why) == -1);
}

static void test_fields(void)
{
    const char *page = "<input type=\"hidden\" name=\"csrf_token\" value=\"tok-1_\">\n"
                       "<input type=\"hidden\" name=\"next\" value=\"/oauth2/authorize?a=1&amp;b=&quot;x&#39;&lt;&gt;&foo;\">";
    const char *json = "{\"x\":\"access_token\", \"access_token\" : \"abc.def\",\"esc\":\"a\\\"b\",\"active\": true}";
    char out[256];

    CHECK(fh_form_field(page, strlen(page), "csrf_token", out, sizeof(out)) == 0 && strcmp(out, "tok-1_") == 0);
    CHECK(fh_form_field(page, strlen(page), "next", out, sizeof(out)) == 0 &&
          strcmp(out, "/oauth2/authorize?a=1&b=\"x'<>&foo;") == 0);
    CHECK(fh_form_field(page, strlen(page), "nope", out, sizeof(out)) == -1);
    CHECK(fh_form_field(page, strlen(page), "next", out, 8) == -1);
    CHECK(fh_form_field("name=\"a\" value=\"unterminated", 27, "a", out, sizeof(out)) == -1);

    CHECK(fh_json_string(json, strlen(json), "access_token", out, sizeof(out)) == 0 && strcmp(out, "abc.def") == 0);
    CHECK(fh_json_string(json, strlen(json), "esc", out, sizeof(out)) == -1);
    CHECK(fh_json_string(json, strlen(json), "refresh_token", out, sizeof(out)) == -1);
    CHECK(fh_json_string(json, strlen(json), "access_token", out, 4) == -1);
    CHECK(fh_json_value(json, strlen(json), "active") != NULL &&
          strncmp(fh_json_value(json, strlen(json), "active"), "true", 4) == 0);
    CHECK(fh_json_value(json, 10, "active") == NULL); /* bounded by len */

    const char *loc = "http://127.0.0.1:9/cb?codex=1&code=a%2Bb+c&state=s1&bad=%zz&iss=http%3A%2F%2Fh";
    CHECK(fh_query_param(loc, strlen(loc), "code", out, sizeof(out)) == 0 && strcmp(out, "a+b c") == 0);
    CHECK(fh_query_param(loc, strlen(loc), "state", out, sizeof(out)) == 0 && strcmp(out, "s1") == 0);
    CHECK(fh_query_param(loc, strlen(loc), "bad", out, sizeof(out)) == 0 && strcmp(out, "%zz") == 0);
    CHECK(fh_query_param(loc, strlen(loc), "iss", out, sizeof(out)) == 0 && strcmp(out, "http://h") == 0);
    CHECK(fh_query_param(loc, strlen(loc), "error", out, sizeof(out)) == -1);
    CHECK(fh_query_param(loc, strlen(loc), "iss", out, 4) == -1);
    CHECK(fh_query_param("/cb", 3, "code", out, sizeof(out)) == -1);

    CHECK(fh_url_encode(out, sizeof(out), "a b&c/\xc3\xa9~-._") == 0 && strcmp(out, "a%20b%26c%2F%C3%A9~-._") == 0);
    CHECK(fh_url_encode(out, 6, "a b&c") == -1);
    CHECK(fh_copy_n(out, 4, "abcd", 4) == -1 && fh_copy_n(out, 5, "abcd", 4) == 0 && strcmp(out, "abcd") == 0);
}

int main(void)
{
    test_content_length();
    test_chunked();
    test_malformed();
    test_jar();
    test_fields();
    return check_report("bench/flowhttp");
}
