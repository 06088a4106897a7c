/* libFuzzer target for the store's dump format (hub/dump.c), as hubctl store import reads it: the input's lines go
 * through a reader (order, header, end line) and each line alone through the parser. A line read is written again and
 * reads back the same (table, bytes of key and value, expiry; header, private key and end fields), and writing that
 * again gives the same text; a refusal says why in one line and leaves nothing to free. The input as raw bytes also
 * makes a record that reads back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hub/dump.h"

static char *rewrite(const hub_dump_line_t *l, size_t *len)
{
    switch (l->kind) {
    case HUB_DUMP_HEADER:
        return hub_dump_header(l->schema_version, l->exported_at, l->with_keys, len);
    case HUB_DUMP_RECORD:
        return hub_dump_record(l->table, l->key, l->klen, l->val, l->vlen, l->expires_at, len);
    case HUB_DUMP_PRIVATE_KEY:
        return hub_dump_private_key(l->key, l->val, l->vlen, len);
    case HUB_DUMP_END:
        return hub_dump_end(l->lines, len);
    }
    abort();
}

static int same(const hub_dump_line_t *a, const hub_dump_line_t *b)
{
    if (a->kind != b->kind || a->klen != b->klen || a->vlen != b->vlen)
        return 0;
    if ((a->klen != 0 && memcmp(a->key, b->key, a->klen) != 0) || (a->vlen != 0 && memcmp(a->val, b->val, a->vlen) != 0))
        return 0;
    if (a->kind == HUB_DUMP_RECORD)
        return a->table == b->table && a->expires_at == b->expires_at;
    if (a->kind == HUB_DUMP_HEADER)
        return a->schema_version == b->schema_version && a->exported_at == b->exported_at && a->with_keys == b->with_keys;
    return a->kind != HUB_DUMP_END || a->lines == b->lines;
}

/* A line that parsed: written again, it reads back the same, and writing that gives the same text. */
static void check_rewrite(const hub_dump_line_t *l)
{
    hub_dump_line_t back;
    char err[200], *text, *again;
    size_t len, len2;

    if ((text = rewrite(l, &len)) == NULL) {
        /* only a private key whose PEM is not ASCII is not written back */
        if (l->kind != HUB_DUMP_PRIVATE_KEY)
            abort();
        return;
    }
    if (len == 0 || text[len - 1] != '\n' || memchr(text, '\n', len - 1) != NULL)
        abort();
    if (hub_dump_parse(text, len - 1, &back, err, sizeof(err)) != 0 || !same(l, &back))
        abort();
    if ((again = rewrite(&back, &len2)) == NULL || len2 != len || memcmp(again, text, len) != 0)
        abort();
    hub_dump_line_clear(&back);
    free(again);
    free(text);
}

static void check_error(const char *err)
{
    size_t n = strlen(err);
    if (n == 0 || memchr(err, '\n', n) != NULL)
        abort();
}

/* The raw input as a record's key and value (split in the middle): written and read back, the same bytes. */
static void check_bytes(const uint8_t *data, size_t size)
{
    size_t klen = size / 2 != 0 ? size / 2 : size, len;
    hub_dump_line_t l;
    char err[200], *line;

    if (klen == 0 || (line = hub_dump_record(HUB_T_USERS, data, klen, data + klen, size - klen, size, &len)) == NULL)
        return;
    if (hub_dump_parse(line, len - 1, &l, err, sizeof(err)) != 0 || l.klen != klen || memcmp(l.key, data, klen) != 0 ||
        l.vlen != size - klen || memcmp(l.val, data + klen, size - klen) != 0 || l.expires_at != size)
        abort();
    hub_dump_line_clear(&l);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *nl;
    hub_dump_reader_t r;
    hub_dump_line_t l;
    char err[300];
    int stopped = 0;

    if (size > 65536)
        return 0;
    hub_dump_reader_init(&r);
    for (; p < end; p = nl + 1) {
        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            nl = end;
        if (hub_dump_parse(p, (size_t)(nl - p), &l, err, sizeof(err)) == 0) {
            check_rewrite(&l);
            hub_dump_line_clear(&l);
        } else {
            check_error(err);
            if (l.key != NULL || l.val != NULL)
                abort();
        }
        if (stopped)
            continue; /* import stops at the first refused line */
        if (hub_dump_next(&r, p, (size_t)(nl - p), &l, err, sizeof(err)) == 0) {
            hub_dump_line_clear(&l);
        } else {
            stopped = 1;
            check_error(err);
            if (strncmp(err, "line ", 5) != 0)
                abort();
        }
    }
    if (!stopped && hub_dump_finish(&r, err, sizeof(err)) != 0)
        check_error(err);
    check_bytes(data, size);
    return 0;
}
