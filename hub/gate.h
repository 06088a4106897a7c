/* The gate every request passes before any handler of either role runs: HTTP/1 framing a front proxy could read
 * differently (conflicting Content-Length, Content-Length with Transfer-Encoding, obs-fold lines), header lines
 * without a name, and a path that is not canonical (hub/path.h). */
#ifndef HUB_GATE_H
#define HUB_GATE_H

#include <h2o.h>

/* Checks the head of an HTTP/1 request as it came on the wire, head[0..len): the request line and the header lines up
 * to the empty line (bytes after it, a body or the next request, are ignored). Returns 0 when every header line is
 * "name: value", with at most one Content-Length and at most one Transfer-Encoding and not both; HUB_E_PARSE when a
 * line folds onto the one before it (obs-fold), has no name, or the framing headers conflict; HUB_E_NOTFOUND when
 * head[0..len) holds no complete head. *why (when not NULL) is a static phrase for the refusal. When method and target
 * are not NULL the request line must name them (the head belongs to that request), else HUB_E_NOTFOUND. */
int hub_gate_head_check(const char *head, size_t len, h2o_iovec_t method, h2o_iovec_t target, const char **why);

/* The gate: returns 0 when req may go on to its handler; otherwise answers it with 400 invalid_request (naming what was
 * refused, closing an HTTP/1 connection whose framing is in doubt) and returns -1. The raw HTTP/1 head is read from
 * the connection's input buffer, where h2o keeps it until the request is done; HTTP/2 frames requests itself (h2o
 * refuses Transfer-Encoding there and resets a stream whose body does not match its Content-Length). */
int hub_gate(h2o_req_t *req);

#endif
