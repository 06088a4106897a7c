/* Strict parsing of the absolute http(s) URLs the hub stores and calls, origins, and forbidden target addresses. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "hub/err.h"
#include "hub/url.h"
#include "hub/util.h"

#define IPV6_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

static int fail(const char **why, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return HUB_E_INVAL;
}

/* One part of an IPv4 host as URL parsers read it: decimal, 0x-hex (empty digits = 0) or 0-octal. -1 when invalid or
 * over 32 bits; *plain is 1 for decimal without a leading zero. */
static int64_t ipv4_part(const char *s, size_t n, int *plain)
{
    int base = 10;
    size_t i = 0;
    int64_t v = 0;

    *plain = 0;
    if (n == 0)
        return -1;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        i = 1;
    } else {
        *plain = 1;
    }
    for (; i != n; ++i) {
        int d = hub_hex_digit(s[i]);
        if (d < 0 || d >= base)
            return -1;
        if ((v = v * base + d) > 0xffffffffLL)
            return -1;
    }
    return v;
}

/* 1 when the last label of host (one trailing dot ignored) is a number: all digits, or 0x and hex digits. */
static int ends_in_number(const char *h, size_t n)
{
    const char *last;
    size_t len;
    if (n != 0 && h[n - 1] == '.')
        --n;
    last = h + n;
    while (last != h && last[-1] != '.')
        --last;
    len = (size_t)(h + n - last);
    if (len >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
        for (size_t i = 2; i != len; ++i)
            if (hub_hex_digit(last[i]) < 0)
                return 0;
        return 1;
    }
    for (size_t i = 0; i != len; ++i)
        if (last[i] < '0' || last[i] > '9')
            return 0;
    return len != 0;
}

/* WHATWG URL §3.5 IPv4 parser: one to four parts, the last filling the remaining bytes. 0 or -1. */
static int ipv4_parse(const char *h, size_t n, uint8_t out[4], int *canonical)
{
    int64_t parts[4];
    size_t np = 0, i;
    int plain_all = 1, trailing = n != 0 && h[n - 1] == '.';
    const char *p = h, *end = h + n - (trailing ? 1 : 0);
    uint64_t v;

    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p)), *pe = dot != NULL ? dot : end;
        int plain;
        if (np == 4 || (parts[np] = ipv4_part(p, (size_t)(pe - p), &plain)) < 0)
            return -1;
        ++np;
        plain_all &= plain;
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    for (i = 0; i + 1 < np; ++i)
        if (parts[i] > 255)
            return -1;
    if ((uint64_t)parts[np - 1] >= (UINT64_C(1) << (8 * (5 - np))))
        return -1;
    v = (uint64_t)parts[np - 1];
    for (i = 0; i + 1 < np; ++i)
        v += (uint64_t)parts[i] << (8 * (3 - i));
    for (i = 0; i != 4; ++i)
        out[i] = (uint8_t)(v >> (8 * (3 - i)));
    *canonical = np == 4 && plain_all && !trailing;
    return 0;
}

/* A host name: labels of [A-Za-z0-9_-] separated by single dots, one trailing dot allowed. */
static int name_ok(const char *h, size_t n)
{
    size_t label = 0;
    for (size_t i = 0; i != n; ++i) {
        char c = h[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            ++label;
        } else {
            return 0;
        }
    }
    return n != 0 && (label != 0 || n > 1);
}

/* The host of the authority [a, end): fills kind, host, addr and canonical; returns where the port part starts. */
static const char *parse_host(const char *a, const char *end, hub_url_t *u, const char **why)
{
    const char *colon;
    if (*a == '[') {
        const char *close = memchr(a, ']', (size_t)(end - a));
        char text[IPV6_TEXT_MAX];
        if (close == NULL || (size_t)(close - a - 1) >= sizeof(text) || close == a + 1)
            return fail(why, "malformed IPv6 literal"), NULL;
        memcpy(text, a + 1, (size_t)(close - a - 1));
        text[close - a - 1] = '\0';
        if (strspn(text, "0123456789abcdefABCDEF:.") != strlen(text) || inet_pton(AF_INET6, text, u->addr) != 1)
            return fail(why, "malformed IPv6 literal"), NULL;
        u->kind = HUB_HOST_IPV6;
        u->host = a + 1;
        u->host_len = (size_t)(close - a - 1);
        return close + 1;
    }
    colon = memchr(a, ':', (size_t)(end - a));
    u->host = a;
    u->host_len = (size_t)((colon != NULL ? colon : end) - a);
    if (!name_ok(u->host, u->host_len))
        return fail(why, "malformed host"), NULL;
    if (ends_in_number(u->host, u->host_len)) {
        if (ipv4_parse(u->host, u->host_len, u->addr, &u->canonical) != 0)
            return fail(why, "malformed IPv4 address"), NULL;
        u->kind = HUB_HOST_IPV4;
    }
    return a + u->host_len;
}

/* ":PORT" (1..65535, no leading zero) or nothing; 0 or HUB_E_INVAL. */
static int parse_port(const char *p, const char *end, hub_url_t *u, const char **why)
{
    unsigned v = 0;
    u->port = u->https ? 443 : 80;
    if (p == end)
        return 0;
    if (*p != ':' || p + 1 == end || p[1] == '0' || end - p - 1 > 5)
        return fail(why, "malformed port");
    for (++p; p != end; ++p) {
        if (*p < '0' || *p > '9')
            return fail(why, "malformed port");
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return fail(why, "port out of range");
    u->port = v;
    u->explicit_port = 1;
    return 0;
}

int hub_url_parse(const char *s, hub_url_t *u, const char **why)
{
    size_t n = s != NULL ? strnlen(s, HUB_URL_MAX + 1) : 0, skip;
    const char *a, *end;

    memset(u, 0, sizeof(*u));
    u->canonical = 1;
    if (n == 0 || n > HUB_URL_MAX)
        return fail(why, "empty or too long");
    if (strncasecmp(s, "https://", 8) == 0) {
        u->https = 1;
        skip = 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        skip = 7;
    } else {
        return fail(why, "not an absolute http(s) URL");
    }
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\')
            return fail(why, "white space, control, non-ASCII or backslash character");
        if (c == '#')
            return fail(why, "has a fragment");
    }
    a = s + skip;
    end = a + strcspn(a, "/?");
    if (memchr(a, '@', (size_t)(end - a)) != NULL)
        return fail(why, "has userinfo (user@host)");
    if (end == a)
        return fail(why, "no host");
    const char *port = parse_host(a, end, u, why);
    if (port == NULL || parse_port(port, end, u, why) != 0)
        return HUB_E_INVAL;
    u->rest = end;
    return 0;
}

/* WHATWG URL §3.7 IPv6 serializer: eight lower-case hex pieces, the first longest run of two or more zero pieces
 * compressed to "::", no embedded IPv4 notation. Returns the length written (at most 39). */
static size_t ipv6_text(const uint8_t *a, char out[40])
{
    size_t best = 8, best_len = 1, o = 0;
    unsigned piece[8];

    for (size_t i = 0; i != 8; ++i)
        piece[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (size_t i = 0; i != 8;) {
        size_t j = i;
        while (j != 8 && piece[j] == 0)
            ++j;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    for (size_t i = 0; i != 8; ++i) {
        if (i == best) {
            out[o++] = ':';
            if (i == 0)
                out[o++] = ':';
            i += best_len - 1;
            continue;
        }
        o += (size_t)snprintf(out + o, 40 - o, "%x%s", piece[i], i != 7 ? ":" : "");
    }
    out[o] = '\0';
    return o;
}

int hub_url_origin(const hub_url_t *u, char *out, size_t size)
{
    const char *scheme = u->https ? "https://" : "http://";
    size_t o = strlen(scheme), n;
    char text[48]; /* "[" + at most 39 + "]" */

    if (size < o + 1)
        return HUB_E_INVAL;
    memcpy(out, scheme, o);
    switch (u->kind) {
    case HUB_HOST_IPV4:
        n = (size_t)snprintf(text, sizeof(text), "%u.%u.%u.%u", u->addr[0], u->addr[1], u->addr[2], u->addr[3]);
        break;
    case HUB_HOST_IPV6:
        text[0] = '[';
        n = ipv6_text(u->addr, text + 1) + 1;
        text[n++] = ']';
        text[n] = '\0';
        break;
    default:
        n = u->host_len;
        break;
    }
    if (o + n >= size)
        return HUB_E_INVAL;
    for (size_t i = 0; i != n; ++i) {
        char c = u->kind == HUB_HOST_NAME ? u->host[i] : text[i];
        out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    if (u->port != (u->https ? 443u : 80u)) {
        int p = snprintf(out + o, size - o, ":%u", u->port);
        if (p < 0 || (size_t)p >= size - o)
            return HUB_E_INVAL;
        o += (size_t)p;
    }
    out[o] = '\0';
    return (int)o;
}

int hub_url_same_origin(const hub_url_t *a, const hub_url_t *b)
{
    if (a->https != b->https || a->port != b->port || a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case HUB_HOST_IPV4:
        return memcmp(a->addr, b->addr, 4) == 0;
    case HUB_HOST_IPV6:
        return memcmp(a->addr, b->addr, 16) == 0;
    default:
        return a->host_len == b->host_len && strncasecmp(a->host, b->host, a->host_len) == 0;
    }
}

static const char *forbidden_v4(const uint8_t *a)
{
    if (a[0] == 169 && a[1] == 254)
        return "a link-local address (169.254.0.0/16, where cloud metadata services answer)";
    if (a[0] == 0)
        return "an unspecified address (0.0.0.0/8)";
    if (a[0] == 100 && a[1] == 100 && a[2] == 100 && a[3] == 200)
        return "a cloud metadata address";
    return NULL;
}

static const char *forbidden_v6(const uint8_t *a)
{
    static const uint8_t zero[16], metadata[][16] = {
                                       {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54}, /* fd00:ec2::254 (AWS) */
                                       {0xfd, 0x20, 0x00, 0xce, [14] = 0x02, [15] = 0x54}, /* fd20:ce::254 (GCP) */
                                   };
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff}, nat64[12] = {0x00, 0x64, 0xff, 0x9b};

    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "a link-local address (fe80::/10)";
    if (memcmp(a, zero, 16) == 0)
        return "an unspecified address (::)";
    for (size_t i = 0; i != sizeof(metadata) / sizeof(metadata[0]); ++i)
        if (memcmp(a, metadata[i], 16) == 0)
            return "a cloud metadata address";
    /* an IPv4 address inside IPv6 reaches the same host: mapped, compatible (not ::1) or NAT64 */
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 || (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0))
        return forbidden_v4(a + 12);
    return NULL;
}

const char *hub_addr_forbidden(const uint8_t *addr, size_t len)
{
    return len == 4 ? forbidden_v4(addr) : len == 16 ? forbidden_v6(addr) : NULL;
}

const char *hub_url_forbidden_host(const hub_url_t *u)
{
    static const char *const names[] = {"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                                        "instance-data.ec2.internal"};
    size_t n = u->host_len;

    if (u->kind == HUB_HOST_IPV4)
        return forbidden_v4(u->addr);
    if (u->kind == HUB_HOST_IPV6)
        return forbidden_v6(u->addr);
    if (n != 0 && u->host[n - 1] == '.')
        --n;
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (strlen(names[i]) == n && strncasecmp(u->host, names[i], n) == 0)
            return "a cloud metadata host name";
    return NULL;
}
