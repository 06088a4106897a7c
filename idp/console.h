/* What the consoles (SPEC §11: /admin/ for System Managers, /account/ for every signed-in user) share: each page
 * declared as a route (exact path, methods, HTML errors) behind one gate, the page frame, forms and their messages,
 * and changes that are POSTs with a CSRF token bound to the session and leave an audit entry.
 *
 * The gate, on every request: the session from the cookie (none: 302 to the sign-in page with next= back), the user
 * read again from the store (a disabled or deleted user has no session; a user who lost System Manager gets 403 on
 * /admin/ at once), then for a POST the form (bounded, a form body) and its CSRF token (missing or wrong: 403, nothing
 * changes). Only then the page's handler runs.
 *
 * No console request touches the store on its loop (SPEC §9). The session, its user and what the page shows are read in
 * one read transaction on the store's readers (hub/park.h), so the role is checked on the data the page is built from;
 * a change is a second step on the store's writer, whose transaction checks the session, the user and the role once
 * more before it writes. While a step runs the request is parked: c->req is NULL, and c (with its form and whatever the
 * page keeps in c's memory) belongs to the step; a client that leaves meanwhile gets no answer, and c is freed when the
 * step ends. */
#ifndef IDP_CONSOLE_H
#define IDP_CONSOLE_H

#include <h2o.h>
#include "hub/crypto.h"
#include "hub/form.h"
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

/* One console request. Its memory is its own (not the request's pool), so that its steps may read it on other threads
 * and a client that leaves frees nothing a step still uses. */
typedef struct st_idp_creq_t {
    idp_t *idp;
    h2o_req_t *req; /* the request to answer, on its loop; NULL while a step runs (parked) */
    hub_park_t park;
    h2o_mem_pool_t pool; /* c's memory: the form, the page's data, what its steps keep (idp_console_alloc) */
    const idp_console_page_t *page;
    char session_hash[HUB_SECRET_HASH_LEN + 1]; /* the session cookie's, "" when the request has none */
    idp_session_t *session;                     /* live, read by the gate's step */
    idp_user_t *user;                           /* read again for this request, in that same transaction */
    int admin;                                  /* user holds System Manager */
    int post;                                   /* a POST (else GET or HEAD) */
    int input;                                  /* 0, or the status of a form that could not be read (400, 413) */
    hub_form_t form;                            /* a POST's body (its CSRF token checked before the handler), a GET's query */
    const char *csrf;                           /* the console's form token for this session (the request's pool) */
    char from[64];                              /* the peer's address */
    void *data;                                 /* the page's (idp_console_page_t.read), zeroed, in c's memory */
    unsigned refs;                              /* the gate and each step running: c is freed at 0 */
} idp_creq_t;

typedef void (*idp_console_fn)(idp_creq_t *c);

/* A console page: an exact path with its handlers; the router answers 404 under it and 405 for other methods. What the
 * page shows or acts on is read by read (may be NULL) in the gate's transaction, after the session and the user and only
 * when the gate lets the page run, into c->data (data_size bytes, zeroed; data_dispose, may be NULL, frees what read put
 * there when c goes). read runs on the store's readers: it may use c->form, c->user and c->data, nothing of the request.
 * It returns 0 (what it did not find, it says in data) or the store's error (the answer is then a 503 or 500 page). */
struct st_idp_console_page_t {
    const char *path;
    int admin_only;     /* System Manager required */
    idp_console_fn get; /* GET and HEAD, or NULL */
    idp_console_fn post;
    int (*read)(hub_txn_t *txn, idp_creq_t *c);
    size_t data_size;
    void (*data_dispose)(void *data);
};

/* Registers pages (n of them) on idp's server behind the gate, in their order: a path before any prefix of it ("/a/b"
 * before "/a"), since h2o gives a request to the first route whose path is a prefix of its own. Only before the server
 * runs; the folders (idp_console_register_tail) come after every page. */
void idp_console_add(idp_t *idp, const idp_console_page_t *pages, size_t n);
/* Registers the stylesheet, "/admin/" (the overview page exactly, the router's 404 under it), "/account/" likewise, and
 * "/admin" and "/account" (a redirect to the page with the slash). */
void idp_console_register_tail(idp_t *idp, const idp_console_page_t *admin_home, const idp_console_page_t *account_home);

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
/* A form of one button posting name=value (both may be NULL) to action; cls "danger" or NULL. */
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

/* The page for a step that failed with ret: 503 with Retry-After when the store cannot serve now (HUB_E_UNAVAILABLE, or
 * HUB_E_BUSY: a queue is full), else 500 with title and message. */
void idp_console_failed(idp_creq_t *c, int ret, const char *title, const char *message);

/* ---- memory and steps ----
 * A handler (or a step's done) that starts a step returns at once; the step's done answers. Whatever a step uses must be
 * in c's memory, never in the request's pool: the request may be gone when the step runs. */

/* size bytes of c's memory, zeroed, valid until c is freed; dispose(ptr) (may be NULL) runs then, whether the request was
 * answered or its client left. On the loop only. */
void *idp_console_alloc(idp_creq_t *c, size_t size, void (*dispose)(void *ptr));

/* After a change or a write: ret is what fn returned (0: committed) or the store's error. */
typedef void (*idp_console_done_fn)(idp_creq_t *c, void *arg, int ret);

/* Runs fn on the store's writer inside one write transaction with an audit entry (c's user, from c's address, action,
 * and the target fn writes into target: at most IDP_AUDIT_TEXT bytes, never a secret), after checking in that same
 * transaction that c's session is still live and its user's, and still holds System Manager on an admin page; once it
 * commits, the entry is logged (also when the client left). Then done(c, arg, ret) on the loop, unless the client left:
 * the refusal of a session that ended (302 to sign in) or of a role lost (403) is answered here, as is a full queue
 * (503). fn may run more than once and must have no effect outside txn; it may read arg, c->user, c->session and c->form.
 * arg lives in c's memory (or is c). */
void idp_console_change(idp_creq_t *c, const char *action, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg,
                        idp_console_done_fn done);
/* On a worker, never a loop: the audit entry of a change that work already made through transactions of its own (the
 * key commands, after idp_console_allowed), in a write transaction on this thread, so that a client leaving cannot skip
 * it; logged once committed. fn writes the target. Returns 0 or the store's error. */
int idp_console_audit_here(idp_creq_t *c, const char *action, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg);
/* The same for a write that is no change of the user's (not audited, not checked again): a count the page keeps. */
void idp_console_write(idp_creq_t *c, int (*fn)(hub_txn_t *txn, void *arg, char *target), void *arg, idp_console_done_fn done);

/* Runs work(arg) on the worker pool (CPU-heavy: Argon2id, key generation; skipped when the client left before a worker
 * took it), then done(c, arg) on this loop when the request is still there. arg lives in c's memory. On a full pool the
 * answer is a 503 page and done does not run. */
void idp_console_job(idp_creq_t *c, void (*work)(void *arg), void (*done)(idp_creq_t *c, void *arg), void *arg);

/* In a transaction (any thread): 0 when c's session is live and still its user's (enabled), and the user still holds
 * System Manager on an admin page; HUB_E_NOTFOUND when the session is not, HUB_E_DENIED when the role is not; or the
 * store's error. What idp_console_change checks before it writes; work that writes through transactions of its own (the
 * key commands) calls it first. */
int idp_console_allowed(hub_txn_t *txn, const idp_creq_t *c);
/* The answer when idp_console_allowed said why not: HUB_E_DENIED, 403 (the role was lost); else 302 to sign in. */
void idp_console_refuse(idp_creq_t *c, int why);

#endif
