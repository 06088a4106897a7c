/* Argon2id password hashes at OWASP's recommended minimum, and the dummy hash that keeps sign-ins constant-cost. */
#include <argon2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <openssl/crypto.h>
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

/* ---- verification in this thread's own memory ---- */

/* A verification's memory (m KiB: 19 MiB for our hashes) is this thread's, kept from one verification to the next:
 * mapped once, 2 MiB-aligned and offered to the kernel for transparent huge pages (MADV_HUGEPAGE; a kernel that keeps
 * them to madvised regions, as Debian's does by default, then backs it with ten pages instead of five thousand), so a
 * verification neither faults it in again nor spends its passes on TLB misses. libargon2 wipes it before handing it
 * back (free_cbk); it is unmapped when the thread ends. Hashes asking for more than ARENA_MAX_KIB go to malloc. */
#define ARENA_MAX_KIB 65536
#define HUGE_PAGE ((size_t)2 << 20)

typedef struct st_arena_t {
    uint8_t *map; /* what mmap gave, HUGE_PAGE more than size */
    uint8_t *mem; /* map, aligned */
    size_t size;
} arena_t;

static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_dispose(void *arg)
{
    arena_t *a = arg;

    munmap(a->map, a->size + HUGE_PAGE);
    free(a);
}

static void arena_init(void)
{
    if (pthread_key_create(&arena_key, arena_dispose) != 0)
        hub_oom();
}

static int arena_allocate(uint8_t **memory, size_t bytes)
{
    arena_t *a = pthread_getspecific(arena_key);

    if (a != NULL && a->size < bytes) {
        pthread_setspecific(arena_key, NULL);
        arena_dispose(a);
        a = NULL;
    }
    if (a == NULL) {
        size_t size = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        void *map = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED)
            return -1;
        a = hub_xmalloc(sizeof(*a));
        a->map = map;
        a->mem = (uint8_t *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        a->size = size;
        (void)madvise(a->mem, size, MADV_HUGEPAGE); /* advice: without it the memory works all the same */
        if (pthread_setspecific(arena_key, a) != 0) {
            arena_dispose(a);
            return -1;
        }
    }
    *memory = a->mem;
    return 0;
}

static void arena_release(uint8_t *memory, size_t bytes)
{
    (void)memory; /* kept for the thread's next verification */
    (void)bytes;
}

/* Unpadded standard base64 of at most cap bytes (the alphabet of Argon2's strings) into out; the length or -1. */
static int b64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
    char url[128];
    int n;

    if (len >= sizeof(url) || (len * 3) / 4 > cap)
        return -1;
    for (size_t i = 0; i != len; ++i)
        url[i] = in[i] == '+' ? '-' : in[i] == '/' ? '_' : in[i] == '-' || in[i] == '_' ? '!' : in[i];
    url[len] = '\0';
    n = hub_b64url_decode(out, url, len);
    return n < 0 ? -1 : n;
}

/* A decimal of at most 10 digits at *s, without sign or leading zero, up to max; advances *s. */
static int parse_num(const char **s, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    size_t n = 0;

    while ((*s)[n] >= '0' && (*s)[n] <= '9' && n != 11)
        v = v * 10 + (uint64_t)((*s)[n++] - '0');
    if (n == 0 || n > 10 || ((*s)[0] == '0' && n > 1) || v > max)
        return -1;
    *s += n;
    *out = (uint32_t)v;
    return 0;
}

/* The hash of an "$argon2id$v=19$m=M,t=T,p=1$SALT$HASH" string, exactly as argon2id_hash_encoded writes one with one
 * lane and at most ARENA_MAX_KIB, read into c (salt and hash into the buffers given). -1 for any other string, which
 * the library's own verification takes instead: a string read here means to libargon2 what it means there. */
typedef struct st_encoded_t {
    uint32_t m, t;
    uint8_t salt[64], hash[64];
    int salt_len, hash_len;
} encoded_t;

static int parse_encoded(const char *s, encoded_t *e)
{
    static const char prefix[] = "$argon2id$v=19$m=";
    const char *salt, *hash;
    uint32_t p;

    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
        return -1;
    s += sizeof(prefix) - 1;
    if (parse_num(&s, ARENA_MAX_KIB, &e->m) != 0 || strncmp(s, ",t=", 3) != 0 || (s += 3, parse_num(&s, 64, &e->t)) != 0 ||
        strncmp(s, ",p=", 3) != 0 || (s += 3, parse_num(&s, 1, &p)) != 0 || *s != '$')
        return -1;
    salt = s + 1;
    if ((hash = strchr(salt, '$')) == NULL || strchr(hash + 1, '$') != NULL)
        return -1;
    e->salt_len = b64_decode(e->salt, sizeof(e->salt), salt, (size_t)(hash - salt));
    e->hash_len = b64_decode(e->hash, sizeof(e->hash), hash + 1, strlen(hash + 1));
    return e->salt_len < 0 || e->hash_len < 0 || p != 1 ? -1 : 0;
}

/* argon2id_verify, in this thread's arena for the strings parse_encoded reads. */
static int verify(const char *encoded, const char *password, size_t len)
{
    encoded_t e;
    uint8_t out[sizeof(e.hash)];
    int rc;

    if (parse_encoded(encoded, &e) != 0)
        return argon2id_verify(encoded, password, len);
    pthread_once(&arena_once, arena_init);
    argon2_context c = {.out = out,
                        .outlen = (uint32_t)e.hash_len,
                        .pwd = (uint8_t *)password,
                        .pwdlen = (uint32_t)len,
                        .salt = e.salt,
                        .saltlen = (uint32_t)e.salt_len,
                        .t_cost = e.t,
                        .m_cost = e.m,
                        .lanes = 1,
                        .threads = 1,
                        .version = ARGON2_VERSION_13,
                        .allocate_cbk = arena_allocate,
                        .free_cbk = arena_release,
                        .flags = ARGON2_DEFAULT_FLAGS};
    rc = argon2id_verify_ctx(&c, (const char *)e.hash);
    OPENSSL_cleanse(out, sizeof(out));
    return rc;
}

int idp_password_verify(const char *encoded, const char *password, size_t len)
{
    const char *dummy = idp_password_dummy_hash();
    int rc;

    if (password == NULL)
        password = "", len = 0;
    if (len > IDP_PASSWORD_MAX)
        len = IDP_PASSWORD_MAX;
    rc = verify(encoded != NULL ? encoded : dummy, password, len);
    if (rc != ARGON2_OK && rc != ARGON2_VERIFY_MISMATCH) /* a malformed hash still costs a verification */
        (void)verify(dummy, password, len);
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
