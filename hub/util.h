/* Small helpers every module needs: copies that treat out of memory as fatal, and typed
 * reads of JSON record fields. */
#ifndef HUB_UTIL_H
#define HUB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* One policy for what the hub cannot answer: out of memory, or a crypto library failing at what cannot fail (no
 * algorithm, no randomness) ends the process through libh2o's h2o__fatal (a "fatal:" line on stderr, then abort), as libh2o's own allocator does. Anything a
 * request or an input can cause is an error return instead. */
void hub_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* hub_fatal("out of memory"). */
void hub_oom(void) __attribute__((noreturn));

/* malloc, calloc, realloc, strndup whose failure is fatal (hub_oom); calloc of 0 items returns a valid pointer. */
void *hub_xmalloc(size_t size);
void *hub_xcalloc(size_t n, size_t size);
void *hub_xrealloc(void *p, size_t size);
char *hub_xstrndup(const char *s, size_t n);
/* A malloc'ed copy of s, or NULL when s is NULL; out of memory is fatal. */
char *hub_strdup(const char *s);
/* A malloc'ed copy of obj[name] when it is a string, else NULL. */
char *hub_json_strdup(const json_t *obj, const char *name);
/* obj[name] when it is a positive integer, else 0. */
uint64_t hub_json_uint(const json_t *obj, const char *name);

/* The value of one hexadecimal digit (either case), or -1. */
static inline int hub_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* next when it is a same-origin relative path (one leading '/', not "//" or "/\\", printable
 * ASCII without backslashes or spaces, at most 4 KiB), else "/": the only targets a sign-in,
 * sign-out or login callback redirects to. */
const char *hub_safe_next(const char *next);

#endif
