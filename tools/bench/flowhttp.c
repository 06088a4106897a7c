/* Just enough HTTP/1.1 for bench-flowload: answers parsed in place, a cookie jar, the fields the flows read. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "tools/bench/flowhttp.h"

int fh_copy_n(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

int fh_url_encode(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;

    for (; *s != '\0'; ++s) {
        unsigned char ch = (unsigned char)*s;
        if (j + 4 > cap)
            return -1;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            out[j++] = (char)ch;
        } else {
            out[j++] = '%';
            out[j++] = hex[ch >> 4];
            out[j++] = hex[ch & 15];
        }
    }
    out[j] = '\0';
    return 0;
}

int fh_form_field(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
    char pat[96];
    const char *p, *end;
    size_t j = 0, i;

    snprintf(pat, sizeof(pat), "name=\"%s\" value=\"", name);
    if ((p = memmem(body, len, pat, strlen(pat))) == NULL)
        return -1;
    p += strlen(pat);
    if ((end = memchr(p, '"', (size_t)(body + len - p))) == NULL)
        return -1;
    while (p < end) {
        if (j + 1 >= cap)
            return -1;
        for (i = 0; *p == '&' && i != sizeof(ents) / sizeof(ents[0]); ++i)
            if ((size_t)(end - p) >= strlen(ents[i].ent) && memcmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
                break;
        if (*p == '&' && i != sizeof(ents) / sizeof(ents[0])) {
            out[j++] = ents[i].ch;
            p += strlen(ents[i].ent);
        } else {
            out[j++] = *p++;
        }
    }
    out[j] = '\0';
    return 0;
}

const char *fh_json_value(const char *body, size_t len, const char *key)
{
    char pat[64];
    const char *p = body, *end = body + len;
    size_t plen = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key);

    while ((p = memmem(p, (size_t)(end - p), pat, plen)) != NULL) {
        p += plen;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            ++p;
        if (p < end && *p == ':') {
            ++p;
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                ++p;
            return p;
        }
    }
    return NULL;
}

int fh_json_string(const char *body, size_t len, const char *key, char *out, size_t cap)
{
    const char *p = fh_json_value(body, len, key), *end = body + len, *q;

    if (p == NULL || p >= end || *p != '"')
        return -1;
    for (q = ++p; q < end && *q != '"'; ++q)
        if (*q == '\\')
            return -1;
    if (q >= end)
        return -1;
    return fh_copy_n(out, cap, p, (size_t)(q - p));
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

int fh_query_param(const char *url, size_t len, const char *name, char *out, size_t cap)
{
    const char *q = memchr(url, '?', len), *end = url + len, *p;
    size_t nlen = strlen(name), j = 0;

    for (p = q; p != NULL && p < end; p = memchr(p + 1, '&', (size_t)(end - p - 1))) {
        const char *k = p + 1, *v;
        if ((size_t)(end - k) <= nlen || memcmp(k, name, nlen) != 0 || k[nlen] != '=')
            continue;
        for (v = k + nlen + 1; v < end && *v != '&' && j + 1 < cap; ++v) {
            int hi = end - v >= 3 && *v == '%' ? hexval(v[1]) : -1, lo = hi >= 0 ? hexval(v[2]) : -1;
            if (lo >= 0) {
                out[j++] = (char)(hi << 4 | lo);
                v += 2;
            } else {
                out[j++] = *v == '+' ? ' ' : *v;
            }
        }
        if (v < end && *v != '&')
            return -1;
        out[j] = '\0';
        return 0;
    }
    return -1;
}

static int ieq_prefix(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n >= m && strncasecmp(s, lit, m) == 0;
}

/* Applies one Set-Cookie value: name=value, then attributes; Max-Age=0 (or less) removes the cookie. */
static int jar_set(fh_jar_t *jar, const char *v, size_t n)
{
    const char *eq = memchr(v, '=', n), *semi = memchr(v, ';', n), *p;
    size_t vend = semi != NULL ? (size_t)(semi - v) : n, i;
    int remove = 0;
    fh_cookie_t ck;

    if (eq == NULL || eq > v + vend || fh_copy_n(ck.name, sizeof(ck.name), v, (size_t)(eq - v)) != 0 ||
        fh_copy_n(ck.value, sizeof(ck.value), eq + 1, vend - (size_t)(eq - v) - 1) != 0 || ck.name[0] == '\0')
        return -1;
    for (p = semi; p != NULL && p < v + n; p = memchr(p + 1, ';', (size_t)(v + n - p - 1))) {
        const char *a = p + 1;
        while (a < v + n && *a == ' ')
            ++a;
        if (ieq_prefix(a, (size_t)(v + n - a), "max-age=") && (a[8] == '0' || a[8] == '-'))
            remove = 1;
    }
    for (i = 0; i != jar->n; ++i)
        if (strcmp(jar->v[i].name, ck.name) == 0)
            break;
    if (remove) {
        if (i != jar->n)
            jar->v[i] = jar->v[--jar->n];
        return 0;
    }
    if (i == jar->n) {
        if (jar->n == FH_MAX_COOKIES)
            return -1;
        jar->n++;
    }
    jar->v[i] = ck;
    return 0;
}

size_t fh_jar_header(const fh_jar_t *jar, char *out, size_t cap)
{
    size_t len = 0, i;
    int n;

    out[0] = '\0';
    for (i = 0; i != jar->n; ++i) {
        n = snprintf(out + len, cap - len, "%s%s=%s", i ? "; " : "Cookie: ", jar->v[i].name, jar->v[i].value);
        if (n < 0 || (size_t)n >= cap - len)
            goto toobig;
        len += (size_t)n;
    }
    if (len != 0) {
        n = snprintf(out + len, cap - len, "\r\n");
        if (n < 0 || (size_t)n >= cap - len)
            goto toobig;
        len += (size_t)n;
    }
    return len;
toobig:
    out[0] = '\0';
    return 0;
}

/* Walks a chunked body at p (n bytes there); with decode set, also moves the data to the front. 1 when complete (the
 * body's length in *body_len, the bytes it took in *used), 0 when more is needed, -1 when malformed. */
static int chunked(char *p, size_t n, size_t cap, int decode, size_t *body_len, size_t *used)
{
    size_t in = 0, out = 0;

    for (;;) {
        char *eol = memmem(p + in, n - in, "\r\n", 2), *q;
        unsigned long long size = 0;
        if (eol == NULL)
            return n - in > 64 ? -1 : 0;
        for (q = p + in; q < eol && hexval(*q) >= 0 && size < cap; ++q)
            size = size * 16 + (unsigned)hexval(*q);
        if (q == p + in || size >= cap || (q < eol && *q != ';'))
            return -1;
        in = (size_t)(eol + 2 - p);
        if (size == 0)
            break;
        if (n - in < size + 2)
            return 0;
        if (p[in + size] != '\r' || p[in + size + 1] != '\n')
            return -1;
        if (decode)
            memmove(p + out, p + in, size);
        out += size;
        in += size + 2;
    }
    for (;;) { /* trailer lines, then the empty line */
        char *eol = memmem(p + in, n - in, "\r\n", 2);
        if (eol == NULL)
            return n - in > 4096 ? -1 : 0;
        if (eol == p + in) {
            in += 2;
            break;
        }
        in = (size_t)(eol + 2 - p);
    }
    *body_len = out;
    *used = in;
    return 1;
}

#define MAX_SET_COOKIES 8

typedef struct st_head_t {
    long long content_length;
    int chunked;
    const char *set_cookie[MAX_SET_COOKIES];
    size_t set_cookie_len[MAX_SET_COOKIES], nset;
} head_t;

/* Reads the header fields between p and end (each line ends with CRLF) into r and h. -1 when malformed. */
static int parse_fields(const char *p, const char *end, fh_resp_t *r, head_t *h)
{
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2), *colon, *v, *vend;
        if (eol == NULL)
            eol = end;
        if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL)
            return -1;
        for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); ++v)
            ;
        for (vend = eol; vend > v && (vend[-1] == ' ' || vend[-1] == '\t'); --vend)
            ;
        size_t nlen = (size_t)(colon - p), vlen = (size_t)(vend - v);
        if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
            char *e;
            errno = 0;
            h->content_length = vlen > 0 && vlen < 10 && isdigit((unsigned char)*v) ? strtoll(v, &e, 10) : -1;
            if (h->content_length < 0 || e != vend)
                return -1;
        } else if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            h->chunked = vlen >= 7 && strncasecmp(vend - 7, "chunked", 7) == 0;
        } else if (nlen == 8 && strncasecmp(p, "location", 8) == 0) {
            r->location = v;
            r->location_len = vlen;
        } else if (nlen == 10 && strncasecmp(p, "connection", 10) == 0) {
            r->close = vlen == 5 && strncasecmp(v, "close", 5) == 0;
        } else if (nlen == 10 && strncasecmp(p, "set-cookie", 10) == 0) {
            if (h->nset == MAX_SET_COOKIES)
                return -1;
            h->set_cookie[h->nset] = v;
            h->set_cookie_len[h->nset++] = vlen;
        }
        p = eol + 2;
    }
    return 0;
}

int fh_parse_response(char *buf, size_t len, size_t cap, fh_jar_t *jar, fh_resp_t *r, size_t *used, const char **why)
{
    char *hend = memmem(buf, len, "\r\n\r\n", 4), *body;
    const char *sl_end;
    head_t h = {.content_length = -1};
    size_t avail, blen, bused, i;
    int ret;

    *why = "malformed";
    memset(r, 0, sizeof(*r));
    if (hend == NULL) {
        *why = "too_big";
        return len == cap ? -1 : 0;
    }
    sl_end = memmem(buf, (size_t)(hend + 2 - buf), "\r\n", 2);
    if (sl_end - buf < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0 || !isdigit((unsigned char)buf[9]) ||
        !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]))
        return -1;
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (parse_fields(sl_end + 2, hend + 2, r, &h) != 0)
        return -1;
    body = hend + 4;
    avail = (size_t)(buf + len - body);
    if (h.chunked) {
        if ((ret = chunked(body, avail, cap, 0, &blen, &bused)) <= 0)
            return ret;
        chunked(body, avail, cap, 1, &blen, &bused);
    } else if (h.content_length >= 0) {
        if ((size_t)h.content_length > cap) {
            *why = "too_big";
            return -1;
        }
        if (avail < (size_t)h.content_length)
            return len == cap ? (*why = "too_big", -1) : 0;
        blen = bused = (size_t)h.content_length;
    } else if (r->status == 204 || r->status == 304) {
        blen = bused = 0;
    } else {
        *why = "no_length";
        return -1;
    }
    for (i = 0; i != h.nset; ++i)
        if (jar_set(jar, h.set_cookie[i], h.set_cookie_len[i]) != 0) {
            *why = "bad_cookie";
            return -1;
        }
    r->body = body;
    r->body_len = blen;
    *used = (size_t)(body - buf) + bused;
    return 1;
}
