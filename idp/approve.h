/* The consent page and the user's decision on it, /oauth2/approve and its Frappe alias (SPEC §4 consent). */
#ifndef IDP_APPROVE_H
#define IDP_APPROVE_H

#include "idp/authz.h"

/* The consent page for a's request by the user of its session (a->session, a->user): names the app, lists what each
 * scope discloses, and posts Allow or Deny to /oauth2/approve with a CSRF token bound to the session and the request's
 * parameters (all checked again there). */
void idp_consent_send(idp_authz_t *a);

/* Registers /oauth2/approve and its Frappe alias. */
void idp_approve_register(idp_t *idp);

#endif
