import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { WebhookSender, type WebhookAttempt, type WebhookTiming } from '../../sandbox/webhook-sender';
import { eventually } from '../support/stack';

/**
 * The sandbox's one signed-webhook sender, which every emulator delivers through: retries of non-2xx answers with
 * backoff, the order of a queue, the timing read while it runs, and close() stopping what is pending.
 */
const received: { body: string; signature?: string }[] = [];
const receiver = { failNext: 0, holdMs: 0 };
let server: Server;
let url: string;
const senders: WebhookSender[] = [];

beforeAll(async () => {
  const app = express();
  app.post('/hook', express.text({ type: '*/*' }), async (req, res) => {
    if (receiver.failNext > 0) {
      receiver.failNext--;
      return res.status(503).end();
    }
    if (receiver.holdMs > 0) await new Promise((r) => setTimeout(r, receiver.holdMs));
    received.push({ body: req.body as string, signature: req.get('x-signature') });
    res.status(204).end();
  });
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
beforeEach(() => {
  received.length = 0;
  Object.assign(receiver, { failNext: 0, holdMs: 0 });
});
afterEach(() => senders.splice(0).forEach((s) => s.close()));
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const start = (timing: Partial<WebhookTiming> = {}) => {
  const current: WebhookTiming = { delayMs: 0, retries: 5, retryBaseMs: 10, ...timing };
  const sender = new WebhookSender({ name: 'test sandbox', timing: () => current });
  senders.push(sender);
  return { sender, timing: current };
};
const hook = (body: string, attempts: WebhookAttempt[] = [], queue?: string) => {
  let signed = 0;
  return {
    label: body,
    queue,
    // Built again for every attempt: a fresh signature each time.
    request: () => ({ url, headers: { 'x-signature': `sig-${++signed}` }, body }),
    onAttempt: (a: WebhookAttempt) => attempts.push(a),
  };
};

test('retries a non-2xx answer, signing every attempt again, then reports it delivered', async () => {
  const { sender } = start();
  const attempts: WebhookAttempt[] = [];
  receiver.failNext = 2;
  sender.send(hook('a', attempts));
  await eventually(() => attempts.some((a) => a.outcome === 'delivered'), 5000);
  expect(attempts.map((a) => [a.attempt, a.httpStatus, a.failure, a.outcome])).toEqual([
    [0, 503, 'HTTP 503', 'retrying'],
    [1, 503, 'HTTP 503', 'retrying'],
    [2, 204, undefined, 'delivered'],
  ]);
  expect(received).toEqual([{ body: 'a', signature: 'sig-3' }]);
});

test('drops a webhook after its last retry; a network error counts as a failure', async () => {
  const { sender } = start({ retries: 1 });
  const attempts: WebhookAttempt[] = [];
  receiver.failNext = 5;
  sender.send(hook('b', attempts));
  await eventually(() => attempts.some((a) => a.outcome === 'dropped'), 5000);
  expect(attempts.map((a) => a.outcome)).toEqual(['retrying', 'dropped']);

  const unreachable: WebhookAttempt[] = [];
  sender.send({ ...hook('c', unreachable), request: () => ({ url: 'http://127.0.0.1:1/', headers: {}, body: 'c' }) });
  await eventually(() => unreachable.some((a) => a.outcome === 'dropped'), 5000);
  expect(unreachable[0]).toMatchObject({ httpStatus: undefined, failure: expect.any(String) });
});

test('a queue keeps its order behind a retried webhook; other queues do not wait', async () => {
  const { sender } = start({ retryBaseMs: 100 });
  receiver.failNext = 1;
  sender.send(hook('q1-first', [], 'q1'));
  sender.send(hook('q1-second', [], 'q1'));
  sender.send(hook('q2-only', [], 'q2'));
  await eventually(() => received.length === 3, 5000);
  expect(received.map((r) => r.body)).toEqual(['q2-only', 'q1-first', 'q1-second']);
});

test('the timing is read at every attempt (a chaos run changes it while webhooks are pending)', async () => {
  const { sender, timing } = start({ retries: 0 });
  const attempts: WebhookAttempt[] = [];
  timing.retries = 3;
  receiver.failNext = 1;
  sender.send(hook('d', attempts));
  await eventually(() => attempts.some((a) => a.outcome === 'delivered'), 5000);
  expect(attempts.map((a) => a.outcome)).toEqual(['retrying', 'delivered']);
});

test('close() stops a pending delay and a pending retry, and wakes every sleep', async () => {
  const { sender } = start({ delayMs: 60_000 });
  sender.send(hook('never'));
  const { sender: retrying } = start({ retryBaseMs: 60_000 });
  const attempts: WebhookAttempt[] = [];
  receiver.failNext = 1;
  retrying.send(hook('once', attempts));
  await eventually(() => attempts.length === 1, 5000);
  const slept = sender.sleep(60_000);
  sender.close();
  retrying.close();
  await slept;
  expect(sender.closed).toBe(true);
  await new Promise((r) => setTimeout(r, 100));
  expect(received).toEqual([]);
  expect(attempts).toHaveLength(1);
});
