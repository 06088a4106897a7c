/* Telling the service manager about the node's state: systemd's notify protocol (sd_notify(3)) without libsystemd. */
#ifndef HUB_SDNOTIFY_H
#define HUB_SDNOTIFY_H

#define HUB_SD_NOTIFY_MAX 1024 /* longest state text sent, NUL excluded */

/* Sends state (newline-separated assignments such as "READY=1\nSTATUS=listening") as one datagram to the AF_UNIX
 * socket named by $NOTIFY_SOCKET: a filesystem path ("/run/...") or, with a leading '@', an abstract-namespace name.
 * Never blocks. Returns 0 when sent or when NOTIFY_SOCKET is unset or empty (not run by systemd: nothing to tell);
 * HUB_E_INVAL when the variable names no usable socket (neither an absolute path nor "@name", or too long for
 * sun_path) or state is empty or longer than HUB_SD_NOTIFY_MAX; HUB_E_IO when the datagram could not be sent. Thread-safe. */
int hub_sd_notify(const char *state);

/* hub_sd_notify with a printf-style state; the same results (HUB_E_TOOBIG when the text is longer than
 * HUB_SD_NOTIFY_MAX). */
int hub_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
