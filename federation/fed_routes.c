/* Protected routes: the route a request is for (the same however a lenient upstream reads its path), identity from
 * session or Bearer token, role check, then h2o's reverse proxy to the upstream, carrying only the request headers the
 * node vouches for (X-Hub-*, Forwarded, X-Forwarded-*: set by the node, never by the client) and no hub cookie. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "federation/fed_identify.h"
#include "federation/fed_routes.h"
#include "hub/cookie.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/path.h"
#include "hub/resp.h"
#include "hub/url.h"
#include "hub/util.h"

#define PROXY_IO_TIMEOUT_MS 30000

/* One registered path's guard: the server's route owns it (guard_dispose, when the server is destroyed). */
typedef struct st_guard_t {
    fed_t *fed;
    const struct st_fed_routes_t *table;
    const hub_route_conf_t *route;
    size_t index;       /* of route in secondary.routes */
    int exact;          /* registered at the route's path without its trailing '/': redirects there */
    h2o_url_t upstream; /* the route's upstream, its strings the guard's own copies (none for exact) */
} guard_t;

struct st_fed_routes_t {
    char **folded; /* per route: its path as hub_path_fold reads it */
    size_t nroutes;
    char *fwd_host;        /* the authority of node.public_url: X-Forwarded-Host, Forwarded host= */
    const char *fwd_proto; /* its scheme */
};

/* Request headers an upstream takes as facts the node vouches for: who the user is, who connected, over what, to which
 * host, for which path. A client's are removed in any spelling; the node then sets its own. */
static const char *const node_header_prefixes[] = {"x-hub-", "x-forwarded-"};
static const char *const node_headers[] = {
    "forwarded",      "x-real-ip",     "x-client-ip",     "true-client-ip",  "x-original-url",
    "x-original-uri", "x-rewrite-url", "x-original-host", "front-end-https", "via"};

/* name compared with want (lower case, '-'), letters in any case and '_' for '-' (CGI reads X_Hub_Sub as X-Hub-Sub). */
static int name_matches(const h2o_iovec_t *name, const char *want, int prefix)
{
    size_t n = strlen(want), i;
    if (name->len < n || (!prefix && name->len != n))
        return 0;
    for (i = 0; i != n; ++i) {
        char c = name->base[i];
        c = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        if (c != want[i])
            return 0;
    }
    return 1;
}

static int is_node_header(const h2o_iovec_t *name)
{
    size_t i;
    for (i = 0; i != sizeof(node_header_prefixes) / sizeof(node_header_prefixes[0]); ++i)
        if (name_matches(name, node_header_prefixes[i], 1))
            return 1;
    for (i = 0; i != sizeof(node_headers) / sizeof(node_headers[0]); ++i)
        if (name_matches(name, node_headers[i], 0))
            return 1;
    return 0;
}

void fed_routes_strip_hub_headers(h2o_headers_t *headers)
{
    size_t i, o = 0;
    for (i = 0; i != headers->size; ++i)
        if (!is_node_header(headers->entries[i].name))
            headers->entries[o++] = headers->entries[i];
    headers->size = o;
}

size_t fed_routes_pick(const char *const *paths, size_t n, const char *path, size_t len)
{
    size_t i, best = n, best_len = 0;
    for (i = 0; i != n; ++i) {
        size_t plen = strlen(paths[i]), key = plen;
        while (key != 0 && paths[i][key - 1] == '/')
            --key;
        if (hub_path_under(path, len, paths[i], plen) && (best == n || key > best_len))
            best = i, best_len = key;
    }
    return best;
}

static int wants_html(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    if (i == -1)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    return h2o_strstr(v.base, v.len, H2O_STRLIT("text/html")) != SIZE_MAX;
}

static int has_role(const fed_identity_t *id, const hub_route_conf_t *route)
{
    size_t i, j;
    if (route->nroles == 0)
        return 1;
    for (i = 0; i != route->nroles; ++i)
        for (j = 0; j != id->nroles; ++j)
            if (strcmp(route->roles[i], id->roles[j]) == 0)
                return 1;
    return 0;
}

/* Why the request may not be judged by this route, or NULL: the path must be canonical (the gate refused any other
 * already; the guard does not depend on it), and read leniently (letter case, trailing dots and spaces, look-alike
 * letters, ";params"...) it must still fall under this route and no more specific one. */
static const char *route_refusal(const guard_t *g, h2o_req_t *req)
{
    size_t plen = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len, flen;
    char *folded;

    if (hub_path_check(req->input.path.base, plen, NULL) != 0)
        return "the request path is not canonical";
    folded = h2o_mem_alloc_pool(&req->pool, plen + 2);
    flen = hub_path_fold(req->input.path.base, plen, folded);
    if (fed_routes_pick((const char *const *)g->table->folded, g->table->nroutes, folded, flen) != g->index)
        return "the request path differs from another route's only in letter case, trailing dots or look-alike characters";
    return NULL;
}

/* A header value from a claim: control characters become spaces so nothing can split it. */
static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    size_t i, len;
    h2o_iovec_t v;
    if (value == NULL)
        return;
    len = strlen(value);
    v = h2o_strdup(&req->pool, value, len);
    for (i = 0; i != len; ++i)
        if ((unsigned char)v.base[i] < 0x20 || v.base[i] == 0x7f)
            v.base[i] = ' ';
    h2o_add_header_by_str(&req->pool, &req->headers, name, strlen(name), 0, NULL, v.base, v.len);
}

/* Forwarded (RFC 7239), X-Forwarded-Host and -Proto from what the node knows; h2o's proxy adds X-Forwarded-For with
 * the peer's address (the client's own is gone by now, so it is not appended to). */
static void add_forwarded(const guard_t *g, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    char addr[INET6_ADDRSTRLEN] = "unknown", buf[INET6_ADDRSTRLEN + FED_URL_MAX + 64];
    int v6 = 0;

    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) != 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
        else if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr)))
            v6 = 1;
    }
    snprintf(buf, sizeof(buf), "for=%s%s%s;host=\"%s\";proto=%s", v6 ? "\"[" : "", addr, v6 ? "]\"" : "", g->table->fwd_host,
             g->table->fwd_proto);
    add_header(req, "forwarded", buf);
    add_header(req, "x-forwarded-host", g->table->fwd_host);
    add_header(req, "x-forwarded-proto", g->table->fwd_proto);
}

/* Removes Authorization headers of the Bearer scheme: such a token was the hub's (a request that sent an invalid one
 * was refused), and an upstream holding it could replay it on this node's other routes or wherever its audience is
 * accepted, as it could the hub's cookies. Other schemes (the application's own, e.g. Basic) go on. */
static void strip_bearer(h2o_headers_t *headers)
{
    size_t i, o = 0;
    for (i = 0; i != headers->size; ++i) {
        const h2o_header_t *h = &headers->entries[i];
        size_t j = 0;
        if (h2o_lcstris(h->name->base, h->name->len, H2O_STRLIT("authorization"))) {
            while (j < h->value.len && (h->value.base[j] == ' ' || h->value.base[j] == '\t'))
                ++j;
            if (h->value.len - j >= 6 && h2o_lcstris(h->value.base + j, 6, H2O_STRLIT("bearer")) &&
                (h->value.len - j == 6 || h->value.base[j + 6] == ' ' || h->value.base[j + 6] == '\t'))
                continue;
        }
        headers->entries[o++] = *h;
    }
    headers->size = o;
}

/* What goes upstream: the node's headers instead of the client's, and none of the hub's cookies or tokens. */
static void prepare_upstream(const guard_t *g, h2o_req_t *req, const fed_identity_t *id)
{
    size_t i, len = 0;

    fed_routes_strip_hub_headers(&req->headers);
    hub_cookie_strip_hub(&req->pool, &req->headers);
    if (!g->route->pass_token)
        strip_bearer(&req->headers);
    for (i = 0; i != id->nroles; ++i)
        len += strlen(id->roles[i]) + 1;
    char *roles = h2o_mem_alloc_pool(&req->pool, len + 1);
    roles[0] = '\0';
    for (i = 0, len = 0; i != id->nroles; ++i) {
        size_t n = strlen(id->roles[i]);
        if (i != 0)
            roles[len++] = ',';
        memcpy(roles + len, id->roles[i], n);
        len += n;
        roles[len] = '\0';
    }
    add_header(req, "x-hub-sub", id->sub);
    add_header(req, "x-hub-email", id->email);
    add_header(req, "x-hub-name", id->name);
    add_header(req, "x-hub-roles", roles);
    add_forwarded(g, req);
}

/* "/p" of a route "/p/": on to "/p/" with the query (308 keeps the method and body). */
static void redirect_to_route(const guard_t *g, h2o_req_t *req)
{
    size_t plen = strlen(g->route->path), qlen = req->input.query_at != SIZE_MAX ? req->input.path.len - req->input.query_at : 0;
    char *loc = h2o_mem_alloc_pool(&req->pool, plen + qlen + 1);
    memcpy(loc, g->route->path, plen);
    memcpy(loc + plen, req->input.path.base + req->input.path.len - qlen, qlen);
    loc[plen + qlen] = '\0';
    hub_send_redirect(req, 308, loc);
}

static void send_denied(h2o_req_t *req, fed_who_t who, const char *why)
{
    if (who == FED_WHO_NONE && wants_html(req)) {
        h2o_iovec_t next = hub_url_encode(&req->pool, req->input.path.base, req->input.path.len);
        char *loc = h2o_mem_alloc_pool(&req->pool, next.len + 32);
        memcpy(loc, "/auth/login?next=", 17);
        memcpy(loc + 17, next.base, next.len + 1);
        hub_send_redirect(req, 302, loc);
    } else if (who != FED_WHO_OK) {
        fed_send_unauthorized(req, who, why);
    } else if (wants_html(req)) {
        hub_send_html_error(req, 403, "Access denied", "You are signed in, but your roles do not give access to this page.");
    } else {
        hub_send_oauth_error(req, HUB_OAUTH_ACCESS_DENIED, "none of the roles this route requires");
    }
}

/* Hands req to libh2o's reverse proxy through its public API, h2o_reprocess_request with overrides (what its own proxy
 * handler does): to the upstream's authority and path, the answer's Location rewritten back under the route's path;
 * the loop's proxy client connects (globalconf.proxy: PROXY_IO_TIMEOUT_MS, a new connection each time). */
static void proxy(guard_t *g, h2o_req_t *req)
{
    h2o_req_overrides_t *o = h2o_mem_alloc_pool(&req->pool, sizeof(*o));

    *o = (h2o_req_overrides_t){NULL};
    o->location_rewrite.match = &g->upstream;
    o->location_rewrite.path_prefix = req->pathconf->path;
    h2o_reprocess_request(req, req->method, g->upstream.scheme, g->upstream.authority,
                          h2o_build_destination(req, g->upstream.path.base, g->upstream.path.len, 0), o, 0);
}

static void on_guard_resume(h2o_req_t *req, void *data);

/* Answers req or proxies it; or parks it for a JWKS refresh (with may_wait), and on_guard_resume goes on later. */
static void guard(guard_t *g, h2o_req_t *req, int may_wait)
{
    fed_identity_t id;
    const char *why;
    fed_who_t who;

    if ((why = route_refusal(g, req)) != NULL) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, why);
        return;
    }
    who = fed_identify(g->fed, req, &id, &why, may_wait ? on_guard_resume : NULL, g);
    if (who == FED_WHO_WAIT)
        return;
    if (who != FED_WHO_OK || !has_role(&id, g->route)) {
        send_denied(req, who, why);
    } else if (g->exact) {
        redirect_to_route(g, req);
    } else {
        prepare_upstream(g, req, &id);
        proxy(g, req);
    }
}

static int on_guard(void *data, h2o_req_t *req)
{
    guard(data, req, 1);
    return 0;
}

/* The JWKS round a parked request waited for ended (or its wait timed out): check again. */
static void on_guard_resume(h2o_req_t *req, void *data)
{
    guard(data, req, 0);
}

/* The table and its shared parts: folded route paths, what Forwarded says about the node (the authority and scheme of
 * node.public_url). NULL when public_url is no URL hub/url.h reads (the configuration check refused any other). */
static struct st_fed_routes_t *table_create(const hub_config_t *cfg)
{
    struct st_fed_routes_t *t;
    const char *url = cfg->node.public_url, *why = NULL, *auth;
    size_t i, n = cfg->secondary.nroutes;
    hub_url_t u;

    if (hub_url_parse(url, &u, &why) != 0) {
        hub_log_error("node.public_url: %s", why);
        return NULL;
    }
    t = hub_xcalloc(1, sizeof(*t));
    t->folded = hub_xcalloc(n + 1, sizeof(*t->folded));
    t->nroutes = n;
    for (i = 0; i != n; ++i) {
        const char *p = cfg->secondary.routes[i].path;
        t->folded[i] = hub_xmalloc(strlen(p) + 2);
        hub_path_fold(p, strlen(p), t->folded[i]);
    }
    auth = url + (u.https ? sizeof("https://") : sizeof("http://")) - 1;
    t->fwd_host = hub_xstrndup(auth, (size_t)(u.rest - auth));
    t->fwd_proto = u.https ? "https" : "http";
    return t;
}

static void guard_dispose(void *data)
{
    guard_t *g = data;
    free(g->upstream.authority.base);
    free(g->upstream.host.base);
    free(g->upstream.path.base);
    free(g);
}

/* The guard of route index (at its path without the trailing '/' when exact, which needs no upstream); NULL when the
 * upstream is no URL h2o reads (the configuration check refused any). */
static guard_t *guard_create(fed_t *fed, size_t index, int exact)
{
    guard_t *g = hub_xcalloc(1, sizeof(*g));
    h2o_url_t parsed;

    g->fed = fed;
    g->table = fed->routes;
    g->route = &fed->cfg->secondary.routes[index];
    g->index = index;
    g->exact = exact;
    if (exact)
        return g;
    if (h2o_url_parse(g->route->upstream, SIZE_MAX, &parsed) != 0) {
        hub_log_error("secondary.routes[%zu].upstream: cannot parse %s", index, g->route->upstream);
        free(g);
        return NULL;
    }
    h2o_url_copy(NULL, &g->upstream, &parsed);                   /* malloc'ed copies: guard_dispose frees them */
    h2o_strtolower(g->upstream.host.base, g->upstream.host.len); /* Location rewriting compares it in lower case */
    hub_log_info("federation: route %s -> %s", g->route->path, g->route->upstream);
    return g;
}

/* Set-Cookie of an upstream's response: the hub's names are not the application's to set. */
static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (hub_cookie_strip_hub_set(&req->res.headers) != 0)
        hub_log_warn("federation: the upstream of %.*s tried to set a hub cookie; dropped", (int)req->pathconf->path.len,
                     req->pathconf->path.base);
    h2o_setup_next_ostream(req, slot);
}

/* Registers g at the first len bytes of its route's path: every method and, but for an exact guard, every path under
 * it; the server's route owns g from then on. A proxying guard's path also gets the filter that keeps its upstream's
 * answers from setting hub cookies. */
static void guard_register(guard_t *g, size_t len)
{
    char *path = hub_xstrndup(g->route->path, len);
    hub_route_t route = {path, NULL, HUB_METHODS_ANY, g->exact ? HUB_MATCH_EXACT : HUB_MATCH_PREFIX, HUB_STYLE_OAUTH, NULL};
    h2o_pathconf_t *pathconf;

    pathconf = hub_server_add_route(g->fed->server, &route, on_guard, g, guard_dispose);
    free(path); /* the server keeps its own copy */
    if (!g->exact)
        h2o_create_filter(pathconf, sizeof(h2o_filter_t))->on_setup_ostream = on_setup_ostream;
}

/* One h2o path to register: a route's own path (with its proxy) or, for a route "/p/", "/p" (exact: h2o would
 * otherwise give "/app/admin" to "/app/"). */
typedef struct st_reg_t {
    size_t index;
    int exact;
    size_t len;
} reg_t;

int fed_routes_register(fed_t *fed)
{
    const hub_config_t *cfg = fed->cfg;
    size_t i, nregs = 0;
    reg_t *regs = hub_xcalloc(2 * cfg->secondary.nroutes + 1, sizeof(*regs));

    if ((fed->routes = table_create(cfg)) == NULL) {
        free(regs);
        return HUB_E_CONFIG;
    }
    hub_server_globalconf(fed->server)->proxy.io_timeout = PROXY_IO_TIMEOUT_MS; /* the loops' proxy client */
    for (i = 0; i != cfg->secondary.nroutes; ++i) {
        size_t len = strlen(cfg->secondary.routes[i].path);
        regs[nregs++] = (reg_t){i, 0, len};
        if (len > 1 && cfg->secondary.routes[i].path[len - 1] == '/')
            regs[nregs++] = (reg_t){i, 1, len - 1};
    }
    /* h2o takes the first registered prefix that matches: the longest paths first, so the most specific route (and
     * its roles) wins whatever order the config lists them in */
    for (i = 1; i < nregs; ++i) {
        reg_t r = regs[i];
        size_t j = i;
        for (; j > 0 && regs[j - 1].len < r.len; --j)
            regs[j] = regs[j - 1];
        regs[j] = r;
    }
    for (i = 0; i != nregs; ++i) {
        guard_t *g = guard_create(fed, regs[i].index, regs[i].exact);
        if (g == NULL) {
            free(regs);
            return HUB_E_CONFIG;
        }
        guard_register(g, regs[i].len);
    }
    free(regs);
    return 0;
}

void fed_routes_dispose(fed_t *fed)
{
    struct st_fed_routes_t *t = fed->routes;
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i != t->nroutes; ++i)
        free(t->folded[i]);
    free(t->folded);
    free(t->fwd_host);
    free(t);
    fed->routes = NULL;
}
