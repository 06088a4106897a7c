/* Tests hub/dump.c: how a record's bytes are written (text, embedded JSON object, base64url) and read back to the same
 * bytes, each malformed line refused naming its field, a key_secrets record refused in any shape, the order a dump
 * keeps, and the bounded line reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hub/crypto.h"
#include "hub/dump.h"
#include "hub/err.h"
#include "tests/check.h"

/* Parses line (with its newline, as written) into *l; 0 or the error with err filled. */
static int parse_written(const char *line, size_t len, hub_dump_line_t *l, char *err, size_t size)
{
    CHECK(len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL);
    return hub_dump_parse(line, len - 1, l, err, size);
}

/* Writes a record of key/val, checks the field names used, reads it back: the same bytes, table and expiry. */
static void round_trip(hub_table_t t, const void *key, size_t klen, const void *val, size_t vlen, const char *key_field,
                       const char *val_field)
{
    char *line, err[200], field[32];
    size_t len;
    hub_dump_line_t l;
    json_t *obj;

    line = hub_dump_record(t, key, klen, val, vlen, 1234, &len);
    CHECK(line != NULL);
    if (line == NULL)
        return;
    obj = json_loadb(line, len, 0, NULL);
    CHECK(json_is_object(obj));
    snprintf(field, sizeof(field), "\"%s\":", key_field);
    CHECK(strstr(line, field) != NULL || !fprintf(stderr, "  in %s", line));
    snprintf(field, sizeof(field), "\"%s\":", val_field);
    CHECK(strstr(line, field) != NULL || !fprintf(stderr, "  in %s", line));
    json_decref(obj);
    CHECK(parse_written(line, len, &l, err, sizeof(err)) == 0);
    CHECK(l.kind == HUB_DUMP_RECORD && l.table == t && l.expires_at == 1234);
    CHECK(l.klen == klen && memcmp(l.key, key, klen) == 0 && l.key[klen] == '\0');
    CHECK(l.vlen == vlen && (vlen == 0 || memcmp(l.val, val, vlen) == 0) && l.val[vlen] == '\0');
    hub_dump_line_clear(&l);
    free(line);
}

static void test_encodings(void)
{
    static const char obj[] = "{\"sub\":\"x\",\"n\":3,\"roles\":[\"A\",\"B\"],\"ok\":true,\"z\":null}";
    static const char spaced[] = "{\"sub\": \"x\"}";
    static const char counter[8] = {0, 0, 0, 0, 0, 0, 0, 7};

    char *line;

    round_trip(HUB_T_USERS, "alice", 5, obj, sizeof(obj) - 1, "key", "value");
    line = hub_dump_record(HUB_T_USERS, "a", 1, obj, sizeof(obj) - 1, 0, &(size_t){0});
    CHECK(strstr(line, "\"value\":{\"sub\"") != NULL); /* embedded, readable */
    free(line);
    /* text that is not its compact JSON form stays text, so the bytes come back exactly */
    round_trip(HUB_T_SETTINGS, "s", 1, spaced, sizeof(spaced) - 1, "key", "value");
    round_trip(HUB_T_SETTINGS, "s", 1, "[1,2]", 5, "key", "value");
    round_trip(HUB_T_SETTINGS, "s", 1, "{\"a\":1,\"a\":2}", 13, "key", "value");
    round_trip(HUB_T_SETTINGS, "s", 1, "{\"r\":0.1}", 9, "key", "value");
    round_trip(HUB_T_SETTINGS, "s", 1, "{\"i\":99999999999999999999}", 26, "key", "value");
    round_trip(HUB_T_SETTINGS, "force", 5, "force", 5, "key", "value");
    round_trip(HUB_T_SETTINGS, "empty", 5, "", 0, "key", "value");
    /* keys with a newline, quotes, UTF-8 */
    round_trip(HUB_T_GRANTS, "sub\nclient", 10, "{}", 2, "key", "value");
    round_trip(HUB_T_ROLES, "R\xc3\xa9le \"x\"\\", 10, "{}", 2, "key", "value");
    /* bytes: NUL, not UTF-8, a counter */
    round_trip(HUB_T_META, "gen:keys", 8, counter, sizeof(counter), "key", "value_b64");
    round_trip(HUB_T_META, "a\0b", 3, "v", 1, "key_b64", "value");
    round_trip(HUB_T_META, "\xff\xfe", 2, "\xc3\x28", 2, "key_b64", "value_b64");
    round_trip(HUB_T_META, "\xed\xa0\x80", 3, "ok", 2, "key_b64", "value"); /* a UTF-16 surrogate is not UTF-8 */
    CHECK(hub_dump_record(HUB_T__COUNT, "k", 1, "v", 1, 0, &(size_t){0}) == NULL);
    CHECK(hub_dump_record(HUB_T_META, "k", 1, "v", 1, (uint64_t)INT64_MAX + 1, &(size_t){0}) == NULL);
}

static void test_random_bytes(void)
{
    unsigned char key[64], val[300];

    for (int i = 0; i != 300; ++i) {
        size_t klen = 1 + (size_t)i % sizeof(key), vlen = (size_t)i * 7 % sizeof(val);
        hub_random_bytes(key, klen);
        hub_random_bytes(val, vlen);
        if (i % 3 == 0)
            for (size_t j = 0; j != vlen; ++j)
                val[j] &= 0x7f; /* mostly text, sometimes with control characters or NUL */
        char *line = hub_dump_record(HUB_T_TOKENS, key, klen, val, vlen, (uint64_t)i, &(size_t){0});
        hub_dump_line_t l;
        char err[200];
        CHECK(line != NULL && hub_dump_parse(line, strlen(line) - 1, &l, err, sizeof(err)) == 0);
        CHECK(l.klen == klen && memcmp(l.key, key, klen) == 0 && l.vlen == vlen && memcmp(l.val, val, vlen) == 0);
        CHECK(l.expires_at == (uint64_t)i);
        hub_dump_line_clear(&l);
        free(line);
    }
}

static void test_other_lines(void)
{
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\nAB/+\n-----END PRIVATE KEY-----\n";
    hub_dump_line_t l;
    char err[200], *line;
    size_t len;

    line = hub_dump_header(HUB_STORE_SCHEMA_VERSION, 1700000000, 1, &len);
    CHECK(parse_written(line, len, &l, err, sizeof(err)) == 0);
    CHECK(l.kind == HUB_DUMP_HEADER && l.version == HUB_DUMP_VERSION && l.schema_version == HUB_STORE_SCHEMA_VERSION);
    CHECK(l.exported_at == 1700000000 && l.with_keys == 1);
    hub_dump_line_clear(&l);
    free(line);
    line = hub_dump_private_key("kid-1", pem, strlen(pem), &len);
    CHECK(line != NULL && parse_written(line, len, &l, err, sizeof(err)) == 0);
    CHECK(l.kind == HUB_DUMP_PRIVATE_KEY && strcmp(l.key, "kid-1") == 0 && strcmp(l.val, pem) == 0);
    hub_dump_line_clear(&l);
    free(line);
    line = hub_dump_end(42, &len);
    CHECK(parse_written(line, len, &l, err, sizeof(err)) == 0);
    CHECK(l.kind == HUB_DUMP_END && l.lines == 42);
    hub_dump_line_clear(&l);
    free(line);
    /* a private key is ASCII PEM text under a kid of at most 63 characters */
    CHECK(hub_dump_private_key("k", "pem\xc3\xa9", 5, &len) == NULL);
    CHECK(hub_dump_private_key("k", "pem\0x", 5, &len) == NULL);
    CHECK(hub_dump_private_key("", "pem", 3, &len) == NULL);
    CHECK(hub_dump_private_key("0123456789012345678901234567890123456789012345678901234567890123", "pem", 3, &len) == NULL);
    CHECK(hub_dump_table("users", 5) == HUB_T_USERS && hub_dump_table("user", 4) == -1 && hub_dump_table("users ", 6) == -1);
    CHECK(strcmp(hub_dump_table_name(HUB_T_USER_FAMILIES), "user_families") == 0 && hub_dump_table_name(HUB_T__COUNT) == NULL);
}

/* Each malformed line is refused with a message that starts with the field named (or says what is wrong). */
static void test_refusals(void)
{
    static const struct {
        const char *line, *says;
    } bad[] = {
        {"", "not JSON"},
        {"{\"table\":\"users\"", "not JSON"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":0} x", "not JSON"},
        {"[1]", "not a JSON object"},
        {"{}", "not a line of a store dump"},
        {"{\"tables\":\"users\"}", "not a line of a store dump"},
        {"{\"table\":\"nope\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":0}", "table:"},
        {"{\"table\":1,\"key\":\"a\",\"value\":\"b\",\"expires_at\":0}", "table:"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":0,\"x\":1}", "x: unknown field"},
        {"{\"table\":\"users\",\"table\":\"roles\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":0}", "not JSON"},
        {"{\"table\":\"users\",\"value\":\"b\",\"expires_at\":0}", "key: missing"},
        {"{\"table\":\"users\",\"key\":\"\",\"value\":\"b\",\"expires_at\":0}", "key: empty"},
        {"{\"table\":\"users\",\"key\":5,\"value\":\"b\",\"expires_at\":0}", "key: expected a string"},
        {"{\"table\":\"users\",\"key\":{},\"value\":\"b\",\"expires_at\":0}", "key: expected a string"},
        {"{\"table\":\"users\",\"key\":\"a\",\"key_b64\":\"YQ\",\"value\":\"b\",\"expires_at\":0}", "key: give key or key_b64"},
        {"{\"table\":\"users\",\"key_b64\":\"Y Q\",\"value\":\"b\",\"expires_at\":0}", "key_b64: not base64url"},
        {"{\"table\":\"users\",\"key_b64\":\"YQ==\",\"value\":\"b\",\"expires_at\":0}", "key_b64: not base64url"},
        {"{\"table\":\"users\",\"key_b64\":\"Y+8\",\"value\":\"b\",\"expires_at\":0}", "key_b64: not base64url"},
        {"{\"table\":\"users\",\"key_b64\":\"YR\",\"value\":\"b\",\"expires_at\":0}", "key_b64: not base64url"},
        {"{\"table\":\"users\",\"key_b64\":\"YWJjZ\",\"value\":\"b\",\"expires_at\":0}", "key_b64: not base64url"},
        {"{\"table\":\"users\",\"key_b64\":7,\"value\":\"b\",\"expires_at\":0}", "key_b64: expected a base64url string"},
        {"{\"table\":\"users\",\"key\":\"a\",\"expires_at\":0}", "value: missing"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":[1],\"expires_at\":0}", "value: expected an object or a string"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":3,\"expires_at\":0}", "value: expected an object or a string"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value_b64\":\"!!\",\"expires_at\":0}", "value_b64: not base64url"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":\"b\"}", "expires_at: expected an integer"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":-1}", "expires_at: expected an integer"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":1.5}", "expires_at: expected an integer"},
        {"{\"table\":\"users\",\"key\":\"a\",\"value\":\"b\",\"expires_at\":\"0\"}", "expires_at: expected an integer"},
        {"{\"table\":\"users\",\"key\":\"a\\u0000b\",\"value\":\"b\",\"expires_at\":0}", "not JSON"},
        {"{\"table\":\"meta\",\"key\":\"schema_version\",\"value_b64\":\"AAAAAAAAAAE\",\"expires_at\":0}", "key: meta"},
        {"{\"format\":\"other\",\"version\":1,\"schema_version\":1,\"exported_at\":0,\"with_keys\":false}", "format:"},
        {"{\"format\":\"hub-store\",\"version\":2,\"schema_version\":1,\"exported_at\":0,\"with_keys\":false}", "version: 2"},
        {"{\"format\":\"hub-store\",\"version\":0,\"schema_version\":1,\"exported_at\":0,\"with_keys\":false}", "version: 0"},
        {"{\"format\":\"hub-store\",\"version\":2}", "version: 2"},
        {"{\"format\":\"hub-store\",\"version\":1,\"schema_version\":2,\"exported_at\":0,\"with_keys\":false}",
         "schema_version: 2 is newer"},
        {"{\"format\":\"hub-store\",\"version\":1,\"schema_version\":0,\"exported_at\":0,\"with_keys\":false}", "schema_version:"},
        {"{\"format\":\"hub-store\",\"version\":1,\"schema_version\":1,\"with_keys\":false}", "exported_at:"},
        {"{\"format\":\"hub-store\",\"version\":1,\"schema_version\":1,\"exported_at\":0,\"with_keys\":1}", "with_keys:"},
        {"{\"format\":\"hub-store\",\"version\":1,\"schema_version\":1,\"exported_at\":0}", "with_keys:"},
        {"{\"private_key\":\"\",\"pem\":\"x\"}", "private_key:"},
        {"{\"private_key\":\"0123456789012345678901234567890123456789012345678901234567890123\",\"pem\":\"x\"}", "private_key:"},
        {"{\"private_key\":\"k\"}", "pem:"},
        {"{\"private_key\":\"k\",\"pem\":\"\"}", "pem:"},
        {"{\"end\":false,\"lines\":0}", "end:"},
        {"{\"end\":true}", "lines:"},
        {"{\"end\":true,\"lines\":0,\"table\":\"users\"}", "end: unknown field"},
    };
    hub_dump_line_t l;
    char err[200];

    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        memset(err, 0, sizeof(err));
        int ret = hub_dump_parse(bad[i].line, strlen(bad[i].line), &l, err, sizeof(err));
        CHECK(ret == HUB_E_PARSE);
        if (strncmp(err, bad[i].says, strlen(bad[i].says)) != 0) {
            fprintf(stderr, "line %zu: %s: says \"%s\", expected \"%s...\"\n", i, bad[i].line, err, bad[i].says);
            ++failures;
        }
        CHECK(l.key == NULL && l.val == NULL);
    }
    /* a cut line says where, not what was there (it may be part of a private key) */
    memset(err, 0, sizeof(err));
    static const char *cut[] = {"{\"private_key\":\"k\",\"pem\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvSECRET",
                                "{\"table\":\"users\",\"key\":\"a\",\"value\":\"SECRET\" x}", "{\"SECRET\" 1}", "SECRET"};
    for (size_t i = 0; i != sizeof(cut) / sizeof(cut[0]); ++i) {
        memset(err, 0, sizeof(err));
        CHECK(hub_dump_parse(cut[i], strlen(cut[i]), &l, err, sizeof(err)) == HUB_E_PARSE);
        CHECK(strncmp(err, "not JSON: ", 10) == 0 && strstr(err, "SECRET") == NULL && strstr(err, "BEGIN") == NULL);
    }
    /* a NUL inside the line's bytes */
    CHECK(hub_dump_parse("{\"end\":true,\0\"lines\":0}", 23, &l, err, sizeof(err)) == HUB_E_PARSE);
}

/* A record of key_secrets is refused whatever the rest of its line: sealed private keys never travel as records. */
static void test_never_carried(void)
{
    static const char *const bad[] = {
        "{\"table\":\"key_secrets\",\"key\":\"kid\",\"value\":{\"box\":\"AQID\"},\"expires_at\":0}",
        "{\"table\":\"key_secrets\",\"key_b64\":\"a2lk\",\"value_b64\":\"AQID\",\"expires_at\":0}",
        "{\"table\":\"key_secrets\",\"key\":\"kid\",\"value\":\"x\",\"expires_at\":4102444800}",
        "{\"table\":\"key_secrets\"}",
    };
    hub_dump_line_t l;
    char err[200];

    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        CHECK(hub_dump_parse(bad[i], strlen(bad[i]), &l, err, sizeof(err)) == HUB_E_PARSE);
        CHECK(strncmp(err, "table: key_secrets is never in a dump", 37) == 0 && l.key == NULL && l.val == NULL);
    }
    for (int t = 0; t != HUB_T__COUNT; ++t)
        CHECK(hub_dump_carries((hub_table_t)t) == (t != HUB_T_KEY_SECRETS));
}

/* Feeds lines (separated by '\n') to a reader; the error of the first refused line (or of the finish), "" when the
 * dump is good. */
static const char *read_dump(const char *text)
{
    static char err[300];
    hub_dump_reader_t r;
    hub_dump_line_t l;
    const char *p = text, *nl;

    hub_dump_reader_init(&r);
    err[0] = '\0';
    for (; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        if (hub_dump_next(&r, p, (size_t)(nl - p), &l, err, sizeof(err)) != 0)
            return err;
        hub_dump_line_clear(&l);
    }
    return hub_dump_finish(&r, err, sizeof(err)) != 0 ? err : "";
}

#define H(keys) "{\"format\":\"hub-store\",\"version\":1,\"schema_version\":1,\"exported_at\":5,\"with_keys\":" keys "}\n"
#define REC "{\"table\":\"users\",\"key\":\"a\",\"value\":{},\"expires_at\":0}\n"
#define KEYREC "{\"table\":\"keys\",\"key\":\"K1\",\"value\":{\"kid\":\"K1\"},\"expires_at\":0}\n"
#define PRIV(kid) "{\"private_key\":\"" kid "\",\"pem\":\"P\"}\n"
#define END(n) "{\"end\":true,\"lines\":" #n "}\n"

static void test_order(void)
{
    static const struct {
        const char *dump, *says;
    } cases[] = {
        {H("false") END(0), ""},
        {H("false") REC REC END(2), ""},
        {H("true") REC KEYREC PRIV("K1") REC END(4), ""},
        {H("true") KEYREC REC END(2), ""}, /* a key without a private key left (revoked) */
        {"", "line 1: the input is empty"},
        {REC, "line 1: the first line is not the header"},
        {END(0), "line 1: the first line is not the header"},
        {H("false") H("false") END(0), "line 2: format: a second header"},
        {H("false") REC, "line 3: the dump ends without its end line"},
        {H("false"), "line 2: the dump ends without its end line"},
        {H("false") REC END(2), "line 3: lines: the end line counts 2 lines, 1 came"},
        {H("false") REC END(0), "line 3: lines: the end line counts 0 lines, 1 came"},
        {H("false") END(0) REC, "line 3: a line after the end line"},
        {H("false") END(0) END(0), "line 3: a line after the end line"},
        {H("false") KEYREC END(1), "line 2: table: a dump made without keys"},
        {H("false") PRIV("K1") END(1), "line 2: private_key: a dump made without keys"},
        {H("true") PRIV("K1") END(1), "line 2: private_key: does not follow"},
        {H("true") KEYREC PRIV("K2") END(2), "line 3: private_key: does not follow"},
        {H("true") KEYREC REC PRIV("K1") END(3), "line 4: private_key: does not follow"},
        {H("true") KEYREC PRIV("K1") PRIV("K1") END(3), "line 4: private_key: does not follow"},
        {H("false") "{\"table\":\"users\",\"key\":\"a\"}\n" END(1), "line 2: value: missing"},
    };

    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *got = read_dump(cases[i].dump);
        if (strncmp(got, cases[i].says, strlen(cases[i].says)) != 0 || (cases[i].says[0] == '\0') != (got[0] == '\0')) {
            fprintf(stderr, "dump %zu: got \"%s\", expected \"%s...\"\n", i, got, cases[i].says);
            ++failures;
        }
    }
}

static void test_read_line(void)
{
    static const char text[] = "ab\n\nc\0d\nlast";
    char buf[8];
    size_t len;
    FILE *fp = fmemopen((void *)text, sizeof(text) - 1, "r");

    CHECK(hub_dump_read_line(fp, buf, 7, &len) == 1 && len == 2 && strcmp(buf, "ab") == 0);
    CHECK(hub_dump_read_line(fp, buf, 7, &len) == 1 && len == 0);
    CHECK(hub_dump_read_line(fp, buf, 7, &len) == 1 && len == 3 && memcmp(buf, "c\0d", 4) == 0);
    CHECK(hub_dump_read_line(fp, buf, 7, &len) == 1 && len == 4 && strcmp(buf, "last") == 0);
    CHECK(hub_dump_read_line(fp, buf, 7, &len) == 0);
    fclose(fp);
    /* exactly max fits; one byte more does not, and nothing after it is read */
    fp = fmemopen("1234567\n12345678\n", 17, "r");
    CHECK(hub_dump_read_line(fp, buf, 7, &len) == 1 && len == 7 && strcmp(buf, "1234567") == 0);
    CHECK(hub_dump_read_line(fp, buf, 7, &len) == HUB_E_TOOBIG && len == 7 && buf[7] == '\0');
    CHECK(getc(fp) == '\n'); /* reading stopped at the byte too many */
    fclose(fp);
}

int main(void)
{
    test_encodings();
    test_random_bytes();
    test_other_lines();
    test_refusals();
    test_never_carried();
    test_order();
    test_read_line();
    return check_report("hub/dump");
}
