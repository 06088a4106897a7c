// Real-browser sign-in of a single-page app (tests/spa: oidc-client-ts from its own origin) against a primary, with
// headless Debian Chromium driven by playwright-core and no CORS workaround: no --disable-web-security, no proxy, no
// request interception. The browser enforces CORS as it does for any user.
// Usage: node spa.mjs CONFIG.json
//   CONFIG: {"primary": URL, "app": URL, "unregistered": URL, "other_client": URL, "user": NAME, "password": P,
//            "name": FULL NAME, "email": E}
//   app: the SPA on the origin of its client's redirect URI; unregistered: the same page on an origin no client has;
//   other_client: the same page (same client_id) on the origin of ANOTHER client's redirect URI.
// Exits 0 when every step passed; otherwise 1, after saving a screenshot and the page's HTML under
// $HUB_BROWSER_ARTIFACTS (or a new temp dir) and printing their paths.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

if (process.argv.length !== 3) {
    console.error('usage: node spa.mjs CONFIG.json');
    process.exit(2);
}
const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const STEP_MS = 15000;
const executablePath = process.env.HUB_CHROMIUM || '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let step = 'launch';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-chromium-spa-'));
let context = null;
let page = null;
const consoleLines = [];

function check(cond, what) {
    if (!cond)
        throw new Error(what);
    console.log(`ok   ${what}`);
}

function short(u) {
    const x = new URL(u);
    return x.origin + x.pathname;
}

const origin = (u) => new URL(u).origin;

async function status() {
    return (await page.locator('#status').innerText()).trim();
}

// Waits until the SPA's #status leaves "loading" (the library finished whatever it was doing) and returns it.
async function settled() {
    await page.waitForFunction(() => {
        const s = document.getElementById('status');
        return s && s.textContent !== 'loading';
    });
    return status();
}

// From a click on the SPA's "Sign in" to the SPA's callback page: the primary's sign-in page when the browser has no
// session there, then its consent page.
async function signIn(app) {
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#sign-in')]);
    if (origin(page.url()) === cfg.primary && (await page.locator('input[type=password]').count()) > 0) {
        check(new URL(page.url()).pathname === '/login', `the primary asks to sign in (${short(page.url())})`);
        await page.fill('input[name=username]', cfg.user);
        await page.fill('input[type=password]', cfg.password);
        await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('form button[type=submit]')]);
    }
    // the hub's skip_authorization setting is force (the default): every sign-in asks
    check(origin(page.url()) === cfg.primary && (await page.locator('form[action*="approve"] button[value=allow]').count()) > 0,
        `the primary asks for consent (${short(page.url())})`);
    // the callback page may hand over to the app (history or a navigation) before the next line runs: every
    // address the page went to from here on is kept, and the callback must be among them
    const visited = [];
    const onNavigated = (frame) => { if (frame === page.mainFrame()) visited.push(frame.url()); };
    page.on('framenavigated', onNavigated);
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
        page.click('form[action*="approve"] button[value=allow]')]);
    await page.waitForURL((u) => u.origin === origin(app));
    page.off('framenavigated', onNavigated);
    const callback = visited.find((u) => origin(u) === origin(app) && new URL(u).pathname === '/callback.html');
    check(callback !== undefined, `back at the app's callback (${short(callback ?? page.url())})`);
}

async function signedInFlow() {
    const app = cfg.app;
    step = 'open the app';
    await page.goto(app, { waitUntil: 'domcontentloaded' });
    check(await settled() === 'signed-out', 'the app starts signed out');

    step = 'sign in (authorize, sign-in page, consent, callback, token, userinfo)';
    await signIn(app);
    const st = await settled();
    const err = (await page.locator('#error').innerText()).trim();
    check(st === 'signed-in', `the app is signed in (status ${st}${err ? ', error: ' + err : ''})`);
    check((await page.locator('#name').innerText()).trim() === cfg.name, `the app shows the user's name: ${cfg.name}`);
    check((await page.locator('#email').innerText()).trim() === cfg.email, `the app shows the user's e-mail: ${cfg.email}`);
    check((await page.locator('#sub').innerText()).trim().length > 0, 'the app has the subject');

    step = 'refresh tokens (refresh_token grant from the page)';
    const before = (await page.locator('#expires').innerText()).trim();
    await page.evaluate(() => { document.getElementById('status').textContent = 'loading'; });
    await page.click('#refresh');
    const after = await settled();
    check(after === 'refreshed', `the library refreshed its tokens (status ${after}: ${(await page.locator('#error').innerText()).trim()})`);
    check((await page.locator('#expires').innerText()).trim() >= before, 'a new access token');

    step = 'reload keeps the app signed in';
    await page.goto(app, { waitUntil: 'domcontentloaded' });
    check(await settled() === 'signed-in', 'after a reload the app is still signed in');

    step = 'sign out (revocation, RP-initiated logout with id_token_hint and post_logout_redirect_uri)';
    const seen = []; // every top-level navigation, redirects included
    const onRequest = (r) => { if (r.isNavigationRequest() && r.frame() === page.mainFrame()) seen.push(r.url()); };
    page.on('request', onRequest);
    await page.click('#sign-out');
    await page.waitForURL((u) => u.origin === origin(app) && u.pathname === '/signed-out.html');
    page.off('request', onRequest);
    const logout = seen.map((u) => new URL(u)).find((u) => u.origin === cfg.primary && u.pathname === '/oauth2/logout');
    check(logout !== undefined, `the library went to the primary's end_session_endpoint (${seen.map(short).join(' -> ')})`);
    check(logout.searchParams.get('id_token_hint') !== null, 'with an id_token_hint');
    check(logout.searchParams.get('post_logout_redirect_uri') === origin(app) + '/signed-out.html',
        'with the post_logout_redirect_uri');
    check(await settled() === 'signed-out', 'back at the app, signed out');

    step = 'the primary session ended too';
    await page.goto(app, { waitUntil: 'domcontentloaded' });
    check(await settled() === 'signed-out', 'the app stays signed out');
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#sign-in')]);
    check(origin(page.url()) === cfg.primary && (await page.locator('input[type=password]').count()) > 0,
        `signing in again asks for the password (${short(page.url())})`);
}

// The same page from an origin the hub must not open the token response to: the library's fetch is refused by the
// browser and the page shows the library's error.
async function refusedFlow(app, what) {
    step = `the app on ${what}`;
    await page.goto(app, { waitUntil: 'domcontentloaded' });
    check(await settled() === 'signed-out', `${what}: the app starts signed out`);
    const blocked = consoleLines.length;
    await signIn(app);
    const st = await settled();
    const err = (await page.locator('#error').innerText()).trim();
    check(st === 'error', `${what}: the sign-in fails at the token step (status ${st})`);
    check(err.length > 0, `${what}: the page shows the library's error: "${err}"`);
    const cors = consoleLines.slice(blocked).filter((l) => /CORS policy/.test(l) && /oauth2\/token/.test(l));
    check(cors.length > 0, `${what}: Chromium blocked the token response (${cors[0] || 'no CORS message'})`);
    check((await page.locator('#sub').innerText()).trim() === '', `${what}: no identity reached the app`);
}

async function main() {
    context = await chromium.launchPersistentContext(userDataDir, {
        executablePath, args, headless: true, timeout: STEP_MS, viewport: { width: 1000, height: 800 },
    });
    context.setDefaultTimeout(STEP_MS);
    page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

    await signedInFlow();
    await refusedFlow(cfg.unregistered, 'an unregistered origin');
    await refusedFlow(cfg.other_client, "another client's origin");
}

let code = 0;
try {
    await main();
    console.log('spa sign-in: all steps passed');
} catch (e) {
    code = 1;
    console.error(`FAIL at step "${step}": ${e.message}`);
    const dir = process.env.HUB_BROWSER_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'hub-browser-fail-'));
    fs.mkdirSync(dir, { recursive: true });
    if (page) {
        try {
            const shot = path.join(dir, 'spa-failure.png');
            await page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
            fs.writeFileSync(path.join(dir, 'spa-failure.html'), await page.content());
            console.error(`screenshot: ${shot}`);
            console.error(`page (${short(page.url())}): ${path.join(dir, 'spa-failure.html')}`);
        } catch (e2) {
            console.error(`no screenshot: ${e2.message}`);
        }
    }
    for (const l of consoleLines.slice(-20))
        console.error(l);
} finally {
    if (context)
        await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(code);
