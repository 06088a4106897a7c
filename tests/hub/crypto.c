/* Tests hub/crypto.c: base64url vectors and rejections, SHA-256, secret hashes, ct_equal, random tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/wait.h>
#include "hub/crypto.h"
#include "hub/err.h"
#include "tests/check.h"

static void test_b64url_vectors(void)
{
    /* RFC 4648 §10 vectors without padding, plus the two URL-safe characters. */
    static const struct {
        const char *bin;
        size_t len;
        const char *enc;
    } vec[] = {
        {"", 0, ""},
        {"f", 1, "Zg"},
        {"fo", 2, "Zm8"},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"},
        {"fooba", 5, "Zm9vYmE"},
        {"foobar", 6, "Zm9vYmFy"},
        {"\xfb\xef\xbe", 3, "----"},
        {"\xff\xff\xff", 3, "____"},
        {"\xfb\xff", 2, "-_8"},
        {"\x00\x00\x00\x00", 4, "AAAAAA"},
    };
    char enc[64];
    uint8_t dec[64];

    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); ++i) {
        size_t n = hub_b64url_encode(enc, vec[i].bin, vec[i].len);
        CHECK(n == strlen(vec[i].enc));
        CHECK(n == HUB_B64URL_LEN(vec[i].len));
        CHECK(strcmp(enc, vec[i].enc) == 0);
        int m = hub_b64url_decode(dec, vec[i].enc, strlen(vec[i].enc));
        CHECK(m == (int)vec[i].len);
        CHECK(m >= 0 && memcmp(dec, vec[i].bin, vec[i].len) == 0);
    }
}

static void test_b64url_round_trip(void)
{
    uint8_t bin[300], dec[300];
    char enc[HUB_B64URL_LEN(300) + 1];

    for (size_t len = 0; len <= sizeof(bin); ++len) {
        hub_random_bytes(bin, len);
        size_t n = hub_b64url_encode(enc, bin, len);
        CHECK(n == HUB_B64URL_LEN(len) && strlen(enc) == n);
        CHECK(n % 4 != 1);
        int m = hub_b64url_decode(dec, enc, n);
        CHECK(m == (int)len);
        CHECK(m >= 0 && memcmp(dec, bin, len) == 0);
    }
}

static void test_b64url_rejects(void)
{
    static const char *const bad[] = {
        "Zg==",                           /* padding */
        "Zm8=",                           /* padding */
        "Zm9v YmFy",                      /* white space */
        "Zm9v\n",                         /* newline */
        "Zm9v\r\nYmFy", "\tZm9v", "Zm+v", /* standard base64 alphabet */
        "Zm/v",         "Zm9v!",  "Z",    /* len % 4 == 1 */
        "Zm9vY",                          /* len % 4 == 1 */
        "Zh",                             /* non-zero unused bits */
        "Zm9",                            /* non-zero unused bits */
        "Zm\xc3\xa9",
    };
    uint8_t dec[64];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        int r = hub_b64url_decode(dec, bad[i], strlen(bad[i]));
        if (r != HUB_E_PARSE) {
            fprintf(stderr, "accepted bad base64url #%zu\n", i);
            ++failures;
        }
    }
    /* An embedded NUL is a foreign byte like any other. */
    CHECK(hub_b64url_decode(dec, "Zm\0v", 4) == HUB_E_PARSE);
    CHECK(hub_b64url_decode(dec, "", 0) == 0);
}

static void hex(char *out, const uint8_t *in, size_t len)
{
    for (size_t i = 0; i < len; ++i)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void test_sha256(void)
{
    uint8_t d[HUB_SHA256_LEN];
    char h[2 * HUB_SHA256_LEN + 1], s[HUB_SECRET_HASH_LEN + 1], e[HUB_SECRET_HASH_LEN + 1];

    hub_sha256(d, "abc", 3);
    hex(h, d, sizeof(d));
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    hub_sha256(d, "", 0);
    hex(h, d, sizeof(d));
    CHECK(strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    hub_sha256(d, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
    hex(h, d, sizeof(d));
    CHECK(strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);

    hub_secret_hash(s, "abc", 3);
    CHECK(strlen(s) == HUB_SECRET_HASH_LEN);
    CHECK(strcmp(s, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0") == 0);
    hub_secret_hash(e, "abd", 3);
    CHECK(strcmp(s, e) != 0);
}

static void test_ct_equal(void)
{
    CHECK(hub_ct_equal("secret", 6, "secret", 6) == 1);
    CHECK(hub_ct_equal("secret", 6, "secreT", 6) == 0);
    CHECK(hub_ct_equal("Secret", 6, "secret", 6) == 0);
    CHECK(hub_ct_equal("secret", 6, "secret!", 7) == 0);
    CHECK(hub_ct_equal("secret!", 7, "secret", 6) == 0);
    CHECK(hub_ct_equal("", 0, "", 0) == 1);
    CHECK(hub_ct_equal("", 0, "x", 1) == 0);
    CHECK(hub_ct_equal(NULL, 0, NULL, 0) == 1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void *random_thread(void *arg)
{
    hub_random_bytes(arg, 16);
    return NULL;
}

static void test_random_token(void)
{
    enum { N = 2000 };
    static char toks[N][HUB_B64URL_LEN(32) + 1];
    char big[HUB_B64URL_LEN(200) + 2];
    uint8_t dec[256];

    for (size_t i = 0; i < N; ++i) {
        hub_random_token(toks[i], 32);
        CHECK(strlen(toks[i]) == 43);
        CHECK(strspn(toks[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
        CHECK(hub_b64url_decode(dec, toks[i], 43) == 32);
    }
    qsort(toks, N, sizeof(toks[0]), cmp_str);
    for (size_t i = 1; i < N; ++i)
        CHECK(strcmp(toks[i - 1], toks[i]) != 0);

    /* Larger than the internal stack buffer. */
    memset(big, 'x', sizeof(big));
    hub_random_token(big, 200);
    CHECK(strlen(big) == HUB_B64URL_LEN(200));
    CHECK(big[HUB_B64URL_LEN(200) + 1] == 'x');
    CHECK(hub_b64url_decode(dec, big, strlen(big)) == 200);

    uint8_t z[16] = {0};
    hub_random_bytes(z, sizeof(z));
    static const uint8_t zero[16];
    CHECK(memcmp(z, zero, sizeof(z)) != 0);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* hub_timed_token: the time in ms, then random bytes; tokens made in the same ms share their first HUB_TIMED_CHARS
 * characters and nothing more is shared. */
static void test_timed_token(void)
{
    enum { N = 2000 };
    static char toks[N][HUB_B64URL_LEN(32) + 1];
    uint8_t dec[32];
    uint64_t before = now_ms(), after, prev = 0;
    int same_ms = 0, plen_ok = 1;

    for (size_t i = 0; i < N; ++i) {
        hub_timed_token(toks[i], 32);
        CHECK(strlen(toks[i]) == 43 && hub_is_b64url(toks[i], 43) && hub_b64url_decode(dec, toks[i], 43) == 32);
        uint64_t ms = 0;
        for (size_t k = 0; k != HUB_TIMED_BYTES; ++k)
            ms = ms << 8 | dec[k];
        CHECK(ms >= before && ms >= prev);
        if (i > 0 && ms == prev) {
            ++same_ms;
            plen_ok &= strncmp(toks[i - 1], toks[i], HUB_TIMED_CHARS) == 0;
        }
        prev = ms;
    }
    after = now_ms();
    CHECK(prev <= after);
    CHECK(same_ms > 0 && plen_ok); /* 2,000 tokens do not take 2,000 ms */
    qsort(toks, N, sizeof(toks[0]), cmp_str);
    for (size_t i = 1; i < N; ++i)
        CHECK(strcmp(toks[i - 1], toks[i]) != 0 && strcmp(toks[i - 1] + HUB_TIMED_CHARS, toks[i] + HUB_TIMED_CHARS) != 0);
    char jti[HUB_B64URL_LEN(22) + 1];
    hub_timed_token(jti, 22);
    CHECK(strlen(jti) == 30);

    CHECK(hub_is_b64url("abc-_Z09", 8) && hub_is_b64url("abc-_Z09.", 8) && !hub_is_b64url("abc-_Z0.", 8));
    CHECK(!hub_is_b64url("abc", 8) && !hub_is_b64url(NULL, 1) && hub_is_b64url("", 0) && !hub_is_b64url("ab=c", 4));
}

/* Small requests come from a per-thread block of DRBG output: a forked child must not hand out what its parent
 * hands out next, and two threads never share bytes. */
static void test_random_fork_and_threads(void)
{
    uint8_t parent[16], child[16], warm[8];
    int fds[2];
    pid_t pid;

    hub_random_bytes(warm, sizeof(warm)); /* the block is filled and partly used before the fork */
    CHECK(pipe(fds) == 0);
    if ((pid = fork()) == 0) {
        hub_random_bytes(child, sizeof(child));
        _exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
    }
    CHECK(pid > 0);
    hub_random_bytes(parent, sizeof(parent));
    CHECK(read(fds[0], child, sizeof(child)) == (ssize_t)sizeof(child));
    CHECK(memcmp(parent, child, sizeof(parent)) != 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);

    pthread_t th;
    uint8_t other[16], mine[16];
    CHECK(pthread_create(&th, NULL, random_thread, other) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    hub_random_bytes(mine, sizeof(mine));
    CHECK(memcmp(mine, other, sizeof(mine)) != 0);
}

int main(void)
{
    test_b64url_vectors();
    test_b64url_round_trip();
    test_b64url_rejects();
    test_sha256();
    test_ct_equal();
    test_random_token();
    test_timed_token();
    test_random_fork_and_threads();
    return check_report("hub/crypto");
}
