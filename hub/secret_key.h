/* A node's own secret keys, kept in its store: 256 random bits written once and read by every later caller (the key a
 * secondary derives its cookie keys from). Apart from hub/seal.h, which the configuration reads (the cluster secret),
 * so that the store, which reads the configuration, is below neither. */
#ifndef HUB_SECRET_KEY_H
#define HUB_SECRET_KEY_H

#include <stdint.h>
#include "hub/seal.h"
#include "hub/store.h"

/* The node's secret key called name in table t: 256 random bits written by the first caller (one short write
 * transaction, never overwriting another process's key), read by every later one. The store's files are 0600. Returns
 * 0, HUB_E_PARSE when the stored value is not a key, or a store error. */
int hub_store_secret_key(hub_store_t *store, hub_table_t t, const char *name, uint8_t key[HUB_KEY_LEN]);

#endif
