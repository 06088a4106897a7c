/* The apps a user has granted access to (SPEC §11 /account/): per client, its consent grant and the live token
 * families the user holds refresh tokens of; and taking one app's access back (its families revoked, so its refresh
 * tokens fail and introspection reports its access tokens inactive; its consent grant forgotten). */
#ifndef IDP_USER_APPS_H
#define IDP_USER_APPS_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"

#define IDP_USER_APPS_MAX 256 /* apps listed at most */

typedef struct st_idp_user_app_t {
    char *client_id;
    char *app_name;  /* NULL when the client is gone */
    char *scope;     /* the consent's scopes, else those of the newest family; may be NULL */
    uint64_t since;  /* the earliest consent or exchange known (0: unknown) */
    size_t families; /* live, unrevoked families */
    int consent;     /* an unexpired consent grant is recorded */
} idp_user_app_t;

/* The apps of sub, in client_id order, into a malloc'ed *out of *n entries (idp_user_apps_free); at most
 * IDP_USER_APPS_MAX. Returns 0 or a store error. */
int idp_user_apps_list(hub_txn_t *txn, const char *sub, idp_user_app_t **out, size_t *n);
void idp_user_apps_free(idp_user_app_t *apps, size_t n);
/* Inside txn (a write transaction): revokes every family sub holds of client_id, forgets their listing and the
 * consent grant; *revoked (may be NULL) counts the families. HUB_E_NOTFOUND when sub holds nothing of client_id. */
int idp_user_app_revoke(hub_txn_t *txn, const char *sub, const char *client_id, size_t *revoked);

#endif
