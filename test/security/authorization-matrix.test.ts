import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { EventDeliveryState, PhoneVerificationState, PushEnrollmentState } from '../../workflows/contract';
import { SANDBOX_EVENTS_SECRET } from '../../src/config/auth-config';
import { PushDevice } from '../support/push-device';
import { freePort } from '../support/ports';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * The authorization matrix of docs/SECURITY.md, measured on the running app: every route the app registers × (no
 * credential, a bad credential, the client that owns the resource, another client) → the status it answers. Routes
 * with an ID are asked about a resource of the owning client, created fresh for that route. The table in the doc is
 * generated from these answers (`UPDATE_SECURITY=1 npx jest test/security`) and a drift fails the test, like
 * docs/CONTRACT.md; a route without a recipe here fails too, so no new route escapes the matrix.
 */
const OWN = 'Bearer vf_test_own_client';
const OTHER = 'Bearer vf_test_other_client';
const BAD = 'Bearer vf_not_a_key_of_anyone';
const CALLERS = [
  ['anonymous', undefined],
  ['bad credential', BAD],
  ['other client', OTHER],
  ['own client', OWN],
] as const;

let stack: Stack;
beforeAll(async () => {
  // Two clients, and the codec server with its token, as outside sandbox (on loopback in sandbox it needs none). The
  // owning client has an events endpoint (the sandbox receiver), so its verifications have events.
  const port = await freePort();
  const clientsFile = join(mkdtempSync(join(tmpdir(), 'matrix-')), 'clients.json');
  writeFileSync(
    clientsFile,
    JSON.stringify({
      clients: [
        { id: 'own', events: { url: `http://127.0.0.1:${port}/sandbox/events`, secret: SANDBOX_EVENTS_SECRET } },
      ],
    }),
  );
  stack = await startStack(
    {
      API_KEYS: 'own:vf_test_own_client,other:vf_test_other_client',
      CLIENTS_FILE: clientsFile,
      CODEC_SERVER_TOKEN: 'a-codec-server-token-of-this-test-only',
    },
    port,
  );
});
afterAll(async () => {
  await stack?.stop();
});

const as = (auth: string | undefined) => ({
  get: (path: string) => withAuth(request(stack.app.getHttpServer()).get(path), auth),
  post: (path: string, body?: object) => {
    const req = withAuth(request(stack.app.getHttpServer()).post(path), auth);
    return body === undefined ? req : req.send(body);
  },
});
const withAuth = (req: request.Test, auth?: string) => (auth ? req.set('Authorization', auth) : req);
const own = as(OWN);
const number = () => uniqueNumber('+1415556');

async function phone(): Promise<string> {
  const res = await own.post('/v1/verifications/phone', {
    to: number(),
    brand: 'Acme',
    channels: [{ channel: 'sms' }],
  });
  expect(res.status).toBe(201);
  return res.body.id;
}
async function identity(): Promise<string> {
  const res = await own.post('/v1/verifications/identity', { reference: `user-${randomUUID()}`, type: 'document' });
  expect(res.status).toBe(201);
  return res.body.id;
}
async function completedIdentity(): Promise<string> {
  const id = await identity();
  const secret = await eventually(async () => {
    const r = await own.post(`/v1/verifications/${id}/client-secret`);
    return r.status === 200 && (r.body as { url: string });
  });
  await fetch(secret.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome: 'verified' }),
  });
  await eventually(async () => (await own.get(`/v1/verifications/${id}`)).body.status === 'completed');
  return id;
}
async function completedPhone(): Promise<string> {
  const to = number();
  const res = await own.post('/v1/verifications/phone', { to, brand: 'Acme', channels: [{ channel: 'sms' }] });
  const code = await eventually(async () => {
    const out = await request(stack.app.getHttpServer()).get('/sandbox/outbox').query({ to });
    return (out.body as { code: string }[]).pop()?.code;
  });
  await own.post(`/v1/verifications/${res.body.id}/check`, { code });
  return res.body.id;
}
/** An identity with an approved device and a second one pending approval. */
async function pendingFactor(): Promise<{ identity: string; factorSid: string }> {
  const identity = `user-${randomUUID()}`;
  await new PushDevice(stack.baseUrl, identity, OWN).enroll();
  const second = new PushDevice(stack.baseUrl, identity, OWN);
  await second.enroll();
  await eventually(async () => {
    const e = (await own.get(`/v1/push/enrollments/${identity}`)).body as PushEnrollmentState;
    return e.factors?.find((f) => f.sid === second.factorSid)?.status === 'pending_approval';
  });
  return { identity, factorSid: second.factorSid! };
}

/** How to ask each route: its path (with the owning client's resources) and body, made fresh for every caller. */
type Recipe = () => Promise<{ path: string; body?: object }>;
const RECIPES: Record<string, Recipe> = {
  'POST /v1/verifications/phone': async () => ({
    path: '/v1/verifications/phone',
    body: { to: number(), brand: 'Acme', channels: [{ channel: 'sms' }] },
  }),
  'GET /v1/verifications/:id': async () => ({ path: `/v1/verifications/${await phone()}` }),
  'POST /v1/verifications/:id/check': async () => ({
    path: `/v1/verifications/${await phone()}/check`,
    body: { code: '000000' },
  }),
  'POST /v1/verifications/:id/next-channel': async () => ({
    path: `/v1/verifications/${await phone()}/next-channel`,
  }),
  'POST /v1/verifications/:id/resend': async () => {
    const res = await own.post('/v1/verifications/phone', {
      to: number(),
      brand: 'Acme',
      channels: [{ channel: 'sms', provider: 'sms_gateway' }],
    });
    return { path: `/v1/verifications/${res.body.id}/resend` };
  },
  'POST /v1/verifications/:id/cancel': async () => ({ path: `/v1/verifications/${await phone()}/cancel`, body: {} }),
  'POST /v1/verifications/identity': async () => ({
    path: '/v1/verifications/identity',
    body: { reference: `user-${randomUUID()}`, type: 'document' },
  }),
  'POST /v1/verifications/:id/client-secret': async () => ({
    path: `/v1/verifications/${await identity()}/client-secret`,
  }),
  'POST /v1/verifications/:id/redact': async () => ({ path: `/v1/verifications/${await identity()}/redact`, body: {} }),
  'GET /v1/verifications/:id/redaction': async () => {
    const id = await completedIdentity();
    await own.post(`/v1/verifications/${id}/redact`, {});
    return { path: `/v1/verifications/${id}/redaction` };
  },
  'POST /v1/push/access-tokens': async () => ({
    path: '/v1/push/access-tokens',
    body: { identity: `user-${randomUUID()}` },
  }),
  'POST /v1/verifications/push': async () => ({
    path: '/v1/verifications/push',
    body: { identity: `user-${randomUUID()}`, message: 'Log in?' },
  }),
  'GET /v1/push/enrollments/:identity': async () => {
    const identity = `user-${randomUUID()}`;
    await own.post('/v1/push/access-tokens', { identity });
    return { path: `/v1/push/enrollments/${identity}` };
  },
  'POST /v1/push/enrollments/:identity/factors/:factorSid/approve': async () => {
    const { identity, factorSid } = await pendingFactor();
    return {
      path: `/v1/push/enrollments/${identity}/factors/${factorSid}/approve`,
      body: { verificationId: await completedPhone() },
    };
  },
  'POST /v1/onboardings': async () => ({
    path: '/v1/onboardings',
    body: {
      reference: `user-${randomUUID().slice(0, 20)}`,
      phone: { to: number(), brand: 'Acme', channels: [{ channel: 'sms' }] },
      identity: { type: 'document' },
    },
  }),
  'GET /v1/onboardings/:id': async () => {
    const res = await own.post('/v1/onboardings', {
      reference: `user-${randomUUID().slice(0, 20)}`,
      phone: { to: number(), brand: 'Acme', channels: [{ channel: 'sms' }] },
      identity: { type: 'document' },
    });
    return { path: `/v1/onboardings/${res.body.id}` };
  },
  'POST /v1/onboardings/:id/cancel': async () => {
    const res = await own.post('/v1/onboardings', {
      reference: `user-${randomUUID().slice(0, 20)}`,
      phone: { to: number(), brand: 'Acme', channels: [{ channel: 'sms' }] },
      identity: { type: 'document' },
    });
    return { path: `/v1/onboardings/${res.body.id}/cancel`, body: {} };
  },
  'GET /v1/events': async () => ({ path: `/v1/events?verificationId=${await phone()}` }),
  'POST /v1/events/:id/redeliver': async () => {
    const id = await phone();
    const eventId = await eventually(
      async () => ((await own.get(`/v1/events?verificationId=${id}`)).body as EventDeliveryState).events?.[0]?.id,
    );
    return { path: `/v1/events/${encodeURIComponent(eventId)}/redeliver` };
  },
  // Not API client routes: each authenticates its caller its own way; API client credentials change nothing.
  'POST /sms-gateway': async () => ({
    path: '/sms-gateway',
    body: { recipient: '+14155550100', body: 'x', sender: 'A' },
  }),
  'POST /webhooks/vonage': async () => ({ path: '/webhooks/vonage', body: { request_id: 'x', status: 'completed' } }),
  'POST /webhooks/vonage-sms': async () => ({ path: '/webhooks/vonage-sms', body: { messageId: 'x' } }),
  'GET /webhooks/vonage-sms': async () => ({ path: '/webhooks/vonage-sms?messageId=x' }),
  'POST /webhooks/stripe': async () => ({ path: '/webhooks/stripe', body: { id: 'evt_x' } }),
  'POST /webhooks/twilio': async () => ({ path: '/webhooks/twilio', body: { uuid: 'x' } }),
  'POST /codec/encode': async () => ({ path: '/codec/encode', body: { payloads: [] } }),
  'POST /codec/decode': async () => ({ path: '/codec/decode', body: { payloads: [] } }),
  'GET /health': async () => ({ path: '/health' }),
  'GET /metrics': async () => ({ path: '/metrics' }),
};

/** Every route the app registered (Nest controllers on the express router; sandbox and /docs routers excluded). */
function registeredRoutes(): string[] {
  const router = stack.app.getHttpAdapter().getInstance().router as {
    stack: { route?: { path: string; methods: Record<string, boolean> } }[];
  };
  const routes = new Set<string>();
  for (const layer of router.stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) {
      if (method === 'options' || method === '_all') continue;
      routes.add(`${method.toUpperCase()} ${layer.route.path}`);
    }
  }
  return [...routes].filter((r) => !/ \/docs/.test(r)).sort();
}

const DOC = join(__dirname, '..', '..', 'docs', 'SECURITY.md');
const BEGIN = '<!-- authorization matrix: generated by test/security/authorization-matrix.test.ts -->';
const END = '<!-- end of the authorization matrix -->';

test('every route × (anonymous, bad credential, other client, own client): the matrix of docs/SECURITY.md', async () => {
  const routes = registeredRoutes();
  expect(routes.filter((r) => !RECIPES[r])).toEqual([]);
  const rows: string[] = [];
  for (const route of routes) {
    const [method, template] = route.split(' ');
    const statuses: number[] = [];
    for (const [, auth] of CALLERS) {
      const { path, body } = await RECIPES[route]();
      const client = as(auth);
      const res = method === 'GET' ? await client.get(path) : await client.post(path, body);
      statuses.push(res.status);
      if (template.startsWith('/v1/') && (auth === undefined || auth === BAD)) {
        expect([route, auth ?? 'anonymous', res.status]).toEqual([route, auth ?? 'anonymous', 401]);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="verifyflow"/);
      }
      if (template.startsWith('/v1/') && template.includes(':') && auth === OTHER) {
        expect([route, 'other client', res.status]).toEqual([route, 'other client', 404]);
      }
    }
    if (!template.startsWith('/v1/')) {
      // Public routes answer the same whoever calls, credential or not.
      expect(new Set(statuses).size).toBe(1);
    }
    rows.push(`| \`${method} ${template}\` | ${statuses.join(' | ')} |`);
  }
  const table = [
    BEGIN,
    '',
    `| route | ${CALLERS.map(([name]) => name).join(' | ')} |`,
    `| --- | ${CALLERS.map(() => '---').join(' | ')} |`,
    ...rows,
    '',
    END,
  ].join('\n');
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  expect(start).toBeGreaterThanOrEqual(0);
  const updated = doc.slice(0, start) + table + doc.slice(end + END.length);
  if (process.env.UPDATE_SECURITY) writeFileSync(DOC, updated);
  else expect(doc).toBe(updated);
}, 300_000);

test('a client reads and acts only on its own verifications: another client gets 404, exactly as for an unknown id', async () => {
  const id = await phone();
  const other = as(OTHER);
  const unknown = id.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  for (const path of [`/v1/verifications/${id}`, `/v1/verifications/${unknown}`]) {
    const res = await other.get(path);
    expect(res.status).toBe(404);
    expect(res.body.message).toMatch(/^verification .* not found$/);
  }
  expect((await other.post(`/v1/verifications/${id}/cancel`, {})).status).toBe(404);
  expect(((await own.get(`/v1/verifications/${id}`)).body as PhoneVerificationState).status).toBe('pending');
  // The other client's own references never collide with ours.
  const reference = `user-${randomUUID().slice(0, 8)}`;
  const body = { to: number(), brand: 'Acme', reference, channels: [{ channel: 'sms' }] };
  const mine = await own.post('/v1/verifications/phone', body);
  const theirs = await other.post('/v1/verifications/phone', body);
  expect([mine.status, theirs.status]).toEqual([201, 201]);
  expect(mine.body.id).toBe(`phone-own-${reference}`);
  expect(theirs.body.id).toBe(`phone-other-${reference}`);
});

test('the sandbox test key stops working once API keys are configured', async () => {
  const res = await request(stack.app.getHttpServer())
    .get('/v1/verifications/phone-sandbox-x')
    .set('Authorization', 'Bearer vf_test_sandbox');
  expect(res.status).toBe(401);
});
