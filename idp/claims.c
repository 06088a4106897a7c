/* What a scope discloses (SPEC §4 userinfo): the scope words, a Frappe site's openid, and the user claims they open. */
#include <string.h>
#include "idp/claims.h"

int idp_scope_has(const char *scope, const char *word)
{
    size_t wlen = strlen(word);
    const char *p = scope;

    if (scope == NULL || wlen == 0)
        return 0;
    while (*p != '\0') {
        size_t n = 0;
        while (*p == ' ')
            ++p;
        while (p[n] != '\0' && p[n] != ' ')
            ++n;
        if (n == wlen && memcmp(p, word, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static json_t *roles_array(const idp_strv_t *roles)
{
    json_t *arr = json_array();
    size_t i;
    for (i = 0; roles != NULL && i != roles->n; ++i)
        json_array_append_new(arr, json_string(roles->v[i]));
    return arr;
}

int idp_scope_discloses(const idp_client_t *client, const char *scope, const char *word)
{
    static const char *const frappe_openid[] = {"profile", "email", "roles"};

    if (idp_scope_has(scope, word))
        return 1;
    if (client == NULL || client->frappe_site == NULL || !idp_scope_has(scope, "openid"))
        return 0;
    for (size_t i = 0; i != sizeof(frappe_openid) / sizeof(frappe_openid[0]); ++i)
        if (strcmp(word, frappe_openid[i]) == 0)
            return 1;
    return 0;
}

json_t *idp_user_claims(const idp_user_t *user, const idp_client_t *client, const char *scope)
{
    json_t *obj = json_object();

    if (idp_scope_discloses(client, scope, "profile")) {
        json_object_set_new(obj, "name", json_string(user->full_name != NULL ? user->full_name : user->username));
        if (user->given_name != NULL)
            json_object_set_new(obj, "given_name", json_string(user->given_name));
        if (user->family_name != NULL)
            json_object_set_new(obj, "family_name", json_string(user->family_name));
        if (user->picture != NULL)
            json_object_set_new(obj, "picture", json_string(user->picture));
        if (user->username != NULL)
            json_object_set_new(obj, "preferred_username", json_string(user->username));
    }
    if (idp_scope_discloses(client, scope, "email") && user->email != NULL) {
        json_object_set_new(obj, "email", json_string(user->email));
        json_object_set_new(obj, "email_verified", json_boolean(user->email_verified));
    }
    if (idp_scope_discloses(client, scope, "roles"))
        json_object_set_new(obj, "roles", roles_array(&user->roles));
    return obj;
}
