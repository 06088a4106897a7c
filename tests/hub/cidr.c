/* Tests for hub/cidr.c: parsing address ranges and matching IPv4, IPv6 and IPv4-mapped peers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "hub/cidr.h"
#include "hub/err.h"
#include "tests/check.h"

static struct sockaddr_storage peer(const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, addr, &s4->sin_addr);
    }
    return ss;
}

static int allows(const char *ranges, const char *addr)
{
    hub_cidr_t list[8];
    size_t n = 0;
    const char *p = ranges;
    while (*p != '\0' && n < 8) {
        char one[64];
        size_t len = strcspn(p, " ");
        snprintf(one, sizeof(one), "%.*s", (int)len, p);
        if (hub_cidr_parse(one, &list[n], NULL) == 0)
            ++n;
        p += len + (p[len] == ' ');
    }
    struct sockaddr_storage ss = peer(addr);
    return hub_cidr_match(list, n, (struct sockaddr *)&ss);
}

static void test_parse(void)
{
    static const char *good[] = {"127.0.0.0/8", "::1/128",        "::1",           "10.1.2.3",    "0.0.0.0/0",          "::/0",
                                 "fd00::/8",    "192.168.1.0/24", "2001:db8::/32", "10.0.0.0/31", "::ffff:10.0.0.0/104"};
    static const char *bad[] = {"",
                                "/8",
                                "127.0.0.1/33",
                                "::1/129",
                                "10.1.2.3/8",
                                "127.0.0.0/",
                                "127.0.0.0/x",
                                "127.0.0.0/08",
                                "127.0.0.0/8/8",
                                "[::1]/128",
                                "localhost",
                                "1.2.3/24",
                                "fd00::1/8",
                                "127.0.0.0/-1",
                                "127.0.0.0 /8",
                                "2001:db8::/32 ",
                                "10.0.0.0/1000"};
    hub_cidr_t r;
    const char *why;

    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i) {
        int ret = hub_cidr_parse(good[i], &r, NULL);
        if (ret != 0)
            fprintf(stderr, "refused %s\n", good[i]);
        CHECK(ret == 0);
    }
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        why = NULL;
        int ret = hub_cidr_parse(bad[i], &r, &why);
        if (ret == 0)
            fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK(ret == HUB_E_PARSE && why != NULL);
    }
    CHECK(hub_cidr_parse("10.0.0.0/8", &r, NULL) == 0 && r.prefix == 104);
    CHECK(hub_cidr_parse("::1", &r, NULL) == 0 && r.prefix == 128);
}

static void test_match(void)
{
    const char *loopback = "127.0.0.0/8 ::1/128";
    CHECK(allows(loopback, "127.0.0.1"));
    CHECK(allows(loopback, "127.255.0.9"));
    CHECK(allows(loopback, "::1"));
    CHECK(allows(loopback, "::ffff:127.0.0.1")); /* an IPv4 peer on a [::] listener */
    CHECK(!allows(loopback, "128.0.0.1"));
    CHECK(!allows(loopback, "10.0.0.1"));
    CHECK(!allows(loopback, "::2"));
    CHECK(!allows(loopback, "::ffff:10.0.0.1"));
    CHECK(!allows(loopback, "fe80::1"));
    CHECK(allows("10.0.0.0/8", "10.200.3.4"));
    CHECK(!allows("10.0.0.0/8", "11.0.0.0"));
    CHECK(allows("192.168.1.0/25", "192.168.1.127"));
    CHECK(!allows("192.168.1.0/25", "192.168.1.128"));
    CHECK(allows("fd00::/8", "fdab::1"));
    CHECK(!allows("fd00::/8", "fe00::1"));
    CHECK(allows("2001:db8::/33", "2001:db8:7fff::1"));
    CHECK(!allows("2001:db8::/33", "2001:db8:8000::1"));
    CHECK(allows("0.0.0.0/0", "203.0.113.5"));
    CHECK(!allows("0.0.0.0/0", "2001:db8::1")); /* an IPv4 range says nothing about IPv6 */
    CHECK(allows("::/0", "2001:db8::1"));
    CHECK(allows("::/0", "203.0.113.5"));
    CHECK(allows("10.1.2.3", "10.1.2.3"));
    CHECK(!allows("10.1.2.3", "10.1.2.4"));
    CHECK(!allows("", "127.0.0.1")); /* an empty list allows nobody */
    struct sockaddr sa = {.sa_family = AF_UNIX};
    hub_cidr_t all;
    CHECK(hub_cidr_parse("::/0", &all, NULL) == 0 && !hub_cidr_match(&all, 1, &sa));
}

int main(void)
{
    test_parse();
    test_match();
    return check_report("hub/cidr");
}
