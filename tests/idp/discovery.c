/* Tests idp/discovery.c in process (tests/support/primary.h): both discovery documents and the JWKS, their methods
 * (HEAD, the preflight, 405 for the rest), exact paths, public caching and Access-Control-Allow-Origin: * (SPEC §10),
 * every endpoint named under the issuer, and public keys only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/check.h"
#include "tests/support/primary.h"

static test_primary_t p;

static void test_documents(void)
{
    static const char *const paths[] = {"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"};
    static const struct {
        const char *name, *path;
    } endpoints[] = {{"authorization_endpoint", "/oauth2/authorize"}, {"token_endpoint", "/oauth2/token"},
                     {"userinfo_endpoint", "/oauth2/userinfo"},       {"jwks_uri", "/oauth2/jwks"},
                     {"registration_endpoint", "/oauth2/register"},   {"introspection_endpoint", "/oauth2/introspect"},
                     {"revocation_endpoint", "/oauth2/revoke"},       {"end_session_endpoint", "/oauth2/logout"}};
    char url[256];

    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        test_req_t *r = test_primary_request(&p, "GET", paths[i], NULL, NULL, NULL, NULL);
        json_t *doc = test_req_json(r);
        CHECK(test_req_done(r) && test_req_status(r) == 200 && strcmp(test_json_str(doc, "issuer"), TEST_PRIMARY_ISSUER) == 0);
        CHECK(strcmp(test_req_resp_header(r, "access-control-allow-origin", 0) ?: "", "*") == 0);
        CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "public, max-age=300") == 0);
        for (size_t e = 0; e != sizeof(endpoints) / sizeof(endpoints[0]); ++e) {
            snprintf(url, sizeof(url), TEST_PRIMARY_ISSUER "%s", endpoints[e].path);
            CHECK(strcmp(test_json_str(doc, endpoints[e].name), url) == 0);
        }
        json_t *methods = json_object_get(doc, "code_challenge_methods_supported");
        CHECK(json_array_size(methods) == 1 && strcmp(json_string_value(json_array_get(methods, 0)), "S256") == 0);
        CHECK(strcmp(json_string_value(json_array_get(json_object_get(doc, "id_token_signing_alg_values_supported"), 0)),
                     "ES256") == 0);
        CHECK(json_is_true(json_object_get(doc, "backchannel_logout_supported")));
        json_decref(doc);
        test_req_free(r);
        /* HEAD: the headers of GET, no body */
        r = test_primary_request(&p, "HEAD", paths[i], NULL, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 200 && test_req_len(r) == 0);
        test_req_free(r);
    }
}

static void test_jwks(void)
{
    test_req_t *r = test_primary_request(&p, "GET", "/oauth2/jwks", NULL, NULL, NULL, NULL);
    json_t *doc = test_req_json(r), *keys = json_object_get(doc, "keys"), *k;
    size_t i;

    CHECK(test_req_done(r) && test_req_status(r) == 200 && json_array_size(keys) >= 1);
    CHECK(strcmp(test_req_resp_header(r, "access-control-allow-origin", 0) ?: "", "*") == 0);
    CHECK(strncmp(test_req_resp_header(r, "cache-control", 0) ?: "", "public, max-age=", 16) == 0);
    CHECK(strcmp(test_req_resp_header(r, "content-type", 0) ?: "", "application/json") == 0);
    json_array_foreach(keys, i, k)
    {
        CHECK(strlen(test_json_str(k, "kid")) > 0 && strcmp(test_json_str(k, "kty"), "EC") == 0);
        CHECK(strcmp(test_json_str(k, "alg"), "ES256") == 0 && strcmp(test_json_str(k, "use"), "sig") == 0);
        CHECK(json_object_get(k, "d") == NULL); /* never a private part */
    }
    json_decref(doc);
    test_req_free(r);
    r = test_primary_request(&p, "HEAD", "/oauth2/jwks", NULL, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && test_req_len(r) == 0);
    test_req_free(r);
}

static void test_methods_and_paths(void)
{
    static const char *const paths[] = {"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
                                        "/oauth2/jwks"};
    static const char *const refused[] = {"POST", "PUT", "DELETE", "PATCH"};
    static const char *const other_paths[] = {"/.well-known/openid-configuration/",
                                              "/.well-known/openid-configurationx",
                                              "/.well-known/openid-configuration/x",
                                              "/oauth2/jwks/",
                                              "/oauth2/jwksx",
                                              "/.well-known/OPENID-configuration",
                                              "/.well-known/"};

    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        for (size_t m = 0; m != sizeof(refused) / sizeof(refused[0]); ++m) {
            test_req_t *r = test_primary_request(&p, refused[m], paths[i], NULL, NULL, NULL, "x=1");
            json_t *doc = test_req_json(r);
            CHECK(test_req_done(r) && test_req_status(r) == 405);
            CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "OPTIONS, GET, HEAD") == 0);
            CHECK(strcmp(test_json_str(doc, "error"), "invalid_request") == 0);
            json_decref(doc);
            test_req_free(r);
        }
        test_req_t *r = test_req_new(&p.loop, "OPTIONS", paths[i]);
        test_req_header(r, "origin", "https://anyone.example");
        test_req_run(r, TEST_PRIMARY_WAIT_MS);
        CHECK(test_req_done(r) && test_req_status(r) == 204);
        CHECK(strcmp(test_req_resp_header(r, "access-control-allow-origin", 0) ?: "", "*") == 0);
        CHECK(strcmp(test_req_resp_header(r, "access-control-allow-methods", 0) ?: "", "GET, HEAD") == 0);
        test_req_free(r);
    }
    for (size_t i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        test_req_t *r = test_primary_request(&p, "GET", other_paths[i], NULL, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
}

int main(void)
{
    test_primary_start(&p, "idp-discovery", NULL);
    test_documents();
    test_jwks();
    test_methods_and_paths();
    test_primary_stop(&p);
    return check_report("idp/discovery");
}
