/* HTML pages of the primary written into a buffer: the head that links the hub's stylesheet (no inline style, no
 * script), text escaped for HTML, and the page sent with the SPEC §8 headers under a Content-Security-Policy. */
#ifndef HUB_PAGE_H
#define HUB_PAGE_H

#include <stdio.h>
#include <h2o.h>

/* The policies of the pages that use the stylesheet. Sign-in and consent: nothing but the stylesheet and images of the
 * node, and a form may lead to a client's redirect URI (a redirect after the POST). The consoles: everything from the
 * node only (SPEC §11), no script at all, forms to the node only. */
#define HUB_PAGE_CSP_FORMS                                                                                                         \
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' http: https:; frame-ancestors 'none'; "        \
    "base-uri 'none'"
#define HUB_PAGE_CSP_CONSOLE                                                                                                       \
    "default-src 'self'; script-src 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

typedef struct st_hub_page_t {
    h2o_req_t *req;
    FILE *f; /* open_memstream over buf */
    char *buf;
    size_t len;
} hub_page_t;

/* Writes the doctype, the head (charset, viewport, the title escaped, the stylesheet) and "<body>" to f: for a page
 * written with its own stream (the sign-in, consent and sign-out pages). */
void hub_page_open(FILE *f, h2o_req_t *req, const char *title);
/* Starts a page for req in a buffer of its own (hub_page_open). Out of memory is fatal. */
void hub_page_begin(hub_page_t *p, h2o_req_t *req, const char *title);
/* Writes s as it is (markup the caller wrote; never a value from input or the store). */
void hub_page_raw(hub_page_t *p, const char *s);
/* Writes formatted markup (the format a literal; values from outside only through hub_page_text). */
void hub_page_printf(hub_page_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s escaped for HTML text and attribute values (& < > " '); NULL writes nothing. */
void hub_page_text(hub_page_t *p, const char *s);
/* Ends the page ("</body></html>") and sends it with status under csp (a static string); the buffer is freed. */
void hub_page_send(hub_page_t *p, int status, const char *csp);
/* Frees a page that is not sent (an answer chosen instead). */
void hub_page_discard(hub_page_t *p);

#endif
