/* The OAuth error table of hub/oauth.h. */
#include <stddef.h>
#include "hub/oauth.h"

static const struct {
    int status;
    const char *error;
} oauth_errors[HUB_OAUTH__COUNT] = {[HUB_OAUTH_OK] = {200, NULL},
#define XX(name, status, str) [HUB_OAUTH_##name] = {status, str},
                                    HUB_OAUTH_ERRORS(XX)
#undef XX
};

hub_oauth_err_t hub_oauth_fail(hub_oauth_fail_t *fail, hub_oauth_err_t error, const char *description)
{
    fail->error = error;
    fail->description = description;
    return error;
}

int hub_oauth_status(hub_oauth_err_t err)
{
    return (unsigned)err < HUB_OAUTH__COUNT ? oauth_errors[err].status : 500;
}

const char *hub_oauth_error(hub_oauth_err_t err)
{
    return (unsigned)err < HUB_OAUTH__COUNT ? oauth_errors[err].error : "server_error";
}
