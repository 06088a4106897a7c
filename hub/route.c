/* The router's rules (hub/route.h): exact paths, methods with their Allow, CORS preflights, 404 and 405 in a route's
 * style. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/resp.h"
#include "hub/route.h"
#include "hub/util.h"

static const struct {
    unsigned bit;
    const char *name;
} methods[] = {{HUB_GET, "GET"}, {HUB_HEAD, "HEAD"}, {HUB_POST, "POST"}};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))
#define METHOD_LIST_MAX sizeof("OPTIONS, GET, HEAD, POST")

/* The request method's bit; 0 for a method no route names. */
static unsigned method_bit(h2o_req_t *req)
{
    for (size_t i = 0; i != NMETHODS; ++i)
        if (h2o_memis(req->method.base, req->method.len, methods[i].name, strlen(methods[i].name)))
            return methods[i].bit;
    return 0;
}

/* "GET, HEAD, POST" for the bits of mask, after "OPTIONS, " when with_options; in the request's pool. */
static const char *method_list(h2o_req_t *req, unsigned mask, int with_options)
{
    char *out = h2o_mem_alloc_pool(&req->pool, METHOD_LIST_MAX);
    size_t o = 0;

    if (with_options)
        o = (size_t)snprintf(out, METHOD_LIST_MAX, "OPTIONS");
    for (size_t i = 0; i != NMETHODS; ++i)
        if (mask & methods[i].bit)
            o += (size_t)snprintf(out + o, METHOD_LIST_MAX - o, "%s%s", o != 0 ? ", " : "", methods[i].name);
    out[o] = '\0';
    return out;
}

static int path_is(h2o_req_t *req, const char *path)
{
    return path != NULL && h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
}

static void not_found(const hub_route_t *route, h2o_req_t *req)
{
    if (route->style == HUB_STYLE_HTML)
        hub_send_html_error(req, 404, "Not found", "There is no page at this address.");
    else
        hub_send_oauth_error(req, HUB_OAUTH_NOT_FOUND, "no such path");
}

static void not_allowed(const hub_route_t *route, h2o_req_t *req)
{
    const char *allowed = method_list(req, route->methods, 0);
    char text[64];

    hub_resp_header(req, "allow", method_list(req, route->methods, route->cors != NULL));
    if (route->style == HUB_STYLE_HTML) {
        snprintf(text, sizeof(text), "Use %s.", allowed);
        hub_send_html_error(req, 405, "Method not allowed", text);
    } else {
        snprintf(text, sizeof(text), "use %s", allowed);
        hub_send_oauth_error(req, HUB_OAUTH_METHOD_NOT_ALLOWED, text);
    }
}

static void preflight_answered(void *ctx, h2o_req_t *req)
{
    req->res.status = 204;
    req->res.reason = "No Content";
    hub_send_inline(req, "", 0);
}

/* 204 with Allow; the Access-Control-* headers when the origin may call the route (decided at once, or after the rule's
 * store read). */
static void preflight(const hub_route_t *route, void *data, h2o_req_t *req)
{
    hub_resp_header(req, "allow", method_list(req, route->methods, 1));
    hub_cors_preflight(req, route->cors, data, method_list(req, route->methods, 0), preflight_answered, NULL);
}

/* 1 when the handler is to run (after the CORS headers every answer of the route carries); otherwise answers req. */
static int admit(const hub_route_t *route, void *data, h2o_req_t *req)
{
    unsigned bit;

    if (route->match == HUB_MATCH_EXACT && !path_is(req, route->path) && !path_is(req, route->alias)) {
        not_found(route, req);
        return 0;
    }
    if (route->cors != NULL) {
        hub_cors_vary(req, route->cors);
        if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
            preflight(route, data, req);
            return 0;
        }
    }
    if (route->methods == HUB_METHODS_ANY || ((bit = method_bit(req)) != 0 && (route->methods & bit) != 0))
        return 1;
    not_allowed(route, req);
    return 0;
}

struct st_hub_route_entry_t {
    hub_route_t route;
    hub_route_cb cb;
    void *data;
    void (*dispose)(void *data);
    hub_route_entry_t *next;
};

static char *dup_or_null(const char *s)
{
    char *copy;
    if (s == NULL)
        return NULL;
    copy = hub_strdup(s);
    return copy;
}

hub_route_entry_t *hub_route_entry_add(hub_route_entry_t **list, const hub_route_t *route, hub_route_cb cb, void *data,
                                       void (*dispose)(void *data))
{
    hub_route_entry_t *e = hub_xcalloc(1, sizeof(*e));

    e->route = *route;
    e->route.path = dup_or_null(route->path);
    e->route.alias = dup_or_null(route->alias);
    e->cb = cb;
    e->data = data;
    e->dispose = dispose;
    e->next = *list;
    *list = e;
    return e;
}

const hub_route_t *hub_route_entry_route(const hub_route_entry_t *entry)
{
    return &entry->route;
}

void hub_route_entry_serve(hub_route_entry_t *entry, h2o_req_t *req)
{
    if (admit(&entry->route, entry->data, req) && entry->cb(entry->data, req) != 0)
        not_found(&entry->route, req);
}

void hub_route_entries_dispose(hub_route_entry_t **list)
{
    hub_route_entry_t *e;

    while ((e = *list) != NULL) {
        *list = e->next;
        if (e->dispose != NULL)
            e->dispose(e->data);
        free((char *)e->route.path);
        free((char *)e->route.alias);
        free(e);
    }
}
