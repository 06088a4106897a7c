/* The value types of the configuration's key table: each checks one YAML scalar (or list item), stores it into its
 * struct field and frees it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/cidr.h"
#include "hub/config_types.h"
#include "hub/err.h"
#include "hub/path.h"
#include "hub/seal.h"
#include "hub/url.h"
#include "hub/util.h"

int hub_conf_parse_duration(const char *s, uint64_t *seconds)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (s == NULL || *p < '0' || *p > '9')
        return HUB_E_PARSE;
    for (; *p >= '0' && *p <= '9'; ++p) {
        unsigned d = *p - '0';
        if (v > (UINT64_MAX - d) / 10)
            return HUB_E_PARSE;
        v = v * 10 + d;
    }
    switch (*p) {
    case '\0':
        break;
    case 's':
        ++p;
        break;
    case 'm':
        mul = 60, ++p;
        break;
    case 'h':
        mul = 3600, ++p;
        break;
    case 'd':
        mul = 86400, ++p;
        break;
    default:
        return HUB_E_PARSE;
    }
    if (*p != '\0' || v > UINT64_MAX / mul)
        return HUB_E_PARSE;
    *seconds = v * mul;
    return 0;
}

static void replace_string(char **slot, const char *s)
{
    free(*slot);
    *slot = hub_strdup(s);
}

static int parse_string(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    size_t len = strlen(s);

    if (len == 0 || len > HUB_CONF_MAX_STRING) {
        snprintf(msg, msgsize, "expected a non-empty string of at most %d bytes", HUB_CONF_MAX_STRING);
        return -1;
    }
    for (const char *p = s; *p != '\0'; ++p) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(msg, msgsize, "must not contain control characters");
            return -1;
        }
    }
    if (base != NULL)
        replace_string(HUB_CONF_FIELD(base, key->off, char *), s);
    return 0;
}

static void dispose_string(const hub_conf_key_t *key, void *base)
{
    char **slot = HUB_CONF_FIELD(base, key->off, char *);
    free(*slot);
    *slot = NULL;
}

/* primary.cluster_secret_file: a path whose file holds a usable cluster secret (hub/seal.h says what one is), checked
 * when the configuration is read so that hubd --check names a short, unreadable or exposed one; the secret itself is
 * read again, and only, where it is used (idp/keyrec.c). */
static int parse_cluster_secret(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    uint8_t secret[HUB_CLUSTER_SECRET_MAX];
    int n;

    if (parse_string(key, NULL, s, msg, msgsize) != 0)
        return -1;
    n = hub_cluster_secret_read(s, secret, msg, msgsize);
    OPENSSL_cleanse(secret, sizeof(secret));
    return n < 0 ? -1 : parse_string(key, base, s, msg, msgsize);
}

/* node.name names cookies and log lines, so it stays a short token. */
static int parse_name(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

    if (len == 0 || len > 64 || s[len] != '\0') {
        snprintf(msg, msgsize, "expected 1 to 64 letters, digits, '.', '_' or '-'");
        return -1;
    }
    return parse_string(key, base, s, msg, msgsize);
}

static int parse_bool(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    int value = -1;

    for (size_t i = 0; i < 3; ++i) {
        if (strcasecmp(s, yes[i]) == 0)
            value = 1;
        if (strcasecmp(s, no[i]) == 0)
            value = 0;
    }
    if (value < 0) {
        snprintf(msg, msgsize, "expected true or false");
        return -1;
    }
    if (base != NULL)
        *HUB_CONF_FIELD(base, key->off, int) = value;
    return 0;
}

static int parse_number(const char *s, uint64_t *v)
{
    *v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9' || *v > (UINT64_MAX - 9) / 10)
            return -1;
        *v = *v * 10 + (*s - '0');
    }
    return 0;
}

static int parse_uint(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    uint64_t v;

    if (parse_number(s, &v) != 0) {
        snprintf(msg, msgsize, "expected a whole number");
        return -1;
    }
    if (v < key->min || v > key->max) {
        snprintf(msg, msgsize, "must be between %llu and %llu", (unsigned long long)key->min, (unsigned long long)key->max);
        return -1;
    }
    if (base != NULL)
        *HUB_CONF_FIELD(base, key->off, unsigned) = (unsigned)v;
    return 0;
}

static int parse_duration_key(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    uint64_t v;

    if (hub_conf_parse_duration(s, &v) != 0) {
        snprintf(msg, msgsize, "expected a duration like 10m");
        return -1;
    }
    if (v < key->min) {
        snprintf(msg, msgsize, "must be at least %llus", (unsigned long long)key->min);
        return -1;
    }
    if (v > key->max) {
        if (key->max % 86400 == 0)
            snprintf(msg, msgsize, "must be at most %llud", (unsigned long long)(key->max / 86400));
        else
            snprintf(msg, msgsize, "must be at most %llus", (unsigned long long)key->max);
        return -1;
    }
    if (base != NULL)
        *HUB_CONF_FIELD(base, key->off, uint64_t) = v;
    return 0;
}

static int parse_enum(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    size_t used;

    for (size_t i = 0; key->names[i] != NULL; ++i) {
        if (strcmp(s, key->names[i]) == 0) {
            if (base != NULL)
                *HUB_CONF_FIELD(base, key->off, int) = (int)i;
            return 0;
        }
    }
    used = snprintf(msg, msgsize, "expected one of ");
    for (size_t i = 0; key->names[i] != NULL && used < msgsize; ++i)
        used += snprintf(msg + used, msgsize - used, "%s%s", i == 0 ? "" : "|", key->names[i]);
    return -1;
}

static int parse_port(const char *s, uint16_t *port)
{
    uint64_t v;

    if (parse_number(s, &v) != 0 || v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* host:port where host is an IPv4 literal, "localhost" or a bracketed IPv6 literal; the
 * stored host drops the brackets so it can go straight to getaddrinfo. */
static int parse_listen(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    char host[64];
    const char *colon, *hs = s;
    size_t hlen;
    uint16_t port;
    unsigned char addr[16];
    int ok;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        hs = s + 1, hlen = close - hs, colon = close + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL)
            goto bad;
        hlen = colon - s;
    }
    if (hlen == 0 || hlen >= sizeof(host) || parse_port(colon + 1, &port) != 0)
        goto bad;
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    if (s[0] == '[')
        ok = inet_pton(AF_INET6, host, addr) == 1;
    else
        ok = strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, addr) == 1;
    if (!ok)
        goto bad;
    if (base != NULL) {
        replace_string(HUB_CONF_FIELD(base, key->off, char *), host);
        *HUB_CONF_FIELD(base, key->off2, uint16_t) = port;
    }
    return 0;
bad:
    snprintf(msg, msgsize, "expected host:port like 127.0.0.1:8080 or [::1]:8080 (port 1-65535)");
    return -1;
}

/* Checks an absolute http(s) URL (hub_url_parse: no user info or fragment, a strict host and port), written with a
 * lower-case scheme, without query and with an IPv4 host as a plain dotted quad; returns the length to keep once
 * trailing slashes are dropped, or 0 when the URL is not acceptable. */
static size_t check_url(const char *s, int allow_https)
{
    hub_url_t u;
    size_t len = strlen(s), path = 0;

    if (strncmp(s, "http://", 7) != 0 && !(allow_https && strncmp(s, "https://", 8) == 0))
        return 0;
    if (hub_url_parse(s, &u, NULL) != 0 || strchr(u.rest, '?') != NULL || (u.kind == HUB_HOST_IPV4 && !u.canonical))
        return 0;
    path = u.rest - s;
    while (len > path && s[len - 1] == '/')
        --len;
    return len;
}

static int store_url(const hub_conf_key_t *key, void *base, const char *s, size_t keep)
{
    char **slot = HUB_CONF_FIELD(base, key->off, char *);

    if (base == NULL)
        return 0;
    free(*slot);
    *slot = hub_xstrndup(s, keep);
    return 0;
}

/* public_url, server_url: http or https, stored without a trailing slash. */
static int parse_url(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    size_t keep = strlen(s) > HUB_CONF_MAX_STRING ? 0 : check_url(s, 1);

    if (keep == 0) {
        snprintf(msg, msgsize, "expected an absolute http:// or https:// URL without query or fragment");
        return -1;
    }
    return store_url(key, base, s, keep);
}

/* A route's upstream: plain http (the proxy speaks no TLS upstream), kept as written. */
static int parse_upstream(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    if (strlen(s) > HUB_CONF_MAX_STRING || check_url(s, 0) == 0) {
        snprintf(msg, msgsize, "expected an absolute http:// URL like http://127.0.0.1:9000/");
        return -1;
    }
    return store_url(key, base, s, strlen(s));
}

static int parse_route_path(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    if (s[0] != '/' || strlen(s) > 1024) {
        snprintf(msg, msgsize, "expected a URL path starting with '/'");
        return -1;
    }
    for (const char *p = s; *p != '\0'; ++p) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '#') {
            snprintf(msg, msgsize, "a path must not contain spaces, '?', '#' or control characters");
            return -1;
        }
    }
    /* a guard decides on the path the proxy forwards: the route itself must be in the one form requests may take */
    const char *why = NULL;
    if (strchr(s, '%') != NULL || hub_path_check(s, strlen(s), &why) != 0) {
        snprintf(msg, msgsize, "a route path must be canonical, without '%%' escapes: %s", why != NULL ? why : "'%' found");
        return -1;
    }
    return parse_string(key, base, s, msg, msgsize);
}

/* List items: base is always NULL, the list code stores them. */
static int parse_scope(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    if (*s == '\0' || strlen(s) > 256) {
        snprintf(msg, msgsize, "expected a scope name");
        return -1;
    }
    for (const char *p = s; *p != '\0'; ++p) {
        unsigned char c = *p;
        if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e) { /* RFC 6749 scope-token */
            snprintf(msg, msgsize, "a scope must not contain spaces, '\"' or '\\'");
            return -1;
        }
    }
    return 0;
}

static int parse_cidr_item(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    hub_cidr_t range;
    const char *why = NULL;

    if (hub_cidr_parse(s, &range, &why) != 0) {
        snprintf(msg, msgsize, "%s: %s", s, why);
        return -1;
    }
    return 0;
}

static int parse_item(const hub_conf_key_t *key, void *base, const char *s, char *msg, size_t msgsize)
{
    return parse_string(key, NULL, s, msg, msgsize);
}

void hub_conf_free_list(char **list)
{
    if (list == NULL)
        return;
    for (char **p = list; *p != NULL; ++p)
        free(*p);
    free(list);
}

void hub_conf_set_list(const hub_conf_key_t *key, void *base, char **list, size_t n)
{
    char ***slot = HUB_CONF_FIELD(base, key->off, char **);
    hub_conf_free_list(*slot);
    *slot = list;
    *HUB_CONF_FIELD(base, key->off2, size_t) = n;
}

static void dispose_list(const hub_conf_key_t *key, void *base)
{
    hub_conf_set_list(key, base, NULL, 0);
}

const hub_conf_type_t hub_conf_string = {HUB_CONF_SCALAR, "a string", parse_string, dispose_string};
const hub_conf_type_t hub_conf_name = {HUB_CONF_SCALAR, "a name", parse_name, dispose_string};
const hub_conf_type_t hub_conf_cluster_secret = {HUB_CONF_SCALAR, "a file path", parse_cluster_secret, dispose_string};
const hub_conf_type_t hub_conf_bool = {HUB_CONF_SCALAR, "true or false", parse_bool, NULL};
const hub_conf_type_t hub_conf_uint = {HUB_CONF_SCALAR, "a whole number", parse_uint, NULL};
const hub_conf_type_t hub_conf_duration = {HUB_CONF_SCALAR, "a duration like 10m", parse_duration_key, NULL};
const hub_conf_type_t hub_conf_enum = {HUB_CONF_SCALAR, NULL, parse_enum, NULL};
const hub_conf_type_t hub_conf_listen = {HUB_CONF_SCALAR, "host:port", parse_listen, dispose_string};
const hub_conf_type_t hub_conf_url = {HUB_CONF_SCALAR, "a URL", parse_url, dispose_string};
const hub_conf_type_t hub_conf_upstream = {HUB_CONF_SCALAR, "a URL", parse_upstream, dispose_string};
const hub_conf_type_t hub_conf_route_path = {HUB_CONF_SCALAR, "a URL path", parse_route_path, dispose_string};
const hub_conf_type_t hub_conf_scopes = {HUB_CONF_LIST, "a list like [openid, profile]", parse_scope, dispose_list};
const hub_conf_type_t hub_conf_strings = {HUB_CONF_LIST, "a list like [a, b]", parse_item, dispose_list};
const hub_conf_type_t hub_conf_cidrs = {HUB_CONF_LIST, "a list of address ranges like [127.0.0.0/8, \"::1/128\"]", parse_cidr_item,
                                        dispose_list};
