/* Tests idp/audit.c: entries keep their fields on one line (control characters escaped, long values cut), the ring
 * keeps the last IDP_AUDIT_KEEP, and the recent ones come newest first, at most as many as asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/log.h"
#include "hub/store.h"
#include "idp/audit.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

typedef struct {
    size_t from, to; /* entries [from, to) */
} batch_t;

static int add_txn(hub_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    char target[64];
    int ret;

    for (size_t i = b->from; i != b->to; ++i) {
        snprintf(target, sizeof(target), "thing %zu", i);
        idp_audit_t e = {.who = "admin", .sub = "sub-1", .from = "127.0.0.1", .action = "test.add", .target = target};
        if ((ret = idp_audit_add(txn, &e)) != 0)
            return ret;
        if (e.seq != i + 1)
            return HUB_E_INVAL;
    }
    return 0;
}

typedef struct {
    size_t n;
    uint64_t seqs[2048];
    char last_target[IDP_AUDIT_TEXT];
} seen_t;

/* The last max entries into s, read in a transaction of their own that ends before s is filled: the list is the
 * caller's copy (a console page reads it on the store's readers and writes it on its loop). */
static int seen(hub_store_t *store, size_t max, seen_t *s)
{
    hub_txn_t *txn = NULL;
    idp_audit_list_t l;
    int ret;

    memset(s, 0, sizeof(*s));
    if ((ret = hub_store_read_begin(store, &txn)) != 0)
        return ret;
    ret = idp_audit_recent(txn, max, &l);
    hub_store_read_end(txn);
    for (size_t i = 0; ret == 0 && i != l.n && s->n < 2048; ++i) {
        s->seqs[s->n++] = l.v[i].seq;
        snprintf(s->last_target, sizeof(s->last_target), "%s", l.v[i].target);
    }
    idp_audit_list_free(&l);
    return ret;
}

static int odd_txn(hub_txn_t *txn, void *arg)
{
    char *long_target = arg;
    idp_audit_t e = {.who = "a\nb", .sub = "s", .from = "x", .action = "test.odd", .target = long_target};
    return idp_audit_add(txn, &e);
}

int main(void)
{
    char *dir = test_tmpdir("idp-audit"), big[1000];
    hub_store_t *store = NULL;
    seen_t *s = calloc(1, sizeof(*s));
    batch_t b = {0, 600};

    hub_log_init(HUB_LOG_WARN, "audit");
    CHECK(hub_store_open(&store, dir) == 0);
    CHECK(seen(store, 10, s) == 0 && s->n == 0); /* none yet */
    CHECK(hub_store_write(store, add_txn, &b) == 0);
    b = (batch_t){600, IDP_AUDIT_KEEP + 25};
    CHECK(hub_store_write(store, add_txn, &b) == 0);
    /* the ring: the oldest 25 are gone */
    CHECK(seen(store, 5, s) == 0 && s->n == 5);
    CHECK(s->seqs[0] == IDP_AUDIT_KEEP + 25 && s->seqs[4] == IDP_AUDIT_KEEP + 21);
    CHECK(seen(store, 5000, s) == 0 && s->n == IDP_AUDIT_KEEP); /* never more than kept */
    CHECK(s->seqs[IDP_AUDIT_KEEP - 1] == 26 && strcmp(s->last_target, "thing 25") == 0);
    for (size_t i = 1; i != s->n; ++i)
        CHECK(s->seqs[i] + 1 == s->seqs[i - 1]);
    /* odd values: one line, cut */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(hub_store_write(store, odd_txn, big) == 0);
    CHECK(seen(store, 1, s) == 0 && s->n == 1);
    CHECK(strlen(s->last_target) < IDP_AUDIT_TEXT && strcmp(s->last_target + strlen(s->last_target) - 3, "...") == 0);
    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    free(s);
    return check_report("idp/audit");
}
