/* Users of the primary: records by sub, with unique username and e-mail indexes. Records returned are malloc'ed copies
 * owned by the caller (idp_user_free); every function taking a txn works inside the caller's transaction. */
#ifndef IDP_USER_H
#define IDP_USER_H

#include <stdint.h>
#include <jansson.h>
#include "hub/store.h"
#include "idp/invalid.h"
#include "idp/strv.h"

#define IDP_USERNAME_MAX 64
#define IDP_EMAIL_MAX 254

typedef struct st_idp_user_t {
    char *sub;         /* stable random identifier (never the e-mail), set on create */
    char *username;    /* unique */
    char *email;       /* unique, compared case-insensitively */
    char *full_name;   /* may be NULL */
    char *given_name;  /* may be NULL */
    char *family_name; /* may be NULL */
    char *picture;     /* may be NULL */
    int enabled;
    int email_verified;
    idp_strv_t roles;
    char *password_hash; /* Argon2id encoded string (idp/password.h); NULL = cannot sign in */
    uint64_t created_at;
} idp_user_t;

/* Checks the fields of user: username 1..64 of [A-Za-z0-9._@-], e-mail local@domain of at most 254 bytes without
 * spaces or control characters, names of printable UTF-8, picture an absolute http(s) URI, role names well formed
 * (their existence is checked by put). On failure fills *inv (may be NULL) and returns HUB_E_INVAL. */
int idp_user_validate(const idp_user_t *user, idp_invalid_t *inv);
/* By sub / by username or e-mail. HUB_E_NOTFOUND when absent. */
int idp_user_get(hub_txn_t *txn, const char *sub, idp_user_t **out);
int idp_user_find(hub_txn_t *txn, const char *username_or_email, idp_user_t **out);
/* Writes user (create: assigns sub and created_at when sub is NULL). Keeps the username and e-mail indexes;
 * HUB_E_EXISTS when either belongs to another user, HUB_E_NOTFOUND when a role does not exist, HUB_E_INVAL when
 * idp_user_validate fails. Ends nothing: a change that takes something away from a user (disable, password, a role)
 * goes through idp_user_update (idp/revocation.h), which also ends the user's sessions and tokens. */
int idp_user_put(hub_txn_t *txn, idp_user_t *user);
/* An operator's new user (hubctl user add, the admin console): validated, its roles checked, written with a new sub.
 * A refusal fills *inv: HUB_E_INVAL (a field), HUB_E_NOTFOUND (a role that does not exist), HUB_E_EXISTS (the
 * username or e-mail is taken). */
int idp_user_create(hub_txn_t *txn, idp_user_t *user, idp_invalid_t *inv);
/* The record only: see idp_user_remove (idp/revocation.h). */
int idp_user_del(hub_txn_t *txn, const char *sub);
/* Calls cb for each user in username order; a non-zero return of cb stops the walk and is returned. */
int idp_user_each(hub_txn_t *txn, int (*cb)(void *arg, const idp_user_t *user), void *arg);
/* A page of users for a console: cb for each user whose username (by_email: lower-cased e-mail) starts with prefix
 * ("" = every user), in that order, from the first one past after (NULL: from the start); a non-zero return of cb stops
 * the walk and is returned. Nothing before the start is read. */
int idp_user_each_after(hub_txn_t *txn, int by_email, const char *prefix, const char *after,
                        int (*cb)(void *arg, const idp_user_t *user), void *arg);
void idp_user_free(idp_user_t *user);
/* The user as hubctl --json shows it: without the password hash (has_password instead). */
json_t *idp_user_to_json(const idp_user_t *user);

#endif
