/* Just enough HTTP/1.1 for bench-flowload (tools/bench/flowload.c): answers parsed in place (status, Location,
 * Set-Cookie into a browser's cookie jar, Content-Length or chunked bodies), the form, JSON and query fields the flows
 * need, and form-urlencoding. Every buffer has a size; nothing here allocates. */
#ifndef BENCH_FLOWHTTP_H
#define BENCH_FLOWHTTP_H

#include <stddef.h>

#define FH_MAX_COOKIES 8
#define FH_COOKIE_NAME_CAP 64
#define FH_COOKIE_VALUE_CAP 192

typedef struct st_fh_cookie_t {
    char name[FH_COOKIE_NAME_CAP], value[FH_COOKIE_VALUE_CAP];
} fh_cookie_t;

/* A browser's cookies for one host (no paths, no expiry: the flows live for seconds). */
typedef struct st_fh_jar_t {
    fh_cookie_t v[FH_MAX_COOKIES];
    size_t n;
} fh_jar_t;

/* One answer: pointers into the buffer it was parsed from, valid until that buffer changes. */
typedef struct st_fh_resp_t {
    int status, close;
    const char *location; /* NULL when absent */
    size_t location_len;
    const char *body;
    size_t body_len;
} fh_resp_t;

/* Parses the answer at the front of buf (len bytes read so far; cap = the buffer's size, so a full buffer without a
 * whole answer is an error). 1 when complete: *r is filled, *used is the answer's length and its Set-Cookie fields are
 * applied to jar (a chunked body is decoded in place). 0 when more bytes are needed. -1 when malformed or too big, with
 * *why a short reason ("malformed", "too_big", "no_length", "bad_cookie"). */
int fh_parse_response(char *buf, size_t len, size_t cap, fh_jar_t *jar, fh_resp_t *r, size_t *used, const char **why);
/* Writes "Cookie: a=b; c=d\r\n" (nothing for an empty jar) and a NUL into out; returns the length, or 0 when it does
 * not fit (out[0] is then NUL). */
size_t fh_jar_header(const fh_jar_t *jar, char *out, size_t cap);

/* The value of the HTML attribute following `name="NAME" value="` in body, with the five entities the hub writes
 * decoded, into out (cap bytes with the NUL). -1 when absent or too long. */
int fh_form_field(const char *body, size_t len, const char *name, char *out, size_t cap);
/* A pointer to the value of "key" in a JSON text (after the colon and blanks), or NULL. */
const char *fh_json_value(const char *body, size_t len, const char *key);
/* A JSON string value without escapes (tokens are base64url or JWTs) into out; -1 when absent, escaped or too long. */
int fh_json_string(const char *body, size_t len, const char *key, char *out, size_t cap);
/* The value of query parameter name in url (after '?'), percent-decoded, into out; -1 when absent or too long. */
int fh_query_param(const char *url, size_t len, const char *name, char *out, size_t cap);
/* Form-urlencodes s into out (every byte but ALPHA / DIGIT / "-._~" as %XX); -1 when it does not fit. */
int fh_url_encode(char *out, size_t cap, const char *s);
/* Copies s[0..n) and a NUL into dst; -1 when it does not fit in cap bytes. */
int fh_copy_n(char *dst, size_t cap, const char *s, size_t n);

#endif
