/* systemd's notify protocol written out: one datagram of "KEY=VALUE" lines to $NOTIFY_SOCKET (sd_notify(3)). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "hub/err.h"
#include "hub/sdnotify.h"

/* Fills *sa from the variable's text; *len is the address length to pass to sendto. An abstract name ('@') is
 * sun_path[0] = NUL followed by the name, its length exact (abstract names are not NUL-terminated). */
static int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (name[0] == '@') {
        if (n < 2 || n > sizeof(sa->sun_path))
            return HUB_E_INVAL;
        memcpy(sa->sun_path + 1, name + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    if (name[0] != '/' || n >= sizeof(sa->sun_path))
        return HUB_E_INVAL; /* also vsock: and relative paths, which systemd 252 never hands out */
    memcpy(sa->sun_path, name, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int hub_sd_notify(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len;
    ssize_t sent;
    int fd, ret;

    if (name == NULL || name[0] == '\0')
        return 0;
    if (state == NULL || (len = strlen(state)) == 0 || len > HUB_SD_NOTIFY_MAX)
        return HUB_E_INVAL;
    if ((ret = notify_address(name, &sa, &salen)) != 0)
        return ret;
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
        return HUB_E_IO;
    do
        sent = sendto(fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
    while (sent == -1 && errno == EINTR);
    close(fd);
    return sent == (ssize_t)len ? 0 : HUB_E_IO;
}

int hub_sd_notifyf(const char *fmt, ...)
{
    char buf[HUB_SD_NOTIFY_MAX + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return HUB_E_TOOBIG;
    return hub_sd_notify(buf);
}
