/* Lists of strings as records hold them (scopes, redirect URIs, roles): split from a SPEC §2 LIST, joined, searched,
 * and read from or written to a record's JSON. */
#ifndef IDP_STRV_H
#define IDP_STRV_H

#include <stddef.h>
#include <jansson.h>

/* A NULL-terminated array of malloc'ed strings with its count. */
typedef struct st_idp_strv_t {
    char **v;
    size_t n;
} idp_strv_t;

/* Frees the strings and the array; *sv is empty (v NULL) afterwards. NULL is ignored. */
void idp_strv_free(idp_strv_t *sv);
/* 1 when s is one of the strings (exact comparison), else 0 (also for NULL). */
int idp_strv_has(const idp_strv_t *sv, const char *s);
/* Splits a SPEC §2 LIST into *out (which it overwrites): on ';' always, and on white space too when ws is set (scopes
 * and redirect URIs); items are trimmed, empty items dropped, duplicates removed. list NULL = empty. */
void idp_strv_split(idp_strv_t *out, const char *list, int ws);
/* Appends a copy of s unless it is there already (sv from idp_strv_split or idp_strv_from_json). */
void idp_strv_add(idp_strv_t *sv, const char *s);
/* Removes every copy of s. */
void idp_strv_remove(idp_strv_t *sv, const char *s);
/* Joins with sep into a malloc'ed string (the caller frees it). */
char *idp_strv_join(const idp_strv_t *sv, const char *sep);
/* A new JSON array of the strings. */
json_t *idp_strv_to_json(const idp_strv_t *sv);
/* Fills *sv (overwritten) with the string items of arr; anything else (not an array, other items) is skipped. */
void idp_strv_from_json(idp_strv_t *sv, const json_t *arr);

#endif
