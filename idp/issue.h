/* Answering an authorization that goes through (RFC 6749 §4.1.2, §4.2.2; OIDC Core §3.2.2.5). */
#ifndef IDP_ISSUE_H
#define IDP_ISSUE_H

#include "idp/authz.h"

/* Answers a's authorization for the user of its session (a->session, a->user): a code in the query, or the access token
 * and id_token its response type asks for in the fragment (never a refresh token for implicit), after one write
 * transaction that records what they are issued from (the consent too when put_consent: the user approved on the
 * consent page). The write runs on the store's writer (group commit) and the answer follows once it is durable; a is
 * taken over (freed once answered, or when its client left). A failure is answered as server_error at the redirect URI,
 * temporarily_unavailable when the writer's queue is full or the database unreachable. */
void idp_authz_issue(idp_authz_t *a, int put_consent);

/* The same in steps, for a request that another write carries (the sign-in page's, idp/login.c, issues in the write
 * that starts the session): */
typedef struct st_idp_issue_t idp_issue_t;

/* The issue of a (taken over: freed with it) for the user of a->session, the consent too when put_consent. */
idp_issue_t *idp_issue_new(idp_authz_t *a, int put_consent);

/* The write (any thread, in a write transaction; arg is the idp_issue_t): the consent, the session's family for the
 * client (idp_session_family), the code, or the family made to outlive the implicit flow's access token; the session's
 * client. The session must exist in the transaction by then. */
int idp_issue_txn(hub_txn_t *txn, void *arg);

/* On the loop once the write is durable (ret 0) or failed: the answer at the redirect URI, on req (the implicit flow's
 * tokens are signed here, a failure to sign answered as server_error). */
void idp_issue_send(idp_issue_t *is, h2o_req_t *req, int ret);

void idp_issue_free(idp_issue_t *is);

#endif
