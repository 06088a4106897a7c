/* One-time join tokens (SPEC §2 hubctl node join-token, §4 registration): a secondary registers itself with one. Only
 * the token's hash is stored, with its expiry. */
#ifndef IDP_JOIN_TOKEN_H
#define IDP_JOIN_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "hub/store.h"
#include "idp/invalid.h"

#define IDP_JOIN_TOKEN_TTL_MAX (UINT64_C(10) * 365 * 86400)
#define IDP_JOIN_TOKEN_TTL_DEFAULT 3600                     /* an operator's token lives an hour unless told otherwise */
#define IDP_JOIN_TOKEN_TTL_OPERATOR (UINT64_C(365) * 86400) /* the longest an operator may ask for */

/* Reads an operator's lifetime for a token ("30m", "1h", "7d" or seconds; 1 s .. IDP_JOIN_TOKEN_TTL_OPERATOR) into *ttl;
 * HUB_E_INVAL with *inv (field IDP_FIELD_JOIN_TTL) otherwise. hubctl's --ttl and the admin console's field. */
int idp_join_token_ttl_parse(const char *s, uint64_t *ttl, idp_invalid_t *inv);

/* 0 when name (the node's name a token is made for) is NULL or 1..IDP_NAME_MAX bytes of printable UTF-8; else
 * HUB_E_INVAL with *inv (field IDP_FIELD_NODE_NAME). */
int idp_join_token_name_check(const char *name, idp_invalid_t *inv);
/* Creates a one-time join token valid for ttl seconds (1..IDP_JOIN_TOKEN_TTL_MAX) for a node named name (may be NULL);
 * the token (43 chars + NUL) is written to out and only its hash stored. HUB_E_INVAL for a bad ttl or name. */
int idp_join_token_create(hub_txn_t *txn, const char *name, uint64_t ttl, char out[44]);
/* Consumes a join token (deleting it); HUB_E_NOTFOUND when unknown, used or expired. The name given at creation (may be
 * NULL) is returned in *name (caller frees). */
int idp_join_token_consume(hub_txn_t *txn, const char *token, size_t len, char **name);

#endif
