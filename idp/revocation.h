/* Taking back what a user holds when an administrator takes something away (disable, delete, a new password, a role):
 * the user's primary sessions end, their token families are revoked and a back-channel logout by sub is queued, all in
 * the transaction of the change itself, so hubctl (another process) and hubd's consoles go through one mechanism and a
 * change never commits without its consequences. hubd delivers the queue (idp/backchannel.h). */
#ifndef IDP_REVOCATION_H
#define IDP_REVOCATION_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"
#include "idp/role.h"
#include "idp/user.h"

/* Ends every primary session of sub except keep_sid (NULL = all), revokes every token family of sub except those of
 * keep_sid, and queues one back-channel logout naming sub (no sid) for every client with a backchannel_logout_uri.
 * reason ("disabled", "deleted", "password", "roles") is kept for the logs. Inside txn (a write transaction). */
int idp_user_revoke(hub_txn_t *txn, const char *sub, const char *keep_sid, const char *reason);

/* Writes user with idp_user_put; when the stored user loses something by it (enabled -> disabled, a new or removed
 * password, a role removed) also idp_user_revoke(txn, user->sub, keep_sid, ...). keep_sid is NULL for an administrator's
 * change (every session ends); a user changing their own password keeps the session they are using. Errors as
 * idp_user_put. */
int idp_user_update(hub_txn_t *txn, idp_user_t *user, const char *keep_sid);
/* Deletes the user (idp_user_del) and revokes everything they held. HUB_E_NOTFOUND when there is no such user. */
int idp_user_remove(hub_txn_t *txn, const char *sub);
/* Deletes a role that no client holds: every user holding it loses it (each through idp_user_update). HUB_E_NOTFOUND,
 * HUB_E_DENIED (built-in) and HUB_E_INVAL as idp_role_del; HUB_E_BUSY while a client names it in allowed_roles or as a
 * service role (taking it from an allowed_roles list would open that client to every user). */
int idp_role_remove(hub_txn_t *txn, const char *role);

/* ---- the durable back-channel logout queue (HUB_T_LOGOUT_QUEUE) ---- */

#define IDP_LOGOUT_JOB_KEY 24 /* a zero-padded sequence number: key order is queue order */

/* One queued logout: "every client with a back-channel URI, end the sessions of sub (or of sid when set)". */
typedef struct st_idp_logout_job_t {
    char key[IDP_LOGOUT_JOB_KEY];
    char *sub;
    char *sid; /* may be NULL */
    char *reason;
    uint64_t created_at;
    unsigned attempts; /* failed hand-overs so far */
} idp_logout_job_t;

/* Queues a job inside txn; it lives until delivered or IDP_LOGOUT_JOB_MAX_AGE. */
#define IDP_LOGOUT_JOB_MAX_AGE (UINT64_C(30) * 86400)
int idp_logout_enqueue(hub_txn_t *txn, const char *sub, const char *sid, const char *reason);
/* Copies up to max jobs due at now (in queue order) into jobs, their count into *n; free each with
 * idp_logout_job_dispose. */
int idp_logout_queue_due(hub_txn_t *txn, uint64_t now, idp_logout_job_t *jobs, size_t max, size_t *n);
/* Removes a delivered job (HUB_E_NOTFOUND when it is gone already). */
int idp_logout_queue_done(hub_txn_t *txn, const char *key);
/* Counts a failed hand-over: the job becomes due again at next_at with attempts + 1. */
int idp_logout_queue_retry(hub_txn_t *txn, const idp_logout_job_t *job, uint64_t next_at);
void idp_logout_job_dispose(idp_logout_job_t *job);

#endif
