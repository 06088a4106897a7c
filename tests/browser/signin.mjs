// Real-browser sign-in through a secondary: headless Debian Chromium driven by playwright-core.
// Usage: node signin.mjs URL USER PASSWORD [GREETING]
//   URL: a protected page of a secondary (e.g. http://127.0.0.1:8081/app/) in front of tools/demo-app.py
//   GREETING: text the app's #greeting must contain (default: USER)
// Exits 0 when every step passed; otherwise 1, after saving a screenshot and the page's HTML
// under $HUB_BROWSER_ARTIFACTS (or a new temp dir) and printing their paths.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [url, user, password, greeting = user] = process.argv.slice(2);
if (!url || !user || !password) {
    console.error('usage: node signin.mjs URL USER PASSWORD [GREETING]');
    process.exit(2);
}
const STEP_MS = 15000;
const executablePath = process.env.HUB_CHROMIUM || '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let step = 'launch';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-chromium-'));
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

async function isSignInPage(p) {
    return (await p.locator('input[type=password]').count()) > 0;
}

async function isConsentPage(p) {
    return (await p.locator('form[action*="approve"] button[value=allow]').count()) > 0;
}

async function main() {
    context = await chromium.launchPersistentContext(userDataDir, {
        executablePath, args, headless: true, timeout: STEP_MS, viewport: { width: 1000, height: 800 },
    });
    context.setDefaultTimeout(STEP_MS);
    page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));

    step = 'open the protected page';
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    check(await isSignInPage(page), `${url} leads to the sign-in page (${short(page.url())})`);
    const signInOrigin = new URL(page.url()).origin;
    check(signInOrigin !== new URL(url).origin, `the sign-in page is served by the primary (${signInOrigin})`);

    step = 'sign in';
    await page.fill('input[name=username]', user);
    await page.fill('input[type=password]', password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('form button[type=submit]')]);
    check(!(await isSignInPage(page)), `credentials accepted (${short(page.url())})`);

    if (await isConsentPage(page)) {
        step = 'consent';
        const text = await page.locator('body').innerText();
        check(/allow/i.test(text), 'the consent page asks to allow the app');
        await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
            page.click('form[action*="approve"] button[value=allow]')]);
    }

    step = 'the app behind the secondary';
    await page.waitForSelector('#greeting');
    check(page.url().startsWith(new URL(url).origin), `back at the secondary (${short(page.url())})`);
    const hello = await page.locator('#greeting').innerText();
    check(hello.includes(greeting), `the app greets the signed-in user: "${hello}"`);
    const table = await page.locator('table').innerText();
    check(table.includes('X-Hub-Sub') && /X-Hub-Email\s+\S+@/.test(table), 'the app sees the X-Hub-* headers');

    step = 'reload keeps the session';
    await page.reload({ waitUntil: 'domcontentloaded' });
    check((await page.locator('#greeting').count()) === 1, 'a reload stays signed in');

    step = 'sign out';
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('text=Sign out')]);
    step = 'confirm the sign-out';
    check(new URL(page.url()).pathname === '/auth/logout', `the node asks to confirm (${short(page.url())})`);
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#sign-out')]);
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    check(await isSignInPage(page), 'after signing out, the protected page asks to sign in again');
}

let code = 0;
try {
    await main();
    console.log('browser sign-in: all steps passed');
} catch (e) {
    code = 1;
    console.error(`FAIL at step "${step}": ${e.message}`);
    const dir = process.env.HUB_BROWSER_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'hub-browser-fail-'));
    fs.mkdirSync(dir, { recursive: true });
    if (page) {
        try {
            const shot = path.join(dir, 'failure.png');
            await page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
            fs.writeFileSync(path.join(dir, 'failure.html'), await page.content());
            console.error(`screenshot: ${shot}`);
            console.error(`page (${short(page.url())}): ${path.join(dir, 'failure.html')}`);
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
