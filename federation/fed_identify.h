/* Who is calling a secondary: a Bearer access token verified locally, or the session cookie (re-validated with the
 * primary when due); and the 401 an API caller gets without either. */
#ifndef FED_IDENTIFY_H
#define FED_IDENTIFY_H

#include <h2o.h>
#include "federation/fed_ctx.h"

#define FED_BEARER_MAX 16384 /* bytes of a Bearer token; a longer one is refused unread */

/* What fed_identify found. */
typedef enum { FED_WHO_NONE = 0, FED_WHO_OK, FED_WHO_BAD_TOKEN, FED_WHO_WAIT } fed_who_t;

/* The caller's identity from a Bearer token (checked first) or the session cookie; strings in req->pool.
 * FED_WHO_BAD_TOKEN when a token was sent but is not valid (*why says why). FED_WHO_WAIT when resume is not NULL and
 * req was parked: its token names a kid not fetched yet (fed_kid_wait), or its session waits for its refresh
 * (fed_refresh_gate); resume(req, data) then calls fed_identify again later, with resume NULL. FED_WHO_NONE: neither
 * a token nor a live session. */
fed_who_t fed_identify(fed_t *fed, h2o_req_t *req, fed_identity_t *id, const char **why, fed_resume_cb resume, void *data);

/* 401 for an API caller: WWW-Authenticate: Bearer realm="hub" and login_required, or with who FED_WHO_BAD_TOKEN the
 * invalid_token error (RFC 6750 §3.1) saying why (a default when why is NULL). */
void fed_send_unauthorized(h2o_req_t *req, fed_who_t who, const char *why);

#endif
