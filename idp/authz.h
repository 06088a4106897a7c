/* An authorization request (RFC 6749 §4.1.1/§4.2.1, RFC 7636, OIDC Core §3.1.2.1) as both endpoints that take one read
 * it: /oauth2/authorize (idp/authorize.c) and the consent decision, /oauth2/approve (idp/approve.c), which carries the
 * same parameters again. Until its client and redirect URI are known good, a bad request gets an HTML page; after
 * that every answer goes back to the redirect URI. Private to idp/. */
#ifndef IDP_AUTHZ_H
#define IDP_AUTHZ_H

#include <stdint.h>
#include <h2o.h>
#include "hub/crypto.h"
#include "hub/form.h"
#include "hub/oauth.h"
#include "hub/park.h"
#include "idp/client.h"
#include "idp/ctx.h"
#include "idp/session.h"
#include "idp/settings.h"
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

/* An authorization request on its way: read on the loop, parked for its one read of the store (hub/park.h), then checked
 * and answered on the loop. Heap memory, freed with idp_authz_free (or by idp_authz_issue, which takes it over). */
typedef struct st_idp_authz_t idp_authz_t;
struct st_idp_authz_t {
    idp_t *idp;
    h2o_req_t *req;                  /* the request, once the read gave it back (pool strings below are its) */
    hub_park_t park;                 /* while the read runs */
    hub_form_t form;                 /* the request's parameters (items in req->pool) */
    const char *v[IDP_AUTHZ__COUNT]; /* parameter values, NULL when absent or empty (RFC 6749 §3.1) */
    int repeated;                    /* some parameter other than client_id/redirect_uri was sent twice */
    int repeated_client;             /* client_id or redirect_uri sent twice: no redirect can be trusted */
    /* what the read takes (copies) and finds */
    char *client_id;                            /* malloc'ed copy of v[IDP_AUTHZ_CLIENT_ID], NULL when unusable */
    char session_hash[HUB_SECRET_HASH_LEN + 1]; /* of the browser's session cookie, "" when it has none */
    idp_client_t *client;                       /* the client, NULL when unknown (owned) */
    idp_session_t *session;                     /* the browser's live session, or NULL (owned) */
    idp_user_t *user;                           /* its user, enabled, or NULL (owned) */
    hub_skip_auth_t skip;                       /* the OAuth Provider Setting skip_authorization */
    char *granted;                              /* the scope of the user's unexpired consent to the client */
    /* what the checks made of the request */
    const char *redirect; /* where answers go: redirect_uri as sent, or the client's default (pool) */
    int fragment;         /* answer in the fragment (response types with token/id_token) */
    unsigned rt, prompt;
    long long max_age; /* -1 = absent */
    uint64_t auth_after;
    const char *scope; /* effective, space-separated (pool) */
};

/* One parameter of an answer to the client; an entry whose v is NULL is left out. */
typedef struct st_idp_authz_kv_t {
    const char *k, *v;
} idp_authz_kv_t;

/* What an endpoint does with its authorization request once the store was read (a->req is set): check it
 * (idp_authz_check) and answer; a is its own, to free or to hand to idp_authz_issue. */
typedef void (*idp_authz_next_fn)(idp_authz_t *a);

/* Reads the request of form (parsed from req) into a new authorization, parks req for one read of the store off the
 * loop (the client, the browser's session and user, the setting and consent that decide the consent page), then calls
 * next(a) on the loop. When there is nothing to read for (client_id missing, repeated or too long: the HTML page of
 * idp_authz_check), the read still runs for the session. When the read fails (503 page with Retry-After when the store
 * cannot serve, else 500) or the client left, next is not called and a is freed here. */
void idp_authz_start(idp_t *idp, h2o_req_t *req, const hub_form_t *form, idp_authz_next_fn next);

/* A new authorization of form's parameters (strings of a request's pool, as the form was parsed), not read yet; for
 * idp_authz_read_for. Heap memory, freed with idp_authz_free. */
idp_authz_t *idp_authz_new(idp_t *idp, const hub_form_t *form);

/* In a read of the store (any thread): a's client (NULL when unknown) and, for user (NULL: none), what decides the
 * consent page. What idp_authz_start reads after the browser's session; the sign-in page (idp/login.c) reads it for the
 * account signing in. Only a store failure is an error. */
int idp_authz_read_for(hub_txn_t *txn, idp_authz_t *a, const idp_user_t *user);

/* Checks a as read: client and redirect URI, then every other rule. Returns 0 when the request may proceed, -1 when an
 * answer was sent (an HTML page before the client and redirect URI are known good, else the failure at the redirect
 * URI). */
int idp_authz_check(idp_authz_t *a);

/* What idp_authz_check says of a, without answering: 1 when the request may proceed (a->req must be set). */
int idp_authz_valid(idp_authz_t *a);

/* Where a checked request goes, with the session and user a holds (the browser's as read, or the one signing in). */
typedef enum {
    IDP_AUTHZ_TO_ISSUE,       /* issued now (idp_authz_issue) */
    IDP_AUTHZ_TO_LOGIN,       /* the sign-in page (idp_authz_send_to_login) */
    IDP_AUTHZ_TO_FRESH_LOGIN, /* the same, for a new sign-in (prompt=login, max_age) */
    IDP_AUTHZ_TO_CONSENT,     /* the consent page */
    IDP_AUTHZ_TO_ERROR        /* the failure in *fail, at the redirect URI */
} idp_authz_route_t;

/* The route of a checked request: prompt, max_age and the time its fresh sign-in was asked for against the session's
 * auth_time, the client's allowed roles, then the consent page unless idp_authz_needs_consent says otherwise. */
idp_authz_route_t idp_authz_route(const idp_authz_t *a, hub_oauth_fail_t *fail);

/* Whether the consent page must be shown to a's user: the client does not skip authorization, and the setting is
 * force or the user's consent does not cover the scope; or the request asks for it (prompt=consent). */
int idp_authz_needs_consent(const idp_authz_t *a);

/* Frees a and everything it holds (NULL is ignored). */
void idp_authz_free(idp_authz_t *a);

/* Redirects to the client's redirect URI with kv (then state and iss, RFC 9207) in the query, or in the fragment for
 * the response types with tokens. */
void idp_authz_send(idp_authz_t *a, const idp_authz_kv_t *kv, size_t n);

/* The same with error and error_description. */
void idp_authz_send_error(idp_authz_t *a, hub_oauth_err_t err, const char *description);

/* Sends the browser to the sign-in page, which resumes this request afterwards (a GET of the authorize URL rebuilt
 * from the parameters). fresh: a new sign-in is required (prompt=login, max_age): the resumed request carries the
 * time it was asked for. */
void idp_authz_send_to_login(idp_authz_t *a, int fresh);

#endif
