/* Answering an authorization that goes through (RFC 6749 §4.1.2, §4.2.2; OIDC Core §3.2.2.5). */
#ifndef IDP_ISSUE_H
#define IDP_ISSUE_H

#include "idp/authz.h"

/* Answers a's authorization for the user of its session (a->session, a->user): a code in the query, or the access token
 * and id_token its response type asks for in the fragment (never a refresh token for implicit), after one write
 * transaction that records them (the consent too when put_consent: the user approved on the consent page). The write
 * runs on the store's writer (group commit) and the answer follows once it is durable; a is taken over (freed once
 * answered, or when its client left). A failure is answered as server_error at the redirect URI, temporarily_unavailable when the
 * writer's queue is full or the database unreachable. */
void idp_authz_issue(idp_authz_t *a, int put_consent);

#endif
