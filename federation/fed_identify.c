/* The caller's identity on a secondary (fed_identify.h). */
#include <string.h>
#include <strings.h>
#include "federation/fed_identify.h"
#include "federation/fed_refresh.h"
#include "federation/fed_session.h"
#include "federation/fed_worker.h"
#include "hub/err.h"
#include "hub/form.h"
#include "hub/resp.h"

/* A Bearer token's identity; FED_WHO_WAIT when req was parked for a JWKS round. */
static fed_who_t from_token(fed_t *fed, h2o_req_t *req, const char *t, size_t len, fed_identity_t *id, const char **why,
                            fed_resume_cb resume, void *data)
{
    uint64_t seen;
    int ret;

    while (len != 0 && *t == ' ')
        ++t, --len;
    while (len != 0 && t[len - 1] == ' ')
        --len;
    if (len == 0 || len > FED_BEARER_MAX) {
        *why = "the Bearer token is empty or too long";
        return FED_WHO_BAD_TOKEN;
    }
    seen = fed_jwks_rounds(fed->jwks);
    ret = fed_verify_access_token(fed->verify, fed_join_current(fed->join)->client_id, t, len, &req->pool, id, why);
    if (ret == HUB_E_NOTFOUND && fed_kid_wait(fed, req, seen, resume, data))
        return FED_WHO_WAIT;
    return ret == 0 ? FED_WHO_OK : FED_WHO_BAD_TOKEN;
}

/* The session cookie's identity; a session past its access token's lifetime re-validates with the primary first. */
static fed_who_t from_session(fed_t *fed, h2o_req_t *req, const char *cookie, fed_identity_t *id, fed_resume_cb resume, void *data)
{
    static const fed_who_t of_gate[] = {
        [FED_GATE_OK] = FED_WHO_OK, [FED_GATE_WAIT] = FED_WHO_WAIT, [FED_GATE_ENDED] = FED_WHO_NONE};
    fed_session_t s;
    fed_who_t who;

    if (fed_session_load(fed->store, cookie, &req->pool, &s) != 0)
        return FED_WHO_NONE;
    if ((who = of_gate[fed_refresh_gate(fed, req, &s, resume, data)]) == FED_WHO_OK)
        *id = s.id;
    return who;
}

fed_who_t fed_identify(fed_t *fed, h2o_req_t *req, fed_identity_t *id, const char **why, fed_resume_cb resume, void *data)
{
    ssize_t cursor = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *cookie;

    *why = NULL;
    if (cursor != -1) {
        h2o_iovec_t v = req->headers.entries[cursor].value;
        if (v.len > 7 && strncasecmp(v.base, "Bearer ", 7) == 0)
            return from_token(fed, req, v.base + 7, v.len - 7, id, why, resume, data);
    }
    if ((cookie = hub_req_cookie(&req->pool, req, fed->session_cookie)) != NULL)
        return from_session(fed, req, cookie, id, resume, data);
    return FED_WHO_NONE;
}

void fed_send_unauthorized(h2o_req_t *req, fed_who_t who, const char *why)
{
    if (who == FED_WHO_BAD_TOKEN) {
        hub_send_oauth_error(req, HUB_OAUTH_INVALID_TOKEN, why != NULL ? why : "the access token is not valid");
        return;
    }
    hub_resp_header(req, "www-authenticate", "Bearer realm=\"hub\"");
    hub_send_json(req, 401,
                  json_pack("{s:s,s:s}", "error", "login_required", "error_description",
                            "sign in at /auth/login or send a Bearer access token"),
                  1);
}
