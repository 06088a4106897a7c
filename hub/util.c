/* Helpers of hub/util.h. */
#include <stdlib.h>
#include <string.h>
#include "hub/log.h"
#include "hub/util.h"

char *hub_strdup(const char *s)
{
    char *copy;
    if (s == NULL)
        return NULL;
    if ((copy = strdup(s)) == NULL) {
        hub_log_error("out of memory");
        abort();
    }
    return copy;
}

char *hub_json_strdup(const json_t *obj, const char *name)
{
    return hub_strdup(json_string_value(json_object_get(obj, name)));
}

uint64_t hub_json_uint(const json_t *obj, const char *name)
{
    json_int_t v = json_integer_value(json_object_get(obj, name));
    return v > 0 ? (uint64_t)v : 0;
}

const char *hub_safe_next(const char *next)
{
    size_t i;
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return "/";
    for (i = 0; next[i] != '\0'; ++i) {
        unsigned char c = (unsigned char)next[i];
        if (i >= 4096 || c <= 0x20 || c >= 0x7f || c == '\\')
            return "/";
    }
    return next;
}
