/* Tests idp/invalid.c: the field table (hubctl option, RFC 7591 name) and the one-line quotation of values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "hub/err.h"
#include "idp/invalid.h"
#include "tests/check.h"

static void expect_quote(const char *in, size_t size, const char *want)
{
    char out[512];
    json_t *probe;

    memset(out, 'X', sizeof(out));
    idp_quote(out, size, in);
    if (strcmp(out, want) != 0) {
        ++failures;
        fprintf(stderr, "  quote(%zu) of %s: \"%s\", expected \"%s\"\n", size, in, out, want);
    }
    CHECK(strlen(out) < size && out[size] == 'X'); /* nothing written past size */
    CHECK((probe = json_string(out)) != NULL);     /* valid UTF-8, always */
    json_decref(probe);
}

static void test_quote(void)
{
    expect_quote("plain text", 64, "plain text");
    expect_quote(NULL, 64, "");
    expect_quote("two\nlines", 64, "two\\nlines");
    expect_quote("cr\rlf\n", 64, "cr\\rlf\\n");
    expect_quote("tab\there", 64, "tab\\there");
    expect_quote("esc\x1b[2Jbell\x07", 64, "esc\\x1b[2Jbell\\x07");
    expect_quote("del\x7f", 64, "del\\x7f");
    expect_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64,
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* printable UTF-8 stays */
    expect_quote("c1 \xc2\x9b"
                 "31m",
                 64, "c1 \\xc2\\x9b31m"); /* a C1 CSI is escaped */
    expect_quote("bad \xff\xfe", 64, "bad \\xff\\xfe");
    expect_quote("ls \xe2\x80\xa8 ps \xe2\x80\xa9", 64, "ls \\xe2\\x80\\xa8 ps \\xe2\\x80\\xa9"); /* line, paragraph separators */
    expect_quote("nel \xc2\x85", 64, "nel \\xc2\\x85");
    expect_quote("cut \xe2\x82", 64, "cut \\xe2\\x82");           /* a sequence cut short */
    expect_quote("overlong \xc0\xaf", 64, "overlong \\xc0\\xaf"); /* '/' spelt in two bytes */
    expect_quote("surrogate \xed\xa0\x80", 64, "surrogate \\xed\\xa0\\x80");
    expect_quote("abcdefghij", 11, "abcdefghij");           /* exactly fits */
    expect_quote("abcdefghijk", 11, "abcdefg...");          /* does not: cut, marked */
    expect_quote("ab\xe2\x82\xac\xe2\x82\xac", 8, "ab..."); /* cut on a character boundary */
    expect_quote("\n\n\n\n", 8, "\\n\\n...");
    expect_quote("abc", 4, "abc");
    expect_quote("abcd", 4, "...");
}

static void test_fields(void)
{
    idp_invalid_t inv = {0};

    CHECK(idp_invalid(&inv, IDP_FIELD_SCOPES, "\"%s\" is not a valid scope", "x y") == HUB_E_INVAL);
    CHECK(inv.field == IDP_FIELD_SCOPES && strcmp(inv.text, "\"x y\" is not a valid scope") == 0);
    CHECK(idp_invalid(NULL, IDP_FIELD_SCOPES, "ignored") == HUB_E_INVAL);
    /* every field has a hubctl name; client fields that RFC 7591 knows have its name */
    for (int f = 0; f != IDP_FIELD__COUNT; ++f)
        CHECK(idp_field_option((idp_field_t)f) != NULL && idp_field_option((idp_field_t)f)[0] != '\0');
    CHECK(strcmp(idp_field_option(IDP_FIELD_REDIRECT_URIS), "--redirect-uris") == 0);
    CHECK(strcmp(idp_field_metadata(IDP_FIELD_REDIRECT_URIS), "redirect_uris") == 0);
    CHECK(strcmp(idp_field_metadata(IDP_FIELD_DEFAULT_REDIRECT_URI), "redirect_uris") == 0);
    CHECK(strcmp(idp_field_metadata(IDP_FIELD_APP_NAME), "client_name") == 0);
    CHECK(strcmp(idp_field_metadata(IDP_FIELD_SCOPES), "scope") == 0);
    CHECK(strcmp(idp_field_metadata(IDP_FIELD_AUTH_METHOD), "token_endpoint_auth_method") == 0);
    CHECK(strcmp(idp_field_option(IDP_FIELD_SERVICE_ROLES), "--role") == 0 && idp_field_metadata(IDP_FIELD_EMAIL) == NULL);
    CHECK(strcmp(idp_field_option((idp_field_t)-1), "argument") == 0 && idp_field_metadata(IDP_FIELD__COUNT) == NULL);
}

int main(void)
{
    test_quote();
    test_fields();
    return check_report("idp/invalid");
}
