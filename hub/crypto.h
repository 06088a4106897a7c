/* Randomness, hashing, base64url and constant-time comparison on OpenSSL. */
#ifndef HUB_CRYPTO_H
#define HUB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with cryptographically secure random bytes; fatal on failure. */
void hub_random_bytes(void *buf, size_t len);

/* A new NUL-terminated base64url string (no padding) of `bytes` random bytes, written to
 * out, which must hold HUB_B64URL_LEN(bytes) + 1 bytes. 32 bytes = 256 bits = 43 chars. */
#define HUB_B64URL_LEN(n) (((n)*4 + 2) / 3)
void hub_random_token(char *out, size_t bytes);
/* Like hub_random_token, but the first HUB_TIMED_BYTES of the bytes are the wall-clock time in milliseconds
 * (big-endian) and only the rest are random (bytes - HUB_TIMED_BYTES of them, at least 16). Tokens made close in time
 * then share their first characters (the first HUB_TIMED_CHARS encode the time alone), so store keys that begin with
 * them are neighbours: the records a batch of requests writes land on a few B-tree pages instead of one random page
 * each (the issuing time a token shows this way is no secret: its record and the tokens issued with it carry it). */
#define HUB_TIMED_BYTES 6
#define HUB_TIMED_CHARS 8
void hub_timed_token(char *out, size_t bytes);
/* 1 when s has the shape hub_random_token(bytes) gives: exactly HUB_B64URL_LEN(bytes) base64url characters (how a
 * cookie or form field claiming to be such a token is checked before use); 0 otherwise, and for NULL. */
int hub_is_token(const char *s, size_t bytes);
/* 1 when the first n characters of s are base64url ones (s has at least n before its NUL); 0 otherwise, and for NULL. */
int hub_is_b64url(const char *s, size_t n);

/* base64url without padding. encode writes HUB_B64URL_LEN(len) chars and a NUL; returns
 * the length written. decode accepts no padding and no white space; returns the decoded
 * length or HUB_E_PARSE; out must hold at least len*3/4+1 bytes. */
size_t hub_b64url_encode(char *out, const void *in, size_t len);
int hub_b64url_decode(void *out, const char *in, size_t len);

/* SHA-256. */
#define HUB_SHA256_LEN 32
void hub_sha256(uint8_t out[HUB_SHA256_LEN], const void *in, size_t len);

/* The stored form of a high-entropy secret (client secret, refresh token, code, session
 * id, join token): base64url(SHA-256(secret)), 43 chars + NUL. Used as a store key, so a
 * secret is never written in clear. */
#define HUB_SECRET_HASH_LEN 43
void hub_secret_hash(char out[HUB_SECRET_HASH_LEN + 1], const char *secret, size_t len);

/* Constant-time equality of two buffers of possibly different lengths (lengths leak). */
int hub_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
