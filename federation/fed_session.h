/* Local sessions of a secondary (table FED_SESSIONS): keyed by the hash of a 256-bit cookie
 * value, with index keys so the sessions of one primary sid or sub can be ended together. */
#ifndef FED_SESSION_H
#define FED_SESSION_H

#include <h2o.h>
#include "federation/fed_verify.h"
#include "hub/crypto.h"
#include "hub/store.h"

#define FED_SESSION_COOKIE_LEN HUB_B64URL_LEN(32) /* 43 */
#define FED_SESSION_ID_MAX 255                    /* longest sid or sub kept in an index key */

/* Starts a session for id (sub required; exp is ignored) lasting ttl seconds; id_token (may
 * be NULL) is kept for the logout's id_token_hint. Writes the new cookie value to cookie.
 * One short write transaction. Returns 0, HUB_E_INVAL for a missing or oversized sub/sid. */
int fed_session_create(hub_store_t *store, const fed_identity_t *id, const char *id_token, uint64_t ttl,
                       char cookie[FED_SESSION_COOKIE_LEN + 1]);

/* The live session of a cookie value: *id (copied into pool, exp = the session's end) and,
 * when id_token is not NULL, the stored id_token (or NULL). HUB_E_NOTFOUND when the cookie is
 * malformed, unknown, ended or expired. One read transaction. */
int fed_session_get(hub_store_t *store, const char *cookie, h2o_mem_pool_t *pool, fed_identity_t *id, const char **id_token);

/* Ends the session of a cookie value; HUB_E_NOTFOUND when there is none. */
int fed_session_end(hub_store_t *store, const char *cookie);

/* Ends every session of the primary's session sid, or (sid NULL) of the user sub; *ended
 * (may be NULL) counts them. Returns 0 also when none matched. */
int fed_session_end_by(hub_store_t *store, const char *sid, const char *sub, size_t *ended);

#endif
