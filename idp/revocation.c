/* Ending a user's sessions and tokens when an administrator takes something away, and the durable queue of the
 * back-channel logouts that follow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/util.h"
#include "idp/grants.h"
#include "idp/revocation.h"
#include "idp/session.h"
#include "idp/strv.h"

#define QUEUE_SEQ "seq:logout_queue" /* META counter: the next job's key */

/* ---- users ---- */

int idp_user_revoke(hub_txn_t *txn, const char *sub, const char *keep_sid, const char *reason)
{
    int ret;

    if (sub == NULL || *sub == '\0')
        return HUB_E_INVAL;
    if ((ret = idp_session_end_user(txn, sub, keep_sid, NULL)) != 0 || (ret = idp_family_revoke_sub(txn, sub, keep_sid)) != 0)
        return ret;
    return idp_logout_enqueue(txn, sub, NULL, reason);
}

/* 1 when a role of before is missing from after. */
static int lost_a_role(const idp_strv_t *before, const idp_strv_t *after)
{
    for (size_t i = 0; i != before->n; ++i)
        if (!idp_strv_has(after, before->v[i]))
            return 1;
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* What the change from old to now takes away from the user (a word for the logs), or NULL when nothing. */
static const char *what_is_lost(const idp_user_t *old, const idp_user_t *now)
{
    if (old->enabled && !now->enabled)
        return "disabled";
    if (!same_str(old->password_hash, now->password_hash))
        return "password";
    if (lost_a_role(&old->roles, &now->roles))
        return "roles";
    return NULL;
}

int idp_user_update(hub_txn_t *txn, idp_user_t *user, const char *keep_sid)
{
    idp_user_t *old = NULL;
    const char *reason;
    int ret;

    if (user->sub != NULL && (ret = idp_user_get(txn, user->sub, &old)) != 0 && ret != HUB_E_NOTFOUND)
        return ret;
    if ((ret = idp_user_put(txn, user)) == 0 && old != NULL && (reason = what_is_lost(old, user)) != NULL)
        ret = idp_user_revoke(txn, user->sub, keep_sid, reason);
    idp_user_free(old);
    return ret;
}

int idp_user_remove(hub_txn_t *txn, const char *sub)
{
    int ret = idp_user_del(txn, sub);
    return ret != 0 ? ret : idp_user_revoke(txn, sub, NULL, "deleted");
}

typedef struct {
    const char *role;
    idp_strv_t subs;
    size_t cap;
} holders_t;

static int collect_holder(void *arg, const idp_user_t *user)
{
    holders_t *h = arg;
    if (!idp_strv_has(&user->roles, h->role))
        return 0;
    if (h->subs.n + 1 >= h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->subs.v = hub_xrealloc(h->subs.v, h->cap * sizeof(char *));
    }
    h->subs.v[h->subs.n++] = hub_strdup(user->sub);
    h->subs.v[h->subs.n] = NULL;
    return 0;
}

/* Takes role from the user sub (an update that ends what the user held). */
static int take_role(hub_txn_t *txn, const char *sub, const char *role)
{
    idp_user_t *u = NULL;
    int ret;

    if ((ret = idp_user_get(txn, sub, &u)) != 0)
        return ret;
    idp_strv_remove(&u->roles, role);
    ret = idp_user_update(txn, u, NULL);
    idp_user_free(u);
    return ret;
}

int idp_role_remove(hub_txn_t *txn, const char *role)
{
    holders_t h = {role, {NULL, 0}, 0};
    int ret;

    /* the refusals of idp_role_del come first, before any user is changed */
    if (role == NULL || !idp_role_exists(txn, role))
        return HUB_E_NOTFOUND;
    if (strcmp(role, IDP_ROLE_SYSTEM_MANAGER) == 0 || strcmp(role, IDP_ROLE_GUEST) == 0)
        return HUB_E_DENIED;
    if ((ret = idp_role_held_by_client(txn, role)) != 0)
        return ret == 1 ? HUB_E_BUSY : ret;
    /* collected first: the user tables must not be written while they are iterated */
    ret = idp_user_each(txn, collect_holder, &h);
    for (size_t i = 0; ret == 0 && i != h.subs.n; ++i)
        ret = take_role(txn, h.subs.v[i], role);
    idp_strv_free(&h.subs);
    return ret != 0 ? ret : idp_role_del(txn, role);
}

/* ---- the logout queue ---- */

int idp_logout_enqueue(hub_txn_t *txn, const char *sub, const char *sid, const char *reason)
{
    char key[IDP_LOGOUT_JOB_KEY];
    uint64_t seq, now = hub_now();
    json_t *obj;
    int ret;

    if ((sub == NULL || *sub == '\0') && (sid == NULL || *sid == '\0'))
        return HUB_E_INVAL;
    if ((ret = hub_store_bump(txn, QUEUE_SEQ, &seq)) != 0)
        return ret;
    snprintf(key, sizeof(key), "%020llu", (unsigned long long)seq);
    obj = json_pack("{s:s?,s:s?,s:s,s:I,s:i,s:I}", "sub", sub, "sid", sid, "reason", reason != NULL ? reason : "", "created_at",
                    (json_int_t)now, "attempts", 0, "next_at", (json_int_t)0);
    if (obj == NULL)
        hub_oom();
    ret = hub_store_put_json(txn, HUB_T_LOGOUT_QUEUE, key, obj, now + IDP_LOGOUT_JOB_MAX_AGE, HUB_STORE_NOOVERWRITE);
    json_decref(obj);
    return ret;
}

typedef struct {
    uint64_t now;
    idp_logout_job_t *jobs;
    size_t max, n;
} due_scan_t;

static int due_cb(void *arg, hub_val_t key, hub_val_t val)
{
    due_scan_t *scan = arg;
    json_t *obj;
    idp_logout_job_t *job;

    if (key.len == 0 || key.len >= IDP_LOGOUT_JOB_KEY)
        return 0;
    if ((obj = json_loadb(val.data, val.len, 0, NULL)) == NULL)
        return 0;
    if (hub_json_uint(obj, "next_at") <= scan->now) {
        job = &scan->jobs[scan->n++];
        memset(job, 0, sizeof(*job));
        memcpy(job->key, key.data, key.len);
        job->sub = hub_json_strdup(obj, "sub");
        job->sid = hub_json_strdup(obj, "sid");
        job->reason = hub_json_strdup(obj, "reason");
        job->created_at = hub_json_uint(obj, "created_at");
        job->attempts = (unsigned)hub_json_uint(obj, "attempts");
    }
    json_decref(obj);
    return scan->n == scan->max ? 1 : 0;
}

int idp_logout_queue_due(hub_txn_t *txn, uint64_t now, idp_logout_job_t *jobs, size_t max, size_t *n)
{
    due_scan_t scan = {now, jobs, max, 0};
    int ret = max != 0 ? hub_store_each(txn, HUB_T_LOGOUT_QUEUE, NULL, 0, due_cb, &scan) : 0;

    *n = scan.n;
    return ret == 1 ? 0 : ret;
}

int idp_logout_queue_done(hub_txn_t *txn, const char *key)
{
    return hub_store_del(txn, HUB_T_LOGOUT_QUEUE, key, strlen(key));
}

int idp_logout_queue_retry(hub_txn_t *txn, const idp_logout_job_t *job, uint64_t next_at)
{
    json_t *obj = NULL;
    uint64_t exp;
    int ret;

    if ((ret = hub_store_expiry(txn, HUB_T_LOGOUT_QUEUE, job->key, strlen(job->key), &exp)) != 0 ||
        (ret = hub_store_get_json(txn, HUB_T_LOGOUT_QUEUE, job->key, &obj)) != 0)
        return ret;
    json_object_set_new(obj, "attempts", json_integer((json_int_t)job->attempts + 1));
    json_object_set_new(obj, "next_at", json_integer((json_int_t)next_at));
    ret = hub_store_put_json(txn, HUB_T_LOGOUT_QUEUE, job->key, obj, exp, 0);
    json_decref(obj);
    return ret;
}

void idp_logout_job_dispose(idp_logout_job_t *job)
{
    free(job->sub);
    free(job->sid);
    free(job->reason);
    memset(job, 0, sizeof(*job));
}
