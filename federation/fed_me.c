/* /auth/me (fed_me.h): {sub, name, email, roles, client_id, exp} of the caller, or the 401 of an API. */
#include <string.h>
#include "federation/fed_identify.h"
#include "federation/fed_me.h"
#include "hub/jsonw.h"
#include "hub/resp.h"

/* Room for s as a JSON string (6 bytes per byte escaped) or null. */
static size_t json_room(const char *s)
{
    return s != NULL ? strlen(s) * 6 + 8 : 8;
}

/* The identity written straight into the response's buffer (hub/jsonw): this is the hot path of a Bearer-checking
 * API, where a jansson tree would cost more than the rest of the request. */
static void send_identity(h2o_req_t *req, const fed_identity_t *id)
{
    size_t i, len, cap = 128 + json_room(id->sub) + json_room(id->name) + json_room(id->email) + json_room(id->client_id);
    hub_jw_t w;

    for (i = 0; i != id->nroles; ++i)
        cap += json_room(id->roles[i]) + 1;
    hub_jw_init(&w, h2o_mem_alloc_pool(&req->pool, cap), cap);
    hub_jw_open(&w, '{');
    hub_jw_kstr(&w, "sub", id->sub);
    hub_jw_kstr(&w, "name", id->name);
    hub_jw_kstr(&w, "email", id->email);
    hub_jw_key(&w, "roles");
    hub_jw_open(&w, '[');
    for (i = 0; i != id->nroles; ++i)
        hub_jw_str(&w, id->roles[i]);
    hub_jw_close(&w, ']');
    hub_jw_kstr(&w, "client_id", id->client_id);
    hub_jw_kuint(&w, "exp", id->exp);
    hub_jw_close(&w, '}');
    if (hub_jw_finish(&w, &len) != 0) { /* the claims were JSON strings: valid UTF-8, and the room is counted */
        hub_send_oauth_error(req, HUB_OAUTH_SERVER_ERROR, "the identity cannot be written as JSON");
        return;
    }
    hub_send_json_text(req, 200, w.buf, len, 1);
}

static void on_me_resume(h2o_req_t *req, void *data);

/* Answers /auth/me, unless req was parked (may_wait) for a JWKS round or its session's refresh: on_me_resume then
 * does. */
static void me(fed_t *fed, h2o_req_t *req, int may_wait)
{
    fed_identity_t id;
    const char *why;
    fed_who_t who = fed_identify(fed, req, &id, &why, may_wait ? on_me_resume : NULL, fed);

    if (who == FED_WHO_WAIT)
        return;
    if (who != FED_WHO_OK) {
        fed_send_unauthorized(req, who, why);
        return;
    }
    send_identity(req, &id);
}

static void on_me_resume(h2o_req_t *req, void *data)
{
    me(data, req, 0);
}

static int on_me(void *data, h2o_req_t *req)
{
    me(data, req, 1);
    return 0;
}

void fed_me_register(fed_t *fed)
{
    static const hub_route_t route = {"/auth/me", NULL, HUB_GET | HUB_HEAD, HUB_MATCH_EXACT, HUB_STYLE_OAUTH, NULL};
    hub_server_add_route(fed->server, &route, on_me, fed, NULL);
}
