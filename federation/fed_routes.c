/* Protected routes: identity from session or Bearer token, role check, X-Hub-* headers set by
 * the node (never by the client), then h2o's reverse proxy to the upstream. */
#include <stdlib.h>
#include <string.h>
#include "federation/fed_routes.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/log.h"
#include "hub/resp.h"

#define PROXY_IO_TIMEOUT_MS 30000

typedef struct st_guard_t {
    fed_t *fed;
    const hub_route_conf_t *route;
    h2o_handler_t *self;  /* the guard's own handler: a parked request goes on from there */
    h2o_handler_t *proxy; /* the reverse proxy behind the guard, for fed_routes_dispose */
} guard_t;

/* The head of libh2o 2.2.5's private reverse-proxy handler (lib/handler/proxy.c): its dispose
 * frees upstream.host and .path but not the copy of .authority it made. */
typedef struct st_proxy_head_t {
    h2o_handler_t super;
    h2o_url_t upstream;
} proxy_head_t;

void fed_routes_strip_hub_headers(h2o_headers_t *headers)
{
    size_t i, o = 0;
    for (i = 0; i != headers->size; ++i) {
        const h2o_iovec_t *name = headers->entries[i].name;
        /* CGI-style upstreams read X_Hub_Sub as X-Hub-Sub: strip both spellings */
        if (name->len >= 6 && (name->base[0] | 0x20) == 'x' && (name->base[1] == '-' || name->base[1] == '_') &&
            h2o_lcstris(name->base + 2, 3, H2O_STRLIT("hub")) && (name->base[5] == '-' || name->base[5] == '_'))
            continue;
        headers->entries[o++] = headers->entries[i];
    }
    headers->size = o;
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

static void on_guard_resume(h2o_req_t *req, void *data);

/* Answers req, or sets the X-Hub-* headers and returns -1 for the proxy; 0 also when req was
 * parked for a JWKS refresh (with may_wait) and on_guard_resume will go on later. */
static int guard(guard_t *g, h2o_req_t *req, int may_wait)
{
    fed_identity_t id;
    const char *why;
    fed_who_t who;
    size_t i, len = 0;

    /* h2o picks the route on a path that may hold "//" while its proxy collapses them, so
     * "/app//admin/" would be guarded as "/app/" and reach "/admin/" upstream: refuse. */
    if (h2o_strstr(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("//")) != SIZE_MAX) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, "empty path segment");
        return 0;
    }
    who = fed_identify(g->fed, req, &id, &why, may_wait ? on_guard_resume : NULL, g);
    if (who == FED_WHO_WAIT)
        return 0;

    if (who != FED_WHO_OK) {
        if (who == FED_WHO_NONE && wants_html(req)) {
            h2o_iovec_t next = hub_url_encode(&req->pool, req->input.path.base, req->input.path.len);
            char *loc = h2o_mem_alloc_pool(&req->pool, next.len + 32);
            memcpy(loc, "/auth/login?next=", 17);
            memcpy(loc + 17, next.base, next.len + 1);
            hub_send_redirect(req, 302, loc);
        } else {
            fed_send_unauthorized(req, who, why);
        }
        return 0;
    }
    if (!has_role(&id, g->route)) {
        if (wants_html(req))
            hub_send_html_error(req, 403, "Access denied", "You are signed in, but your roles do not give access to this page.");
        else
            hub_send_oauth_error(req, HUB_OAUTH_ACCESS_DENIED, "none of the roles this route requires");
        return 0;
    }
    fed_routes_strip_hub_headers(&req->headers);
    for (i = 0; i != id.nroles; ++i)
        len += strlen(id.roles[i]) + 1;
    char *roles = h2o_mem_alloc_pool(&req->pool, len + 1);
    roles[0] = '\0';
    for (i = 0, len = 0; i != id.nroles; ++i) {
        size_t n = strlen(id.roles[i]);
        if (i != 0)
            roles[len++] = ',';
        memcpy(roles + len, id.roles[i], n);
        len += n;
        roles[len] = '\0';
    }
    add_header(req, "x-hub-sub", id.sub);
    add_header(req, "x-hub-email", id.email);
    add_header(req, "x-hub-name", id.name);
    add_header(req, "x-hub-roles", roles);
    return -1; /* on to the reverse proxy on the same path */
}

static int on_guard(void *data, h2o_req_t *req)
{
    return guard(data, req, 1);
}

/* The JWKS round a parked request waited for ended (or its wait timed out): check again. */
static void on_guard_resume(h2o_req_t *req, void *data)
{
    guard_t *g = data;
    if (guard(g, req, 0) != 0)
        h2o_delegate_request(req, g->self);
}

int fed_routes_register(fed_t *fed)
{
    const hub_config_t *cfg = fed->cfg;
    size_t i;

    if (cfg->secondary.nroutes != 0 && (fed->guards = calloc(cfg->secondary.nroutes, sizeof(void *))) == NULL)
        abort();
    /* h2o takes the first registered prefix that matches; register the longest paths first so
     * the most specific route (and its roles) wins whatever order the config lists them in */
    size_t *order = calloc(cfg->secondary.nroutes + 1, sizeof(*order));
    if (order == NULL)
        abort();
    for (i = 0; i != cfg->secondary.nroutes; ++i) {
        size_t j = i;
        while (j > 0 && strlen(cfg->secondary.routes[order[j - 1]].path) < strlen(cfg->secondary.routes[i].path)) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = i;
    }
    for (size_t k = 0; k != cfg->secondary.nroutes; ++k) {
        i = order[k];
        const hub_route_conf_t *route = &cfg->secondary.routes[i];
        h2o_proxy_config_vars_t pc = {.io_timeout = PROXY_IO_TIMEOUT_MS, .keepalive_timeout = 0};
        h2o_url_t upstream;
        guard_t *g;

        if (h2o_url_parse(route->upstream, SIZE_MAX, &upstream) != 0) {
            hub_log_error("secondary.routes[%zu].upstream: cannot parse %s", i, route->upstream);
            free(order);
            return HUB_E_CONFIG;
        }
        if ((g = calloc(1, sizeof(*g))) == NULL)
            abort();
        g->fed = fed;
        g->route = route;
        fed->guards[fed->nguards++] = g;
        /* keepalive_timeout 0: no shared socket pool, whose timer would outlive the loops */
        h2o_pathconf_t *pathconf = hub_server_route(fed->server, route->path, on_guard, g);
        g->self = pathconf->handlers.entries[pathconf->handlers.size - 1];
        h2o_proxy_register_reverse_proxy(pathconf, &upstream, &pc);
        proxy_head_t *head = (proxy_head_t *)pathconf->handlers.entries[pathconf->handlers.size - 1];
        /* only trusted when the copy it holds is the one we gave it */
        if (head->upstream.authority.base != upstream.authority.base &&
            h2o_memis(head->upstream.authority.base, head->upstream.authority.len, upstream.authority.base,
                      upstream.authority.len) &&
            h2o_memis(head->upstream.host.base, head->upstream.host.len, upstream.host.base, upstream.host.len))
            g->proxy = &head->super;
        hub_log_info("federation: route %s -> %s", route->path, route->upstream);
    }
    free(order);
    return 0;
}

void fed_routes_dispose(fed_t *fed)
{
    size_t i;
    for (i = 0; i != fed->nguards; ++i) {
        guard_t *g = fed->guards[i];
        if (g->proxy != NULL) {
            proxy_head_t *head = (proxy_head_t *)g->proxy;
            free(head->upstream.authority.base);
            head->upstream.authority = h2o_iovec_init(NULL, 0);
        }
        free(g);
    }
    free(fed->guards);
    fed->guards = NULL;
    fed->nguards = 0;
}
