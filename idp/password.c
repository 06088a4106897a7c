/* Argon2id password hashes at OWASP's recommended minimum, and the dummy hash that keeps sign-ins constant-cost. */
#include <argon2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "idp/password.h"
#include "hub/util.h"

/* 19 MiB, 2 passes, 1 lane. */
#define ARGON_T 2
#define ARGON_M 19456
#define ARGON_P 1
#define ARGON_SALT 16
#define ARGON_HASH 32
/* Verified when there is no account (or no password, or a damaged hash), so that a sign-in costs the same either way.
 * Made once with the parameters above, so it always costs what a real hash costs, whatever they become. */
static char *dummy_hash;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

int idp_password_hash(const char *password, size_t len, char **encoded)
{
    uint8_t salt[ARGON_SALT];
    size_t elen = argon2_encodedlen(ARGON_T, ARGON_M, ARGON_P, ARGON_SALT, ARGON_HASH, Argon2_id) + 1;
    char *out;

    *encoded = NULL;
    if (password == NULL || len == 0 || len > IDP_PASSWORD_MAX)
        return HUB_E_INVAL;
    out = hub_xmalloc(elen);
    hub_random_bytes(salt, sizeof(salt));
    if (argon2id_hash_encoded(ARGON_T, ARGON_M, ARGON_P, password, len, salt, sizeof(salt), ARGON_HASH, out, elen) != ARGON2_OK) {
        free(out);
        return HUB_E_CRYPTO;
    }
    *encoded = out;
    return 0;
}

static void make_dummy_hash(void)
{
    char pw[HUB_B64URL_LEN(16) + 1];

    hub_random_token(pw, 16);
    if (idp_password_hash(pw, strlen(pw), &dummy_hash) != 0)
        hub_oom(); /* Argon2id fails for nothing else with these fixed parameters */
}

const char *idp_password_dummy_hash(void)
{
    pthread_once(&dummy_once, make_dummy_hash);
    return dummy_hash;
}

int idp_password_verify(const char *encoded, const char *password, size_t len)
{
    const char *dummy = idp_password_dummy_hash();
    int rc;

    if (password == NULL)
        password = "", len = 0;
    if (len > IDP_PASSWORD_MAX)
        len = IDP_PASSWORD_MAX;
    rc = argon2id_verify(encoded != NULL ? encoded : dummy, password, len);
    if (rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH) /* a malformed hash still costs a verification */
        (void)argon2id_verify(dummy, password, len);
    return encoded != NULL && rc == ARGON2_OK ? 0 : HUB_E_DENIED;
}

int idp_password_check(const char *password, size_t len, idp_invalid_t *inv)
{
    size_t chars = 0;

    if (password == NULL || len == 0)
        return idp_invalid(inv, IDP_FIELD_PASSWORD, "the password is empty");
    if (len > IDP_PASSWORD_MAX)
        return idp_invalid(inv, IDP_FIELD_PASSWORD, "the password is longer than %d bytes", IDP_PASSWORD_MAX);
    if (memchr(password, '\0', len) != NULL)
        return idp_invalid(inv, IDP_FIELD_PASSWORD, "the password contains a NUL byte");
    for (size_t i = 0; i != len; ++i)
        chars += ((unsigned char)password[i] & 0xc0) != 0x80;
    if (chars < IDP_PASSWORD_MIN)
        return idp_invalid(inv, IDP_FIELD_PASSWORD, "the password must have at least %d characters", IDP_PASSWORD_MIN);
    return 0;
}
