// The consoles in a real browser: headless Debian Chromium driven by playwright-core (as signin.mjs).
// Usage: node console.mjs PRIMARY_URL ADMIN ADMIN_PASSWORD USER USER_PASSWORD USER_FULL_NAME RP_PORT
//   An administrator creates an OAuth client with the seed's form (';'-separated redirect URIs); a relying party that
//   this script runs on 127.0.0.1:RP_PORT signs the user in with it; Force/Auto switched in the settings form changes
//   the consent page; the user revokes the app on /account/ and its refresh token stops working; the user gets 403 on
//   every /admin/ path; a change without its CSRF token, or with a wrong one, changes nothing.
// Screenshots of every console page go to $HUB_BROWSER_ARTIFACTS/console (or a new temp dir). Exits 0 when every step
// passed, else 1 after a screenshot and the page's HTML of the failure.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const [hub, admin, adminPassword, user, userPassword, userName, rpPortArg] = process.argv.slice(2);
if (!hub || !admin || !adminPassword || !user || !userPassword || !userName || !rpPortArg) {
    console.error('usage: node console.mjs PRIMARY_URL ADMIN ADMIN_PASSWORD USER USER_PASSWORD USER_FULL_NAME RP_PORT');
    process.exit(2);
}
const STEP_MS = 15000;
const rpPort = Number(rpPortArg);
const rp = `http://127.0.0.1:${rpPort}`;
const artifacts = path.join(process.env.HUB_BROWSER_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'hub-browser-')), 'console');
const executablePath = process.env.HUB_CHROMIUM || '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ADMIN_GET = ['/admin/', '/admin/settings', '/admin/audit', '/admin/clients', '/admin/clients/new',
    '/admin/clients/edit?id=x', '/admin/users', '/admin/users/new', '/admin/users/edit?id=x', '/admin/roles',
    '/admin/nodes', '/admin/keys'];
const ADMIN_POST = ['/admin/settings', '/admin/clients/new', '/admin/clients/edit', '/admin/clients/rotate-secret',
    '/admin/clients/delete', '/admin/users/new', '/admin/users/state', '/admin/users/roles', '/admin/users/password',
    '/admin/users/delete', '/admin/roles/add', '/admin/roles/delete', '/admin/nodes/join-token', '/admin/nodes/revoke',
    '/admin/keys/rotate', '/admin/keys/retire', '/admin/keys/revoke'];

let step = 'launch';
let browser = null;
let page = null;
let server = null;
const consoleLines = [];

function check(cond, what) {
    if (!cond)
        throw new Error(what);
    console.log(`ok   ${what}`);
}

// ---- the relying party: /start sends the browser to the hub, /cb exchanges the code, /refresh uses the refresh token
const client = { id: null, secret: null, redirect: `${rp}/cb`, refresh: null };

async function tokenRequest(form) {
    const basic = Buffer.from(`${client.id}:${client.secret}`).toString('base64');
    const r = await fetch(`${hub}/oauth2/token`, {
        method: 'POST', body: new URLSearchParams(form),
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    });
    return { status: r.status, body: await r.json().catch(() => ({})) };
}

function reply(res, status, text) {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!DOCTYPE html><title>RP</title><p id="rp">${text}</p>`);
}

async function onRp(req, res) {
    const url = new URL(req.url, rp);
    if (url.pathname === '/start') {
        const q = new URLSearchParams({ client_id: client.id, response_type: 'code', redirect_uri: client.redirect,
            scope: 'openid profile', state: 'rp-state' });
        res.writeHead(302, { location: `${hub}/oauth2/authorize?${q}` });
        res.end();
    } else if (url.pathname === '/cb') {
        if (url.searchParams.get('state') !== 'rp-state' || !url.searchParams.get('code'))
            return reply(res, 400, `refused: ${url.searchParams.get('error') || 'no code'}`);
        const t = await tokenRequest({ grant_type: 'authorization_code', code: url.searchParams.get('code'),
            redirect_uri: client.redirect });
        if (t.status !== 200)
            return reply(res, 502, `token endpoint said ${t.status}`);
        client.refresh = t.body.refresh_token;
        const claims = JSON.parse(Buffer.from(t.body.id_token.split('.')[1], 'base64url').toString());
        const info = await (await fetch(`${hub}/oauth2/userinfo`, { headers: { authorization: `Bearer ${t.body.access_token}` } })).json();
        reply(res, 200, `Signed in as ${info.name} (sub ${claims.sub})`);
    } else if (url.pathname === '/refresh') {
        const t = await tokenRequest({ grant_type: 'refresh_token', refresh_token: client.refresh });
        if (t.status === 200)
            client.refresh = t.body.refresh_token;
        reply(res, 200, `refresh: ${t.status} ${t.body.error || 'ok'}`);
    } else {
        reply(res, 404, 'not found');
    }
}

// ---- helpers
async function shot(p, name) {
    await p.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

async function go(p, url) {
    const r = await p.goto(url, { waitUntil: 'domcontentloaded' });
    return r ? r.status() : 0;
}

async function submit(p, selector) {
    await Promise.all([p.waitForNavigation({ waitUntil: 'domcontentloaded' }), p.click(selector)]);
}

async function signIn(p, name, password) {
    check((await p.locator('input[type=password]').count()) > 0, `the sign-in page for ${name}`);
    await p.fill('input[name=username]', name);
    await p.fill('input[name=password]', password);
    await submit(p, 'form[action="/login"] button[type=submit]');
}

async function isConsent(p) {
    return (await p.locator('form[action*="approve"] button[value=allow]').count()) > 0;
}

async function rpSignIn(p, expectConsent, what) {
    await go(p, `${rp}/start`);
    check(await isConsent(p) === expectConsent, `${what}: consent page ${expectConsent ? 'shown' : 'not shown'}`);
    if (expectConsent)
        await submit(p, 'form[action*="approve"] button[value=allow]');
    const text = await p.locator('#rp').innerText();
    check(text.startsWith(`Signed in as ${userName}`), `${what}: the relying party signed the user in ("${text}")`);
}

async function setSkip(p, value) {
    await go(p, `${hub}/admin/settings`);
    await p.selectOption('#f-skip_authorization', value);
    await submit(p, 'form[action="/admin/settings"] button[type=submit]');
    check((await p.locator('#flash').innerText()).includes('were saved'), `Skip Authorization set to ${value} in the form`);
}

// ---- the steps
async function adminMakesClient(a) {
    step = 'the admin signs in';
    await go(a, `${hub}/admin/`);
    await signIn(a, admin, adminPassword);
    check(new URL(a.url()).pathname === '/admin/', 'back at /admin/ after signing in');
    await shot(a, 'admin-overview');
    step = 'settings';
    await go(a, `${hub}/admin/settings`);
    await shot(a, 'admin-settings');
    step = 'a client from the seed\'s form';
    await go(a, `${hub}/admin/clients/new`);
    for (const label of ['App Name', 'Skip Authorization', 'Scopes', 'Redirect URIs', 'Default Redirect URI', 'Grant Type',
        'Response Type'])
        check(await a.getByLabel(label, { exact: true }).count() === 1, `the form has the seed's field "${label}"`);
    await a.getByLabel('App Name', { exact: true }).fill('Browser <b>Test</b> App');
    await a.getByLabel('Scopes', { exact: true }).fill('openid;profile;email');
    await a.getByLabel('Redirect URIs', { exact: true }).fill(`${client.redirect};${rp}/elsewhere`);
    await a.getByLabel('Grant Type', { exact: true }).selectOption('authorization_code');
    await a.getByLabel('Response Type', { exact: true }).selectOption('code');
    await shot(a, 'admin-client-new');
    await submit(a, 'form[action="/admin/clients/new"] button[type=submit]');
    client.id = (await a.locator('#client-id').innerText()).trim();
    client.secret = (await a.locator('#secret').innerText()).trim();
    check(client.id.length > 0 && client.secret.length === 43, `client ${client.id} created, its secret shown once`);
    check((await a.locator('#app-name').innerText()) === 'Browser <b>Test</b> App', 'the name shows as text');
    await shot(a, 'admin-client-secret');
    await go(a, `${hub}/admin/clients/edit?id=${encodeURIComponent(client.id)}`);
    check((await a.locator('#f-redirect_uris').inputValue()) === `${client.redirect};${rp}/elsewhere`, 'the URIs, ;-separated');
    check(!(await a.content()).includes(client.secret), 'the secret is not shown again');
    await shot(a, 'admin-client-edit');
    await go(a, `${hub}/admin/clients`);
    await shot(a, 'admin-clients');
}

async function consentFollowsTheSetting(a, u) {
    step = 'the relying party signs the user in (Force)';
    await go(u, `${rp}/start`);
    await signIn(u, user, userPassword);
    check(await isConsent(u), 'Force: the consent page');
    await shot(u, 'consent');
    await submit(u, 'form[action*="approve"] button[value=allow]');
    check((await u.locator('#rp').innerText()).startsWith(`Signed in as ${userName}`), 'the relying party signed the user in');
    await rpSignIn(u, true, 'Force, a second time');
    step = 'Auto';
    await setSkip(a, 'auto');
    await rpSignIn(u, false, 'Auto with a grant');
    step = 'Force again';
    await setSkip(a, 'force');
    await rpSignIn(u, true, 'Force again');
}

async function userRevokesTheApp(u) {
    step = 'the refresh token works';
    await go(u, `${rp}/refresh`);
    check((await u.locator('#rp').innerText()) === 'refresh: 200 ok', 'the refresh token works before the revocation');
    step = '/account/';
    await go(u, `${hub}/account/`);
    check((await u.locator('#username').innerText()) === user, 'the profile');
    const row = u.locator('#apps tr', { hasText: 'Browser <b>Test</b> App' });
    check(await row.count() === 1, 'the app is listed as holding a grant');
    await shot(u, 'account');
    await u.setViewportSize({ width: 390, height: 844 });
    await shot(u, 'account-phone');
    await u.setViewportSize({ width: 1000, height: 800 });
    step = 'Revoke';
    await submit(u, `#apps form:has(input[value="${client.id}"]) button`);
    check((await u.locator('#flash').innerText()).includes('revoked'), 'revoked');
    check(await u.locator('#apps tr', { hasText: 'Browser <b>Test</b> App' }).count() === 0, 'no longer listed');
    await go(u, `${rp}/refresh`);
    const text = await u.locator('#rp').innerText();
    check(text === 'refresh: 400 invalid_grant', `the app's refresh token stops working ("${text}")`);
}

async function userIsNoAdmin(u) {
    step = 'a user on /admin/';
    for (const p of ADMIN_GET)
        check(await go(u, `${hub}${p}`) === 403, `GET ${p}: 403`);
    await shot(u, 'admin-forbidden');
    await go(u, `${hub}/account/`);
    const token = await u.locator('form[action="/account/password"] input[name=csrf_token]').inputValue();
    for (const p of ADMIN_POST) {
        const r = await u.request.post(`${hub}${p}`, { form: { csrf_token: token, confirm: 'yes' }, maxRedirects: 0 });
        check(r.status() === 403, `POST ${p} with the user's own token: 403`);
    }
}

async function csrfChangesNothing(a) {
    step = 'CSRF';
    await go(a, `${hub}/admin/roles`);
    const token = await a.locator('form[action="/admin/roles/add"] input[name=csrf_token]').inputValue();
    const wrong = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    for (const [what, form] of [['missing', { role: 'Forged One' }], ['wrong', { role: 'Forged One', csrf_token: wrong }],
        ['twice', `role=Forged%20One&csrf_token=${token}&csrf_token=${token}`]]) {
        const r = await a.request.post(`${hub}/admin/roles/add`, typeof form === 'string'
            ? { data: form, headers: { 'content-type': 'application/x-www-form-urlencoded' }, maxRedirects: 0 }
            : { form, maxRedirects: 0 });
        check(r.status() === 403, `a token ${what}: 403`);
    }
    // the page's own form with its token changed in the browser before it is sent
    await a.fill('#f-role', 'Forged Two');
    await a.locator('form[action="/admin/roles/add"] input[name=csrf_token]').evaluate((el, v) => { el.value = v; }, wrong);
    await submit(a, 'form[action="/admin/roles/add"] button[type=submit]');
    check((await a.locator('#error').innerText()).includes('Nothing was changed'), 'a form with a wrong token: refused');
    await go(a, `${hub}/admin/roles`);
    const roles = await a.locator('#roles').innerText();
    check(!roles.includes('Forged'), 'no role was added');
    await shot(a, 'admin-roles');
}

async function morePages(a) {
    step = 'the other pages';
    for (const [p, name] of [['/admin/users', 'admin-users'], ['/admin/users/new', 'admin-user-new'],
        ['/admin/nodes', 'admin-nodes'], ['/admin/keys', 'admin-keys'], ['/admin/audit', 'admin-audit']]) {
        check(await go(a, `${hub}${p}`) === 200, `GET ${p}`);
        await shot(a, name);
    }
    check((await a.locator('#audit').innerText()).includes('client.create'), 'the audit page lists the client\'s creation');
    await go(a, `${hub}/admin/users?q=${encodeURIComponent(user)}`);
    await submit(a, `#users a:text-is("${user}")`);
    await shot(a, 'admin-user');
    await go(a, `${hub}/admin/nodes`);
    await submit(a, 'form[action="/admin/nodes/join-token"] button[type=submit]');
    check((await a.locator('#secret').innerText()).trim().length === 43, 'a join token, shown once');
    await shot(a, 'admin-join-token');
    // keyboard: the sign-in page's fields are reached with Tab alone
    const k = await browser.newPage();
    await go(k, `${hub}/login`);
    const focused = async () => k.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName));
    let presses = 0;
    while (presses < 5 && await focused() !== 'username') {
        await k.keyboard.press('Tab');
        ++presses;
    }
    check(await focused() === 'username', `Tab reaches the username (${presses} presses)`);
    await k.keyboard.press('Tab');
    check(await focused() === 'password', 'then the password');
    await k.keyboard.press('Tab');
    check(await focused() === 'BUTTON', 'then the button');
    await shot(k, 'sign-in');
    await k.close();
}

async function main() {
    fs.mkdirSync(artifacts, { recursive: true });
    for (const stale of ['failure.png', 'failure.html'])
        fs.rmSync(path.join(artifacts, stale), { force: true });
    server = http.createServer((req, res) => onRp(req, res).catch((e) => reply(res, 500, e.message)));
    await new Promise((resolve) => server.listen(rpPort, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath, args, headless: true, timeout: STEP_MS });
    const actx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const uctx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    actx.setDefaultTimeout(STEP_MS);
    uctx.setDefaultTimeout(STEP_MS);
    const a = await actx.newPage();
    const u = await uctx.newPage();
    for (const p of [a, u])
        p.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
    page = a;
    await adminMakesClient(a);
    page = u;
    await consentFollowsTheSetting(a, u);
    await userRevokesTheApp(u);
    await userIsNoAdmin(u);
    page = a;
    await csrfChangesNothing(a);
    await morePages(a);
    check(consoleLines.filter((l) => /Content Security Policy|Refused/.test(l)).length === 0,
        'no page broke its Content-Security-Policy');
}

let code = 0;
try {
    await main();
    console.log(`console: all steps passed (screenshots in ${artifacts})`);
} catch (e) {
    code = 1;
    console.error(`FAIL at step "${step}": ${e.message}`);
    if (page) {
        try {
            await page.screenshot({ path: path.join(artifacts, 'failure.png'), fullPage: true, timeout: 5000 });
            fs.writeFileSync(path.join(artifacts, 'failure.html'), await page.content());
            console.error(`screenshot: ${path.join(artifacts, 'failure.png')} (${page.url()})`);
        } catch (e2) {
            console.error(`no screenshot: ${e2.message}`);
        }
    }
    for (const l of consoleLines.slice(-20))
        console.error(l);
} finally {
    if (browser)
        await browser.close().catch(() => {});
    if (server)
        server.close();
}
process.exit(code);
