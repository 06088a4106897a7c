/* The consent page and its CSRF-protected decision, /oauth2/approve (SPEC §4 consent): Allow issues what the request
 * asked for, Deny answers access_denied; the decision carries the authorization request again, checked as anew. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/form.h"
#include "hub/page.h"
#include "hub/resp.h"
#include "idp/approve.h"
#include "idp/claims.h"
#include "idp/csrf.h"
#include "idp/endpoint.h"
#include "idp/issue.h"
#include "hub/util.h"

/* What each scope discloses, for the consent page. */
static const struct {
    const char *scope, *what;
} scope_texts[] = {
    {"openid", "Your identity (a stable identifier for your account)"},
    {"profile", "Your name and picture"},
    {"email", "Your e-mail address"},
    {"roles", "Your roles"},
};

static int known_scope(const char *word)
{
    for (size_t i = 0; i != sizeof(scope_texts) / sizeof(scope_texts[0]); ++i)
        if (strcmp(scope_texts[i].scope, word) == 0)
            return 1;
    return 0;
}

static void put_html(FILE *f, h2o_req_t *req, const char *s)
{
    h2o_iovec_t e = hub_html_escape(&req->pool, s, strlen(s));
    fwrite(e.base, 1, e.len, f);
}

static void hidden(FILE *f, h2o_req_t *req, const char *name, const char *value)
{
    if (value == NULL)
        return;
    fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    put_html(f, req, value);
    fputs("\">\n", f);
}

void idp_consent_send(idp_authz_t *a)
{
    const idp_user_t *user = a->user;
    char *buf = NULL;
    size_t len = 0, i;
    const char *s = a->scope, *csrf = idp_csrf_token(a->idp, a->req, a->session, IDP_CSRF_APPROVE);
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        hub_oom();
    hub_page_open(f, a->req,
                  h2o_concat(&a->req->pool, h2o_iovec_init(H2O_STRLIT("Authorize ")),
                             h2o_iovec_init(a->client->app_name, strlen(a->client->app_name)))
                      .base);
    fputs("<main class=\"narrow\">\n<div class=\"card\">\n<h1 id=\"app\">", f);
    put_html(f, a->req, a->client->app_name);
    fputs("</h1>\n<p>wants to access your account", f);
    if (user->username != NULL) {
        fputs(" <strong id=\"user\">", f);
        put_html(f, a->req, user->username);
        fputs("</strong>", f);
    }
    fputs(". It will be able to see:</p>\n<ul id=\"scopes\">\n", f);
    /* what the scope discloses to this client (for a Frappe site, openid alone shows name, e-mail, picture and roles) */
    for (i = 0; i != sizeof(scope_texts) / sizeof(scope_texts[0]); ++i)
        if (idp_scope_discloses(a->client, a->scope, scope_texts[i].scope))
            fprintf(f, "<li>%s</li>\n", scope_texts[i].what);
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        char *word = h2o_strdup(&a->req->pool, s, n).base;
        if (!known_scope(word)) {
            fputs("<li>Access named ", f);
            put_html(f, a->req, word);
            fputs("</li>\n", f);
        }
        s += n;
        s += *s == ' ';
    }
    fputs("</ul>\n<form method=\"post\" action=\"" IDP_PATH_APPROVE "\">\n", f);
    hidden(f, a->req, "csrf_token", csrf);
    hidden(f, a->req, "client_id", a->v[IDP_AUTHZ_CLIENT_ID]);
    hidden(f, a->req, "response_type", a->v[IDP_AUTHZ_RESPONSE_TYPE]);
    hidden(f, a->req, "redirect_uri", a->v[IDP_AUTHZ_REDIRECT_URI]);
    hidden(f, a->req, "scope", a->scope);
    hidden(f, a->req, "state", a->v[IDP_AUTHZ_STATE]);
    hidden(f, a->req, "nonce", a->v[IDP_AUTHZ_NONCE]);
    hidden(f, a->req, "code_challenge", a->v[IDP_AUTHZ_CHALLENGE]);
    hidden(f, a->req, "code_challenge_method", a->v[IDP_AUTHZ_CHALLENGE_METHOD]);
    fputs("<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
          "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></div>\n</form>\n</div>\n"
          "</main>\n</body></html>\n",
          f);
    if (fclose(f) != 0 || buf == NULL)
        hub_oom();
    hub_send_html_csp(a->req, 200, HUB_PAGE_CSP_FORMS, buf, len); /* copied */
    free(buf);
}

/* The decision of the user of a's session (whose CSRF token the form carried). Returns 1 when a was handed over to
 * idp_authz_issue, 0 when the caller frees it. */
static int approve(idp_authz_t *a)
{
    const char *decision = hub_form_get(&a->form, "decision");

    if (decision == NULL || hub_form_count(&a->form, "decision") != 1 ||
        (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0)) {
        idp_authz_send_error(a, HUB_OAUTH_INVALID_REQUEST, "decision must be allow or deny");
    } else if (strcmp(decision, "deny") == 0) {
        idp_authz_send_error(a, HUB_OAUTH_ACCESS_DENIED, "the user denied the request");
    } else if (!idp_client_allows_user(a->client, a->user)) {
        idp_authz_send_error(a, HUB_OAUTH_ACCESS_DENIED, "your account may not use this application");
    } else {
        idp_authz_issue(a, 1);
        return 1;
    }
    return 0;
}

/* Once the store was read. The token is bound to the session that saw the consent page. Without a live session
 * nothing can be approved: the browser is sent to sign in, and the resumed authorization asks again. */
static void on_read(idp_authz_t *a)
{
    int taken = 0;

    if (a->session != NULL && !idp_csrf_ok(a->idp, a->req, a->session, IDP_CSRF_APPROVE, &a->form))
        hub_send_html_error(a->req, 400, "Invalid request",
                            "The form has expired or did not come from this site. Please try again.");
    else if (idp_authz_check(a) != 0)
        ;
    else if (a->session == NULL || a->user == NULL)
        idp_authz_send_to_login(a, 0);
    else
        taken = approve(a);
    if (!taken)
        idp_authz_free(a);
}

static int on_approve(void *data, h2o_req_t *req)
{
    hub_form_t form = {NULL, 0};

    if (hub_form_parse_body(&req->pool, req, &form) != 0) {
        hub_send_html_error(req, 400, "Invalid request", "The form could not be read.");
        return 0;
    }
    idp_authz_start(data, req, &form, on_read);
    return 0;
}

void idp_approve_register(idp_t *idp)
{
    idp_endpoint_route(idp, IDP_EP_APPROVE, on_approve);
}
