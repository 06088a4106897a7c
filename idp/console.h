/* What the consoles (SPEC §11: /admin/ for System Managers, /account/ for every signed-in user) share: each page
 * declared as a route (exact path, methods, HTML errors) behind one gate, the page frame, forms and their messages,
 * and changes that are POSTs with a CSRF token bound to the session and leave an audit entry.
 *
 * The gate, on every request: the session from the cookie (none: 302 to the sign-in page with next= back), the user
 * read again from the store (a disabled or deleted user has no session; a user who lost System Manager gets 403 on
 * /admin/ at once), then for a POST the form (bounded, a form body) and its CSRF token (missing or wrong: 403, nothing
 * changes). Only then the page's handler runs. */
#ifndef IDP_CONSOLE_H
#define IDP_CONSOLE_H

#include <h2o.h>
#include "hub/form.h"
#include "hub/crypto.h"
#include "hub/page.h"
#include "hub/park.h"
#include "hub/store.h"
#include "idp/audit.h"
#include "idp/ctx.h"
#include "idp/invalid.h"
#include "idp/session.h"
#include "idp/user.h"

#define IDP_CONSOLE_ADMIN "/admin/"
#define IDP_CONSOLE_ACCOUNT "/account/"
#define IDP_CONSOLE_MAX_BODY 65536 /* bytes of a console form (HUB_FORM_MAX_LEN) */

typedef struct st_idp_console_page_t idp_console_page_t;

/* One request that passed the gate. Everything lives until the handler returns, or, when it started a step (a read, a
 * change, a job on the worker pool: each parks the request, hub/park.h), until the last step's completion. */
typedef struct st_idp_creq_t {
    idp_t *idp;
    h2o_req_t *req; /* on the loop while a handler or a step's completion runs */
    const idp_console_page_t *page;
    hub_park_t park;
    char session_hash[HUB_SECRET_HASH_LEN + 1]; /* the session cookie's */
    idp_session_t *session;                     /* live */
    idp_user_t *user;                           /* read again for this request */
    int admin;                                  /* user holds System Manager */
    hub_form_t form;                            /* a POST's body (CSRF checked), a GET's query (req->pool) */
    char csrf[64];                              /* the console's form token for this session (a copy: rows rendered
                                                   off the loop write it too) */
    char from[64];                              /* the peer's address */
    int detached;                               /* a step owns it */
    int busy;                                   /* frames running it (a handler, a completion) */
} idp_creq_t;

/* The rest of a page once a step's store work came to ret (fn's result, or a store error other than
 * HUB_E_UNAVAILABLE, which the step answers itself: 503 with Retry-After), on the loop with c's request there. arg is
 * the page's own state, which the step's dispose frees after. */
typedef void (*idp_console_then_fn)(idp_creq_t *c, void *arg, int ret);

typedef void (*idp_console_fn)(idp_creq_t *c);

/* A console page: an exact path with its handlers; the router answers 404 under it and 405 for other methods. */
struct st_idp_console_page_t {
    const char *path;
    int admin_only;     /* System Manager required */
    idp_console_fn get; /* GET and HEAD, or NULL */
    idp_console_fn post;
};

/* Registers pages (n of them) on idp's server behind the gate, in their order: a path before any prefix of it ("/a/b"
 * before "/a"), since h2o gives a request to the first route whose path is a prefix of its own. Only before the server
 * runs; the folders (idp_console_register_tail) come after every page. */
void idp_console_add(idp_t *idp, const idp_console_page_t *pages, size_t n);
/* Registers the stylesheet, "/admin/" (the overview page exactly, the router's 404 under it), "/account/" likewise, and
 * "/admin" and "/account" (a redirect to the page with the slash). */
void idp_console_register_tail(idp_t *idp, idp_console_fn admin_home, idp_console_fn account_home);

/* ---- the frame ---- */

/* Starts a page: the head, the top bar (the user, links to the consoles, the sign-out button), the admin nav when
 * current names an admin section (its path), the flash message named by the query's "flash" (a fixed text) and
 * "<main>" with the title as h1. */
void idp_console_begin(idp_creq_t *c, hub_page_t *p, const char *title, const char *current);
/* Ends "</main>" and sends the page with status under the consoles' policy. */
void idp_console_end(idp_creq_t *c, hub_page_t *p, int status);
/* A framed page with one message (403, 404, 409...). */
void idp_console_message(idp_creq_t *c, int status, const char *title, const char *message);
/* 303 to path (an absolute path of this node) with "flash=code" added to its query: after a change (POST, redirect,
 * GET), the next page shows the flash's text. */
void idp_console_done(idp_creq_t *c, const char *path, const char *flash);

/* ---- forms ---- */

/* A form field as a page declares it: the name it is posted under, its label, and the validator's field it shows the
 * messages of (IDP_FIELD_NONE: none). */
typedef struct st_idp_form_field_t {
    const char *name;
    const char *label;
    idp_field_t field;
} idp_form_field_t;

/* Reads the n fields into values (NULL when absent; the form's pool): a field sent twice is refused (HUB_E_INVAL with
 * *inv naming it), one missing while required (bit i of required) too. */
int idp_console_read(idp_creq_t *c, const idp_form_field_t *fields, size_t n, unsigned long required, const char **values,
                     idp_invalid_t *inv);
/* The value of name when the form has it exactly once, else NULL. */
const char *idp_console_arg(idp_creq_t *c, const char *name);
/* The box atop a form refused: "Please correct ..." with the label of inv's field (among fields) and its text. */
void idp_console_problem(hub_page_t *p, const idp_invalid_t *inv, const idp_form_field_t *fields, size_t n);
/* Writes "<form method=post action=ACTION>" and the CSRF token; the caller ends it with "</form>". */
void idp_console_form(idp_creq_t *c, hub_page_t *p, const char *action);
/* A form of one button posting name=value (both may be NULL) to action; cls "danger" or NULL. It reads nothing of c's
 * request: a store job may write it into a fragment (hub_page_fragment) off the loop, as idp_console_time. */
void idp_console_button(idp_creq_t *c, hub_page_t *p, const char *action, const char *name, const char *value, const char *label,
                        const char *cls);

typedef enum { IDP_INPUT_TEXT = 0, IDP_INPUT_PASSWORD, IDP_INPUT_EMAIL, IDP_INPUT_URL, IDP_INPUT_TEXTAREA } idp_input_t;
/* A labelled input of field f with its value (escaped), a hint (may be NULL) and, when inv names f's field, the message
 * next to it (aria-invalid, aria-describedby). attrs: extra attributes written as they are (a literal, may be NULL). */
void idp_console_input(hub_page_t *p, const idp_form_field_t *f, idp_input_t type, const char *value, const char *hint,
                       const idp_invalid_t *inv, const char *attrs);
/* A labelled select of field f: options as NULL-terminated pairs {value, label, ...}; selected (may be NULL). */
void idp_console_select(hub_page_t *p, const idp_form_field_t *f, const char *const *options, const char *selected,
                        const char *hint, const idp_invalid_t *inv);
/* A labelled checkbox of field f, posting "1" when checked. */
void idp_console_checkbox(hub_page_t *p, const idp_form_field_t *f, int checked, const char *hint, const idp_invalid_t *inv);
/* 1 when the form says confirm=yes; else answers with a page asking to confirm (text, then a button posting name=value
 * and confirm=yes to action, and a link back) and returns 0. For the changes that cannot be undone. */
int idp_console_confirmed(idp_creq_t *c, const char *title, const char *text, const char *action, const char *name,
                          const char *value, const char *button, const char *back);
/* A secret shown once: its label, the value in a box, and the note that it will not be shown again. */
void idp_console_secret(hub_page_t *p, const char *label, const char *value);
/* A time as "2025-01-31 12:00 UTC" (0: "-"), escaped. */
void idp_console_time(hub_page_t *p, uint64_t t);

/* ---- changes ---- */

/* The steps of a page. Each parks c's request for its work off the loop, then runs the page's next part on the loop
 * when the request is still there; dispose(arg) (may be NULL) runs in every case once the step ended (also when the
 * client left, or a full queue refused it: then the answer is a 503 page). c is the step's from here: the caller
 * returns at once, and the next part may start another step. fn and work run on another thread: arg must own what
 * they read (copies of the form's values, never req's pool). */

/* Runs fn(txn, arg) in a read transaction (on the store's readers when it has any), then then(c, arg, ret). */
void idp_console_load(idp_creq_t *c, int (*fn)(hub_txn_t *txn, void *arg), void *arg, idp_console_then_fn then,
                      void (*dispose)(void *arg));

/* Runs fn(txn, arg) in a write transaction on the store's writer (a write no one audits: a counter), then then(). */
void idp_console_write(idp_creq_t *c, int (*fn)(hub_txn_t *txn, void *arg), void *arg, idp_console_then_fn then,
                       void (*dispose)(void *arg));

/* Runs fn inside one write transaction (on the store's writer) with an audit entry (c's user, from c's address, action,
 * and the target fn writes into target: at most IDP_AUDIT_TEXT bytes, never a secret), logged once committed; then
 * then(c, arg, ret) with fn's result (0: committed) or the store's error. */
void idp_console_change(idp_creq_t *c, const char *action, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg,
                        idp_console_then_fn then, void (*dispose)(void *arg));

/* Runs work(arg) on the worker pool (CPU-heavy: Argon2id, key generation; skipped when the client left first), then
 * done(c, arg) on this loop when the request is still there. */
void idp_console_job(idp_creq_t *c, void (*work)(void *arg), void (*done)(idp_creq_t *c, void *arg), void (*dispose)(void *arg),
                     void *arg);

#endif
