/* Tests man/hub.yaml.5 against the key table of hub/config.c: every key has one entry with its default, range and
 * values exactly as the table has them, and every entry names a key that exists. Changed copies of the page prove that
 * the check catches a missing, stale, duplicated or wrong entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/config.h"
#include "hub/err.h"
#include "tests/check.h"

#define MAX_LINE 1024
#define MAX_LINES 4096

typedef struct {
    char *lines[MAX_LINES]; /* the page's lines, roff escapes of text undone */
    size_t n;
} page_t;

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;

    if (fp == NULL)
        return NULL;
    buf = calloc(1, 1024 * 1024 + 1);
    if (buf != NULL)
        len = fread(buf, 1, 1024 * 1024, fp);
    fclose(fp);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

/* One line with \- \e \& \(em and font changes (\fB \fI \fR \fP) undone, surrounding quotes of a macro argument dropped. */
static char *plain(const char *s, size_t len)
{
    char *out = calloc(1, len + 1), *o = out;

    if (out == NULL)
        abort();

    for (size_t i = 0; i < len; ++i) {
        if (s[i] == '\\' && i + 1 < len) {
            char c = s[i + 1];
            if (c == '-' || c == 'e') {
                *o++ = c == '-' ? '-' : '\\';
                ++i;
                continue;
            }
            if (c == '&') {
                ++i;
                continue;
            }
            if (c == 'f' && i + 2 < len) {
                i += 2;
                continue;
            }
        }
        if (s[i] != '"')
            *o++ = s[i];
    }
    return out;
}

static void split(page_t *page, const char *text)
{
    const char *p = text;

    page->n = 0;
    while (*p != '\0' && page->n < MAX_LINES) {
        size_t len = strcspn(p, "\n");
        page->lines[page->n++] = plain(p, len);
        p += len + (p[len] == '\n');
    }
}

static void page_free(page_t *page)
{
    for (size_t i = 0; i < page->n; ++i)
        free(page->lines[i]);
}

static int is_key_tag(const char *s)
{
    return strchr(s, '.') != NULL && s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.[]")] == '\0';
}

/* Index of the line after ".TP" ".B <key>" (the entry's first text line), and how many entries name key. */
static size_t find_entry(const page_t *page, const char *key, int *count)
{
    size_t at = 0;

    *count = 0;
    for (size_t i = 0; i + 1 < page->n; ++i) {
        if (strcmp(page->lines[i], ".TP") == 0 && strncmp(page->lines[i + 1], ".B ", 3) == 0 &&
            strcmp(page->lines[i + 1] + 3, key) == 0) {
            ++*count;
            at = i + 2;
        }
    }
    return at;
}

static int is_entry_end(const char *line)
{
    return strncmp(line, ".TP", 3) == 0 || strncmp(line, ".SH", 3) == 0 || strncmp(line, ".SS", 3) == 0;
}

/* The entry's line starting with prefix ("Default: "), or NULL; two such lines count as a problem. */
static const char *entry_line(const page_t *page, size_t at, const char *prefix, size_t *problems, const char *key)
{
    const char *found = NULL;

    for (size_t i = at; i < page->n && !is_entry_end(page->lines[i]); ++i) {
        if (strncmp(page->lines[i], prefix, strlen(prefix)) != 0)
            continue;
        if (found != NULL) {
            fprintf(stderr, "hub.yaml.5: %s: two \"%s\" lines\n", key, prefix);
            ++*problems;
        }
        found = page->lines[i];
    }
    return found;
}

static void duration_text(uint64_t s, char *buf, size_t size)
{
    if (s != 0 && s % 86400 == 0)
        snprintf(buf, size, "%llud", (unsigned long long)(s / 86400));
    else if (s != 0 && s % 3600 == 0)
        snprintf(buf, size, "%lluh", (unsigned long long)(s / 3600));
    else if (s != 0 && s % 60 == 0)
        snprintf(buf, size, "%llum", (unsigned long long)(s / 60));
    else
        snprintf(buf, size, "%llus", (unsigned long long)s);
}

/* What the entry of info must say after "Default: ", "Range: " and "Values: " ("" = no such line). */
static void expected(const hub_config_keyinfo_t *info, char *def, char *range, char *values, size_t size)
{
    size_t used = 0;

    if (info->def == NULL) {
        snprintf(def, size, "none.");
    } else if (info->list) {
        used = snprintf(def, size, "[");
        for (const char *p = info->def; *p != '\0' && used < size;) {
            size_t len = strcspn(p, " ");
            used += snprintf(def + used, size - used, "%s%.*s", used > 1 ? ", " : "", (int)len, p);
            p += len + strspn(p + len, " ");
        }
        if (used < size)
            snprintf(def + used, size - used, "].");
    } else {
        snprintf(def, size, "%s.", info->def);
    }
    range[0] = values[0] = '\0';
    if (info->ranged && info->duration) {
        char lo[32], hi[32];
        duration_text(info->min, lo, sizeof(lo));
        duration_text(info->max, hi, sizeof(hi));
        snprintf(range, size, "%s to %s.", lo, hi);
    } else if (info->ranged) {
        snprintf(range, size, "%llu to %llu.", (unsigned long long)info->min, (unsigned long long)info->max);
    }
    for (size_t i = 0, u = 0; info->values != NULL && info->values[i] != NULL && u < size; ++i)
        u += snprintf(values + u, size - u, "%s%s%s", i == 0 ? "" : " | ", info->values[i], info->values[i + 1] == NULL ? "." : "");
}

static void check_line(const page_t *page, size_t at, const char *key, const char *prefix, const char *want, size_t *problems)
{
    const char *line = entry_line(page, at, prefix, problems, key);
    size_t plen = strlen(prefix);

    if (want[0] == '\0' && line != NULL) {
        fprintf(stderr, "hub.yaml.5: %s: has \"%s\" but the key has none\n", key, line);
        ++*problems;
    } else if (want[0] != '\0' && (line == NULL || strcmp(line + plen, want) != 0)) {
        fprintf(stderr, "hub.yaml.5: %s: expected \"%s%s\", found \"%s\"\n", key, prefix, want, line != NULL ? line : "(none)");
        ++*problems;
    }
}

/* Returns the number of problems found in text (each one printed on stderr). */
static size_t check_page(const char *text)
{
    static page_t page;
    hub_config_keyinfo_t info;
    char def[512], range[512], values[512];
    size_t problems = 0, nkeys = 0;

    split(&page, text);
    for (size_t i = 0; hub_config_key_info(i, &info) == 0; ++i) {
        int count;
        size_t at;
        if (info.section)
            continue;
        ++nkeys;
        at = find_entry(&page, info.path, &count);
        if (count != 1) {
            fprintf(stderr, "hub.yaml.5: %s: %d entries (\".TP\" then \".B %s\"), expected one\n", info.path, count, info.path);
            ++problems;
            continue;
        }
        expected(&info, def, range, values, sizeof(def));
        check_line(&page, at, info.path, "Default: ", def, &problems);
        check_line(&page, at, info.path, "Range: ", range, &problems);
        check_line(&page, at, info.path, "Values: ", values, &problems);
    }
    /* the other way round: an entry for a key the table does not have (renamed, removed, misspelt) */
    for (size_t i = 0; i + 1 < page.n; ++i) {
        const char *tag = page.lines[i + 1] + 3;
        int known = 0;
        if (strcmp(page.lines[i], ".TP") != 0 || strncmp(page.lines[i + 1], ".B ", 3) != 0 || !is_key_tag(tag))
            continue;
        for (size_t k = 0; !known && hub_config_key_info(k, &info) == 0; ++k)
            known = !info.section && strcmp(info.path, tag) == 0;
        if (!known) {
            fprintf(stderr, "hub.yaml.5: %s: documented, but hub/config.c has no such key\n", tag);
            ++problems;
        }
    }
    if (nkeys < 30) {
        fprintf(stderr, "hub.yaml.5: only %zu keys in the table: the table was not read\n", nkeys);
        ++problems;
    }
    page_free(&page);
    return problems;
}

/* text with the first occurrence of from replaced by to (caller frees); NULL when from does not occur. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    char *out;

    if (at == NULL)
        return NULL;
    size_t head = at - text, tolen = strlen(to), tail = strlen(at + strlen(from));
    out = malloc(head + tolen + tail + 1);
    if (out == NULL)
        abort();
    memcpy(out, text, head);
    memcpy(out + head, to, tolen);
    memcpy(out + head + tolen, at + strlen(from), tail + 1);
    return out;
}

/* Each change must be caught. from must occur in the page: else the page changed and this test needs a look. */
static void check_caught(const char *text, const char *what, const char *from, const char *to)
{
    char *changed = replaced(text, from, to);

    if (changed == NULL) {
        fprintf(stderr, "mutation \"%s\": its text is not in the page\n", what);
        ++failures;
        return;
    }
    fprintf(stderr, "-- %s (the check must complain):\n", what);
    if (check_page(changed) == 0) {
        fprintf(stderr, "mutation \"%s\" went unnoticed\n", what);
        ++failures;
    }
    free(changed);
}

int main(void)
{
    const char *src = getenv("HUB_SOURCE_DIR");
    char path[1024];
    char *text;

    snprintf(path, sizeof(path), "%s/man/hub.yaml.5", src != NULL ? src : ".");
    if ((text = read_all(path)) == NULL) {
        perror(path);
        return 1;
    }
    CHECK(check_page(text) == 0);
    check_caught(text, "a key without an entry", ".TP\n.B node.threads\n", ".TP\n.B node.threadz\n");
    check_caught(text, "a wrong default", "Default: 2.\n.br\nRange: 1 to 64.", "Default: 4.\n.br\nRange: 1 to 64.");
    check_caught(text, "a wrong range", "Range: 1 to 64.", "Range: 1 to 63.");
    check_caught(text, "a duration range in other units", "Range: 0s to 1h.", "Range: 0s to 3600s.");
    check_caught(text, "missing values", "Values: RS256 | ES256 | EdDSA.", "RS256, ES256 or EdDSA.");
    check_caught(text, "a list default", "Default: [openid, profile, email, roles].", "Default: [openid, profile, email].");
    check_caught(text, "a missing default", "Default: 10m.\n", "\n");
    check_caught(text, "a range on a key without one", "Default: http://127.0.0.1:8080.",
                 "Default: http://127.0.0.1:8080.\n.br\nRange: 1 to 2.");
    check_caught(text, "a stale entry", ".SH SECONDARY", ".TP\n.B node.gone\nRemoved.\n.br\nDefault: none.\n.SH SECONDARY");
    check_caught(text, "a duplicate entry", ".SH SECONDARY", ".TP\n.B node.role\nAgain.\n.SH SECONDARY");
    free(text);
    return check_report("man/hub_yaml");
}
