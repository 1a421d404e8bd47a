import { createHash, generateKeyPairSync } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import express from 'express';
import { Vonage } from '@vonage/server-sdk';
import { type AnyWorkflow, Channels, SilentAuthChannel, type VerificationRequestParams } from '@vonage/verify2';
import { tokenGenerate, verifySignature } from '@vonage/jwt';
import { createOutboxRouter, Outbox } from '../../sandbox/outbox';
import { VonageEmulator, type VonageEmulatorOptions } from '../../sandbox/vonage-emulator';

const APPLICATION_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const SIGNATURE_SECRET = 'sandbox-signature-secret';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

interface CallbackBody {
  request_id: string;
  triggered_at: string;
  type: string;
  channel: string;
  status: string;
  action?: { type: string; check_url: string };
  client_ref?: string;
}

interface ReceivedCallback {
  raw: string;
  body: CallbackBody;
  authorization: string;
  answered: number;
}

interface HttpFailure {
  status: number;
  body: Record<string, unknown>;
  headers: { get(name: string): string | null };
}

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs an SDK call that must fail and returns the HTTP response it failed with. */
async function failure(call: Promise<unknown>): Promise<HttpFailure> {
  try {
    await call;
  } catch (err) {
    const response = (
      err as { response?: { status: number; json(): Promise<unknown>; headers: HttpFailure['headers'] } }
    ).response;
    if (!response) throw err;
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      headers: response.headers,
    };
  }
  throw new Error('expected the call to fail');
}

function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Emulator + outbox on one express app, a callback receiver on another, and a real SDK client. */
async function startSandbox(overrides: Partial<VonageEmulatorOptions> = {}) {
  const callbacks: ReceivedCallback[] = [];
  const receiverState = { failNext: 0 };
  const receiver = express();
  receiver.post('/webhooks/vonage', express.raw({ type: '*/*' }), (req, res) => {
    const raw = (req.body as Buffer).toString('utf8');
    const answered = receiverState.failNext > 0 ? 500 : 200;
    if (answered === 500) receiverState.failNext--;
    callbacks.push({ raw, body: JSON.parse(raw), authorization: req.get('authorization') ?? '', answered });
    res.status(answered).end();
  });
  const receiverServer = await listen(receiver);

  const outbox = new Outbox();
  let baseUrl = '';
  const emulator = new VonageEmulator({
    applicationId: APPLICATION_ID,
    publicKeyPem: keys.publicKey,
    signatureSecret: SIGNATURE_SECRET,
    callbackUrl: () => `${urlOf(receiverServer)}/webhooks/vonage`,
    publicBaseUrl: () => baseUrl,
    outbox,
    callbackDelayMs: 5,
    callbackRetryBaseMs: 20,
    ...overrides,
  });
  const app = express();
  app.use('/sandbox/vonage', emulator.router());
  app.use('/sandbox/outbox', createOutboxRouter(outbox));
  const server = await listen(app);
  const rootUrl = urlOf(server);
  baseUrl = `${rootUrl}/sandbox/vonage`;
  const vonage = new Vonage({ applicationId: APPLICATION_ID, privateKey: keys.privateKey }, { apiHost: baseUrl });

  const callbackFor = (requestId: string, status: string) =>
    waitFor(
      () => callbacks.find((c) => c.body.request_id === requestId && c.body.status === status),
      `${status} callback`,
    );
  const codeFor = (to: string, channel: string) =>
    waitFor(() => outbox.list({ to }).find((e) => e.channel === channel)?.code, `${channel} code`);
  const close = async () => {
    emulator.close();
    for (const s of [server, receiverServer]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  };
  return { vonage, emulator, outbox, callbacks, receiverState, rootUrl, baseUrl, callbackFor, codeFor, close };
}

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

describe('Vonage Verify v2 sandbox emulator', () => {
  let sb: Sandbox;
  afterEach(async () => sb?.close());

  // The SDK types `redirectUrl` as required; the API (and its asynchronous flow in the Verify v2 API reference) does not need it.
  const silentAuth = (to: string) => ({ channel: SilentAuthChannel.SILENT_AUTH, to }) as AnyWorkflow;
  const silentSmsVoice = (to: string): AnyWorkflow[] => [
    silentAuth(to),
    { channel: Channels.SMS, to },
    { channel: Channels.VOICE, to },
  ];

  it('runs silent_auth -> sms -> voice for a normal number: signed action_pending, check URL, completed', async () => {
    sb = await startSandbox();
    const to = '+447700900123';
    const { requestId, checkUrl } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: silentSmsVoice(to),
      clientRef: 'phone-abc',
    });
    expect(requestId).toMatch(UUID);
    expect(checkUrl).toBe(`${sb.baseUrl}/v2/verify/${requestId}/silent-auth/redirect`);

    const pending = await sb.callbackFor(requestId, 'action_pending');
    expect(pending.body).toEqual({
      request_id: requestId,
      triggered_at: expect.any(String),
      channel: 'silent_auth',
      status: 'action_pending',
      action: { type: 'check', check_url: checkUrl },
      type: 'event',
      client_ref: 'phone-abc',
    });
    const token = pending.authorization.replace(/^Bearer /, '');
    expect(verifySignature(token, SIGNATURE_SECRET)).toBe(true);
    expect(verifySignature(token, 'another-secret')).toBe(false);
    expect(jwtClaims(token)).toMatchObject({
      iss: 'Vonage',
      api_key: 'sandbox',
      application_id: APPLICATION_ID,
      jti: expect.stringMatching(UUID),
      iat: expect.any(Number),
      payload_hash: createHash('sha256').update(pending.raw).digest('hex'),
    });

    expect((await failure(sb.vonage.verify2.checkCode(requestId, '1234'))).status).toBe(409);

    const first = await fetch(checkUrl as string, { redirect: 'manual' });
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toMatch(
      new RegExp(`^${sb.baseUrl}/silent-auth/checks/[0-9a-f-]{36}/redirect$`),
    );
    const final = await fetch(checkUrl as string);
    expect(final.status).toBe(200);
    const { request_id, code } = (await final.json()) as { request_id: string; code: string };
    expect(request_id).toBe(requestId);
    expect(code).toMatch(/^[A-Za-z0-9]{6}$/);

    await expect(sb.vonage.verify2.checkCode(requestId, code)).resolves.toBe('completed');
    const completed = await sb.callbackFor(requestId, 'completed');
    expect(completed.body).toMatchObject({ channel: 'silent_auth', type: 'event', client_ref: 'phone-abc' });
    expect(sb.outbox.list({ to })).toEqual([]);
    expect((await failure(sb.vonage.verify2.checkCode(requestId, code))).status).toBe(404);
    expect((await fetch(checkUrl as string)).status).toBe(404);
  });

  it('+15005550001: failed silent auth callback, 412 on the check URL, then the SMS code completes', async () => {
    sb = await startSandbox();
    const to = '+15005550001';
    const { requestId, checkUrl } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: silentSmsVoice(to),
    });
    const failed = await sb.callbackFor(requestId, 'failed');
    expect(failed.body).toEqual({
      request_id: requestId,
      triggered_at: expect.any(String),
      channel: 'silent_auth',
      status: 'failed',
      type: 'event',
    });
    const check = await fetch(checkUrl as string);
    expect(check.status).toBe(412);
    expect(await check.json()).toEqual({
      title: 'Network not supported',
      detail: 'Device number does not resolve to a supported Mobile Network Operator.',
      instance: expect.stringMatching(UUID),
      type: 'https://developer.vonage.com/en/api-errors/verify-v2#precondition-failed',
    });

    const code = await sb.codeFor(to, 'sms');
    expect(code).toMatch(/^\d{4}$/);
    expect(sb.outbox.list({ to })[0]).toMatchObject({ provider: 'vonage', ref: requestId, to });
    expect(sb.outbox.list({ to })[0].body).toBe(`Your VerifyFlow verification code is ${code}`);
    await expect(sb.vonage.verify2.checkCode(requestId, code)).resolves.toBe('completed');
    await sb.callbackFor(requestId, 'completed');
    expect(sb.callbacks.map((c) => `${c.body.channel}:${c.body.status}`)).toEqual([
      'silent_auth:failed',
      'sms:completed',
    ]);
  });

  it('+15005550002: the SMS is never delivered; next_workflow sends a voice code', async () => {
    sb = await startSandbox();
    const to = '15005550002';
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: [
        { channel: Channels.SMS, to },
        { channel: Channels.VOICE, to },
      ],
      codeLength: 6,
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(sb.outbox.list({ to })).toEqual([]);
    expect(sb.callbacks).toEqual([]);

    await expect(sb.vonage.verify2.nextWorkflow(requestId)).resolves.toBe(true);
    const code = await sb.codeFor(to, 'voice');
    expect(code).toMatch(/^\d{6}$/);
    expect(sb.outbox.list({ to })[0].body).toBe(`Voice call: Your VerifyFlow verification code is ${code}`);
    await expect(sb.vonage.verify2.checkCode(requestId, code)).resolves.toBe('completed');
    expect((await sb.callbackFor(requestId, 'completed')).body.channel).toBe('voice');
  });

  it('+15005550003: 422 with the body of the Verify v2 API reference', async () => {
    sb = await startSandbox();
    const res = await failure(
      sb.vonage.verify2.newRequest({ brand: 'VerifyFlow', workflow: silentSmsVoice('+15005550003') }),
    );
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      title: 'Invalid params',
      detail: 'The value of one or more parameters is invalid',
      instance: expect.stringMatching(UUID),
      type: 'https://developer.vonage.com/en/api-errors#invalid-params',
      invalid_parameters: [{ name: 'workflow[0]', reason: '`to` Phone number is invalid' }],
    });
  });

  it('+15005550004: 503 with Retry-After twice, then accepted', async () => {
    sb = await startSandbox();
    const request = () =>
      sb.vonage.verify2.newRequest({ brand: 'VerifyFlow', workflow: [{ channel: Channels.SMS, to: '+15005550004' }] });
    for (let i = 0; i < 2; i++) {
      const res = await failure(request());
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.body).toMatchObject({ title: 'Service Unavailable', instance: expect.stringMatching(UUID) });
    }
    const { requestId } = await request();
    expect(requestId).toMatch(UUID);
    await sb.codeFor('+15005550004', 'sms');
  });

  it('+15005550007: Vonage down for the number — every request answered 503 with Retry-After, nothing sent', async () => {
    sb = await startSandbox();
    for (let i = 0; i < 4; i++) {
      const res = await failure(
        sb.vonage.verify2.newRequest({
          brand: 'VerifyFlow',
          workflow: [{ channel: Channels.SMS, to: '+15005550007' }],
        }),
      );
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
    }
    expect(sb.outbox.list({ to: '+15005550007' })).toEqual([]);
  });

  it('+15005550005: action_pending, then user_rejected and the request ends', async () => {
    sb = await startSandbox();
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: silentSmsVoice('+15005550005'),
    });
    const rejected = await sb.callbackFor(requestId, 'user_rejected');
    expect(rejected.body).toMatchObject({ channel: 'silent_auth', type: 'event' });
    expect(sb.callbacks.map((c) => c.body.status)).toEqual(['action_pending', 'user_rejected']);
    expect((await failure(sb.vonage.verify2.checkCode(requestId, '1234'))).status).toBe(404);
    expect(sb.emulator.requests.get(requestId)?.status).toBe('user_rejected');
  });

  it('+15005550006: the network block — one blocked event, nothing sent on any step, the request ends', async () => {
    sb = await startSandbox();
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: silentSmsVoice('+15005550006'),
    });
    const blocked = await sb.callbackFor(requestId, 'blocked');
    expect(blocked.body).toMatchObject({ channel: 'silent_auth', type: 'event' });
    expect(sb.callbacks.map((c) => c.body.status)).toEqual(['blocked']);
    expect(sb.emulator.requests.get(requestId)?.status).toBe('blocked');
    expect((await failure(sb.vonage.verify2.checkCode(requestId, '1234'))).status).toBe(404);
    expect(sb.outbox.list({ to: '+15005550006' })).toEqual([]);
  });

  it('answers a wrong code with the body of the Verify v2 API reference, then 410 at the limit with a failed callback', async () => {
    sb = await startSandbox({ maxWrongCodes: 3 });
    const to = '+447700900124';
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: [{ channel: Channels.SMS, to }],
    });
    const code = await sb.codeFor(to, 'sms');
    const wrong = code === '0000' ? '1111' : '0000';
    for (let i = 0; i < 2; i++) {
      const res = await failure(sb.vonage.verify2.checkCode(requestId, wrong));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        title: 'Invalid Code',
        type: 'https://www.developer.vonage.com/api-errors/verify#invalid-code',
        detail: 'The code you provided does not match the expected value.',
        instance: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
    }
    const gone = await failure(sb.vonage.verify2.checkCode(requestId, wrong));
    expect(gone.status).toBe(410);
    expect(gone.body.detail).toMatch(/Invalid code provided too many times/);
    expect((await sb.callbackFor(requestId, 'failed')).body.channel).toBe('sms');
    expect((await failure(sb.vonage.verify2.checkCode(requestId, code))).status).toBe(410);
  });

  it('next_workflow on the last step is refused (false); cancel ends the request (then 404)', async () => {
    sb = await startSandbox();
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: [{ channel: Channels.SMS, to: '+447700900125' }],
    });
    await expect(sb.vonage.verify2.nextWorkflow(requestId)).resolves.toBe(false);
    await expect(sb.vonage.verify2.cancel(requestId)).resolves.toBe(true);
    expect((await failure(sb.vonage.verify2.checkCode(requestId, '1234'))).status).toBe(404);
    await expect(sb.vonage.verify2.cancel(requestId)).resolves.toBe(false);
    await expect(sb.vonage.verify2.nextWorkflow(requestId)).resolves.toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(sb.callbacks).toEqual([]);
  });

  it('rejects a missing or invalid bearer token with 401', async () => {
    sb = await startSandbox();
    const body: VerificationRequestParams = {
      brand: 'VerifyFlow',
      workflow: [{ channel: Channels.SMS, to: '+447700900126' }],
    };
    const wrongApp = new Vonage({ applicationId: 'another-app', privateKey: keys.privateKey }, { apiHost: sb.baseUrl });
    const unauthorized = await failure(wrongApp.verify2.newRequest(body));
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.body).toMatchObject({ title: 'Unauthorized', instance: expect.stringMatching(UUID) });

    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const forged = new Vonage(
      { applicationId: APPLICATION_ID, privateKey: otherKey.toString() },
      { apiHost: sb.baseUrl },
    );
    expect((await failure(forged.verify2.newRequest(body))).status).toBe(401);

    const anonymous = await fetch(`${sb.baseUrl}/v2/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(anonymous.status).toBe(401);
    expect(sb.emulator.requests.list()).toEqual([]);
  });

  it('retries a callback answered 500, with the same body', async () => {
    sb = await startSandbox();
    sb.receiverState.failNext = 1;
    const to = '+447700900127';
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: [{ channel: Channels.SMS, to }],
    });
    await sb.vonage.verify2.checkCode(requestId, await sb.codeFor(to, 'sms'));
    await waitFor(() => (sb.callbacks.length === 2 ? true : undefined), 'the retried callback');
    expect(sb.callbacks.map((c) => c.answered)).toEqual([500, 200]);
    expect(sb.callbacks[1].raw).toBe(sb.callbacks[0].raw);
    expect(verifySignature(sb.callbacks[1].authorization.slice('Bearer '.length), SIGNATURE_SECRET)).toBe(true);
  });

  it('moves to the next step when a channel times out, then expires (stepTimeoutScale)', async () => {
    sb = await startSandbox({ stepTimeoutScale: 0.005 });
    const to = '+447700900128';
    const { requestId } = await sb.vonage.verify2.newRequest({
      brand: 'VerifyFlow',
      workflow: [
        { channel: Channels.SMS, to },
        { channel: Channels.VOICE, to },
      ],
      channelTimeout: 20,
    });
    await sb.codeFor(to, 'voice');
    const expired = await sb.callbackFor(requestId, 'expired');
    expect(expired.body).toMatchObject({ channel: 'voice', type: 'event' });
    expect(sb.outbox.list({ to }).map((e) => e.channel)).toEqual(['sms', 'voice']);
    expect(sb.emulator.requests.get(requestId)?.status).toBe('expired');
  });

  it('validates the request body and refuses concurrent requests to one number', async () => {
    sb = await startSandbox();
    const invalid = await failure(
      sb.vonage.verify2.newRequest({
        brand: 'A brand name that is too long',
        workflow: [
          { channel: Channels.SMS, to: '+447700900129' },
          silentAuth('+447700900129'),
          { channel: Channels.VOICE, to: 'not-a-number' },
        ],
        channelTimeout: 10,
      }),
    );
    expect(invalid.status).toBe(422);
    expect((invalid.body.invalid_parameters as { name: string }[]).map((p) => p.name)).toEqual([
      'brand',
      'workflow[1]',
      'workflow[2]',
      'channel_timeout',
    ]);

    const sms: VerificationRequestParams = {
      brand: 'VerifyFlow',
      workflow: [{ channel: Channels.SMS, to: '+447700900129' }],
    };
    const { requestId } = await sb.vonage.verify2.newRequest(sms);
    const busy = await failure(
      sb.vonage.verify2.newRequest({ ...sms, workflow: [{ channel: Channels.VOICE, to: '447700900129' }] }),
    );
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({
      detail: 'Concurrent verifications to the same number are not allowed',
      request_id: requestId,
    });

    const garbage = await fetch(`${sb.baseUrl}/v2/verify/${requestId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${tokenGenerate(APPLICATION_ID, keys.privateKey)}`,
      },
      body: '{"code":',
    });
    expect(garbage.status).toBe(422);
    expect((await failure(sb.vonage.verify2.checkCode(requestId, ''))).status).toBe(422);
  });

  it('serves the outbox as filtered JSON and as an escaped, auto-refreshing HTML page', async () => {
    sb = await startSandbox();
    const to = '+447700900130';
    await sb.vonage.verify2.newRequest({ brand: 'VerifyFlow', workflow: [{ channel: Channels.SMS, to }] });
    sb.outbox.add({
      provider: 'twilio',
      channel: 'sms',
      to: '+15551234567',
      body: '<script>alert(1)</script>',
      code: '42',
    });

    const all = (await (await fetch(`${sb.rootUrl}/sandbox/outbox`)).json()) as { to: string }[];
    expect(all.map((e) => e.to)).toEqual([to, '+15551234567']);
    for (const query of [`?to=${encodeURIComponent(to)}`, `?to=${to}`, '?provider=vonage']) {
      const filtered = (await (await fetch(`${sb.rootUrl}/sandbox/outbox${query}`)).json()) as {
        to: string;
        code: string;
      }[];
      expect(filtered).toEqual([
        expect.objectContaining({ to, provider: 'vonage', channel: 'sms', code: expect.stringMatching(/^\d{4}$/) }),
      ]);
    }

    const page = await fetch(`${sb.rootUrl}/sandbox/outbox/html`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('<meta http-equiv="refresh" content="2">');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    const negotiated = await fetch(`${sb.rootUrl}/sandbox/outbox?provider=twilio`, {
      headers: { accept: 'text/html' },
    });
    expect(negotiated.headers.get('content-type')).toMatch(/text\/html/);
    expect(await negotiated.text()).not.toContain(to);
  });

  it('keeps only the last 1000 outbox entries', () => {
    const outbox = new Outbox();
    for (let i = 0; i < 1005; i++)
      outbox.add({ provider: 'vonage', channel: 'sms', to: '+15550000000', body: `#${i}`, code: '1' });
    const entries = outbox.list();
    expect(entries).toHaveLength(1000);
    expect(entries[0].body).toBe('#5');
    expect(entries[999].body).toBe('#1004');
    outbox.clear();
    expect(outbox.list()).toEqual([]);
  });
});
