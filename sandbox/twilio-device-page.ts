import { escapeHtml } from './html';

/**
 * The sandbox "device": a page that plays the Verify Push client SDK for one identity (Twilio Verify Push quickstart, "Register a user
 * and their device" and "Verify a user"). It asks the app backend for an access token (`POST /v1/push/access-tokens`),
 * creates an ES256 key pair with WebCrypto, creates and verifies its factor against the emulator, then lists pending
 * challenges with Approve / Deny buttons, answering with JWTs signed by its key. The key stays in localStorage.
 * WebCrypto needs a secure context: open it on localhost / 127.0.0.1 or over https.
 */
export function renderDevicePage(identity: string): string {
  // JSON inside a script tag: `<` is escaped so the identity can never close the tag.
  const identityJson = JSON.stringify(identity).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox push device — ${escapeHtml(identity)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 40rem; }
.challenge { border: 1px solid #ccc; border-radius: 0.5rem; padding: 0.8rem; margin: 0.8rem 0; }
.challenge dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0.5rem 0; }
.challenge dt { color: #555; }
button { font-size: 1rem; padding: 0.4rem 1rem; margin-right: 0.5rem; }
.approve { background: #1a7f37; color: white; border: 0; }
.deny { background: #cf222e; color: white; border: 0; }
#error { color: #cf222e; }
.muted { color: #666; }
</style>
</head>
<body>
<h1>Sandbox push device</h1>
<p class="muted">Identity <code>${escapeHtml(identity)}</code> · plays the Verify Push client SDK against the Twilio Verify sandbox.</p>
<p>Factor: <span id="status">checking…</span></p>
<p><button id="enroll" hidden>Enroll this device</button><button id="forget" hidden>Forget this device</button></p>
<p id="error" role="alert"></p>
<h2>Pending challenges</h2>
<div id="challenges"><p class="muted">None.</p></div>
<script id="identity" type="application/json">${identityJson}</script>
<script>
(() => {
  const identity = JSON.parse(document.getElementById('identity').textContent);
  const base = location.pathname.replace(/\\/device\\/[^/]*$/, '');
  const storeKey = 'verifyflow-sandbox-push:' + identity;
  const $ = (id) => document.getElementById(id);
  let device = JSON.parse(localStorage.getItem(storeKey) || 'null');
  let signingKey;

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
  const text = (s) => b64url(new TextEncoder().encode(s));
  const showError = (msg) => { $('error').textContent = msg || ''; };
  // The Twilio entity the app brokered the token for (client-identity), kept with the device.
  const entityPath = () =>
    base + '/v2/Services/' + device.serviceSid + '/Entities/' + encodeURIComponent(device.entity || identity);
  // The page stands in for the app backend, which brokers tokens with its API key (the sandbox test client's, or ?key=).
  const apiKey = new URLSearchParams(location.search).get('key') || 'vf_test_sandbox';

  async function key() {
    if (!signingKey) signingKey = await crypto.subtle.importKey('jwk', device.jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    return signingKey;
  }
  /** A fresh ES256 JWT proving possession of the factor's key (Basic token:<jwt>, like the client SDK). */
  async function deviceAuth() {
    const head = text(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: device.factorSid }));
    const body = text(JSON.stringify({ sub: device.factorSid, iat: Math.floor(Date.now() / 1000) }));
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, await key(), new TextEncoder().encode(head + '.' + body));
    return 'Basic ' + btoa('token:' + head + '.' + body + '.' + b64url(sig));
  }
  async function verifyApi(method, path, auth, params) {
    const res = await fetch(path, {
      method,
      headers: Object.assign({ authorization: auth }, params ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      body: params ? new URLSearchParams(params).toString() : undefined,
    });
    const json = res.status === 204 ? {} : await res.json();
    if (!res.ok) throw Object.assign(new Error(json.message || 'HTTP ' + res.status), { status: res.status });
    return json;
  }

  async function enroll() {
    showError('');
    if (!window.crypto || !crypto.subtle) return showError('WebCrypto is unavailable: open this page on localhost, 127.0.0.1 or https.');
    $('enroll').disabled = true;
    try {
      const tokenRes = await fetch('/v1/push/access-tokens', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + apiKey },
        body: JSON.stringify({ identity }),
      });
      const brokered = await tokenRes.json();
      if (!tokenRes.ok) throw new Error(brokered.message || 'access token refused');
      const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const publicKey = b64(await crypto.subtle.exportKey('spki', pair.publicKey));
      device = {
        serviceSid: brokered.serviceSid,
        entity: brokered.identity,
        jwk: await crypto.subtle.exportKey('jwk', pair.privateKey),
      };
      const factor = await verifyApi('POST', entityPath() + '/Factors', 'Basic ' + btoa('token:' + brokered.token), {
        FriendlyName: 'Sandbox device page',
        FactorType: 'push',
        'Binding.Alg': 'ES256',
        'Binding.PublicKey': publicKey,
        'Config.SdkVersion': 'sandbox-web',
        'Config.AppId': 'verifyflow-sandbox',
        'Config.NotificationPlatform': 'none',
      });
      device.factorSid = factor.sid;
      signingKey = undefined;
      localStorage.setItem(storeKey, JSON.stringify(device));
      await verifyApi('POST', entityPath() + '/Factors/' + factor.sid, await deviceAuth(), {});
      await refresh();
    } catch (err) {
      showError('Enrollment failed: ' + err.message);
    } finally {
      $('enroll').disabled = false;
    }
  }

  function forget() {
    localStorage.removeItem(storeKey);
    device = null;
    signingKey = undefined;
    render(null, []);
  }

  async function answer(sid, status) {
    showError('');
    try {
      await verifyApi('POST', entityPath() + '/Challenges/' + sid, await deviceAuth(), { Status: status });
    } catch (err) {
      showError('Could not ' + (status === 'approved' ? 'approve' : 'deny') + ': ' + err.message);
    }
    await refresh();
  }

  let shown = '';
  function render(factor, challenges) {
    // Re-render only on change, so a button is never swapped under the pointer.
    const key = JSON.stringify([factor && factor.sid, factor && factor.status, challenges.map((c) => c.sid)]);
    if (key === shown) return;
    shown = key;
    $('status').textContent = factor ? factor.status + ' (' + factor.sid + ')' : 'not enrolled';
    $('enroll').hidden = !!factor;
    $('forget').hidden = !factor;
    const list = $('challenges');
    list.replaceChildren();
    if (!challenges.length) {
      const p = document.createElement('p');
      p.className = 'muted';
      p.textContent = 'None.';
      list.append(p);
    }
    for (const c of challenges) {
      const card = document.createElement('div');
      card.className = 'challenge';
      card.dataset.sid = c.sid;
      const msg = document.createElement('strong');
      msg.textContent = c.details.message;
      const dl = document.createElement('dl');
      for (const f of c.details.fields || []) {
        const dt = document.createElement('dt');
        dt.textContent = f.label;
        const dd = document.createElement('dd');
        dd.textContent = f.value;
        dl.append(dt, dd);
      }
      const exp = document.createElement('p');
      exp.className = 'muted';
      exp.textContent = 'Expires ' + new Date(c.expiration_date).toLocaleTimeString();
      const approve = document.createElement('button');
      approve.className = 'approve';
      approve.textContent = 'Approve';
      approve.onclick = () => answer(c.sid, 'approved');
      const deny = document.createElement('button');
      deny.className = 'deny';
      deny.textContent = 'Deny';
      deny.onclick = () => answer(c.sid, 'denied');
      card.append(msg, dl, exp, approve, deny);
      list.append(card);
    }
  }

  async function refresh() {
    if (!device || !device.factorSid) return render(null, []);
    try {
      const auth = await deviceAuth();
      const factor = await verifyApi('GET', entityPath() + '/Factors/' + device.factorSid, auth);
      const page = await verifyApi('GET', entityPath() + '/Challenges?Status=pending&FactorSid=' + device.factorSid, auth);
      render(factor, page.challenges);
    } catch (err) {
      if (err.status === 401 || err.status === 404) return forget(); // the factor is gone (deleted, or a new sandbox)
      showError(err.message);
    }
  }

  $('enroll').onclick = enroll;
  $('forget').onclick = forget;
  refresh();
  setInterval(refresh, 1000);
})();
</script>
</body>
</html>
`;
}
