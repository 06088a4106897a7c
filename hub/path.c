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

#include "hub/path_table.h"

/* What a lenient server reads a code point as (lower-case ASCII, "" for an invisible one), or NULL when it stays. */
static const char *table_text(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(path_table) / sizeof(path_table[0]);
    if ((cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF)) /* variation selectors */
        return "";
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (path_table[mid].cp == cp)
            return path_table[mid].text;
        if (path_table[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Whether a code point reads as a path delimiter or as text holding one ("a/c", "..", ";"). */
static int is_confusable(uint32_t cp)
{
    const char *t = table_text(cp);
    return t != NULL && strpbrk(t, HUB_PATH_TABLE_DELIMS) != NULL;
}

/* Whether a code point reads as spaces or as nothing (no-break and other spaces, zero-width and format characters). */
static int reads_blank(uint32_t cp)
{
    const char *t = table_text(cp);
    return t != NULL && t[strspn(t, " ")] == '\0';
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
    int seg_dots = 1; /* the segment so far holds only dots and what reads as spaces or nothing */
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
        ++seg_len;
        if (b >= 0x80 || u.need != 0) {
            if ((bad = utf8_feed(&u, b)) != NULL)
                return refuse(why, bad, HUB_E_PARSE);
            if (u.need == 0 && !reads_blank(u.cp)) /* a no-break space is read as a space, a zero-width one as nothing */
                seg_dots = 0;
        } else if (b != '.' && b != ' ') {
            seg_dots = 0;
        }
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

/* Decodes one UTF-8 sequence whose lead byte was just read (from lead_len bytes of the path) and appends what a lenient
 * server reads it as to out at *o: its ASCII text from the table when that fits in the bytes of the path it was read
 * from (so out never outgrows the path; a canonical path escapes every byte, three times what any text needs), else its
 * bytes. A sequence that is not UTF-8 leaves the lead byte alone (the next bytes are read on their own). */
static void fold_utf8(const char *path, size_t len, size_t *i, size_t lead_len, int lead, char *out, size_t *o)
{
    utf8_t u = {0};
    size_t at = *i, start = *o, n = 0, alen;
    char rest[3];
    const char *text;
    int c;

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
    if ((text = table_text(u.cp)) != NULL && (alen = strlen(text)) <= lead_len + (at - *i)) {
        memcpy(out + start, text, alen);
        *o = start + alen;
    } else {
        memcpy(out + *o, rest, n);
        *o += n;
    }
    *i = at;
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
    size_t seg = *o, at, end, lead_len;
    int c, params = 0;

    for (;;) {
        at = *i;
        if ((c = next_byte(path, len, &at)) < 0 || c == '/' || c == '\\')
            break;
        lead_len = at - *i;
        *i = at;
        if (c == ';')
            params = 1; /* ";params" up to the next separator are ignored */
        if (params)
            continue;
        if (c >= 0x80)
            fold_utf8(path, len, i, lead_len, c, out, o);
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
