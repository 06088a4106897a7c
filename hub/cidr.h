/* Address ranges (CIDR) for access lists such as node.metrics_allow: IPv4 and IPv6, an IPv4 peer seen as an IPv4-mapped
 * IPv6 address (a listener on [::]) matching the IPv4 ranges. */
#ifndef HUB_CIDR_H
#define HUB_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One range; IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96) so one comparison serves both. */
typedef struct st_hub_cidr_t {
    uint8_t addr[16];
    unsigned prefix; /* 0-128 */
} hub_cidr_t;

/* Parses "ADDR/N" or a bare "ADDR" (one host): an IPv4 (N 0-32) or IPv6 (N 0-128) literal without brackets. Bits past
 * the prefix must be zero ("10.0.0.0/8", not "10.1.2.3/8"), so a typo cannot widen or narrow a range unseen. Returns 0,
 * or HUB_E_PARSE with *why (when not NULL) a static phrase saying what is wrong. */
int hub_cidr_parse(const char *s, hub_cidr_t *out, const char **why);

/* Whether the address of sa (AF_INET or AF_INET6; anything else never matches) is in one of the n ranges. */
int hub_cidr_match(const hub_cidr_t *list, size_t n, const struct sockaddr *sa);

#endif
