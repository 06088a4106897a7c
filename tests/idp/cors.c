/* Tests idp/cors.c in process (tests/support/primary.h), SPEC §10: the preflight of the token, revocation and userinfo
 * endpoints opened to origins of enabled clients' redirect URIs only, and only in the spelling browsers send (no other
 * spelling, list, "null" or second header of an origin is taken); the actual answer opened to the origin of its own
 * client only; Vary: Origin everywhere; discovery and JWKS open to any origin; never credentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/check.h"
#include "tests/support/primary.h"

#define SPA "https://spa.example"

static test_primary_t p;
static char alice[512];

/* A request with Origin headers (NULL-terminated list, may be empty) and an optional Authorization and form body. */
static test_req_t *cross(const char *method, const char *path, const char *const *origins, const char *auth, const char *body)
{
    test_req_t *r = test_req_new(&p.loop, method, path);

    for (; origins != NULL && *origins != NULL; ++origins)
        test_req_header(r, "origin", *origins);
    if (auth != NULL)
        test_req_header(r, "authorization", auth);
    if (body != NULL)
        test_req_body(r, "application/x-www-form-urlencoded", body);
    test_req_run(r, TEST_PRIMARY_WAIT_MS);
    CHECK(test_req_done(r));
    CHECK(test_req_resp_header(r, "access-control-allow-credentials", 0) == NULL);
    return r;
}

static const char *acao(test_req_t *r)
{
    return test_req_resp_header(r, "access-control-allow-origin", 0) ?: "";
}

static void test_preflights(void)
{
    static const struct {
        const char *path, *methods;
    } endpoints[] = {{"/oauth2/token", "POST"}, {"/oauth2/revoke", "POST"}, {"/oauth2/userinfo", "GET, POST"}};
    char allow[64];

    for (size_t i = 0; i != sizeof(endpoints) / sizeof(endpoints[0]); ++i) {
        const char *const spa[] = {SPA, NULL};
        test_req_t *r = cross("OPTIONS", endpoints[i].path, spa, NULL, NULL);
        snprintf(allow, sizeof(allow), "OPTIONS, %s", endpoints[i].methods);
        CHECK(test_req_status(r) == 204 && strcmp(acao(r), SPA) == 0);
        CHECK(strcmp(test_req_resp_header(r, "access-control-allow-methods", 0) ?: "", endpoints[i].methods) == 0);
        CHECK(strcmp(test_req_resp_header(r, "access-control-allow-headers", 0) ?: "", "authorization, content-type") == 0);
        CHECK(strcmp(test_req_resp_header(r, "access-control-max-age", 0) ?: "", "600") == 0);
        CHECK(strcmp(test_req_resp_header(r, "vary", 0) ?: "", "Origin") == 0);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", allow) == 0);
        test_req_free(r);
    }
    /* any other origin, or another spelling of a registered one: 204 without any Access-Control-Allow-* */
    static const char *const refused[] = {"https://evil.example",
                                          "https://spa.example/",
                                          "HTTPS://spa.example",
                                          "https://SPA.example",
                                          "https://spa.example:443",
                                          "http://spa.example",
                                          "null",
                                          "https://spa.example, https://app.example",
                                          "",
                                          "https://off.example",
                                          "https://spa.example.evil.example",
                                          "https://spa.example/cb"};
    for (size_t i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        const char *const o[] = {refused[i], NULL};
        test_req_t *r = cross("OPTIONS", "/oauth2/token", o, NULL, NULL);
        CHECK(test_req_status(r) == 204 && test_req_resp_header(r, "access-control-allow-origin", 0) == NULL);
        CHECK(test_req_resp_header(r, "access-control-allow-methods", 0) == NULL);
        test_req_free(r);
    }
    const char *const two[] = {SPA, SPA, NULL};
    test_req_t *r = cross("OPTIONS", "/oauth2/token", two, NULL, NULL);
    CHECK(test_req_status(r) == 204 && test_req_resp_header(r, "access-control-allow-origin", 0) == NULL);
    test_req_free(r);
}

static void test_actual_answers(void)
{
    const char *const spa[] = {SPA, NULL}, *const app[] = {"https://app.example", NULL};
    char auth[4096];
    test_req_t *r;

    /* the token endpoint's answer, an error too, for the client it is about */
    r = cross("POST", "/oauth2/token", spa, NULL, "grant_type=refresh_token&refresh_token=x&client_id=spa");
    CHECK(test_req_status(r) == 400 && strcmp(acao(r), SPA) == 0 &&
          strcmp(test_req_resp_header(r, "vary", 0) ?: "", "Origin") == 0);
    test_req_free(r);
    r = cross("POST", "/oauth2/token", app, NULL, "grant_type=refresh_token&refresh_token=x&client_id=spa");
    CHECK(test_req_status(r) == 400 && acao(r)[0] == '\0' && strcmp(test_req_resp_header(r, "vary", 0) ?: "", "Origin") == 0);
    test_req_free(r);
    /* refused before the client is known: no origin is opened */
    r = cross("POST", "/oauth2/token", spa, NULL, "grant_type=refresh_token&refresh_token=x&client_id=nobody");
    CHECK(test_req_status(r) == 401 && acao(r)[0] == '\0');
    test_req_free(r);
    /* userinfo: the origin of the token's client */
    json_t *tokens;
    char location[2048], code[64], body[512];
    CHECK(test_primary_authorize(&p, alice,
                                 "client_id=spa&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                                 "&code_challenge_method=S256",
                                 location, sizeof(location)) == 302);
    CHECK(test_url_param(location, "code", code, sizeof(code)) == 0);
    snprintf(body, sizeof(body),
             "grant_type=authorization_code&client_id=spa&code=%s&redirect_uri=https%%3A%%2F%%2Fspa.example%%2Fcb"
             "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
             code);
    r = cross("POST", "/oauth2/token", spa, NULL, body);
    tokens = test_req_json(r);
    CHECK(test_req_status(r) == 200 && strcmp(acao(r), SPA) == 0);
    test_req_free(r);
    snprintf(auth, sizeof(auth), "Bearer %s", test_json_str(tokens, "access_token"));
    r = cross("GET", "/oauth2/userinfo", spa, auth, NULL);
    CHECK(test_req_status(r) == 200 && strcmp(acao(r), SPA) == 0);
    test_req_free(r);
    r = cross("GET", "/oauth2/userinfo", app, auth, NULL);
    CHECK(test_req_status(r) == 200 && acao(r)[0] == '\0');
    test_req_free(r);
    json_decref(tokens);
}

static void test_public_documents(void)
{
    static const char *const paths[] = {"/.well-known/openid-configuration", "/oauth2/jwks"};
    const char *const o[] = {"https://anyone.example", NULL};

    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        test_req_t *r = cross("GET", paths[i], o, NULL, NULL);
        CHECK(test_req_status(r) == 200 && strcmp(acao(r), "*") == 0);
        test_req_free(r);
        r = cross("GET", paths[i], NULL, NULL, NULL);
        CHECK(test_req_status(r) == 200 && strcmp(acao(r), "*") == 0);
        test_req_free(r);
    }
}

int main(void)
{
    char *sub;

    test_primary_start(&p, "idp-cors", NULL);
    sub = test_primary_user(&p, "alice", "alice-password", NULL);
    test_primary_client(&p, "spa", "authorization_code", "none", SPA "/cb", NULL, 1, NULL);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", "https://app.example/cb", NULL, 1, NULL);
    test_primary_client(&p, "off", "authorization_code", "none", "https://off.example/cb", NULL, 1, NULL);
    CHECK(test_primary_disable_client(&p, "off") == 0);
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", alice, sizeof(alice)) == 0);
    test_preflights();
    test_actual_answers();
    test_public_documents();
    test_primary_stop(&p);
    free(sub);
    return check_report("idp/cors");
}
