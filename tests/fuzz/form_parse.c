/* libFuzzer target for hub_form_parse: checks decoded pairs are well-formed and survive an encode/parse round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_mem_pool_t pool;
    hub_form_t f, again;
    size_t i;

    h2o_mem_init_pool(&pool);
    if (hub_form_parse(&pool, (const char *)data, size, &f) == 0) {
        if (f.n > HUB_FORM_MAX_FIELDS)
            abort();
        for (i = 0; i < f.n; ++i) {
            const hub_kv_t *kv = &f.items[i];
            if (strlen(kv->name.base) != kv->name.len || strlen(kv->value.base) != kv->value.len)
                abort();
            if (hub_form_count(&f, kv->name.base) == 0 || hub_form_get(&f, kv->name.base) == NULL)
                abort();
            /* encoding then parsing gives the same pair back */
            h2o_iovec_t n = hub_url_encode(&pool, kv->name.base, kv->name.len);
            h2o_iovec_t v = hub_url_encode(&pool, kv->value.base, kv->value.len);
            char *pair = h2o_mem_alloc_pool(&pool, n.len + v.len + 2);
            memcpy(pair, n.base, n.len);
            pair[n.len] = '=';
            memcpy(pair + n.len + 1, v.base, v.len);
            if (hub_form_parse(&pool, pair, n.len + v.len + 1, &again) != 0)
                continue; /* only when the encoded form exceeds the size limit */
            if (kv->name.len != 0 && (again.n != 1 || again.items[0].value.len != kv->value.len ||
                                      memcmp(again.items[0].value.base, kv->value.base, kv->value.len) != 0))
                abort();
            h2o_iovec_t h = hub_html_escape(&pool, kv->value.base, kv->value.len);
            if (strpbrk(h.base, "<>\"'") != NULL)
                abort();
        }
    }
    h2o_mem_clear_pool(&pool);
    return 0;
}
