import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import express from 'express';
import { decode, sign, verify, type JwtPayload } from 'jsonwebtoken';
import { HttpSmsGateways } from '../../providers/sms-gateway/http-gateways';
import { verifyGatewayToken, type SmsGatewayAuth } from '../../providers/sms-gateway/token';
import { FailureType } from '../../workflows/contract';
import { Outbox } from '../../sandbox/outbox';
import { SmsGatewayEmulator } from '../../sandbox/sms-gateway-emulator';

/**
 * The outbound `sms_gateway` adapter against the sandbox gateway emulator (the same protocol Auth0 speaks, Auth0's custom SMS gateway docs),
 * and against a recording server to see exactly what goes over the wire.
 */
const auth: SmsGatewayAuth = { subject: 'urn:Auth0', audience: 'urn:MySmsGateway', secret: 'MySecretToSignTheToken' };
// A base64url secret (`secret_base64_encoded: true`): the key is the decoded bytes.
const b64Key = Buffer.from('binary\x00\xffsecret-key-bytes-for-the-gateway');
const b64Auth: SmsGatewayAuth = { ...auth, secret: b64Key.toString('base64url'), secretBase64: true };

let server: Server;
let base: string;
const outbox = new Outbox();
const emulator = new SmsGatewayEmulator({ auth, outbox });
const b64Emulator = new SmsGatewayEmulator({ auth: b64Auth, outbox });
const recorded: { headers: Record<string, string | string[] | undefined>; body: unknown }[] = [];

beforeAll(async () => {
  const app = express();
  app.use('/gw', emulator.router());
  app.use('/gw64', b64Emulator.router());
  app.post('/record', express.json(), (req, res) => {
    recorded.push({ headers: req.headers, body: req.body });
    res.status(202).end();
  });
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  emulator.close();
  await new Promise((r) => server.close(r));
});

const gateways = () =>
  new HttpSmsGateways(
    [
      { name: 'main', url: `${base}/gw`, auth },
      { name: 'b64', url: `${base}/gw64`, auth: b64Auth },
      { name: 'wrong-secret', url: `${base}/gw`, auth: { ...auth, secret: 'not-the-secret' } },
      { name: 'wrong-audience', url: `${base}/gw`, auth: { ...auth, audience: 'urn:Other' } },
      { name: 'no-auth', url: `${base}/gw` },
      { name: 'fails', url: `${base}/gw/500`, auth },
      { name: 'hangs', url: `${base}/gw/hang`, auth, timeoutMs: 300 },
      { name: 'recorder', url: `${base}/record`, auth, sender: '+1 234 567', forwardReqInfo: true },
      { name: 'recorder-no-req', url: `${base}/record`, auth },
    ],
    { timeoutMs: 5000 },
  );
const message = (recipient = '+14155550123') => ({
  recipient,
  body: 'Your verification code is: 12345',
  sender: 'Acme',
  req: { ip: '167.56.227.117', 'user-agent': 'Mozilla/5.0' },
});
const failure = (p: Promise<unknown>) => p.then(() => undefined).catch((e) => e as ApplicationFailure);

test('posts {recipient, body, sender} with an HS256 bearer JWT carrying sub and aud; 2xx = accepted', async () => {
  const res = await gateways().send('recorder-no-req', message());
  expect(res).toEqual({ gateway: 'recorder-no-req', status: 202 });
  const { headers, body } = recorded.pop()!;
  expect(headers['content-type']).toMatch(/^application\/json/);
  expect(body).toEqual({ recipient: '+14155550123', body: 'Your verification code is: 12345', sender: 'Acme' });
  const token = /^Bearer (.+)$/.exec(String(headers.authorization))![1];
  expect(decode(token, { complete: true })?.header.alg).toBe('HS256');
  expect(verify(token, 'MySecretToSignTheToken', { audience: 'urn:MySmsGateway', subject: 'urn:Auth0' })).toMatchObject(
    { sub: 'urn:Auth0', aud: 'urn:MySmsGateway' },
  );
});

test('the adapter mints short-lived tokens: iat and exp, 5 minutes apart', async () => {
  await gateways().send('recorder-no-req', message());
  const token = /^Bearer (.+)$/.exec(String(recorded.pop()!.headers.authorization))![1];
  const claims = decode(token, { json: true }) as JwtPayload;
  expect(claims.exp! - claims.iat!).toBe(300);
  expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(5);
  expect(verifyGatewayToken(`Bearer ${token}`, auth)).toEqual({ ok: true });
});

describe('verifyGatewayToken: a token must carry exp and live at most 5 minutes (60 s of clock skew)', () => {
  const NOW = 1_800_000_000;
  const token = (claims: { iat?: number; exp?: number }, over: Partial<SmsGatewayAuth> = {}) =>
    `Bearer ${sign(claims, over.secret ?? auth.secret, {
      algorithm: 'HS256',
      subject: over.subject ?? auth.subject,
      audience: over.audience ?? auth.audience,
      noTimestamp: claims.iat === undefined,
    })}`;
  const check = (authorization: string | undefined) => verifyGatewayToken(authorization, auth, NOW);

  test.each<[string, { iat?: number; exp?: number }]>([
    ['iat now, exp in 5 minutes', { iat: NOW, exp: NOW + 300 }],
    ['iat a minute ago, exp in 4 minutes', { iat: NOW - 60, exp: NOW + 240 }],
    ['no iat, exp in 6 minutes (5 + skew)', { exp: NOW + 360 }],
    ['expired 50 s ago (within the skew)', { iat: NOW - 350, exp: NOW - 50 }],
  ])('accepted: %s', (_what, claims) => {
    expect(check(token(claims))).toEqual({ ok: true });
  });

  test.each<[string, string | undefined, string]>([
    ['no token', undefined, 'missing bearer token'],
    ['no exp', token({ iat: NOW }), 'token without exp (an expiry is required)'],
    ['no exp, no iat', token({}), 'token without exp (an expiry is required)'],
    ['exp − iat = 301 s', token({ iat: NOW, exp: NOW + 301 }), 'token lives longer than 300 s'],
    ['a day long', token({ iat: NOW, exp: NOW + 86_400 }), 'token lives longer than 300 s'],
    ['no iat, exp in 361 s', token({ exp: NOW + 361 }), 'token lives longer than 300 s'],
    ['iat an hour ahead, 5 minutes long', token({ iat: NOW + 3600, exp: NOW + 3900 }), 'token lives longer than 300 s'],
    ['expired 61 s ago', token({ iat: NOW - 361, exp: NOW - 61 }), 'token expired'],
    ['wrong audience', token({ iat: NOW, exp: NOW + 60 }, { audience: 'urn:Other' }), 'wrong audience'],
    ['wrong subject', token({ iat: NOW, exp: NOW + 60 }, { subject: 'urn:Other' }), 'wrong subject'],
    ['another secret', token({ iat: NOW, exp: NOW + 60 }, { secret: 'not-the-secret' }), 'invalid token'],
  ])('refused: %s', (_what, authorization, why) => {
    expect(check(authorization)).toEqual({ ok: false, why });
  });
});

test("forwards req only for a gateway with forwardReqInfo; the gateway's sender wins", async () => {
  await gateways().send('recorder', message());
  expect(recorded.pop()!.body).toEqual({
    recipient: '+14155550123',
    body: 'Your verification code is: 12345',
    sender: '+1 234 567',
    req: { ip: '167.56.227.117', 'user-agent': 'Mozilla/5.0' },
  });
});

test('the sandbox gateway accepts a good token (plain and base64url secrets) and records to the outbox', async () => {
  const to = '+14155550111';
  expect(await gateways().send('main', message(to))).toEqual({ gateway: 'main', status: 200 });
  expect(await gateways().send('b64', message(to))).toEqual({ gateway: 'b64', status: 200 });
  // Undefined = the first configured gateway.
  expect((await gateways().send(undefined, message(to))).gateway).toBe('main');
  const entries = outbox.list({ to });
  expect(entries).toHaveLength(3);
  expect(entries[0]).toMatchObject({ provider: 'sms_gateway', channel: 'sms', code: '12345' });
});

test('401/403 → non-retryable ProviderAuthFailed (bad secret, wrong audience, no token)', async () => {
  for (const name of ['wrong-secret', 'wrong-audience', 'no-auth']) {
    const err = await failure(gateways().send(name, message()));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: FailureType.ProviderAuthFailed, nonRetryable: true });
    expect(err!.message).toBe(`SMS gateway ${name} answered HTTP 401`);
  }
});

test('500 and a hang past the timeout are retryable; the messages name neither recipient nor text', async () => {
  const e500 = await failure(gateways().send('fails', message()));
  expect(e500).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
  const hang = await failure(gateways().send('hangs', message()));
  expect(hang).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
  expect(hang!.message).toBe('SMS gateway hangs did not answer within 300 ms');
  for (const e of [e500, hang]) expect(e!.message).not.toMatch(/4155550123|12345/);
  expect(emulator.counts.failed500).toBeGreaterThanOrEqual(1);
  expect(emulator.counts.hanging).toBeGreaterThanOrEqual(1);
});

test('sandbox numbers: +15005550003 refused (400 → ProviderRejected), +15005550004 503 with Retry-After twice', async () => {
  expect(await failure(gateways().send('main', message('+15005550003')))).toMatchObject({
    type: FailureType.ProviderRejected,
    nonRetryable: true,
  });
  for (let i = 0; i < 2; i++) {
    expect(await failure(gateways().send('main', message('+15005550004')))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
      nextRetryDelay: 1000,
    });
  }
  expect((await gateways().send('main', message('+15005550004'))).status).toBe(200);
  // +15005550002: accepted, never delivered.
  expect((await gateways().send('main', message('+15005550002'))).status).toBe(200);
  expect(outbox.list({ to: '+15005550002' })).toHaveLength(0);
});

test('an unknown gateway name fails typed, non-retryable', async () => {
  expect(await failure(gateways().send('nope', message()))).toMatchObject({
    type: 'ProviderNotConfigured',
    nonRetryable: true,
  });
});
