/* The authorization endpoint, /oauth2/authorize and its Frappe alias (RFC 6749 §4.1/§4.2, OIDC Core §3): a request
 * checked (idp/authz.c) goes to the sign-in page, to the consent page (idp/approve.c) or straight to issuing
 * (idp/issue.c), as the session, prompt, max_age and the consent already given decide. */
#include <string.h>
#include "hub/form.h"
#include "hub/resp.h"
#include "idp/approve.h"
#include "idp/authorize.h"
#include "idp/endpoint.h"
#include "idp/issue.h"

/* The answer to a's request, checked, with the browser's session and user as the read found them: to sign in, to the
 * consent page, or issued. Returns 1 when a was handed over to idp_authz_issue, 0 when the caller frees it. */
static int authorize(idp_authz_t *a)
{
    hub_oauth_fail_t fail = {HUB_OAUTH_OK, NULL};

    switch (idp_authz_route(a, &fail)) {
    case IDP_AUTHZ_TO_ISSUE:
        idp_authz_issue(a, 0);
        return 1;
    case IDP_AUTHZ_TO_LOGIN:
        idp_authz_send_to_login(a, 0);
        break;
    case IDP_AUTHZ_TO_FRESH_LOGIN:
        idp_authz_send_to_login(a, 1);
        break;
    case IDP_AUTHZ_TO_CONSENT:
        idp_consent_send(a);
        break;
    case IDP_AUTHZ_TO_ERROR:
        idp_authz_send_error(a, fail.error, fail.description);
        break;
    }
    return 0;
}

/* Once the store was read. */
static void on_read(idp_authz_t *a)
{
    if (idp_authz_check(a) != 0 || !authorize(a))
        idp_authz_free(a);
}

static int on_authorize(void *data, h2o_req_t *req)
{
    hub_form_t form = {NULL, 0};
    int ret;

    if (hub_method_is(req, "GET"))
        ret = hub_form_parse_query(&req->pool, req, &form);
    else
        ret = hub_form_parse_body(&req->pool, req, &form); /* POST */
    if (ret != 0) {
        hub_send_html_error(req, 400, "Invalid authorization request", "The request parameters could not be read.");
        return 0;
    }
    idp_authz_start(data, req, &form, on_read);
    return 0;
}

void idp_authorize_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_AUTHORIZE, on_authorize);
}
