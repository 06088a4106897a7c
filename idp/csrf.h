/* CSRF tokens of the primary's forms: HMAC-SHA256, under a server key kept in the store, of the form's purpose and
 * the browser's session (signed in) or pre-session (a random value in its own cookie, before sign-in). A value an
 * attacker chose for a cookie and a field together is worth nothing without the key. */
#ifndef IDP_CSRF_H
#define IDP_CSRF_H

#include <h2o.h>
#include <stdint.h>
#include "hub/form.h"
#include "hub/store.h"
#include "idp/ctx.h"
#include "idp/session.h"

/* What a form does; a token made for one purpose is refused for another. */
typedef enum { IDP_CSRF_LOGIN = 0, IDP_CSRF_APPROVE, IDP_CSRF_LOGOUT, IDP_CSRF_CONSOLE, IDP_CSRF__COUNT } idp_csrf_purpose_t;

/* Reads the node's CSRF key (IDP_CSRF_KEY_LEN random bytes, in the store's settings, so every thread, hubctl and a
 * later cluster of primaries sharing the store use the same one), creating it on first use. Returns 0, a store
 * error, or HUB_E_PARSE when the stored key is damaged. */
int idp_csrf_key_load(hub_store_t *store, uint8_t key[IDP_CSRF_KEY_LEN]);

/* The token for a form of this purpose on req's response (pool memory): bound to s, the request's live session,
 * when not NULL, else to the browser's pre-session, whose cookie is set on the response when the request has none. */
const char *idp_csrf_token(idp_t *idp, h2o_req_t *req, const idp_session_t *s, idp_csrf_purpose_t purpose);

/* 1 when form has exactly one "csrf_token", equal (constant time) to the token of this purpose for s (the request's
 * live session, or NULL: the pre-session cookie the request carries), and the browser does not say the form came from
 * another origin (Sec-Fetch-Site); 0 otherwise. */
int idp_csrf_ok(idp_t *idp, h2o_req_t *req, const idp_session_t *s, idp_csrf_purpose_t purpose, const hub_form_t *form);

/* Gives the browser a new pre-session at sign-in, so that no token issued before it works afterwards. */
void idp_csrf_rotate(idp_t *idp, h2o_req_t *req);

#endif
