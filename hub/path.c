/* Request paths: the canonical-form check every request passes and the lenient reading route guards compare. */
#include <stdint.h>
#include <string.h>
#include "hub/err.h"
#include "hub/path.h"
#include "hub/util.h"

static int is_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Bytes a canonical path may hold as they are (the rest must be escaped, or is refused even escaped). */
static int raw_allowed(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,=:@/%[]|^", c) != NULL);
}

/* Code points that NFKC or Windows best-fit mapping turn into '.', '/', '\', ';', '?', '#', '%' or ':' (sorted). */
static const uint32_t confusables[] = {
    0x037E,                                 /* Greek question mark: ';' even under NFC */
    0x2024, 0x2025, 0x2026,                 /* dot leaders, ellipsis */
    0x2044,                                 /* fraction slash */
    0x2215, 0x2216,                         /* division slash, set minus */
    0x29F5, 0x29F8, 0x29F9,                 /* reverse solidus operator, big solidus, big reverse solidus */
    0xFE13,                                 /* presentation form colon */
    0xFE52, 0xFE54, 0xFE55, 0xFE56, 0xFE5F, /* small . ; : ? # */
    0xFE68, 0xFE6A,                         /* small \ % */
    0xFF03, 0xFF05, 0xFF0E, 0xFF0F,         /* fullwidth # % . / */
    0xFF1A, 0xFF1B, 0xFF1F, 0xFF3C,         /* fullwidth : ; ? \ */
};

static int is_confusable(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(confusables) / sizeof(confusables[0]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (confusables[mid] == cp)
            return 1;
        if (confusables[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* UTF-8 decoding state over the decoded bytes of a path. */
typedef struct st_utf8_t {
    unsigned need; /* continuation bytes still expected */
    uint32_t cp, min;
} utf8_t;

/* Starts a sequence with lead byte b; -1 when b cannot lead one. */
static int utf8_lead(utf8_t *u, unsigned char b)
{
    if (b >= 0xC2 && b <= 0xDF)
        u->need = 1, u->cp = b & 0x1F, u->min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF)
        u->need = 2, u->cp = b & 0x0F, u->min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4)
        u->need = 3, u->cp = b & 0x07, u->min = 0x10000;
    else
        return -1;
    return 0;
}

/* Adds a continuation byte; -1 when b is none. */
static int utf8_cont(utf8_t *u, unsigned char b)
{
    if ((b & 0xC0) != 0x80)
        return -1;
    u->cp = (u->cp << 6) | (b & 0x3F);
    --u->need;
    return 0;
}

/* Whether the completed sequence is a code point (not overlong, not a surrogate, at most U+10FFFF). */
static int utf8_valid(const utf8_t *u)
{
    return u->cp >= u->min && !(u->cp >= 0xD800 && u->cp <= 0xDFFF) && u->cp <= 0x10FFFF;
}

/* Feeds one decoded byte of a sequence (a lead >= 0x80 or a continuation); NULL or what is wrong. */
static const char *utf8_feed(utf8_t *u, unsigned char b)
{
    static const char *bad = "an escaped byte sequence that is not UTF-8";
    if (u->need == 0)
        return utf8_lead(u, b) == 0 ? NULL : bad;
    if (utf8_cont(u, b) != 0)
        return bad;
    if (u->need != 0)
        return NULL;
    if (!utf8_valid(u))
        return bad;
    return is_confusable(u->cp) ? "a character that reads as '.', '/', '\\', ';', '?', '#', '%' or ':'" : NULL;
}

/* What an escape %XX at path[i] (already known to be valid) decodes to that a canonical path must not hold. */
static const char *bad_escape(const char *path, size_t len, size_t i, unsigned char b)
{
    if (b < 0x20 || b == 0x7F)
        return "an escaped control character";
    if (is_alnum(b) || b == '.')
        return "an escaped letter, digit or dot";
    if (strchr("/\\;?#", b) != NULL)
        return "an escaped '/', '\\', ';', '?' or '#'";
    if (b == '%' && i + 4 < len && hub_hex_digit((unsigned char)path[i + 3]) >= 0 && hub_hex_digit((unsigned char)path[i + 4]) >= 0)
        return "a double-encoded escape";
    return NULL;
}

static const char *raw_refusal(unsigned char c)
{
    if (c == ';')
        return "path parameters (';')";
    if (c == '\\')
        return "a backslash";
    if (c < 0x20 || c == 0x7F)
        return "a control character";
    return "a character that must be escaped";
}

static int refuse(const char **why, const char *what, int err)
{
    if (why != NULL)
        *why = what;
    return err;
}

int hub_path_check(const char *path, size_t len, const char **why)
{
    utf8_t u = {0};
    size_t i, seg_len = 0;
    int seg_dots = 1; /* the segment so far holds only dots and spaces */
    const char *bad;

    if (len > HUB_PATH_MAX)
        return refuse(why, "the path is too long", HUB_E_TOOBIG);
    if (len == 0 || path[0] != '/')
        return refuse(why, "the path does not start with '/'", HUB_E_PARSE);
    for (i = 1; i < len; ++i) {
        unsigned char b = (unsigned char)path[i];
        if (b == '/') {
            if (u.need != 0)
                return refuse(why, "an escaped byte sequence that is not UTF-8", HUB_E_PARSE);
            if (seg_len == 0)
                return refuse(why, "an empty path segment", HUB_E_PARSE);
            if (seg_dots)
                return refuse(why, "a dot segment", HUB_E_PARSE);
            seg_len = 0, seg_dots = 1;
            continue;
        }
        if (!raw_allowed(b))
            return refuse(why, raw_refusal(b), HUB_E_PARSE);
        if (b == '%') {
            int hi = i + 2 < len ? hub_hex_digit((unsigned char)path[i + 1]) : -1,
                lo = hi >= 0 ? hub_hex_digit((unsigned char)path[i + 2]) : -1;
            if (lo < 0)
                return refuse(why, "a '%' that starts no valid escape", HUB_E_PARSE);
            b = (unsigned char)(hi << 4 | lo);
            if ((bad = bad_escape(path, len, i, b)) != NULL)
                return refuse(why, bad, HUB_E_PARSE);
            i += 2;
        }
        if ((b >= 0x80 || u.need != 0) && (bad = utf8_feed(&u, b)) != NULL)
            return refuse(why, bad, HUB_E_PARSE);
        ++seg_len;
        if (b != '.' && b != ' ')
            seg_dots = 0;
    }
    if (u.need != 0)
        return refuse(why, "an escaped byte sequence that is not UTF-8", HUB_E_PARSE);
    if (seg_len != 0 && seg_dots)
        return refuse(why, "a dot segment", HUB_E_PARSE);
    return 0;
}

/* ---- the lenient reading ---- */

/* One decoded byte at path[*i] (an escape when valid, else the byte itself); -1 at the end. */
static int next_byte(const char *path, size_t len, size_t *i)
{
    int hi, lo;
    if (*i >= len)
        return -1;
    if (path[*i] == '%' && *i + 2 < len && (hi = hub_hex_digit((unsigned char)path[*i + 1])) >= 0 &&
        (lo = hub_hex_digit((unsigned char)path[*i + 2])) >= 0) {
        *i += 3;
        return hi << 4 | lo;
    }
    return (unsigned char)path[(*i)++];
}

/* Writes to buf (3 bytes) what case folding or compatibility mapping makes of a code point that becomes ASCII, and
 * returns its length (0 for the invisible format characters some normalizers remove); -1 when the code point stays. */
static int fold_cp(uint32_t cp, char *buf)
{
    static const struct {
        uint32_t cp;
        const char *ascii;
    } map[] = {
        {0x00AD, ""},    {0x00DF, "ss"},  {0x0131, "i"},  {0x017F, "s"},  {0x034F, ""},   {0x180E, ""},   {0x1E9E, "ss"},
        {0x200B, ""},    {0x200C, ""},    {0x200D, ""},   {0x200E, ""},   {0x200F, ""},   {0x2060, ""},   {0x2061, ""},
        {0x2062, ""},    {0x2063, ""},    {0x2064, ""},   {0x212A, "k"},  {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"},
        {0xFB03, "ffi"}, {0xFB04, "ffl"}, {0xFB05, "st"}, {0xFB06, "st"}, {0xFEFF, ""},
    };
    size_t k;

    if (cp >= 0xFF01 && cp <= 0xFF5E) { /* fullwidth ASCII */
        unsigned char c = (unsigned char)(cp - 0xFEE0);
        buf[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return 1;
    }
    if (cp >= 0xFE00 && cp <= 0xFE0F) /* variation selectors */
        return 0;
    for (k = 0; k != sizeof(map) / sizeof(map[0]); ++k) {
        if (map[k].cp == cp) {
            size_t n = strlen(map[k].ascii);
            memcpy(buf, map[k].ascii, n);
            return (int)n;
        }
    }
    return -1;
}

/* Decodes one UTF-8 sequence whose lead byte was just read and appends its folded form to out at *o; a sequence that
 * is not UTF-8 leaves the lead byte alone (the next bytes are read on their own). */
static void fold_utf8(const char *path, size_t len, size_t *i, int lead, char *out, size_t *o)
{
    utf8_t u = {0};
    size_t at = *i, start = *o, n = 0;
    char rest[3], ascii[3];
    int c, alen;

    out[(*o)++] = (char)lead;
    if (utf8_lead(&u, (unsigned char)lead) != 0)
        return;
    while (u.need != 0) {
        if ((c = next_byte(path, len, &at)) < 0 || utf8_cont(&u, (unsigned char)c) != 0)
            return;
        rest[n++] = (char)c;
    }
    if (!utf8_valid(&u))
        return;
    *i = at;
    if ((alen = fold_cp(u.cp, ascii)) < 0) {
        memcpy(out + *o, rest, n);
        *o += n;
    } else {
        memcpy(out + start, ascii, (size_t)alen); /* never longer than the UTF-8 it replaces */
        *o = start + (size_t)alen;
    }
}

/* Removes the trailing dots, spaces and "::$data" a Windows server ignores from the segment out[seg..*o). */
static void trim_segment(const char *out, size_t seg, size_t *o)
{
    for (;;) {
        if (*o - seg >= 7 && memcmp(out + *o - 7, "::$data", 7) == 0)
            *o -= 7;
        else if (*o > seg && (out[*o - 1] == '.' || out[*o - 1] == ' '))
            --*o;
        else
            return;
    }
}

/* Folds the segment that starts at path[*i] onto out (after the '/' at out[*o - 1]) and stops before its separator.
 * Returns 1 when the segment reads as "..". */
static int fold_segment(const char *path, size_t len, size_t *i, char *out, size_t *o)
{
    size_t seg = *o, at, end;
    int c, params = 0;

    for (;;) {
        at = *i;
        if ((c = next_byte(path, len, &at)) < 0 || c == '/' || c == '\\')
            break;
        *i = at;
        if (c == ';')
            params = 1; /* ";params" up to the next separator are ignored */
        if (params)
            continue;
        if (c >= 0x80)
            fold_utf8(path, len, i, c, out, o);
        else
            out[(*o)++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c == '+' ? ' ' : c);
    }
    for (end = *o; end > seg && out[end - 1] == ' '; --end)
        ;
    trim_segment(out, seg, o);
    return end - seg == 2 && out[seg] == '.' && out[seg + 1] == '.';
}

size_t hub_path_fold(const char *path, size_t len, char *out)
{
    size_t i = 0, o = 0, at;
    int c, trailing = 0;

    while (i < len) {
        at = i;
        c = next_byte(path, len, &at);
        if (c == '/' || c == '\\') {
            i = at;
            trailing = 1;
            continue;
        }
        out[o++] = '/';
        if (fold_segment(path, len, &i, out, &o)) {
            /* "..": drop it and the segment before it */
            o -= 1;
            while (o > 0 && out[o - 1] != '/')
                --o;
            if (o > 0)
                --o;
        } else if (out[o - 1] == '/') {
            --o; /* an empty or "." segment */
        }
        trailing = 0;
    }
    if (o == 0 || trailing)
        out[o++] = '/';
    out[o] = '\0';
    return o;
}

int hub_path_under(const char *path, size_t len, const char *prefix, size_t plen)
{
    while (plen != 0 && prefix[plen - 1] == '/')
        --plen;
    if (len < plen || memcmp(path, prefix, plen) != 0)
        return 0;
    return len == plen || path[plen] == '/';
}
