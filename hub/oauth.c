/* The OAuth error table of hub/oauth.h. */
#include "hub/oauth.h"

static const struct {
    int status;
    const char *error;
} oauth_errors[] = {
#define XX(name, status, str) {status, str},
    HUB_OAUTH_ERRORS(XX)
#undef XX
};

int hub_oauth_status(hub_oauth_err_t err)
{
    return (unsigned)err < HUB_OAUTH__COUNT ? oauth_errors[err].status : 500;
}

const char *hub_oauth_error(hub_oauth_err_t err)
{
    return (unsigned)err < HUB_OAUTH__COUNT ? oauth_errors[err].error : "server_error";
}
