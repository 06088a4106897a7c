/* Tests for hub/path.c: which request paths are canonical, how a lenient server reads a path, and route prefixes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include "hub/err.h"
#include "hub/path.h"
#include "tests/check.h"

static int check(const char *p)
{
    return hub_path_check(p, strlen(p), NULL);
}

/* h2o's own normalization of p (what it picks the route with) */
static int h2o_reads_same(const char *p)
{
    h2o_mem_pool_t pool;
    size_t q, *idx, i, o = 0;
    char dec[256];
    int same;

    h2o_mem_init_pool(&pool);
    h2o_iovec_t n = h2o_url_normalize_path(&pool, p, strlen(p), &q, &idx);
    for (i = 0; p[i] != '\0' && o < sizeof(dec); ++i) {
        unsigned v;
        if (p[i] == '%' && sscanf(p + i + 1, "%2x", &v) == 1)
            dec[o++] = (char)v, i += 2;
        else
            dec[o++] = p[i];
    }
    same = n.len == o && memcmp(n.base, dec, o) == 0;
    h2o_mem_clear_pool(&pool);
    return same;
}

static void test_accepts_ordinary_paths(void)
{
    static const char *good[] = {
        "/",
        "/app/",
        "/app/hello",
        "/app/a/b/c.txt",
        "/app/file.tar.gz",
        "/app/.well-known/x", /* a dot file is no dot segment */
        "/app/..data",
        "/app/a..b/",
        "/app/a%20b",              /* an escaped space */
        "/app/caf%C3%A9",          /* UTF-8 */
        "/app/%E6%97%A5%E6%9C%AC", /* CJK */
        "/app/%F0%9F%98%80",       /* a 4-byte sequence */
        "/app/100%25",             /* an escaped '%' not followed by hex */
        "/app/%25zz",              /* likewise */
        "/app/~user/x-y_z",
        "/app/%7Euser/%2D%5F", /* some client libraries escape ~ - _ */
        "/app/a:b@c!$&'()*+,=",
        "/app/[x]|^",                  /* what browsers leave unescaped */
        "/app/%22q%22%3C%3E%60%7B%7D", /* escaped " < > ` { } */
        "/app/%EF%BD%81",              /* fullwidth a: allowed, folded for route checks */
    };
    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i) {
        const char *why = NULL;
        int ret = hub_path_check(good[i], strlen(good[i]), &why);
        if (ret != 0)
            fprintf(stderr, "refused %s: %s\n", good[i], why);
        CHECK(ret == 0);
        CHECK(h2o_reads_same(good[i]));
    }
}

static void test_refuses_dot_segments(void)
{
    static const char *bad[] = {
        "/app/./admin/", "/app/../admin/", "/app/admin/.", "/app/admin/..", "/..", "/.", "/app/%2e/admin/", "/app/%2E%2e/admin",
        "/app/.%2e/admin/", "/app/%2e./admin/", "/app/%2E%2E", "/app/.../admin/", "/app/. /admin/", "/app/.%20/admin/",
        "/app/%20/x", "/app/..%20/admin", "/app/ %2e/", "/app/x/../../admin",
        /* what reads as spaces or as nothing: no-break and other spaces, zero-width and format characters */
        "/app/x/..%C2%A0/admin/", "/app/x/%C2%A0../admin/", "/app/x/.%E2%80%8B./admin/", "/app/x/..%E3%80%80/admin/",
        "/app/x/.%E2%80%83./", "/app/%E2%80%8B/admin", "/app/..%EF%BB%BF", "/app/.%EF%B8%8F./admin"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        int ret = check(bad[i]);
        if (ret == 0)
            fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK(ret == HUB_E_PARSE);
    }
    /* what these would have been to h2o: another path than the bytes say */
    CHECK(!h2o_reads_same("/app/../admin/"));
    CHECK(!h2o_reads_same("/app/%2e%2e/admin/"));
    CHECK(!h2o_reads_same("/app/./admin"));
}

static void test_refuses_separator_tricks(void)
{
    static const char *bad[] = {
        "/app//admin/",
        "//app/",
        "/app/admin//",
        "/app/%2fadmin/",
        "/app%2Fadmin/",
        "/app/%5cadmin",
        "/app\\admin\\",
        "/app/..\\admin",
        "/app/admin;x=1/",
        "/app/admin;/",
        "/app/..;/admin",
        "/app/%3badmin",
        "/app/admin%3F/x",
        "/app/admin%23/x",
        "/app/admin#x",
        "/app/a b",
        "/app/a\"b",
        "/app/a<b>",
        "/app/a{b}",
        "/app/a`b",
        "app/admin/",
        "",
        "*",
        "http://x/app/",
        "/app/\xc3\xa9",
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        int ret = check(bad[i]);
        if (ret == 0)
            fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK(ret == HUB_E_PARSE);
    }
}

static void test_refuses_bad_escapes(void)
{
    static const char *bad[] = {
        "/app/%",         "/app/%4",           "/app/%zz",   "/app/%G1",      "/app/a%2",           "/app/%00",    "/app/%0a",
        "/app/%0D%0A",    "/app/%7f",          "/app/%1b",   "/app/%61dmin/", "/app/%41DMIN/",      "/%61pp/",     "/app/ad%6Din/",
        "/app/%31",       "/app/%252e%252e/",  "/app/%252F", "/app/%2541",    "/app/%c0%ae%c0%ae/", "/app/%c0%af", "/app/%e0%80%ae",
        "/app/%ed%a0%80", "/app/%f4%90%80%80", "/app/%c3",   "/app/%c3/",     "/app/%e6%97",        "/app/%80",    "/app/%ff",
        "/app/%c3%28",
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        int ret = check(bad[i]);
        if (ret == 0)
            fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK(ret == HUB_E_PARSE);
    }
    /* raw control bytes and NUL */
    CHECK(hub_path_check("/app/\0admin", 11, NULL) == HUB_E_PARSE);
    CHECK(check("/app/\x01") == HUB_E_PARSE);
    CHECK(check("/app/\x7f") == HUB_E_PARSE);
}

static void test_refuses_confusables(void)
{
    static const char *bad[] = {
        "/app/%EF%BC%8E%EF%BC%8E/admin/", /* fullwidth .. */
        "/app/%EF%BC%8Fadmin",            /* fullwidth / */
        "/app/%EF%BC%BCadmin",            /* fullwidth \ */
        "/app/%E2%88%95admin",            /* division slash */
        "/app/%E2%80%A5/admin",           /* two dot leader */
        "/app/%E2%80%A4%E2%80%A4/admin",  /* one dot leaders */
        "/app/admin%CD%BE",               /* Greek question mark (NFC: ';') */
        "/app/admin%EF%BC%9Bx",           /* fullwidth ; */
        "/app/admin%EF%BC%9F",            /* fullwidth ? */
        "/app/admin%EF%BC%83",            /* fullwidth # */
        "/app/%EF%BC%852e",               /* fullwidth % */
        "/app/admin%EF%BC%9A%EF%BC%9A",   /* fullwidth : */
        "/app/x/%EF%B8%B0/admin/",        /* presentation form two dot leader: ".." under NFKC */
        "/app/x/%EF%B8%99/admin/",        /* presentation form ellipsis: "..." */
        "/app/admin%EF%B8%94x",           /* presentation form ; */
        "/app/admin%EF%B8%96",            /* presentation form ? */
        "/app/%E2%84%80/x",               /* account of: "a/c" */
        "/app/%E2%84%85/x",               /* care of: "c/o" */
        "/app/x%E2%92%88/y",              /* digit one full stop: "1." */
        "/app/%E3%8F%82",                 /* a.m. */
        "/app/x%E2%81%87",                /* double question mark */
        "/app/x%E2%A9%B4",                /* ::= */
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        int ret = check(bad[i]);
        if (ret == 0)
            fprintf(stderr, "accepted %s\n", bad[i]);
        CHECK(ret == HUB_E_PARSE);
    }
}

static void test_length_and_why(void)
{
    char *p = malloc(HUB_PATH_MAX + 2);
    const char *why = NULL;

    p[0] = '/';
    memset(p + 1, 'a', HUB_PATH_MAX + 1);
    CHECK(hub_path_check(p, HUB_PATH_MAX, NULL) == 0);
    CHECK(hub_path_check(p, HUB_PATH_MAX + 1, &why) == HUB_E_TOOBIG && why != NULL);
    free(p);
    CHECK(hub_path_check("/a/../b", 7, &why) == HUB_E_PARSE && strcmp(why, "a dot segment") == 0);
    CHECK(hub_path_check("/a;b", 4, &why) == HUB_E_PARSE && strstr(why, "';'") != NULL);
    CHECK(hub_path_check("/a//b", 5, &why) == HUB_E_PARSE && strstr(why, "empty") != NULL);
    /* the query string is not the function's business: a caller passes the path without it */
    CHECK(check("/app/x?y=../../admin") == HUB_E_PARSE);
}

static int folds_to(const char *in, const char *want)
{
    char out[256];
    size_t n = hub_path_fold(in, strlen(in), out);
    if (n != strlen(want) || strcmp(out, want) != 0) {
        fprintf(stderr, "fold(%s) = %s, want %s\n", in, out, want);
        return 0;
    }
    return n <= strlen(in) + 1;
}

static void test_fold(void)
{
    CHECK(folds_to("/", "/"));
    CHECK(folds_to("", "/"));
    CHECK(folds_to("/app/x", "/app/x"));
    CHECK(folds_to("/APP/Admin/", "/app/admin/"));
    CHECK(folds_to("/app/admin./", "/app/admin/"));
    CHECK(folds_to("/app/admin. . /x", "/app/admin/x"));
    CHECK(folds_to("/app/admin%20/", "/app/admin/"));
    CHECK(folds_to("/app/admin+/", "/app/admin/"));
    CHECK(folds_to("/app/admin::$DATA", "/app/admin"));
    CHECK(folds_to("/app/admin.::$data/", "/app/admin/"));
    CHECK(folds_to("/app/admin;jsessionid=1/x", "/app/admin/x"));
    CHECK(folds_to("/app/..;/admin", "/admin"));
    CHECK(folds_to("/app/%61dmin", "/app/admin"));
    CHECK(folds_to("/app/x/../admin/", "/app/admin/"));
    CHECK(folds_to("/app/./admin", "/app/admin"));
    CHECK(folds_to("/app//admin", "/app/admin"));
    CHECK(folds_to("/app\\admin", "/app/admin"));
    CHECK(folds_to("/app%5Cadmin%2Fx", "/app/admin/x"));
    CHECK(folds_to("/../../x", "/x"));
    CHECK(folds_to("/app/adm%C4%B1n/", "/app/admin/"));     /* dotless i */
    CHECK(folds_to("/app/%C5%BFecret", "/app/secret"));     /* long s */
    CHECK(folds_to("/app/%E2%84%AAey", "/app/key"));        /* Kelvin sign */
    CHECK(folds_to("/app/pa%C3%9F/", "/app/pass/"));        /* sharp s */
    CHECK(folds_to("/app/%EF%AC%81le", "/app/file"));       /* fi ligature */
    CHECK(folds_to("/app/%EF%BC%A1DMIN/", "/app/admin/"));  /* fullwidth A */
    CHECK(folds_to("/app/ad%E2%80%8Bmin/", "/app/admin/")); /* zero-width space */
    CHECK(folds_to("/app/ad%C2%ADmin/", "/app/admin/"));    /* soft hyphen */
    CHECK(folds_to("/app/caf%C3%A9", "/app/caf\xc3\xa9"));  /* other letters stay */
    /* compatibility letters of every kind (NFKC), spaces that are not ASCII */
    CHECK(folds_to("/%C2%AAdmin/", "/admin/"));          /* feminine ordinal indicator */
    CHECK(folds_to("/%E2%93%90dmin/", "/admin/"));       /* circled a */
    CHECK(folds_to("/%F0%9D%90%9Admin/", "/admin/"));    /* mathematical bold a */
    CHECK(folds_to("/a%E2%85%AEmin/", "/admin/"));       /* roman numeral five hundred */
    CHECK(folds_to("/adm%E2%85%B0n/", "/admin/"));       /* small roman numeral one */
    CHECK(folds_to("/admi%E2%81%BF/", "/admin/"));       /* superscript n */
    CHECK(folds_to("/%E1%B5%83dmin/", "/admin/"));       /* modifier letter small a */
    CHECK(folds_to("/ADMI%E2%84%95/", "/admin/"));       /* double-struck N */
    CHECK(folds_to("/%E2%92%BBiles/", "/files/"));       /* circled F */
    CHECK(folds_to("/admin%C2%A0/x", "/admin/x"));       /* a trailing no-break space */
    CHECK(folds_to("/x/..%C2%A0/admin/", "/admin/"));    /* ".." and a no-break space */
    CHECK(folds_to("/ad%F3%A0%80%81min", "/admin"));     /* a tag character (format) */
    CHECK(folds_to("/ad%F3%A0%84%80min", "/admin"));     /* a variation selector supplement */
    CHECK(folds_to("/%E2%85%B7", "/viii"));              /* a longer text, fits in the escapes */
    CHECK(folds_to("/\xe2\x85\xb7", "/\xe2\x85\xb7"));   /* raw: it does not fit, the bytes stay */
    CHECK(folds_to("/app/%ff%c3/x", "/app/\xff\xc3/x")); /* not UTF-8: bytes stay */
    CHECK(folds_to("/app/%c3%2f", "/app/\xc3/"));
    CHECK(folds_to("app/x", "/app/x"));
    CHECK(folds_to("a/", "/a/"));
    CHECK(folds_to("%", "/%"));
}

static void test_under(void)
{
    CHECK(hub_path_under("/app", 4, "/app/", 5));
    CHECK(hub_path_under("/app/", 5, "/app/", 5));
    CHECK(hub_path_under("/app/x", 6, "/app/", 5));
    CHECK(!hub_path_under("/apps", 5, "/app/", 5));
    CHECK(!hub_path_under("/ap", 3, "/app/", 5));
    CHECK(hub_path_under("/app/admin", 10, "/app/admin/", 11));
    CHECK(hub_path_under("/app/admin", 10, "/app", 4));
    CHECK(!hub_path_under("/app/administrator", 18, "/app/admin/", 11));
    CHECK(hub_path_under("/anything", 9, "/", 1));
    CHECK(hub_path_under("/", 1, "/", 1));
}

int main(void)
{
    test_accepts_ordinary_paths();
    test_refuses_dot_segments();
    test_refuses_separator_tricks();
    test_refuses_bad_escapes();
    test_refuses_confusables();
    test_length_and_why();
    test_fold();
    test_under();
    return check_report("hub/path");
}
