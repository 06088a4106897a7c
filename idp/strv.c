/* Lists of strings: SPEC §2 LIST splitting, joining, searching and their JSON form. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "hub/util.h"
#include "idp/strv.h"

void idp_strv_free(idp_strv_t *sv)
{
    if (sv == NULL)
        return;
    for (size_t i = 0; i != sv->n; ++i)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

int idp_strv_has(const idp_strv_t *sv, const char *s)
{
    if (sv == NULL || s == NULL)
        return 0;
    for (size_t i = 0; i != sv->n; ++i)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

static int is_sep(char c, int ws)
{
    return c == ';' || (ws && isspace((unsigned char)c));
}

void idp_strv_split(idp_strv_t *out, const char *list, int ws)
{
    size_t cap = 1;
    const char *p;

    out->v = NULL;
    out->n = 0;
    if (list == NULL)
        list = "";
    for (p = list; *p != '\0'; ++p)
        if (is_sep(*p, ws))
            ++cap;
    out->v = hub_xcalloc(cap + 1, sizeof(char *));
    for (p = list;;) {
        const char *start = p, *end;
        while (*p != '\0' && !is_sep(*p, ws))
            ++p;
        end = p;
        while (start < end && isspace((unsigned char)*start))
            ++start;
        while (end > start && isspace((unsigned char)end[-1]))
            --end;
        if (end > start) {
            char *item = hub_xstrndup(start, (size_t)(end - start));
            if (idp_strv_has(out, item))
                free(item);
            else
                out->v[out->n++] = item;
        }
        if (*p == '\0')
            break;
        ++p;
    }
}

void idp_strv_add(idp_strv_t *sv, const char *s)
{
    char **v;

    if (idp_strv_has(sv, s))
        return;
    v = hub_xrealloc(sv->v, (sv->n + 2) * sizeof(char *));
    sv->v = v;
    v[sv->n++] = hub_strdup(s);
    v[sv->n] = NULL;
}

void idp_strv_remove(idp_strv_t *sv, const char *s)
{
    size_t i, j;

    if (sv->v == NULL)
        return;
    for (i = j = 0; i != sv->n; ++i) {
        if (strcmp(sv->v[i], s) == 0)
            free(sv->v[i]);
        else
            sv->v[j++] = sv->v[i];
    }
    sv->n = j;
    sv->v[j] = NULL;
}

char *idp_strv_join(const idp_strv_t *sv, const char *sep)
{
    size_t len = 1, seplen = strlen(sep), off = 0;
    char *out;

    for (size_t i = 0; sv != NULL && i != sv->n; ++i)
        len += strlen(sv->v[i]) + seplen;
    out = hub_xmalloc(len);
    out[0] = '\0';
    for (size_t i = 0; sv != NULL && i != sv->n; ++i) {
        size_t l = strlen(sv->v[i]);
        if (i != 0) {
            memcpy(out + off, sep, seplen);
            off += seplen;
        }
        memcpy(out + off, sv->v[i], l);
        off += l;
    }
    out[off] = '\0';
    return out;
}

json_t *idp_strv_to_json(const idp_strv_t *sv)
{
    json_t *arr = json_array();
    for (size_t i = 0; i != sv->n; ++i)
        json_array_append_new(arr, json_string(sv->v[i]));
    return arr;
}

void idp_strv_from_json(idp_strv_t *sv, const json_t *arr)
{
    size_t i, n = json_is_array(arr) ? json_array_size(arr) : 0;
    const json_t *item;

    sv->v = hub_xcalloc(n + 1, sizeof(char *));
    sv->n = 0;
    json_array_foreach(arr, i, item)
    {
        if (json_is_string(item))
            sv->v[sv->n++] = hub_strdup(json_string_value(item));
    }
}
