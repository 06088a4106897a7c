/* Address ranges for access lists: parsing "ADDR/N" and matching a peer's address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "hub/cidr.h"
#include "hub/err.h"

#define CIDR_TEXT_MAX 64

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int refuse(const char **why, const char *what)
{
    if (why != NULL)
        *why = what;
    return HUB_E_PARSE;
}

/* The prefix length after '/': 1 to 3 digits, at most max. */
static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t i;
    for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 3; ++i)
        v = v * 10 + (unsigned)(s[i] - '0');
    if (i == 0 || s[i] != '\0' || v > max || (i > 1 && s[0] == '0'))
        return -1;
    *out = v;
    return 0;
}

/* Whether every bit of addr past prefix is zero. */
static int host_bits_zero(const uint8_t *addr, unsigned prefix)
{
    for (unsigned bit = prefix; bit < 128; ++bit)
        if (addr[bit / 8] & (0x80 >> (bit % 8)))
            return 0;
    return 1;
}

int hub_cidr_parse(const char *s, hub_cidr_t *out, const char **why)
{
    char text[CIDR_TEXT_MAX];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    struct in_addr a4;
    unsigned prefix;
    int v4;

    if (alen == 0 || alen >= sizeof(text))
        return refuse(why, "expected an address range like 10.0.0.0/8 or fd00::/8");
    memcpy(text, s, alen);
    text[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if ((v4 = inet_pton(AF_INET, text, &a4) == 1)) {
        memcpy(out->addr, v4_mapped, sizeof(v4_mapped));
        memcpy(out->addr + 12, &a4, 4);
    } else if (inet_pton(AF_INET6, text, out->addr) != 1) {
        return refuse(why, "expected an address range like 10.0.0.0/8 or fd00::/8");
    }
    if (slash == NULL)
        prefix = v4 ? 32 : 128;
    else if (parse_prefix(slash + 1, v4 ? 32 : 128, &prefix) != 0)
        return refuse(why, v4 ? "an IPv4 prefix length is 0 to 32" : "an IPv6 prefix length is 0 to 128");
    out->prefix = v4 ? prefix + 96 : prefix;
    if (!host_bits_zero(out->addr, out->prefix))
        return refuse(why, "address bits are set past the prefix length");
    return 0;
}

static int in_range(const hub_cidr_t *r, const uint8_t *addr)
{
    unsigned whole = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, addr, whole) != 0)
        return 0;
    return rest == 0 || ((r->addr[whole] ^ addr[whole]) & (uint8_t)(0xff00 >> rest)) == 0;
}

int hub_cidr_match(const hub_cidr_t *list, size_t n, const struct sockaddr *sa)
{
    uint8_t addr[16];
    size_t i;

    if (sa->sa_family == AF_INET) {
        memcpy(addr, v4_mapped, sizeof(v4_mapped));
        memcpy(addr + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return 0;
    }
    for (i = 0; i != n; ++i)
        if (in_range(&list[i], addr))
            return 1;
    return 0;
}
