/* An operator's change to an OAuth client (hubctl client add/update/rotate-secret, the admin console): values applied
 * to the stored client, a Frappe site filled in, a secret made when needed, validation as a whole, the write. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <h2o.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/client_edit.h"
#include "idp/frappe_site.h"
#include "idp/node.h"
#include "idp/role.h"

void idp_client_edit_init(idp_client_edit_t *e)
{
    memset(e, 0, sizeof(*e));
    idp_strv_split(&e->service_roles, "", 0);
}

void idp_client_edit_dispose(idp_client_edit_t *e)
{
    idp_strv_free(&e->service_roles);
    free(e->frappe_site);
    e->frappe_site = NULL;
}

int idp_client_edit_set(idp_client_edit_t *e, idp_cedit_t what, const char *value, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];

    if ((unsigned)what >= IDP_CEDIT__COUNT || value == NULL)
        return idp_invalid(inv, IDP_FIELD_NONE, "no such client field");
    switch (what) {
    case IDP_CEDIT_GRANT:
        if (idp_grant_type_parse(value, &e->grant) != 0)
            return idp_invalid(inv, IDP_FIELD_GRANT_TYPE, "\"%s\" is not authorization_code, implicit or client_credentials",
                               idp_quote(q, sizeof(q), value));
        break;
    case IDP_CEDIT_RESPONSE:
        if (idp_response_type_parse(value, &e->response) != 0)
            return idp_invalid(inv, IDP_FIELD_RESPONSE_TYPE, "\"%s\" is not code or token", idp_quote(q, sizeof(q), value));
        break;
    case IDP_CEDIT_AUTH:
        if (idp_auth_method_parse(value, &e->auth) != 0)
            return idp_invalid(inv, IDP_FIELD_AUTH_METHOD, "\"%s\" is not client_secret_basic, client_secret_post or none",
                               idp_quote(q, sizeof(q), value));
        break;
    case IDP_CEDIT_SERVICE_ROLES: {
        idp_strv_t more;
        idp_strv_split(&more, value, 0);
        for (size_t i = 0; i != more.n; ++i)
            idp_strv_add(&e->service_roles, more.v[i]);
        idp_strv_free(&more);
        break;
    }
    case IDP_CEDIT_FRAPPE_SITE:
        free(e->frappe_site);
        e->frappe_site = NULL;
        if (idp_frappe_site_parse(value, &e->frappe_site, inv) != 0)
            return HUB_E_INVAL;
        break;
    default:
        break;
    }
    e->value[what] = value;
    return 0;
}

idp_client_t *idp_client_new(void)
{
    idp_client_t *c = hub_xcalloc(1, sizeof(*c));
    c->enabled = 1;
    idp_strv_split(&c->scopes, IDP_CLIENT_DEFAULT_SCOPES, 1);
    idp_strv_split(&c->redirect_uris, "", 1);
    idp_strv_split(&c->allowed_roles, "", 0);
    idp_strv_split(&c->service_roles, "", 0);
    idp_strv_split(&c->post_logout_redirect_uris, "", 1);
    return c;
}

/* Replaces *dst with a copy of s, or NULL when s is empty (an empty value clears an optional URI). */
static void set_text(char **dst, const char *s)
{
    free(*dst);
    *dst = s != NULL && s[0] != '\0' ? hub_strdup(s) : NULL;
}

static void set_list(idp_strv_t *sv, const char *value, int ws)
{
    idp_strv_free(sv);
    idp_strv_split(sv, value, ws);
}

/* The URIs (and a Frappe site, whose login URIs always stay first). */
static void apply_uris(const idp_client_edit_t *e, idp_client_t *c)
{
    const char *const *v = e->value;

    if (v[IDP_CEDIT_REDIRECT_URIS] != NULL) {
        set_list(&c->redirect_uris, v[IDP_CEDIT_REDIRECT_URIS], 1);
        if (c->default_redirect_uri != NULL && !idp_strv_has(&c->redirect_uris, c->default_redirect_uri))
            set_text(&c->default_redirect_uri, NULL); /* becomes the first of the new list */
    }
    if (v[IDP_CEDIT_NO_FRAPPE_SITE] != NULL)
        set_text(&c->frappe_site, NULL); /* its URIs and auth method stay until changed */
    /* a Frappe site's redirect URIs given are extra ones (a Connected App's callback): its login URIs always stay */
    if (e->frappe_site != NULL || (v[IDP_CEDIT_REDIRECT_URIS] != NULL && c->frappe_site != NULL))
        idp_client_set_frappe_site(c, e->frappe_site != NULL ? e->frappe_site : c->frappe_site);
    if (v[IDP_CEDIT_DEFAULT_REDIRECT] != NULL)
        set_text(&c->default_redirect_uri, v[IDP_CEDIT_DEFAULT_REDIRECT]);
    if (v[IDP_CEDIT_BACKCHANNEL] != NULL)
        set_text(&c->backchannel_logout_uri, v[IDP_CEDIT_BACKCHANNEL]);
    if (v[IDP_CEDIT_POST_LOGOUT] != NULL)
        set_list(&c->post_logout_redirect_uris, v[IDP_CEDIT_POST_LOGOUT], 1);
}

/* The kinds, flags and roles. */
static void apply_kinds(const idp_client_edit_t *e, idp_client_t *c)
{
    const char *const *v = e->value;

    if (v[IDP_CEDIT_GRANT] != NULL) {
        c->grant_type = e->grant;
        if (v[IDP_CEDIT_RESPONSE] == NULL) /* the type that pairs with it */
            c->response_type = e->grant == IDP_GRANT_IMPLICIT ? IDP_RESPONSE_TOKEN : IDP_RESPONSE_CODE;
    }
    if (v[IDP_CEDIT_RESPONSE] != NULL)
        c->response_type = e->response;
    if (v[IDP_CEDIT_SKIP] != NULL || v[IDP_CEDIT_NO_SKIP] != NULL)
        c->skip_authorization = v[IDP_CEDIT_SKIP] != NULL;
    if (v[IDP_CEDIT_INTROSPECT_ANY] != NULL || v[IDP_CEDIT_NO_INTROSPECT_ANY] != NULL)
        c->introspect_any = v[IDP_CEDIT_INTROSPECT_ANY] != NULL;
    if (v[IDP_CEDIT_AUTH] != NULL)
        c->auth_method = e->auth;
    if (v[IDP_CEDIT_ALLOWED_ROLES] != NULL)
        set_list(&c->allowed_roles, v[IDP_CEDIT_ALLOWED_ROLES], 0);
    if (v[IDP_CEDIT_SERVICE_ROLES] != NULL) {
        set_list(&c->service_roles, "", 0);
        for (size_t i = 0; i != e->service_roles.n; ++i)
            idp_strv_add(&c->service_roles, e->service_roles.v[i]);
    }
}

void idp_client_edit_apply(const idp_client_edit_t *e, idp_client_t *c, char secret[IDP_CLIENT_SECRET_LEN + 1])
{
    secret[0] = '\0';
    if (e->value[IDP_CEDIT_APP_NAME] != NULL)
        set_text(&c->app_name, e->value[IDP_CEDIT_APP_NAME]);
    apply_uris(e, c);
    if (e->value[IDP_CEDIT_SCOPES] != NULL)
        set_list(&c->scopes, e->value[IDP_CEDIT_SCOPES], 1);
    apply_kinds(e, c);
    if (c->auth_method == IDP_AUTH_NONE)
        set_text(&c->secret_hash, NULL);
    else if (c->secret_hash == NULL)
        idp_client_new_secret(c, secret);
}

static int no_client(const char *client_id, idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    idp_invalid(inv, IDP_FIELD_CLIENT_ID, "no client \"%s\"", idp_quote(q, sizeof(q), client_id));
    return HUB_E_NOTFOUND;
}

int idp_client_edit_save(hub_txn_t *txn, const idp_client_edit_t *e, const char *client_id, idp_client_t **out,
                         char secret[IDP_CLIENT_SECRET_LEN + 1], idp_invalid_t *inv)
{
    idp_client_t *c = NULL;
    int ret;

    secret[0] = '\0';
    if (out != NULL)
        *out = NULL;
    if (client_id == NULL)
        c = idp_client_new();
    else if ((ret = idp_client_get(txn, client_id, &c)) != 0)
        return ret == HUB_E_NOTFOUND ? no_client(client_id, inv) : ret;
    idp_client_edit_apply(e, c, secret);
    if ((ret = idp_client_validate(c, inv)) != 0 ||
        (ret = idp_roles_exist(txn, &c->allowed_roles, IDP_FIELD_ALLOWED_ROLES, inv)) != 0 ||
        (ret = idp_roles_exist(txn, &c->service_roles, IDP_FIELD_SERVICE_ROLES, inv)) != 0 || (ret = idp_client_put(txn, c)) != 0)
        goto out;
    if (out != NULL) {
        *out = c;
        c = NULL;
    }
out:
    if (ret != 0)
        OPENSSL_cleanse(secret, IDP_CLIENT_SECRET_LEN + 1);
    idp_client_free(c);
    return ret;
}

int idp_client_rotate_secret(hub_txn_t *txn, const char *client_id, char secret[IDP_CLIENT_SECRET_LEN + 1], idp_invalid_t *inv)
{
    char q[IDP_QUOTE_MAX];
    idp_client_t *c = NULL;
    int ret;

    secret[0] = '\0';
    if ((ret = idp_client_get(txn, client_id, &c)) != 0)
        return ret == HUB_E_NOTFOUND ? no_client(client_id, inv) : ret;
    if (c->auth_method == IDP_AUTH_NONE) {
        ret = idp_invalid(inv, IDP_FIELD_CLIENT_ID, "client \"%s\" uses auth method none and has no secret",
                          idp_quote(q, sizeof(q), client_id));
    } else {
        idp_client_new_secret(c, secret);
        if ((ret = idp_client_put(txn, c)) != 0)
            OPENSSL_cleanse(secret, IDP_CLIENT_SECRET_LEN + 1);
    }
    idp_client_free(c);
    return ret;
}

int idp_client_edit_remove(hub_txn_t *txn, const char *client_id, idp_invalid_t *inv)
{
    int ret = idp_client_remove(txn, client_id);
    return ret == HUB_E_NOTFOUND ? no_client(client_id, inv) : ret;
}
