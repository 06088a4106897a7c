/* The primary's stylesheet (hub/style.h): system fonts, one column on a phone, visible keyboard focus, and the
 * classes the pages use (the console frame, forms with their messages, lists, the narrow card of sign-in and consent). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "hub/crypto.h"
#include "hub/resp.h"
#include "hub/style.h"

const char hub_style_css[] =
    ":root{--fg:#1d232b;--muted:#5b6673;--bg:#f5f6f8;--card:#fff;--line:#d6dbe1;--accent:#1f5fbf;--accent-fg:#fff;--danger:#b3261e;"
    "--ok:#1e6b34;--focus:#f0a500}\n"
    "*{box-sizing:border-box}\n"
    "html{font-size:100%;-webkit-text-size-adjust:100%}\n"
    "body{margin:0;font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica "
    "Neue\",Arial,sans-serif;color:var(--fg);background:var(--bg)}\n"
    "a{color:var(--accent)}\n"
    "a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible,summary:focus-visible{"
    "outline:3px solid var(--focus);outline-offset:2px}\n"
    "h1{font-size:1.5rem;margin:0 0 1rem}\n"
    "h2{font-size:1.2rem;margin:1.5rem 0 .75rem}\n"
    "p{margin:.5rem 0 1rem}\n"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;word-break:break-all}\n"
    ".skip{position:absolute;left:-999px}\n"
    ".skip:focus{left:1rem;top:1rem;background:var(--card);padding:.5rem;z-index:1}\n"
    ".top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.6rem 1rem;background:var(--fg);color:#fff}\n"
    ".top a{color:#fff}\n"
    ".brand{font-weight:600;text-decoration:none;margin-right:auto}\n"
    ".who{font-size:.95rem}\n"
    ".top form{margin:0}\n"
    ".top button{background:transparent;color:#fff;border-color:#fff}\n"
    "nav.tabs{display:flex;flex-wrap:wrap;gap:.25rem;padding:.5rem 1rem 0;background:var(--card);border-bottom:1px solid "
    "var(--line)}\n"
    "nav.tabs a{padding:.45rem .75rem;text-decoration:none;border:1px solid transparent;border-bottom:none;border-radius:6px 6px 0 "
    "0;color:var(--fg)}\n"
    "nav.tabs a[aria-current=page]{border-color:var(--line);background:var(--bg);font-weight:600}\n"
    "main{max-width:64rem;margin:0 auto;padding:1.25rem 1rem 3rem}\n"
    "main.narrow{max-width:26rem;margin-top:2rem}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1.25rem;margin:0 0 1.25rem}\n"
    ".card>h2:first-child,.card>h1:first-child{margin-top:0}\n"
    ".flash{border-left:4px solid var(--ok);background:#eaf5ed;padding:.6rem .9rem;border-radius:4px;margin:0 0 1rem}\n"
    ".flash.error,.error-box{border-left:4px solid var(--danger);background:#fbeceb;padding:.6rem .9rem;border-radius:4px;margin:0 "
    "0 1rem}\n"
    ".secret{display:block;background:#fff8e1;border:1px dashed #c99a00;padding:.75rem;border-radius:4px;margin:.5rem 0 1rem}\n"
    ".field{margin:0 0 1rem}\n"
    ".field label,.label{display:block;font-weight:600;margin-bottom:.25rem}\n"
    ".field .hint{display:block;color:var(--muted);font-size:.88rem;margin-top:.2rem}\n"
    ".field .msg{display:block;color:var(--danger);font-size:.92rem;margin-top:.25rem;font-weight:600}\n"
    ".check label{display:inline;font-weight:600;margin-left:.35rem}\n"
    "input[type=text],input[type=email],input[type=password],input[type=url],input[type=search],select,textarea{width:100%;max-"
    "width:40rem;padding:.5rem .6rem;font:inherit;color:inherit;background:#fff;border:1px solid #9aa5b1;border-radius:4px}\n"
    "textarea{min-height:4.5rem}\n"
    "input[aria-invalid=true],select[aria-invalid=true],textarea[aria-invalid=true]{border-color:var(--danger);box-shadow:0 0 0 "
    "1px var(--danger)}\n"
    "input[type=checkbox]{width:1.1rem;height:1.1rem;vertical-align:middle}\n"
    "fieldset{border:1px solid var(--line);border-radius:6px;margin:0 0 1rem;padding:.5rem 1rem}\n"
    "legend{font-weight:600;padding:0 .25rem}\n"
    "button,.button{display:inline-block;font:inherit;padding:.45rem 1rem;border-radius:4px;border:1px solid "
    "var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer;text-decoration:none;line-height:1.4}\n"
    "button.secondary,.button.secondary{background:var(--card);color:var(--accent)}\n"
    "button.danger{background:var(--card);color:var(--danger);border-color:var(--danger)}\n"
    ".actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.75rem 0}\n"
    ".actions form{margin:0}\n"
    ".table-wrap{overflow-x:auto;margin:0 0 1rem}\n"
    "table{border-collapse:collapse;width:100%;background:var(--card)}\n"
    "th,td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}\n"
    "th{font-size:.88rem;color:var(--muted);font-weight:600}\n"
    "td form{display:inline;margin:0}\n"
    ".muted{color:var(--muted)}\n"
    ".badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.82rem;border:1px solid "
    "var(--line);background:var(--bg)}\n"
    ".badge.off{color:var(--danger);border-color:var(--danger)}\n"
    ".pager{display:flex;gap:1rem;margin:1rem 0}\n"
    "dl.props{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}\n"
    "dl.props dt{font-weight:600}\n"
    "dl.props dd{margin:0}\n"
    "ul.scopes{margin:.25rem 0 1rem;padding-left:1.25rem}\n"
    ".signed-in{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem}\n"
    "@media (max-width:40rem){main{padding:1rem .75rem "
    "2rem}dl.props{grid-template-columns:1fr}.card{padding:1rem}th,td{padding:.4rem}}\n";

static char href[sizeof(HUB_STYLE_PATH) + 4 + 16];
static pthread_once_t href_once = PTHREAD_ONCE_INIT;

static void make_href(void)
{
    uint8_t digest[32];

    hub_sha256(digest, hub_style_css, sizeof(hub_style_css) - 1);
    snprintf(href, sizeof(href), "%s?v=%02x%02x%02x%02x%02x%02x%02x%02x", HUB_STYLE_PATH, digest[0], digest[1], digest[2],
             digest[3], digest[4], digest[5], digest[6], digest[7]);
}

const char *hub_style_href(void)
{
    pthread_once(&href_once, make_href);
    return href;
}

void hub_style_send(h2o_req_t *req)
{
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = sizeof(hub_style_css) - 1;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/css; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("public, max-age=31536000, immutable"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    hub_send_inline(req, hub_style_css, sizeof(hub_style_css) - 1);
}
