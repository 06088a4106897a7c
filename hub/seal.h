/* Secrets a node keeps for itself: a 256-bit key created once in its store, HMAC-SHA256 under it, AES-256-GCM boxes
 * (what a node hands a browser and must get back unchanged, e.g. a sealed cookie), and the cluster secret that the
 * primaries of a cluster share (SPEC §9), read from its file, with HKDF-SHA256 deriving keys from it. */
#ifndef HUB_SEAL_H
#define HUB_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"

#define HUB_KEY_LEN 32
#define HUB_MAC_LEN 32
#define HUB_SEAL_IV_LEN 12
#define HUB_SEAL_TAG_LEN 16
#define HUB_SEAL_OVERHEAD (HUB_SEAL_IV_LEN + HUB_SEAL_TAG_LEN) /* a box is this much longer than what it holds */

/* HMAC-SHA256 of data under key. */
void hub_hmac_sha256(uint8_t out[HUB_MAC_LEN], const void *key, size_t keylen, const void *data, size_t len);

/* A key for one purpose derived from a node key: HMAC-SHA256(node_key, label), so keys of different purposes never
 * meet. */
void hub_key_derive(uint8_t out[HUB_KEY_LEN], const uint8_t node_key[HUB_KEY_LEN], const char *label);

/* Seals len bytes of in under key, bound to the associated data ad (authenticated, not stored): writes a random IV,
 * the ciphertext and the tag, len + HUB_SEAL_OVERHEAD bytes, to out. */
void hub_seal(const uint8_t key[HUB_KEY_LEN], const void *ad, size_t adlen, const void *in, size_t len, uint8_t *out);

/* Opens a box hub_seal wrote: writes len - HUB_SEAL_OVERHEAD bytes to out and returns that length; HUB_E_CRYPTO when
 * the box is too short, was altered, or was sealed under another key or other associated data (out then holds
 * nothing usable). */
int hub_open(const uint8_t key[HUB_KEY_LEN], const void *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out);

/* The node's secret key called name in table t: 256 random bits written by the first caller (one short write
 * transaction, never overwriting another process's key), read by every later one. The store's files are 0600. Returns
 * 0, HUB_E_PARSE when the stored value is not a key, or a store error. */
int hub_store_secret_key(hub_store_t *store, hub_table_t t, const char *name, uint8_t key[HUB_KEY_LEN]);

/* The cluster secret's file (primary.cluster_secret_file): base64 text (the standard or the URL alphabet, padding
 * optional, white space and line breaks ignored, as `openssl rand -base64 32` writes it) of HUB_CLUSTER_SECRET_MIN to
 * HUB_CLUSTER_SECRET_MAX random bytes, in a regular file that neither its group nor others may read. */
#define HUB_CLUSTER_SECRET_MIN 32
#define HUB_CLUSTER_SECRET_MAX 1024
#define HUB_CLUSTER_SECRET_FILE_MAX 4096 /* bytes of the file: the text of HUB_CLUSTER_SECRET_MAX bytes, wrapped */

/* Reads and decodes the cluster secret at path into out. Returns its length in bytes (the caller cleanses out after
 * use), or HUB_E_IO (cannot be read, or not a regular file), HUB_E_DENIED (group or others may read it), HUB_E_PARSE
 * (not base64 text) or HUB_E_TOOBIG/HUB_E_INVAL (longer or shorter than allowed), with a one-line reason naming the
 * file and the way to fix it in why (whysize bytes; never any of the secret). Opens without blocking: a FIFO or a
 * device is refused, never read. */
int hub_cluster_secret_read(const char *path, uint8_t out[HUB_CLUSTER_SECRET_MAX], char *why, size_t whysize);

/* HKDF-SHA256 (RFC 5869) of the input keying material ikm, with no salt and info naming the purpose and its version
 * ("hub cluster: signing key seal v1"): a HUB_KEY_LEN key to out, unrelated to any derived under another info. */
void hub_hkdf_sha256(uint8_t out[HUB_KEY_LEN], const uint8_t *ikm, size_t len, const char *info);

#endif
