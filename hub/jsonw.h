/* A JSON text writer into a caller's buffer, for the hot paths where building a jansson tree only to
 * serialise it costs more than the rest of the request (token claims and token responses). */
#ifndef HUB_JSONW_H
#define HUB_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define HUB_JW_DEPTH 16

/* Writes into buf[0..cap). Errors stick: after the first one every call is a no-op and
 * hub_jw_finish() reports it. Members of an object are written as hub_jw_key() then one value. */
typedef struct st_hub_jw_t {
    char *buf;
    size_t cap, len;
    int err;           /* 0, HUB_E_TOOBIG (out of room), HUB_E_INVAL (not UTF-8, misnested) */
    unsigned depth;    /* open objects and arrays */
    uint32_t nonempty; /* bit d: level d has a member already */
    int after_key;     /* a key was written, its value comes next */
} hub_jw_t;

void hub_jw_init(hub_jw_t *w, char *buf, size_t cap);
/* c is '{' or '[' (open) and '}' or ']' (close). */
void hub_jw_open(hub_jw_t *w, char c);
void hub_jw_close(hub_jw_t *w, char c);
void hub_jw_key(hub_jw_t *w, const char *key);
/* A string value, or null when s is NULL; HUB_E_INVAL unless s is valid UTF-8 (as jansson would refuse it). */
void hub_jw_str(hub_jw_t *w, const char *s);
void hub_jw_uint(hub_jw_t *w, uint64_t v);
/* Shorthands for a member of an object. */
void hub_jw_kstr(hub_jw_t *w, const char *key, const char *s);
void hub_jw_kuint(hub_jw_t *w, const char *key, uint64_t v);
/* 0 with the text's length in *len (NUL-terminated when room is left) once every level is
 * closed, or the first error. */
int hub_jw_finish(hub_jw_t *w, size_t *len);

#endif
