/* Tests for hub/util.c: the allocation helpers, the fatal path (one policy: a "fatal:" line, then abort), copies of
 * JSON fields and the same-origin `next` filter. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub/util.h"
#include "tests/check.h"

/* Runs hub_fatal in a child with stderr on a pipe; returns 1 when the child died of SIGABRT having written want. */
static int fatal_in_child(int oom, const char *want)
{
    char buf[512];
    int fds[2], status;
    ssize_t n, len = 0;
    pid_t pid;

    if (pipe(fds) != 0 || (pid = fork()) < 0)
        return 0;
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        dup2(fds[1], 2);
        if (oom)
            hub_oom();
        hub_fatal("the %s failed (error %d)", "thing", 42);
    }
    close(fds[1]);
    while (len < (ssize_t)sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += n;
    buf[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want) != NULL && strstr(buf, "fatal:") != NULL;
}

static void test_fatal(void)
{
    CHECK(fatal_in_child(0, "the thing failed (error 42)"));
    CHECK(fatal_in_child(1, "out of memory"));
}

static void test_alloc(void)
{
    unsigned char *z = hub_xcalloc(16, 4), *m;
    char *s;
    size_t i;

    for (i = 0; i != 64; ++i)
        CHECK(z[i] == 0);
    z = hub_xrealloc(z, 4096);
    z[4095] = 1;
    free(z);
    free(hub_xcalloc(0, 8)); /* zero items: still a pointer to free */
    free(hub_xmalloc(0));
    m = hub_xmalloc(3);
    memcpy(m, "abc", 3);
    free(m);
    s = hub_xstrndup("abcdef", 3);
    CHECK(strcmp(s, "abc") == 0);
    free(s);
    s = hub_xstrndup("ab", 10);
    CHECK(strcmp(s, "ab") == 0);
    free(s);
    CHECK(hub_strdup(NULL) == NULL);
    s = hub_strdup("x y");
    CHECK(strcmp(s, "x y") == 0);
    free(s);
}

static void test_json_fields(void)
{
    json_t *obj = json_pack("{s:s,s:i,s:i,s:s}", "name", "alice", "n", 7, "neg", -3, "str", "8");
    char *s = hub_json_strdup(obj, "name");

    CHECK(s != NULL && strcmp(s, "alice") == 0);
    free(s);
    CHECK(hub_json_strdup(obj, "n") == NULL);
    CHECK(hub_json_strdup(obj, "missing") == NULL);
    CHECK(hub_json_uint(obj, "n") == 7);
    CHECK(hub_json_uint(obj, "neg") == 0);
    CHECK(hub_json_uint(obj, "str") == 0);
    json_decref(obj);
}

static void test_safe_next(void)
{
    static const char *const kept[] = {"/", "/a/b?c=d", "/x#frag"};
    static const char *const refused[] = {
        "//evil.example/", "/\\evil.example", "https://evil.example/", "evil", "", "/a b", "/a\\b", "/\x01"};
    size_t i;

    for (i = 0; i != sizeof(kept) / sizeof(kept[0]); ++i)
        CHECK(strcmp(hub_safe_next(kept[i]), kept[i]) == 0);
    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i)
        CHECK(strcmp(hub_safe_next(refused[i]), "/") == 0);
    CHECK(strcmp(hub_safe_next(NULL), "/") == 0);
}

int main(void)
{
    test_fatal();
    test_alloc();
    test_json_fields();
    test_safe_next();
    return check_report("hub/util");
}
