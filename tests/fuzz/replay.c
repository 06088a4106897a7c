/* Replays a libFuzzer corpus directory through a fuzz target's LLVMFuzzerTestOneInput, so
 * every ctest run (normal and sanitizer builds) checks the stored inputs. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    DIR *dir;
    struct dirent *de;
    size_t count = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    if ((dir = opendir(argv[1])) == NULL) {
        perror(argv[1]);
        return 1;
    }
    while ((de = readdir(dir)) != NULL) {
        char path[4096];
        FILE *fp;
        uint8_t *buf;
        long len;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
        if ((fp = fopen(path, "rb")) == NULL)
            continue;
        fseek(fp, 0, SEEK_END);
        len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = malloc(len > 0 ? len : 1);
        if (len > 0 && fread(buf, 1, len, fp) != (size_t)len)
            len = 0;
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, len > 0 ? (size_t)len : 0);
        free(buf);
        ++count;
    }
    closedir(dir);
    printf("replayed %zu inputs from %s\n", count, argv[1]);
    return count > 0 ? 0 : 1;
}
