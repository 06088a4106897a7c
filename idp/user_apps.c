/* The apps a user has granted access to, from the consent grants and the user's listed token families, and revoking
 * one of them. */
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include "hub/err.h"
#include "hub/util.h"
#include "idp/client.h"
#include "idp/grants.h"
#include "idp/user_apps.h"

typedef struct {
    hub_txn_t *txn;
    idp_user_app_t *v;
    size_t n;
} apps_t;

/* The entry of client_id, added when it is new (NULL when the list is full). */
static idp_user_app_t *app_of(apps_t *a, const char *client_id)
{
    for (size_t i = 0; i != a->n; ++i)
        if (strcmp(a->v[i].client_id, client_id) == 0)
            return &a->v[i];
    if (a->n == IDP_USER_APPS_MAX)
        return NULL;
    idp_user_app_t *app = &a->v[a->n++];
    memset(app, 0, sizeof(*app));
    app->client_id = hub_strdup(client_id);
    return app;
}

static void note_since(idp_user_app_t *app, uint64_t at)
{
    if (at != 0 && (app->since == 0 || at < app->since))
        app->since = at;
}

static int consent_cb(void *arg, const idp_consent_t *g)
{
    apps_t *a = arg;
    idp_user_app_t *app = app_of(a, g->client_id);

    if (app != NULL) {
        app->consent = 1;
        free(app->scope);
        app->scope = hub_strdup(g->scope);
        note_since(app, g->at);
    }
    return 0;
}

static int family_cb(void *arg, const idp_user_family_t *f)
{
    apps_t *a = arg;
    idp_family_t *fam = NULL;
    idp_user_app_t *app;

    if (idp_family_get(a->txn, f->family, &fam) != 0 || fam->revoked || (app = app_of(a, f->client_id)) == NULL) {
        idp_family_free(fam);
        return 0;
    }
    idp_family_free(fam);
    ++app->families;
    if (!app->consent && f->scope != NULL) {
        free(app->scope);
        app->scope = hub_strdup(f->scope); /* the newest family listed last wins */
    }
    note_since(app, f->at);
    return 0;
}

static int by_client(const void *x, const void *y)
{
    return strcmp(((const idp_user_app_t *)x)->client_id, ((const idp_user_app_t *)y)->client_id);
}

int idp_user_apps_list(hub_txn_t *txn, const char *sub, idp_user_app_t **out, size_t *n)
{
    apps_t a = {txn, hub_xcalloc(IDP_USER_APPS_MAX, sizeof(idp_user_app_t)), 0};
    int ret;

    *out = NULL;
    *n = 0;
    if ((ret = idp_consent_each(txn, sub, consent_cb, &a)) != 0 ||
        (ret = idp_user_families_each(txn, sub, NULL, family_cb, &a)) != 0) {
        idp_user_apps_free(a.v, a.n);
        return ret;
    }
    /* an app whose families all ended and whose consent expired holds nothing: family_cb never added it */
    for (size_t i = 0; i != a.n; ++i) {
        idp_client_t *c = NULL;
        if (idp_client_get(txn, a.v[i].client_id, &c) == 0)
            a.v[i].app_name = hub_strdup(c->app_name);
        idp_client_free(c);
    }
    qsort(a.v, a.n, sizeof(*a.v), by_client);
    *out = a.v;
    *n = a.n;
    return 0;
}

void idp_user_apps_free(idp_user_app_t *apps, size_t n)
{
    for (size_t i = 0; apps != NULL && i != n; ++i) {
        free(apps[i].client_id);
        free(apps[i].app_name);
        free(apps[i].scope);
    }
    free(apps);
}

typedef struct {
    char **families;
    size_t n, cap;
} collect_t;

static int collect_cb(void *arg, const idp_user_family_t *f)
{
    collect_t *c = arg;

    if (c->n == c->cap) {
        c->cap = c->cap != 0 ? c->cap * 2 : 16;
        c->families = hub_xrealloc(c->families, c->cap * sizeof(char *));
    }
    c->families[c->n++] = hub_strdup(f->family);
    return 0;
}

int idp_user_app_revoke(hub_txn_t *txn, const char *sub, const char *client_id, size_t *revoked)
{
    collect_t c = {NULL, 0, 0};
    size_t done = 0;
    int ret, consent;

    if (revoked != NULL)
        *revoked = 0;
    /* collected first: the listing is deleted below, and a table must not be written while it is walked */
    if ((ret = idp_user_families_each(txn, sub, client_id, collect_cb, &c)) != 0)
        goto out;
    for (size_t i = 0; i != c.n; ++i) {
        if ((ret = idp_family_revoke(txn, c.families[i])) == 0)
            ++done;
        else if (ret != HUB_E_NOTFOUND)
            goto out;
        if ((ret = idp_user_family_forget(txn, sub, client_id, c.families[i])) != 0 && ret != HUB_E_NOTFOUND)
            goto out;
    }
    consent = idp_consent_revoke(txn, sub, client_id);
    if (consent != 0 && consent != HUB_E_NOTFOUND && consent != HUB_E_INVAL) {
        ret = consent;
        goto out;
    }
    ret = c.n == 0 && consent != 0 ? HUB_E_NOTFOUND : 0;
    if (revoked != NULL)
        *revoked = done;
out:
    for (size_t i = 0; i != c.n; ++i)
        free(c.families[i]);
    free(c.families);
    return ret;
}
