/* libFuzzer target for idp_client_match_redirect (idp/model.c). The input builds a client and the URIs it is asked
 * about: byte 0 picks the client's auth method (bit 0 set: public, auth method none), then lines ('\n'): the
 * registered redirect URIs up to an empty line, then the URIs presented (without an empty line, the last line is the
 * one presented). Invariants: a match is one of the client's own strings; a confidential client matches exactly and
 * only what is registered; a public client's other match is an http loopback literal (127.0.0.1 or [::1]) that differs
 * from its registration in the port alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hub/url.h"
#include "idp/client.h"

#define MAX_LINES 16

/* The parts of a URL string without its port: scheme (compared case-insensitively), authority without ":port", and the
 * rest from the first '/' or '?' after the authority. 0 when s is not scheme://authority... at all. */
typedef struct st_split_t {
    const char *scheme, *host, *rest;
    size_t scheme_len, host_len;
} split_t;

static int split_url(const char *s, split_t *out)
{
    const char *sep = strstr(s, "://"), *auth, *end, *colon, *bracket;

    if (sep == NULL)
        return 0;
    out->scheme = s;
    out->scheme_len = (size_t)(sep - s);
    auth = sep + 3;
    end = auth + strcspn(auth, "/?");
    colon = memrchr(auth, ':', (size_t)(end - auth));
    bracket = memrchr(auth, ']', (size_t)(end - auth));
    out->host = auth;
    out->host_len = (size_t)((colon != NULL && (bracket == NULL || colon > bracket) ? colon : end) - auth);
    out->rest = end;
    return 1;
}

/* 1 when a and b are the same URL but for the port. */
static int same_but_port(const char *a, const char *b)
{
    split_t x, y;
    return split_url(a, &x) && split_url(b, &y) && x.scheme_len == y.scheme_len &&
           strncasecmp(x.scheme, y.scheme, x.scheme_len) == 0 && x.host_len == y.host_len &&
           memcmp(x.host, y.host, x.host_len) == 0 && strcmp(x.rest, y.rest) == 0;
}

static int is_loopback_literal(const hub_url_t *u)
{
    return !u->https && ((u->kind == HUB_HOST_IPV4 && u->host_len == 9 && memcmp(u->host, "127.0.0.1", 9) == 0) ||
                         (u->kind == HUB_HOST_IPV6 && u->host_len == 3 && memcmp(u->host, "::1", 3) == 0));
}

static int registered(const idp_client_t *c, const char *match)
{
    for (size_t i = 0; i != c->redirect_uris.n; ++i)
        if (c->redirect_uris.v[i] == match)
            return 1;
    return 0;
}

static void check_one(idp_client_t *c, const char *uri)
{
    idp_auth_method_t method = c->auth_method;
    const char *m = idp_client_match_redirect(c, uri), *conf;
    hub_url_t u, r;

    if (m != NULL && !registered(c, m))
        abort(); /* a match is one of the client's own strings, never the presented one */
    if (idp_strv_has(&c->redirect_uris, uri) && (m == NULL || strcmp(m, uri) != 0))
        abort(); /* the exact string always matches itself */
    /* a confidential client: exactly what is registered, nothing else */
    c->auth_method = IDP_AUTH_SECRET_BASIC;
    conf = idp_client_match_redirect(c, uri);
    c->auth_method = method;
    if ((conf != NULL) != idp_strv_has(&c->redirect_uris, uri) || (conf != NULL && strcmp(conf, uri) != 0))
        abort();
    if (m == NULL || strcmp(m, uri) == 0)
        return;
    /* only a public client gets another match: a loopback literal, the same URL but for the port */
    if (method != IDP_AUTH_NONE || hub_url_parse(uri, &u, NULL) != 0 || hub_url_parse(m, &r, NULL) != 0)
        abort();
    if (!is_loopback_literal(&u) || !is_loopback_literal(&r) || u.kind != r.kind || strcmp(u.rest, r.rest) != 0)
        abort();
    if (u.port == 0 || u.port > 65535 || hub_url_forbidden_host(&u) != NULL || !same_but_port(uri, m))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *lines[MAX_LINES], *regs[MAX_LINES + 1], *p, *nl;
    size_t n = 0, nreg, i;
    idp_client_t c = {0};

    if (size < 1 || size > 4 * HUB_URL_MAX || (buf = malloc(size)) == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    for (p = buf; n != MAX_LINES; p = nl + 1) {
        lines[n++] = p;
        if ((nl = strchr(p, '\n')) == NULL)
            break;
        *nl = '\0';
    }
    for (nreg = 0; nreg != n && lines[nreg][0] != '\0'; ++nreg)
        ;
    if (nreg == n && n != 0) /* no empty line: the last line is presented */
        --nreg;
    memcpy(regs, lines, nreg * sizeof(*regs));
    regs[nreg] = NULL;
    c.auth_method = (data[0] & 1) ? IDP_AUTH_NONE : (data[0] & 2) ? IDP_AUTH_SECRET_POST : IDP_AUTH_SECRET_BASIC;
    c.redirect_uris.v = regs;
    c.redirect_uris.n = nreg;
    for (i = nreg < n && lines[nreg][0] == '\0' ? nreg + 1 : nreg; i != n; ++i)
        check_one(&c, lines[i]);
    (void)idp_client_match_redirect(&c, NULL);
    free(buf);
    return 0;
}
