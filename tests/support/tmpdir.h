/* Temporary directories for the C tests: each test makes its own under /tmp and removes it, with everything in it, at
 * the end (one helper instead of a mkdtemp and an "rm -rf" in every test). */
#ifndef TESTS_SUPPORT_TMPDIR_H
#define TESTS_SUPPORT_TMPDIR_H

/* A new, empty directory "/tmp/hub-<tag>-XXXXXX" (mode 0700) whose malloc'ed path is returned. tag names the test (at
 * most 64 characters of [A-Za-z0-9_-]). A test cannot go on without it: on failure the process exits with status 2
 * after a line on stderr. */
char *test_tmpdir(const char *tag);

/* Removes dir and everything below it (symbolic links are removed, never followed) and frees the path. Returns 0, or -1
 * when something could not be removed (said on stderr). dir may be NULL. */
int test_tmpdir_remove(char *dir);

#endif
