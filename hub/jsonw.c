/* A JSON text writer into a caller's buffer (strings escaped, UTF-8 checked, nesting tracked). */
#include <string.h>
#include "hub/err.h"
#include "hub/jsonw.h"

void hub_jw_init(hub_jw_t *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
}

static void put(hub_jw_t *w, const char *s, size_t n)
{
    if (w->err != 0)
        return;
    if (w->cap - w->len < n) {
        w->err = HUB_E_TOOBIG;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* Before a value or a key: the comma between members, unless the value follows its key. */
static void separate(hub_jw_t *w)
{
    uint32_t bit;

    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0)
        return;
    bit = 1u << (w->depth - 1);
    if (w->nonempty & bit)
        put(w, ",", 1);
    w->nonempty |= bit;
}

void hub_jw_open(hub_jw_t *w, char c)
{
    if (w->err != 0)
        return;
    if ((c != '{' && c != '[') || w->depth == HUB_JW_DEPTH) {
        w->err = HUB_E_INVAL;
        return;
    }
    separate(w);
    put(w, &c, 1);
    w->nonempty &= ~(1u << w->depth);
    ++w->depth;
}

void hub_jw_close(hub_jw_t *w, char c)
{
    if (w->err != 0)
        return;
    if ((c != '}' && c != ']') || w->depth == 0 || w->after_key) {
        w->err = HUB_E_INVAL;
        return;
    }
    --w->depth;
    put(w, &c, 1);
}

/* Length of the UTF-8 sequence at s (1-4), or 0 when it is not one (overlong forms, surrogates and code points past
 * U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80 || (c == 0xf0 && s[1] < 0x90) ||
            (c == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

static void put_string(hub_jw_t *w, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str, *run = s;
    char esc[6] = {'\\', 'u', '0', '0'};

    put(w, "\"", 1);
    while (*s != '\0' && w->err == 0) {
        size_t n;
        if (*s >= 0x20 && *s != '"' && *s != '\\' && *s < 0x80) {
            ++s;
            continue;
        }
        put(w, (const char *)run, (size_t)(s - run));
        if (*s >= 0x80) {
            /* the bytes after a lead byte are read only while they are continuation bytes, so never past the NUL */
            if ((n = utf8_len(s)) == 0) {
                w->err = HUB_E_INVAL;
                return;
            }
            put(w, (const char *)s, n);
            s += n;
        } else if (*s == '"' || *s == '\\') {
            esc[1] = (char)*s;
            put(w, esc, 2);
            esc[1] = 'u';
            ++s;
        } else {
            esc[4] = hex[*s >> 4];
            esc[5] = hex[*s & 15];
            put(w, esc, 6);
            ++s;
        }
        run = s;
    }
    put(w, (const char *)run, (size_t)(s - run));
    put(w, "\"", 1);
}

void hub_jw_key(hub_jw_t *w, const char *key)
{
    if (w->err != 0)
        return;
    if (w->depth == 0 || w->after_key) {
        w->err = HUB_E_INVAL;
        return;
    }
    separate(w);
    put_string(w, key);
    put(w, ":", 1);
    w->after_key = 1;
}

void hub_jw_str(hub_jw_t *w, const char *s)
{
    if (w->err != 0)
        return;
    separate(w);
    if (s == NULL)
        put(w, "null", 4);
    else
        put_string(w, s);
}

void hub_jw_uint(hub_jw_t *w, uint64_t v)
{
    char digits[20];
    size_t n = 0;

    if (w->err != 0)
        return;
    separate(w);
    do {
        digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(w, digits + sizeof(digits) - n, n);
}

void hub_jw_kstr(hub_jw_t *w, const char *key, const char *s)
{
    hub_jw_key(w, key);
    hub_jw_str(w, s);
}

void hub_jw_kuint(hub_jw_t *w, const char *key, uint64_t v)
{
    hub_jw_key(w, key);
    hub_jw_uint(w, v);
}

int hub_jw_finish(hub_jw_t *w, size_t *len)
{
    if (w->err == 0 && (w->depth != 0 || w->after_key || w->len == 0))
        w->err = HUB_E_INVAL;
    if (w->err != 0)
        return w->err;
    if (w->len < w->cap)
        w->buf[w->len] = '\0';
    *len = w->len;
    return 0;
}
