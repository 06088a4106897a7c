/* libFuzzer target for hub_url_parse and the redirect URI matching built on it: parsed parts stay inside the input,
 * ports are in range, a canonical IPv4 host prints back as written, origins compare reflexively, an origin's text
 * (hub_url_origin) is a URL of the same origin that serializes to itself, and a public client's loopback match never
 * accepts a URI the parser refuses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/url.h"
#include "idp/client.h"
#include "idp/origins.h"

static void check_parsed(const char *s, const hub_url_t *u)
{
    char quad[16];
    size_t n = strlen(s);
    if (u->host < s || u->host + u->host_len > s + n || u->rest < s || u->rest > s + n || u->host_len == 0)
        abort();
    if (u->port == 0 || u->port > 65535 || !hub_url_same_origin(u, u))
        abort();
    if (u->rest[0] != '\0' && u->rest[0] != '/' && u->rest[0] != '?')
        abort();
    if (u->kind == HUB_HOST_IPV4 && u->canonical) {
        int len = snprintf(quad, sizeof(quad), "%u.%u.%u.%u", u->addr[0], u->addr[1], u->addr[2], u->addr[3]);
        if ((size_t)len != u->host_len || memcmp(quad, u->host, u->host_len) != 0)
            abort();
    }
    (void)hub_url_forbidden_host(u);
}

/* The origin of u, as a CORS check compares it: the same origin, no path, and its own serialization. */
static void check_origin(const char *s, const hub_url_t *u)
{
    char origin[HUB_ORIGIN_MAX], again[HUB_ORIGIN_MAX];
    char *uris[] = {(char *)s, NULL};
    idp_client_t client = {.redirect_uris = {uris, 1}};
    hub_url_t o;
    int n = hub_url_origin(u, origin, sizeof(origin));

    if (n <= 0 || (size_t)n != strlen(origin) || hub_url_parse(origin, &o, NULL) != 0 || o.rest[0] != '\0')
        abort();
    if (!hub_url_same_origin(u, &o) || hub_url_origin(&o, again, sizeof(again)) != n || strcmp(origin, again) != 0)
        abort();
    for (int i = 0; i != n; ++i)
        if (origin[i] >= 'A' && origin[i] <= 'Z')
            abort();
    if (!idp_client_has_origin(&client, origin))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *regs[] = {"http://127.0.0.1:8080/cb", "http://[::1]/cb?x=1", NULL};
    idp_client_t client = {0};
    char *s;
    hub_url_t u;

    if (size > HUB_URL_MAX + 16 || (s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (hub_url_parse(s, &u, NULL) == 0) {
        check_parsed(s, &u);
        check_origin(s, &u);
    }
    client.redirect_uris.v = regs;
    client.redirect_uris.n = 2;
    client.auth_method = IDP_AUTH_NONE;
    if (idp_client_match_redirect(&client, s) != NULL && strcmp(s, regs[0]) != 0 && strcmp(s, regs[1]) != 0 &&
        hub_url_parse(s, &u, NULL) != 0)
        abort();
    client.auth_method = IDP_AUTH_SECRET_BASIC;
    if (idp_client_match_redirect(&client, s) != NULL && strcmp(s, regs[0]) != 0 && strcmp(s, regs[1]) != 0)
        abort(); /* a confidential client matches exactly */
    free(s);
    return 0;
}
