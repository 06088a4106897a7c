/* The store's vocabulary, shared by its interface (hub/store.h) and its backends (hub/store_lmdb.c, hub/store_pg.c): the
 * tables, records' values, the handles. Code outside hub/store* includes hub/store.h. */
#ifndef HUB_STORE_TYPES_H
#define HUB_STORE_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* The named databases. Each has a fixed name in the environment; adding one is adding a
 * line at the end here (the sweeper's index names tables by number; the schema version only
 * changes when an existing encoding changes). */
#define HUB_TABLES(XX)                                                                                                             \
    XX(META, "meta")                     /* schema version, generation counters */                                                 \
    XX(USERS, "users")                   /* sub -> user record */                                                                  \
    XX(USERS_BY_NAME, "users_by_name")   /* username -> sub */                                                                     \
    XX(USERS_BY_EMAIL, "users_by_email") /* lower-cased email -> sub */                                                            \
    XX(ROLES, "roles")                   /* role name -> role record */                                                            \
    XX(CLIENTS, "clients")               /* client_id -> client record */                                                          \
    XX(SETTINGS, "settings")             /* setting name -> value */                                                               \
    XX(JOIN_TOKENS, "join_tokens")       /* hash(token) -> join token record */                                                    \
    XX(NODES, "nodes")                   /* node id -> registered secondary */                                                     \
    XX(SESSIONS, "sessions")             /* hash(session id) -> session record */                                                  \
    XX(LOGIN_FAILURES, "login_failures") /* "u:"sub or "a:"address -> failure counters */                                          \
    XX(CODES, "codes")                   /* hash(code) -> authorization code record */                                             \
    XX(REFRESH, "refresh")               /* hash(refresh token) -> refresh token record */                                         \
    XX(FAMILIES, "families")             /* grant family id -> state (revoked?) */                                                 \
    XX(TOKENS, "tokens")                 /* jti -> {family, client, exp}: older versions' access tokens */                         \
    XX(REVOKED, "revoked")               /* revoked access token jti -> exp */                                                     \
    XX(GRANTS, "grants")                 /* sub "\n" client_id -> consent grant (scopes) */                                        \
    XX(KEYS, "keys")                     /* kid -> signing key metadata */                                                         \
    XX(LOGOUT_QUEUE, "logout_queue")     /* pending back-channel logout deliveries */                                              \
    XX(FED, "fed")                       /* a secondary's registration and JWKS snapshot */                                        \
    XX(FED_STATES, "fed_states")         /* hash(state) -> pending login on a secondary */                                         \
    XX(FED_SESSIONS, "fed_sessions")     /* hash(session id) -> local session on a secondary */                                    \
    XX(CLIENT_ORIGINS, "client_origins") /* hash(origin) "\n" client_id -> origin, for enabled clients (idp/origins.h) */          \
    XX(AUDIT, "audit")                   /* zero-padded sequence number -> a console change (idp/audit.h) */                       \
    XX(USER_FAMILIES, "user_families")   /* sub "\n" client_id "\n" family -> {scope, at} (idp/grants.h) */                        \
    XX(KEY_SECRETS, "key_secrets")       /* kid -> sealed private key, on a primary of a cluster (idp/keyrec.h) */              \
    XX(OWNER_INDEX, "owner_index")       /* kind "\n" H(owner) "\n" H(member) -> member: families and sessions by owner */

typedef enum {
#define XX(name, str) HUB_T_##name,
    HUB_TABLES(XX)
#undef XX
        HUB_T__COUNT
} hub_table_t;

#define HUB_STORE_SCHEMA_VERSION 1

typedef struct st_hub_store_t hub_store_t;
typedef struct st_hub_txn_t hub_txn_t;

typedef struct st_hub_val_t {
    const void *data; /* valid only until the transaction ends: copy out before commit/abort */
    size_t len;
} hub_val_t;

/* hub_store_put's flag: an existing live key gives HUB_E_EXISTS. */
#define HUB_STORE_NOOVERWRITE 1

/* The longest counter name hub_store_gen remembers. */
#define HUB_STORE_GEN_NAME_MAX 63

#endif
