/* The consoles' audit log: a ring of entries in HUB_T_AUDIT keyed by a zero-padded sequence number, and log lines. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <h2o.h>
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/log.h"
#include "idp/audit.h"
#include "idp/invalid.h"
#include "hub/util.h"

#define SEQ_COUNTER "seq:audit"
#define KEY_LEN 20 /* digits of a uint64_t */

static void seq_key(char out[KEY_LEN + 1], uint64_t seq)
{
    snprintf(out, KEY_LEN + 1, "%020" PRIu64, seq);
}

/* s cut to IDP_AUDIT_TEXT bytes on a character boundary, one line (idp_quote), into out. */
static const char *clean(char out[IDP_AUDIT_TEXT], const char *s)
{
    return idp_quote(out, IDP_AUDIT_TEXT, s != NULL ? s : "");
}

int idp_audit_add(hub_txn_t *txn, idp_audit_t *e)
{
    char key[KEY_LEN + 1], v[5][IDP_AUDIT_TEXT];
    uint64_t seq;
    json_t *rec;
    int ret;

    if ((ret = hub_store_bump(txn, SEQ_COUNTER, &seq)) != 0)
        return ret;
    e->seq = seq;
    e->at = hub_now();
    rec =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "at", (json_int_t)e->at, "who", clean(v[0], e->who), "sub", clean(v[1], e->sub),
                  "from", clean(v[2], e->from), "action", clean(v[3], e->action), "target", clean(v[4], e->target));
    if (rec == NULL)
        hub_oom();
    seq_key(key, seq);
    ret = hub_store_put_json(txn, HUB_T_AUDIT, key, rec, 0, 0);
    json_decref(rec);
    if (ret == 0 && seq > IDP_AUDIT_KEEP) {
        seq_key(key, seq - IDP_AUDIT_KEEP);
        if ((ret = hub_store_del(txn, HUB_T_AUDIT, key, KEY_LEN)) == HUB_E_NOTFOUND)
            ret = 0;
    }
    return ret;
}

void idp_audit_log(const idp_audit_t *e)
{
    char v[5][IDP_AUDIT_TEXT];

    hub_log_info("audit #%" PRIu64 ": %s by %s (%s) from %s: %s", e->seq, clean(v[0], e->action), clean(v[1], e->who),
                 clean(v[2], e->sub), clean(v[3], e->from), clean(v[4], e->target));
}

typedef struct {
    idp_audit_list_t *l;
    size_t cap;
} collect_t;

static int collect_cb(void *arg, hub_val_t key, hub_val_t val)
{
    collect_t *c = arg;
    idp_audit_list_t *l = c->l;
    json_t *rec = json_loadb(val.data, val.len, 0, NULL);
    static const char *const names[5] = {"who", "sub", "from", "action", "target"};
    char num[KEY_LEN + 1];

    if (rec == NULL || key.len != KEY_LEN || l->n == c->cap) {
        json_decref(rec);
        return 0;
    }
    idp_audit_t *e = &l->v[l->n];
    memcpy(num, key.data, KEY_LEN);
    num[KEY_LEN] = '\0';
    e->seq = strtoull(num, NULL, 10);
    e->at = (uint64_t)json_integer_value(json_object_get(rec, "at"));
    for (size_t i = 0; i != 5; ++i) {
        const char *s = json_string_value(json_object_get(rec, names[i]));
        l->texts[l->n * 5 + i] = hub_strdup(s != NULL ? s : "");
    }
    e->who = l->texts[l->n * 5];
    e->sub = l->texts[l->n * 5 + 1];
    e->from = l->texts[l->n * 5 + 2];
    e->action = l->texts[l->n * 5 + 3];
    e->target = l->texts[l->n * 5 + 4];
    ++l->n;
    json_decref(rec);
    return 0;
}

void idp_audit_list_free(idp_audit_list_t *l)
{
    for (size_t i = 0; i != l->n * 5; ++i)
        free(l->texts[i]);
    free(l->texts);
    free(l->v);
    *l = (idp_audit_list_t){NULL, 0, NULL};
}

int idp_audit_recent(hub_txn_t *txn, size_t max, idp_audit_list_t *out)
{
    uint64_t last = hub_store_counter(txn, SEQ_COUNTER);
    collect_t c = {out, max < IDP_AUDIT_KEEP ? max : IDP_AUDIT_KEEP};
    char from[KEY_LEN + 1];
    int ret;

    *out = (idp_audit_list_t){NULL, 0, NULL};
    if (last == 0 || c.cap == 0)
        return 0;
    seq_key(from, last >= c.cap ? last - c.cap + 1 : 1);
    out->v = hub_xcalloc(c.cap, sizeof(*out->v));
    out->texts = hub_xcalloc(c.cap * 5, sizeof(char *));
    if ((ret = hub_store_each_from(txn, HUB_T_AUDIT, NULL, 0, from, KEY_LEN, collect_cb, &c)) != 0) {
        idp_audit_list_free(out);
        return ret;
    }
    for (size_t i = 0, j = out->n; i < j--; ++i) { /* oldest first in key order: newest first for the reader */
        idp_audit_t e = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = e;
    }
    return 0;
}
