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

int main(void)
{
    test_passwords();
    return check_report("idp/password");
}
