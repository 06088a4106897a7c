/* Tests idp/strv.c: SPEC §2 LIST splitting, joining, adding, removing and the JSON form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "idp/strv.h"
#include "tests/check.h"

static void test_strv(void)
{
    idp_strv_t sv;
    char *s;

    idp_strv_split(&sv, " a; b ;;c;a ", 0);
    CHECK(sv.n == 3 && strcmp(sv.v[0], "a") == 0 && strcmp(sv.v[1], "b") == 0 && strcmp(sv.v[2], "c") == 0 && sv.v[3] == NULL);
    s = idp_strv_join(&sv, " ");
    CHECK(strcmp(s, "a b c") == 0);
    free(s);
    idp_strv_free(&sv);

    idp_strv_split(&sv, "openid profile;email\troles\n openid", 1);
    CHECK(sv.n == 4 && strcmp(sv.v[3], "roles") == 0);
    CHECK(idp_strv_has(&sv, "email") && !idp_strv_has(&sv, "mail") && !idp_strv_has(&sv, NULL));
    idp_strv_free(&sv);

    /* role names keep their spaces: split on ';' only */
    idp_strv_split(&sv, "System Manager; Guest ;System Manager", 0);
    CHECK(sv.n == 2 && strcmp(sv.v[0], "System Manager") == 0 && strcmp(sv.v[1], "Guest") == 0);
    idp_strv_free(&sv);
    idp_strv_split(&sv, "System Manager", 1);
    CHECK(sv.n == 2);
    idp_strv_free(&sv);

    idp_strv_split(&sv, " ; ;", 1);
    CHECK(sv.n == 0 && sv.v != NULL && sv.v[0] == NULL);
    s = idp_strv_join(&sv, ";");
    CHECK(strcmp(s, "") == 0);
    free(s);
    idp_strv_free(&sv);
    idp_strv_split(&sv, NULL, 0);
    CHECK(sv.n == 0);
    idp_strv_free(&sv);
    CHECK(sv.v == NULL);
}

static void test_add_remove_json(void)
{
    idp_strv_t sv = {0}, back;
    json_t *j;

    idp_strv_add(&sv, "a"); /* from empty */
    idp_strv_add(&sv, "b");
    idp_strv_add(&sv, "a"); /* not twice */
    CHECK(sv.n == 2 && strcmp(sv.v[0], "a") == 0 && strcmp(sv.v[1], "b") == 0 && sv.v[2] == NULL);
    idp_strv_add(&sv, "a b");
    idp_strv_remove(&sv, "a");
    CHECK(sv.n == 2 && strcmp(sv.v[0], "b") == 0 && strcmp(sv.v[1], "a b") == 0 && sv.v[2] == NULL);
    idp_strv_remove(&sv, "nope");
    CHECK(sv.n == 2);

    j = idp_strv_to_json(&sv);
    CHECK(json_array_size(j) == 2 && strcmp(json_string_value(json_array_get(j, 1)), "a b") == 0);
    json_array_append_new(j, json_integer(7)); /* not a string: skipped */
    json_array_append_new(j, json_string("c"));
    idp_strv_from_json(&back, j);
    CHECK(back.n == 3 && strcmp(back.v[2], "c") == 0 && back.v[3] == NULL);
    idp_strv_free(&back);
    json_decref(j);
    idp_strv_from_json(&back, NULL); /* absent: empty */
    CHECK(back.n == 0 && back.v != NULL && back.v[0] == NULL);
    idp_strv_free(&back);
    idp_strv_free(&sv);
}

int main(void)
{
    test_strv();
    test_add_remove_json();
    return check_report("idp/strv");
}
