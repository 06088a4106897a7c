/* Local sessions of a secondary (table FED_SESSIONS): keyed by the hash of a 256-bit cookie
 * value, with index keys so the sessions of one primary sid or sub can be ended together. A
 * session keeps the primary's refresh token so it can re-validate (fed_refresh.c). */
#ifndef FED_SESSION_H
#define FED_SESSION_H

#include <h2o.h>
#include "federation/fed_verify.h"
#include "hub/crypto.h"
#include "hub/seal.h"
#include "hub/store.h"

#define FED_SESSION_COOKIE_LEN HUB_B64URL_LEN(32) /* 43 */
#define FED_SESSION_ID_MAX 255                    /* longest sid or sub kept in an index key */
#define FED_REFRESH_TOKEN_MAX 512                 /* longest refresh token kept */
#define FED_CSRF_LEN HUB_B64URL_LEN(HUB_MAC_LEN)  /* 43 */

/* A session as stored. Strings live in the pool they were read into (or the caller's, for create). */
typedef struct st_fed_session_t {
    char hash[HUB_SECRET_HASH_LEN + 1]; /* the record's key: hash of the cookie value */
    fed_identity_t id;                  /* exp = the session's end */
    const char *id_token;               /* kept for the logout's id_token_hint; may be NULL */
    const char *refresh_token;          /* the primary's, presented to re-validate; NULL: the session ends at due */
    uint64_t due;                       /* the identity must be re-validated from then on (the access token's exp) */
    uint64_t life;                      /* the access token's lifetime: a refresh may start life / 4 before due */
} fed_session_t;

/* Starts a session from s (id.sub required; id.exp, hash ignored) lasting ttl seconds. Writes
 * the new cookie value to cookie and its hash to s->hash. One short write transaction. Returns
 * 0, HUB_E_INVAL for a missing or oversized sub/sid or an oversized refresh token. */
int fed_session_create(hub_store_t *store, fed_session_t *s, uint64_t ttl, char cookie[FED_SESSION_COOKIE_LEN + 1]);

/* The live session of a cookie value, copied into pool. HUB_E_NOTFOUND when the cookie is
 * malformed, unknown, ended or expired. One read transaction. */
int fed_session_load(hub_store_t *store, const char *cookie, h2o_mem_pool_t *pool, fed_session_t *s);

/* The same by the record's key (fed_session_t.hash). */
int fed_session_load_hash(hub_store_t *store, const char *hash, h2o_mem_pool_t *pool, fed_session_t *s);

/* fed_session_load for callers that want the identity and the id_token (may be NULL) only. */
int fed_session_get(hub_store_t *store, const char *cookie, h2o_mem_pool_t *pool, fed_identity_t *id, const char **id_token);

/* After the primary re-validated the session hash: its roles become fresh->id's, its name,
 * e-mail and id_token too when fresh has them, and fresh's refresh_token (when not NULL), due
 * and life replace the stored ones. fresh->id.sub must be the session's. HUB_E_NOTFOUND when the
 * session ended meanwhile (nothing is written), HUB_E_DENIED when fresh names another sub,
 * HUB_E_INVAL for an oversized refresh token. */
int fed_session_update(hub_store_t *store, const char *hash, const fed_session_t *fresh);

/* Keeps the session hash as it is but moves due to due (re-validation is tried again then) and,
 * when refresh_token is not NULL, stores it. HUB_E_NOTFOUND when the session ended. */
int fed_session_postpone(hub_store_t *store, const char *hash, const char *refresh_token, uint64_t due);

/* Ends the session of a cookie value; HUB_E_NOTFOUND when there is none. */
int fed_session_end(hub_store_t *store, const char *cookie);

/* Ends the session whose record key is hash; HUB_E_NOTFOUND when there is none. */
int fed_session_end_hash(hub_store_t *store, const char *hash);

/* Ends every session of the primary's session sid, or (sid NULL) of the user sub; *ended
 * (may be NULL) counts them. Returns 0 also when none matched. */
int fed_session_end_by(hub_store_t *store, const char *sid, const char *sub, size_t *ended);

/* The CSRF token of the sign-out form for the browser holding session cookie (NULL or
 * malformed: no session): base64url(HMAC(key, "logout" || hash(cookie))). It is the same for
 * every page of one session and differs between sessions; only a node key makes it. */
void fed_session_csrf(const uint8_t key[HUB_KEY_LEN], const char *cookie, char out[FED_CSRF_LEN + 1]);

#endif
