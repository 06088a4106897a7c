/* The authorization endpoint, /oauth2/authorize and its Frappe alias (RFC 6749 §4.1/§4.2, OIDC Core §3): a request
 * checked (idp/authz.c) goes to the sign-in page, to the consent page (idp/approve.c) or straight to issuing
 * (idp/issue.c), as the session, prompt, max_age and the consent already given decide. */
#include <string.h>
#include "hub/clock.h"
#include "hub/form.h"
#include "hub/resp.h"
#include "idp/approve.h"
#include "idp/authorize.h"
#include "idp/endpoint.h"
#include "idp/issue.h"

static void authorize(idp_authz_t *a)
{
    idp_session_t *s = idp_session_current(a->idp, a->req);
    idp_user_t *user = NULL;
    uint64_t now = hub_now();
    int needs_consent = 0;

    if (s != NULL && ((a->prompt & IDP_AUTHZ_PROMPT_LOGIN) != 0 ||
                      (a->max_age >= 0 && now > s->auth_time && now - s->auth_time > (uint64_t)a->max_age))) {
        if (a->auth_after == 0) {
            if ((a->prompt & IDP_AUTHZ_PROMPT_NONE) != 0)
                goto login_required;
            idp_authz_send_to_login(a, 1);
            goto out;
        }
        if (s->auth_time < a->auth_after) /* came back without signing in again: do not loop */
            goto login_required;
    }
    if (s == NULL || idp_authz_load_user(a, s, &user, &needs_consent) != 0) {
        if ((a->prompt & IDP_AUTHZ_PROMPT_NONE) != 0)
            goto login_required;
        idp_authz_send_to_login(a, (a->prompt & IDP_AUTHZ_PROMPT_LOGIN) != 0 || a->max_age >= 0);
        goto out;
    }
    if (!idp_client_allows_user(a->client, user)) {
        idp_authz_send_error(a, HUB_OAUTH_ACCESS_DENIED, "your account may not use this application");
    } else if (!needs_consent) {
        idp_authz_issue(a, s, user, 0);
    } else if ((a->prompt & IDP_AUTHZ_PROMPT_NONE) != 0) {
        idp_authz_send_error(a, HUB_OAUTH_CONSENT_REQUIRED, "the user has not approved this application");
    } else {
        idp_consent_send(a, s, user);
    }
    goto out;
login_required:
    idp_authz_send_error(a, HUB_OAUTH_LOGIN_REQUIRED, "the user must sign in");
out:
    if (user != NULL)
        idp_user_free(user);
    if (s != NULL)
        idp_session_free(s);
}

static int on_authorize(void *data, h2o_req_t *req)
{
    idp_t *idp = data;
    hub_form_t form = {NULL, 0};
    idp_authz_t a = {NULL};
    int ret;

    if (hub_method_is(req, "GET"))
        ret = hub_form_parse_query(&req->pool, req, &form);
    else
        ret = hub_form_parse_body(&req->pool, req, &form); /* POST */
    if (ret != 0) {
        hub_send_html_error(req, 400, "Invalid authorization request", "The request parameters could not be read.");
        return 0;
    }
    if (idp_authz_begin(&a, idp, req, &form) == 0)
        authorize(&a);
    idp_authz_dispose(&a);
    return 0;
}

void idp_authorize_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_AUTHORIZE, on_authorize);
}
