/* Secrets a node keeps for itself: a 256-bit key created once in its store, HMAC-SHA256 under it, and AES-256-GCM
 * boxes (what a node hands a browser and must get back unchanged, e.g. a sealed cookie). */
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

#endif
