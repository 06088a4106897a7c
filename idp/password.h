/* Users' passwords: Argon2id hashes, and verification that costs the same whether or not there is a hash to check. */
#ifndef IDP_PASSWORD_H
#define IDP_PASSWORD_H

#include <stddef.h>
#include "idp/invalid.h"

#define IDP_PASSWORD_MAX 1024 /* bytes; longer ones are refused (hash) or cut (verify) */
#define IDP_PASSWORD_MIN 8    /* characters (UTF-8 code points) of a new password */

/* 0 when password (len bytes) may become a user's password: 1..IDP_PASSWORD_MAX bytes without NUL, at least
 * IDP_PASSWORD_MIN characters; else HUB_E_INVAL with *inv (field IDP_FIELD_PASSWORD). What hubctl and the consoles
 * both check. */
int idp_password_check(const char *password, size_t len, idp_invalid_t *inv);

/* Hashes password (1..IDP_PASSWORD_MAX bytes) into *encoded, a malloc'ed Argon2id string carrying its parameters.
 * HUB_E_INVAL for an empty or too long password, HUB_E_CRYPTO when Argon2 fails. */
int idp_password_hash(const char *password, size_t len, char **encoded);
/* 0 when password matches encoded, HUB_E_DENIED when not; verifying a NULL or malformed hash still spends the time of a
 * real verification. */
int idp_password_verify(const char *encoded, const char *password, size_t len);
/* The hash a verification without a usable one checks against: made once per process with the same parameters as
 * idp_password_hash (so it costs the same), never matched by any password (a random one). */
const char *idp_password_dummy_hash(void);

#endif
