/* Tests hub/url.c: strict URL parsing (hosts, IPv4 spellings, IPv6 literals, ports, userinfo and other tricks), origins,
 * and the link-local and metadata targets that are refused however they are spelt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/url.h"
#include "tests/check.h"

static void expect_parse(const char *s, int ok)
{
    hub_url_t u;
    const char *why = NULL;
    int ret = hub_url_parse(s, &u, &why);
    if ((ret == 0) != ok) {
        ++failures;
        fprintf(stderr, "url: %s: expected %s, got %d (%s)\n", s, ok ? "ok" : "refused", ret, why != NULL ? why : "-");
    }
    if (ret != 0 && why == NULL) {
        ++failures;
        fprintf(stderr, "url: %s: refused without a reason\n", s);
    }
}

/* Parses s (expected to succeed) and says whether its host is forbidden. */
static int forbidden(const char *s)
{
    hub_url_t u;
    if (hub_url_parse(s, &u, NULL) != 0) {
        ++failures;
        fprintf(stderr, "url: %s did not parse\n", s);
        return -1;
    }
    return hub_url_forbidden_host(&u) != NULL;
}

/* URLs accepted: names, IPv4 in every spelling, IPv6 literals, ports, queries, a trailing dot. */
static void test_parse_good(void)
{
    static const char *const good[] = {"http://127.0.0.1:8080/cb",
                                       "HTTPS://App.Example/cb?x=1&y=2",
                                       "http://app.example",
                                       "http://app.example?x",
                                       "http://app.example.:1/",
                                       "https://a-b_c.example:65535/",
                                       "http://[::1]:9/native",
                                       "http://[2001:db8::1]/",
                                       "http://[::ffff:169.254.169.254]/", /* parses; forbidden below */
                                       "http://2852039166/",
                                       "http://0xa9.0xfe.0xa9.0xfe/",
                                       "http://0251.0376.0251.0376/",
                                       "http://169.254.43518/",
                                       "http://169.16689662/",
                                       "http://1.2.3.4./",
                                       "http://1.2.3.0x/" /* 0x alone is 0 to URL parsers */};

    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i)
        expect_parse(good[i], 1);
}

/* URLs refused: schemes, missing parts, fragments, bytes, backslashes, userinfo, ports, encoded or broken hosts,
 * zone ids, IPv4 out of range. */
static void test_parse_bad(void)
{
    static const char *const bad[] = {"",
                                      "ftp://x/",
                                      "//app.example/",
                                      "http:/app.example/",
                                      "http://",
                                      "http:///cb",
                                      "http://:80/",
                                      "http://app.example/cb#frag",
                                      "http://app.example/a b",
                                      "http://app.example/\x01",
                                      "http://app.example/\xc3\xa9",
                                      "http://app.example\\@evil.example/",
                                      "http://app.example/\\evil",
                                      "http://user@app.example/",
                                      "http://127.0.0.1:8000@169.254.169.254/",
                                      "http://:@169.254.169.254/",
                                      "http://app.example:0/",
                                      "http://app.example:65536/",
                                      "http://app.example:99999/",
                                      "http://app.example:123456/",
                                      "http://app.example:080/",
                                      "http://app.example:/",
                                      "http://app.example:8a/",
                                      "http://app.example:-1/",
                                      "http://app.example:80:80/",
                                      "http://%31%36%39.254.169.254/",
                                      "http://app..example/",
                                      "http://.app.example/",
                                      "http://./",
                                      "http://app example/",
                                      "http://[::1/",
                                      "http://[]/",
                                      "http://[fe80::1%25eth0]/",
                                      "http://[fe80::1%eth0]/",
                                      "http://[::1]x/",
                                      "http://[::1]:/",
                                      "http://[zz::1]/",
                                      "http://999.1.1.1/",
                                      "http://1.2.3.4.5/",
                                      "http://256.0.0.1/",
                                      "http://4294967296/",
                                      "http://0x100000000/",
                                      "http://08.1.1.1/",
                                      "http://example.123/"};

    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        expect_parse(bad[i], 0);
}

/* A URL of HUB_URL_MAX bytes passes, one more byte or NULL does not. */
static void test_parse_length(void)
{
    char longest[HUB_URL_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    memcpy(longest, "http://x/", 9);
    longest[HUB_URL_MAX] = '\0';
    expect_parse(longest, 1);
    longest[HUB_URL_MAX] = 'a';
    longest[HUB_URL_MAX + 1] = '\0';
    expect_parse(longest, 0);
    expect_parse(NULL, 0);
}

/* What a parse fills in: scheme, port and whether it was written, host kind and bytes, the rest, the address. */
static void test_parse_fields(void)
{
    hub_url_t u;

    CHECK(hub_url_parse("https://App.Example:8443/p/q?x=1", &u, NULL) == 0);
    CHECK(u.https && u.port == 8443 && u.explicit_port && u.kind == HUB_HOST_NAME);
    CHECK(u.host_len == 11 && memcmp(u.host, "App.Example", 11) == 0 && strcmp(u.rest, "/p/q?x=1") == 0);
    CHECK(hub_url_parse("http://app.example", &u, NULL) == 0 && u.port == 80 && !u.explicit_port && strcmp(u.rest, "") == 0);
    CHECK(hub_url_parse("http://[::1]:9/n", &u, NULL) == 0 && u.kind == HUB_HOST_IPV6 && u.host_len == 3 && u.port == 9);
    CHECK(hub_url_parse("http://127.0.0.1/", &u, NULL) == 0 && u.kind == HUB_HOST_IPV4 && u.canonical);
    CHECK(u.addr[0] == 127 && u.addr[3] == 1);
}

/* Other IPv4 spellings give the same address, flagged as not canonical. */
static void test_parse_ipv4_spellings(void)
{
    static const char *const spellings[] = {"http://2852039166/",      "http://0xa9.0xfe.0xa9.0xfe/", "http://0251.0376.0251.0376/",
                                            "http://169.254.43518/",   "http://169.16689662/",        "http://0xA9FEA9FE/",
                                            "http://169.254.169.254./"};
    hub_url_t u;

    for (size_t i = 0; i != sizeof(spellings) / sizeof(spellings[0]); ++i) {
        CHECK(hub_url_parse(spellings[i], &u, NULL) == 0 && u.kind == HUB_HOST_IPV4 && !u.canonical);
        CHECK(u.addr[0] == 169 && u.addr[1] == 254 && u.addr[2] == 169 && u.addr[3] == 254);
    }
}

static void test_forbidden(void)
{
    static const char *const refused[] = {"http://169.254.169.254/latest/meta-data/",
                                          "http://169.254.0.1:8080/",
                                          "http://169.254.255.255/",
                                          "http://2852039166/",
                                          "http://0xa9.0xfe.0xa9.0xfe/",
                                          "http://0251.0376.0251.0376/",
                                          "http://169.254.43518/",
                                          "http://169.254.169.254./",
                                          "http://0.0.0.0:8080/",
                                          "http://0/",
                                          "http://100.100.100.200/",
                                          "http://[fe80::1]/",
                                          "http://[FE80::a:b]:80/",
                                          "http://[febf::1]/",
                                          "http://[::]/",
                                          "http://[fd00:ec2::254]/",
                                          "http://[fd20:ce::254]/",
                                          "http://[::ffff:169.254.169.254]/",
                                          "http://[::ffff:a9fe:a9fe]/",
                                          "http://[::169.254.169.254]/",
                                          "http://[64:ff9b::169.254.169.254]/",
                                          "http://[::ffff:0.0.0.0]/",
                                          "http://metadata.google.internal/computeMetadata/v1/",
                                          "http://METADATA.Google.Internal./",
                                          "http://metadata.goog/",
                                          "http://metadata/",
                                          "http://instance-data/",
                                          "http://instance-data.ec2.internal/"};
    static const char *const allowed[] = {"http://127.0.0.1:8080/",
                                          "http://[::1]:9/",
                                          "http://10.0.0.1/",
                                          "http://169.253.169.254/",
                                          "http://169.255.0.1/",
                                          "http://1.0.0.0/",
                                          "http://100.100.100.201/",
                                          "http://[fec0::1]/",
                                          "http://[fd00:ec2::255]/",
                                          "http://[::ffff:127.0.0.1]/",
                                          "http://[2001:db8::169.254.169.254]/",
                                          "https://app.example/",
                                          "http://metadata.google.internal.example/",
                                          "http://my-metadata/",
                                          "http://instance-data2/"};
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i)
        if (forbidden(refused[i]) != 1) {
            ++failures;
            fprintf(stderr, "url: %s is not forbidden\n", refused[i]);
        }
    for (size_t i = 0; i != sizeof(allowed) / sizeof(allowed[0]); ++i)
        if (forbidden(allowed[i]) != 0) {
            ++failures;
            fprintf(stderr, "url: %s is forbidden\n", allowed[i]);
        }
    const uint8_t v4[4] = {169, 254, 169, 254}, ok4[4] = {127, 0, 0, 1};
    const uint8_t v6[16] = {0xfe, 0x80, [15] = 1}, ok6[16] = {[15] = 1};
    CHECK(hub_addr_forbidden(v4, 4) != NULL && hub_addr_forbidden(ok4, 4) == NULL);
    CHECK(hub_addr_forbidden(v6, 16) != NULL && hub_addr_forbidden(ok6, 16) == NULL);
    CHECK(hub_addr_forbidden(v4, 3) == NULL);
}

static int same(const char *a, const char *b)
{
    hub_url_t x, y;
    return hub_url_parse(a, &x, NULL) == 0 && hub_url_parse(b, &y, NULL) == 0 && hub_url_same_origin(&x, &y);
}

static void test_origin(void)
{
    CHECK(same("http://node.example:8081/auth/callback", "http://node.example:8081/auth/backchannel-logout"));
    CHECK(same("http://NODE.example/a", "HTTP://node.example:80/b?x"));
    CHECK(same("https://node.example/a", "https://node.example:443/"));
    CHECK(same("http://[::1]:9/", "http://[0:0:0:0:0:0:0:1]:9/x"));
    CHECK(!same("http://node.example:8081/", "http://node.example:8082/"));
    CHECK(!same("http://node.example/", "https://node.example/"));
    CHECK(!same("http://node.example/", "http://other.example/"));
    CHECK(!same("http://node.example/", "http://node.example.evil/"));
    CHECK(!same("http://127.0.0.1:80/", "http://localhost:80/"));
    CHECK(!same("http://127.0.0.1/", "http://[::ffff:127.0.0.1]/"));
}

/* The origin as a browser's Origin header spells it for a page at url; NULL when url does not parse. */
static const char *origin_of(const char *url, char *buf, size_t size)
{
    hub_url_t u;
    return hub_url_parse(url, &u, NULL) == 0 && hub_url_origin(&u, buf, size) >= 0 ? buf : NULL;
}

static void test_origin_text(void)
{
    static const char *const cases[][2] = {
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080"},
        {"HTTPS://App.Example/cb?x=1", "https://app.example"},
        {"http://app.example:80/cb", "http://app.example"},
        {"https://app.example:443", "https://app.example"},
        {"https://app.example:80/", "https://app.example:80"},
        {"http://app.example:443/", "http://app.example:443"},
        {"http://app.example.:8080/", "http://app.example.:8080"},
        {"http://0x7f.1:9/", "http://127.0.0.1:9"},
        {"http://2130706433/", "http://127.0.0.1"},
        {"http://[::1]:9/", "http://[::1]:9"},
        {"http://[0:0:0:0:0:0:0:1]/", "http://[::1]"},
        {"http://[::]/", "http://[::]"},
        {"http://[1::]/", "http://[1::]"},
        {"http://[2001:DB8:0:0:1:0:0:1]/", "http://[2001:db8::1:0:0:1]"},
        {"http://[2001:db8:0:1:0:0:0:1]/", "http://[2001:db8:0:1::1]"},
        {"http://[1:0:2:0:3:0:4:0]/", "http://[1:0:2:0:3:0:4:0]"},
        {"http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]"},
        {"http://[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535/", "http://[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
    };
    char buf[HUB_ORIGIN_MAX], small[16];
    hub_url_t u;

    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *got = origin_of(cases[i][0], buf, sizeof(buf));
        if (got == NULL || strcmp(got, cases[i][1]) != 0)
            fprintf(stderr, "origin of %s: %s, expected %s\n", cases[i][0], got != NULL ? got : "(none)", cases[i][1]);
        CHECK(got != NULL && strcmp(got, cases[i][1]) == 0);
    }
    CHECK(hub_url_parse("http://a-long-host.example:8080/", &u, NULL) == 0);
    CHECK(hub_url_origin(&u, small, sizeof(small)) == HUB_E_INVAL);
    CHECK(hub_url_origin(&u, buf, strlen("http://a-long-host.example:8080")) == HUB_E_INVAL);
    CHECK(hub_url_origin(&u, buf, strlen("http://a-long-host.example:8080") + 1) == (int)strlen("http://a-long-host.example:8080"));
    /* the longest URL there is still fits */
    char *longest = malloc(HUB_URL_MAX + 1);
    memcpy(longest, "http://", 7);
    memset(longest + 7, 'a', HUB_URL_MAX - 7 - 6);
    memcpy(longest + HUB_URL_MAX - 6, ":65535", 7);
    CHECK(hub_url_parse(longest, &u, NULL) == 0);
    CHECK(hub_url_origin(&u, buf, sizeof(buf)) == HUB_URL_MAX);
    free(longest);
}

int main(void)
{
    test_parse_good();
    test_parse_bad();
    test_parse_length();
    test_parse_fields();
    test_parse_ipv4_spellings();
    test_forbidden();
    test_origin();
    test_origin_text();
    return check_report("hub/url");
}
