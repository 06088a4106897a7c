/* libFuzzer target: arbitrary bytes as a YAML config file through hub_config_load. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "hub/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], *out = NULL;
    size_t outlen = 0, n;
    hub_config_t cfg;
    FILE *errs;
    int fd;

    if ((fd = memfd_create("config_yaml", 0)) < 0)
        abort();
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if ((errs = open_memstream(&out, &outlen)) == NULL)
        abort();
    hub_config_load(&cfg, path, errs, &n);
    fclose(errs);
    free(out);
    hub_config_dispose(&cfg);
    close(fd);
    return 0;
}
