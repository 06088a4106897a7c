/* libFuzzer target for hub_basic_auth_parse: never crashes, and success always yields two C strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_mem_pool_t pool;
    char *hv, *user, *pass;
    int ret;

    h2o_mem_init_pool(&pool);
    hv = h2o_mem_alloc_pool(&pool, size + 1);
    memcpy(hv, data, size);
    hv[size] = '\0';
    ret = hub_basic_auth_parse(&pool, hv, &user, &pass);
    if (ret == 0 ? (user == NULL || pass == NULL) : (ret != HUB_E_PARSE || user != NULL || pass != NULL))
        abort();
    h2o_mem_clear_pool(&pool);
    return 0;
}
