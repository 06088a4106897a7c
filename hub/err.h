/* Error codes shared by every module: 0 is success, failures are the negative values below. */
#ifndef HUB_ERR_H
#define HUB_ERR_H

/* One table of internal errors (libuv's UV_ERRNO_MAP style). OAuth protocol errors are a
 * separate enum in hub/oauth.h and are never mixed with these. */
#define HUB_ERRNO_MAP(XX)                                                                                                          \
    XX(NOMEM, "out of memory")                                                                                                     \
    XX(INVAL, "invalid argument")                                                                                                  \
    XX(NOTFOUND, "not found")                                                                                                      \
    XX(EXISTS, "already exists")                                                                                                   \
    XX(IO, "input/output error")                                                                                                   \
    XX(STORE, "storage error")                                                                                                     \
    XX(MAPFULL, "storage map full")                                                                                                \
    XX(CRYPTO, "cryptographic error")                                                                                              \
    XX(EXPIRED, "expired")                                                                                                         \
    XX(DENIED, "denied")                                                                                                           \
    XX(TOOBIG, "too large")                                                                                                        \
    XX(PARSE, "malformed input")                                                                                                   \
    XX(BADSIG, "bad signature")                                                                                                    \
    XX(TIMEOUT, "timed out")                                                                                                       \
    XX(NET, "network error")                                                                                                       \
    XX(CONFIG, "configuration error")                                                                                              \
    XX(VERSION, "unsupported data version")                                                                                        \
    XX(BUSY, "busy")                                                                                                               \
    XX(UNAVAILABLE, "the database is unreachable")                                                                                 \
    XX(CANCELLED, "dropped unrun: the node stops")

typedef enum {
    HUB_OK = 0,
#define XX(name, msg) HUB_E_##name,
    HUB__E_START = -1000,
    HUB_ERRNO_MAP(XX)
#undef XX
} hub_err_t;

/* A static, human-readable message for an error code (never NULL). */
const char *hub_strerror(int err);

#endif
