/* Tests hub/sdnotify.c: datagrams reach path and abstract sockets exactly as sent, every malformed NOTIFY_SOCKET and
 * state is refused, and a receiver that reads nothing never blocks the sender. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/sdnotify.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static char *tmpdir; /* test_tmpdir */

/* A datagram socket bound to name ("@x" = abstract, exact length), non-blocking, or -1. */
static int bind_receiver(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd == -1 || n >= sizeof(sa.sun_path))
        goto fail;
    memcpy(sa.sun_path, name, n);
    if (name[0] == '@') {
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    if (bind(fd, (struct sockaddr *)&sa, len) == 0)
        return fd;
fail:
    perror(name);
    if (fd != -1)
        close(fd);
    return -1;
}

/* The next datagram as a string ("" when none is waiting). */
static const char *receive(int fd)
{
    static char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_unset_is_a_no_op(void)
{
    unsetenv("NOTIFY_SOCKET");
    CHECK(hub_sd_notify("READY=1") == 0);
    setenv("NOTIFY_SOCKET", "", 1);
    CHECK(hub_sd_notify("READY=1") == 0);
    CHECK(hub_sd_notifyf("STATUS=%d", 1) == 0);
}

static void test_path_socket(void)
{
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/notify", tmpdir);
    if ((fd = bind_receiver(path)) == -1) {
        ++failures;
        return;
    }
    setenv("NOTIFY_SOCKET", path, 1);
    CHECK(hub_sd_notify("READY=1\nSTATUS=listening") == 0);
    CHECK(strcmp(receive(fd), "READY=1\nSTATUS=listening") == 0);
    CHECK(hub_sd_notifyf("STOPPING=%d", 1) == 0);
    CHECK(strcmp(receive(fd), "STOPPING=1") == 0);
    CHECK(strcmp(receive(fd), "") == 0); /* one datagram per call */
    close(fd);
    unlink(path);
    /* the socket is gone: an error, not a hang or a crash */
    CHECK(hub_sd_notify("READY=1") == HUB_E_IO);
}

/* An abstract name is addressed with its exact length: a sender padding it with NULs (sizeof(sockaddr_un)) or adding
 * one would reach another name, and this receiver would get nothing. */
static void test_abstract_socket(void)
{
    char name[64];
    int fd;

    snprintf(name, sizeof(name), "@hub-sdnotify-test-%ld", (long)getpid());
    if ((fd = bind_receiver(name)) == -1) {
        ++failures;
        return;
    }
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK(hub_sd_notify("READY=1") == 0);
    CHECK(strcmp(receive(fd), "READY=1") == 0);
    close(fd);
    CHECK(hub_sd_notify("READY=1") == HUB_E_IO); /* nobody holds that name any more */
}

static void test_bad_addresses(void)
{
    static const char *const bad[] = {
        "notify.sock",         /* relative */
        "./notify",            /* relative */
        "run/systemd/notify",  /* relative */
        "@",                   /* abstract, no name */
        "vsock:2:1234",        /* not on systemd 252; refused rather than misread as a path */
        "~/notify",            /* no shell expansion */
        " /run/systemd/notify" /* leading space */
    };
    char longpath[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        setenv("NOTIFY_SOCKET", bad[i], 1);
        if (hub_sd_notify("READY=1") != HUB_E_INVAL) {
            fprintf(stderr, "NOTIFY_SOCKET \"%s\" was not refused\n", bad[i]);
            ++failures;
        }
    }
    /* sun_path holds 108 bytes: a path of 108 characters has no room for its NUL, an abstract name of 108 (with '@') fits */
    memset(longpath, 'a', sizeof(longpath));
    longpath[0] = '/';
    longpath[108] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    CHECK(hub_sd_notify("READY=1") == HUB_E_INVAL);
    longpath[0] = '@';
    longpath[109] = '\0';
    longpath[108] = 'a';
    setenv("NOTIFY_SOCKET", longpath, 1);
    CHECK(hub_sd_notify("READY=1") == HUB_E_INVAL);
    longpath[108] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    CHECK(hub_sd_notify("READY=1") == HUB_E_IO); /* well-formed and fits, but nobody listens */
}

static void test_bad_states(void)
{
    char path[256], big[HUB_SD_NOTIFY_MAX + 2];
    int fd;

    snprintf(path, sizeof(path), "%s/states", tmpdir);
    if ((fd = bind_receiver(path)) == -1) {
        ++failures;
        return;
    }
    setenv("NOTIFY_SOCKET", path, 1);
    CHECK(hub_sd_notify("") == HUB_E_INVAL);
    CHECK(hub_sd_notify(NULL) == HUB_E_INVAL);
    memset(big, 'x', sizeof(big));
    big[HUB_SD_NOTIFY_MAX + 1] = '\0';
    CHECK(hub_sd_notify(big) == HUB_E_INVAL);
    CHECK(hub_sd_notifyf("STATUS=%s", big) == HUB_E_TOOBIG);
    CHECK(strcmp(receive(fd), "") == 0); /* nothing refused was sent, not even a part */
    big[HUB_SD_NOTIFY_MAX] = '\0';
    CHECK(hub_sd_notify(big) == 0); /* the longest allowed */
    CHECK(strlen(receive(fd)) == HUB_SD_NOTIFY_MAX);
    close(fd);
    unlink(path);
}

/* A service manager that stops reading must not stall the node: sends fail once the queue is full. A blocking send
 * would hang here until ctest's timeout. */
static void test_full_receiver_does_not_block(void)
{
    char path[256];
    int fd, ret = 0, sent = 0, rcvbuf = 1024;

    snprintf(path, sizeof(path), "%s/full", tmpdir);
    if ((fd = bind_receiver(path)) == -1) {
        ++failures;
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    setenv("NOTIFY_SOCKET", path, 1);
    while (sent < 100000 && (ret = hub_sd_notify("STATUS=filling the queue")) == 0)
        ++sent;
    CHECK(ret == HUB_E_IO);
    CHECK(sent > 0 && sent < 100000);
    CHECK(strcmp(receive(fd), "STATUS=filling the queue") == 0);
    CHECK(hub_sd_notify("READY=1") == 0); /* room again after one read */
    close(fd);
    unlink(path);
}

int main(void)
{
    tmpdir = test_tmpdir("hub-sdnotify");
    test_unset_is_a_no_op();
    test_path_socket();
    test_abstract_socket();
    test_bad_addresses();
    test_bad_states();
    test_full_receiver_does_not_block();
    unsetenv("NOTIFY_SOCKET");
    CHECK(test_tmpdir_remove(tmpdir) == 0);
    return check_report("hub/sdnotify");
}
