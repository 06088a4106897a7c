/* Tests idp/password.c: Argon2id hashes, verification, and the dummy hash that costs what a real one costs. */
#include <string.h>
#include <time.h>
#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "idp/password.h"
#include "tests/check.h"

/* CPU time of this thread: the work Argon2 does, whatever else the machine is running. */
static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_passwords(void)
{
    char *h = NULL, *h2 = NULL;
    double t0, t_real, t_none;

    CHECK(idp_password_hash("correct horse", 13, &h) == 0 && h != NULL);
    CHECK(h != NULL && strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK(idp_password_hash("correct horse", 13, &h2) == 0 && h2 != NULL && strcmp(h, h2) != 0); /* salted */
    free(h2);
    h2 = NULL;
    CHECK(idp_password_hash("", 0, &h2) == HUB_E_INVAL && h2 == NULL);
    /* the fastest of a few runs, so that a loaded machine does not make the timing check flaky */
    t_real = t_none = 1e9;
    for (int i = 0; i != 3; ++i) {
        t0 = seconds();
        CHECK(idp_password_verify(h, "correct horse", 13) == 0);
        if (seconds() - t0 < t_real)
            t_real = seconds() - t0;
        t0 = seconds();
        CHECK(idp_password_verify(NULL, "correct horse", 13) == HUB_E_DENIED);
        if (seconds() - t0 < t_none)
            t_none = seconds() - t0;
    }
    CHECK(idp_password_verify(h, "correct horsE", 13) == HUB_E_DENIED);
    CHECK(idp_password_verify(h, "correct horse", 12) == HUB_E_DENIED);
    CHECK(idp_password_verify(h, NULL, 0) == HUB_E_DENIED);
    /* no account costs a real verification too */
    CHECK(t_none > t_real * 0.5);
    CHECK(idp_password_verify("garbage", "x", 1) == HUB_E_DENIED);
    /* The hash checked when there is no usable one has exactly the real hashes' parameters and is a well-formed one
     * (a full verification that mismatches, not a decode error that would return at once). */
    const char *dummy = idp_password_dummy_hash();
    CHECK(dummy != NULL && dummy == idp_password_dummy_hash());
    CHECK(dummy != NULL && strncmp(dummy, h, 31) == 0 && strlen(dummy) == strlen(h));
    CHECK(dummy != NULL && argon2id_verify(dummy, "correct horse", 13) == ARGON2_VERIFY_MISMATCH);
    CHECK(dummy != NULL && argon2id_verify(dummy, "", 0) == ARGON2_VERIFY_MISMATCH);
    free(h);
}

/* The library's own encoding of password with these parameters and salt. */
static void library_hash(const char *password, uint32_t t, uint32_t m, uint32_t p, const char *salt, size_t hashlen, char *out,
                         size_t size)
{
    CHECK(argon2id_hash_encoded(t, m, p, password, strlen(password), salt, strlen(salt), hashlen, out, size) == ARGON2_OK);
}

/* Every hash verifies as libargon2 says, whether it is read here (one lane, at most 64 MiB: in the thread's own memory)
 * or left to the library (any other shape), and nothing malformed verifies. */
static void test_shapes(void)
{
    char h[256];
    const struct {
        uint32_t t, m, p;
        const char *salt;
        size_t hashlen;
    } shapes[] = {
        {2, 19456, 1, "0123456789abcdef", 32}, /* ours */
        {1, 8, 1, "saltsalt", 4},              /* the smallest */
        {3, 4096, 1, "a salt of 24 bytes......", 64},
        {1, 65536, 1, "0123456789abcdef", 32}, /* the largest read here */
        {1, 65537, 1, "0123456789abcdef", 32}, /* to the library: larger */
        {1, 64, 2, "0123456789abcdef", 32},    /* to the library: two lanes */
    };

    for (size_t i = 0; i != sizeof(shapes) / sizeof(shapes[0]); ++i) {
        library_hash("pass word", shapes[i].t, shapes[i].m, shapes[i].p, shapes[i].salt, shapes[i].hashlen, h, sizeof(h));
        CHECK(idp_password_verify(h, "pass word", 9) == 0);
        CHECK(idp_password_verify(h, "pass word", 8) == HUB_E_DENIED);
        CHECK(idp_password_verify(h, "pass worD", 9) == HUB_E_DENIED);
        CHECK(idp_password_verify(h, "", 0) == HUB_E_DENIED);
    }
    /* larger memory after smaller, then smaller again: the thread's memory grows and is used again */
    library_hash("again", 1, 32768, 1, "0123456789abcdef", 32, h, sizeof(h));
    CHECK(idp_password_verify(h, "again", 5) == 0);
    library_hash("again", 1, 1024, 1, "0123456789abcdef", 32, h, sizeof(h));
    CHECK(idp_password_verify(h, "again", 5) == 0);
}

/* Altered strings: none verifies, whichever way they are read. */
static void test_altered(void)
{
    char h[256], bad[300];

    /* altered headers */
    library_hash("pass word", 1, 64, 1, "0123456789abcdef", 32, h, sizeof(h));
    const char *prefix = "$argon2id$v=19$m=64,t=1,p=1$";
    CHECK(strncmp(h, prefix, strlen(prefix)) == 0);
    const char *rest = h + strlen(prefix);
    const char *edits[][2] = {
        {"$argon2id$v=19$m=064,t=1,p=1$", "leading zero"},
        {"$argon2id$v=19$m=64,t=01,p=1$", "leading zero"},
        {"$argon2id$v=19$m=65,t=1,p=1$", "another m"},
        {"$argon2id$v=19$m=64,t=2,p=1$", "another t"},
        {"$argon2id$v=19$m=64,t=1,p=0$", "no lane"},
        {"$argon2id$v=19$m=64,t=1,p=1,x=1$", "extra parameter"},
        {"$argon2id$v=19$m=+64,t=1,p=1$", "sign"},
        {"$argon2id$v=19$m=99999999999,t=1,p=1$", "overflow"},
        {"$argon2i$v=19$m=64,t=1,p=1$", "another type"},
        {"$argon2d$v=19$m=64,t=1,p=1$", "another type"},
        {"$argon2id$v=16$m=64,t=1,p=1$", "another version"},
        {"$argon2id$m=64,t=1,p=1$", "no version (1.0)"},
        {"$argon2id$v=19$t=1,m=64,p=1$", "parameters in another order"},
    };
    for (size_t i = 0; i != sizeof(edits) / sizeof(edits[0]); ++i) {
        snprintf(bad, sizeof(bad), "%s%s", edits[i][0], rest);
        CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    }
    /* the salt and the hash: one character changed, a standard base64 character swapped for its base64url twin,
     * padding, a character cut, a field dropped, another $ */
    const char *dollar = strchr(rest, '$');
    CHECK(dollar != NULL);
    size_t salt_len = (size_t)(dollar - rest), n = strlen(h);
    for (size_t i = strlen(prefix); i != n; ++i) {
        if (h[i] == '$')
            continue;
        snprintf(bad, sizeof(bad), "%s", h);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    }
    snprintf(bad, sizeof(bad), "%s=", h);
    CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    snprintf(bad, sizeof(bad), "%.*s", (int)(n - 1), h);
    CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    snprintf(bad, sizeof(bad), "%s$", h);
    CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    snprintf(bad, sizeof(bad), "%s%.*s", prefix, (int)salt_len, rest);
    CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    snprintf(bad, sizeof(bad), "%s%s", prefix, dollar);
    CHECK(idp_password_verify(bad, "pass word", 9) == HUB_E_DENIED);
    /* a hash whose standard base64 has + or /: the same with - or _ is not a hash of anything */
    for (int salt = 0; salt != 200; ++salt) {
        char s[32];
        snprintf(s, sizeof(s), "salt-%07d", salt);
        library_hash("pass word", 1, 8, 1, s, 32, h, sizeof(h));
        char *plus = strpbrk(h + strlen("$argon2id$v=19$m=8,t=1,p=1$"), "+/");
        if (plus == NULL)
            continue;
        CHECK(idp_password_verify(h, "pass word", 9) == 0);
        *plus = *plus == '+' ? '-' : '_';
        CHECK(idp_password_verify(h, "pass word", 9) == HUB_E_DENIED);
        break;
    }
}

int main(void)
{
    test_passwords();
    test_shapes();
    test_altered();
    return check_report("idp/password");
}
