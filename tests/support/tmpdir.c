/* Temporary directories for the C tests (tests/support/tmpdir.h). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/support/tmpdir.h"

#define TAG_MAX 64

char *test_tmpdir(const char *tag)
{
    char path[sizeof("/tmp/hub--XXXXXX") + TAG_MAX], *dir;
    size_t len = strlen(tag);

    if (len == 0 || len > TAG_MAX || strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len) {
        fprintf(stderr, "test_tmpdir: a bad tag \"%s\"\n", tag);
        exit(2);
    }
    snprintf(path, sizeof(path), "/tmp/hub-%s-XXXXXX", tag);
    if (mkdtemp(path) == NULL || (dir = strdup(path)) == NULL) {
        perror("test_tmpdir");
        exit(2);
    }
    return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0)
        perror(path);
    return 0; /* go on: remove what can be removed */
}

int test_tmpdir_remove(char *dir)
{
    int ret = 0;

    if (dir == NULL)
        return 0;
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    if (access(dir, F_OK) == 0) {
        fprintf(stderr, "test_tmpdir_remove: %s is still there\n", dir);
        ret = -1;
    }
    free(dir);
    return ret;
}
