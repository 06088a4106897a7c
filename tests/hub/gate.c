/* Tests hub/gate.c: hub_gate_head_check on raw HTTP/1 heads (conflicting or repeated Content-Length and
 * Transfer-Encoding in any case and order, obs-fold with space or tab, lines without a name or colon, what follows
 * the head ignored, LF-only lines, the request line naming this request), and hub_gate in front of a route of the
 * loopback harness: non-canonical paths refused with 400 invalid_request in many spellings (dot segments plain and
 * encoded, encoded slash and backslash, ;params, empty segments, encoded letters, double encoding, overlong and
 * look-alike UTF-8, controls) without the handler running, the query never judged, and a header without a name
 * refused with the connection closed. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "hub/err.h"
#include "hub/gate.h"
#include "hub/log.h"
#include "hub/resp.h"
#include "hub/server.h"
#include "tests/check.h"
#include "tests/support/loopback.h"

#define WAIT_MS 2000
#define LINE "POST /token HTTP/1.1\r\nHost: hub\r\n"

static test_loop_t loop;
static unsigned calls;

static int check(const char *head, const char **why)
{
    *why = NULL;
    return hub_gate_head_check(head, strlen(head), h2o_iovec_init(NULL, 0), h2o_iovec_init(NULL, 0), why);
}

static void test_framing(void)
{
    static const char *const good[] = {
        LINE "\r\n",
        LINE "Content-Length: 5\r\n\r\nhello",
        LINE "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        LINE "CONTENT-LENGTH: 1\r\n\r\n",
        "\r\n\r\n" LINE "\r\n",                                   /* empty lines before the request line */
        "POST /token HTTP/1.1\nHost: hub\nContent-Length: 0\n\n", /* LF alone ends lines too */
        LINE "Content-Length: 2\r\n\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n", /* after the head: a body */
        LINE "X-Content-Length: 1\r\nContent-Length-X: 2\r\nContent-Length: 3\r\nTE: trailers\r\n\r\n",
        LINE "Host: a:80\r\nX-Empty:\r\nX: Content-Length: 4\r\n\r\n",
    };
    static const char *const bad[] = {
        LINE "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
        LINE "content-length: 5\r\nCONTENT-LENGTH: 6\r\n\r\n",
        LINE "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        LINE "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        LINE "transfer-encoding: chunked\r\nContent-length: 0\r\n\r\n",
        LINE "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
        LINE "X-A: 1\r\n folded\r\n\r\n",
        LINE "X-A: 1\r\n\tfolded\r\n\r\n",
        LINE "Content-Length: 5\r\n Transfer-Encoding: chunked\r\n\r\n",
        LINE ": no name\r\n\r\n",
        LINE "NoColon\r\n\r\n",
        "POST /token HTTP/1.1\nContent-Length: 1\nContent-Length: 1\n\n",
    };
    const char *why;
    for (size_t i = 0; i != sizeof(good) / sizeof(good[0]); ++i) {
        CHECK(check(good[i], &why) == 0);
        if (why != NULL)
            fprintf(stderr, "good[%zu] refused: %s\n", i, why);
    }
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        CHECK(check(bad[i], &why) == HUB_E_PARSE && why != NULL && *why != '\0');
        CHECK(hub_gate_head_check(bad[i], strlen(bad[i]), h2o_iovec_init(NULL, 0), h2o_iovec_init(NULL, 0), NULL) == HUB_E_PARSE);
    }
    CHECK(check(LINE "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", &why) == HUB_E_PARSE &&
          strstr(why, "Content-Length and Transfer-Encoding") != NULL);
    CHECK(check(LINE "A: 1\r\n b\r\n\r\n", &why) == HUB_E_PARSE && strstr(why, "obs-fold") != NULL);
}

static void test_incomplete_heads(void)
{
    static const char *const partial[] = {
        "", "\r\n", "\r\n\r\n", "POST /token HTTP/1.1", LINE, LINE "Content-Length: 1\r\n", LINE "Content-Length: 1\r\n\r"};
    const char *why;
    for (size_t i = 0; i != sizeof(partial) / sizeof(partial[0]); ++i)
        CHECK(check(partial[i], &why) == HUB_E_NOTFOUND && why != NULL);
    /* the head must be this request's: method and target as the request line names them */
    static const struct {
        const char *method, *target;
        int ret;
    } lines[] = {{"POST", "/token", 0},
                 {"GET", "/token", HUB_E_NOTFOUND},
                 {"POS", "/token", HUB_E_NOTFOUND},
                 {"POST", "/tok", HUB_E_NOTFOUND},
                 {"POST", "/token2", HUB_E_NOTFOUND},
                 {"POST", "/token HTTP/1.1", HUB_E_NOTFOUND},
                 {"POST /token", "HTTP/1.1", HUB_E_NOTFOUND}};
    static const char head[] = LINE "Content-Length: 1\r\nContent-Length: 2\r\n\r\n";
    for (size_t i = 0; i != sizeof(lines) / sizeof(lines[0]); ++i) {
        int ret = hub_gate_head_check(head, strlen(head), h2o_iovec_init(lines[i].method, strlen(lines[i].method)),
                                      h2o_iovec_init(lines[i].target, strlen(lines[i].target)), &why);
        CHECK(ret == (lines[i].ret == 0 ? HUB_E_PARSE : HUB_E_NOTFOUND)); /* its own head: the framing is judged */
    }
    /* a request line cut before its version is no request line for that target */
    static const char cut[] = "POST /token\r\n\r\n";
    CHECK(hub_gate_head_check(cut, strlen(cut), h2o_iovec_init(H2O_STRLIT("POST")), h2o_iovec_init(H2O_STRLIT("/token")), &why) ==
          HUB_E_NOTFOUND);
}

static int on_req(void *data, h2o_req_t *req)
{
    ++calls;
    hub_send_text(req, 200, "ok", 2);
    return 0;
}

/* The "error" and "error_description" of the answer in err and desc. */
static void oauth_body(test_req_t *r, char *err, char *desc, size_t size)
{
    json_t *doc = json_loadb(test_req_text(r), test_req_len(r), 0, NULL);
    snprintf(err, size, "%s", json_string_value(json_object_get(doc, "error")) ?: "");
    snprintf(desc, size, "%s", json_string_value(json_object_get(doc, "error_description")) ?: "");
    json_decref(doc);
}

static test_req_t *run(const char *method, const char *path, const char *hname, const char *hvalue)
{
    test_req_t *r = test_req_new(&loop, method, path);
    if (hname != NULL)
        test_req_header(r, hname, hvalue);
    test_req_h2o(r)->http1_is_persistent = 1; /* as h2o sets it for a keep-alive HTTP/1.1 request */
    CHECK(test_req_run(r, WAIT_MS));
    return r;
}

/* Paths the gate refuses: every one has a spelling some server reads as another path. */
static const char *const refused[] = {
    "/a/./b",
    "/a/../b",
    "/a/.",
    "/a/..",
    "/a/%2e%2e/b",
    "/a/%2E/b",
    "/a/.%2e/b",
    "/a/%2e./b",
    "/a/%2f",
    "/a%2Fb",
    "/a%5cb",
    "/a%5Cb",
    "/a\\b",
    "/a;x=1",
    "/a/b;jsessionid=1",
    "//a",
    "/a//b",
    "/%61",
    "/a%41",
    "/a%30",
    "/a%252e%252e",
    "/a%2500",
    "/a%00",
    "/a%0a",
    "/a%0d%0a",
    "/a%",
    "/a%2",
    "/a%zz",
    "/a%c0%ae",
    "/a/%c0%ae%c0%ae/b",
    "/a/%ef%bc%8e%ef%bc%8e/b",
    "/a/%e2%80%8b/b",
    "/a/%20/b",
    "/a/...",
    "/a/%2e%2e%2f",
    "/a%3fb",
    "/a%23b",
    "/a%3Bb",
    "/a/%ef%bc%8f",
    "/a/%c2%a0/b",
    "/a/b%ff",
    "/a/%e2%80",
    "/a b",
    "/a\"b",
    "/a<b>",
    "/a{b}",
    "/a`b",
};

/* Paths that are canonical (a query is never judged). */
static const char *const passed[] = {
    "/",
    "/a/b",
    "/a/b/",
    "/a/.b",
    "/a/..b",
    "/a/b.c",
    "/a/%20b",
    "/a/%C3%A9",
    "/~user/[x]|^",
    "/a@b:c!$&'()*+,=",
    "/a?x=../..&y=%2f%2e%2e",
    "/a?%00",
    "/a?;x",
    "/a/b?/../c",
};

static void test_paths(void)
{
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        static const char *const methods[] = {"GET", "POST", "DELETE"};
        unsigned before = calls;
        char err[256], desc[256], path[128];
        snprintf(path, sizeof(path), "%s?q=1", refused[i]);
        test_req_t *r = run(methods[i % 3], i % 2 ? path : refused[i], NULL, NULL);
        oauth_body(r, err, desc, sizeof(err));
        CHECK(test_req_status(r) == 400 && strcmp(err, "invalid_request") == 0 && calls == before);
        CHECK(strncmp(desc, "the request path is not canonical: ", 35) == 0 && strlen(desc) > 36);
        CHECK(test_req_h2o(r)->http1_is_persistent == 1); /* the framing is sound: the connection may go on */
        if (test_req_status(r) != 400)
            fprintf(stderr, "passed: \"%s\"\n", refused[i]);
        test_req_free(r);
    }
    for (size_t i = 0; i != sizeof(passed) / sizeof(passed[0]); ++i) {
        unsigned before = calls;
        test_req_t *r = run("GET", passed[i], NULL, NULL);
        CHECK(test_req_status(r) == 200 && calls == before + 1);
        if (test_req_status(r) != 200)
            fprintf(stderr, "refused: \"%s\"\n", passed[i]);
        test_req_free(r);
    }
}

static void test_header_names(void)
{
    char err[256], desc[256];
    unsigned before = calls;
    test_req_t *r = run("POST", "/a", "", "value");
    oauth_body(r, err, desc, sizeof(err));
    CHECK(test_req_status(r) == 400 && strcmp(err, "invalid_request") == 0 && calls == before);
    CHECK(strcmp(desc, "a header line without a name") == 0);
    CHECK(test_req_h2o(r)->http1_is_persistent == 0); /* what follows on the connection cannot be trusted */
    test_req_free(r);
    r = run("POST", "/a", "x-fine", "");
    CHECK(test_req_status(r) == 200 && calls == before + 1 && test_req_h2o(r)->http1_is_persistent == 1);
    test_req_free(r);
}

int main(void)
{
    hub_config_t cfg;
    hub_server_t *server = NULL;
    static const hub_route_t any = {"/", NULL, HUB_METHODS_ANY, HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL};

    hub_log_init(HUB_LOG_WARN, "gate");
    hub_config_defaults(&cfg);
    if (hub_server_create(&server, &cfg, NULL, NULL) != 0)
        return 1;
    hub_server_add_route(server, &any, on_req, NULL, NULL);
    test_loop_init(&loop, server, NULL);
    test_framing();
    test_incomplete_heads();
    test_paths();
    test_header_names();
    test_loop_dispose(&loop);
    hub_server_destroy(server);
    hub_config_dispose(&cfg);
    return check_report("hub/gate");
}
