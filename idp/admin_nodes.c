/* The admin console's Nodes and Signing Keys (SPEC §11). Nodes: the registered secondaries with Revoke (its client
 * disabled, its tokens revoked: idp_node_revoke, as hubctl node revoke), and a one-time join token shown once. Keys: the
 * signing keys with their states, rotate, retire and revoke through idp/keys.h as hubctl keys does; those write key
 * files and may generate a key, so they run on the worker pool, and the running keyring picks them up through
 * gen:keys (a revocation is also told to every node). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/jws.h"
#include "hub/log.h"
#include "hub/util.h"
#include "idp/admin_nodes.h"
#include "idp/join_token.h"
#include "idp/keys.h"
#include "idp/node.h"

#define PATH_NODES "/admin/nodes"
#define PATH_JOIN "/admin/nodes/join-token"
#define PATH_REVOKE "/admin/nodes/revoke"
#define PATH_KEYS "/admin/keys"
#define PATH_ROTATE "/admin/keys/rotate"
#define PATH_RETIRE "/admin/keys/retire"
#define PATH_KEY_REVOKE "/admin/keys/revoke"
#define MAX_ID 256
#define MAX_NODES 1000 /* rows listed; a hub with more is administered with hubctl node list */

enum { J_NAME = 0, J_TTL, J__COUNT };
static const idp_form_field_t join_fields[J__COUNT] = {
    [J_NAME] = {"name", "Node name", IDP_FIELD_NODE_NAME},
    [J_TTL] = {"ttl", "Valid for", IDP_FIELD_JOIN_TTL},
};

/* ---- nodes ---- */

/* The nodes, read with the gate (their page, and a refused join token's): copies of at most MAX_NODES. */
typedef struct {
    idp_node_t *v;
    size_t n;
} nodes_t;

static int node_copy(void *arg, const idp_node_t *n)
{
    nodes_t *l = arg;

    if (l->n == MAX_NODES)
        return 1;
    l->v[l->n++] = (idp_node_t){hub_strdup(n->id), n->name != NULL ? hub_strdup(n->name) : NULL,
                                n->public_url != NULL ? hub_strdup(n->public_url) : NULL, n->registered_at, n->revoked};
    return 0;
}

static int nodes_read(hub_txn_t *txn, idp_creq_t *c)
{
    nodes_t *l = c->data;
    int ret;

    l->v = hub_xcalloc(MAX_NODES, sizeof(*l->v));
    return (ret = idp_node_each(txn, node_copy, l)) == 1 ? 0 : ret;
}

static void nodes_dispose(void *data)
{
    nodes_t *l = data;

    for (size_t i = 0; i != l->n; ++i) {
        free(l->v[i].id);
        free(l->v[i].name);
        free(l->v[i].public_url);
    }
    free(l->v);
}

static void node_row(idp_creq_t *c, hub_page_t *p, const idp_node_t *n)
{
    hub_page_raw(p, "<tr><td>");
    hub_page_text(p, n->name != NULL ? n->name : "-");
    hub_page_raw(p, "</td><td><code>");
    hub_page_text(p, n->id);
    hub_page_raw(p, "</code></td><td>");
    hub_page_text(p, n->public_url != NULL ? n->public_url : "-");
    hub_page_raw(p, "</td><td>");
    idp_console_time(p, n->registered_at);
    hub_page_raw(p, n->revoked ? "</td><td><span class=\"badge off\">revoked</span></td><td>"
                               : "</td><td><span class=\"badge\">active</span></td><td>");
    if (!n->revoked)
        idp_console_button(c, p, PATH_REVOKE, "id", n->id, "Revoke", "danger");
    hub_page_raw(p, "</td></tr>\n");
}

static void join_form(idp_creq_t *c, hub_page_t *p, const char **v, const idp_invalid_t *inv)
{
    hub_page_raw(p, "<section class=\"card\"><h2>Join token</h2>\n<p>A secondary registers itself with a one-time join token "
                    "(its <code>secondary.join_token_file</code>, or <code>HUB_JOIN_TOKEN</code>).</p>\n");
    idp_console_form(c, p, PATH_JOIN);
    idp_console_input(p, &join_fields[J_NAME], IDP_INPUT_TEXT, v != NULL ? v[J_NAME] : NULL,
                      "Optional: the node.name of the secondary that will use it.", inv, "maxlength=\"256\" autocomplete=\"off\"");
    idp_console_input(p, &join_fields[J_TTL], IDP_INPUT_TEXT, v != NULL && v[J_TTL] != NULL ? v[J_TTL] : "1h",
                      "A duration like 30m, 1h or 7d (at most 365d).", inv, "required maxlength=\"16\"");
    hub_page_raw(p, "<div class=\"actions\"><button type=\"submit\">Make a join token</button></div></form></section>\n");
}

static void nodes_page(idp_creq_t *c, int status, const char **v, const idp_invalid_t *inv)
{
    const nodes_t *l = c->data;
    hub_page_t p;

    idp_console_begin(c, &p, "Nodes", PATH_NODES);
    if (inv != NULL)
        idp_console_problem(&p, inv, join_fields, J__COUNT);
    hub_page_raw(&p,
                 "<div class=\"table-wrap\"><table id=\"nodes\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">ID "
                 "(client ID)</th><th scope=\"col\">Public URL</th><th scope=\"col\">Registered</th><th scope=\"col\">State</th>"
                 "<th scope=\"col\"><span class=\"skip\">Action</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i != l->n; ++i)
        node_row(c, &p, &l->v[i]);
    hub_page_raw(&p, "</tbody></table></div>\n");
    if (l->n == 0)
        hub_page_raw(&p, "<p id=\"no-nodes\">No secondary has registered yet.</p>\n");
    join_form(c, &p, v, inv);
    idp_console_end(c, &p, status);
}

static void on_nodes(idp_creq_t *c)
{
    nodes_page(c, 200, NULL, NULL);
}

/* A join token: the form's values (c's memory) and the token made, shown once. */
typedef struct {
    const char *v[J__COUNT];
    const char *name;
    uint64_t ttl;
    char token[44];
} join_t;

static void join_dispose(void *ptr)
{
    OPENSSL_cleanse(((join_t *)ptr)->token, sizeof(((join_t *)ptr)->token));
}

static int join_txn(hub_txn_t *txn, void *arg, char *target)
{
    join_t *j = arg;
    snprintf(target, IDP_AUDIT_TEXT, "join token for %s, valid %llus", j->name != NULL ? j->name : "any node",
             (unsigned long long)j->ttl);
    return idp_join_token_create(txn, j->name, j->ttl, j->token);
}

static void joined(idp_creq_t *c, void *arg, int ret)
{
    join_t *j = arg;
    hub_page_t p;

    if (ret != 0) {
        idp_console_failed(c, ret, "Not made", "The join token could not be made right now. Please try again.");
        return;
    }
    idp_console_begin(c, &p, "Join token", PATH_NODES);
    idp_console_secret(&p, "Join token", j->token);
    hub_page_raw(&p, "<p>It registers one node");
    if (j->name != NULL) {
        hub_page_raw(&p, " named <strong>");
        hub_page_text(&p, j->name);
        hub_page_raw(&p, "</strong>");
    }
    hub_page_raw(&p, " and expires ");
    idp_console_time(&p, hub_now() + j->ttl);
    hub_page_raw(&p, ".</p>\n<div class=\"actions\"><a class=\"button secondary\" href=\"" PATH_NODES "\">Nodes</a></div>\n");
    idp_console_end(c, &p, 200);
}

static void on_join(idp_creq_t *c)
{
    join_t *j = idp_console_alloc(c, sizeof(*j), join_dispose);
    idp_invalid_t inv;
    int bad = idp_console_read(c, join_fields, J__COUNT, 1u << J_TTL, j->v, &inv);

    if (!bad) {
        j->name = j->v[J_NAME] != NULL && j->v[J_NAME][0] != '\0' ? j->v[J_NAME] : NULL;
        bad = idp_join_token_name_check(j->name, &inv) != 0 || idp_join_token_ttl_parse(j->v[J_TTL], &j->ttl, &inv) != 0;
    }
    if (bad)
        nodes_page(c, 400, j->v, &inv);
    else
        idp_console_change(c, "node.join-token", join_txn, j, joined);
}

static int node_revoke_txn(hub_txn_t *txn, void *arg, char *target)
{
    snprintf(target, IDP_AUDIT_TEXT, "node %s", (const char *)arg);
    return idp_node_revoke(txn, arg);
}

static void node_revoked(idp_creq_t *c, void *arg, int ret)
{
    if (ret == HUB_E_NOTFOUND)
        idp_console_message(c, 404, "No such node", "There is no node with that ID.");
    else if (ret != 0)
        idp_console_failed(c, ret, "Not revoked", "The node could not be revoked right now. Please try again.");
    else
        idp_console_done(c, PATH_NODES, "node-revoked");
}

static void on_node_revoke(idp_creq_t *c)
{
    const char *id = idp_console_arg(c, "id"); /* the form's: c's memory */
    char text[MAX_ID + 160];

    if (id == NULL || id[0] == '\0' || strlen(id) > MAX_ID) {
        idp_console_message(c, 400, "Bad request", "The form does not name one node. Nothing was changed.");
        return;
    }
    snprintf(text, sizeof(text),
             "Revoke the node %s? Its client is disabled and its tokens are revoked: its users are signed out "
             "of it.",
             id);
    if (idp_console_confirmed(c, "Revoke node", text, PATH_REVOKE, "id", id, "Revoke node", PATH_NODES))
        idp_console_change(c, "node.revoke", node_revoke_txn, (void *)id, node_revoked);
}

/* ---- keys ---- */

/* The keys with their states, read with the gate. */
typedef struct {
    idp_key_info_t info;
    char kid[64];
} key_row_t;

typedef struct {
    key_row_t *v;
    size_t n;
} keys_t;

static int key_copy(void *arg, const idp_key_info_t *k)
{
    keys_t *l = arg;
    key_row_t *r;

    l->v = hub_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    r = &l->v[l->n++];
    r->info = *k;
    r->info.kid = NULL; /* r->kid: the array moves as it grows */
    snprintf(r->kid, sizeof(r->kid), "%s", k->kid);
    return 0;
}

static int keys_read(hub_txn_t *txn, idp_creq_t *c)
{
    return idp_keys_list_in(txn, c->idp->cfg, key_copy, c->data);
}

static void keys_dispose(void *data)
{
    free(((keys_t *)data)->v);
}

static void key_row(idp_creq_t *c, hub_page_t *p, const idp_key_info_t *k)
{
    int can_retire = k->state == IDP_KEY_NEXT || k->state == IDP_KEY_ACTIVE;

    hub_page_raw(p, "<tr><td><code>");
    hub_page_text(p, k->kid);
    hub_page_printf(p, "</code></td><td>%s</td><td><span class=\"badge%s\">%s</span></td><td>", hub_alg_name(k->alg),
                    k->state == IDP_KEY_REVOKED ? " off" : "", idp_key_state_name(k->state));
    if (k->activate_at != 0)
        idp_console_time(p, k->activate_at);
    else
        hub_page_raw(p, "once served");
    hub_page_raw(p, "</td><td>");
    idp_console_time(p, k->publish_until);
    hub_page_raw(p, "</td><td>");
    if (can_retire)
        idp_console_button(c, p, PATH_RETIRE, "kid", k->kid, "Retire", "secondary");
    if (k->state != IDP_KEY_REVOKED && k->state != IDP_KEY_RETIRED)
        idp_console_button(c, p, PATH_KEY_REVOKE, "kid", k->kid, "Revoke", "danger");
    hub_page_raw(p, "</td></tr>\n");
}

static void on_keys(idp_creq_t *c)
{
    const keys_t *l = c->data;
    hub_page_t p;

    idp_console_begin(c, &p, "Signing Keys", PATH_KEYS);
    hub_page_raw(&p, "<p>A next key is published before it signs; a retired key stays published until the last token it "
                     "signed has expired. Revoke is the emergency removal of a compromised key: it leaves the JWKS at once, "
                     "a new key signs at once, and every node is told.</p>\n<div class=\"actions\">");
    idp_console_button(c, &p, PATH_ROTATE, NULL, NULL, "Rotate: publish a next key", NULL);
    hub_page_raw(&p,
                 "</div>\n<div class=\"table-wrap\"><table id=\"keys\"><thead><tr><th scope=\"col\">Key ID</th><th scope=\"col\">"
                 "Algorithm</th><th scope=\"col\">State</th><th scope=\"col\">Signs from</th><th scope=\"col\">Published "
                 "until</th><th scope=\"col\"><span class=\"skip\">Actions</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i != l->n; ++i) {
        idp_key_info_t k = l->v[i].info;
        k.kid = l->v[i].kid;
        key_row(c, &p, &k);
    }
    hub_page_raw(&p, "</tbody></table></div>\n");
    idp_console_end(c, &p, 200);
}

/* A key operation on the worker pool (it may generate a key and writes key files), audited once it is done. */
typedef enum { K_ROTATE, K_RETIRE, K_REVOKE } key_op_t;

typedef struct st_key_job_t {
    idp_t *idp;
    key_op_t op;
    char kid[64]; /* the key named (retire, revoke) or made (rotate) */
    idp_revoke_result_t revoked;
    int ret;
    idp_creq_t *c;
    int allowed; /* idp_console_allowed's answer, read on the worker before the command */
} key_job_t;

static void key_work(void *arg)
{
    key_job_t *j = arg;
    const hub_config_t *cfg = j->idp->cfg;

    if (j->op == K_ROTATE)
        j->ret = idp_keys_rotate(j->idp->store, cfg, idp_keyring_vault(j->idp->keyring), j->kid);
    else if (j->op == K_RETIRE)
        j->ret = idp_keys_retire(j->idp->store, cfg, j->kid);
    else
        j->ret = idp_keys_revoke(j->idp->store, cfg, idp_keyring_vault(j->idp->keyring), j->kid, &j->revoked);
}

static int key_audit_txn(hub_txn_t *txn, void *arg, char *target)
{
    key_job_t *j = arg;
    snprintf(target, IDP_AUDIT_TEXT, "key %s%s%s", j->kid, j->revoked.signer[0] != '\0' ? ", signing: " : "", j->revoked.signer);
    return 0;
}

/* The command writes through transactions of its own: the gate's answer is read again here first, so that a session
 * ended or a role lost while the job waited stops it, and its audit entry follows here too, written whether or not
 * the client is still there to read the answer. */
static void key_checked_work(void *arg)
{
    static const char *const actions[] = {"keys.rotate", "keys.retire", "keys.revoke"};
    key_job_t *j = arg;
    hub_txn_t *txn = NULL;
    int ret;

    if ((j->allowed = hub_store_read_begin(j->idp->store, &txn)) == 0) {
        j->allowed = idp_console_allowed(txn, j->c);
        hub_store_read_end(txn);
    }
    if (j->allowed != 0)
        return;
    key_work(j);
    if (j->ret == 0 && (ret = idp_console_audit_here(j->c, actions[j->op], key_audit_txn, j)) != 0)
        hub_log_error("console: the audit entry of %s %s was not written: %s", actions[j->op], j->kid, hub_strerror(ret));
}

static void key_done(idp_creq_t *c, void *arg)
{
    static const char *const flashes[] = {"key-rotated", "key-retired", "key-revoked"};
    key_job_t *j = arg;
    idp_invalid_t inv;

    if (j->allowed == HUB_E_NOTFOUND || j->allowed == HUB_E_DENIED)
        idp_console_refuse(c, j->allowed);
    else if (j->allowed != 0)
        idp_console_failed(c, j->allowed, "Not done", "The keys could not be changed right now. Please try again.");
    else if (j->op == K_ROTATE && j->ret == HUB_E_EXISTS)
        idp_console_message(c, 409, "Not rotated", "A next key is already published; it activates on schedule.");
    else if (j->op == K_RETIRE && idp_keys_retire_refusal(j->ret, j->kid, &inv))
        idp_console_message(c, j->ret == HUB_E_NOTFOUND ? 404 : 409, "Not retired", inv.text);
    else if (j->ret == HUB_E_NOTFOUND)
        idp_console_message(c, 404, "No such key", "There is no key with that ID.");
    else if (j->ret != 0)
        idp_console_failed(c, j->ret, "Not done", "The keys could not be changed right now. Please try again.");
    else
        idp_console_done(c, PATH_KEYS, flashes[j->op]);
}

static void key_job(idp_creq_t *c, key_op_t op, const char *kid)
{
    key_job_t *j = idp_console_alloc(c, sizeof(*j), NULL);

    j->idp = c->idp;
    j->op = op;
    j->c = c;
    if (kid != NULL)
        snprintf(j->kid, sizeof(j->kid), "%s", kid);
    idp_console_job(c, key_checked_work, key_done, j);
}

static void on_rotate(idp_creq_t *c)
{
    key_job(c, K_ROTATE, NULL);
}

/* The kid of a retire or revoke form, or NULL after a 400 page. */
static const char *kid_arg(idp_creq_t *c)
{
    const char *kid = idp_console_arg(c, "kid");

    if (kid == NULL || kid[0] == '\0' || strlen(kid) >= sizeof(((key_job_t *)NULL)->kid)) {
        idp_console_message(c, 400, "Bad request", "The form does not name one key. Nothing was changed.");
        return NULL;
    }
    return kid;
}

static void on_retire(idp_creq_t *c)
{
    const char *kid = kid_arg(c);
    if (kid != NULL)
        key_job(c, K_RETIRE, kid);
}

static void on_key_revoke(idp_creq_t *c)
{
    const char *kid = kid_arg(c);
    char text[160];

    if (kid == NULL)
        return;
    snprintf(text, sizeof(text), "Revoke the key %s? Every token it signed is refused from now on.", kid);
    if (idp_console_confirmed(c, "Revoke key", text, PATH_KEY_REVOKE, "kid", kid, "Revoke key", PATH_KEYS))
        key_job(c, K_REVOKE, kid);
}

/* A path before any prefix of it (idp_console_add). */
static const idp_console_page_t pages[] = {
    {PATH_JOIN, 1, NULL, on_join, nodes_read, sizeof(nodes_t), nodes_dispose},
    {PATH_REVOKE, 1, NULL, on_node_revoke},
    {PATH_NODES, 1, on_nodes, NULL, nodes_read, sizeof(nodes_t), nodes_dispose},
    {PATH_ROTATE, 1, NULL, on_rotate},
    {PATH_RETIRE, 1, NULL, on_retire},
    {PATH_KEY_REVOKE, 1, NULL, on_key_revoke},
    {PATH_KEYS, 1, on_keys, NULL, keys_read, sizeof(keys_t), keys_dispose},
};

void idp_admin_nodes_register(idp_t *idp)
{
    idp_console_add(idp, pages, sizeof(pages) / sizeof(pages[0]));
}
