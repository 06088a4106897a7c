/* The store's dump format (hubctl store export / import, docs/OPERATIONS.md "Export and import"): one JSON object a
 * line, a header first, then one line per live record (and, in a dump made with keys, the private key of each signing
 * key right after its record, as PEM), then an end line counting the lines between; written and read here, store-free. */
#ifndef HUB_DUMP_H
#define HUB_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "hub/store.h"

#define HUB_DUMP_FORMAT "hub-store"         /* the header's "format" */
#define HUB_DUMP_VERSION 1                  /* the header's "version": this file's layout of a line */
#define HUB_DUMP_LINE_MAX ((size_t)1 << 20) /* the longest line read, its newline excluded */
#define HUB_DUMP_KID_MAX 63                 /* the longest kid a private key line may name */
/* The META key under which the store keeps its schema version: never in a dump (the header says it). */
#define HUB_DUMP_SCHEMA_KEY "schema_version"

typedef enum { HUB_DUMP_HEADER, HUB_DUMP_RECORD, HUB_DUMP_PRIVATE_KEY, HUB_DUMP_END } hub_dump_kind_t;

/* One line read back. key and val are malloc'ed, NUL-terminated (the NUL is not counted in klen/vlen); for a private
 * key line key is the kid and val the PEM. hub_dump_line_clear frees them, cleansing val first. */
typedef struct st_hub_dump_line_t {
    hub_dump_kind_t kind;
    uint64_t version, schema_version, exported_at; /* header */
    int with_keys;                                 /* header */
    hub_table_t table;                             /* record */
    char *key;
    size_t klen;
    char *val;
    size_t vlen;
    uint64_t expires_at; /* record: 0 = never */
    uint64_t lines;      /* end: the lines between the header and the end line */
} hub_dump_line_t;

/* The table called name ("users"), or -1; the name of t (NULL out of range). */
int hub_dump_table(const char *name, size_t len);
const char *hub_dump_table_name(hub_table_t t);
/* 0 for a table no dump carries, whatever its options: key_secrets (private keys sealed with a cluster secret travel
 * as private key lines of PEM, so a dump moves between a sealed store and one of files); 1 for every other table. */
int hub_dump_carries(hub_table_t t);

/* ---- writing: each returns a new line ending in "\n" (malloc'ed, *len its length; the caller frees it) ---- */

char *hub_dump_header(uint64_t schema_version, uint64_t exported_at, int with_keys, size_t *len);
/* A record, its bytes kept exactly: the key as a JSON string when it is UTF-8 without NUL, else key_b64 (base64url);
 * the value embedded as a JSON object when it is one in its compact form (what hub_store_put_json writes, so that
 * reading it back gives the same bytes), else as a string under the same rule, else value_b64. NULL when expires_at
 * is beyond a JSON integer. */
char *hub_dump_record(hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at, size_t *len);
/* The private key (PEM) of signing key kid; the caller cleanses the line before freeing it. NULL when the PEM is not
 * ASCII text or kid is empty or longer than HUB_DUMP_KID_MAX. */
char *hub_dump_private_key(const char *kid, const char *pem, size_t pemlen, size_t *len);
char *hub_dump_end(uint64_t lines, size_t *len);

/* ---- reading ---- */

/* Reads one line of at most max bytes from fp into buf (which holds max + 1: the line is NUL-terminated), *len its
 * length without the newline. Returns 1 for a line (a last line without a newline counts), 0 at the end of the input,
 * HUB_E_TOOBIG when the line is longer than max (reading stops at the byte too many), HUB_E_IO on a read error. */
int hub_dump_read_line(FILE *fp, char *buf, size_t max, size_t *len);

/* Parses one line on its own (without its newline): 0 and *out (hub_dump_line_clear it), or HUB_E_PARSE with err
 * (one line, naming the field at fault: "key_b64: not base64url") and nothing to clear. Checks each field's shape;
 * the order of lines is the reader's. */
int hub_dump_parse(const char *text, size_t len, hub_dump_line_t *out, char *err, size_t errsize);
void hub_dump_line_clear(hub_dump_line_t *l);

/* A dump read line by line: the header first (a newer format version or schema version is refused), no key record or
 * private key in a dump made without keys, a private key right after its key's record, no schema version record,
 * the end line last with the count of the lines between. */
typedef struct st_hub_dump_reader_t {
    uint64_t line; /* lines read so far */
    int header_seen, end_seen, with_keys;
    uint64_t between;               /* lines after the header, before the end line */
    char kid[HUB_DUMP_KID_MAX + 1]; /* the key of the line before when it was a keys record, else "" */
} hub_dump_reader_t;

void hub_dump_reader_init(hub_dump_reader_t *r);
/* The next line: 0 and *out (hub_dump_line_clear it), or HUB_E_PARSE with err "line N: ..." and nothing to clear. */
int hub_dump_next(hub_dump_reader_t *r, const char *text, size_t len, hub_dump_line_t *out, char *err, size_t errsize);
/* At the end of the input: 0 when the end line came, else HUB_E_PARSE with err (no header, or truncated). */
int hub_dump_finish(const hub_dump_reader_t *r, char *err, size_t errsize);

#endif
