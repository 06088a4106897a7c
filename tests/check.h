/* The check macro of the C unit tests: a failed condition is printed with its place and counted; main() exits non-zero
 * when `failures` is not 0 (check_report). Each test is one program, so the counter is per program. */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        if (!(cond)) {                                                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                                               \
            ++failures;                                                                                                            \
        }                                                                                                                          \
    } while (0)

/* main()'s last word: 1 after any failed check (their count on stderr), else 0 with one line saying name passed. */
static inline int check_report(const char *name)
{
    if (failures != 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
