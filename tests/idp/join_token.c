/* Tests idp/join_token.c: one-time tokens, single use, expiry, names. */
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/err.h"
#include "hub/store.h"
#include "idp/join_token.h"
#include "tests/check.h"
#include "tests/support/tmpdir.h"

static hub_store_t *store;

static int in_write(int (*fn)(hub_txn_t *, void *), void *arg)
{
    return hub_store_write(store, fn, arg);
}

static char tok_a[44], tok_b[44], tok_short[44];

static int join_create_txn(hub_txn_t *txn, void *arg)
{
    CHECK(idp_join_token_create(txn, "sec1", 3600, tok_a) == 0 && strlen(tok_a) == 43);
    CHECK(idp_join_token_create(txn, NULL, 3600, tok_b) == 0 && strcmp(tok_a, tok_b) != 0);
    CHECK(idp_join_token_create(txn, "short", 1, tok_short) == 0);
    char t[44];
    CHECK(idp_join_token_create(txn, "zero", 0, t) == HUB_E_INVAL);
    CHECK(idp_join_token_create(txn, "long", IDP_JOIN_TOKEN_TTL_MAX + 1, t) == HUB_E_INVAL);
    /* a node's name: printable UTF-8, not empty, at most 256 bytes */
    static const char *const bad_names[] = {"", "new\nline", "tab\tname", "esc\x1b[2J", "del\x7f", "bad\xff"};
    char longname[300];
    idp_invalid_t inv;
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    for (size_t i = 0; i != sizeof(bad_names) / sizeof(bad_names[0]); ++i) {
        CHECK(idp_join_token_create(txn, bad_names[i], 3600, t) == HUB_E_INVAL && t[0] == '\0');
        memset(&inv, 0, sizeof(inv));
        CHECK(idp_join_token_name_check(bad_names[i], &inv) == HUB_E_INVAL && inv.field == IDP_FIELD_NODE_NAME);
        CHECK(strchr(inv.text, '\n') == NULL && strchr(inv.text, '\t') == NULL && strchr(inv.text, 0x1b) == NULL);
    }
    CHECK(idp_join_token_create(txn, longname, 3600, t) == HUB_E_INVAL);
    CHECK(idp_join_token_name_check(NULL, &inv) == 0 && idp_join_token_name_check("Nöde 1", &inv) == 0);
    return 0;
}

static int join_consume_txn(hub_txn_t *txn, void *arg)
{
    char *name = NULL;
    CHECK(idp_join_token_consume(txn, tok_a, strlen(tok_a), &name) == 0 && name != NULL && strcmp(name, "sec1") == 0);
    free(name);
    CHECK(idp_join_token_consume(txn, tok_a, strlen(tok_a), &name) == HUB_E_NOTFOUND && name == NULL); /* single use */
    CHECK(idp_join_token_consume(txn, tok_b, strlen(tok_b), &name) == 0 && name == NULL);
    CHECK(idp_join_token_consume(txn, "guess", 5, &name) == HUB_E_NOTFOUND);
    CHECK(idp_join_token_consume(txn, tok_short, strlen(tok_short), &name) == HUB_E_NOTFOUND); /* expired */
    return 0;
}

int main(void)
{
    char *dir = test_tmpdir("idp-join-token");

    if (hub_store_open(&store, dir) != 0) {
        fprintf(stderr, "cannot open a store in %s\n", dir);
        test_tmpdir_remove(dir);
        return 1;
    }
    CHECK(in_write(join_create_txn, NULL) == 0);
    sleep(2);
    CHECK(in_write(join_consume_txn, NULL) == 0);

    hub_store_close(store);
    CHECK(test_tmpdir_remove(dir) == 0);
    return check_report("idp/join_token");
}
