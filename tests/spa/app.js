// The SPA's code: oidc-client-ts's UserManager as its documentation shows it, configured from /config.json (the issuer
// and client_id the test registered). Every call to the hub (discovery, token, userinfo, revocation) is the library's
// own cross-origin fetch; the page only shows what it got, or the error the library reported.
'use strict';

const $ = (id) => document.getElementById(id);

function show(status, user) {
    $('status').textContent = status;
    if (user) {
        $('name').textContent = user.profile.name || '';
        $('email').textContent = user.profile.email || '';
        $('sub').textContent = user.profile.sub || '';
        $('expires').textContent = String(user.expires_at || '');
    }
}

function fail(e) {
    $('error').textContent = (e && e.message) ? e.message : String(e);
    show('error');
}

async function main() {
    const cfg = await (await fetch('/config.json')).json();
    const origin = window.location.origin;
    const mgr = new oidc.UserManager({
        authority: cfg.authority,
        client_id: cfg.client_id,
        redirect_uri: origin + '/callback.html',
        post_logout_redirect_uri: origin + '/signed-out.html',
        response_type: 'code',
        scope: cfg.scope,
        loadUserInfo: true,
        revokeTokensOnSignout: true,
        automaticSilentRenew: false,
        userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
    });
    $('sign-in').onclick = () => mgr.signinRedirect().catch(fail);
    $('sign-out').onclick = () => mgr.signoutRedirect().catch(fail);
    $('refresh').onclick = () => mgr.signinSilent().then((u) => show('refreshed', u)).catch(fail);

    const path = window.location.pathname;
    if (path === '/callback.html') {
        const user = await mgr.signinRedirectCallback();
        window.history.replaceState({}, '', '/');
        show('signed-in', user);
    } else if (path === '/signed-out.html') {
        await mgr.signoutRedirectCallback();
        show('signed-out');
    } else {
        const user = await mgr.getUser();
        show(user ? 'signed-in' : 'signed-out', user);
    }
}

main().catch(fail);
