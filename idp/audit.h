/* The consoles' audit log (SPEC §11): one entry per change, saying who made it, what it was, when and from where, and
 * never a secret. Entries live in the store (HUB_T_AUDIT) as a ring of the last IDP_AUDIT_KEEP, written by the
 * change's own transaction, so a change never commits without its entry nor an entry without its change; each is also
 * one log line once the change committed. */
#ifndef IDP_AUDIT_H
#define IDP_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"

#define IDP_AUDIT_KEEP 1000 /* entries kept; the oldest goes when one more is written */
#define IDP_AUDIT_TEXT 256  /* bytes of one field kept (longer values are cut on a character boundary) */

/* One entry. Every string is a plain value (never markup), at most IDP_AUDIT_TEXT bytes once stored. */
typedef struct st_idp_audit_t {
    uint64_t seq;       /* assigned by idp_audit_add: 1, 2, ... */
    uint64_t at;        /* unix time, assigned by idp_audit_add */
    const char *who;    /* the actor's username */
    const char *sub;    /* the actor's sub */
    const char *from;   /* the address the request came from */
    const char *action; /* what was done: "client.update", "user.disable", ... */
    const char *target; /* what it was done to: a client's id and name, a username, a role, a kid; may be NULL */
} idp_audit_t;

/* Writes e inside txn (a write transaction), assigning e->seq and e->at, and drops the entry IDP_AUDIT_KEEP places
 * older. Returns 0 or a store error. */
int idp_audit_add(hub_txn_t *txn, idp_audit_t *e);
/* The entry's log line (info), each value quoted on one line; call after the transaction committed. */
void idp_audit_log(const idp_audit_t *e);
/* The last max entries, newest first (copies the list owns, which outlive txn), into *out: free them with
 * idp_audit_list_free. Returns 0 or a store error (then *out is empty). */
typedef struct st_idp_audit_list_t {
    idp_audit_t *v;
    size_t n;
    char **texts; /* the strings of v, 5 per entry */
} idp_audit_list_t;
int idp_audit_recent(hub_txn_t *txn, size_t max, idp_audit_list_t *out);
void idp_audit_list_free(idp_audit_list_t *list);

#endif
