/* The request gate: framing and path checks that run before any handler, the same for every route of both roles. */
#include <string.h>
#include <strings.h>
#include "hub/err.h"
#include "hub/gate.h"
#include "hub/log.h"
#include "hub/path.h"
#include "hub/resp.h"

static int refuse(const char **why, const char *what, int err)
{
    if (why != NULL)
        *why = what;
    return err;
}

/* The next line of head from *p (without its CRLF or LF) in *line; 0 when no complete line is left. */
static int next_line(const char **p, const char *end, h2o_iovec_t *line)
{
    const char *lf = memchr(*p, '\n', end - *p);
    if (lf == NULL)
        return 0;
    *line = h2o_iovec_init(*p, lf - *p);
    if (line->len != 0 && line->base[line->len - 1] == '\r')
        --line->len;
    *p = lf + 1;
    return 1;
}

static int name_is(h2o_iovec_t line, size_t name_len, const char *name)
{
    return name_len == strlen(name) && strncasecmp(line.base, name, name_len) == 0;
}

/* Whether the request line is "METHOD TARGET HTTP/..." for the given method and target. */
static int line_names(h2o_iovec_t line, h2o_iovec_t method, h2o_iovec_t target)
{
    size_t need = method.len + 1 + target.len + 1;
    return line.len > need && memcmp(line.base, method.base, method.len) == 0 && line.base[method.len] == ' ' &&
           memcmp(line.base + method.len + 1, target.base, target.len) == 0 && line.base[need - 1] == ' ';
}

int hub_gate_head_check(const char *head, size_t len, h2o_iovec_t method, h2o_iovec_t target, const char **why)
{
    const char *p = head, *end = head + len;
    h2o_iovec_t line;
    unsigned content_length = 0, transfer_encoding = 0;

    while (p < end && (*p == '\r' || *p == '\n')) /* empty lines before the request line, as picohttpparser skips */
        ++p;
    if (!next_line(&p, end, &line))
        return refuse(why, "no complete request head", HUB_E_NOTFOUND);
    if (method.base != NULL && target.base != NULL && !line_names(line, method, target))
        return refuse(why, "the head is not this request's", HUB_E_NOTFOUND);
    for (;;) {
        const char *colon;
        if (!next_line(&p, end, &line))
            return refuse(why, "no complete request head", HUB_E_NOTFOUND);
        if (line.len == 0)
            break;
        if (line.base[0] == ' ' || line.base[0] == '\t')
            return refuse(why, "a header line folded onto the one before it (obs-fold)", HUB_E_PARSE);
        if ((colon = memchr(line.base, ':', line.len)) == NULL || colon == line.base)
            return refuse(why, "a header line without a name", HUB_E_PARSE);
        content_length += name_is(line, colon - line.base, "content-length");
        transfer_encoding += name_is(line, colon - line.base, "transfer-encoding");
    }
    if (content_length > 1)
        return refuse(why, "more than one Content-Length", HUB_E_PARSE);
    if (transfer_encoding > 1)
        return refuse(why, "more than one Transfer-Encoding", HUB_E_PARSE);
    if (content_length != 0 && transfer_encoding != 0)
        return refuse(why, "both Content-Length and Transfer-Encoding", HUB_E_PARSE);
    return 0;
}

/* HTTP/1: the head h2o parsed is still at the start of the connection's input buffer. */
static int check_http1_head(h2o_req_t *req, const char **why)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    int ret;

    if (sock == NULL || sock->input == NULL)
        return 0;
    ret = hub_gate_head_check(sock->input->bytes, sock->input->size, req->input.method, req->input.path, why);
    if (ret == HUB_E_NOTFOUND) {
        hub_log_debug("gate: %s; framing not checked", *why);
        return 0;
    }
    return ret;
}

static int check_header_names(h2o_req_t *req, const char **why)
{
    for (size_t i = 0; i != req->headers.size; ++i)
        if (req->headers.entries[i].name->len == 0)
            return refuse(why, "a header line without a name", HUB_E_PARSE);
    return 0;
}

int hub_gate(h2o_req_t *req)
{
    const char *why = NULL;
    size_t plen = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    char msg[128];

    if ((req->version < 0x200 && check_http1_head(req, &why) != 0) || check_header_names(req, &why) != 0) {
        req->http1_is_persistent = 0; /* the next bytes on this connection cannot be trusted to start a request */
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, why);
        return -1;
    }
    if (hub_path_check(req->input.path.base, plen, &why) != 0) {
        snprintf(msg, sizeof(msg), "the request path is not canonical: %s", why);
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_REQUEST, msg);
        return -1;
    }
    return 0;
}
