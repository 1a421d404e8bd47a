import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { type Client, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import express from 'express';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import {
  eventDeliveryContract,
  FailureType,
  phoneContract,
  type EventDeliveryState,
  type PhoneVerificationInput,
} from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone/workflow';
import { PHONE_STARTS_PATCH } from '../../workflows/common';
import { EventsReceiver } from '../../sandbox/events-receiver';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/**
 * Outbound events on a real Temporal dev server: a phone verification (Vonage faked) whose input carries the `events`
 * option hands its events to its `eventDelivery` workflow, which POSTs them signed to a receiver on 127.0.0.1 that
 * verifies them with the `standardwebhooks` library (the sandbox's). Each test has its own client and workflow ID.
 */
const SECRET = 'whsec_' + Buffer.from('event-delivery-test-secret-32-bytes!').toString('base64');
const fake = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};
const clients = ['acme', 'gone', 'rejecting', 'fields', 'nourl'] as const;
const receiver = new EventsReceiver({ secrets: () => Object.fromEntries(clients.map((c) => [c, SECRET])) });
/** Status forced per client by the test receiver in front of the sandbox one (none: the sandbox receiver answers). */
const forced: Partial<Record<(typeof clients)[number], number>> = {};
let server: Server;
let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `wf-events-${randomUUID()}`;

beforeAll(async () => {
  const app = express();
  app.post('/events/:client', (req, res, next) => {
    const status = forced[req.params.client as (typeof clients)[number]];
    if (status) res.status(status).end();
    else next();
  });
  app.use('/events/:client', receiver.router());
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = (c: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/events/${c}`;
  const events = Object.fromEntries(
    clients.filter((c) => c !== 'nourl').map((c) => [c, { url: url(c), secret: SECRET }]),
  );
  fakeWorker = await startFakeWorker({ vonage: fake, events }, taskQueue);
  client = fakeWorker.client;
});

afterAll(async () => {
  await fakeWorker?.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

let requestSeq = 0;
beforeEach(() => {
  jest.resetAllMocks();
  fake.startVerification.mockImplementation(async () => ({ requestId: `req-${++requestSeq}` }));
  fake.cancel.mockResolvedValue(true);
  fake.checkCode.mockImplementation(async (_id, code) => (code === '1234' ? 'completed' : 'invalid_code'));
});

const TO = '+14155550100';
const start = (input: Partial<PhoneVerificationInput>) =>
  client.workflow.start(phoneVerification, {
    workflowId: `phone-${randomUUID().replace(/-/g, '')}`,
    taskQueue,
    args: [{ to: TO, brand: 'Acme', channels: [{ channel: 'sms' }], client: 'acme', events: {}, ...input }],
  });
const deliveryOf = (verificationId: string) => client.workflow.getHandle(eventDeliveryContract.id(verificationId));
const stateOf = (verificationId: string): Promise<EventDeliveryState> =>
  deliveryOf(verificationId).query(eventDeliveryContract.messages.getState);
/** The patch IDs a run recorded (its `patched()` markers). */
const patchesOf = async (handle: WorkflowHandle): Promise<string[]> =>
  ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });
const receivedFor = (verificationId: string) =>
  receiver.received.filter((r) => r.webhookId.startsWith(`${verificationId}~`));
/** The delivery state once every event of the verification has settled (none pending). */
const settled = (verificationId: string, count: number) =>
  eventually(async () => {
    const s = await stateOf(verificationId).catch(() => undefined);
    return s && s.events.length === count && s.events.every((e) => e.status !== 'pending') && s;
  }, 100_000);

test('a completed verification: created and completed arrive signed, in order, verified with the library', async () => {
  const handle = await start({});
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  expect((await handle.result()).status).toBe('completed');

  const state = await settled(handle.workflowId, 2);
  expect(state.events.map((e) => [e.type, e.status, e.attempts, e.lastStatusCode])).toEqual([
    ['verification.created', 'delivered', 1, 204],
    ['verification.completed', 'delivered', 1, 204],
  ]);
  const got = receivedFor(handle.workflowId);
  expect(got.map((r) => [r.verified, r.event?.type])).toEqual([
    [true, 'verification.created'],
    [true, 'verification.completed'],
  ]);
  // webhook-id = the event id: `<verification ID>~<run tag>~<n>`.
  expect(got.map((r) => r.webhookId)).toEqual(state.events.map((e) => e.id));
  expect(got[0].webhookId).toMatch(new RegExp(`^${handle.workflowId}~[0-9a-f]{8}~1$`));
  expect(got[1].event?.data).toMatchObject({
    verificationId: handle.workflowId,
    kind: 'phone',
    status: 'completed',
    reason: 'verified',
    channel: 'sms',
    provider: 'vonage',
    client: 'acme',
  });
  // Never the phone number (nor a code) unless the client opted into it.
  expect(JSON.stringify(got.map((r) => r.event))).not.toContain(TO.slice(1));
  // The release patch stands for outbound-events (and every other earlier patch): one marker, one upsert.
  expect(await patchesOf(handle)).toEqual([PHONE_STARTS_PATCH]);
  await saveHistory('phone-events-release-2026-12-05-starts', handle);
  await saveHistory('event-delivery', deliveryOf(handle.workflowId));
});

test('an endpoint answering 500 (or down) gets the same event again, with the same webhook-id, until a 2xx', async () => {
  receiver.fail(500, 1);
  const handle = await start({});
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  const state = await settled(handle.workflowId, 1);
  expect(state.events[0]).toMatchObject({ type: 'verification.created', status: 'delivered', attempts: 2 });
  receiver.fail(0, 1); // the next try finds no one: the connection is dropped
  await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  const after = await settled(handle.workflowId, 2);
  expect(after.events[1]).toMatchObject({ type: 'verification.completed', status: 'delivered', attempts: 2 });
  const got = receivedFor(handle.workflowId);
  expect(got.map((r) => [r.answered, r.webhookId])).toEqual([
    [500, after.events[0].id],
    [204, after.events[0].id],
    [0, after.events[1].id],
    [204, after.events[1].id],
  ]);
});

test('a cancelled verification announces it; a delivery never holds up or fails the verification', async () => {
  forced.rejecting = 400;
  const handle = await start({ client: 'rejecting' });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
  expect(await handle.result()).toMatchObject({ status: 'cancelled' });
  // The endpoint refuses every event with a 400: each is tried a few times, then parked.
  const state = await settled(handle.workflowId, 2);
  expect(state.events.map((e) => [e.type, e.status, e.attempts, e.lastStatusCode])).toEqual([
    ['verification.created', 'parked', eventDeliveryContract.defaults.rejectedTries, 400],
    ['verification.cancelled', 'parked', eventDeliveryContract.defaults.rejectedTries, 400],
  ]);
  // Redelivered once the endpoint is fixed: the same webhook-id, now delivered.
  delete forced.rejecting;
  const id = state.events[1].id;
  const record = await deliveryOf(handle.workflowId).executeUpdate(eventDeliveryContract.messages.redeliver, {
    args: [{ eventId: id }],
  });
  expect(record).toMatchObject({ id, status: 'pending', redeliveries: 1 });
  await eventually(async () => (await stateOf(handle.workflowId)).events[1].status === 'delivered');
  expect(receivedFor(handle.workflowId).map((r) => [r.verified, r.webhookId])).toEqual([[true, id]]);
}, 150_000); // two events, each tried three times with backoff before it is parked

test('410 Gone stops every delivery to the endpoint until a redelivery is asked for', async () => {
  forced.gone = 410;
  const handle = await start({ client: 'gone' });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  await handle.result();
  const state = await settled(handle.workflowId, 2);
  expect(state.events.map((e) => [e.status, e.attempts])).toEqual([
    ['gone', 1],
    ['gone', 0], // never sent
  ]);
  delete forced.gone;
  await expect(
    deliveryOf(handle.workflowId).executeUpdate(eventDeliveryContract.messages.redeliver, {
      args: [{ eventId: `${handle.workflowId}~00000000~9` }],
    }),
  ).rejects.toMatchObject({ cause: { type: FailureType.EventNotFound } });
  await deliveryOf(handle.workflowId).executeUpdate(eventDeliveryContract.messages.redeliver, {
    args: [{ eventId: state.events[0].id }],
  });
  await eventually(async () => (await stateOf(handle.workflowId)).events[0].status === 'delivered');
  expect((await stateOf(handle.workflowId)).events[1].status).toBe('gone');
});

test('opted-in fields travel; a client without an endpoint on the worker parks its events', async () => {
  const withTo = await start({ client: 'fields', events: { fields: ['to'] } });
  const unconfigured = await start({ client: 'nourl' });
  const state = await settled(withTo.workflowId, 1);
  expect(state.events[0].event.data.to).toBe(TO);
  expect(receivedFor(withTo.workflowId)[0].event?.data.to).toBe(TO);
  const parked = await settled(unconfigured.workflowId, 1);
  expect(parked.events[0]).toMatchObject({ status: 'parked', lastError: expect.stringMatching(/no events endpoint/) });
  await withTo.cancel();
  await unconfigured.cancel();
});

test('without the events option nothing is started: the verification has no delivery workflow', async () => {
  const handle = await start({ events: undefined });
  await eventually(() => fake.startVerification.mock.calls.length === 1);
  await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] });
  await handle.result();
  await expect(deliveryOf(handle.workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  expect(await patchesOf(handle)).not.toContain('outbound-events');
});
