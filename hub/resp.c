/* Response helpers: every body goes out with Content-Length, pages with the SPEC §8 headers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/resp.h"
#include "hub/util.h"

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

void hub_resp_header(h2o_req_t *req, const char *name, const char *value)
{
    /* h2o keeps a pointer to a name that is none of its tokens: the copy lets a caller build the name on its stack */
    h2o_iovec_t n = h2o_strdup(&req->pool, name, SIZE_MAX), v = h2o_strdup(&req->pool, value, SIZE_MAX);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

/* Sends a response whose status and headers are set; a HEAD request gets them without the body. */
static void send_now(h2o_req_t *req, h2o_iovec_t body)
{
    static h2o_generator_t generator = {NULL, NULL};

    h2o_start_response(req, &generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* Responses made during one turn of a loop thread's event loop wait in this list and are written together when the
 * turn ends (hub_resp_flush), as Redis writes its replies before it polls again: the peers are woken once per turn
 * rather than once per response. A request whose memory goes away first (an HTTP/2 stream reset) leaves the list. */
typedef struct st_deferred_t {
    h2o_linklist_t link;
    h2o_req_t *req;
    h2o_iovec_t body;
} deferred_t;

static __thread h2o_linklist_t *deferred;

static void on_deferred_dispose(void *p)
{
    deferred_t *d = p;
    if (h2o_linklist_is_linked(&d->link))
        h2o_linklist_unlink(&d->link);
}

void hub_resp_defer_begin(h2o_linklist_t *anchor)
{
    h2o_linklist_init_anchor(anchor);
    deferred = anchor;
}

size_t hub_resp_flush(void)
{
    size_t n = 0;

    while (deferred != NULL && !h2o_linklist_is_empty(deferred)) {
        deferred_t *d = H2O_STRUCT_FROM_MEMBER(deferred_t, link, deferred->next);
        h2o_linklist_unlink(&d->link);
        send_now(d->req, d->body);
        ++n;
    }
    return n;
}

void hub_resp_defer_end(void)
{
    hub_resp_flush();
    deferred = NULL;
}

void hub_send_inline(h2o_req_t *req, const char *body, size_t len)
{
    h2o_iovec_t copy = h2o_strdup(&req->pool, body, len);
    deferred_t *d;

    if (deferred == NULL) {
        send_now(req, copy);
        return;
    }
    d = h2o_mem_alloc_shared(&req->pool, sizeof(*d), on_deferred_dispose);
    memset(&d->link, 0, sizeof(d->link));
    d->req = req;
    d->body = copy;
    h2o_linklist_insert(deferred, &d->link);
}

static void send_body(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    hub_send_inline(req, body, len);
}

static void add_no_store(h2o_req_t *req)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("pragma"), 0, NULL, H2O_STRLIT("no-cache"));
}

void hub_send_json(h2o_req_t *req, int status, json_t *body, int no_store)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (text == NULL)
        hub_oom();
    hub_send_json_text(req, status, text, strlen(text), no_store);
    free(text);
}

void hub_send_json_text(h2o_req_t *req, int status, const char *text, size_t len, int no_store)
{
    if (no_store)
        add_no_store(req);
    send_body(req, status, "application/json", text, len); /* copied */
}

void hub_send_html(h2o_req_t *req, int status, const char *html, size_t len)
{
    hub_send_html_csp(req, status,
                      "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' http: https:; "
                      "frame-ancestors 'none'; base-uri 'none'",
                      html, len);
}

void hub_send_html_csp(h2o_req_t *req, int status, const char *csp, const char *html, size_t len)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, csp, strlen(csp));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("no-referrer"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    add_no_store(req);
    send_body(req, status, "text/html; charset=utf-8", html, len);
}

/* Escapes s for HTML text and attribute values into the request's pool. */
static const char *escape(h2o_req_t *req, const char *s)
{
    size_t len = strlen(s), i, o = 0;
    char *out = h2o_mem_alloc_pool(&req->pool, len * 6 + 1);
    for (i = 0; i < len; ++i) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        }
        if (rep != NULL) {
            memcpy(out + o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

void hub_send_html_error(h2o_req_t *req, int status, const char *title, const char *message)
{
    const char *t = escape(req, title), *m = escape(req, message);
    size_t cap = strlen(t) * 2 + strlen(m) + 512;
    char *page = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(page, cap,
                     "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
                     "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>%s</h1>\n<p id=\"error\">%s</p>"
                     "</body></html>\n",
                     t, t, m);
    hub_send_html(req, status, page, (size_t)n < cap ? (size_t)n : cap - 1);
}

void hub_send_text(h2o_req_t *req, int status, const char *text, size_t len)
{
    send_body(req, status, "text/plain; charset=utf-8", text, len);
}

void hub_send_redirect(h2o_req_t *req, int status, const char *location)
{
    h2o_iovec_t loc = h2o_strdup(&req->pool, location, SIZE_MAX);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, loc.base, loc.len);
    add_no_store(req);
    send_body(req, status, NULL, "", 0);
}

void hub_send_oauth_error(h2o_req_t *req, hub_oauth_err_t err, const char *description)
{
    json_t *body = json_object();
    const char *code;

    if (err == HUB_OAUTH_OK)
        err = HUB_OAUTH_SERVER_ERROR; /* a caller's mistake: no success goes out as an error */
    code = hub_oauth_error(err);
    json_object_set_new(body, "error", json_string(code));
    if (description != NULL)
        json_object_set_new(body, "error_description", json_string(description));
    if (err == HUB_OAUTH_INVALID_CLIENT) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Basic realm=\"hub\""));
    } else if (err == HUB_OAUTH_TOKEN_MISSING) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"hub\""));
    } else if (err == HUB_OAUTH_INVALID_TOKEN || err == HUB_OAUTH_INSUFFICIENT_SCOPE) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "Bearer realm=\"hub\", error=\"%s\"", code);
        h2o_iovec_t v = h2o_strdup(&req->pool, buf, n);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, v.base, v.len);
    }
    hub_send_json(req, hub_oauth_status(err), body, 1);
}

void hub_send_oauth_fail(h2o_req_t *req, const hub_oauth_fail_t *fail)
{
    hub_send_oauth_error(req, fail->error, fail->description);
}

hub_oauth_err_t hub_oauth_failf(h2o_mem_pool_t *pool, hub_oauth_fail_t *fail, hub_oauth_err_t err, const char *fmt, ...)
{
    va_list ap;
    char *text;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        hub_fatal("a description that cannot be written");
    text = h2o_mem_alloc_pool(pool, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return hub_oauth_fail(fail, err, text);
}

void hub_set_cookie_at(h2o_req_t *req, const char *name, const char *value, const char *path, long max_age, int secure)
{
    static const char form[] = "%s=%s; Path=%s; HttpOnly; SameSite=Lax%s%s";
    char age[32] = "";
    const char *sec = secure ? "; Secure" : "";
    char *buf;
    int n;

    if (max_age >= 0)
        snprintf(age, sizeof(age), "; Max-Age=%ld", max_age);
    if ((n = snprintf(NULL, 0, form, name, value, path, sec, age)) < 0)
        hub_fatal("a cookie that cannot be written");
    buf = h2o_mem_alloc_pool(&req->pool, (size_t)n + 1);
    snprintf(buf, (size_t)n + 1, form, name, value, path, sec, age);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, buf, (size_t)n);
}

void hub_set_cookie(h2o_req_t *req, const char *name, const char *value, long max_age, int secure)
{
    hub_set_cookie_at(req, name, value, "/", max_age, secure);
}
