/* Signing keys and JWS (RFC 7515 compact) on OpenSSL EVP: RS256, ES256, EdDSA. Keys are
 * parsed once and kept; nothing here touches files on the signing or verifying path. */
#ifndef HUB_JWS_H
#define HUB_JWS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "hub/config.h"

/* The longest compact JWS the hub signs or parses: the bound of every endpoint that takes one of its tokens. */
#define HUB_JWS_MAX 16384

typedef struct st_hub_key_t {
    char kid[64];
    hub_alg_t alg;
    EVP_PKEY *pkey; /* owned; private for signing keys, public for verification keys */
    int has_private;
    uint64_t serial; /* unique per key in this process: names its per-thread EVP contexts */
} hub_key_t;

/* "RS256" / "ES256" / "EdDSA"; parse returns 0 or HUB_E_INVAL. */
const char *hub_alg_name(hub_alg_t alg);
int hub_alg_parse(const char *name, hub_alg_t *alg);

/* Generates a new private key (RSA-2048, P-256 or Ed25519) with a random kid. */
int hub_key_generate(hub_key_t **out, hub_alg_t alg);
/* PEM (PKCS#8) of the private key; caller frees. Loads one back (kid and alg given). */
int hub_key_to_pem(const hub_key_t *key, char **pem, size_t *len);
int hub_key_from_pem(hub_key_t **out, const char *kid, hub_alg_t alg, const char *pem, size_t len);
/* The public JWK {kty, kid, alg, use:"sig", n/e | crv/x/y | crv/x}; new reference. */
json_t *hub_key_to_jwk(const hub_key_t *key);
/* A public key from a JWK object; HUB_E_INVAL for unsupported kty/alg/crv or bad values.
 * The JWK's alg is required and pins the algorithm the key verifies. */
int hub_key_from_jwk(hub_key_t **out, const json_t *jwk);
void hub_key_free(hub_key_t *key);

/* Signs header+payload (the header gets alg and kid from the key and typ when non-NULL)
 * and returns the compact serialisation in a malloc'ed string. ECDSA signatures are in
 * JOSE r||s form. */
int hub_jws_sign(const hub_key_t *key, const char *typ, const json_t *claims, char **out);
/* The same with the payload given as JSON text (payload[0..plen), an object written by the
 * caller, e.g. with hub/jsonw.h). */
int hub_jws_sign_raw(const hub_key_t *key, const char *typ, const char *payload, size_t plen, char **out);

/* A parsed (not yet verified) compact JWS. */
typedef struct st_hub_jws_t {
    json_t *header;  /* owned */
    json_t *payload; /* owned */
    const char *kid; /* borrowed from header; NULL when absent */
    const char *alg;
    const char *typ;
} hub_jws_t;

/* Splits and decodes a compact JWS of at most HUB_JWS_MAX bytes: HUB_E_PARSE on any malformed part,
 * non-object header or payload. Does not verify. */
int hub_jws_parse(const char *token, size_t len, hub_jws_t *out);
void hub_jws_dispose(hub_jws_t *jws);

/* Verifies token's signature with key: the header's alg must equal the key's alg (so
 * "none" and HMAC never pass). 0 or HUB_E_BADSIG / HUB_E_PARSE. */
int hub_jws_verify(const hub_key_t *key, const char *token, size_t len);

#endif
