/* The node's TLS server context: built from node.tls, swapped whole on reload. A connection holds a reference to the
 * context it was accepted with, so a reload never pulls a context from under a handshake in progress. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/tls.h"
#include "hub/util.h"

#define TLS_WHY 512

struct st_hub_tls_t {
    const hub_config_t *cfg;
    pthread_mutex_t mutex;
    SSL_CTX *ctx; /* the current context (one reference); guarded by mutex */
    unsigned gen; /* bumped (atomically, under mutex) whenever ctx changes */
};

/* OpenSSL's reason for the failure (the first error queued is the cause: "no start line" before "PEM lib"; never key
 * material), and an empty error queue for the next caller. */
static const char *openssl_reason(void)
{
    unsigned long e = ERR_peek_error();
    const char *r = e == 0 ? NULL : ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e)) : ERR_reason_error_string(e);
    ERR_clear_error();
    return r != NULL ? r : "unknown error";
}

/* A new server context from the files cfg names, or NULL with the reason in why. */
static SSL_CTX *load_ctx(const hub_config_t *cfg, char *why, size_t whysize)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        hub_oom();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->node.tls_cert) != 1) {
        snprintf(why, whysize, "node.tls.cert: cannot load %s (%s)", cfg->node.tls_cert, openssl_reason());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->node.tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(why, whysize, "node.tls.key: cannot load %s or it does not match the certificate (%s)", cfg->node.tls_key,
                 openssl_reason());
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int has_expired(SSL_CTX *ctx)
{
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    return cert != NULL && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
}

/* "subject CN = example.org, expires Jan  1 00:00:00 2030 GMT" (control characters escaped) into buf. */
static void describe(SSL_CTX *ctx, char *buf, size_t size)
{
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    BIO *bio = BIO_new(BIO_s_mem());
    int n;

    buf[0] = '\0';
    if (cert == NULL || bio == NULL)
        goto out;
    BIO_puts(bio, "subject ");
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE);
    BIO_puts(bio, ", expires ");
    ASN1_TIME_print(bio, X509_get0_notAfter(cert));
    if ((n = BIO_read(bio, buf, (int)size - 1)) > 0)
        buf[n] = '\0';
out:
    BIO_free(bio);
    ERR_clear_error();
}

int hub_tls_create(hub_tls_t **out, const hub_config_t *cfg)
{
    char why[TLS_WHY], what[256];
    SSL_CTX *ctx;
    hub_tls_t *tls;

    *out = NULL;
    if (cfg->node.tls_cert == NULL)
        return 0;
    if ((ctx = load_ctx(cfg, why, sizeof(why))) == NULL) {
        hub_log_error("%s", why);
        return HUB_E_CONFIG;
    }
    describe(ctx, what, sizeof(what));
    if (has_expired(ctx))
        hub_log_warn("node.tls.cert: %s has expired (%s): browsers will refuse it", cfg->node.tls_cert, what);
    tls = hub_xcalloc(1, sizeof(*tls));
    tls->cfg = cfg;
    pthread_mutex_init(&tls->mutex, NULL);
    tls->ctx = ctx;
    tls->gen = 1;
    *out = tls;
    return 0;
}

void hub_tls_destroy(hub_tls_t *tls)
{
    if (tls == NULL)
        return;
    SSL_CTX_free(tls->ctx);
    pthread_mutex_destroy(&tls->mutex);
    free(tls);
}

int hub_tls_reload(hub_tls_t *tls)
{
    char why[TLS_WHY], what[256];
    SSL_CTX *ctx, *old;

    if ((ctx = load_ctx(tls->cfg, why, sizeof(why))) == NULL) {
        hub_log_error("SIGHUP: %s; keeping the current certificate", why);
        return HUB_E_CONFIG;
    }
    describe(ctx, what, sizeof(what));
    if (has_expired(ctx)) {
        hub_log_error("SIGHUP: node.tls.cert: %s has expired (%s); keeping the current certificate", tls->cfg->node.tls_cert, what);
        SSL_CTX_free(ctx);
        return HUB_E_CONFIG;
    }
    pthread_mutex_lock(&tls->mutex);
    old = tls->ctx;
    tls->ctx = ctx;
    __atomic_add_fetch(&tls->gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&tls->mutex);
    SSL_CTX_free(old); /* connections accepted with it hold their own references */
    hub_log_info("SIGHUP: TLS certificate reloaded from %s (%s)", tls->cfg->node.tls_cert, what);
    return 0;
}

SSL_CTX *hub_tls_acquire(hub_tls_t *tls, hub_tls_local_t *local)
{
    unsigned gen = __atomic_load_n(&tls->gen, __ATOMIC_ACQUIRE);
    SSL_CTX *old = NULL;

    if (local->ctx == NULL || local->gen != gen) {
        pthread_mutex_lock(&tls->mutex);
        SSL_CTX_up_ref(tls->ctx);
        old = local->ctx;
        local->ctx = tls->ctx;
        local->gen = tls->gen;
        pthread_mutex_unlock(&tls->mutex);
        SSL_CTX_free(old); /* NULL is fine */
    }
    SSL_CTX_up_ref(local->ctx);
    return local->ctx;
}

void hub_tls_local_dispose(hub_tls_local_t *local)
{
    SSL_CTX_free(local->ctx);
    local->ctx = NULL;
    local->gen = 0;
}
