/* Tests idp/token.c in process (tests/support/primary.h): the endpoint's methods, paths and Frappe alias, bad forms
 * (body type, repeated and over-long parameters, grant types), client authentication refused every way (and answered
 * 401 with its challenge), and the three grants: client_credentials with its scopes, authorization_code with its
 * redirect URI, PKCE and replay rules, refresh_token rotation. A refused request changes nothing stored. A client that
 * leaves while its grant's write waits for the store's writer (group commit) leaves the write committed and nothing
 * touching its request; one that leaves during its authentication's read (with the store's readers) has nothing
 * written, but a refused reuse of a rotated refresh token still revokes its family. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/crypto.h"
#include "tests/check.h"
#include "tests/support/primary.h"
#include "tests/support/storehook.h"

#define WEB_CB "https://app.example/cb"
#define SPA_CB "https://spa.example/cb"
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

static test_primary_t p;
static char web_secret[44], post_secret[44], svc_secret[44], session[512];

/* "Basic base64(id:secret)" in a static buffer. */
static const char *basic(const char *id, const char *secret)
{
    static char out[512];
    return test_basic(id, secret, out, sizeof(out));
}

static test_req_t *token(const char *auth, const char *body)
{
    return test_primary_request(&p, "POST", "/oauth2/token", NULL, auth, NULL, body);
}

/* Checks an OAuth error answer: status, error, and (when not NULL) its description; frees r. */
#define expect_error(...) expect_error_at(__LINE__, __VA_ARGS__)
static void expect_error_at(int line, test_req_t *r, int status, const char *error, const char *description)
{
    json_t *doc = test_req_json(r);
    int before = failures;

    CHECK(test_req_done(r) && test_req_status(r) == status);
    CHECK(strcmp(test_json_str(doc, "error"), error) == 0);
    if (description != NULL)
        CHECK(strcmp(test_json_str(doc, "error_description"), description) == 0);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    if (status == 401)
        CHECK(strcmp(test_req_resp_header(r, "www-authenticate", 0) ?: "", "Basic realm=\"hub\"") == 0);
    if (failures != before)
        fprintf(stderr, "  (the answer checked at line %d: %d %s)\n", line, test_req_status(r), test_req_text(r));
    json_decref(doc);
    test_req_free(r);
}

/* A code for client_id issued to alice's session (the client skips consent). */
static void get_code(const char *client_id, const char *redirect, const char *extra, char code[64])
{
    char query[1024], location[2048];

    snprintf(query, sizeof(query), "client_id=%s&response_type=code&redirect_uri=%s&scope=openid%%20profile&state=s1%s", client_id,
             redirect, extra != NULL ? extra : "");
    CHECK(test_primary_authorize(&p, session, query, location, sizeof(location)) == 302);
    code[0] = '\0';
    CHECK(test_url_param(location, "code", code, 64) == 0);
}

static void test_methods_and_paths(void)
{
    static const char *const refused[] = {"GET", "PUT", "DELETE", "PATCH", "HEAD"};
    static const char *const other_paths[] = {"/oauth2/token/", "/oauth2/tokenx", "/oauth2/Token", "/oauth2/token/x",
                                              "/api/method/frappe.integrations.oauth2.get_tokenx"};
    size_t i;

    for (i = 0; i != sizeof(refused) / sizeof(refused[0]); ++i) {
        test_req_t *r = test_primary_request(&p, refused[i], "/oauth2/token", NULL, NULL, NULL, NULL);
        CHECK(test_req_done(r) && test_req_status(r) == 405);
        CHECK(strcmp(test_req_resp_header(r, "allow", 0) ?: "", "OPTIONS, POST") == 0);
        if (strcmp(refused[i], "HEAD") != 0) {
            json_t *doc = test_req_json(r);
            CHECK(strcmp(test_json_str(doc, "error"), "invalid_request") == 0);
            json_decref(doc);
        }
        test_req_free(r);
    }
    test_req_t *r = test_primary_request(&p, "OPTIONS", "/oauth2/token", NULL, NULL, NULL, NULL);
    CHECK(test_req_done(r) && test_req_status(r) == 204 && strcmp(test_req_resp_header(r, "allow", 0) ?: "", "OPTIONS, POST") == 0);
    test_req_free(r);
    for (i = 0; i != sizeof(other_paths) / sizeof(other_paths[0]); ++i) {
        r = test_primary_request(&p, "POST", other_paths[i], NULL, basic("svc", svc_secret), NULL, "grant_type=client_credentials");
        CHECK(test_req_done(r) && test_req_status(r) == 404);
        test_req_free(r);
    }
    /* the Frappe alias is the same endpoint */
    r = test_primary_request(&p, "POST", "/api/method/frappe.integrations.oauth2.get_token", NULL, basic("svc", svc_secret), NULL,
                             "grant_type=client_credentials");
    json_t *doc = test_req_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == 200 && strcmp(test_json_str(doc, "token_type"), "Bearer") == 0);
    json_decref(doc);
    test_req_free(r);
}

static void test_bad_forms(void)
{
    const char *svc = basic("svc", svc_secret);
    char *long_scope = malloc(6000);

    expect_error(
        test_primary_request(&p, "POST", "/oauth2/token", NULL, svc, "application/json", "{\"grant_type\":\"client_credentials\"}"),
        400, "invalid_request", "expected an application/x-www-form-urlencoded body");
    expect_error(test_primary_request(&p, "POST", "/oauth2/token", NULL, svc, "text/plain", "grant_type=client_credentials"), 400,
                 "invalid_request", "expected an application/x-www-form-urlencoded body");
    expect_error(test_primary_request(&p, "POST", "/oauth2/token", NULL, svc, NULL, NULL), 400, "invalid_request", NULL);
    /* RFC 6749 §3.2: no parameter twice, whichever it is */
    static const char *const repeated[] = {
        "grant_type=client_credentials&grant_type=client_credentials", "grant_type=client_credentials&scope=api&scope=read",
        "grant_type=client_credentials&x=1&x=2", "grant_type=client_credentials&client_id=svc&client_id=svc"};
    for (size_t i = 0; i != sizeof(repeated) / sizeof(repeated[0]); ++i)
        expect_error(token(svc, repeated[i]), 400, "invalid_request", "a parameter is repeated");
    snprintf(long_scope, 6000, "grant_type=client_credentials&scope=");
    memset(long_scope + strlen(long_scope), 'a', 4200);
    long_scope[36 + 4200] = '\0';
    expect_error(token(svc, long_scope), 400, "invalid_request", "a parameter is too long");
    free(long_scope);
    expect_error(token(svc, ""), 400, "invalid_request", "grant_type is required");
    expect_error(token(svc, "grant_type="), 400, "invalid_request", "grant_type is required");
    static const char *const unsupported[] = {
        "password",           "implicit",      "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_credentials%01",
        "CLIENT_CREDENTIALS", "refresh_token "};
    char body[256];
    for (size_t i = 0; i != sizeof(unsupported) / sizeof(unsupported[0]); ++i) {
        snprintf(body, sizeof(body), "grant_type=%s", unsupported[i]);
        expect_error(token(svc, body), 400, "unsupported_grant_type", "unsupported grant_type");
    }
    /* a NUL byte makes no form */
    expect_error(token(svc, "grant_type=client_credentials%00"), 400, "invalid_request",
                 "expected an application/x-www-form-urlencoded body");
}

static void test_client_authentication(void)
{
    size_t refresh = test_primary_count(&p, HUB_T_REFRESH);
    char body[256];

    expect_error(token(NULL, "grant_type=client_credentials"), 401, "invalid_client", "missing client credentials");
    expect_error(token(basic("svc", "wrong"), "grant_type=client_credentials"), 401, "invalid_client",
                 "client authentication failed");
    expect_error(token(basic("svc", ""), "grant_type=client_credentials"), 401, "invalid_client", "client authentication failed");
    expect_error(token(basic("nobody", svc_secret), "grant_type=client_credentials"), 401, "invalid_client", "unknown client");
    expect_error(token(basic("", svc_secret), "grant_type=client_credentials"), 401, "invalid_client",
                 "malformed Basic credentials");
    expect_error(token("Basic !!!", "grant_type=client_credentials"), 401, "invalid_client", "malformed Basic credentials");
    expect_error(token("Basic c3Zj", "grant_type=client_credentials"), 401, "invalid_client", NULL); /* "svc", no colon */
    /* two methods at once, a client_id naming another client than the Basic credentials, a method not registered */
    snprintf(body, sizeof(body), "grant_type=client_credentials&client_secret=%s", svc_secret);
    expect_error(token(basic("svc", svc_secret), body), 401, "invalid_client", "more than one client authentication method");
    expect_error(token(basic("svc", svc_secret), "grant_type=client_credentials&client_id=web"), 401, "invalid_client",
                 "client_id does not match the Basic credentials");
    snprintf(body, sizeof(body), "grant_type=client_credentials&client_id=svc&client_secret=%s", svc_secret);
    expect_error(token(NULL, body), 401, "invalid_client", "client authentication method differs from the registered one");
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=x&client_id=post&client_secret=%s", web_secret);
    expect_error(token(NULL, body), 401, "invalid_client", "client authentication failed");
    /* a public client has no client_credentials; a client naming itself without a secret is no confidential one */
    expect_error(token(NULL, "grant_type=client_credentials&client_id=spa"), 401, "invalid_client",
                 "this endpoint requires client credentials");
    expect_error(token(NULL, "grant_type=client_credentials&client_id=svc"), 401, "invalid_client",
                 "client authentication method differs from the registered one");
    expect_error(token(basic("off", svc_secret), "grant_type=client_credentials"), 401, "invalid_client", "client disabled");
    CHECK(test_primary_count(&p, HUB_T_REFRESH) == refresh);
}

static void test_client_credentials(void)
{
    test_req_t *r = token(basic("svc", svc_secret), "grant_type=client_credentials");
    json_t *doc = test_req_json(r);

    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(strcmp(test_json_str(doc, "scope"), "api read") == 0 && strlen(test_json_str(doc, "access_token")) > 100);
    CHECK(json_integer_value(json_object_get(doc, "expires_in")) == 600 && json_object_get(doc, "refresh_token") == NULL);
    CHECK(strcmp(test_req_resp_header(r, "cache-control", 0) ?: "", "no-store") == 0);
    json_decref(doc);
    test_req_free(r);
    /* narrowed, de-duplicated */
    r = token(basic("svc", svc_secret), "grant_type=client_credentials&scope=read%20read%20%20");
    doc = test_req_json(r);
    CHECK(test_req_status(r) == 200 && strcmp(test_json_str(doc, "scope"), "read") == 0);
    json_decref(doc);
    test_req_free(r);
    static const char *const scopes[] = {"admin", "read%20admin", "%20", "re%22ad", "openid"};
    char body[128];
    for (size_t i = 0; i != sizeof(scopes) / sizeof(scopes[0]); ++i) {
        snprintf(body, sizeof(body), "grant_type=client_credentials&scope=%s", scopes[i]);
        expect_error(token(basic("svc", svc_secret), body), 400, "invalid_scope", "scope exceeds the client's scopes");
    }
    expect_error(token(basic("web", web_secret), "grant_type=client_credentials"), 400, "unauthorized_client",
                 "client is not registered for client_credentials");
}

static void test_authorization_code(void)
{
    char code[64], body[512];
    size_t refresh = test_primary_count(&p, HUB_T_REFRESH);

    get_code("web", WEB_CB, NULL, code);
    expect_error(token(basic("web", web_secret), "grant_type=authorization_code"), 400, "invalid_request", "code is required");
    expect_error(token(basic("web", web_secret), "grant_type=authorization_code&code=nope&redirect_uri=" WEB_CB), 400,
                 "invalid_grant", "unknown or expired code");
    /* refused without burning the code: another redirect URI, none, another client */
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=https://app.example/other", code);
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant",
                 "redirect_uri differs from the authorization request");
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s", code);
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant",
                 "redirect_uri differs from the authorization request");
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB "&client_id=post&client_secret=%s",
             code, post_secret);
    expect_error(token(NULL, body), 400, "invalid_grant", "code was issued to another client");
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB "&code_verifier=" VERIFIER, code);
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant", "code was issued without a PKCE challenge");
    CHECK(test_primary_count(&p, HUB_T_REFRESH) == refresh);
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB, code);
    test_req_t *r = token(basic("web", web_secret), body);
    json_t *doc = test_req_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    CHECK(strcmp(test_json_str(doc, "scope"), "openid profile") == 0 && strlen(test_json_str(doc, "refresh_token")) == 43);
    CHECK(strlen(test_json_str(doc, "id_token")) > 100 && strlen(test_json_str(doc, "access_token")) > 100);
    json_decref(doc);
    test_req_free(r);
    CHECK(test_primary_count(&p, HUB_T_REFRESH) == refresh + 1);
    /* a code serves once */
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant", "code already used");
}

static void test_pkce(void)
{
    uint8_t md[HUB_SHA256_LEN];
    char challenge[64], extra[128], code[64], body[512];

    hub_sha256(md, VERIFIER, strlen(VERIFIER));
    hub_b64url_encode(challenge, md, sizeof(md));
    snprintf(extra, sizeof(extra), "&code_challenge=%s&code_challenge_method=S256", challenge);
    get_code("spa", SPA_CB, extra, code);
    static const char *const verifiers[] = {"", "short", VERIFIER "x", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
                                            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX%2B"};
    for (size_t i = 0; i != sizeof(verifiers) / sizeof(verifiers[0]); ++i) {
        snprintf(body, sizeof(body), "grant_type=authorization_code&client_id=spa&code=%s&redirect_uri=" SPA_CB "&code_verifier=%s",
                 code, verifiers[i]);
        expect_error(token(NULL, body), 400, "invalid_grant", "code_verifier does not match the code_challenge");
    }
    snprintf(body, sizeof(body), "grant_type=authorization_code&client_id=spa&code=%s&redirect_uri=" SPA_CB, code);
    expect_error(token(NULL, body), 400, "invalid_grant", "code_verifier does not match the code_challenge");
    snprintf(body, sizeof(body),
             "grant_type=authorization_code&client_id=spa&code=%s&redirect_uri=" SPA_CB "&code_verifier=" VERIFIER, code);
    test_req_t *r = token(NULL, body);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
}

static void test_refresh(void)
{
    char code[64], body[512], first[64], second[64];
    test_req_t *r;
    json_t *doc;

    get_code("web", WEB_CB, NULL, code);
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB, code);
    r = token(basic("web", web_secret), body);
    doc = test_req_json(r);
    snprintf(first, sizeof(first), "%s", test_json_str(doc, "refresh_token"));
    json_decref(doc);
    test_req_free(r);
    expect_error(token(basic("web", web_secret), "grant_type=refresh_token"), 400, "invalid_request", "refresh_token is required");
    expect_error(token(basic("web", web_secret), "grant_type=refresh_token&refresh_token=nope"), 400, "invalid_grant",
                 "unknown or expired refresh token");
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s&scope=openid%%20email", first);
    expect_error(token(basic("web", web_secret), body), 400, "invalid_scope", "scope exceeds the scope originally granted");
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s&client_id=post&client_secret=%s", first, post_secret);
    expect_error(token(NULL, body), 400, "invalid_grant", "refresh token was issued to another client");
    /* rotation: the new token works, narrowed to openid for this answer */
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s&scope=openid", first);
    r = token(basic("web", web_secret), body);
    doc = test_req_json(r);
    CHECK(test_req_status(r) == 200 && strcmp(test_json_str(doc, "scope"), "openid") == 0);
    snprintf(second, sizeof(second), "%s", test_json_str(doc, "refresh_token"));
    CHECK(strlen(second) == 43 && strcmp(second, first) != 0);
    json_decref(doc);
    test_req_free(r);
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", second);
    r = token(basic("web", web_secret), body);
    CHECK(test_req_status(r) == 200);
    test_req_free(r);
    /* the first token, two rotations back: a reuse, refused, and the family is revoked */
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", first);
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant", NULL);
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=x&client_id=post&client_secret=%s", post_secret);
    expect_error(token(NULL, body), 400, "invalid_grant", "unknown or expired refresh token");
    expect_error(token(basic("svc", svc_secret), "grant_type=refresh_token&refresh_token=x"), 400, "unauthorized_client",
                 "client is not registered for refresh_token");
}

/* ---- a client that leaves while its write waits ---- */

/* A token request whose client goes away while it is parked (the writer cannot start its batch yet). */
static void token_abandoned(const char *body)
{
    test_req_t *r = test_req_new(&p.loop, "POST", "/oauth2/token");

    test_req_header(r, "authorization", basic("web", web_secret));
    test_req_body(r, "application/x-www-form-urlencoded", body);
    CHECK(test_req_run(r, 50) == 0 && !test_req_done(r)); /* parked on the writer */
    test_req_free(r);
}

/* The code exchange and the refresh grant commit although their clients left; their answers go nowhere. */
static void test_client_left(void)
{
    char code[64], body[512], refresh_token[64];
    size_t refresh = test_primary_count(&p, HUB_T_REFRESH);

    get_code("web", WEB_CB, NULL, code);
    test_primary_hold_writes(&p);
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB, code);
    token_abandoned(body);
    test_primary_release_writes(&p);
    /* committed: the code is used (a later request on the same loop runs after the abandoned one's completion) */
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant", "code already used");
    CHECK(test_primary_count(&p, HUB_T_REFRESH) == refresh + 1);

    /* a refresh chain whose next rotation's client left */
    get_code("web", WEB_CB, NULL, code);
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB, code);
    test_req_t *r = token(basic("web", web_secret), body);
    json_t *doc = test_req_json(r);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    snprintf(refresh_token, sizeof(refresh_token), "%s", test_json_str(doc, "refresh_token"));
    json_decref(doc);
    test_req_free(r);
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", refresh_token);
    test_primary_hold_writes(&p);
    token_abandoned(body);
    test_primary_release_writes(&p);
    /* the abandoned rotation committed: this is the one retry of the grace period, the next one a reuse */
    r = token(basic("web", web_secret), body);
    CHECK(test_req_done(r) && test_req_status(r) == 200);
    test_req_free(r);
    expect_error(token(basic("web", web_secret), body), 400, "invalid_grant", NULL);
}

/* 1 when token is active by introspection (the client web's own); waits up to 10 s for it to become inactive when
 * until_inactive is set, as a revocation written by a request whose client left lands a moment later. */
static int refresh_active(const char *refresh_token, int until_inactive)
{
    char body[256];
    int active = 0;

    snprintf(body, sizeof(body), "token=%s", refresh_token);
    for (int i = 0; i != 1000; ++i) {
        test_req_t *r = test_primary_request(&p, "POST", "/oauth2/introspect", NULL, basic("web", web_secret), NULL, body);
        json_t *doc = test_req_json(r);
        active = json_is_true(json_object_get(doc, "active"));
        json_decref(doc);
        test_req_free(r);
        if (!active || !until_inactive)
            break;
        test_loop_run(&p.loop, 10);
    }
    return active;
}

/* A token request whose client goes away while its client authentication's read waits inside its transaction on the
 * store's readers. A client write first (any client's) makes the cached client a miss, so that the authentication
 * reads (a hit is answered from memory, tests/idp/token_memory.c). */
static void token_left_reading(const char *auth, const char *body)
{
    test_req_t *r = test_req_new(&p.loop, "POST", "/oauth2/token");

    test_primary_client(&p, "bump", "client_credentials", "client_secret_basic", NULL, NULL, 0, NULL);
    test_req_header(r, "authorization", auth);
    test_req_body(r, "application/x-www-form-urlencoded", body);
    test_store_hold_reads();
    CHECK(test_req_run(r, 0) == 0 && test_store_wait_held(1, 10000));
    test_req_free(r);
    test_store_hook_off();
    test_loop_run(&p.loop, 20); /* the read's completion finds no request */
}

/* With the store's readers: a client that leaves during its authentication's read has nothing written for it (its
 * code is still good), except the revocation a refused request presenting a rotated refresh token owes (SPEC §4),
 * written though its client left. */
static void test_client_left_reading(void)
{
    char code[64], body[512], first[64], second[64];
    json_t *doc;

    if (p.loop.thr.read_port == NULL)
        return; /* read in place: a request cannot leave during its read */
    get_code("web", WEB_CB, NULL, code);
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=" WEB_CB, code);
    token_left_reading(basic("web", web_secret), body);
    CHECK((doc = test_primary_grant(&p, basic("web", web_secret), body)) != NULL); /* not redeemed by the one that left */
    snprintf(first, sizeof(first), "%s", test_json_str(doc, "refresh_token"));
    json_decref(doc);
    snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", first);
    CHECK((doc = test_primary_grant(&p, basic("web", web_secret), body)) != NULL);
    snprintf(second, sizeof(second), "%s", test_json_str(doc, "refresh_token"));
    json_decref(doc);
    CHECK(refresh_active(second, 0));
    token_left_reading(basic("web", "not-the-secret"), body); /* the rotated first one, with a wrong secret */
    CHECK(!refresh_active(second, 1));
}

/* With the writer's queue full, a grant that writes is refused at once: 503 temporarily_unavailable with Retry-After;
 * the parked ones are all answered once the writer goes on. With the store's readers, a request's write is queued once
 * its authentication's read has come back to the loop, which runs a moment after each request. */
static void test_writer_busy(void)
{
    enum { MAX_TRIES = 8192 };
    static test_req_t *rs[MAX_TRIES];
    static char refused[MAX_TRIES];
    const char *body = "grant_type=authorization_code&code=nope&redirect_uri=" WEB_CB;
    size_t n = 0, busy = 0, answered = 0, i;

    test_primary_hold_writes(&p);
    while (n != MAX_TRIES && busy == 0) {
        rs[n] = test_req_new(&p.loop, "POST", "/oauth2/token");
        test_req_header(rs[n], "authorization", basic("web", web_secret));
        test_req_body(rs[n], "application/x-www-form-urlencoded", body);
        test_req_run(rs[n++], 0);
        if (p.loop.thr.read_port != NULL)
            test_loop_run(&p.loop, 1);
        for (i = 0; i != n; ++i)
            busy += test_req_done(rs[i]);
    }
    CHECK(busy != 0 && n > busy + 1); /* the queue has a bound, and it is not 0 */
    for (i = 0; i != n; ++i) {
        if (!(refused[i] = test_req_done(rs[i])))
            continue;
        CHECK(test_req_status(rs[i]) == 503 && strcmp(test_req_resp_header(rs[i], "retry-after", 0) ?: "", "1") == 0);
        CHECK(strstr(test_req_text(rs[i]), "temporarily_unavailable") != NULL);
    }
    test_primary_release_writes(&p);
    for (i = 0; i != n; ++i) {
        answered += test_req_wait(rs[i], 20000) && test_req_status(rs[i]) == (refused[i] ? 503 : 400);
        test_req_free(rs[i]);
    }
    CHECK(answered == n);
}

int main(void)
{
    char *sub;

    test_primary_start(&p, "idp-token", NULL);
    sub = test_primary_user(&p, "alice", "alice-password", NULL);
    test_primary_client(&p, "web", "authorization_code", "client_secret_basic", WEB_CB, NULL, 1, web_secret);
    test_primary_client(&p, "post", "authorization_code", "client_secret_post", WEB_CB, NULL, 1, post_secret);
    test_primary_client(&p, "spa", "authorization_code", "none", SPA_CB, NULL, 1, NULL);
    test_primary_client(&p, "svc", "client_credentials", "client_secret_basic", NULL, "api read", 0, svc_secret);
    test_primary_client(&p, "off", "client_credentials", "client_secret_basic", NULL, "api", 0, NULL);
    CHECK(test_primary_disable_client(&p, "off") == 0);
    CHECK(test_primary_sign_in(&p, "alice", "alice-password", session, sizeof(session)) == 0);
    test_methods_and_paths();
    test_bad_forms();
    test_client_authentication();
    test_client_credentials();
    test_authorization_code();
    test_pkce();
    test_refresh();
    test_client_left();
    test_client_left_reading();
    test_writer_busy();
    test_primary_stop(&p);
    free(sub);
    return check_report("idp/token");
}
