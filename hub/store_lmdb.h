/* The store's LMDB backend (hub/store.h's default): one environment in a directory, for one node and its hubctl. */
#ifndef HUB_STORE_LMDB_H
#define HUB_STORE_LMDB_H

#include "hub/store_types.h"

/* Opens (creating its files when missing, mode 0600) the environment in dir, which exists, checking or writing the
 * schema version (HUB_E_VERSION when the data is newer). */
int hub_store_lmdb_open(hub_store_t **out, const char *dir);

#endif
