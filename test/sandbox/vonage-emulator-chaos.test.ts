import express from 'express';
import { Vonage } from '@vonage/server-sdk';
import { Channels, type AnyWorkflow } from '@vonage/verify2';
import { Outbox } from '../../sandbox/outbox';
import { VonageEmulator, type CallbackAttempt } from '../../sandbox/vonage-emulator';
import { listen, rsaKeyPairPem, urlOf } from '../support/local-server';

const APPLICATION_ID = 'a1b2c3d4-0000-4000-8000-0000000000c4';
const keys = rsaKeyPairPem();

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The emulator, a callback receiver that can fail on demand, and the real SDK pointed at the emulator. */
async function start() {
  const received: { status: string; requestId: string }[] = [];
  const receiver = { failNext: 0 };
  const rx = express();
  rx.post('/cb', express.json(), (req, res) => {
    if (receiver.failNext > 0) {
      receiver.failNext--;
      return res.status(503).end();
    }
    received.push({ status: req.body.status, requestId: req.body.request_id });
    res.status(200).end();
  });
  const rxServer = await listen(rx);
  const outbox = new Outbox();
  let base = '';
  const emulator = new VonageEmulator({
    applicationId: APPLICATION_ID,
    publicKeyPem: keys.publicKey,
    signatureSecret: 'chaos-test-signature-secret',
    callbackUrl: () => `${urlOf(rxServer)}/cb`,
    publicBaseUrl: () => base,
    outbox,
    callbackDelayMs: 5,
    callbackRetryBaseMs: 20,
  });
  const app = express();
  app.use('/sandbox/vonage', emulator.router());
  const server = await listen(app);
  base = `${urlOf(server)}/sandbox/vonage`;
  const vonage = new Vonage({ applicationId: APPLICATION_ID, privateKey: keys.privateKey }, { apiHost: base });
  return {
    emulator,
    outbox,
    received,
    receiver,
    vonage,
    async close() {
      emulator.close();
      for (const s of [server, rxServer]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

const sms = (to: string): AnyWorkflow[] => [{ channel: Channels.SMS, to }];
const silentAuth = (to: string) => [{ channel: 'silent_auth', to }] as unknown as AnyWorkflow[];

describe('Vonage emulator chaos switches (bench/chaos)', () => {
  let sb: Awaited<ReturnType<typeof start>>;
  afterEach(async () => sb?.close());

  it('answers 503 with Retry-After during an outage, and serves again once it is over', async () => {
    sb = await start();
    sb.emulator.configure({ outage: { until: Date.now() + 60_000, retryAfterSeconds: 2 } });
    const failed = await sb.vonage.verify2.newRequest({ brand: 'Chaos', workflow: sms('+14155550101') }).then(
      () => undefined,
      (err: { response?: { status: number; headers: { get(n: string): string | null } } }) => err.response,
    );
    expect(failed?.status).toBe(503);
    expect(failed?.headers.get('retry-after')).toBe('2');
    expect(sb.outbox.list()).toHaveLength(0);

    sb.emulator.configure({ outage: undefined });
    const { requestId } = await sb.vonage.verify2.newRequest({ brand: 'Chaos', workflow: sms('+14155550101') });
    expect(sb.emulator.requests.get(requestId)?.status).toBe('active');
  });

  it('acts on a request before a delayed answer leaves (replyDelayMs)', async () => {
    sb = await start();
    sb.emulator.configure({ replyDelayMs: 400 });
    const pending = sb.vonage.verify2.newRequest({ brand: 'Chaos', workflow: sms('+14155550102') });
    await until(() => sb.outbox.list({ to: '+14155550102' }).length === 1, 'the SMS before the answer');
    let answered = false;
    void pending.then(() => (answered = true));
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    await expect(pending).resolves.toMatchObject({ requestId: expect.any(String) });
  });

  it('delivers every callback N times and reports each POST (callbackCopies, observers)', async () => {
    sb = await start();
    const attempts: CallbackAttempt[] = [];
    const delivered: string[] = [];
    sb.emulator.configure({
      callbackCopies: 3,
      onCallbackAttempt: (a) => attempts.push(a),
      onCallbackDelivered: (ms, status) => {
        expect(ms).toBeGreaterThanOrEqual(0);
        delivered.push(status);
      },
    });
    sb.receiver.failNext = 1;
    const { requestId } = await sb.vonage.verify2.newRequest({ brand: 'Chaos', workflow: silentAuth('+14155550103') });
    // The receiver sees a copy before the emulator has read its answer: wait for both sides.
    await until(() => sb.received.length === 3 && delivered.length === 3, 'three copies delivered');
    expect(sb.received).toEqual(Array(3).fill({ status: 'action_pending', requestId }));
    expect(delivered).toEqual(['action_pending', 'action_pending', 'action_pending']);
    expect(attempts.filter((a) => a.outcome === 'retrying')).toEqual([
      expect.objectContaining({ requestId, status: 'action_pending', attempt: 0, httpStatus: 503 }),
    ]);
    expect(attempts.filter((a) => a.outcome === 'delivered')).toHaveLength(3);
  });

  it('shuffles callbacks across a request but still delivers all of them (callbackShuffleMs)', async () => {
    sb = await start();
    sb.emulator.configure({ callbackCopies: 2, callbackShuffleMs: 200 });
    // +15005550005: action_pending then user_rejected.
    await sb.vonage.verify2.newRequest({ brand: 'Chaos', workflow: silentAuth('+15005550005') });
    await until(() => sb.received.length === 4, 'four callbacks');
    expect(sb.received.map((r) => r.status).sort()).toEqual([
      'action_pending',
      'action_pending',
      'user_rejected',
      'user_rejected',
    ]);
  });
});
