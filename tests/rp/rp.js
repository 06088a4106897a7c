#!/usr/bin/env node
// Drives a hub primary with the unmodified openid-client (certified OIDC RP) and jose libraries:
// discovery, code flow with PKCE (confidential and public clients), id_token validation, userinfo,
// refresh with rotation, introspection, revocation, RFC 9068 access-token validation and client_credentials.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { Issuer, generators, custom, errors } = require('openid-client');
const jose = require('jose');

const USAGE = `usage: node rp.js --issuer URL --alg RS256|ES256|EdDSA --username U --password-file P
    --client-id ID --client-secret S --public-client-id ID --redirect-uri URI
    [--expect-consent yes|no] [--post-logout-redirect-uri URI] [--cc-client-id ID --cc-client-secret S]
    [--implicit-client-id ID] [--join-token T --backchannel-logout-uri URI]`;

function parseArgs(argv) {
    const out = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith('--') || argv[i + 1] === undefined)
            fail(`bad argument "${argv[i]}"\n${USAGE}`);
        out[argv[i].slice(2)] = argv[i + 1];
    }
    for (const k of ['issuer', 'alg', 'username', 'password-file', 'client-id', 'client-secret', 'public-client-id',
                     'redirect-uri'])
        if (!out[k])
            fail(`missing --${k}\n${USAGE}`);
    return out;
}

function fail(msg) {
    console.error(`rp: FAIL: ${msg}`);
    process.exit(1);
}

let steps = 0;
function step(what) {
    steps++;
    console.log(`rp: ok   ${what}`);
}

function check(cond, what) {
    if (!cond)
        throw new Error(`check failed: ${what}`);
}

async function expectOPError(promise, error, what) {
    try {
        await promise;
    } catch (e) {
        if (e instanceof errors.OPError && e.error === error)
            return e;
        throw new Error(`${what}: expected OP error ${error}, got ${e && (e.error || e.message)}`);
    }
    throw new Error(`${what}: expected OP error ${error}, but it succeeded`);
}

function htmlUnescape(s) {
    return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
        const l = e.toLowerCase();
        if (l === 'amp') return '&';
        if (l === 'lt') return '<';
        if (l === 'gt') return '>';
        if (l === 'quot') return '"';
        if (l === 'apos') return "'";
        if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
        return String.fromCodePoint(parseInt(l.slice(1), 10));
    });
}

// The <input name=... value=...> fields of the first form on a page (attribute order as the hub writes it or reversed).
function formFields(html) {
    const fields = {};
    for (const m of html.matchAll(/<input\b[^>]*>/gi)) {
        const tag = m[0];
        const name = /\bname="([^"]*)"/i.exec(tag);
        const value = /\bvalue="([^"]*)"/i.exec(tag);
        if (name)
            fields[htmlUnescape(name[1])] = value ? htmlUnescape(value[1]) : '';
    }
    return fields;
}

function formAction(html) {
    const m = /<form\b[^>]*\baction="([^"]*)"/i.exec(html);
    return m ? htmlUnescape(m[1]) : null;
}

// One HTTP exchange through node:http, resolving {status, headers, body}; headers['set-cookie'] is always an array.
// Not fetch: Debian 12's Node 18 runs fetch on Debian's undici 5.15, whose Headers have no getSetCookie() and
// join several Set-Cookie headers into one string (a date in Expires has a comma too), so the jar would lose cookies.
function httpExchange(method, url, headers, body) {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
        const req = (u.protocol === 'https:' ? https : http).request(u, { method, headers }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                          body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.setTimeout(10000, () => req.destroy(new Error(`timed out: ${method} ${url}`)));
        req.on('error', reject);
        req.end(body);
    });
}

// A minimal browser: plain HTTP with a cookie jar, following redirects until one leaves for the RP's redirect URI.
class Browser {
    constructor(...stopAt) {
        this.jar = new Map();
        this.stopAt = stopAt;
    }

    cookieHeader() {
        return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    }

    // Keeps or drops each cookie of the response's Set-Cookie headers (RFC 6265: an empty value, Max-Age <= 0 or an
    // Expires in the past removes it). Paths and domains are not kept: the flows stay on one origin per jar.
    keepCookies(setCookies) {
        for (const sc of setCookies || []) {
            const [nv, ...attrs] = sc.split(';');
            const eq = nv.indexOf('=');
            if (eq <= 0)
                continue;
            const name = nv.slice(0, eq).trim(), value = nv.slice(eq + 1).trim();
            const expired = attrs.some((a) => {
                const m = /^\s*(max-age|expires)\s*=\s*(.*?)\s*$/i.exec(a);
                if (!m)
                    return false;
                return m[1].toLowerCase() === 'max-age' ? Number(m[2]) <= 0 : Date.parse(m[2]) <= Date.now();
            });
            if (expired || value === '')
                this.jar.delete(name);
            else
                this.jar.set(name, value);
        }
    }

    // Returns {callback: url} when redirected to the RP, else {res: {status, headers}, body, url} for an HTML page.
    async go(method, url, form) {
        for (let hops = 0; hops < 10; hops++) {
            const headers = { Accept: 'text/html' };
            if (this.jar.size)
                headers.Cookie = this.cookieHeader();
            let body;
            if (form) {
                body = new URLSearchParams(form).toString();
                headers['Content-Type'] = 'application/x-www-form-urlencoded';
                headers['Content-Length'] = Buffer.byteLength(body);
            }
            const res = await httpExchange(method, url, headers, body);
            this.keepCookies(res.headers['set-cookie']);
            const loc = res.headers.location;
            if ([301, 302, 303, 307].includes(res.status) && loc) {
                const next = new URL(loc, url).toString();
                if (this.stopAt.some((u) => next.startsWith(u)))
                    return { callback: next };
                if (res.status !== 307) {
                    method = 'GET';
                    form = undefined;
                }
                url = next;
                continue;
            }
            return { res, body: res.body, url };
        }
        throw new Error('too many redirects');
    }
}

// Plays the user in browser b: opens the authorization URL, signs in and approves consent when asked.
// Returns {callback, signedIn, consented}.
async function userAgent(b, authUrl, username, password, decision = 'allow') {
    let signedIn = false, consented = false;
    let r = await b.go('GET', authUrl);
    for (let pages = 0; pages < 4 && !r.callback; pages++) {
        const action = formAction(r.body);
        if (r.res.status !== 200 || !action)
            throw new Error(`unexpected page ${r.res.status} at ${r.url}: ${r.body.slice(0, 300)}`);
        const fields = formFields(r.body);
        const target = new URL(action, r.url).toString();
        if ('password' in fields) {
            check('csrf_token' in fields && 'next' in fields && 'username' in fields, 'sign-in form has csrf_token, next, username');
            fields.username = username;
            fields.password = password;
            signedIn = true;
            r = await b.go('POST', target, fields);
        } else if (/\/oauth2\/approve$/.test(new URL(target).pathname)) {
            const allow = new RegExp(`<button\\b[^>]*\\bname="([^"]*)"[^>]*\\bvalue="(${decision})"`, 'i').exec(r.body);
            check(allow, `consent page has an ${decision} button`);
            fields[htmlUnescape(allow[1])] = allow[2];
            consented = true;
            r = await b.go('POST', target, fields);
        } else {
            throw new Error(`unexpected form posting to ${target}`);
        }
    }
    if (!r.callback)
        throw new Error(`never redirected back to the RP; last page ${r.res && r.res.status} at ${r.url}`);
    return { callback: r.callback, signedIn, consented };
}

// One code flow with PKCE for client in browser b (a fresh one by default); returns the validated TokenSet.
async function codeFlow(client, opts, label, b = new Browser(opts['redirect-uri']), extra = {}) {
    const codeVerifier = generators.codeVerifier();
    const state = generators.state();
    const nonce = generators.nonce();
    const authUrl = client.authorizationUrl({
        scope: 'openid profile email roles',
        code_challenge: generators.codeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...extra,
    });
    const ua = await userAgent(b, authUrl, opts.username, opts.password);
    if (opts['expect-consent'] && ua.signedIn)
        check(ua.consented === (opts['expect-consent'] === 'yes'), `${label}: consent page shown iff expected`);
    const params = client.callbackParams(ua.callback);
    check(params.code && params.state === state, `${label}: callback carries code and state`);
    check(params.iss === client.issuer.issuer, `${label}: callback carries iss (RFC 9207)`);
    step(`${label}: ${ua.signedIn ? 'signed in, ' : ''}${ua.consented ? 'consented, ' : ''}redirected back with a code`);
    const checks = { code_verifier: codeVerifier, state, nonce, response_type: 'code' };
    if (extra.max_age !== undefined)
        checks.max_age = extra.max_age;
    const tokenSet = await client.callback(opts['redirect-uri'], params, checks);
    if (ua.signedIn === false && ua.consented === false && extra.prompt === 'none')
        step(`${label}: prompt=none answered without any page`);
    check(tokenSet.access_token && tokenSet.id_token, `${label}: access_token and id_token`);
    const claims = tokenSet.claims();
    const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    check(claims.nonce === nonce && auds.includes(client.client_id), `${label}: id_token nonce/aud`);
    step(`${label}: code exchanged; id_token validated by openid-client (sub ${claims.sub}, alg ${
        JSON.parse(Buffer.from(tokenSet.id_token.split('.')[0], 'base64url')).alg})`);
    return tokenSet;
}

async function verifyAccessToken(issuer, jwks, alg, token, audience, label) {
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
        issuer: issuer.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: [alg],
    });
    check(protectedHeader.alg === alg && protectedHeader.kid, `${label}: alg ${alg} and kid`);
    check(payload.client_id === audience && payload.jti && payload.exp > payload.iat, `${label}: RFC 9068 claims`);
    step(`${label}: access token verified by jose (typ at+jwt, ${alg}, iss, aud)`);
    return payload;
}

// Implicit "id_token token": openid-client checks the id_token, nonce and at_hash of a fragment response.
async function implicitFlow(issuer, opts) {
    const client = new issuer.Client({
        client_id: opts['implicit-client-id'],
        redirect_uris: [opts['redirect-uri']],
        response_types: ['id_token token'],
        token_endpoint_auth_method: 'none',
        id_token_signed_response_alg: opts.alg,
    });
    const state = generators.state(), nonce = generators.nonce();
    const authUrl = client.authorizationUrl({ scope: 'openid profile', state, nonce, response_mode: 'fragment' });
    const ua = await userAgent(new Browser(opts['redirect-uri']), authUrl, opts.username, opts.password);
    const url = new URL(ua.callback);
    check(url.hash.length > 1 && !url.searchParams.has('access_token'), 'implicit: tokens in the fragment only');
    const params = client.callbackParams(`${url.origin}${url.pathname}?${url.hash.slice(1)}`);
    const ts = await client.callback(opts['redirect-uri'], params, { state, nonce, response_type: 'id_token token' });
    check(ts.access_token && ts.id_token && !ts.refresh_token, 'implicit: access and id tokens, no refresh token');
    step('implicit (id_token token): id_token, nonce and at_hash validated by openid-client');
    const info = await client.userinfo(ts);
    check(info.sub === ts.claims().sub, 'implicit: userinfo sub');
    step('implicit: userinfo');
}

// Waits for one back-channel logout POST on the port of uri; resolves with its logout_token.
function backchannelListener(uri) {
    const u = new URL(uri);
    let resolve;
    const got = new Promise((r) => { resolve = r; });
    const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            const ok = req.method === 'POST' && req.url === u.pathname &&
                       /^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || '');
            res.writeHead(ok ? 200 : 400, { 'Cache-Control': 'no-store' }).end();
            if (ok)
                resolve(new URLSearchParams(body).get('logout_token'));
        });
    });
    return new Promise((r, j) => {
        server.once('error', j);
        server.listen(Number(u.port), u.hostname, () => r({ server, got }));
    });
}

function withTimeout(promise, ms, what) {
    let t;
    return Promise.race([promise, new Promise((_, j) => { t = setTimeout(() => j(new Error(`timed out: ${what}`)), ms); })])
        .finally(() => clearTimeout(t));
}

// A client that registers itself (RFC 7591 with a join token, read back per RFC 7592), authenticates with
// client_secret_post, asks for max_age and prompt=none, reads userinfo by POST, and receives back-channel logout.
async function registeredClient(issuer, jwks, opts, sub) {
    const as = await Issuer.discover(`${opts.issuer}/.well-known/oauth-authorization-server`);
    check(as.issuer === issuer.issuer && as.token_endpoint === issuer.token_endpoint, 'RFC 8414 metadata agrees');
    step('discovered the RFC 8414 authorization server metadata');

    const bclUri = opts['backchannel-logout-uri'];
    const signedOut = opts['post-logout-redirect-uri'];
    const dyn = await issuer.Client.register({
        client_name: 'rp-registered',
        redirect_uris: [opts['redirect-uri']],
        post_logout_redirect_uris: signedOut ? [signedOut] : undefined,
        backchannel_logout_uri: bclUri,
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: opts.alg,
    }, { initialAccessToken: opts['join-token'] });
    check(dyn.client_id && dyn.client_secret && dyn.registration_access_token, 'registration answered credentials');
    check(dyn.token_endpoint_auth_method === 'client_secret_post', 'registered auth method');
    step(`Client.register (RFC 7591): ${dyn.client_id}`);
    const read = await issuer.Client.fromUri(dyn.registration_client_uri, dyn.registration_access_token);
    check(read.client_id === dyn.client_id && read.backchannel_logout_uri === bclUri, 'RFC 7592 read agrees');
    step('Client.fromUri (RFC 7592 read)');

    const { server, got } = await backchannelListener(bclUri);
    try {
        const b = new Browser(opts['redirect-uri'], signedOut || opts['redirect-uri']);
        // A node client registered with a join token is first-party: no consent page is expected of it.
        const o = { ...opts, 'expect-consent': undefined };
        const ts = await codeFlow(dyn, o, 'registered (client_secret_post, max_age)', b, { max_age: 300 });
        check(ts.claims().sub === sub && typeof ts.claims().auth_time === 'number', 'auth_time present');
        let info = await dyn.userinfo(ts, { method: 'POST' });
        check(info.sub === sub, 'userinfo by POST');
        info = await dyn.userinfo(ts, { method: 'POST', via: 'body' });
        check(info.sub === sub, 'userinfo by POST with the token in the body');
        step('userinfo by POST (header and body)');
        const ts2 = await dyn.refresh(ts);
        check(ts2.access_token, 'refresh with client_secret_post');
        const intro = await dyn.introspect(ts2.access_token);
        check(intro.active === true, 'introspection with client_secret_post');
        step('refresh and introspect with client_secret_post');
        const silent = await codeFlow(dyn, o, 'registered, prompt=none', b, { prompt: 'none' });
        check(silent.claims().sub === sub, 'prompt=none in the same session');

        const endUrl = dyn.endSessionUrl({ id_token_hint: silent.id_token, post_logout_redirect_uri: signedOut });
        const r = await b.go('GET', endUrl);
        check(signedOut ? r.callback : r.res.status === 200, 'end_session answered');
        const logoutToken = await withTimeout(got, 15000, 'back-channel logout delivery');
        const { payload, protectedHeader } = await jose.jwtVerify(logoutToken, jwks, {
            issuer: issuer.issuer, audience: dyn.client_id, algorithms: [opts.alg], typ: 'logout+jwt', maxTokenAge: '2m' });
        const ev = payload.events && payload.events['http://schemas.openid.net/event/backchannel-logout'];
        check(ev && typeof ev === 'object' && Object.keys(ev).length === 0, 'logout_token events claim');
        check(payload.nonce === undefined && payload.jti && (payload.sid || payload.sub), 'logout_token: jti, sid/sub, no nonce');
        check(payload.sid === undefined || payload.sid === silent.claims().sid, 'logout_token sid is the session');
        check(payload.sub === undefined || payload.sub === sub, 'logout_token sub');
        step(`back-channel logout_token verified by jose (typ ${protectedHeader.typ}, events, sid)`);

        const state = generators.state(), nonce = generators.nonce(), verifier = generators.codeVerifier();
        const r2 = await b.go('GET', dyn.authorizationUrl({ scope: 'openid', state, nonce, prompt: 'none',
                                                            code_challenge: generators.codeChallenge(verifier),
                                                            code_challenge_method: 'S256' }));
        check(r2.callback, 'prompt=none after sign-out redirects back');
        await expectOPError(dyn.callback(opts['redirect-uri'], dyn.callbackParams(r2.callback),
                                         { state, nonce, code_verifier: verifier, response_type: 'code' }),
                            'login_required', 'prompt=none after sign-out');
        step('prompt=none after sign-out: login_required');
    } finally {
        // Node 18's close() leaves the hub's idle keep-alive connection open until its 5 s timeout (19+ closes it)
        server.close();
        server.closeIdleConnections();
    }
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    opts.password = fs.readFileSync(opts['password-file'], 'utf8').replace(/\r?\n$/, '');
    const alg = opts.alg;
    custom.setHttpOptionsDefaults({ timeout: 10000 });

    const issuer = await Issuer.discover(opts.issuer);
    check(issuer.issuer === opts.issuer, 'issuer matches');
    check((issuer.id_token_signing_alg_values_supported || []).includes(alg), `discovery advertises ${alg}`);
    step(`discovered ${issuer.issuer} (${alg})`);
    const jwks = jose.createRemoteJWKSet(new URL(issuer.jwks_uri));

    // --- confidential client, client_secret_basic ---
    const client = new issuer.Client({
        client_id: opts['client-id'],
        client_secret: opts['client-secret'],
        redirect_uris: [opts['redirect-uri']],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
    });
    const ts = await codeFlow(client, opts, 'confidential');
    const sub = ts.claims().sub;

    const info = await client.userinfo(ts);
    check(info.sub === sub, 'userinfo sub equals id_token sub');
    check(info.preferred_username === opts.username || info.email, 'userinfo carries the profile');
    step(`userinfo (sub ${info.sub}, ${info.preferred_username || info.email})`);

    const at = await verifyAccessToken(issuer, jwks, alg, ts.access_token, client.client_id, 'confidential');
    check(at.sub === sub, 'access token sub equals id_token sub');

    let intro = await client.introspect(ts.access_token, 'access_token');
    check(intro.active === true && intro.client_id === client.client_id && intro.sub === sub, 'introspection: active');
    step('introspect(access_token): active');

    check(ts.refresh_token, 'a refresh token was issued');
    const oldRefresh = ts.refresh_token;
    const ts2 = await client.refresh(ts);
    check(ts2.access_token && ts2.refresh_token && ts2.refresh_token !== oldRefresh, 'refresh rotates the refresh token');
    if (ts2.id_token)
        check(ts2.claims().sub === sub, 'refreshed id_token sub');
    step('refresh: new access and refresh tokens' + (ts2.id_token ? ' and a validated id_token' : ''));
    await verifyAccessToken(issuer, jwks, alg, ts2.access_token, client.client_id, 'refreshed');
    // SPEC §4: one retry of the just-rotated token within a few seconds (a lost response) gets a normal answer; any
    // further replay is reuse: invalid_grant, and the whole family is revoked (RFC 9700 §4.14.2).
    const retried = await client.refresh(oldRefresh);
    check(retried.access_token && retried.refresh_token && retried.refresh_token !== ts2.refresh_token,
          'one retry within the grace gets new tokens');
    step('retry of the rotated refresh token within the grace: answered');
    await expectOPError(client.refresh(oldRefresh), 'invalid_grant', 'replayed refresh token');
    step('second replay of the rotated refresh token rejected with invalid_grant');
    await expectOPError(client.refresh(retried.refresh_token), 'invalid_grant', 'refresh token of the revoked family');
    step('the family is revoked: the retry\'s refresh token is refused too');

    const ts3 = await codeFlow(client, opts, 'confidential again');
    intro = await client.introspect(ts3.refresh_token, 'refresh_token');
    check(intro.active === true, 'refresh token introspects active');
    step('introspect(refresh_token): active');
    await client.revoke(ts3.refresh_token, 'refresh_token');
    step('revoke(refresh_token)');
    intro = await client.introspect(ts3.refresh_token, 'refresh_token');
    check(intro.active === false, 'revoked refresh token introspects inactive');
    step('introspect(revoked refresh_token): inactive');
    await expectOPError(client.refresh(ts3.refresh_token), 'invalid_grant', 'revoked refresh token');
    step('refresh with the revoked refresh token: invalid_grant');

    const ts4 = await codeFlow(client, opts, 'confidential, access token revocation');
    await client.revoke(ts4.access_token, 'access_token');
    step('revoke(access_token)');
    intro = await client.introspect(ts4.access_token, 'access_token');
    check(intro.active === false, 'revoked access token introspects inactive');
    step('introspect(revoked access_token): inactive');
    const e = await expectOPError(client.userinfo(ts4), 'invalid_token', 'userinfo with a revoked access token');
    check(e.response && e.response.statusCode === 401, 'userinfo answers 401 with WWW-Authenticate');
    step('userinfo with the revoked access token: 401 invalid_token (from WWW-Authenticate)');

    if (opts['expect-consent'] === 'yes') {
        const state = generators.state(), nonce = generators.nonce(), verifier = generators.codeVerifier();
        const authUrl = client.authorizationUrl({ scope: 'openid', state, nonce, code_challenge_method: 'S256',
                                                  code_challenge: generators.codeChallenge(verifier) });
        const ua = await userAgent(new Browser(opts['redirect-uri']), authUrl, opts.username, opts.password, 'deny');
        check(ua.consented, 'deny was clicked');
        await expectOPError(client.callback(opts['redirect-uri'], client.callbackParams(ua.callback),
                                            { state, nonce, code_verifier: verifier, response_type: 'code' }),
                            'access_denied', 'consent denied');
        step('consent denied: access_denied with state and iss');
    }

    // --- public client, none + PKCE ---
    const pub = new issuer.Client({
        client_id: opts['public-client-id'],
        redirect_uris: [opts['redirect-uri']],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        id_token_signed_response_alg: alg,
    });
    const pts = await codeFlow(pub, opts, 'public');
    check(pts.claims().sub === sub, 'same user for the public client');
    const pinfo = await pub.userinfo(pts);
    check(pinfo.sub === sub, 'public userinfo sub');
    step('public: userinfo');
    await verifyAccessToken(issuer, jwks, alg, pts.access_token, pub.client_id, 'public');
    if (pts.refresh_token) {
        const pts2 = await pub.refresh(pts);
        check(pts2.access_token, 'public refresh');
        step('public: refresh');
        await pub.revoke(pts2.refresh_token, 'refresh_token');
        await expectOPError(pub.refresh(pts2.refresh_token), 'invalid_grant', 'public: revoked refresh token');
        step('public: revoke(refresh_token) then refresh fails with invalid_grant');
    }

    // --- RP-initiated logout: end the session from a fresh sign-in, then the next authorization asks to sign in again ---
    if (opts['post-logout-redirect-uri']) {
        const b = new Browser(opts['redirect-uri'], opts['post-logout-redirect-uri']);
        const lts = await codeFlow(client, opts, 'logout', b);
        const again = await codeFlow(client, opts, 'silent re-authorization', b);
        check(again.claims().sub === sub, 'the session is reused');
        const endUrl = client.endSessionUrl({ id_token_hint: lts.id_token,
                                              post_logout_redirect_uri: opts['post-logout-redirect-uri'],
                                              state: 'bye' });
        const r = await b.go('GET', endUrl);
        check(r.callback, `end_session redirects to the post_logout_redirect_uri (got ${r.res && r.res.status})`);
        const back = new URL(r.callback);
        check(back.searchParams.get('state') === 'bye', 'end_session returns state');
        step('endSessionUrl: signed out and redirected to post_logout_redirect_uri with state');
        const r2 = await b.go('GET', client.authorizationUrl({ scope: 'openid', state: generators.state(), nonce: generators.nonce(),
                                                                code_challenge: generators.codeChallenge(generators.codeVerifier()),
                                                                code_challenge_method: 'S256' }));
        check(!r2.callback && r2.res.status === 200 && 'password' in formFields(r2.body),
              'after sign-out, authorization asks to sign in again');
        step('after sign-out, authorization shows the sign-in form');
    }

    // --- client_credentials ---
    if (opts['cc-client-id']) {
        const svc = new issuer.Client({
            client_id: opts['cc-client-id'],
            client_secret: opts['cc-client-secret'],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'client_secret_basic',
        });
        const cts = await svc.grant({ grant_type: 'client_credentials' });
        check(cts.access_token && !cts.refresh_token && !cts.id_token, 'client_credentials: an access token only');
        const p = await verifyAccessToken(issuer, jwks, alg, cts.access_token, svc.client_id, 'client_credentials');
        check(p.sub === svc.client_id, 'client_credentials: sub is the client');
        intro = await svc.introspect(cts.access_token);
        check(intro.active === true && intro.client_id === svc.client_id, 'client_credentials: introspection active');
        step('client_credentials: introspect active');
        await svc.revoke(cts.access_token);
        intro = await svc.introspect(cts.access_token);
        check(intro.active === false, 'client_credentials: revoked token inactive');
        step('client_credentials: revoke then introspect inactive');
    }

    if (opts['implicit-client-id'])
        await implicitFlow(issuer, opts);
    if (opts['join-token'])
        await registeredClient(issuer, jwks, opts, sub);

    console.log(`rp: all ${steps} steps passed (${alg})`);
}

main().catch((e) => {
    let msg = e && e.stack ? e.stack : String(e);
    if (e instanceof errors.OPError)
        msg = `OP error ${e.error}${e.error_description ? ` (${e.error_description})` : ''}` +
              (e.response ? ` HTTP ${e.response.statusCode}` : '') + `\n${e.stack}`;
    fail(msg);
});
