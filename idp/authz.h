/* An authorization request (RFC 6749 §4.1.1/§4.2.1, RFC 7636, OIDC Core §3.1.2.1) as both endpoints that take one read
 * it: /oauth2/authorize (idp/authorize.c) and the consent decision, /oauth2/approve (idp/approve.c), which carries the
 * same parameters again. Until its client and redirect URI are known good, a bad request gets an HTML page; after
 * that every answer goes back to the redirect URI. Private to idp/. */
#ifndef IDP_AUTHZ_H
#define IDP_AUTHZ_H

#include <stdint.h>
#include <h2o.h>
#include "hub/form.h"
#include "hub/oauth.h"
#include "idp/client.h"
#include "idp/ctx.h"
#include "idp/session.h"
#include "idp/user.h"

/* The parameters read, each with its size limit (idp/authz.c). The last one is ours: a resumed request (after the
 * sign-in page) carries the time the fresh sign-in was asked for, so prompt=login and max_age cannot loop. Forging it
 * gains nothing the user agent could not get by dropping prompt=login; RPs check auth_time. */
typedef enum {
    IDP_AUTHZ_CLIENT_ID,
    IDP_AUTHZ_RESPONSE_TYPE,
    IDP_AUTHZ_REDIRECT_URI,
    IDP_AUTHZ_SCOPE,
    IDP_AUTHZ_STATE,
    IDP_AUTHZ_NONCE,
    IDP_AUTHZ_CHALLENGE,
    IDP_AUTHZ_CHALLENGE_METHOD,
    IDP_AUTHZ_PROMPT,
    IDP_AUTHZ_MAX_AGE,
    IDP_AUTHZ_AUTH_AFTER,
    IDP_AUTHZ__COUNT
} idp_authz_param_t;

/* response_type words (idp_authz_t.rt) and prompt values (.prompt), as bits */
#define IDP_AUTHZ_RT_CODE 1u
#define IDP_AUTHZ_RT_TOKEN 2u
#define IDP_AUTHZ_RT_ID_TOKEN 4u
#define IDP_AUTHZ_PROMPT_NONE 1u
#define IDP_AUTHZ_PROMPT_LOGIN 2u
#define IDP_AUTHZ_PROMPT_CONSENT 4u

typedef struct st_idp_authz_t {
    idp_t *idp;
    h2o_req_t *req;
    const char *v[IDP_AUTHZ__COUNT]; /* parameter values, NULL when absent or empty (RFC 6749 §3.1) */
    int repeated;                    /* some parameter other than client_id/redirect_uri was sent twice */
    int repeated_client;             /* client_id or redirect_uri sent twice: no redirect can be trusted */
    idp_client_t *client;            /* owned (idp_authz_dispose) */
    const char *redirect;            /* where answers go: redirect_uri as sent, or the client's default (pool) */
    int fragment;                    /* answer in the fragment (response types with token/id_token) */
    unsigned rt, prompt;
    long long max_age; /* -1 = absent */
    uint64_t auth_after;
    const char *scope; /* effective, space-separated (pool) */
} idp_authz_t;

/* One parameter of an answer to the client; an entry whose v is NULL is left out. */
typedef struct st_idp_authz_kv_t {
    const char *k, *v;
} idp_authz_kv_t;

/* Reads the request of form (a's memory zeroed by the caller) into a: parameters, client, redirect URI, then every
 * other check. Returns 0 when the request may proceed, -1 when an answer was sent (an HTML page before the client
 * and redirect URI are known good, else the failure at the redirect URI). Either way idp_authz_dispose follows. */
int idp_authz_begin(idp_authz_t *a, idp_t *idp, h2o_req_t *req, const hub_form_t *form);

/* Frees what idp_authz_begin took (the client). */
void idp_authz_dispose(idp_authz_t *a);

/* Redirects to the client's redirect URI with kv (then state and iss, RFC 9207) in the query, or in the fragment for
 * the response types with tokens. */
void idp_authz_send(idp_authz_t *a, const idp_authz_kv_t *kv, size_t n);

/* The same with error and error_description. */
void idp_authz_send_error(idp_authz_t *a, hub_oauth_err_t err, const char *description);

/* Sends the browser to the sign-in page, which resumes this request afterwards (a GET of the authorize URL rebuilt
 * from the parameters). fresh: a new sign-in is required (prompt=login, max_age): the resumed request carries the
 * time it was asked for. */
void idp_authz_send_to_login(idp_authz_t *a, int fresh);

/* The record of session s's user (caller frees *user) and, when needs_consent is not NULL, whether the consent page
 * must be shown (the client's skip_authorization, the setting auto with a grant covering the scope, prompt=consent).
 * Returns 0, or -1 when the user is gone or disabled (the caller sends the browser to sign in). */
int idp_authz_load_user(idp_authz_t *a, const idp_session_t *s, idp_user_t **user, int *needs_consent);

#endif
