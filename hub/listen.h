/* The node's listening sockets: one SO_REUSEPORT listener per loop thread on node.listen (never sharing a port another
 * process serves), and how many client connections the node takes at once. */
#ifndef HUB_LISTEN_H
#define HUB_LISTEN_H

#include "hub/config.h"

/* Binds and listens on node.listen (SO_REUSEPORT, TCP_NODELAY, close-on-exec) and stores the descriptor in *out. With
 * probe, first checks that no other socket listens there (the first listener of a node; the others share its port).
 * Returns 0, or HUB_E_IO after logging why. */
int hub_listen_open(const hub_config_t *cfg, int probe, int *out);

/* Raises the soft open-file limit to the hard one and returns the connection cap: node.max_connections, or when it is
 * 0 what the limit allows (each proxied request may hold a second descriptor upstream), at most 4096. */
unsigned hub_listen_cap(const hub_config_t *cfg);

#endif
