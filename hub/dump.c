/* The store's dump format: lines written from records and read back into the same bytes, and the order a dump keeps. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <jansson.h>
#include "hub/crypto.h"
#include "hub/dump.h"
#include "hub/err.h"
#include "hub/util.h"

#define JSON_INT_MAX ((uint64_t)INT64_MAX)

static const char *const table_names[HUB_T__COUNT] = {
#define XX(name, str) str,
    HUB_TABLES(XX)
#undef XX
};

int hub_dump_table(const char *name, size_t len)
{
    for (int t = 0; t != HUB_T__COUNT; ++t)
        if (strlen(table_names[t]) == len && memcmp(table_names[t], name, len) == 0)
            return t;
    return -1;
}

const char *hub_dump_table_name(hub_table_t t)
{
    return (unsigned)t < HUB_T__COUNT ? table_names[t] : NULL;
}

int hub_dump_carries(hub_table_t t)
{
    return t != HUB_T_KEY_SECRETS;
}

/* ---- writing ---- */

/* obj as one compact line with its newline; obj's reference is dropped. */
static char *line_of(json_t *obj, size_t *len)
{
    char *text = json_dumps(obj, JSON_COMPACT), *out;
    size_t n;

    json_decref(obj);
    if (text == NULL)
        hub_oom();
    n = strlen(text);
    out = hub_xmalloc(n + 2);
    memcpy(out, text, n);
    out[n] = '\n';
    out[n + 1] = '\0';
    OPENSSL_cleanse(text, n);
    free(text);
    *len = n + 1;
    return out;
}

/* A JSON string of the bytes when they are UTF-8 without NUL (so that they read back the same), else NULL. */
static json_t *text_of(const void *p, size_t n)
{
    return memchr(p, '\0', n) == NULL ? json_stringn(p, n) : NULL;
}

/* The value as a JSON object when its bytes are that object's compact text, else NULL. */
static json_t *object_of(const void *p, size_t n)
{
    json_t *obj;
    char *again;
    int same;

    if (n == 0 || *(const char *)p != '{' || (obj = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return NULL;
    if (!json_is_object(obj) || (again = json_dumps(obj, JSON_COMPACT)) == NULL) {
        json_decref(obj);
        return NULL;
    }
    same = strlen(again) == n && memcmp(again, p, n) == 0;
    free(again);
    if (!same) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static json_t *b64_of(const void *p, size_t n)
{
    char *text = hub_xmalloc(HUB_B64URL_LEN(n) + 1);
    json_t *s;
    size_t len = hub_b64url_encode(text, p, n);

    s = json_stringn(text, len);
    free(text);
    return s;
}

/* Sets obj[name] to the bytes as text, or obj[name "_b64"] (allow_object: as a JSON object first). */
static void set_bytes(json_t *obj, const char *name, const void *p, size_t n, int allow_object)
{
    char b64name[32];
    json_t *v = allow_object ? object_of(p, n) : NULL;

    if (v == NULL)
        v = text_of(p, n);
    if (v != NULL) {
        json_object_set_new(obj, name, v);
        return;
    }
    snprintf(b64name, sizeof(b64name), "%s_b64", name);
    json_object_set_new(obj, b64name, b64_of(p, n));
}

char *hub_dump_header(uint64_t schema_version, uint64_t exported_at, int with_keys, size_t *len)
{
    return line_of(json_pack("{s:s,s:I,s:I,s:I,s:b}", "format", HUB_DUMP_FORMAT, "version", (json_int_t)HUB_DUMP_VERSION,
                             "schema_version", (json_int_t)schema_version, "exported_at", (json_int_t)exported_at, "with_keys",
                             with_keys),
                   len);
}

char *hub_dump_record(hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, uint64_t expires_at, size_t *len)
{
    json_t *obj;

    if ((unsigned)t >= HUB_T__COUNT || expires_at > JSON_INT_MAX)
        return NULL;
    obj = json_object();
    json_object_set_new(obj, "table", json_string(table_names[t]));
    set_bytes(obj, "key", key, klen, 0);
    set_bytes(obj, "value", val, vlen, 1);
    json_object_set_new(obj, "expires_at", json_integer((json_int_t)expires_at));
    return line_of(obj, len);
}

char *hub_dump_private_key(const char *kid, const char *pem, size_t pemlen, size_t *len)
{
    size_t kidlen = strlen(kid);

    if (kidlen == 0 || kidlen > HUB_DUMP_KID_MAX)
        return NULL;
    for (size_t i = 0; i != pemlen; ++i)
        if ((unsigned char)pem[i] >= 0x80 || pem[i] == '\0')
            return NULL;
    return line_of(json_pack("{s:s,s:s%}", "private_key", kid, "pem", pem, pemlen), len);
}

char *hub_dump_end(uint64_t lines, size_t *len)
{
    return line_of(json_pack("{s:b,s:I}", "end", 1, "lines", (json_int_t)lines), len);
}

/* ---- reading one line ---- */

int hub_dump_read_line(FILE *fp, char *buf, size_t max, size_t *len)
{
    size_t n = 0;
    int c;

    while ((c = getc_unlocked(fp)) != EOF && c != '\n') {
        if (n == max) {
            buf[n] = '\0';
            *len = n;
            return HUB_E_TOOBIG;
        }
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    *len = n;
    if (ferror(fp))
        return HUB_E_IO;
    return c == EOF && n == 0 ? 0 : 1;
}

/* At most 60 bytes of s for a message: printable ASCII, anything else as '?', so that the message stays one line. */
static const char *printable(char out[61], const char *s)
{
    size_t i;
    for (i = 0; i != 60 && s[i] != '\0'; ++i)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[i] = '\0';
    return out;
}

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return HUB_E_PARSE;
}

/* The fields each kind of line has, told apart by the first of them; the rest of a line's fields must be among them. */
static const struct {
    hub_dump_kind_t kind;
    const char *fields[6];
} shapes[] = {
    {HUB_DUMP_HEADER, {"format", "version", "schema_version", "exported_at", "with_keys"}},
    {HUB_DUMP_RECORD, {"table", "key", "key_b64", "value", "value_b64", "expires_at"}},
    {HUB_DUMP_PRIVATE_KEY, {"private_key", "pem"}},
    {HUB_DUMP_END, {"end", "lines"}},
};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* 1 when name is one of the fields of shapes[shape]. */
static int shape_has(size_t shape, const char *name)
{
    for (size_t i = 0; i != sizeof(shapes[0].fields) / sizeof(shapes[0].fields[0]) && shapes[shape].fields[i] != NULL; ++i)
        if (strcmp(shapes[shape].fields[i], name) == 0)
            return 1;
    return 0;
}

/* Which kind obj is (its shape index), every field it has being one of that kind's. */
static int shape_of(json_t *obj, size_t *shape, char *err, size_t size)
{
    const char *name;
    char shown[61];
    json_t *v;

    for (*shape = 0; *shape != NSHAPES && json_object_get(obj, shapes[*shape].fields[0]) == NULL; ++*shape)
        ;
    if (*shape == NSHAPES)
        return fail(err, size, "not a line of a store dump (no format, table, private_key or end field)");
    json_object_foreach(obj, name, v)
    {
        if (!shape_has(*shape, name))
            return fail(err, size, "%s: unknown field", printable(shown, name));
    }
    return 0;
}

/* obj[name] as an integer >= 0. */
static int get_uint(json_t *obj, const char *name, uint64_t *out, char *err, size_t size)
{
    json_t *v = json_object_get(obj, name);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(err, size, "%s: expected an integer >= 0", name);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A malloc'ed, NUL-terminated copy of n bytes. */
static char *copy_bytes(const void *p, size_t n)
{
    char *out = hub_xmalloc(n + 1);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* The bytes of obj[name] (a string: its UTF-8 bytes; allow_object: an object, its compact text) or of obj[name "_b64"]
 * (base64url); exactly one of the two. */
static int get_bytes(json_t *obj, const char *name, int allow_object, char **out, size_t *len, char *err, size_t size)
{
    char b64name[32];
    json_t *v, *b;
    const char *text;
    char *dump;
    size_t n;
    int m;

    snprintf(b64name, sizeof(b64name), "%s_b64", name);
    v = json_object_get(obj, name);
    b = json_object_get(obj, b64name);
    if (v != NULL && b != NULL)
        return fail(err, size, "%s: give %s or %s, not both", name, name, b64name);
    if (v == NULL && b == NULL)
        return fail(err, size, "%s: missing", name);
    if (json_is_string(v)) {
        *len = json_string_length(v);
        *out = copy_bytes(json_string_value(v), *len);
    } else if (allow_object && json_is_object(v)) {
        if ((dump = json_dumps(v, JSON_COMPACT)) == NULL)
            hub_oom();
        *len = strlen(dump);
        *out = copy_bytes(dump, *len);
        free(dump);
    } else if (v != NULL) {
        return fail(err, size, "%s: expected %s", name, allow_object ? "an object or a string" : "a string");
    } else {
        if (!json_is_string(b))
            return fail(err, size, "%s: expected a base64url string", b64name);
        text = json_string_value(b);
        n = json_string_length(b);
        *out = hub_xmalloc(n / 4 * 3 + 3);
        if ((m = hub_b64url_decode(*out, text, n)) < 0) {
            free(*out);
            *out = NULL;
            return fail(err, size, "%s: not base64url", b64name);
        }
        *len = (size_t)m;
        (*out)[*len] = '\0';
    }
    return 0;
}

static int parse_header(json_t *obj, hub_dump_line_t *out, char *err, size_t size)
{
    const char *format = json_string_value(json_object_get(obj, "format"));
    json_t *keys = json_object_get(obj, "with_keys");
    int ret;

    if (format == NULL || strcmp(format, HUB_DUMP_FORMAT) != 0)
        return fail(err, size, "format: not \"%s\"", HUB_DUMP_FORMAT);
    /* the version first: a newer layout may lack the other fields */
    if ((ret = get_uint(obj, "version", &out->version, err, size)) != 0)
        return ret;
    if (out->version == 0 || out->version > HUB_DUMP_VERSION)
        return fail(err, size, "version: %llu is not a version this build reads (1 to %d)", (unsigned long long)out->version,
                    HUB_DUMP_VERSION);
    if ((ret = get_uint(obj, "schema_version", &out->schema_version, err, size)) != 0)
        return ret;
    if (out->schema_version == 0)
        return fail(err, size, "schema_version: expected a version >= 1");
    if (out->schema_version > HUB_STORE_SCHEMA_VERSION)
        return fail(err, size, "schema_version: %llu is newer than this build's %d (import it with a newer hub)",
                    (unsigned long long)out->schema_version, HUB_STORE_SCHEMA_VERSION);
    if ((ret = get_uint(obj, "exported_at", &out->exported_at, err, size)) != 0)
        return ret;
    if (!json_is_boolean(keys))
        return fail(err, size, "with_keys: expected true or false");
    out->with_keys = json_is_true(keys);
    return 0;
}

static int parse_record(json_t *obj, hub_dump_line_t *out, char *err, size_t size)
{
    json_t *table = json_object_get(obj, "table");
    int t, ret;

    if (!json_is_string(table) || (t = hub_dump_table(json_string_value(table), json_string_length(table))) < 0)
        return fail(err, size, "table: not a table of the store");
    if (!hub_dump_carries((hub_table_t)t))
        return fail(err, size, "table: %s is never in a dump (private keys come as private_key lines of PEM)",
                    json_string_value(table));
    out->table = (hub_table_t)t;
    if ((ret = get_bytes(obj, "key", 0, &out->key, &out->klen, err, size)) != 0)
        return ret;
    if (out->klen == 0)
        return fail(err, size, "key: empty");
    if (t == HUB_T_META && strcmp(out->key, HUB_DUMP_SCHEMA_KEY) == 0 && out->klen == strlen(HUB_DUMP_SCHEMA_KEY))
        return fail(err, size, "key: meta %s is the store's own (the header carries it)", HUB_DUMP_SCHEMA_KEY);
    if ((ret = get_bytes(obj, "value", 1, &out->val, &out->vlen, err, size)) != 0)
        return ret;
    return get_uint(obj, "expires_at", &out->expires_at, err, size);
}

static int parse_private_key(json_t *obj, hub_dump_line_t *out, char *err, size_t size)
{
    json_t *kid = json_object_get(obj, "private_key"), *pem = json_object_get(obj, "pem");

    if (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > HUB_DUMP_KID_MAX)
        return fail(err, size, "private_key: expected a kid (1 to %d characters)", HUB_DUMP_KID_MAX);
    if (!json_is_string(pem) || json_string_length(pem) == 0)
        return fail(err, size, "pem: expected the private key as PEM text");
    out->klen = json_string_length(kid);
    out->key = copy_bytes(json_string_value(kid), out->klen);
    out->vlen = json_string_length(pem);
    out->val = copy_bytes(json_string_value(pem), out->vlen);
    return 0;
}

static int parse_end(json_t *obj, hub_dump_line_t *out, char *err, size_t size)
{
    if (!json_is_true(json_object_get(obj, "end")))
        return fail(err, size, "end: expected true");
    return get_uint(obj, "lines", &out->lines, err, size);
}

int hub_dump_parse(const char *text, size_t len, hub_dump_line_t *out, char *err, size_t errsize)
{
    static int (*const parsers[])(json_t *, hub_dump_line_t *, char *, size_t) = {
        [HUB_DUMP_HEADER] = parse_header,
        [HUB_DUMP_RECORD] = parse_record,
        [HUB_DUMP_PRIVATE_KEY] = parse_private_key,
        [HUB_DUMP_END] = parse_end,
    };
    json_error_t jerr;
    char shown[61];
    json_t *obj;
    size_t shape;
    int ret;

    memset(out, 0, sizeof(*out));
    if ((obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        char *near = strstr(jerr.text, " near ");
        if (near != NULL)
            *near = '\0'; /* jansson quotes the input there, which may be part of a secret */
        return fail(err, errsize, "not JSON: %s (at byte %d)", printable(shown, jerr.text), jerr.position);
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return fail(err, errsize, "not a JSON object");
    }
    if ((ret = shape_of(obj, &shape, err, errsize)) == 0) {
        out->kind = shapes[shape].kind;
        ret = parsers[out->kind](obj, out, err, errsize);
    }
    json_decref(obj);
    if (ret != 0)
        hub_dump_line_clear(out);
    return ret;
}

void hub_dump_line_clear(hub_dump_line_t *l)
{
    free(l->key);
    if (l->val != NULL)
        OPENSSL_cleanse(l->val, l->vlen);
    free(l->val);
    memset(l, 0, sizeof(*l));
}

/* ---- reading a dump ---- */

void hub_dump_reader_init(hub_dump_reader_t *r)
{
    memset(r, 0, sizeof(*r));
}

/* Where line l may stand after what r has read; the kid r remembers for the next line. */
static int check_order(hub_dump_reader_t *r, const hub_dump_line_t *l, char *err, size_t size)
{
    char kid[sizeof(r->kid)];

    memcpy(kid, r->kid, sizeof(kid));
    r->kid[0] = '\0'; /* a private key line follows its key's record immediately */
    if (r->end_seen)
        return fail(err, size, "a line after the end line");
    if (!r->header_seen && l->kind != HUB_DUMP_HEADER)
        return fail(err, size, "the first line is not the header of a store dump (format, version, ...)");
    switch (l->kind) {
    case HUB_DUMP_HEADER:
        if (r->header_seen)
            return fail(err, size, "format: a second header");
        r->header_seen = 1;
        r->with_keys = l->with_keys;
        return 0;
    case HUB_DUMP_RECORD:
        if (l->table == HUB_T_KEYS && !r->with_keys)
            return fail(err, size, "table: a dump made without keys (with_keys false) holds no keys record");
        if (l->table == HUB_T_KEYS && l->klen <= HUB_DUMP_KID_MAX && memchr(l->key, '\0', l->klen) == NULL)
            memcpy(r->kid, l->key, l->klen + 1);
        break;
    case HUB_DUMP_PRIVATE_KEY:
        if (!r->with_keys)
            return fail(err, size, "private_key: a dump made without keys (with_keys false) holds no private key");
        if (kid[0] == '\0' || strcmp(kid, l->key) != 0)
            return fail(err, size, "private_key: does not follow the keys record of its kid");
        break;
    case HUB_DUMP_END:
        if (l->lines != r->between)
            return fail(err, size, "lines: the end line counts %llu lines, %llu came before it", (unsigned long long)l->lines,
                        (unsigned long long)r->between);
        r->end_seen = 1;
        return 0;
    }
    ++r->between;
    return 0;
}

int hub_dump_next(hub_dump_reader_t *r, const char *text, size_t len, hub_dump_line_t *out, char *err, size_t errsize)
{
    char why[200];
    int ret;

    ++r->line;
    if ((ret = hub_dump_parse(text, len, out, why, sizeof(why))) == 0 && (ret = check_order(r, out, why, sizeof(why))) != 0)
        hub_dump_line_clear(out);
    if (ret != 0)
        snprintf(err, errsize, "line %llu: %s", (unsigned long long)r->line, why);
    return ret;
}

int hub_dump_finish(const hub_dump_reader_t *r, char *err, size_t errsize)
{
    if (!r->header_seen)
        return fail(err, errsize, "line 1: the input is empty (no header of a store dump)");
    if (!r->end_seen)
        return fail(err, errsize, "line %llu: the dump ends without its end line (truncated?)", (unsigned long long)r->line + 1);
    return 0;
}
