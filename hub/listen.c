/* The node's listening sockets (hub/listen.h): an SO_REUSEPORT listener per loop thread, and the cap on client
 * connections the open-file limit allows. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/listen.h"
#include "hub/log.h"

#define CONNS_DEFAULT_MAX 4096
#define CONNS_FD_RESERVE 64 /* descriptors kept for the store, logs, outbound calls */

/* SO_REUSEPORT lets any process of the same user bind a port already served, and the kernel
 * would then split connections between two nodes. A probe bind without it fails with
 * EADDRINUSE when something already listens there. */
static int port_is_free(const struct addrinfo *ai)
{
    int fd, on = 1, ok;
    if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) == -1)
        return 1; /* let the real bind report the problem */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno != EADDRINUSE;
    close(fd);
    return ok;
}

int hub_listen_open(const hub_config_t *cfg, int probe, int *out)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    int fd = -1, on = 1, ret = HUB_E_IO;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", cfg->node.listen_port);
    if (getaddrinfo(cfg->node.listen_host, port, &hints, &res) != 0 || res == NULL) {
        hub_log_error("node.listen: cannot resolve %s", cfg->node.listen_host);
        goto out;
    }
    if (probe && !port_is_free(res)) {
        hub_log_error("node.listen: %s:%u is already in use", cfg->node.listen_host, cfg->node.listen_port);
        goto out;
    }
    if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        hub_log_error("node.listen: cannot listen on %s:%u: %s", cfg->node.listen_host, cfg->node.listen_port, strerror(errno));
        goto out;
    }
    *out = fd;
    fd = -1;
    ret = 0;
out:
    if (fd != -1)
        close(fd);
    if (res != NULL)
        freeaddrinfo(res);
    return ret;
}

unsigned hub_listen_cap(const hub_config_t *cfg)
{
    struct rlimit rl;
    uint64_t fds = 1024, cap;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t was = rl.rlim_cur;
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                rl.rlim_cur = was;
        }
        fds = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : (uint64_t)rl.rlim_cur;
    }
    if (cfg->node.max_connections != 0) {
        cap = cfg->node.max_connections;
        if (cap * 2 + CONNS_FD_RESERVE > fds)
            hub_log_warn("node.max_connections %llu may need more descriptors than the open-file limit %llu allows",
                         (unsigned long long)cap, (unsigned long long)fds);
    } else {
        cap = fds > CONNS_FD_RESERVE + 2 ? (fds - CONNS_FD_RESERVE) / 2 : 1;
        if (cap > CONNS_DEFAULT_MAX)
            cap = CONNS_DEFAULT_MAX;
    }
    hub_log_info("at most %llu client connections at once (open-file limit %llu)", (unsigned long long)cap,
                 (unsigned long long)fds);
    return (unsigned)cap;
}
