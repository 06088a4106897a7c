/* Tests hub/jsonw.c: output that jansson parses back to the same values, escaping, UTF-8 checks, room and nesting errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hub/err.h"
#include "hub/jsonw.h"
#include "tests/check.h"

/* Writes {"s": s} and returns what jansson reads back as the string (static), or NULL when the writer failed. */
static const char *roundtrip(const char *s, int *err)
{
    static char back[256];
    char buf[256];
    hub_jw_t w;
    size_t len;
    json_t *o;

    hub_jw_init(&w, buf, sizeof(buf));
    hub_jw_open(&w, '{');
    hub_jw_kstr(&w, "s", s);
    hub_jw_close(&w, '}');
    if ((*err = hub_jw_finish(&w, &len)) != 0)
        return NULL;
    if (len != strlen(buf) || (o = json_loadb(buf, len, 0, NULL)) == NULL) {
        fprintf(stderr, "not JSON: %s\n", buf);
        ++failures;
        return NULL;
    }
    snprintf(back, sizeof(back), "%s", json_string_value(json_object_get(o, "s")));
    json_decref(o);
    return back;
}

static void test_strings(void)
{
    static const char *ok[] = {"",
                               "plain",
                               "quote \" and backslash \\",
                               "ctl \x01\x1f\t\n\r",
                               "\xc3\xa9t\xc3\xa9",
                               "\xe2\x82\xac",
                               "\xf0\x9f\x98\x80",
                               "\xef\xbf\xbf",
                               "\xf4\x8f\xbf\xbf",
                               "/slash/"};
    static const char *bad[] = {
        "\x80", "\xc0\xaf",  "\xc3", "\xc3(", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\xff", "ok\xe2\x82"};
    int err;
    size_t i;

    for (i = 0; i != sizeof(ok) / sizeof(ok[0]); ++i) {
        const char *back = roundtrip(ok[i], &err);
        CHECK(err == 0);
        CHECK(back != NULL && strcmp(back, ok[i]) == 0);
    }
    for (i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        CHECK(roundtrip(bad[i], &err) == NULL);
        CHECK(err == HUB_E_INVAL);
        /* jansson refuses the same strings */
        CHECK(json_string(bad[i]) == NULL);
    }
}

static void test_document(void)
{
    char buf[512];
    hub_jw_t w;
    size_t len;

    hub_jw_init(&w, buf, sizeof(buf));
    hub_jw_open(&w, '{');
    hub_jw_kuint(&w, "zero", 0);
    hub_jw_kuint(&w, "max", UINT64_MAX);
    hub_jw_key(&w, "empty");
    hub_jw_open(&w, '[');
    hub_jw_close(&w, ']');
    hub_jw_key(&w, "list");
    hub_jw_open(&w, '[');
    hub_jw_str(&w, "a");
    hub_jw_open(&w, '{');
    hub_jw_close(&w, '}');
    hub_jw_uint(&w, 7);
    hub_jw_close(&w, ']');
    hub_jw_kstr(&w, "last", "x");
    hub_jw_kstr(&w, "none", NULL); /* a NULL string is null, in an object */
    hub_jw_key(&w, "nulls");
    hub_jw_open(&w, '[');
    hub_jw_str(&w, NULL); /* and in an array, separated like any value */
    hub_jw_str(&w, NULL);
    hub_jw_close(&w, ']');
    hub_jw_close(&w, '}');
    CHECK(hub_jw_finish(&w, &len) == 0);
    CHECK(strcmp(buf, "{\"zero\":0,\"max\":18446744073709551615,\"empty\":[],\"list\":[\"a\",{},7],\"last\":\"x\","
                      "\"none\":null,\"nulls\":[null,null]}") == 0);
    CHECK(len == strlen(buf));
}

static void test_errors(void)
{
    char buf[16];
    hub_jw_t w;
    size_t len = 99;
    int d;

    /* out of room, at every size: never a byte past cap, always TOOBIG */
    for (size_t cap = 0; cap != 12; ++cap) {
        memset(buf, '#', sizeof(buf));
        hub_jw_init(&w, buf, cap);
        hub_jw_open(&w, '{');
        hub_jw_kstr(&w, "key", "value");
        hub_jw_close(&w, '}');
        CHECK(hub_jw_finish(&w, &len) == HUB_E_TOOBIG);
        CHECK(buf[cap] == '#');
    }
    /* exactly enough room: no NUL is needed */
    hub_jw_init(&w, buf, 2);
    hub_jw_open(&w, '{');
    hub_jw_close(&w, '}');
    CHECK(hub_jw_finish(&w, &len) == 0 && len == 2);
    /* misnesting */
    hub_jw_init(&w, buf, sizeof(buf));
    hub_jw_open(&w, '{');
    CHECK(hub_jw_finish(&w, &len) == HUB_E_INVAL); /* left open */
    hub_jw_init(&w, buf, sizeof(buf));
    hub_jw_close(&w, '}');
    CHECK(hub_jw_finish(&w, &len) == HUB_E_INVAL);
    hub_jw_init(&w, buf, sizeof(buf));
    hub_jw_open(&w, '{');
    hub_jw_key(&w, "k");
    hub_jw_close(&w, '}'); /* a key without its value */
    CHECK(hub_jw_finish(&w, &len) == HUB_E_INVAL);
    hub_jw_init(&w, buf, sizeof(buf));
    hub_jw_key(&w, "k"); /* a key outside an object */
    CHECK(hub_jw_finish(&w, &len) == HUB_E_INVAL);
    hub_jw_init(&w, buf, sizeof(buf));
    CHECK(hub_jw_finish(&w, &len) == HUB_E_INVAL); /* nothing written */
    char deep[64];
    hub_jw_init(&w, deep, sizeof(deep));
    for (d = 0; d != HUB_JW_DEPTH + 1; ++d)
        hub_jw_open(&w, '[');
    CHECK(hub_jw_finish(&w, &len) == HUB_E_INVAL);
}

int main(void)
{
    test_strings();
    test_document();
    test_errors();
    return check_report("hub/jsonw");
}
