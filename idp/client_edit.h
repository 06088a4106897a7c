/* A change to an OAuth client as an operator makes it, whether from hubctl's options (client add/update) or from the
 * admin console's form: each value given replaces the stored one, a Frappe site fills the client as its stock key talks
 * (idp_client_set_frappe_site), a secret is made when the client needs one and has none, and the result is validated
 * as a whole and written. Also the secret's rotation. One mechanism for both, so they cannot drift apart. */
#ifndef IDP_CLIENT_EDIT_H
#define IDP_CLIENT_EDIT_H

#include "hub/store.h"
#include "idp/client.h"
#include "idp/invalid.h"
#include "idp/strv.h"

/* The scopes of a new client (SPEC §2 --scopes default). */
#define IDP_CLIENT_DEFAULT_SCOPES "openid;profile;email;roles"
#define IDP_CLIENT_SECRET_LEN 43 /* a secret idp_client_new_secret makes, without its NUL */

/* What a change may set; a flag's "no" twin clears what the flag sets (SPEC §2: --skip-authorization and
 * --no-skip-authorization). */
typedef enum {
    IDP_CEDIT_APP_NAME = 0,
    IDP_CEDIT_REDIRECT_URIS,     /* a LIST (';' or white space) */
    IDP_CEDIT_DEFAULT_REDIRECT,  /* "" = the first redirect URI */
    IDP_CEDIT_SCOPES,            /* a LIST */
    IDP_CEDIT_GRANT,             /* authorization_code | implicit | client_credentials */
    IDP_CEDIT_RESPONSE,          /* code | token; absent with a grant type: the type Frappe pairs with it */
    IDP_CEDIT_SKIP,              /* flag */
    IDP_CEDIT_NO_SKIP,           /* flag */
    IDP_CEDIT_AUTH,              /* client_secret_basic | client_secret_post | none */
    IDP_CEDIT_ALLOWED_ROLES,     /* a LIST split on ';' only */
    IDP_CEDIT_BACKCHANNEL,       /* "" = none */
    IDP_CEDIT_POST_LOGOUT,       /* a LIST */
    IDP_CEDIT_SERVICE_ROLES,     /* roles, each value adding to the list (hubctl's repeated --role) */
    IDP_CEDIT_INTROSPECT_ANY,    /* flag */
    IDP_CEDIT_NO_INTROSPECT_ANY, /* flag */
    IDP_CEDIT_FRAPPE_SITE,       /* a Frappe site's URL (normalised when set) */
    IDP_CEDIT_NO_FRAPPE_SITE,    /* flag: no longer a Frappe site (its URIs and auth method stay until changed) */
    IDP_CEDIT__COUNT
} idp_cedit_t;

typedef struct st_idp_client_edit_t {
    const char *value[IDP_CEDIT__COUNT]; /* the caller's strings (not copied), NULL when not given; a flag's is "" */
    idp_strv_t service_roles;            /* IDP_CEDIT_SERVICE_ROLES, collected */
    idp_grant_type_t grant;
    idp_response_type_t response;
    idp_auth_method_t auth;
    char *frappe_site; /* IDP_CEDIT_FRAPPE_SITE normalised (idp_frappe_site_parse), owned */
} idp_client_edit_t;

void idp_client_edit_init(idp_client_edit_t *e);
void idp_client_edit_dispose(idp_client_edit_t *e);
/* Records what = value (kept as a pointer: it must outlive e), checking what can be checked alone: the names of the
 * enums and a Frappe site's URL. 0, or HUB_E_INVAL with *inv naming the field. */
int idp_client_edit_set(idp_client_edit_t *e, idp_cedit_t what, const char *value, idp_invalid_t *inv);

/* A new enabled client with the defaults of SPEC §2 (scopes IDP_CLIENT_DEFAULT_SCOPES, authorization_code, code,
 * client_secret_basic, no URIs), for idp_client_free. */
idp_client_t *idp_client_new(void);
/* Applies e to c; when c then needs a secret and has none (a new client, or one leaving auth method none), a new one is
 * made and written into secret, else secret is "". */
void idp_client_edit_apply(const idp_client_edit_t *e, idp_client_t *c, char secret[IDP_CLIENT_SECRET_LEN + 1]);
/* The whole change inside txn: the stored client client_id (or a new one when client_id is NULL), e applied, validated
 * (idp_client_validate), its roles checked and written (idp_client_put). *out (may be NULL) gets the client written,
 * for idp_client_free. Returns 0; HUB_E_INVAL or HUB_E_NOTFOUND (no such client, a role that does not exist) with *inv
 * naming the field; or a store error. */
int idp_client_edit_save(hub_txn_t *txn, const idp_client_edit_t *e, const char *client_id, idp_client_t **out,
                         char secret[IDP_CLIENT_SECRET_LEN + 1], idp_invalid_t *inv);
/* Gives client_id a new secret (written into secret) inside txn; the old one stops working at once. HUB_E_NOTFOUND
 * (no such client) or HUB_E_INVAL (auth method none: no secret) with *inv; or a store error. */
int idp_client_rotate_secret(hub_txn_t *txn, const char *client_id, char secret[IDP_CLIENT_SECRET_LEN + 1], idp_invalid_t *inv);

/* Deletes client_id and revokes its tokens (and its node, when it is a node's client: idp_client_remove) inside txn.
 * HUB_E_NOTFOUND with *inv when there is no such client; or a store error. */
int idp_client_edit_remove(hub_txn_t *txn, const char *client_id, idp_invalid_t *inv);

#endif
