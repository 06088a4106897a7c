/* A pending sign-in of a secondary, kept by the browser instead of the store: sealed
 * (AES-256-GCM under a node key) in a cookie of its own, so an anonymous /auth/login writes
 * nothing. The state in the authorization URL is an HMAC of a random binding value that only the
 * sealed cookie holds: seeing a callback URL is not enough to finish the sign-in elsewhere. */
#ifndef FED_STATE_H
#define FED_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "hub/crypto.h"
#include "hub/seal.h"

#define FED_STATE_LEN HUB_B64URL_LEN(HUB_MAC_LEN) /* 43: the state parameter */
#define FED_STATE_ID_LEN 8                        /* the state's first characters name its cookie */
#define FED_STATE_NEXT_MAX 1024                   /* bytes of the path to return to after sign-in */
#define FED_STATE_TTL 600                         /* seconds a sign-in may take */
#define FED_STATE_MAX_PENDING 4                   /* sign-ins pending at once in one browser (tabs) */
#define FED_STATE_SECRET_LEN HUB_B64URL_LEN(32)   /* 43: the nonce and the PKCE verifier */

typedef struct st_fed_state_keys_t {
    uint8_t seal[HUB_KEY_LEN]; /* seals the cookie */
    uint8_t mac[HUB_KEY_LEN];  /* state = HMAC(mac, binding) */
} fed_state_keys_t;

typedef struct st_fed_pending_t {
    uint64_t exp;
    uint8_t binding[32]; /* never leaves the sealed cookie */
    char nonce[FED_STATE_SECRET_LEN + 1], verifier[FED_STATE_SECRET_LEN + 1];
    char next[FED_STATE_NEXT_MAX + 1];
} fed_pending_t;

/* The cookie and state keys of a node, derived from its node key. */
void fed_state_keys_init(fed_state_keys_t *k, const uint8_t node_key[HUB_KEY_LEN]);

/* A new pending sign-in returning to next (a safe relative path) that expires at now +
 * FED_STATE_TTL: fresh binding, nonce and verifier. HUB_E_TOOBIG when next is longer than
 * FED_STATE_NEXT_MAX bytes. */
int fed_pending_new(fed_pending_t *p, const char *next, uint64_t now);

/* The state parameter of p. */
void fed_pending_state(const fed_state_keys_t *k, const fed_pending_t *p, char state[FED_STATE_LEN + 1]);

/* 1 when state is a well-formed state parameter (FED_STATE_LEN base64url characters). */
int fed_state_valid(const char *state);

/* The cookie of the sign-in a state belongs to: prefix (the node's "hub_<name>_state"), '_' and
 * the state's first FED_STATE_ID_LEN characters; size must hold prefix + FED_STATE_ID_LEN + 2. */
void fed_state_cookie_name(char *out, size_t size, const char *prefix, const char *state);

/* p sealed for the cookie called name (the name is authenticated: a value moved to another
 * cookie, or made by another node, does not open): base64url text in pool. */
char *fed_pending_seal(const fed_state_keys_t *k, const char *name, const fed_pending_t *p, h2o_mem_pool_t *pool);

/* Opens the value of the cookie called name into *p. Returns 0, or HUB_E_NOTFOUND when it is
 * not a box this node sealed for that name, is malformed, or expired at now. */
int fed_pending_open(const fed_state_keys_t *k, const char *name, const char *value, uint64_t now, fed_pending_t *p);

/* 1 when state is p's state (constant time), else 0. */
int fed_pending_matches(const fed_state_keys_t *k, const fed_pending_t *p, const char *state);

#endif
