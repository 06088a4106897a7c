/* The hub's cookie namespace: which cookies are the hub's, and taking them out of requests that leave the node. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "hub/cookie.h"
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/url.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ows(**s))
        ++*s, --*len;
    while (*len > 0 && is_ows((*s)[*len - 1]))
        --*len;
}

/* Whether s[0..len) starts with prefix, letters in any case; advances s past it when it does. */
static int starts_ci(const char **s, size_t *len, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (*len < plen || strncasecmp(*s, prefix, plen) != 0)
        return 0;
    *s += plen, *len -= plen;
    return 1;
}

static int is_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* [__Host-]hub_OWNER_WHAT with every character outside [A-Za-z0-9_-] written '_', but for the first keep characters
 * after the __Host- prefix (HUB_COOKIE_PREFIX and an owner that is already a valid token). */
static int make_name(char *out, size_t size, const char *owner, const char *what, int host_prefix, size_t keep)
{
    size_t i, skip = (host_prefix ? strlen(HUB_COOKIE_HOST_PREFIX) : 0) + keep;
    int n = snprintf(out, size, "%s" HUB_COOKIE_PREFIX "%s_%s", host_prefix ? HUB_COOKIE_HOST_PREFIX : "", owner, what);

    if (n < 0 || (size_t)n >= size) {
        if (size != 0)
            out[0] = '\0';
        return HUB_E_TOOBIG;
    }
    for (i = skip; out[i] != '\0'; ++i)
        if (!is_token_char(out[i]))
            out[i] = '_';
    return 0;
}

int hub_cookie_name(char *out, size_t size, const char *node_name, const char *what, int host_prefix)
{
    return make_name(out, size, node_name, what, host_prefix, 0);
}

/* The cluster's part of its cookie names: "c." and 16 hex digits of SHA-256(origin path) of public_url. */
static int cluster_part(char out[19], const char *public_url)
{
    char origin[HUB_ORIGIN_MAX + HUB_URL_MAX];
    uint8_t digest[HUB_SHA256_LEN];
    hub_url_t u;
    int n;

    if (hub_url_parse(public_url, &u, NULL) != 0 || (n = hub_url_origin(&u, origin, HUB_ORIGIN_MAX)) < 0)
        return HUB_E_INVAL;
    snprintf(origin + n, sizeof(origin) - (size_t)n, "%s", u.rest);
    hub_sha256(digest, origin, strlen(origin));
    out[0] = 'c', out[1] = '.';
    for (size_t i = 0; i != 8; ++i)
        snprintf(out + 2 + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

int hub_cookie_node_name(char *out, size_t size, const hub_config_t *cfg, const char *what, int host_prefix)
{
    char part[19];

    if (!hub_config_is_cluster(cfg))
        return hub_cookie_name(out, size, cfg->node.name, what, host_prefix);
    if (cluster_part(part, cfg->node.public_url) != 0) {
        if (size != 0)
            out[0] = '\0';
        return HUB_E_INVAL;
    }
    return make_name(out, size, part, what, host_prefix, strlen(HUB_COOKIE_PREFIX) + strlen(part));
}

int hub_cookie_is_hub(const char *name, size_t len)
{
    trim(&name, &len);
    if (!starts_ci(&name, &len, "__Host-"))
        starts_ci(&name, &len, "__Secure-");
    return starts_ci(&name, &len, HUB_COOKIE_PREFIX);
}

/* Appends the pairs of one Cookie header value that are not the hub's to out at *o; returns how many were the hub's. */
static size_t keep_app_cookies(const char *v, size_t vlen, char *out, size_t *o)
{
    const char *p = v, *end = v + vlen;
    size_t removed = 0;

    while (p < end) {
        const char *semi = memchr(p, ';', end - p), *seg = p, *eq;
        size_t seg_len = (semi != NULL ? semi : end) - p;
        p = semi != NULL ? semi + 1 : end;
        trim(&seg, &seg_len);
        if (seg_len == 0)
            continue;
        eq = memchr(seg, '=', seg_len);
        if (hub_cookie_is_hub(seg, eq != NULL ? (size_t)(eq - seg) : seg_len)) {
            ++removed;
            continue;
        }
        if (*o != 0)
            out[(*o)++] = ';', out[(*o)++] = ' ';
        memcpy(out + *o, seg, seg_len);
        *o += seg_len;
    }
    return removed;
}

static int is_cookie(const h2o_header_t *h)
{
    return h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("cookie"));
}

size_t hub_cookie_strip_hub(h2o_mem_pool_t *pool, h2o_headers_t *headers)
{
    size_t i, o = 0, total = 0, removed = 0, kept = 0;
    char *out;

    for (i = 0; i != headers->size; ++i)
        if (is_cookie(&headers->entries[i]))
            total += headers->entries[i].value.len + 2; /* "; " may replace one ';' or join two headers */
    if (total == 0)
        return 0;
    out = h2o_mem_alloc_pool(pool, total * 2);
    for (i = 0; i != headers->size; ++i) {
        h2o_header_t *h = &headers->entries[i];
        if (is_cookie(h))
            removed += keep_app_cookies(h->value.base, h->value.len, out, &o);
        else
            headers->entries[kept++] = *h;
    }
    headers->size = kept;
    if (o != 0)
        h2o_add_header(pool, headers, H2O_TOKEN_COOKIE, NULL, out, o);
    return removed;
}

int hub_cookie_set_is_hub(const char *set_cookie, size_t len)
{
    const char *semi = memchr(set_cookie, ';', len), *eq;
    size_t pair = semi != NULL ? (size_t)(semi - set_cookie) : len;

    trim(&set_cookie, &pair);
    if (pair != 0 && set_cookie[0] == '=') { /* a nameless cookie: the browser sends back its value alone */
        ++set_cookie, --pair;
        trim(&set_cookie, &pair);
    }
    eq = memchr(set_cookie, '=', pair);
    return hub_cookie_is_hub(set_cookie, eq != NULL ? (size_t)(eq - set_cookie) : pair);
}

size_t hub_cookie_strip_hub_set(h2o_headers_t *headers)
{
    size_t i, kept = 0;
    for (i = 0; i != headers->size; ++i) {
        h2o_header_t *h = &headers->entries[i];
        if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("set-cookie")) &&
            hub_cookie_set_is_hub(h->value.base, h->value.len))
            continue;
        headers->entries[kept++] = *h;
    }
    i = headers->size - kept;
    headers->size = kept;
    return i;
}
