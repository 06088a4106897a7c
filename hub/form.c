/* Request input parsing on h2o memory pools: forms, query strings, cookies, headers, Basic auth, and output escaping. */
#include "hub/form.h"
#include "hub/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char FORM_URLENCODED[] = "application/x-www-form-urlencoded";

/* Case-insensitive equality of two byte strings (h2o_lcstris needs its second argument in lower case). */
static int ci_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* Decodes one form-urlencoded component into a NUL-terminated pool copy; HUB_E_PARSE on a bad escape or a NUL byte. */
static int decode_component(h2o_mem_pool_t *pool, const char *s, size_t len, h2o_iovec_t *out)
{
    char *dst = h2o_mem_alloc_pool(pool, len + 1);
    size_t i, n = 0;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = hub_hex_digit(s[i + 1])) < 0 || (lo = hub_hex_digit(s[i + 2])) < 0)
                return HUB_E_PARSE;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return HUB_E_PARSE;
        dst[n++] = (char)c;
    }
    dst[n] = '\0';
    *out = h2o_iovec_init(dst, n);
    return 0;
}

int hub_form_parse(h2o_mem_pool_t *pool, const char *s, size_t len, hub_form_t *out)
{
    const char *p, *end = s + len;
    size_t npairs = 0;
    int ret;

    *out = (hub_form_t){NULL, 0};
    if (len > HUB_FORM_MAX_LEN)
        return HUB_E_TOOBIG;
    /* count non-empty pairs first so the item array is allocated once */
    for (p = s; p < end;) {
        const char *amp = memchr(p, '&', end - p);
        const char *seg_end = amp != NULL ? amp : end;
        if (seg_end != p)
            ++npairs;
        p = seg_end + 1;
    }
    if (npairs > HUB_FORM_MAX_FIELDS)
        return HUB_E_TOOBIG;
    if (npairs == 0)
        return 0;

    hub_kv_t *items = h2o_mem_alloc_pool(pool, npairs * sizeof(*items));
    size_t n = 0;
    for (p = s; p < end;) {
        const char *amp = memchr(p, '&', end - p);
        const char *seg_end = amp != NULL ? amp : end;
        if (seg_end != p) {
            const char *eq = memchr(p, '=', seg_end - p);
            const char *name_end = eq != NULL ? eq : seg_end;
            const char *value = eq != NULL ? eq + 1 : seg_end;
            if ((ret = decode_component(pool, p, name_end - p, &items[n].name)) != 0 ||
                (ret = decode_component(pool, value, seg_end - value, &items[n].value)) != 0)
                return ret;
            ++n;
        }
        p = seg_end + 1;
    }
    *out = (hub_form_t){items, n};
    return 0;
}

int hub_form_parse_query(h2o_mem_pool_t *pool, h2o_req_t *req, hub_form_t *out)
{
    size_t start;

    if (req->query_at == SIZE_MAX || req->query_at >= req->path.len) {
        *out = (hub_form_t){NULL, 0};
        return 0;
    }
    start = req->query_at + 1;
    return hub_form_parse(pool, req->path.base + start, req->path.len - start, out);
}

/* Whether a Content-Type value has the given media type, ignoring parameters, case and surrounding whitespace. */
static int media_type_is(const char *v, size_t len, const char *type)
{
    const char *semi = memchr(v, ';', len);
    size_t n = semi != NULL ? (size_t)(semi - v) : len;

    while (n > 0 && (*v == ' ' || *v == '\t')) {
        ++v;
        --n;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        --n;
    return ci_equal(v, n, type, strlen(type));
}

int hub_form_parse_body(h2o_mem_pool_t *pool, h2o_req_t *req, hub_form_t *out)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);

    *out = (hub_form_t){NULL, 0};
    if (i < 0)
        return HUB_E_INVAL;
    const h2o_iovec_t *ct = &req->headers.entries[i].value;
    if (!media_type_is(ct->base, ct->len, FORM_URLENCODED))
        return HUB_E_INVAL;
    if (req->entity.base == NULL || req->entity.len == 0)
        return 0;
    return hub_form_parse(pool, req->entity.base, req->entity.len, out);
}

const char *hub_form_get(const hub_form_t *f, const char *name)
{
    size_t i, len = strlen(name);

    for (i = 0; i < f->n; ++i)
        if (f->items[i].name.len == len && memcmp(f->items[i].name.base, name, len) == 0)
            return f->items[i].value.base;
    return NULL;
}

size_t hub_form_count(const hub_form_t *f, const char *name)
{
    size_t i, len = strlen(name), count = 0;

    for (i = 0; i < f->n; ++i)
        if (f->items[i].name.len == len && memcmp(f->items[i].name.base, name, len) == 0)
            ++count;
    return count;
}

/* Cookie scanning shared by hub_cookie_parse and hub_req_cookie. */
typedef struct {
    const char *p, *end;
} cookie_iter_t;

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_ows(**s)) {
        ++*s;
        --*len;
    }
    while (*len > 0 && is_ows((*s)[*len - 1]))
        --*len;
}

static int has_ctl(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 1;
    }
    return 0;
}

/* Yields the next valid pair as spans into the input (trimmed, quotes removed); returns 0 at the end. */
static int cookie_next(cookie_iter_t *it, h2o_iovec_t *name, h2o_iovec_t *value)
{
    while (it->p < it->end) {
        const char *semi = memchr(it->p, ';', it->end - it->p);
        const char *seg = it->p, *seg_end = semi != NULL ? semi : it->end;
        it->p = seg_end + 1;

        const char *eq = memchr(seg, '=', seg_end - seg);
        if (eq == NULL)
            continue;
        const char *n = seg, *v = eq + 1;
        size_t nlen = eq - seg, vlen = seg_end - v;
        trim(&n, &nlen);
        trim(&v, &vlen);
        if (nlen == 0 || has_ctl(n, nlen) || has_ctl(v, vlen))
            continue;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
            ++v;
            vlen -= 2;
        }
        *name = h2o_iovec_init(n, nlen);
        *value = h2o_iovec_init(v, vlen);
        return 1;
    }
    return 0;
}

int hub_cookie_parse(h2o_mem_pool_t *pool, const char *s, size_t len, hub_form_t *out)
{
    cookie_iter_t it = {s, s + len};
    h2o_iovec_t name, value;
    size_t n = 0;

    *out = (hub_form_t){NULL, 0};
    if (len > HUB_COOKIE_MAX_LEN)
        return HUB_E_TOOBIG;
    while (cookie_next(&it, &name, &value))
        ++n;
    if (n > HUB_COOKIE_MAX_FIELDS)
        return HUB_E_TOOBIG;
    if (n == 0)
        return 0;

    hub_kv_t *items = h2o_mem_alloc_pool(pool, n * sizeof(*items));
    it = (cookie_iter_t){s, s + len};
    n = 0;
    while (cookie_next(&it, &name, &value)) {
        items[n].name = h2o_strdup(pool, name.base, name.len);
        items[n].value = h2o_strdup(pool, value.base, value.len);
        ++n;
    }
    *out = (hub_form_t){items, n};
    return 0;
}

const char *hub_req_cookie(h2o_mem_pool_t *pool, h2o_req_t *req, const char *name)
{
    size_t want = strlen(name);
    ssize_t i = -1;
    h2o_iovec_t found = {NULL, 0};

    while ((i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0) {
        const h2o_iovec_t *hv = &req->headers.entries[i].value;
        if (hv->len > HUB_COOKIE_MAX_LEN)
            continue;
        cookie_iter_t it = {hv->base, hv->base + hv->len};
        h2o_iovec_t n, v;
        while (cookie_next(&it, &n, &v)) {
            if (n.len != want || memcmp(n.base, name, want) != 0)
                continue;
            if (found.base != NULL)
                return NULL; /* sent twice: which one the node set cannot be told */
            found = v;
        }
    }
    return found.base != NULL ? h2o_strdup(pool, found.base, found.len).base : NULL;
}

const char *hub_req_header(h2o_mem_pool_t *pool, h2o_req_t *req, const char *name)
{
    size_t i, len = strlen(name);

    for (i = 0; i < req->headers.size; ++i) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (ci_equal(h->name->base, h->name->len, name, len)) {
            if (memchr(h->value.base, '\0', h->value.len) != NULL)
                return NULL;
            return h2o_strdup(pool, h->value.base, h->value.len).base;
        }
    }
    return NULL;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

h2o_iovec_t hub_url_encode(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *dst = h2o_mem_alloc_pool(pool, len * 3 + 1);
    size_t i, n = 0;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            dst[n++] = (char)c;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    dst[n] = '\0';
    return h2o_iovec_init(dst, n);
}

static const char *html_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

h2o_iovec_t hub_html_escape(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    size_t i, n = 0, outlen = 0;
    const char *ent;

    for (i = 0; i < len; ++i)
        outlen += (ent = html_entity(s[i])) != NULL ? strlen(ent) : 1;
    char *dst = h2o_mem_alloc_pool(pool, outlen + 1);
    for (i = 0; i < len; ++i) {
        if ((ent = html_entity(s[i])) != NULL) {
            size_t elen = strlen(ent);
            memcpy(dst + n, ent, elen);
            n += elen;
        } else {
            dst[n++] = s[i];
        }
    }
    dst[n] = '\0';
    return h2o_iovec_init(dst, n);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict standard base64 decode into dst (room for len / 4 * 3 + 3 bytes). Padding is optional, but when present it must
 * complete the last quantum and nothing may follow it; a lone trailing sextet is rejected. Returns the decoded length or
 * -1. */
static ssize_t b64_decode(const char *s, size_t len, unsigned char *dst)
{
    size_t i, data_len = len, n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (data_len > 0 && s[data_len - 1] == '=')
        --data_len;
    if (data_len > 0 && s[data_len - 1] == '=')
        --data_len;
    if (data_len != len && len % 4 != 0)
        return -1; /* padding only completes a 4-character quantum */
    if (data_len % 4 == 1)
        return -1;
    for (i = 0; i < data_len; ++i) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1; /* non-canonical: leftover bits must be zero */
    return (ssize_t)n;
}

int hub_basic_auth_parse(h2o_mem_pool_t *pool, const char *header_value, char **user, char **pass)
{
    const char *p = header_value, *tok;
    size_t len, toklen;
    h2o_iovec_t u, pw;
    unsigned char *raw;
    ssize_t rawlen;
    const unsigned char *colon;

    *user = NULL;
    *pass = NULL;
    len = strnlen(header_value, HUB_BASIC_AUTH_MAX_LEN + 1);
    if (len > HUB_BASIC_AUTH_MAX_LEN)
        return HUB_E_PARSE;
    trim(&p, &len);
    if (len < 6 || strncasecmp(p, "Basic", 5) != 0 || !is_ows(p[5]))
        return HUB_E_PARSE;
    tok = p + 6;
    toklen = len - 6;
    trim(&tok, &toklen);
    raw = h2o_mem_alloc_pool(pool, toklen / 4 * 3 + 3);
    if ((rawlen = b64_decode(tok, toklen, raw)) < 0)
        return HUB_E_PARSE;
    if ((colon = memchr(raw, ':', rawlen)) == NULL)
        return HUB_E_PARSE;
    if (decode_component(pool, (const char *)raw, colon - raw, &u) != 0 ||
        decode_component(pool, (const char *)colon + 1, raw + rawlen - (colon + 1), &pw) != 0)
        return HUB_E_PARSE;
    *user = u.base;
    *pass = pw.base;
    return 0;
}

void hub_req_peer(h2o_req_t *req, char *out, size_t size)
{
    struct sockaddr_storage ss;

    snprintf(out, size, "unknown");
    if (req->conn->callbacks->get_peername == NULL || req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, size);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, size);
}

int hub_method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}
