/* libFuzzer target for hub/path.c: the canonical-path check and the lenient reading route guards compare. A path the
 * check accepts must read the same to h2o as its plain percent-decoding (so the route h2o picks is the one the bytes
 * name); the lenient reading stays inside its buffer, starts with '/' and holds no upper-case ASCII. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include "hub/err.h"
#include "hub/path.h"

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The accepted path, decoded, equals h2o's normalized path; it holds none of what the check refuses. */
static void check_accepted(const char *p, size_t len)
{
    h2o_mem_pool_t pool;
    size_t q, *idx, i, o = 0;
    char *dec = malloc(len + 1);

    if (len == 0 || p[0] != '/' || memchr(p, ';', len) != NULL || memchr(p, '\\', len) != NULL || memchr(p, '?', len) != NULL ||
        memchr(p, '#', len) != NULL)
        abort();
    for (i = 0; i < len; ++i) {
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            abort();
        if (i + 1 < len && p[i] == '/' && p[i + 1] == '/')
            abort();
        if (p[i] == '%') {
            if (i + 2 >= len || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
                abort();
            dec[o++] = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
            i += 2;
        } else {
            dec[o++] = p[i];
        }
    }
    h2o_mem_init_pool(&pool);
    h2o_iovec_t n = h2o_url_normalize_path(&pool, p, len, &q, &idx);
    if (n.len != o || memcmp(n.base, dec, o) != 0)
        abort();
    h2o_mem_clear_pool(&pool);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *why = NULL;
    char *out;
    size_t n, i;
    int ret;

    ret = hub_path_check(p, size, &why);
    if (ret != 0 && (why == NULL || (ret != HUB_E_PARSE && ret != HUB_E_TOOBIG)))
        abort();
    if (ret == 0)
        check_accepted(p, size);

    out = malloc(size + 2); /* exactly what the contract asks for: ASan sees any write past it */
    n = hub_path_fold(p, size, out);
    if (n > size + 1 || out[n] != '\0' || n == 0 || out[0] != '/')
        abort();
    for (i = 0; i < n; ++i)
        if (out[i] >= 'A' && out[i] <= 'Z')
            abort();
    (void)hub_path_under(out, n, "/app/admin/", 11);
    (void)hub_path_under(p, size, "/", 1);
    free(out);
    return 0;
}
