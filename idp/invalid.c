/* Validation failures: the field table (hubctl option, RFC 7591 name) and the one-line quotation of a value. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "hub/err.h"
#include "idp/invalid.h"

static const struct {
    const char *option;   /* hubctl */
    const char *metadata; /* RFC 7591 / OIDC Registration, NULL when no client metadata */
} fields[IDP_FIELD__COUNT] = {
    [IDP_FIELD_NONE] = {"argument", NULL},
    [IDP_FIELD_USERNAME] = {"username", NULL},
    [IDP_FIELD_EMAIL] = {"--email", NULL},
    [IDP_FIELD_FULL_NAME] = {"--full-name", NULL},
    [IDP_FIELD_GIVEN_NAME] = {"--given-name", NULL},
    [IDP_FIELD_FAMILY_NAME] = {"--family-name", NULL},
    [IDP_FIELD_PICTURE] = {"picture", NULL},
    [IDP_FIELD_USER_ROLES] = {"--role", NULL},
    [IDP_FIELD_ROLE] = {"ROLE", NULL},
    [IDP_FIELD_APP_NAME] = {"--app-name", "client_name"},
    [IDP_FIELD_GRANT_TYPE] = {"--grant-type", "grant_types"},
    [IDP_FIELD_RESPONSE_TYPE] = {"--response-type", "response_types"},
    [IDP_FIELD_AUTH_METHOD] = {"--auth-method", "token_endpoint_auth_method"},
    [IDP_FIELD_SCOPES] = {"--scopes", "scope"},
    [IDP_FIELD_REDIRECT_URIS] = {"--redirect-uris", "redirect_uris"},
    [IDP_FIELD_DEFAULT_REDIRECT_URI] = {"--default-redirect-uri", "redirect_uris"},
    [IDP_FIELD_BACKCHANNEL_LOGOUT_URI] = {"--backchannel-logout-uri", "backchannel_logout_uri"},
    [IDP_FIELD_POST_LOGOUT_REDIRECT_URIS] = {"--post-logout-redirect-uris", "post_logout_redirect_uris"},
    [IDP_FIELD_ALLOWED_ROLES] = {"--allowed-roles", NULL},
    [IDP_FIELD_SERVICE_ROLES] = {"--role", NULL},
    [IDP_FIELD_INTROSPECT_ANY] = {"--introspect-any", NULL},
    [IDP_FIELD_FRAPPE_SITE] = {"--frappe-site", NULL},
    [IDP_FIELD_NODE_NAME] = {"--name", NULL},
    [IDP_FIELD_CLIENT_ID] = {"ID", NULL},
    [IDP_FIELD_PASSWORD] = {"password", NULL},
    [IDP_FIELD_JOIN_TTL] = {"--ttl", NULL},
    [IDP_FIELD_NODE_ID] = {"ID", NULL},
    [IDP_FIELD_KID] = {"KID", NULL},
    [IDP_FIELD_CURRENT_PASSWORD] = {"current password", NULL},
    [IDP_FIELD_PASSWORD_AGAIN] = {"password again", NULL},
    [IDP_FIELD_SETTING] = {"VALUE", NULL},
};

int idp_invalid(idp_invalid_t *inv, idp_field_t field, const char *fmt, ...)
{
    va_list ap;

    if (inv != NULL) {
        inv->field = field;
        va_start(ap, fmt);
        vsnprintf(inv->text, sizeof(inv->text), fmt, ap);
        va_end(ap);
    }
    return HUB_E_INVAL;
}

const char *idp_field_option(idp_field_t field)
{
    return (unsigned)field < IDP_FIELD__COUNT && fields[field].option != NULL ? fields[field].option : "argument";
}

const char *idp_field_metadata(idp_field_t field)
{
    return (unsigned)field < IDP_FIELD__COUNT ? fields[field].metadata : NULL;
}

/* The length of the UTF-8 sequence at p that is a printable character (no C1 control, no U+2028 or U+2029 line or
 * paragraph separator, no overlong form, no surrogate, at most U+10FFFF), or 0. */
static size_t utf8_char(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    unsigned long cp = p[0] & (0x7f >> n);

    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    for (size_t i = 1; i != n; ++i) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
        cp == 0x2028 || cp == 0x2029)
        return 0;
    return n;
}

/* The next character of p as a quotation shows it: *piece (p itself, or esc for an escape) of the returned length;
 * *step is how many bytes of p it stands for. */
static size_t next_piece(const unsigned char *p, char esc[5], const char **piece, size_t *step)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *p >= 0x20 && *p < 0x7f ? 1 : *p >= 0x80 ? utf8_char(p) : 0;

    if (n != 0) {
        *piece = (const char *)p;
        *step = n;
        return n;
    }
    if (*p == '\n' || *p == '\r' || *p == '\t') {
        esc[0] = '\\', esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't', esc[2] = '\0';
    } else {
        esc[0] = '\\', esc[1] = 'x', esc[2] = hex[*p >> 4], esc[3] = hex[*p & 15], esc[4] = '\0';
    }
    *piece = esc;
    *step = 1;
    return strlen(esc);
}

const char *idp_quote(char *out, size_t size, const char *s)
{
    const unsigned char *in = (const unsigned char *)(s != NULL ? s : ""), *p;
    const char *piece;
    size_t used = 0, total = 0, len, step;
    char esc[5];

    assert(size >= 4);
    for (p = in; *p != '\0'; p += step)
        total += next_piece(p, esc, &piece, &step);
    /* all of it when it fits, else what fits before "..." */
    size_t room = total < size ? total : size - 4;
    for (p = in; *p != '\0'; p += step) {
        if (used + (len = next_piece(p, esc, &piece, &step)) > room)
            break;
        memcpy(out + used, piece, len);
        used += len;
    }
    if (total >= size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
    return out;
}
