/* CORS at the router (hub/cors.h): the request's canonical Origin, the headers of a route's answers and of a
 * preflight. */
#include <string.h>
#include <strings.h>
#include "hub/cors.h"
#include "hub/resp.h"
#include "hub/url.h"

#define ALLOW_HEADERS "authorization, content-type"
#define MAX_AGE "600" /* seconds a browser may reuse a preflight's answer */

const char *hub_cors_origin(h2o_req_t *req)
{
    const h2o_iovec_t *value = NULL;
    char text[HUB_ORIGIN_MAX], canon[HUB_ORIGIN_MAX];
    hub_url_t u;
    int n;

    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        if (h->name->len == 6 && strncasecmp(h->name->base, "origin", 6) == 0) {
            if (value != NULL)
                return NULL; /* two Origin headers: no single origin to answer */
            value = &h->value;
        }
    }
    if (value == NULL || value->len == 0 || value->len >= sizeof(text) || memchr(value->base, '\0', value->len) != NULL)
        return NULL;
    memcpy(text, value->base, value->len);
    text[value->len] = '\0';
    if (hub_url_parse(text, &u, NULL) != 0 || *u.rest != '\0')
        return NULL;
    if ((n = hub_url_origin(&u, canon, sizeof(canon))) < 0 || (size_t)n != value->len || memcmp(canon, text, value->len) != 0)
        return NULL;
    return h2o_strdup(&req->pool, text, value->len).base;
}

void hub_cors_vary(h2o_req_t *req, const hub_cors_t *cors)
{
    if (cors->any_origin)
        hub_resp_header(req, "access-control-allow-origin", "*");
    else
        hub_resp_header(req, "vary", "Origin");
}

/* A preflight waiting for its rule's decision, in the request's pool (gone with the request, when the hook calls
 * nothing back). */
typedef struct st_preflight_t {
    const hub_cors_t *cors;
    const char *origin, *methods;
    void (*answered)(void *ctx, h2o_req_t *req);
    void *ctx;
} preflight_t;

static void on_decided(void *arg, h2o_req_t *req, int allowed)
{
    preflight_t *p = arg;

    if (allowed) {
        if (!p->cors->any_origin)
            hub_resp_header(req, "access-control-allow-origin", p->origin);
        hub_resp_header(req, "access-control-allow-methods", p->methods);
        hub_resp_header(req, "access-control-allow-headers", ALLOW_HEADERS);
        hub_resp_header(req, "access-control-max-age", MAX_AGE);
    }
    p->answered(p->ctx, req);
}

void hub_cors_preflight(h2o_req_t *req, const hub_cors_t *cors, void *data, const char *methods,
                        void (*answered)(void *ctx, h2o_req_t *req), void *ctx)
{
    preflight_t *p = h2o_mem_alloc_pool(&req->pool, sizeof(*p));

    *p = (preflight_t){cors, NULL, methods, answered, ctx};
    if (cors->any_origin)
        on_decided(p, req, 1);
    else if ((p->origin = hub_cors_origin(req)) == NULL || cors->origin_check == NULL)
        on_decided(p, req, 0);
    else
        cors->origin_check(data, req, p->origin, on_decided, p);
}
