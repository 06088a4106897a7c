/* HTML pages that take their style from the hub's stylesheet: the head, escaped text, the send with its policy. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "hub/form.h"
#include "hub/page.h"
#include "hub/resp.h"
#include "hub/style.h"
#include "hub/util.h"

void hub_page_open(FILE *f, h2o_req_t *req, const char *title)
{
    h2o_iovec_t t = hub_html_escape(&req->pool, title, strlen(title));

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    fwrite(t.base, 1, t.len, f);
    fprintf(f, "</title>\n<link rel=\"stylesheet\" href=\"%s\">\n</head>\n<body>\n", hub_style_href());
}

void hub_page_begin(hub_page_t *p, h2o_req_t *req, const char *title)
{
    p->req = req;
    p->buf = NULL;
    p->len = 0;
    if ((p->f = open_memstream(&p->buf, &p->len)) == NULL)
        hub_oom();
    hub_page_open(p->f, req, title);
}

void hub_page_raw(hub_page_t *p, const char *s)
{
    fputs(s, p->f);
}

void hub_page_printf(hub_page_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->f, fmt, ap);
    va_end(ap);
}

void hub_page_text(hub_page_t *p, const char *s)
{
    if (s == NULL)
        return;
    h2o_iovec_t e = hub_html_escape(&p->req->pool, s, strlen(s));
    fwrite(e.base, 1, e.len, p->f);
}

void hub_page_send(hub_page_t *p, int status, const char *csp)
{
    hub_page_raw(p, "</body></html>\n");
    if (fclose(p->f) != 0 || p->buf == NULL)
        hub_oom();
    p->f = NULL;
    hub_send_html_csp(p->req, status, csp, p->buf, p->len); /* copied */
    free(p->buf);
    p->buf = NULL;
}

void hub_page_discard(hub_page_t *p)
{
    if (p->f != NULL)
        fclose(p->f);
    free(p->buf);
    p->f = NULL;
    p->buf = NULL;
}
