import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Runtime } from '@temporalio/worker';
import { sign } from 'jsonwebtoken';
import { vonageParamsSignature } from '../../providers/vonage/sms-receipt';
import { smsDeliveryContract, type SmsDeliveryState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';

/**
 * The inbound Auth0-compatible SMS gateway over HTTP, as Auth0 calls it (Auth0's custom SMS gateway docs): signed bearer
 * JWT, the documented bodies exactly, then Temporal (real dev server) → smsDelivery → Vonage SMS API emulator (real SDK) → signed delivery
 * receipt → webhook → signal. Rate limits are low here so the 429s are reachable.
 */
let stack: Stack;
const logged: string[] = [];

beforeAll(async () => {
  for (const level of ['log', 'warn', 'error', 'debug', 'verbose', 'fatal'] as const) {
    jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
      logged.push(JSON.stringify(args));
    });
  }
  const runtimeLogger = Runtime.instance().logger;
  const original = runtimeLogger.log.bind(runtimeLogger);
  jest.spyOn(runtimeLogger, 'log').mockImplementation((level, message, meta) => {
    logged.push(`[${level}] ${message} ${JSON.stringify(meta ?? {})}`);
    original(level, message, meta);
  });
  stack = await startStack({
    // A key of this run's own: workflow IDs (hashes) never collide with another test file's on the shared server.
    SMS_INBOUND_ID_SECRET: `test-sms-id-secret-${randomUUID()}`,
    SMS_INBOUND_RATE_LIMIT_RECIPIENT: '3/600',
    SMS_INBOUND_RATE_LIMIT_IP: '4/600',
  });
});
afterAll(async () => {
  await stack?.stop();
  jest.restoreAllMocks();
});

/** The bodies of Auth0's custom SMS gateway docs, exactly. */
const AUTH0_BODY = { recipient: '+1 399 999', body: 'Your verification code is: 12345', sender: '+1 234 567' };
const AUTH0_BODY_WITH_REQ = {
  recipient: '+1 399 999',
  body: 'Your verification code is: 12345',
  sender: '+1 234 567',
  req: {
    ip: '167.56.227.117',
    'user-agent':
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.109 Safari/537.36',
  },
};

/** The token Auth0 puts on the call (`gateway_authentication`), with one thing wrong on request. */
const auth0Token = (
  over: {
    secret?: string;
    audience?: string;
    subject?: string;
    /** null: no exp claim at all. */
    expiresIn?: number | null;
    algorithm?: 'HS256' | 'HS384';
  } = {},
) => {
  const inbound = stack.config.sms.inbound!;
  return sign({}, over.secret ?? inbound.secret, {
    algorithm: over.algorithm ?? 'HS256',
    subject: over.subject ?? inbound.subject,
    audience: over.audience ?? inbound.audience,
    ...(over.expiresIn === null ? {} : { expiresIn: over.expiresIn ?? 60 }),
  });
};
/** POSTs like Auth0 does; `token: null` sends no Authorization header. */
const post = (body: unknown, token: string | null = auth0Token()) => {
  const req = stack.anon().post('/sms-gateway').set('content-type', 'application/json');
  if (token !== null) req.set('authorization', `Bearer ${token}`);
  return req.send(JSON.stringify(body));
};
const outbox = async (to: string) =>
  (await stack.http().get('/sandbox/outbox').query({ to })).body as { provider: string; body: string }[];
const deliveryState = (id: string) => stack.client.workflow.getHandle(id).query(smsDeliveryContract.messages.getState);
const waitForDelivery = (id: string, pred: (s: SmsDeliveryState) => boolean) =>
  eventually(async () => {
    const s = await deliveryState(id);
    return pred(s) && s;
  }, 30_000);

test("Auth0's documented body with a good token → 200 once accepted; in the outbox; the signed receipt marks it delivered", async () => {
  const res = await post(AUTH0_BODY);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'accepted', acceptedBy: 'vonage' });
  expect(res.body.id).toMatch(/^sms-[0-9a-f]{32}$/);
  expect(await outbox('+1399999')).toEqual([
    expect.objectContaining({ provider: 'vonage', channel: 'sms', body: 'Your verification code is: 12345' }),
  ]);
  // The emulator's receipt went through POST /webhooks/vonage-sms (signature checked) as a signal.
  const delivered = await waitForDelivery(res.body.id, (s) => s.status === 'delivered');
  expect(delivered.routes[0]).toMatchObject({ provider: 'vonage', status: 'delivered' });

  // Auth0 repeating the message (here: the documented forward_req_info body) joins the same run: nothing sent twice.
  const again = await post(AUTH0_BODY_WITH_REQ);
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(res.body.id);
  expect(await outbox('+1399999')).toHaveLength(1);

  // No recipient, text or request info in the ID, search attributes or history (payloads are encrypted).
  const handle = stack.client.workflow.getHandle(res.body.id);
  const history = JSON.stringify(historyToJSON(await handle.fetchHistory()));
  const described = JSON.stringify((await handle.describe()).raw.workflowExecutionInfo);
  for (const secret of ['1399999', '1 399 999', 'Your verification code', '167.56.227.117', 'Mozilla']) {
    expect(history).not.toContain(secret);
    expect(described).not.toContain(secret);
  }
});

test("401 for Auth0's documented bodies with a missing, forged, expired, long-lived, wrong-audience or wrong-subject token; nothing sent", async () => {
  const before = (await outbox('+1399999')).length;
  const cases: [string, string | null, string][] = [
    ['missing', null, 'missing bearer token'],
    ['not a JWT', 'not-a-jwt', 'invalid token'],
    ['forged', auth0Token({ secret: 'an-attacker-secret-that-is-long-enough' }), 'invalid token'],
    ['expired', auth0Token({ expiresIn: -120 }), 'token expired'],
    ['wrong audience', auth0Token({ audience: 'urn:MySmsGateway' }), 'wrong audience'],
    ['wrong subject', auth0Token({ subject: 'urn:SomeoneElse' }), 'wrong subject'],
    ['other algorithm', auth0Token({ algorithm: 'HS384' }), 'invalid token'],
    ['without exp (valid forever)', auth0Token({ expiresIn: null }), 'token without exp (an expiry is required)'],
    ['living 10 minutes', auth0Token({ expiresIn: 600 }), 'token lives longer than 300 s'],
  ];
  for (const [what, token, message] of cases) {
    for (const body of [AUTH0_BODY, AUTH0_BODY_WITH_REQ]) {
      const res = await post(body, token);
      expect([what, res.status, res.body.message]).toEqual([what, 401, message]);
    }
  }
  expect(await outbox('+1399999')).toHaveLength(before);
});

test('400 naming the field for a bad body (after authentication)', async () => {
  const cases: [unknown, RegExp][] = [
    [{ ...AUTH0_BODY, recipient: 'call me' }, /^recipient: must be an E\.164 phone number/],
    [{ body: 'hi', sender: 'Acme' }, /^recipient: is required/],
    [{ ...AUTH0_BODY, body: '' }, /^body: is required/],
    [{ ...AUTH0_BODY, body: 'x'.repeat(1601) }, /^body: must be at most 1600 characters/],
    [{ recipient: '+14155550100', body: 'hi' }, /^sender: is required/],
    [{ ...AUTH0_BODY, req: 'not an object' }, /^req: /],
  ];
  for (const [body, message] of cases) {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  }
  // Authentication comes first: a bad body with a bad token is a 401.
  expect((await post({}, 'nope')).status).toBe(401);
});

test('rate limits: per recipient and per client IP → 429 with Retry-After and a clear body; nothing sent', async () => {
  const to = '+14155550190';
  for (let i = 1; i <= 3; i++) {
    expect((await post({ recipient: to, body: `Your code is: 10${i}0`, sender: 'Acme' })).status).toBe(200);
  }
  const limited = await post({ recipient: to, body: 'Your code is: 1040', sender: 'Acme' });
  expect(limited.status).toBe(429);
  expect(limited.body).toMatchObject({ error: 'rate_limited', scope: 'recipient' });
  expect(limited.body.message).toMatch(/^too many messages to this recipient: at most 3 per 600 s; retry in \d+ s$/);
  expect(Number(limited.headers['retry-after'])).toBeGreaterThan(500);
  expect(await outbox(to)).toHaveLength(3);

  const ip = '203.0.113.9';
  const body = (n: number) => ({
    recipient: `+1415555020${n}`,
    body: 'Your code is: 2222',
    sender: 'Acme',
    req: { ip },
  });
  for (let n = 1; n <= 4; n++) expect((await post(body(n))).status).toBe(200);
  const byIp = await post(body(5));
  expect(byIp.status).toBe(429);
  expect(byIp.body).toMatchObject({ error: 'rate_limited', scope: 'ip' });
  expect(byIp.body.message).toMatch(/from this client IP: at most 4 per 600 s/);
  expect(await outbox('+14155550205')).toHaveLength(0);
  // The limiters are workflows named by keyed hashes: neither the number nor the IP appears in their IDs.
  // (Visibility is eventually consistent: wait until the recipient and the IP limiters are both listed.)
  const limiters = await eventually(async () => {
    const ids: string[] = [];
    const query = `WorkflowType = 'rateLimit' AND TaskQueue = '${stack.config.taskQueue}'`;
    for await (const wf of stack.client.workflow.list({ query })) ids.push(wf.workflowId);
    return ids.some((id) => id.startsWith('ratelimit-ip-')) && ids;
  });
  for (const id of limiters) expect(id).toMatch(/^ratelimit-(recipient|ip)-[0-9a-f]{32}$/);
});

test('a failed delivery receipt (+15005550001) → the next provider (the sandbox gateway) sends it', async () => {
  const res = await post({ recipient: '+1 500 555 0001', body: 'Your verification code is: 77777', sender: 'Acme' });
  expect(res.status).toBe(200);
  expect(res.body.acceptedBy).toBe('vonage');
  const state = await waitForDelivery(res.body.id, (s) => s.acceptedBy === 'sms_gateway:sandbox');
  expect(state.routes).toEqual([
    { provider: 'vonage', status: 'failed', failure: 'failed' },
    { provider: 'sms_gateway', gateway: 'sandbox', status: 'accepted' },
  ]);
  expect((await outbox('+15005550001')).map((e) => e.provider)).toEqual(['vonage', 'sms_gateway']);
});

test('delivery receipt webhook: unsigned, forged and stale receipts → 401; a valid one for an unknown message → 200', async () => {
  const settings = stack.config.sms.vonageSms!;
  const now = Math.floor(Date.now() / 1000);
  const receipt = { messageId: 'NOPE0001', status: 'delivered', 'client-ref': 'sms-nobody', timestamp: String(now) };
  const send = (body: object) => stack.anon().post('/webhooks/vonage-sms').send(body);
  const signed = (r: Record<string, string>, secret = settings.signatureSecret) => ({
    ...r,
    sig: vonageParamsSignature(r, secret, settings.signatureMethod),
  });
  expect((await send(receipt)).status).toBe(401);
  expect((await send(signed(receipt, 'not-the-signature-secret'))).status).toBe(401);
  expect((await send({ ...signed(receipt), status: 'failed' })).status).toBe(401);
  expect((await send(signed({ ...receipt, timestamp: String(now - 3600) }))).status).toBe(401);
  const ok = await send(signed(receipt));
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ ok: true, delivered: false });
  // GET with query parameters (an account configured for GET receipts) is verified the same way.
  expect((await stack.anon().get('/webhooks/vonage-sms').query(signed(receipt))).status).toBe(200);
  expect((await stack.anon().get('/webhooks/vonage-sms').query(receipt)).status).toBe(401);
});

test('OpenAPI documents POST /sms-gateway and POST /v1/verifications/{id}/resend', async () => {
  const doc = await stack.http().get('/docs/openapi.json');
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining(['/sms-gateway', '/v1/verifications/{id}/resend']),
  );
});

test('no recipient, text, code, client IP or task token was logged by the API or the worker', () => {
  const all = logged.join('\n');
  expect(all.length).toBeGreaterThan(0);
  for (const secret of ['1399999', '1 399 999', 'Your verification code', '12345', '167.56.227.117', '203.0.113.9']) {
    expect(all).not.toContain(secret);
  }
  // The activities' own lines are there, without the task token the SDK attaches (a credential).
  expect(all).toMatch(/SMS accepted by Vonage.*"activityType"/);
  // (The SDK's worker-internal TRACE lines still carry it; the default level, INFO, never emits them.)
  expect(logged.filter((l) => /taskToken/i.test(l) && !l.startsWith('[TRACE] ')).map((l) => l.slice(0, 300))).toEqual(
    [],
  );
});
