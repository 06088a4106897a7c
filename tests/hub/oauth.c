/* Tests hub/oauth.c: HUB_OAUTH_OK is 0 and no error, every error of the table maps to a 4xx/5xx status and an RFC error
 * string, values outside the enum are server errors, and hub_oauth_fail records a failure and returns its error. */
#include <string.h>
#include "hub/oauth.h"
#include "tests/check.h"

/* An RFC 6749 error code: lower-case ASCII letters and underscores. */
static int error_code_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s != '\0'; ++s)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return 0;
    return 1;
}

static void test_ok_is_zero(void)
{
    hub_oauth_fail_t zeroed;

    CHECK(HUB_OAUTH_OK == 0);
    CHECK(hub_oauth_status(HUB_OAUTH_OK) == 200);
    CHECK(hub_oauth_error(HUB_OAUTH_OK) == NULL);
    /* a failure struct cleared with zeros holds no failure */
    memset(&zeroed, 0, sizeof(zeroed));
    CHECK(zeroed.error == HUB_OAUTH_OK && zeroed.description == NULL);
}

static void test_table(void)
{
    static const struct {
        hub_oauth_err_t err;
        int status;
        const char *error;
    } expected[] = {
        {HUB_OAUTH_INVALID_REQUEST, 400, "invalid_request"},
        {HUB_OAUTH_INVALID_CLIENT, 401, "invalid_client"},
        {HUB_OAUTH_INVALID_GRANT, 400, "invalid_grant"},
        {HUB_OAUTH_UNAUTHORIZED_CLIENT, 400, "unauthorized_client"},
        {HUB_OAUTH_UNSUPPORTED_GRANT_TYPE, 400, "unsupported_grant_type"},
        {HUB_OAUTH_UNSUPPORTED_RESPONSE_TYPE, 400, "unsupported_response_type"},
        {HUB_OAUTH_INVALID_SCOPE, 400, "invalid_scope"},
        {HUB_OAUTH_ACCESS_DENIED, 403, "access_denied"},
        {HUB_OAUTH_SERVER_ERROR, 500, "server_error"},
        {HUB_OAUTH_TEMPORARILY_UNAVAILABLE, 503, "temporarily_unavailable"},
        {HUB_OAUTH_INVALID_TOKEN, 401, "invalid_token"},
        {HUB_OAUTH_INSUFFICIENT_SCOPE, 403, "insufficient_scope"},
        {HUB_OAUTH_LOGIN_REQUIRED, 400, "login_required"},
        {HUB_OAUTH_CONSENT_REQUIRED, 400, "consent_required"},
        {HUB_OAUTH_INTERACTION_REQUIRED, 400, "interaction_required"},
        {HUB_OAUTH_INVALID_REDIRECT_URI, 400, "invalid_redirect_uri"},
        {HUB_OAUTH_INVALID_CLIENT_METADATA, 400, "invalid_client_metadata"},
        {HUB_OAUTH_UNSUPPORTED_TOKEN_TYPE, 400, "unsupported_token_type"},
        {HUB_OAUTH_METHOD_NOT_ALLOWED, 405, "invalid_request"},
        {HUB_OAUTH_NOT_FOUND, 404, "not_found"},
        {HUB_OAUTH_TOO_LARGE, 413, "invalid_request"},
        {HUB_OAUTH_TOO_MANY_REQUESTS, 429, "slow_down"},
        {HUB_OAUTH_TOKEN_MISSING, 401, "invalid_token"},
    };
    size_t i;

    CHECK(sizeof(expected) / sizeof(expected[0]) == HUB_OAUTH__COUNT - 1); /* every error, once */
    for (i = 0; i != sizeof(expected) / sizeof(expected[0]); ++i) {
        CHECK(expected[i].err != HUB_OAUTH_OK);
        CHECK(hub_oauth_status(expected[i].err) == expected[i].status);
        CHECK(strcmp(hub_oauth_error(expected[i].err), expected[i].error) == 0);
    }
    for (i = 1; i != HUB_OAUTH__COUNT; ++i) {
        int status = hub_oauth_status((hub_oauth_err_t)i);
        CHECK(status >= 400 && status <= 599);
        CHECK(error_code_ok(hub_oauth_error((hub_oauth_err_t)i)));
    }
}

static void test_outside_the_enum(void)
{
    static const int values[] = {-1, -1000, HUB_OAUTH__COUNT, HUB_OAUTH__COUNT + 1, 1 << 30};

    for (size_t i = 0; i != sizeof(values) / sizeof(values[0]); ++i) {
        CHECK(hub_oauth_status((hub_oauth_err_t)values[i]) == 500);
        CHECK(strcmp(hub_oauth_error((hub_oauth_err_t)values[i]), "server_error") == 0);
    }
}

static void test_fail(void)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    CHECK(hub_oauth_fail(&fail, HUB_OAUTH_INVALID_GRANT, "code already used") == HUB_OAUTH_INVALID_GRANT);
    CHECK(fail.error == HUB_OAUTH_INVALID_GRANT && strcmp(fail.description, "code already used") == 0);
    /* the last one recorded counts; a description may be absent */
    CHECK(hub_oauth_fail(&fail, HUB_OAUTH_INVALID_REQUEST, NULL) == HUB_OAUTH_INVALID_REQUEST);
    CHECK(fail.error == HUB_OAUTH_INVALID_REQUEST && fail.description == NULL);
    /* recording HUB_OAUTH_OK clears it */
    CHECK(hub_oauth_fail(&fail, HUB_OAUTH_OK, NULL) == HUB_OAUTH_OK && fail.error == HUB_OAUTH_OK);
}

int main(void)
{
    test_ok_is_zero();
    test_table();
    test_outside_the_enum();
    test_fail();
    return check_report("hub/oauth");
}
