/* The secondary's cache of the primary's public keys (SPEC §6 local verification). */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "federation/fed_jwks.h"
#include "hub/clock.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/log.h"
#include "hub/store.h"

#define MAX_KEYS 32

typedef struct st_keyset_t {
    struct st_keyset_t *older; /* every snapshot is kept until destroy: readers hold no lock */
    char *raw;
    size_t rawlen;
    size_t n;
    hub_key_t *keys[MAX_KEYS];
} keyset_t;

struct st_fed_jwks_t {
    keyset_t *current; /* atomic */
    pthread_mutex_t install_mutex;
    uint64_t last_forced; /* atomic: hub_now() of the last refresh asked for by an unknown kid or the primary */
    int deferred;         /* atomic: the primary asked while rate-limited (fed_jwks_changed) */
    /* rounds of refresh (fed_jwks.h): an ask and the round counters change together under round_mutex, so a request's
     * target is never a round that started before it looked */
    pthread_mutex_t round_mutex;
    int asked;        /* under round_mutex, written atomically: an unknown kid asked and no round took it yet */
    uint64_t started; /* under round_mutex */
    uint64_t done;    /* under round_mutex, written atomically (fed_jwks_rounds reads it without the lock) */
    void (*wake)(void *);
    void *wake_arg;
};

fed_jwks_t *fed_jwks_create(void (*wake)(void *arg), void *arg)
{
    fed_jwks_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    pthread_mutex_init(&j->install_mutex, NULL);
    pthread_mutex_init(&j->round_mutex, NULL);
    j->wake = wake;
    j->wake_arg = arg;
    return j;
}

static void keyset_free(keyset_t *ks)
{
    size_t i;
    for (i = 0; i != ks->n; ++i)
        hub_key_free(ks->keys[i]);
    free(ks->raw);
    free(ks);
}

void fed_jwks_destroy(fed_jwks_t *j)
{
    keyset_t *ks, *older;
    if (j == NULL)
        return;
    for (ks = j->current; ks != NULL; ks = older) {
        older = ks->older;
        keyset_free(ks);
    }
    pthread_mutex_destroy(&j->install_mutex);
    pthread_mutex_destroy(&j->round_mutex);
    free(j);
}

static keyset_t *keyset_parse(const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL), *keys, *jwk;
    keyset_t *ks = NULL;
    size_t i;

    if (doc == NULL || !json_is_array(keys = json_object_get(doc, "keys")))
        goto out;
    if ((ks = calloc(1, sizeof(*ks))) == NULL || (ks->raw = malloc(len + 1)) == NULL)
        abort();
    memcpy(ks->raw, json, len);
    ks->raw[len] = '\0';
    ks->rawlen = len;
    json_array_foreach(keys, i, jwk)
    {
        hub_key_t *key;
        if (ks->n == MAX_KEYS)
            break;
        if (hub_key_from_jwk(&key, jwk) != 0) {
            hub_log_debug("jwks: skipping an unusable key");
            continue;
        }
        if (key->kid[0] == '\0') { /* a key must be findable by kid */
            hub_key_free(key);
            continue;
        }
        ks->keys[ks->n++] = key;
    }
    if (ks->n == 0) {
        keyset_free(ks);
        ks = NULL;
    }
out:
    json_decref(doc);
    return ks;
}

int fed_jwks_install(fed_jwks_t *j, const char *json, size_t len)
{
    keyset_t *cur, *ks;
    int ret = 0;

    pthread_mutex_lock(&j->install_mutex);
    cur = __atomic_load_n(&j->current, __ATOMIC_ACQUIRE);
    if (cur != NULL && cur->rawlen == len && memcmp(cur->raw, json, len) == 0)
        goto out; /* unchanged: no new snapshot, so a frequent refresh does not grow memory */
    if ((ks = keyset_parse(json, len)) == NULL) {
        ret = HUB_E_PARSE;
        goto out;
    }
    ks->older = cur;
    __atomic_store_n(&j->current, ks, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&j->install_mutex);
    return ret;
}

const hub_key_t *fed_jwks_find(fed_jwks_t *j, const char *kid)
{
    keyset_t *ks = __atomic_load_n(&j->current, __ATOMIC_ACQUIRE);
    size_t i;
    if (ks == NULL || kid == NULL)
        return NULL;
    for (i = 0; i != ks->n; ++i)
        if (strcmp(ks->keys[i]->kid, kid) == 0)
            return ks->keys[i];
    return NULL;
}

size_t fed_jwks_count(fed_jwks_t *j)
{
    keyset_t *ks = __atomic_load_n(&j->current, __ATOMIC_ACQUIRE);
    return ks != NULL ? ks->n : 0;
}

char *fed_jwks_raw(fed_jwks_t *j)
{
    keyset_t *ks = __atomic_load_n(&j->current, __ATOMIC_ACQUIRE);
    char *copy;
    if (ks == NULL)
        return NULL;
    if ((copy = strdup(ks->raw)) == NULL)
        abort();
    return copy;
}

int fed_jwks_want_refresh(fed_jwks_t *j)
{
    uint64_t now = hub_now(), last = __atomic_load_n(&j->last_forced, __ATOMIC_ACQUIRE);
    if (last != 0 && now < last + FED_JWKS_FORCE_INTERVAL)
        return 0;
    /* only the thread that moves the stamp asks, so concurrent unknown kids share one refresh */
    if (!__atomic_compare_exchange_n(&j->last_forced, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&j->round_mutex);
    __atomic_store_n(&j->asked, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&j->round_mutex);
    if (j->wake != NULL)
        j->wake(j->wake_arg);
    return 1;
}

int fed_jwks_changed(fed_jwks_t *j)
{
    if (fed_jwks_want_refresh(j))
        return 1;
    __atomic_store_n(&j->deferred, 1, __ATOMIC_RELEASE);
    return 0;
}

uint64_t fed_jwks_deferred(fed_jwks_t *j, int take)
{
    uint64_t now = hub_now(), last = __atomic_load_n(&j->last_forced, __ATOMIC_ACQUIRE), at = last + FED_JWKS_FORCE_INTERVAL;
    if (!__atomic_load_n(&j->deferred, __ATOMIC_ACQUIRE))
        return 0;
    if (!take || now < at)
        return take ? 0 : at;
    /* the stamp moves first, so a refresh asked meanwhile by an unknown kid is rate-limited with this one */
    if (!__atomic_compare_exchange_n(&j->last_forced, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return 0;
    __atomic_store_n(&j->deferred, 0, __ATOMIC_RELEASE);
    return 1;
}

uint64_t fed_jwks_rounds(fed_jwks_t *j)
{
    return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

int fed_jwks_round_target(fed_jwks_t *j, uint64_t seen, uint64_t *target)
{
    int wait = 1;

    pthread_mutex_lock(&j->round_mutex);
    if (j->done != seen) /* a round ended since the caller looked: try again at once */
        *target = 0;
    else if (j->asked || j->started != j->done)
        *target = j->started + (j->asked ? 1 : 0);
    else
        wait = 0;
    pthread_mutex_unlock(&j->round_mutex);
    return wait;
}

int fed_jwks_asked(fed_jwks_t *j)
{
    return __atomic_load_n(&j->asked, __ATOMIC_ACQUIRE);
}

int fed_jwks_round_take(fed_jwks_t *j)
{
    int take;

    pthread_mutex_lock(&j->round_mutex);
    take = j->asked || fed_jwks_deferred(j, 1);
    __atomic_store_n(&j->asked, 0, __ATOMIC_RELEASE);
    if (take) /* with the ask, under the lock: a request parked from now on waits for this round */
        ++j->started;
    pthread_mutex_unlock(&j->round_mutex);
    return take;
}

void fed_jwks_round_begin(fed_jwks_t *j)
{
    pthread_mutex_lock(&j->round_mutex);
    ++j->started;
    pthread_mutex_unlock(&j->round_mutex);
}

uint64_t fed_jwks_round_end(fed_jwks_t *j)
{
    uint64_t done;

    pthread_mutex_lock(&j->round_mutex);
    __atomic_store_n(&j->done, j->started, __ATOMIC_RELEASE);
    done = j->done;
    pthread_mutex_unlock(&j->round_mutex);
    return done;
}

uint64_t fed_jwks_max_age(const char *cc)
{
    const char *p;
    uint64_t v = 0;
    if (cc == NULL)
        return 0;
    for (p = cc; *p != '\0'; ++p) {
        if (strncasecmp(p, "max-age=", 8) != 0 || (p != cc && (isalnum((unsigned char)p[-1]) || p[-1] == '-')))
            continue;
        p += 8;
        if (!isdigit((unsigned char)*p))
            return 0;
        for (; isdigit((unsigned char)*p); ++p) {
            if (v > 100000000) /* years: treat as "a long time" */
                return v;
            v = v * 10 + (uint64_t)(*p - '0');
        }
        return v;
    }
    return 0;
}

int fed_jwks_fetch(fed_jwks_t *j, const char *uri, long timeout_ms, uint64_t *max_age)
{
    static const char *const headers[] = {"Accept: application/json"};
    hub_fetch_req_t req = {.method = "GET", .url = uri, .headers = headers, .nheaders = 1, .timeout_ms = timeout_ms};
    hub_fetch_res_t res;
    int ret;

    *max_age = 0;
    if ((ret = hub_fetch_sync(&req, &res)) != 0)
        goto out;
    if (res.status != 200) {
        hub_log_warn("jwks: %s answered HTTP %ld", uri, res.status);
        ret = HUB_E_PARSE;
        goto out;
    }
    if ((ret = fed_jwks_install(j, res.body, res.body_len)) != 0) {
        hub_log_warn("jwks: %s did not answer a usable key set", uri);
        goto out;
    }
    *max_age = fed_jwks_max_age(res.cache_control);
out:
    hub_fetch_res_dispose(&res);
    return ret;
}
