/* The check macro of the C unit tests: a failed condition is printed with its place and counted; main() exits non-zero
 * when `failures` is not 0. Each test is one program, so the counter is per program. */
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

#endif
