/* The URLs the hub stores and calls (redirect, back-channel and node URIs): strict parsing of absolute http(s) URLs,
 * origins, and the addresses a URL must never point at (link-local and cloud metadata services). */
#ifndef HUB_URL_H
#define HUB_URL_H

#include <stddef.h>
#include <stdint.h>

#define HUB_URL_MAX 2048 /* bytes of one URL */

typedef enum { HUB_HOST_NAME = 0, HUB_HOST_IPV4, HUB_HOST_IPV6 } hub_host_kind_t;

/* A parsed URL. host points into the parsed string (without the brackets of an IPv6 literal) and is not NUL-terminated;
 * rest is the path and query ("" when the URL ends after the authority). */
typedef struct st_hub_url_t {
    int https;
    const char *host;
    size_t host_len;
    hub_host_kind_t kind;
    uint8_t addr[16]; /* the address of an IP host: IPv4 in addr[0..4), IPv6 in all 16 bytes */
    int canonical;    /* an IPv4 host written as four decimal parts without leading zeros (always 1 for other hosts) */
    unsigned port;    /* the explicit port, else 80 or 443 */
    int explicit_port;
    const char *rest;
} hub_url_t;

/* Parses s as an absolute http:// or https:// URL (scheme case-insensitive) of at most HUB_URL_MAX bytes: no fragment,
 * no white space, control, non-ASCII or backslash character anywhere, no userinfo, a host that is a name of
 * [A-Za-z0-9._-], an IPv4 address or a bracketed IPv6 literal without zone, and a port (when given) of 1..65535 written
 * without leading zeros. An IPv4 host may be spelt as URL parsers accept it (one to four parts, each decimal, 0x-hex or
 * 0-octal, WHATWG URL §3.5): its address is in addr and `canonical` says whether it was the plain dotted quad; a name
 * whose last label is numeric but no valid IPv4 spelling is refused. Returns 0, or HUB_E_INVAL with a short static
 * reason in *why (why may be NULL). */
int hub_url_parse(const char *s, hub_url_t *out, const char **why);

/* The longest origin hub_url_origin writes, with its NUL: a host of a URL that fits HUB_URL_MAX, or an IPv4 address
 * written shorter than its dotted quad. */
#define HUB_ORIGIN_MAX (HUB_URL_MAX + 32)

/* Writes the origin of u into out (size bytes, at least HUB_ORIGIN_MAX serve any URL) as browsers serialize it in an
 * Origin header (RFC 6454 §6.2, WHATWG URL): "http" or "https", "://", the host in lower case (an IPv4 address as a
 * dotted quad, an IPv6 one in brackets in its shortest form), and ":PORT" only for a port other than the scheme's
 * default. Returns the length, or HUB_E_INVAL when it does not fit. */
int hub_url_origin(const hub_url_t *u, char *out, size_t size);

/* 1 when a and b have the same origin (RFC 6454: scheme, host compared case-insensitively, effective port). */
int hub_url_same_origin(const hub_url_t *a, const hub_url_t *b);

/* A short static reason when the host of u must never be the target of a request or redirect the hub makes: IPv4
 * link-local 169.254.0.0/16 (the cloud metadata address 169.254.169.254 included), 0.0.0.0/8, the metadata addresses
 * 100.100.100.200, fd00:ec2::254 and fd20:ce::254, IPv6 link-local fe80::/10 and the unspecified ::, IPv4 addresses
 * embedded in IPv6 (mapped ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96) by the same rules, and the metadata
 * host names (metadata.google.internal, metadata.goog, metadata, instance-data, ...; case-insensitive, with or without
 * a trailing dot). NULL when the host is none of them. */
const char *hub_url_forbidden_host(const hub_url_t *u);

/* The same for a raw socket address (an IPv4 address of 4 bytes or an IPv6 one of 16), for checks at connect time. */
const char *hub_addr_forbidden(const uint8_t *addr, size_t len);

#endif
