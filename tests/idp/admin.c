/* Tests idp/admin.c and idp/admin_nodes.c in process: the OAuth Provider Settings form (Force/Auto, refusals) and that
 * switching it changes whether the consent page is shown; the audit log page (newest first, escaped, no secrets);
 * nodes (a join token shown once that registers, refusals of a name or lifetime, revoke disabling the node's client);
 * keys (rotate, rotate again refused, retire and revoke with hubctl's refusals, run on the worker pool). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "idp/client.h"
#include "idp/join_token.h"
#include "idp/keys.h"
#include "idp/node.h"
#include "idp/role.h"
#include "tests/check.h"
#include "tests/support/console.h"

#define PASSWORD "correct horse battery"
#define ASK "client_id=ask&response_type=code&redirect_uri=https%3A%2F%2Fask.example%2Fcb&scope=openid"

static test_primary_t p;
static test_browser_t admin;

static int post(const char *path, const char *fields, char *text, size_t cap)
{
    test_req_t *r = test_console_post(&p, &admin, path, fields, 1);
    int status = test_req_done(r) ? test_req_status(r) : -1;
    if (text != NULL)
        snprintf(text, cap, "%s", test_req_text(r));
    test_req_free(r);
    return status;
}

/* GET authorize for the client "ask" (no skip_authorization): 200 (the consent page, its token into token) or 302. */
static int authorize(char token[128])
{
    test_req_t *r = test_primary_request(&p, "GET", "/oauth2/authorize?" ASK, admin.cookie, NULL, NULL, NULL);
    int status = test_req_status(r);
    token[0] = '\0';
    if (status == 200)
        CHECK(test_form_value(test_req_text(r), "csrf_token", token, 128) == 0);
    test_req_free(r);
    return status;
}

static void test_settings(void)
{
    static const char *const bad[] = {"skip_authorization=sometimes", "skip_authorization=", "skip_authorization=Auto",
                                      "skip_authorization=auto&skip_authorization=auto", "other=1"};
    static char text[65536];
    char token[128], body[512];
    test_req_t *r;

    r = test_console_get(&p, &admin, "/admin/settings");
    CHECK(strstr(test_req_text(r), "<option value=\"force\" selected>Force</option>") != NULL);
    test_req_free(r);
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        CHECK(post("/admin/settings", bad[i], text, sizeof(text)) == 400);
        CHECK(strstr(text, "id=\"m-skip_authorization\"") != NULL && strstr(text, "aria-invalid=\"true\"") != NULL);
    }
    /* Force: the consent page every time, even once allowed */
    CHECK(authorize(token) == 200);
    snprintf(body, sizeof(body), "csrf_token=%s&%s&decision=allow", token, ASK);
    test_req_t *d = test_primary_request(&p, "POST", "/oauth2/approve", admin.cookie, NULL, NULL, body);
    CHECK(test_req_status(d) == 302 && strstr(test_req_resp_header(d, "location", 0) ?: "", "code=") != NULL);
    test_req_free(d);
    CHECK(authorize(token) == 200);
    /* Auto, switched in the form: the grant covers it, no page */
    CHECK(post("/admin/settings", "skip_authorization=auto", NULL, 0) == 303);
    CHECK(authorize(token) == 302);
    r = test_console_get(&p, &admin, "/admin/settings");
    CHECK(strstr(test_req_text(r), "<option value=\"auto\" selected>Auto</option>") != NULL);
    test_req_free(r);
    /* back to Force: asked again at once */
    CHECK(post("/admin/settings", "skip_authorization=force", NULL, 0) == 303);
    CHECK(authorize(token) == 200);
}

static void test_audit(void)
{
    static char text[131072];
    size_t audits = test_console_audits(&p);
    const char *first, *second;

    CHECK(post("/admin/roles/add", "role=%3Cb%3Ebold%3C%2Fb%3E", NULL, 0) == 303);
    CHECK(test_console_audits(&p) == audits + 1);
    test_req_t *r = test_console_get(&p, &admin, "/admin/audit");
    CHECK(test_req_status(r) == 200);
    snprintf(text, sizeof(text), "%s", test_req_text(r));
    test_req_free(r);
    CHECK(strstr(text, "<b>bold") == NULL && strstr(text, "role &lt;b&gt;bold&lt;/b&gt;") != NULL);
    /* newest first: the role before the settings */
    first = strstr(text, "<code>role.create</code>");
    second = strstr(text, "<code>settings.update</code>");
    CHECK(first != NULL && second != NULL && first < second);
    CHECK(strstr(text, "<td>admin</td>") != NULL && strstr(text, "skip_authorization=force") != NULL);
}

static int consume_txn(hub_txn_t *txn, void *arg)
{
    char *name = NULL;
    int ret = idp_join_token_consume(txn, arg, strlen(arg), &name);
    if (ret == 0)
        CHECK(name != NULL && strcmp(name, "node-1") == 0);
    free(name);
    return ret;
}

static void test_join_token(void)
{
    static char text[65536];
    char token[64] = "";
    const char *s;

    CHECK(post("/admin/nodes/join-token", "name=node-1&ttl=2h", text, sizeof(text)) == 200);
    if ((s = strstr(text, "id=\"secret\">")) != NULL)
        snprintf(token, sizeof(token), "%.*s", (int)strcspn(s + 12, "<"), s + 12);
    CHECK(strlen(token) == 43 && strstr(text, "<strong>node-1</strong>") != NULL);
    CHECK(test_primary_count(&p, HUB_T_JOIN_TOKENS) == 1);
    CHECK(post("/admin/nodes/join-token", "name=&ttl=forever", text, sizeof(text)) == 400 && strstr(text, "id=\"m-ttl\"") != NULL);
    CHECK(post("/admin/nodes/join-token", "name=&ttl=366d", text, sizeof(text)) == 400);
    CHECK(post("/admin/nodes/join-token", "name=a%0Ab&ttl=1h", text, sizeof(text)) == 400 && strstr(text, "id=\"m-name\"") != NULL);
    CHECK(post("/admin/nodes/join-token", "name=x", text, sizeof(text)) == 400); /* no ttl */
    CHECK(test_primary_count(&p, HUB_T_JOIN_TOKENS) == 1);
    /* the audit names the node, never the token */
    test_req_t *r = test_console_get(&p, &admin, "/admin/audit");
    CHECK(strstr(test_req_text(r), "join token for node-1") != NULL && strstr(test_req_text(r), token) == NULL);
    test_req_free(r);
    /* the token registers one node, named as asked */
    CHECK(hub_store_write(p.store, consume_txn, token) == 0);
    CHECK(hub_store_write(p.store, consume_txn, token) == HUB_E_NOTFOUND);
}

static int node_txn(hub_txn_t *txn, void *arg)
{
    idp_client_t *c = arg;
    idp_node_t node = {c->client_id, "<i>sec1</i>", "http://127.0.0.1:9", hub_now(), 0};
    int ret = idp_client_put(txn, c);
    return ret != 0 ? ret : idp_node_put(txn, &node);
}

static void test_nodes(void)
{
    idp_client_t *c = calloc(1, sizeof(*c));
    static char text[65536];
    char fields[128];
    hub_txn_t *txn = NULL;
    idp_node_t *n = NULL;

    c->client_id = strdup("node-client");
    c->app_name = strdup("sec1");
    c->enabled = 1;
    c->node_id = strdup("node-client");
    idp_strv_split(&c->scopes, "openid", 1);
    idp_strv_split(&c->redirect_uris, "http://127.0.0.1:9/auth/callback", 1);
    idp_client_new_secret(c, (char[44]){0});
    CHECK(hub_store_write(p.store, node_txn, c) == 0);
    idp_client_free(c);
    test_req_t *r = test_console_get(&p, &admin, "/admin/nodes");
    CHECK(strstr(test_req_text(r), "&lt;i&gt;sec1&lt;/i&gt;") != NULL && strstr(test_req_text(r), "<i>sec1") == NULL);
    test_req_free(r);
    CHECK(post("/admin/nodes/revoke", "id=node-client", text, sizeof(text)) == 200 && strstr(text, "confirm") != NULL);
    CHECK(post("/admin/nodes/revoke", "id=node-client&confirm=yes", NULL, 0) == 303);
    CHECK(hub_store_read_begin(p.store, &txn) == 0);
    CHECK(idp_node_get(txn, "node-client", &n) == 0 && n != NULL && n->revoked);
    CHECK(idp_client_get(txn, "node-client", &c) == 0 && c != NULL && !c->enabled);
    hub_store_read_end(txn);
    idp_node_free(n);
    idp_client_free(c);
    snprintf(fields, sizeof(fields), "id=nope&confirm=yes");
    CHECK(post("/admin/nodes/revoke", fields, NULL, 0) == 404);
    CHECK(post("/admin/nodes/revoke", "", NULL, 0) == 400);
}

typedef struct {
    char kid[8][64];
    idp_key_state_t state[8];
    size_t n;
} keys_t;

static int key_cb(void *arg, const idp_key_info_t *k)
{
    keys_t *l = arg;
    if (l->n < 8) {
        snprintf(l->kid[l->n], 64, "%s", k->kid);
        l->state[l->n++] = k->state;
    }
    return 0;
}

static size_t keys_in(keys_t *l, idp_key_state_t state, char kid[64])
{
    size_t n = 0;
    memset(l, 0, sizeof(*l));
    CHECK(idp_keys_list(p.store, &p.cfg, key_cb, l) == 0);
    for (size_t i = 0; i != l->n; ++i)
        if (l->state[i] == state) {
            ++n;
            if (kid != NULL)
                snprintf(kid, 64, "%s", l->kid[i]);
        }
    return n;
}

static void test_keys(void)
{
    static char text[65536];
    char next[64] = "", active[64] = "", fields[128];
    keys_t l;

    CHECK(keys_in(&l, IDP_KEY_ACTIVE, active) == 1 && keys_in(&l, IDP_KEY_NEXT, NULL) == 0);
    CHECK(post("/admin/keys/rotate", "", NULL, 0) == 303); /* on the worker pool */
    CHECK(keys_in(&l, IDP_KEY_NEXT, next) == 1);
    CHECK(post("/admin/keys/rotate", "", text, sizeof(text)) == 409 && strstr(text, "already published") != NULL);
    /* the active key cannot retire before the next one has been served for publish_ahead: hubctl's words */
    snprintf(fields, sizeof(fields), "kid=%s", active);
    CHECK(post("/admin/keys/retire", fields, text, sizeof(text)) == 409 && strstr(text, "is the active key") != NULL);
    CHECK(post("/admin/keys/retire", "kid=nope", text, sizeof(text)) == 404 && strstr(text, "no key") != NULL);
    CHECK(post("/admin/keys/retire", "", NULL, 0) == 400);
    /* revoke the next key, after a confirmation */
    snprintf(fields, sizeof(fields), "kid=%s", next);
    CHECK(post("/admin/keys/revoke", fields, text, sizeof(text)) == 200 && keys_in(&l, IDP_KEY_NEXT, NULL) == 1);
    snprintf(fields, sizeof(fields), "kid=%s&confirm=yes", next);
    CHECK(post("/admin/keys/revoke", fields, NULL, 0) == 303);
    CHECK(keys_in(&l, IDP_KEY_REVOKED, NULL) == 1 && keys_in(&l, IDP_KEY_ACTIVE, NULL) == 1);
    CHECK(post("/admin/keys/revoke", "kid=nope&confirm=yes", NULL, 0) == 404);
    test_req_t *r = test_console_get(&p, &admin, "/admin/keys");
    CHECK(strstr(test_req_text(r), next) != NULL && strstr(test_req_text(r), ">revoked</span>") != NULL);
    test_req_free(r);
}

int main(void)
{
    static const char *const manager[] = {IDP_ROLE_SYSTEM_MANAGER, NULL};

    test_primary_start(&p, "idp-admin", NULL);
    free(test_primary_user(&p, "admin", PASSWORD, manager));
    test_primary_client(&p, "ask", "authorization_code", "client_secret_basic", "https://ask.example/cb", NULL, 0, NULL);
    test_browser_sign_in(&p, &admin, "admin", PASSWORD);
    test_settings();
    test_audit();
    test_join_token();
    test_nodes();
    test_keys();
    test_primary_stop(&p);
    return check_report("idp/admin");
}
