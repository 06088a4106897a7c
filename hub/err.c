/* Messages for the error table of hub/err.h. */
#include "hub/err.h"

const char *hub_strerror(int err)
{
    switch (err) {
    case HUB_OK:
        return "success";
#define XX(name, msg)                                                                                                              \
    case HUB_E_##name:                                                                                                             \
        return msg;
        HUB_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}
