import { createHash } from 'node:crypto';
import express from 'express';
import { sign } from 'jsonwebtoken';
import { createPlainRoute } from '../../bench/baseline/plain-route';
import { Outbox } from '../../sandbox/outbox';
import { VonageEmulator, type VonageEmulatorOptions } from '../../sandbox/vonage-emulator';
import { listen, rsaKeyPairPem, urlOf } from '../support/local-server';

const APPLICATION_ID = '00000000-0000-4000-8000-0000000000be';
const SIGNATURE_SECRET = 'plain-route-test-signature-secret';
const keys = rsaKeyPairPem();

/** The Vonage emulator on one server, the plain route on another, the emulator's callbacks sent to its `/webhook`. */
async function startBoth(emulatorOptions: Partial<VonageEmulatorOptions> = {}) {
  const outbox = new Outbox();
  let routeUrl = '';
  let emulatorUrl = '';
  const emulator = new VonageEmulator({
    applicationId: APPLICATION_ID,
    publicKeyPem: keys.publicKey,
    signatureSecret: SIGNATURE_SECRET,
    callbackUrl: () => `${routeUrl}/webhook`,
    publicBaseUrl: () => emulatorUrl,
    outbox,
    callbackDelayMs: 1,
    ...emulatorOptions,
  });
  const sandbox = express();
  sandbox.use('/sandbox/vonage', emulator.router());
  const sandboxServer = await listen(sandbox);
  emulatorUrl = `${urlOf(sandboxServer)}/sandbox/vonage`;
  const route = createPlainRoute({
    applicationId: APPLICATION_ID,
    privateKey: keys.privateKey,
    apiHost: emulatorUrl,
    signatureSecret: SIGNATURE_SECRET,
  });
  const routeServer = await listen(route.app);
  routeUrl = urlOf(routeServer);
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${routeUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
  };
  const statusOf = async (id: string) =>
    ((await (await fetch(`${routeUrl}/verifications/${id}`)).json()) as { status: string }).status;
  const codeFor = (to: string) => outbox.list({ to }).at(-1)?.code;
  const close = async () => {
    emulator.close();
    for (const s of [routeServer, sandboxServer]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  };
  return { emulator, post, statusOf, codeFor, close };
}

type Both = Awaited<ReturnType<typeof startBoth>>;

/** A 4-digit code that is not `code`. */
const wrong = (code: string) => code.replace(/^./, (d) => String((Number(d) + 1) % 10));

describe('plain-route benchmark baseline (Vonage SDK, state in memory)', () => {
  let both: Both;
  afterEach(async () => both?.close());

  it('start sends an SMS through Vonage with the SMS step shape; the code from the outbox completes the check', async () => {
    both = await startBoth();
    const to = '+447700900101';
    const start = await both.post('/start', { phone: to });
    expect(start.status).toBe(201);
    const id = start.body.id as string;
    expect(start.body.status).toBe('pending');
    expect(both.emulator.requests.get(id)).toMatchObject({
      brand: 'Bench',
      workflow: [{ channel: 'sms', to }],
      channelTimeout: 150,
      status: 'active',
    });
    const code = both.codeFor(to)!;
    expect(code).toMatch(/^\d{4}$/);

    // A wrong code: Vonage's 400 passed through, the verification still pending.
    const bad = await both.post('/check', { id, code: wrong(code) });
    expect(bad).toEqual({ status: 400, body: { id, status: 'pending', error: 'Invalid Code' } });

    const good = await both.post('/check', { id, code });
    expect(good).toEqual({ status: 200, body: { id, status: 'completed' } });
    expect(await both.statusOf(id)).toBe('completed');
    expect(both.emulator.requests.get(id)?.status).toBe('completed');
  });

  it("too many wrong codes: Vonage's 410 passed through and the verification failed", async () => {
    both = await startBoth({ maxWrongCodes: 2 });
    const to = '+447700900102';
    const { body } = await both.post('/start', { phone: to });
    const id = body.id as string;
    const bad = wrong(both.codeFor(to)!);
    expect((await both.post('/check', { id, code: bad })).status).toBe(400);
    expect(await both.post('/check', { id, code: bad })).toMatchObject({ status: 410, body: { status: 'failed' } });
    expect(await both.statusOf(id)).toBe('failed');
  });

  it('answers 4xx naming the field for bad input, 404 for an unknown id', async () => {
    both = await startBoth();
    const noPhone = await both.post('/start', {});
    expect(noPhone.status).toBe(400);
    expect(noPhone.body.error).toMatch(/`phone`/);
    expect((await both.post('/start', { phone: '0770' })).status).toBe(400);
    const noId = await both.post('/check', { code: '1234' });
    expect(noId.status).toBe(400);
    expect(noId.body.error).toMatch(/`id`/);
    const noCode = await both.post('/check', { id: 'x' });
    expect(noCode.status).toBe(400);
    expect(noCode.body.error).toMatch(/`code`/);
    expect((await both.post('/check', { id: 'unknown', code: '1234' })).status).toBe(404);
  });

  it("takes the emulator's signed `expired` callback", async () => {
    // The SMS step's 150 s scaled down to a few ms: the emulator ends the request and calls back `expired`.
    both = await startBoth({ stepTimeoutScale: 0.0001 });
    const { body } = await both.post('/start', { phone: '+447700900103' });
    const id = body.id as string;
    for (let i = 0; i < 300 && (await both.statusOf(id)) === 'pending'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await both.statusOf(id)).toBe('expired');
  });

  it('refuses unsigned callbacks and callbacks signed with another secret', async () => {
    both = await startBoth();
    const { body } = await both.post('/start', { phone: '+447700900104' });
    const id = body.id as string;
    const raw = JSON.stringify({ request_id: id, status: 'failed', type: 'event', channel: 'sms' });
    const token = (secret: string) =>
      sign({ payload_hash: createHash('sha256').update(raw).digest('hex'), iss: 'Vonage' }, secret, {
        algorithm: 'HS256',
      });
    expect((await both.post('/webhook', raw)).status).toBe(401);
    expect((await both.post('/webhook', raw, { authorization: `Bearer ${token('not-the-secret')}` })).status).toBe(401);
    expect(await both.statusOf(id)).toBe('pending');
    expect((await both.post('/webhook', raw, { authorization: `Bearer ${token(SIGNATURE_SECRET)}` })).status).toBe(204);
    expect(await both.statusOf(id)).toBe('failed');
  });
});
