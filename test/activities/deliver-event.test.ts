import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Webhook } from 'standardwebhooks';
import { createEventActivities } from '../../activities/events';
import { eventDeliveryContract, FailureType, type VerificationEvent } from '../../workflows/contract';

/**
 * `deliverEvent` against an endpoint on 127.0.0.1 that answers what each test sets: a redirect is never followed
 * (the configured URL is the endpoint; a 3xx could point events anywhere) and counts as a refusal — retried until the
 * `rejectedTries`th try, then parked — while the URL it points to never sees the event.
 */
const SECRET = 'whsec_' + Buffer.from('deliver-event-test-secret-32-bytes!!').toString('base64');
let answer: { status: number; location?: string } = { status: 204 };
const hits: { path: string; webhookId: string; headers: Record<string, string>; body: string }[] = [];
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({
        path: req.url ?? '',
        webhookId: String(req.headers['webhook-id']),
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString(),
      });
      if (req.url === '/events') res.writeHead(answer.status, answer.location ? { location: answer.location } : {});
      else res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  hits.length = 0;
  answer = { status: 204 };
});

const event: VerificationEvent = {
  id: 'phone-abc~0123abcd~1',
  type: 'verification.created',
  timestamp: '2026-12-04T00:00:00.000Z',
  data: { verificationId: 'phone-abc', kind: 'phone', status: 'pending', client: 'acme' },
};
const deliver = (attempt: number) =>
  new MockActivityEnvironment({ attempt } as never, { logger: new DefaultLogger('ERROR') }).run(
    createEventActivities({ events: { acme: { url: `${base}/events`, secret: SECRET } } }).deliverEvent,
    { client: 'acme', event },
  );

test('a 2xx delivers the event, signed so that the library verifies it', async () => {
  await expect(deliver(1)).resolves.toEqual({ statusCode: 204, attempt: 1 });
  expect(hits).toHaveLength(1);
  const { webhookId, headers, body } = hits[0];
  expect(webhookId).toBe(event.id);
  expect(new Webhook(SECRET).verify(body, headers)).toEqual(event);
});

test.each([301, 302, 303, 307, 308])(
  'a %i is not followed: refused like a 4xx, retried, parked at the last try',
  async (status) => {
    answer = { status, location: `${base}/elsewhere` };
    const tries = eventDeliveryContract.defaults.rejectedTries;
    for (let attempt = 1; attempt <= tries; attempt++) {
      const err = await deliver(attempt).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({
        type: FailureType.EventRejected,
        nonRetryable: attempt >= tries,
        details: [{ statusCode: status, attempt }],
      });
    }
    // Only the configured endpoint was called; the redirect's target never saw the event.
    expect(hits.map((h) => h.path)).toEqual(Array(tries).fill('/events'));
  },
);

test('408, 429 and 5xx are retried for as long as the delivery lasts; 410 stops at once', async () => {
  for (const status of [408, 429, 500, 503]) {
    answer = { status };
    await expect(deliver(10)).rejects.toMatchObject({ type: 'EndpointUnavailable', nonRetryable: false });
  }
  answer = { status: 410 };
  await expect(deliver(1)).rejects.toMatchObject({ type: FailureType.EndpointGone, nonRetryable: true });
});
