/* The OIDC UserInfo endpoint (OIDC Core §5.3). */
#ifndef IDP_USERINFO_H
#define IDP_USERINFO_H

#include "idp/ctx.h"

/* Registers /oauth2/userinfo and its Frappe alias (openid_profile). */
void idp_userinfo_register(idp_t *idp);

#endif
