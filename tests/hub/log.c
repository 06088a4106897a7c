/* Tests hub/log.c: the level filter (and hub_log_debug not even evaluating its arguments below debug), the line's shape
 * "TIME LEVEL NODE: message", long messages and node names cut to size, and the loop thread's batch: lines held until
 * the turn's flush and written in one write, warnings and errors at once, no write beyond PIPE_BUF and no line split
 * between two writes, batch_end flushing, and other threads unaffected. stderr is a SOCK_SEQPACKET socket while a
 * test captures it, so each write arrives as one message. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "hub/log.h"
#include "tests/check.h"

#define MAX_WRITES 256

/* What went to stderr while captured: one entry per write. */
static struct {
    int saved, sock[2];
    size_t n;
    char *writes[MAX_WRITES];
    size_t lens[MAX_WRITES];
} cap;

static void capture(void)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, cap.sock) != 0 || (cap.saved = dup(2)) == -1)
        abort();
    int size = 1 << 20;
    setsockopt(cap.sock[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(cap.sock[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    dup2(cap.sock[1], 2);
}

/* Gives stderr back and reads every write made meanwhile (the previous capture's are freed). */
static void release(void)
{
    char buf[65536];
    ssize_t got;

    dup2(cap.saved, 2);
    close(cap.saved);
    close(cap.sock[1]);
    for (size_t i = 0; i != cap.n; ++i)
        free(cap.writes[i]);
    cap.n = 0;
    while (cap.n != MAX_WRITES && (got = recv(cap.sock[0], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        cap.writes[cap.n] = strndup(buf, (size_t)got);
        cap.lens[cap.n++] = (size_t)got;
    }
    close(cap.sock[0]);
}

/* Whether line (up to its '\n') is "YYYY-MM-DDTHH:MM:SS.mmmZ level node: message\n". */
static int line_is(const char *line, const char *level, const char *node, const char *message)
{
    char expect[4096];
    size_t n = strspn(line, "0123456789");
    if (n != 4 || line[4] != '-' || line[7] != '-' || line[10] != 'T' || line[13] != ':' || line[16] != ':' || line[19] != '.' ||
        strspn(line + 20, "0123456789") != 3 || line[23] != 'Z' || line[24] != ' ')
        return 0;
    snprintf(expect, sizeof(expect), "%s %s: %s\n", level, node, message);
    return strncmp(line + 25, expect, strlen(expect)) == 0;
}

static void test_levels(void)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int level = HUB_LOG_ERROR; level <= HUB_LOG_DEBUG; ++level) {
        int evaluated = 0;
        hub_log_init((hub_log_level_t)level, "lv");
        CHECK(hub_log_level() == (hub_log_level_t)level);
        capture();
        hub_log_error("e %d", 1);
        hub_log_warn("w %s", "2");
        hub_log_info("i %c", '3');
        hub_log_debug("d %d", ++evaluated);
        release();
        CHECK(cap.n == (size_t)level + 1); /* one write per line outside a batch */
        for (size_t i = 0; i != cap.n && i < 4; ++i) {
            static const char *const msgs[] = {"e 1", "w 2", "i 3", "d 1"};
            CHECK(line_is(cap.writes[i], names[i], "lv", msgs[i]) && cap.lens[i] == strlen(cap.writes[i]));
            CHECK(strchr(cap.writes[i], '\n') == cap.writes[i] + cap.lens[i] - 1); /* one line each */
        }
        CHECK(evaluated == (level == HUB_LOG_DEBUG)); /* below debug, the arguments are not even computed */
    }
}

static void test_sizes(void)
{
    char name[200], big[5000], expect_name[64];

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hub_log_init(HUB_LOG_INFO, name);
    memset(expect_name, 'n', 63);
    expect_name[63] = '\0';
    capture();
    hub_log_info("short");
    hub_log_info("%s", big);
    hub_log_init(HUB_LOG_INFO, NULL); /* NULL keeps the name */
    hub_log_info("same name");
    release();
    CHECK(cap.n == 3);
    if (cap.n == 3) {
        CHECK(line_is(cap.writes[0], "info", expect_name, "short"));
        CHECK(cap.lens[1] < 2048 && cap.writes[1][cap.lens[1] - 1] == '\n' &&
              strchr(cap.writes[1], '\n') == cap.writes[1] + cap.lens[1] - 1);
        CHECK(strstr(cap.writes[1], "info nnnn") != NULL && strstr(cap.writes[1], ": mmmmmmmm") != NULL);
        CHECK(line_is(cap.writes[2], "info", expect_name, "same name"));
    }
}

/* Whether a write waits to be read on the captured stderr. */
static int pending(void)
{
    char c;
    return recv(cap.sock[0], &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Checks that every captured write is at most PIPE_BUF bytes of whole lines "... info full: xxx...x\n"; returns how many
 * lines they hold, and their bytes in *total. */
static size_t whole_lines(size_t *total)
{
    size_t lines = 0;
    *total = 0;
    for (size_t i = 0; i != cap.n; ++i) {
        CHECK(cap.lens[i] <= PIPE_BUF && cap.lens[i] == strlen(cap.writes[i]) && cap.writes[i][cap.lens[i] - 1] == '\n');
        for (const char *p = cap.writes[i]; *p != '\0'; p = strchr(p, '\n') + 1, ++lines) {
            const char *nl = strchr(p, '\n');
            CHECK(line_is(p, "info", "full", "x") ||
                  (strncmp(p + 25, "info full: x", 12) == 0 && strspn(p + 37, "x") == (size_t)(nl - p - 37)));
        }
        *total += cap.lens[i];
    }
    return lines;
}

static void test_batch_turn(void)
{
    hub_log_init(HUB_LOG_INFO, "b");
    capture();
    hub_log_batch_begin();
    hub_log_info("one");
    hub_log_info("two");
    hub_log_debug("filtered");
    hub_log_info("three");
    int early = pending();
    hub_log_flush(); /* the end of the turn: one write */
    hub_log_flush(); /* nothing left: no write */
    hub_log_info("four");
    hub_log_warn("five"); /* at once, with what waits before it, in order */
    int after_warn = pending();
    hub_log_info("six");
    hub_log_error("seven");
    hub_log_info("eight");
    hub_log_batch_end(); /* flushes, and stops batching */
    hub_log_info("nine");
    release();
    CHECK(!early && after_warn);
    CHECK(cap.n == 5);
    if (cap.n == 5) {
        const char *p = cap.writes[0];
        CHECK(line_is(p, "info", "b", "one") && line_is(p = strchr(p, '\n') + 1, "info", "b", "two") &&
              line_is(p = strchr(p, '\n') + 1, "info", "b", "three") && strchr(p, '\n')[1] == '\0');
        p = cap.writes[1];
        CHECK(line_is(p, "info", "b", "four") && line_is(p = strchr(p, '\n') + 1, "warn", "b", "five") &&
              strchr(p, '\n')[1] == '\0');
        p = cap.writes[2];
        CHECK(line_is(p, "info", "b", "six") && line_is(p = strchr(p, '\n') + 1, "error", "b", "seven") &&
              strchr(p, '\n')[1] == '\0');
        CHECK(line_is(cap.writes[3], "info", "b", "eight") && strchr(cap.writes[3], '\n')[1] == '\0');
        CHECK(line_is(cap.writes[4], "info", "b", "nine") && strchr(cap.writes[4], '\n')[1] == '\0');
    }
}

static void test_batch_full(void)
{
    char text[3000];
    static const size_t sizes[] = {10, 300, 1000, 2020, 2999};

    hub_log_init(HUB_LOG_INFO, "full");
    for (size_t s = 0; s != sizeof(sizes) / sizeof(sizes[0]); ++s) {
        memset(text, 'x', sizes[s]);
        text[sizes[s]] = '\0';
        capture();
        hub_log_batch_begin();
        for (int i = 0; i != 40; ++i)
            hub_log_info("%s", text);
        int waited = pending(); /* the batch filled up: some went out before the turn ended */
        hub_log_flush();
        hub_log_batch_end();
        release();
        CHECK(waited == (sizes[s] * 40 > 4096));
        size_t total;
        CHECK(whole_lines(&total) == 40);                                        /* every line whole, every write <= PIPE_BUF */
        CHECK(total > 40 * sizes[s] || total > 40 * 2000);                       /* all of it (a line is cut at about 2 KiB) */
        CHECK(cap.n >= total / PIPE_BUF && cap.n <= total / (PIPE_BUF / 2) + 1); /* batched, yet each write whole */
    }
}

static void *other_thread(void *arg)
{
    hub_log_info("from another thread");
    return NULL;
}

static void test_batch_per_thread(void)
{
    pthread_t tid;

    hub_log_init(HUB_LOG_INFO, "t");
    capture();
    hub_log_batch_begin();
    hub_log_info("held");
    pthread_create(&tid, NULL, other_thread, NULL);
    pthread_join(tid, NULL);
    int other_written = pending();
    hub_log_batch_end();
    release();
    CHECK(other_written && cap.n == 2);
    if (cap.n == 2)
        CHECK(line_is(cap.writes[0], "info", "t", "from another thread") && line_is(cap.writes[1], "info", "t", "held"));
}

int main(void)
{
    test_levels();
    test_sizes();
    test_batch_turn();
    test_batch_full();
    test_batch_per_thread();
    for (size_t i = 0; i != cap.n; ++i)
        free(cap.writes[i]);
    return check_report("hub/log");
}
