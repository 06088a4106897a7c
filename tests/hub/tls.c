/* Tests hub/tls.c: start and reload with good and bad pairs (the current context stays on every refusal), the loop's
 * cached reference, a context outliving the reload while a connection holds it, and loops acquiring while the main
 * thread reloads (run under ASan: no use after free, nothing leaked). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "hub/config.h"
#include "hub/err.h"
#include "hub/log.h"
#include "hub/tls.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static char *tmpdir; /* test_tmpdir */
static char cert_path[256], key_path[256];

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (key == NULL)
        abort();
    return key;
}

/* Writes a self-signed certificate for key with CN=cn, valid from `from` to `to` days from now, to cert_path. */
static void write_cert(EVP_PKEY *key, const char *cn, long from, long to)
{
    X509 *x = X509_new();
    FILE *fp = fopen(cert_path, "w");

    if (x == NULL || fp == NULL)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), from * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to * 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    if (X509_sign(x, key, EVP_sha256()) == 0 || PEM_write_X509(fp, x) != 1)
        abort();
    fclose(fp);
    X509_free(x);
}

static void write_key(EVP_PKEY *key)
{
    FILE *fp = fopen(key_path, "w");
    if (fp == NULL || PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) != 1)
        abort();
    fclose(fp);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        abort();
    fputs(text, fp);
    fclose(fp);
}

/* The CN of ctx's certificate, into a static buffer. */
static const char *cn_of(SSL_CTX *ctx)
{
    static char buf[64];
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    buf[0] = '\0';
    if (cert != NULL)
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf));
    return buf;
}

static void test_without_tls(const hub_config_t *base)
{
    hub_config_t cfg = *base;
    hub_tls_t *tls = (hub_tls_t *)1;

    cfg.node.tls_cert = cfg.node.tls_key = NULL;
    CHECK(hub_tls_create(&tls, &cfg) == 0);
    CHECK(tls == NULL);
    hub_tls_destroy(NULL);
}

static void test_start_refusals(const hub_config_t *cfg)
{
    EVP_PKEY *a = new_key(), *b = new_key();
    hub_tls_t *tls = NULL;

    write_cert(a, "mismatch", 0, 2);
    write_key(b);
    CHECK(hub_tls_create(&tls, cfg) == HUB_E_CONFIG && tls == NULL);
    write_text(cert_path, "not a certificate\n");
    CHECK(hub_tls_create(&tls, cfg) == HUB_E_CONFIG && tls == NULL);
    unlink(key_path);
    write_cert(b, "nokey", 0, 2);
    CHECK(hub_tls_create(&tls, cfg) == HUB_E_CONFIG && tls == NULL);
    /* expired: started anyway, with a warning (refusing would turn a late renewal into an outage) */
    write_cert(b, "expired", -10, -1);
    write_key(b);
    CHECK(hub_tls_create(&tls, cfg) == 0 && tls != NULL);
    hub_tls_destroy(tls);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

static void test_reload(const hub_config_t *cfg)
{
    EVP_PKEY *one = new_key(), *two = new_key(), *other = new_key();
    hub_tls_local_t local = {0};
    hub_tls_t *tls = NULL;
    SSL_CTX *first, *held, *c;
    SSL *ssl;

    write_cert(one, "one", 0, 2);
    write_key(one);
    if (hub_tls_create(&tls, cfg) != 0 || tls == NULL) {
        ++failures;
        return;
    }
    first = hub_tls_acquire(tls, &local);
    CHECK(strcmp(cn_of(first), "one") == 0);
    c = hub_tls_acquire(tls, &local);
    CHECK(c == first); /* the loop's cache: same context while nothing was reloaded */
    SSL_CTX_free(c);
    held = first; /* a connection accepted before the reload keeps this reference */

    write_cert(two, "two", 0, 2);
    write_key(two);
    CHECK(hub_tls_reload(tls) == 0);
    c = hub_tls_acquire(tls, &local);
    CHECK(c != held && strcmp(cn_of(c), "two") == 0);
    /* the server and the cache let go of "one"; the connection's reference keeps it whole */
    CHECK(strcmp(cn_of(held), "one") == 0);
    ssl = SSL_new(held);
    CHECK(ssl != NULL);
    SSL_free(ssl);
    SSL_CTX_free(held);
    SSL_CTX_free(c);

    /* every refusal leaves "two" in place, and the cache does not even look (no new generation) */
    static const char *const what[] = {"garbage certificate", "empty certificate", "mismatched key",
                                       "missing certificate", "missing key",       "expired certificate"};
    for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); ++i) {
        write_cert(two, "two", 0, 2);
        write_key(two);
        switch (i) {
        case 0:
            write_text(cert_path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
            break;
        case 1:
            write_text(cert_path, "");
            break;
        case 2:
            write_key(other);
            break;
        case 3:
            unlink(cert_path);
            break;
        case 4:
            unlink(key_path);
            break;
        case 5:
            write_cert(two, "two-expired", -30, -1);
            break;
        }
        if (hub_tls_reload(tls) != HUB_E_CONFIG) {
            fprintf(stderr, "reload with a %s was not refused\n", what[i]);
            ++failures;
        }
        c = hub_tls_acquire(tls, &local);
        if (strcmp(cn_of(c), "two") != 0) {
            fprintf(stderr, "after a %s the context is \"%s\"\n", what[i], cn_of(c));
            ++failures;
        }
        SSL_CTX_free(c);
    }
    hub_tls_local_dispose(&local);
    CHECK(local.ctx == NULL);
    hub_tls_destroy(tls);
    EVP_PKEY_free(one);
    EVP_PKEY_free(two);
    EVP_PKEY_free(other);
}

typedef struct {
    hub_tls_t *tls;
    int stop;
    unsigned long acquired;
} loop_arg_t;

/* A loop thread: accepts (acquire), hands the context to a "connection" that makes an SSL on it, closes it. */
static void *loop_main(void *p)
{
    loop_arg_t *arg = p;
    hub_tls_local_t local = {0};

    while (!__atomic_load_n(&arg->stop, __ATOMIC_ACQUIRE)) {
        SSL_CTX *ctx = hub_tls_acquire(arg->tls, &local);
        SSL *ssl = SSL_new(ctx);
        if (ssl == NULL)
            abort();
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        __atomic_add_fetch(&arg->acquired, 1, __ATOMIC_RELAXED);
    }
    hub_tls_local_dispose(&local);
    return NULL;
}

static void test_reload_while_loops_accept(const hub_config_t *cfg)
{
    EVP_PKEY *key = new_key();
    loop_arg_t arg = {NULL};
    pthread_t loops[4];
    int reloads = 0;

    write_cert(key, "race", 0, 2);
    write_key(key);
    if (hub_tls_create(&arg.tls, cfg) != 0) {
        ++failures;
        return;
    }
    for (int i = 0; i < 4; ++i)
        pthread_create(&loops[i], NULL, loop_main, &arg);
    for (int i = 0; i < 100; ++i) {
        reloads += hub_tls_reload(arg.tls) == 0;
        usleep(200);
    }
    __atomic_store_n(&arg.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 4; ++i)
        pthread_join(loops[i], NULL);
    CHECK(reloads == 100);
    CHECK(arg.acquired > 0);
    hub_tls_destroy(arg.tls);
    EVP_PKEY_free(key);
}

int main(void)
{
    hub_config_t cfg;

    tmpdir = test_tmpdir("hub-tls");
    hub_log_init(HUB_LOG_ERROR, "tls-test");
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
    hub_config_defaults(&cfg);
    cfg.node.tls_cert = cert_path;
    cfg.node.tls_key = key_path;
    test_without_tls(&cfg);
    test_start_refusals(&cfg);
    test_reload(&cfg);
    test_reload_while_loops_accept(&cfg);
    cfg.node.tls_cert = cfg.node.tls_key = NULL; /* not the config's to free */
    hub_config_dispose(&cfg);
    CHECK(test_tmpdir_remove(tmpdir) == 0);
    return check_report("hub/tls");
}
