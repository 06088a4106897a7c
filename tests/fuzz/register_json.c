/* libFuzzer target for RFC 7591 registration metadata (idp_register_parse in idp/register.c), as an anonymous client
 * and as a join-token holder (the node shape). A refusal names one of the registration errors and yields no client;
 * an accepted client is enabled, passes idp_client_validate again, has consistent grant and response types, at most 32
 * strictly parsed URIs per array none of which points at a forbidden (link-local, metadata) host or is a non-canonical
 * IPv4 spelling, matches each of its redirect URIs, and as a node is confidential, authorization_code, on one origin
 * (and would have been accepted without the join token too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hub/url.h"
#include "idp/client.h"
#include "idp/register.h"

static void check_uri(const char *s, const hub_url_t *origin)
{
    hub_url_t u;
    if (s == NULL || hub_url_parse(s, &u, NULL) != 0 || hub_url_forbidden_host(&u) != NULL ||
        (u.kind == HUB_HOST_IPV4 && !u.canonical) || (origin != NULL && !hub_url_same_origin(&u, origin)))
        abort();
}

static void check_uris(const idp_strv_t *sv, const hub_url_t *origin)
{
    if (sv->n > IDP_REGISTER_MAX_URIS || (sv->n != 0 && sv->v[sv->n] != NULL))
        abort();
    for (size_t i = 0; i != sv->n; ++i)
        check_uri(sv->v[i], origin);
}

static void check_client(idp_client_t *c, int as_node)
{
    hub_url_t origin, *o = NULL;
    idp_invalid_t inv;

    if (!c->enabled || c->client_id != NULL || c->secret_hash != NULL || c->app_name == NULL || c->scopes.n == 0)
        abort();
    if (idp_client_validate(c, &inv) != 0)
        abort();
    if ((c->grant_type == IDP_GRANT_IMPLICIT) != (c->response_type == IDP_RESPONSE_TOKEN))
        abort();
    if (c->auth_method == IDP_AUTH_NONE && c->grant_type == IDP_GRANT_CLIENT_CREDENTIALS)
        abort();
    if (c->grant_type != IDP_GRANT_CLIENT_CREDENTIALS && c->redirect_uris.n == 0)
        abort();
    for (size_t i = 0; i != c->scopes.n; ++i)
        if (c->scopes.v[i][0] == '\0' || strpbrk(c->scopes.v[i], "\"\\; \t\r\n") != NULL)
            abort();
    if (as_node) {
        if (c->grant_type != IDP_GRANT_AUTHORIZATION_CODE || c->auth_method == IDP_AUTH_NONE ||
            hub_url_parse(c->redirect_uris.v[0], &origin, NULL) != 0)
            abort();
        o = &origin;
    }
    check_uris(&c->redirect_uris, o);
    check_uris(&c->post_logout_redirect_uris, o);
    if (c->backchannel_logout_uri != NULL)
        check_uri(c->backchannel_logout_uri, o);
    for (size_t i = 0; i != c->redirect_uris.n; ++i) /* duplicates are dropped: each matches itself */
        if (idp_client_match_redirect(c, c->redirect_uris.v[i]) != c->redirect_uris.v[i])
            abort();
}

/* Returns HUB_OAUTH_OK or the failure, which must be one of the registration errors with a description. */
static hub_oauth_err_t parse(const uint8_t *data, size_t size, int as_node)
{
    static idp_client_t poison;
    idp_client_t *c = &poison; /* a refusal must set it to NULL */
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};
    h2o_mem_pool_t pool;
    hub_oauth_err_t err;
    int named = -1;

    h2o_mem_init_pool(&pool);
    err = idp_register_parse(&pool, (const char *)data, size, as_node, &c, &named, &fail);
    if (err == HUB_OAUTH_OK) {
        if (c == NULL || (named != 0 && named != 1) || fail.error != HUB_OAUTH_OK)
            abort();
        check_client(c, as_node);
        idp_client_free(c);
    } else {
        if (c != NULL || fail.error != err || fail.description == NULL || fail.description[0] == '\0')
            abort();
        if ((err == HUB_OAUTH_TOO_LARGE) != (size > IDP_REGISTER_MAX_BODY))
            abort();
        if (err != HUB_OAUTH_TOO_LARGE && err != HUB_OAUTH_INVALID_CLIENT_METADATA && err != HUB_OAUTH_INVALID_REDIRECT_URI)
            abort();
    }
    h2o_mem_clear_pool(&pool);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_oauth_err_t anonymous = parse(data, size, 0), node = parse(data, size, 1);
    if (node == HUB_OAUTH_OK && anonymous != HUB_OAUTH_OK)
        abort(); /* a join token only narrows what may be registered */
    return 0;
}
