/* Tests hub/listen.c: hub_listen_open binds a listening, close-on-exec, SO_REUSEPORT, TCP_NODELAY socket on
 * node.listen that accepts connections; a node's further loops share the port (no probe), while the probe of a node's
 * first listener refuses a port another socket listens on (with or without SO_REUSEPORT, the case the probe exists
 * for) and names it in the log; an address the host does not have fails; and hub_listen_cap raises the soft open-file
 * limit to the hard one and derives the connection cap from it (descriptors / 2 after a reserve, at least 1, at most
 * 4096), or takes node.max_connections as set. Loopback only. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/listen.h"
#include "hub/log.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static char *tmpdir;

/* A socket of our own on 127.0.0.1:port (0: any free one) with or without SO_REUSEPORT, listening when asked; its port
 * in *port. */
static int own_socket(uint16_t *port, int reuseport, int do_listen)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(*port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

    if (fd == -1 || (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || (do_listen && listen(fd, 8) != 0) ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        abort();
    *port = ntohs(sin.sin_port);
    return fd;
}

/* A port nothing uses now (bound and released at once). */
static uint16_t free_port(void)
{
    uint16_t port = 0;
    close(own_socket(&port, 0, 0));
    return port;
}

static int opt(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof(v);
    return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

static int connects(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = fd != -1 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
    if (fd != -1)
        close(fd);
    return ok;
}

/* hub_listen_open on host:port with stderr captured; *log gets what was logged (static, cut to its size). */
static int open_logged(hub_config_t *cfg, const char *host, uint16_t port, int probe, int *fd, const char **log)
{
    static char text[1024];
    char path[512];
    int saved = dup(2), out, ret;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/log", tmpdir);
    if ((out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
        abort();
    free(cfg->node.listen_host);
    cfg->node.listen_host = strdup(host);
    cfg->node.listen_port = port;
    *fd = -1;
    dup2(out, 2);
    ret = hub_listen_open(cfg, probe, fd);
    dup2(saved, 2);
    close(saved);
    n = pread(out, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(out);
    *log = text;
    return ret;
}

static void check_listener(int fd, uint16_t port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    CHECK(fd >= 0 && opt(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1 && opt(fd, SOL_SOCKET, SO_REUSEPORT) == 1);
    CHECK(opt(fd, IPPROTO_TCP, TCP_NODELAY) == 1 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0 && sin.sin_family == AF_INET && ntohs(sin.sin_port) == port &&
          sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
}

static void test_node_listeners(hub_config_t *cfg)
{
    const char *log;
    int first = -1, second = -1, other = -1, ret = -1;
    uint16_t port = 0;

    for (int tries = 0; tries != 5 && ret != 0; ++tries) /* a port another test took in between: take another */
        ret = open_logged(cfg, "127.0.0.1", port = free_port(), 1, &first, &log);
    CHECK(ret == 0);
    check_listener(first, port);
    CHECK(connects(port));
    /* the node's next loop shares the port */
    CHECK(open_logged(cfg, "127.0.0.1", port, 0, &second, &log) == 0);
    check_listener(second, port);
    /* a second node on the same port: its probe refuses, and nothing is left open */
    CHECK(open_logged(cfg, "127.0.0.1", port, 1, &other, &log) == HUB_E_IO && other == -1);
    CHECK(strstr(log, "node.listen: 127.0.0.1:") != NULL && strstr(log, "is already in use") != NULL);
    close(first);
    close(second);
    /* nothing listens any more: a node may start there again */
    CHECK(open_logged(cfg, "127.0.0.1", port, 1, &first, &log) == 0 && *log == '\0');
    check_listener(first, port);
    close(first);
}

static void test_foreign_listeners(hub_config_t *cfg)
{
    const char *log;
    int fd = -1;

    /* a socket that shares ports (another process of this user, another hub node): only the probe keeps the two apart */
    for (int reuseport = 1; reuseport >= 0; --reuseport) {
        uint16_t port = 0;
        int theirs = own_socket(&port, reuseport, 1);
        CHECK(open_logged(cfg, "127.0.0.1", port, 1, &fd, &log) == HUB_E_IO && fd == -1);
        CHECK(strstr(log, "is already in use") != NULL);
        int shared = open_logged(cfg, "127.0.0.1", port, 0, &fd, &log);
        CHECK(reuseport ? shared == 0 : shared == HUB_E_IO && strstr(log, "cannot listen on 127.0.0.1:") != NULL);
        if (fd != -1)
            close(fd);
        close(theirs);
    }
    /* an address this host does not have (TEST-NET-1): bind fails, nothing is sent anywhere */
    CHECK(open_logged(cfg, "192.0.2.1", free_port(), 1, &fd, &log) == HUB_E_IO && fd == -1);
    CHECK(strstr(log, "cannot listen on 192.0.2.1:") != NULL);
    /* IPv6 loopback, when the host has it */
    int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (v6 != -1 && bind(v6, (struct sockaddr *)&sin6, sizeof(sin6)) == 0) {
        socklen_t len = sizeof(sin6);
        getsockname(v6, (struct sockaddr *)&sin6, &len);
        uint16_t port = ntohs(sin6.sin6_port);
        close(v6);
        v6 = -1;
        CHECK(open_logged(cfg, "::1", port, 1, &fd, &log) == 0 && opt(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1);
        len = sizeof(sin6);
        CHECK(getsockname(fd, (struct sockaddr *)&sin6, &len) == 0 && sin6.sin6_family == AF_INET6 &&
              ntohs(sin6.sin6_port) == port);
        close(fd);
    }
    if (v6 != -1)
        close(v6);
}

/* The cap for a hard open-file limit of hard descriptors (the soft one set below it first), max_connections unset. */
static unsigned cap_at(hub_config_t *cfg, rlim_t hard, rlim_t soft)
{
    struct rlimit rl = {soft, hard};
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    cfg->node.max_connections = 0;
    unsigned cap = hub_listen_cap(cfg);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == hard); /* raised to the hard limit */
    return cap;
}

static void test_cap(hub_config_t *cfg)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t hard = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
    if (hard < 2000) {
        fprintf(stderr, "hub/listen: hard open-file limit %llu: the cap cases need 2000\n", (unsigned long long)hard);
        CHECK(0);
        return;
    }
    /* from the highest limit down: an unprivileged process cannot raise its hard limit again */
    CHECK(cap_at(cfg, hard, 256) == (hard >= 8256 ? 4096 : (hard - 64) / 2));
    CHECK(cap_at(cfg, 2000, 100) == 968);
    CHECK(cap_at(cfg, 1000, 1000) == 468);
    CHECK(cap_at(cfg, 200, 80) == 68);
    CHECK(cap_at(cfg, 70, 70) == 3);
    CHECK(cap_at(cfg, 67, 67) == 1);
    CHECK(cap_at(cfg, 66, 40) == 1); /* nothing left after the reserve: still one */
    /* set by hand: taken as it is, however few descriptors there are (a warning says so) */
    static const unsigned set[] = {1, 500, 100000};
    for (size_t i = 0; i != sizeof(set) / sizeof(set[0]); ++i) {
        cfg->node.max_connections = set[i];
        CHECK(hub_listen_cap(cfg) == set[i]);
    }
}

int main(void)
{
    hub_config_t cfg;

    tmpdir = test_tmpdir("listen");
    hub_log_init(HUB_LOG_WARN, "listen");
    hub_config_defaults(&cfg);
    test_node_listeners(&cfg);
    test_foreign_listeners(&cfg);
    test_cap(&cfg);
    hub_config_dispose(&cfg);
    CHECK(test_tmpdir_remove(tmpdir) == 0);
    return check_report("hub/listen");
}
