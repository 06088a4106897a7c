/* What a validator refuses: the field at fault and why, in words that name no option, so that each caller phrases it
 * for its audience (hubctl names its --option, dynamic registration the RFC 7591 metadata field). */
#ifndef IDP_INVALID_H
#define IDP_INVALID_H

#include <stddef.h>

typedef enum {
    IDP_FIELD_NONE = 0,
    /* users */
    IDP_FIELD_USERNAME,
    IDP_FIELD_EMAIL,
    IDP_FIELD_FULL_NAME,
    IDP_FIELD_GIVEN_NAME,
    IDP_FIELD_FAMILY_NAME,
    IDP_FIELD_PICTURE,
    IDP_FIELD_USER_ROLES,
    /* roles */
    IDP_FIELD_ROLE,
    /* clients */
    IDP_FIELD_APP_NAME,
    IDP_FIELD_GRANT_TYPE,
    IDP_FIELD_RESPONSE_TYPE,
    IDP_FIELD_AUTH_METHOD,
    IDP_FIELD_SCOPES,
    IDP_FIELD_REDIRECT_URIS,
    IDP_FIELD_DEFAULT_REDIRECT_URI,
    IDP_FIELD_BACKCHANNEL_LOGOUT_URI,
    IDP_FIELD_POST_LOGOUT_REDIRECT_URIS,
    IDP_FIELD_ALLOWED_ROLES,
    IDP_FIELD_SERVICE_ROLES,
    IDP_FIELD_INTROSPECT_ANY,
    IDP_FIELD_FRAPPE_SITE,
    /* join tokens */
    IDP_FIELD_NODE_NAME,
    /* what an operator's change names or brings (hubctl's arguments, the consoles' fields) */
    IDP_FIELD_CLIENT_ID,
    IDP_FIELD_PASSWORD,
    IDP_FIELD_JOIN_TTL,
    IDP_FIELD_NODE_ID,
    IDP_FIELD_KID,
    IDP_FIELD_CURRENT_PASSWORD, /* a user's own, to change it */
    IDP_FIELD_PASSWORD_AGAIN,   /* a new password typed twice */
    IDP_FIELD_SETTING,          /* an OAuth Provider Setting's value */
    IDP_FIELD__COUNT
} idp_field_t;

#define IDP_INVALID_TEXT 256
/* The longest quotation of a value a text carries (idp_quote), so that the reason around it still fits. */
#define IDP_QUOTE_MAX 161

typedef struct st_idp_invalid_t {
    idp_field_t field;
    char text[IDP_INVALID_TEXT]; /* "must be ...", one line of valid UTF-8 without the field's name */
} idp_invalid_t;

/* Records field and the formatted reason in *inv (nothing when inv is NULL); returns HUB_E_INVAL. */
int idp_invalid(idp_invalid_t *inv, idp_field_t field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The name hubctl's users know the field by ("--email", "ROLE", "username"). */
const char *idp_field_option(idp_field_t field);
/* The RFC 7591 client metadata name of the field ("redirect_uris"), or NULL when it is none. */
const char *idp_field_metadata(idp_field_t field);

/* Writes s into out (size bytes, at least 4) as one line a message may quote: a control character, DEL, a C1 control,
 * U+2028, U+2029 or a byte that is not valid UTF-8 becomes an escape (\n, \r, \t, \xNN); a text too long for out is cut on a
 * character boundary and ends with "...". Returns out; s NULL reads as "". */
const char *idp_quote(char *out, size_t size, const char *s);

#endif
