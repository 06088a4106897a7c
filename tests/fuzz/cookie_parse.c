/* libFuzzer target for hub_cookie_parse and hub_req_cookie: cookie names and values are bounded, trimmed C strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_mem_pool_t pool;
    hub_form_t f;
    h2o_req_t req;
    size_t i;

    h2o_mem_init_pool(&pool);
    if (hub_cookie_parse(&pool, (const char *)data, size, &f) == 0) {
        if (f.n > HUB_COOKIE_MAX_FIELDS)
            abort();
        for (i = 0; i < f.n; ++i) {
            const hub_kv_t *kv = &f.items[i];
            if (kv->name.len == 0 || strlen(kv->name.base) != kv->name.len || strlen(kv->value.base) != kv->value.len)
                abort();
            if (kv->name.base[0] == ' ' || kv->name.base[kv->name.len - 1] == ' ' || strchr(kv->name.base, ';') != NULL)
                abort();
        }
        /* the request-level lookup agrees with the parser on the first cookie */
        memset(&req, 0, sizeof(req));
        h2o_add_header(&pool, &req.headers, H2O_TOKEN_COOKIE, NULL, (const char *)data, size);
        if (f.n > 0) {
            const char *v = hub_req_cookie(&pool, &req, f.items[0].name.base);
            if (v == NULL || strcmp(v, hub_form_get(&f, f.items[0].name.base)) != 0)
                abort();
        }
    }
    h2o_mem_clear_pool(&pool);
    return 0;
}
