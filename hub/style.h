/* The one stylesheet of the primary's pages (sign-in, consent, sign-out, the consoles), served by the hub at a fixed
 * path with a long cache; pages link it with a version derived from its content, so a new stylesheet is fetched anew. */
#ifndef HUB_STYLE_H
#define HUB_STYLE_H

#include <h2o.h>

#define HUB_STYLE_PATH "/static/hub.css"

/* HUB_STYLE_PATH "?v=" and the first 16 hex digits of the stylesheet's SHA-256: what a page's <link> names. A static
 * string, made once (thread-safe). */
const char *hub_style_href(void);

/* Answers req with the stylesheet: text/css, cached for a year (immutable: its URL changes with it), nosniff; HEAD gets
 * the headers only. */
void hub_style_send(h2o_req_t *req);

/* The stylesheet itself, for tests. */
extern const char hub_style_css[];

#endif
