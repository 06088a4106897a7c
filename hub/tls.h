/* The node's TLS server context (node.tls): loaded at start, replaced on SIGHUP while connections keep the one they
 * began with. */
#ifndef HUB_TLS_H
#define HUB_TLS_H

#include <openssl/ssl.h>
#include "hub/config.h"

typedef struct st_hub_tls_t hub_tls_t;

/* A loop thread's cached reference to the current context, so a new connection normally costs no lock. Zero-initialise;
 * release with hub_tls_local_dispose on the same thread. */
typedef struct st_hub_tls_local_t {
    SSL_CTX *ctx;
    unsigned gen;
} hub_tls_local_t;

/* Loads node.tls.cert (a PEM chain) and node.tls.key of cfg (borrowed; must outlive the result) into a server context
 * (TLS 1.2 or later, ALPN h2 and http/1.1). *out is NULL when cfg has no node.tls. Returns 0, or HUB_E_CONFIG after
 * logging a line naming the key and the file when a file does not load or the key does not match. */
int hub_tls_create(hub_tls_t **out, const hub_config_t *cfg);

/* Frees tls (NULL is fine). Contexts still referenced by open connections live on until those close. */
void hub_tls_destroy(hub_tls_t *tls);

/* Re-reads the certificate and key files named by the configuration; the new context serves every handshake that
 * begins after this returns 0. A file that does not load, a key that does not match or a certificate that has expired
 * is refused with one error line and HUB_E_CONFIG, and the current context stays. Thread-safe. */
int hub_tls_reload(hub_tls_t *tls);

/* Returns the current context with one reference the caller owns (SSL_CTX_free it when the connection closes: h2o
 * keeps a bare pointer to it until the handshake has made its SSL). Called by the loop thread that owns local. */
SSL_CTX *hub_tls_acquire(hub_tls_t *tls, hub_tls_local_t *local);

/* Drops the thread's cached reference. */
void hub_tls_local_dispose(hub_tls_local_t *local);

#endif
