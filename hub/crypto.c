/* Randomness, SHA-256, strict base64url and constant-time comparison on OpenSSL. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "hub/util.h"

static const char b64url_alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Reverse table holding value + 1, so 0 marks every byte outside the alphabet (padding
 * and white space included: they are rejected like any other foreign byte). */
static const uint8_t b64url_rev[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,  ['I'] = 9,  ['J'] = 10,
    ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20,
    ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
    ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
    ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

/* 0..63, or 0xff for a byte outside the alphabet. */
static inline uint8_t b64url_val(unsigned char c)
{
    return (uint8_t)(b64url_rev[c] - 1);
}

static void rand_fill(void *buf, size_t len)
{
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(buf, n) != 1) {
            hub_fatal("RAND_bytes failed (error %lu)", ERR_get_error());
        }
        buf = (uint8_t *)buf + n;
        len -= (size_t)n;
    }
}

/* Small requests (token ids, codes, secrets) are served from a per-thread block of DRBG output, drawn RAND_POOL bytes
 * at a time: one DRBG call serves dozens of tokens. Bytes handed out are wiped from the block; a forked child starts
 * with an empty block, so parent and child never share output. */
#define RAND_POOL 1024
#define RAND_POOLED_MAX 64

static __thread struct {
    uint8_t bytes[RAND_POOL];
    size_t pos; /* next unused byte; RAND_POOL = empty */
    int filled;
} rand_pool;
static pthread_once_t rand_once = PTHREAD_ONCE_INIT;

static void rand_pool_forget(void)
{
    OPENSSL_cleanse(rand_pool.bytes, sizeof(rand_pool.bytes));
    rand_pool.pos = RAND_POOL;
}

static void rand_pool_init(void)
{
    pthread_atfork(NULL, NULL, rand_pool_forget);
}

void hub_random_bytes(void *buf, size_t len)
{
    if (len > RAND_POOLED_MAX) {
        rand_fill(buf, len);
        return;
    }
    if (!rand_pool.filled) {
        pthread_once(&rand_once, rand_pool_init);
        rand_pool.pos = RAND_POOL;
        rand_pool.filled = 1;
    }
    if (RAND_POOL - rand_pool.pos < len) {
        rand_fill(rand_pool.bytes, RAND_POOL);
        rand_pool.pos = 0;
    }
    memcpy(buf, rand_pool.bytes + rand_pool.pos, len);
    OPENSSL_cleanse(rand_pool.bytes + rand_pool.pos, len);
    rand_pool.pos += len;
}

int hub_is_b64url(const char *s, size_t n)
{
    if (s == NULL)
        return 0;
    for (size_t i = 0; i != n; ++i)
        if (s[i] == '\0' || b64url_rev[(unsigned char)s[i]] == 0)
            return 0;
    return 1;
}

int hub_is_token(const char *s, size_t bytes)
{
    size_t len = HUB_B64URL_LEN(bytes);
    return hub_is_b64url(s, len) && s[len] == '\0';
}

void hub_random_token(char *out, size_t bytes)
{
    uint8_t stackbuf[64] = {0}, *raw = stackbuf; /* zeroed only to quiet -Wmaybe-uninitialized */

    if (bytes > sizeof(stackbuf))
        raw = hub_xmalloc(bytes);
    hub_random_bytes(raw, bytes);
    hub_b64url_encode(out, raw, bytes);
    OPENSSL_cleanse(raw, bytes);
    if (raw != stackbuf)
        free(raw);
}

void hub_timed_token(char *out, size_t bytes)
{
    uint8_t raw[64] = {0};
    struct timespec ts;
    uint64_t ms;

    if (bytes > sizeof(raw) || bytes < HUB_TIMED_BYTES + 16)
        hub_fatal("hub_timed_token: %zu bytes", bytes);
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (size_t i = 0; i != HUB_TIMED_BYTES; ++i)
        raw[i] = (uint8_t)(ms >> (8 * (HUB_TIMED_BYTES - 1 - i)));
    hub_random_bytes(raw + HUB_TIMED_BYTES, bytes - HUB_TIMED_BYTES);
    hub_b64url_encode(out, raw, bytes);
    OPENSSL_cleanse(raw, bytes);
}

size_t hub_b64url_encode(char *out, const void *in, size_t len)
{
    const uint8_t *src = in;
    char *dst = out;
    size_t i;

    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        *dst++ = b64url_alphabet[v >> 18];
        *dst++ = b64url_alphabet[(v >> 12) & 63];
        *dst++ = b64url_alphabet[(v >> 6) & 63];
        *dst++ = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        *dst++ = b64url_alphabet[v >> 18];
        *dst++ = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        *dst++ = b64url_alphabet[v >> 18];
        *dst++ = b64url_alphabet[(v >> 12) & 63];
        *dst++ = b64url_alphabet[(v >> 6) & 63];
    }
    *dst = '\0';
    return (size_t)(dst - out);
}

int hub_b64url_decode(void *out, const char *in, size_t len)
{
    const unsigned char *src = (const unsigned char *)in;
    uint8_t *dst = out;
    size_t i, rem = len % 4;

    /* One leftover character carries only 6 bits: no byte string encodes to that. */
    if (rem == 1 || len / 4 * 3 + 2 > INT_MAX)
        return HUB_E_PARSE;
    for (i = 0; i + 4 <= len; i += 4) {
        uint8_t a = b64url_val(src[i]), b = b64url_val(src[i + 1]), c = b64url_val(src[i + 2]), d = b64url_val(src[i + 3]);
        if ((a | b | c | d) & 0xc0)
            return HUB_E_PARSE;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        *dst++ = (uint8_t)(v >> 16);
        *dst++ = (uint8_t)(v >> 8);
        *dst++ = (uint8_t)v;
    }
    if (rem == 2) {
        uint8_t a = b64url_val(src[i]), b = b64url_val(src[i + 1]);
        /* The unused low bits must be zero, so every byte string has exactly one encoding. */
        if ((a | b) & 0xc0 || (b & 0x0f) != 0)
            return HUB_E_PARSE;
        *dst++ = (uint8_t)(a << 2 | b >> 4);
    } else if (rem == 3) {
        uint8_t a = b64url_val(src[i]), b = b64url_val(src[i + 1]), c = b64url_val(src[i + 2]);
        if ((a | b | c) & 0xc0 || (c & 0x03) != 0)
            return HUB_E_PARSE;
        *dst++ = (uint8_t)(a << 2 | b >> 4);
        *dst++ = (uint8_t)(b << 4 | c >> 2);
    }
    return (int)(dst - (uint8_t *)out);
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetched once: EVP_sha256() makes every EVP_Digest look the implementation up again (locks included). */
static void sha256_fetch(void)
{
    if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        hub_fatal("no SHA-256 in OpenSSL (error %lu)", ERR_get_error());
    }
}

void hub_sha256(uint8_t out[HUB_SHA256_LEN], const void *in, size_t len)
{
    pthread_once(&sha256_once, sha256_fetch);
    if (EVP_Digest(in, len, out, NULL, sha256_md, NULL) != 1) {
        hub_fatal("SHA-256 failed (error %lu)", ERR_get_error());
    }
}

void hub_secret_hash(char out[HUB_SECRET_HASH_LEN + 1], const char *secret, size_t len)
{
    uint8_t digest[HUB_SHA256_LEN];

    hub_sha256(digest, secret, len);
    hub_b64url_encode(out, digest, sizeof(digest));
}

int hub_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    /* Compare the common prefix whatever the lengths, so the content is never what ends
     * the comparison early; only the lengths (documented as public) decide beyond that. */
    size_t n = alen < blen ? alen : blen;
    int diff = n > 0 ? CRYPTO_memcmp(a, b, n) : 0;

    return (diff == 0) & (alen == blen);
}
