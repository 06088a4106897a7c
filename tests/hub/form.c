/* Tests for hub/form.c: form and query decoding, limits, cookies, headers, escaping and Basic auth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/form.h"
#include "tests/check.h"

static h2o_mem_pool_t pool;

static int parse(const char *s, hub_form_t *f)
{
    return hub_form_parse(&pool, s, strlen(s), f);
}

static int streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void test_form_basic(void)
{
    hub_form_t f;

    CHECK(parse("a=1&b=two+words&c=%41%62%2B%26%3d", &f) == 0);
    CHECK(f.n == 3);
    CHECK(streq(hub_form_get(&f, "a"), "1"));
    CHECK(streq(hub_form_get(&f, "b"), "two words"));
    CHECK(streq(hub_form_get(&f, "c"), "Ab+&="));
    CHECK(hub_form_get(&f, "d") == NULL);
    CHECK(hub_form_get(&f, "A") == NULL);
    CHECK(f.items[2].value.len == 5 && f.items[2].value.base[5] == '\0');

    /* names are decoded too; '=' inside a value is kept */
    CHECK(parse("redirect%5Furi=https%3A%2F%2Fx.example%2Fcb%3Fa%3Db&x=a=b=c", &f) == 0);
    CHECK(streq(hub_form_get(&f, "redirect_uri"), "https://x.example/cb?a=b"));
    CHECK(streq(hub_form_get(&f, "x"), "a=b=c"));

    /* empty pairs skipped, name without '=' has an empty value, empty value kept */
    CHECK(parse("&&a&b=&&c=3&", &f) == 0);
    CHECK(f.n == 3);
    CHECK(streq(hub_form_get(&f, "a"), ""));
    CHECK(streq(hub_form_get(&f, "b"), ""));
    CHECK(streq(hub_form_get(&f, "c"), "3"));
    CHECK(parse("", &f) == 0 && f.n == 0 && f.items == NULL);
    CHECK(parse("&&&", &f) == 0 && f.n == 0);

    /* '+' only means space before decoding: %2B stays a plus */
    CHECK(parse("s=a+b%2Bc++", &f) == 0 && streq(hub_form_get(&f, "s"), "a b+c  "));
    /* UTF-8 bytes pass through */
    CHECK(parse("n=%C3%A9t%C3%A9", &f) == 0 && streq(hub_form_get(&f, "n"), "\xc3\xa9t\xc3\xa9"));
    /* lower-case hex */
    CHECK(parse("h=%e2%82%ac", &f) == 0 && streq(hub_form_get(&f, "h"), "\xe2\x82\xac"));
}

static void test_form_repeated(void)
{
    hub_form_t f;

    CHECK(parse("scope=a&client_id=x&scope=b&scope=c", &f) == 0);
    CHECK(hub_form_count(&f, "scope") == 3);
    CHECK(hub_form_count(&f, "client_id") == 1);
    CHECK(hub_form_count(&f, "state") == 0);
    CHECK(streq(hub_form_get(&f, "scope"), "a"));
    /* decoded names count together */
    CHECK(parse("a=1&%61=2", &f) == 0 && hub_form_count(&f, "a") == 2);
}

static void test_form_malformed(void)
{
    static const char *bad[] = {"a=%", "a=%4", "a=%G1", "a=%1G", "%zz=1", "a=b%", "a=%%41", "a=%00", "a%00=1", "a=x%0"};
    hub_form_t f;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        int ret = parse(bad[i], &f);
        if (ret != HUB_E_PARSE)
            fprintf(stderr, "input %s\n", bad[i]);
        CHECK(ret == HUB_E_PARSE);
        CHECK(f.n == 0 && f.items == NULL);
    }
    /* a literal NUL byte */
    CHECK(hub_form_parse(&pool, "a=b\0c", 5, &f) == HUB_E_PARSE);
    /* not NUL-terminated input: only len bytes are read */
    CHECK(hub_form_parse(&pool, "a=12345", 3, &f) == 0 && streq(hub_form_get(&f, "a"), "1"));
    CHECK(hub_form_parse(&pool, "a=%41", 4, &f) == HUB_E_PARSE);
}

static void test_form_limits(void)
{
    char *buf = malloc(HUB_FORM_MAX_LEN + 2);
    hub_form_t f;
    size_t i, n;

    /* exactly 256 fields is fine, 257 is too many; empty pairs do not count */
    n = 0;
    for (i = 0; i < HUB_FORM_MAX_FIELDS; ++i)
        n += snprintf(buf + n, 16, "k%zu=v&&", i);
    CHECK(hub_form_parse(&pool, buf, n, &f) == 0 && f.n == HUB_FORM_MAX_FIELDS);
    CHECK(streq(hub_form_get(&f, "k255"), "v"));
    n += snprintf(buf + n, 16, "x=y");
    CHECK(hub_form_parse(&pool, buf, n, &f) == HUB_E_TOOBIG && f.n == 0);

    /* exactly 64 KiB is fine, one more byte is too big */
    memset(buf, 'a', HUB_FORM_MAX_LEN + 1);
    buf[0] = 'v';
    buf[1] = '=';
    CHECK(hub_form_parse(&pool, buf, HUB_FORM_MAX_LEN, &f) == 0 && f.n == 1 && f.items[0].value.len == HUB_FORM_MAX_LEN - 2);
    CHECK(hub_form_parse(&pool, buf, HUB_FORM_MAX_LEN + 1, &f) == HUB_E_TOOBIG);
    free(buf);
}

/* A fake request with just what the parsers read. */
static void init_req(h2o_req_t *req, const char *path)
{
    const char *q;

    memset(req, 0, sizeof(*req));
    req->path = h2o_iovec_init(path, strlen(path));
    q = strchr(path, '?');
    req->query_at = q != NULL ? (size_t)(q - path) : SIZE_MAX;
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&pool, &req->headers, name, strlen(name), 1, NULL, value, strlen(value));
}

static void test_query_and_body(void)
{
    h2o_req_t req;
    hub_form_t f;

    init_req(&req, "/oauth2/authorize?response_type=code&client_id=abc&redirect_uri=http%3A%2F%2Fh%2Fcb");
    CHECK(hub_form_parse_query(&pool, &req, &f) == 0 && f.n == 3);
    CHECK(streq(hub_form_get(&f, "redirect_uri"), "http://h/cb"));
    init_req(&req, "/plain");
    CHECK(hub_form_parse_query(&pool, &req, &f) == 0 && f.n == 0);
    init_req(&req, "/empty?");
    CHECK(hub_form_parse_query(&pool, &req, &f) == 0 && f.n == 0);
    init_req(&req, "/bad?a=%zz");
    CHECK(hub_form_parse_query(&pool, &req, &f) == HUB_E_PARSE);

    init_req(&req, "/oauth2/token");
    req.entity = h2o_iovec_init(H2O_STRLIT("grant_type=authorization_code&code=xyz"));
    CHECK(hub_form_parse_body(&pool, &req, &f) == HUB_E_INVAL); /* no Content-Type */
    add_header(&req, "content-type", "text/plain");
    CHECK(hub_form_parse_body(&pool, &req, &f) == HUB_E_INVAL);

    init_req(&req, "/oauth2/token");
    req.entity = h2o_iovec_init(H2O_STRLIT("grant_type=authorization_code&code=xyz"));
    add_header(&req, "content-type", " Application/X-WWW-Form-URLEncoded ; charset=UTF-8");
    CHECK(hub_form_parse_body(&pool, &req, &f) == 0 && f.n == 2);
    CHECK(streq(hub_form_get(&f, "code"), "xyz"));
    req.entity = h2o_iovec_init(NULL, 0);
    CHECK(hub_form_parse_body(&pool, &req, &f) == 0 && f.n == 0);
    req.entity = h2o_iovec_init(H2O_STRLIT("a=%"));
    CHECK(hub_form_parse_body(&pool, &req, &f) == HUB_E_PARSE);

    init_req(&req, "/x");
    req.entity = h2o_iovec_init(H2O_STRLIT("a=1"));
    add_header(&req, "content-type", "application/x-www-form-urlencodedX");
    CHECK(hub_form_parse_body(&pool, &req, &f) == HUB_E_INVAL);
    init_req(&req, "/x");
    add_header(&req, "content-type", "multipart/form-data; boundary=x");
    CHECK(hub_form_parse_body(&pool, &req, &f) == HUB_E_INVAL);
}

static void test_cookies(void)
{
    hub_form_t f;
    const char *s;

    s = "sid=abc; theme=\"dark\";  spaced  =  v w  ;empty=;noeq; =anon; q=\"; last=1";
    CHECK(hub_cookie_parse(&pool, s, strlen(s), &f) == 0);
    CHECK(f.n == 6);
    CHECK(streq(hub_form_get(&f, "sid"), "abc"));
    CHECK(streq(hub_form_get(&f, "theme"), "dark"));
    CHECK(streq(hub_form_get(&f, "spaced"), "v w"));
    CHECK(streq(hub_form_get(&f, "empty"), ""));
    CHECK(hub_form_get(&f, "noeq") == NULL);
    CHECK(streq(hub_form_get(&f, "q"), "\"")); /* a lone quote is not a quoted value */
    CHECK(streq(hub_form_get(&f, "last"), "1"));

    /* no percent decoding; '=' in values (base64) kept */
    s = "t=a%20b; b=YWJj==";
    CHECK(hub_cookie_parse(&pool, s, strlen(s), &f) == 0 && streq(hub_form_get(&f, "t"), "a%20b"));
    CHECK(streq(hub_form_get(&f, "b"), "YWJj=="));
    /* a pair with control characters is skipped, the rest survive */
    s = "a=1; b=x\001y; c=3";
    CHECK(hub_cookie_parse(&pool, s, strlen(s), &f) == 0 && f.n == 2 && hub_form_get(&f, "b") == NULL);
    CHECK(hub_cookie_parse(&pool, "a=1\0b=2", 7, &f) == 0 && f.n == 0);
    CHECK(hub_cookie_parse(&pool, "", 0, &f) == 0 && f.n == 0);
    CHECK(hub_cookie_parse(&pool, " ; ;", 4, &f) == 0 && f.n == 0);

    /* limits */
    char *buf = malloc(HUB_COOKIE_MAX_LEN + 1);
    size_t i, n = 0;
    for (i = 0; i < HUB_COOKIE_MAX_FIELDS + 1; ++i)
        n += snprintf(buf + n, 16, "c%zu=v; ", i);
    CHECK(hub_cookie_parse(&pool, buf, n, &f) == HUB_E_TOOBIG);
    memset(buf, 'a', HUB_COOKIE_MAX_LEN + 1);
    buf[1] = '=';
    CHECK(hub_cookie_parse(&pool, buf, HUB_COOKIE_MAX_LEN, &f) == 0 && f.n == 1);
    CHECK(hub_cookie_parse(&pool, buf, HUB_COOKIE_MAX_LEN + 1, &f) == HUB_E_TOOBIG);
    free(buf);
}

static void test_req_cookie_and_header(void)
{
    h2o_req_t req;

    init_req(&req, "/");
    CHECK(hub_req_cookie(&pool, &req, "sid") == NULL);
    add_header(&req, "cookie", "other=1; hub-primary_sid=\"s1\"");
    add_header(&req, "cookie", "hub-secondary_sid=s2; hub-primary_sid=late");
    add_header(&req, "authorization", "Bearer tok");
    add_header(&req, "x-dup", "first");
    add_header(&req, "x-dup", "second");
    CHECK(hub_req_cookie(&pool, &req, "hub-primary_sid") == NULL); /* sent twice: ambiguous, neither counts */
    CHECK(streq(hub_req_cookie(&pool, &req, "hub-secondary_sid"), "s2"));
    CHECK(hub_req_cookie(&pool, &req, "hub") == NULL);
    CHECK(hub_req_cookie(&pool, &req, "sid") == NULL);

    CHECK(streq(hub_req_header(&pool, &req, "Authorization"), "Bearer tok"));
    CHECK(streq(hub_req_header(&pool, &req, "X-DUP"), "first"));
    CHECK(hub_req_header(&pool, &req, "x-missing") == NULL);

    init_req(&req, "/");
    h2o_add_header_by_str(&pool, &req.headers, H2O_STRLIT("x-nul"), 0, NULL, "a\0b", 3);
    CHECK(hub_req_header(&pool, &req, "x-nul") == NULL);

    /* a cookie planted under another path or domain comes as a second pair of the same name, in one header or in
     * another (HTTP/2 crumbs), first or last, quoted or spaced: never taken for the node's own */
    static const char *const twice[][2] = {
        {"sid=planted; sid=mine", NULL}, {"sid=mine; a=1; sid=planted", NULL},
        {"sid=planted", "sid=mine"},     {"a=1; sid = \"planted\"", "b=2;sid=mine"},
        {"sid=; x=1", "sid=mine"},       {"sid=mine", "SID=other; sid2=x; xsid=y"}, /* other names: one sid */
    };
    for (size_t k = 0; k != sizeof(twice) / sizeof(twice[0]); ++k) {
        init_req(&req, "/");
        add_header(&req, "cookie", twice[k][0]);
        if (twice[k][1] != NULL)
            add_header(&req, "cookie", twice[k][1]);
        const char *got = hub_req_cookie(&pool, &req, "sid");
        CHECK(k + 1 == sizeof(twice) / sizeof(twice[0]) ? streq(got, "mine") : got == NULL);
    }
}

static void test_escape(void)
{
    h2o_iovec_t v;
    hub_form_t f;
    char all[256];
    int i;

    v = hub_url_encode(&pool, H2O_STRLIT("aZ09-._~ /?&=+%\xc3\xa9"));
    CHECK(streq(v.base, "aZ09-._~%20%2F%3F%26%3D%2B%25%C3%A9") && v.len == strlen(v.base));
    v = hub_url_encode(&pool, "", 0);
    CHECK(v.len == 0 && streq(v.base, ""));
    /* round trip of every byte but NUL */
    for (i = 1; i < 256; ++i)
        all[i - 1] = (char)i;
    v = hub_url_encode(&pool, all, 255);
    char *pair = h2o_mem_alloc_pool(&pool, v.len + 3);
    memcpy(pair, "v=", 2);
    memcpy(pair + 2, v.base, v.len + 1);
    CHECK(parse(pair, &f) == 0 && f.n == 1 && f.items[0].value.len == 255 && memcmp(f.items[0].value.base, all, 255) == 0);

    v = hub_html_escape(&pool, H2O_STRLIT("<a href=\"x\">Tom & Jerry's</a>"));
    CHECK(streq(v.base, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;") && v.len == strlen(v.base));
    v = hub_html_escape(&pool, H2O_STRLIT("plain"));
    CHECK(streq(v.base, "plain"));
    v = hub_html_escape(&pool, "", 0);
    CHECK(v.len == 0 && streq(v.base, ""));
}

static void check_basic(const char *hv, int want_ret, const char *want_user, const char *want_pass)
{
    char *user = (char *)"unset", *pass = (char *)"unset";
    int ret = hub_basic_auth_parse(&pool, hv, &user, &pass);

    if (ret != want_ret || (want_ret == 0 && (!streq(user, want_user) || !streq(pass, want_pass))) ||
        (want_ret != 0 && (user != NULL || pass != NULL))) {
        fprintf(stderr, "basic auth \"%s\": ret %d user %s pass %s\n", hv, ret, user ? user : "(null)", pass ? pass : "(null)");
        ++failures;
    }
}

static void test_basic_auth(void)
{
    check_basic("Basic dXNlcjpwYXNz", 0, "user", "pass");     /* user:pass */
    check_basic("basic   dXNlcjpwYXNz  ", 0, "user", "pass"); /* case, spaces */
    check_basic("BASIC dXNlcjpwYXNz", 0, "user", "pass");
    check_basic("Basic dTpwOnc6eA==", 0, "u", "p:w:x");                                /* u:p:w:x colon in password */
    check_basic("Basic OnA=", 0, "", "p");                                             /* :p */
    check_basic("Basic dTo=", 0, "u", "");                                             /* u: */
    check_basic("Basic bXklMjBjbGllbnQ6cyUzQWMlMkJyK2V0", 0, "my client", "s:c+r et"); /* my%20client:s%3Ac%2Br+et */
    check_basic("Basic YTpi", 0, "a", "b");                                            /* a:b, no padding needed */
    check_basic("Basic YWI6Yw", 0, "ab", "c");                                         /* ab:c without its padding */
    check_basic("Basic YWI6Yw==", 0, "ab", "c");
    check_basic("Basic YWJjOmQ=", 0, "abc", "d");

    check_basic("Basic dXNlcnBhc3M=", HUB_E_PARSE, NULL, NULL); /* userpass: no colon */
    check_basic("Bearer dXNlcjpwYXNz", HUB_E_PARSE, NULL, NULL);
    check_basic("Basic", HUB_E_PARSE, NULL, NULL);
    check_basic("Basic ", HUB_E_PARSE, NULL, NULL);
    check_basic("Basicx dXNlcjpwYXNz", HUB_E_PARSE, NULL, NULL);
    check_basic("BasicdXNlcjpwYXNz", HUB_E_PARSE, NULL, NULL);
    check_basic("Basic dXNlcjpwYXNz!", HUB_E_PARSE, NULL, NULL);
    check_basic("Basic dXNl cjpwYXNz", HUB_E_PARSE, NULL, NULL);
    check_basic("Basic YWI6Yw=", HUB_E_PARSE, NULL, NULL);   /* half padding */
    check_basic("Basic YWI6Yw===", HUB_E_PARSE, NULL, NULL); /* too much padding */
    check_basic("Basic YWI6Y", HUB_E_PARSE, NULL, NULL);     /* lone sextet */
    check_basic("Basic YW=I6Yw==", HUB_E_PARSE, NULL, NULL); /* padding inside */
    check_basic("Basic YWI6Yx==", HUB_E_PARSE, NULL, NULL);  /* non-zero trailing bits */
    check_basic("Basic dTpwJQ==", HUB_E_PARSE, NULL, NULL);  /* u:p% */
    check_basic("Basic dSUwMDpw", HUB_E_PARSE, NULL, NULL);  /* u%00:p */
    check_basic("Basic dQA6cA==", HUB_E_PARSE, NULL, NULL);  /* u\0:p */

    /* over-long header */
    char *big = malloc(HUB_BASIC_AUTH_MAX_LEN + 8);
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'A', HUB_BASIC_AUTH_MAX_LEN);
    big[HUB_BASIC_AUTH_MAX_LEN + 6] = '\0';
    check_basic(big, HUB_E_PARSE, NULL, NULL);
    free(big);
}

int main(void)
{
    h2o_mem_init_pool(&pool);
    test_form_basic();
    test_form_repeated();
    test_form_malformed();
    test_form_limits();
    test_query_and_body();
    test_cookies();
    test_req_cookie_and_header();
    test_escape();
    test_basic_auth();
    h2o_mem_clear_pool(&pool);
    return check_report("hub/form");
}
