/* Tests idp/claims.c: the words of a scope, what openid discloses to a Frappe site, and the user claims of a scope. */
#include <string.h>
#include "idp/claims.h"
#include "tests/check.h"

static const char *jstr(const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s != NULL ? s : "";
}

static void test_claims(void)
{
    char *roles_v[] = {"A", "B", NULL};
    idp_user_t user = {"s", "bob", "bob@example.com", NULL, NULL, NULL, "https://pic", 1, 0, {roles_v, 2}};
    idp_client_t web = {.client_id = (char *)"web"},
                 site = {.client_id = (char *)"site", .frappe_site = (char *)"https://s.example"};
    json_t *c = idp_user_claims(&user, NULL, "openid");
    CHECK(json_object_size(c) == 0);
    json_decref(c);
    c = idp_user_claims(&user, &web, "openid");
    CHECK(json_object_size(c) == 0);
    json_decref(c);
    c = idp_user_claims(&user, &web, "profile");
    CHECK(strcmp(jstr(c, "name"), "bob") == 0 && strcmp(jstr(c, "picture"), "https://pic") == 0);
    CHECK(json_object_get(c, "email") == NULL && json_object_get(c, "given_name") == NULL);
    json_decref(c);
    c = idp_user_claims(&user, &web, "email roles");
    CHECK(strcmp(jstr(c, "email"), "bob@example.com") == 0 && json_is_false(json_object_get(c, "email_verified")));
    CHECK(json_array_size(json_object_get(c, "roles")) == 2 && json_object_get(c, "name") == NULL);
    json_decref(c);

    /* a Frappe site: openid alone discloses what Frappe's provider gives for it (name, e-mail, picture, roles) */
    c = idp_user_claims(&user, &site, "openid");
    CHECK(strcmp(jstr(c, "name"), "bob") == 0 && strcmp(jstr(c, "picture"), "https://pic") == 0);
    CHECK(strcmp(jstr(c, "email"), "bob@example.com") == 0 && json_is_false(json_object_get(c, "email_verified")));
    CHECK(json_array_size(json_object_get(c, "roles")) == 2 && json_object_get(c, "given_name") == NULL);
    json_decref(c);
    /* without openid, the site's other scopes keep their meaning */
    c = idp_user_claims(&user, &site, "email");
    CHECK(json_object_get(c, "email") != NULL && json_object_get(c, "name") == NULL && json_object_get(c, "roles") == NULL);
    json_decref(c);
    c = idp_user_claims(&user, &site, "openidx roles");
    CHECK(json_object_get(c, "roles") != NULL && json_object_get(c, "email") == NULL && json_object_get(c, "name") == NULL);
    json_decref(c);
    CHECK(idp_scope_discloses(&site, "openid", "openid") && idp_scope_discloses(&site, "openid", "profile"));
    CHECK(idp_scope_discloses(&site, "openid", "email") && idp_scope_discloses(&site, "openid", "roles"));
    CHECK(!idp_scope_discloses(&site, "openid", "offline_access") && !idp_scope_discloses(&site, "openid", ""));
    CHECK(!idp_scope_discloses(&web, "openid", "email") && !idp_scope_discloses(NULL, "openid", "roles"));
    CHECK(idp_scope_discloses(&web, "openid email", "email") && !idp_scope_discloses(&site, "profile", "email"));

    CHECK(idp_scope_has("openid profile", "openid"));
    CHECK(idp_scope_has("openid profile", "profile"));
    CHECK(idp_scope_has("  openid   profile ", "profile"));
    CHECK(!idp_scope_has("openid profile", "open"));
    CHECK(!idp_scope_has("openid profile", "file"));
    CHECK(!idp_scope_has("", "openid"));
    CHECK(!idp_scope_has("openid", ""));
}

int main(void)
{
    test_claims();
    return check_report("idp/claims");
}
