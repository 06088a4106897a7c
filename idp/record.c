/* What the record modules of idp/ share: identifiers, printable-text and URI checks, JSON fields. */
#include <stdlib.h>
#include <string.h>
#include "hub/url.h"
#include "hub/util.h"
#include "idp/record.h"

void idp_record_new_id(char out[IDP_ID_LEN + 1])
{
    do
        hub_random_token(out, 16);
    while (out[0] == '-');
}

int idp_record_printable(const char *s)
{
    json_t *probe;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; ++p)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    if ((probe = json_string(s)) == NULL)
        return 0;
    json_decref(probe);
    return 1;
}

int idp_record_name_ok(const char *s)
{
    return s == NULL || (strlen(s) <= IDP_NAME_MAX && idp_record_printable(s));
}

int idp_record_uri_ok(const char *s)
{
    hub_url_t u;
    return hub_url_parse(s, &u, NULL) == 0;
}

void idp_record_replace(char **dst, const char *s)
{
    free(*dst);
    *dst = hub_strdup(s);
}

void idp_record_set_str(json_t *obj, const char *name, const char *s)
{
    json_object_set_new(obj, name, s != NULL ? json_string(s) : json_null());
}

void idp_record_set_uint(json_t *obj, const char *name, uint64_t v)
{
    json_object_set_new(obj, name, json_integer((json_int_t)v));
}

int idp_record_bool(const json_t *obj, const char *name)
{
    return json_is_true(json_object_get(obj, name));
}
