import { randomUUID } from 'node:crypto';
import { type Client, WithStartWorkflowOperation, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { SmsGatewayMessage, SmsGatewaySent } from '../../providers/sms-gateway/http-gateways';
import type { VonageSmsParams, VonageSmsSent } from '../../providers/vonage/sms';
import {
  FailureType,
  rateLimitContract,
  SA_PROVIDER_REF,
  smsDeliveryContract,
  type SmsDeliveryInput,
} from '../../workflows/contract';
import { rateLimit } from '../../workflows/rate-limit';
import { smsDelivery } from '../../workflows/sms-delivery';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/** `smsDelivery` and `rateLimit` on a real Temporal dev server, with typed fakes for the Vonage SMS API and gateways. */
const gatewaySend = jest.fn<Promise<SmsGatewaySent>, [string | undefined, SmsGatewayMessage]>();
const vonageSend = jest.fn<Promise<VonageSmsSent>, [VonageSmsParams]>();

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `wf-sms-${randomUUID()}`;

beforeAll(async () => {
  fakeWorker = await startFakeWorker(
    {
      smsGateways: { names: () => ['gw'], send: (g, m) => gatewaySend(g, m) },
      vonageSms: { send: (p) => vonageSend(p) },
    },
    taskQueue,
  );
  client = fakeWorker.client;
});

afterAll(async () => {
  await fakeWorker?.stop();
});

let seq = 0;
beforeEach(() => {
  gatewaySend.mockReset().mockImplementation(async (g) => ({ gateway: g ?? 'gw', status: 200 }));
  vonageSend.mockReset().mockImplementation(async () => ({ messageIds: [`MSG${++seq}`] }));
});

const RECIPIENT = '+14155550177';
const BODY = 'Your verification code is: 12345';
const input = (extra: Partial<SmsDeliveryInput> = {}): SmsDeliveryInput => ({
  recipient: RECIPIENT,
  body: BODY,
  sender: '+1 234 567',
  req: { ip: '167.56.227.117', 'user-agent': 'Mozilla/5.0' },
  routes: [{ provider: 'vonage' }, { provider: 'sms_gateway', gateway: 'gw' }],
  dedupeWindowSeconds: 0,
  ...extra,
});
/** What the inbound gateway does: update-with-start, answer when accepted. */
const deliver = (workflowId: string, i: SmsDeliveryInput, waitSeconds = 20) =>
  client.workflow.executeUpdateWithStart(smsDeliveryContract.messages.awaitAcceptance, {
    args: [{ waitSeconds }],
    startWorkflowOperation: new WithStartWorkflowOperation(smsDelivery, {
      workflowId,
      taskQueue,
      args: [i],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
const newId = () => `sms-${randomUUID().replace(/-/g, '')}`;
const receipt = (ref: string, status: 'completed' | 'failed') => ({
  eventId: `vonage-sms:${ref}:${status}`,
  provider: 'vonage' as const,
  ref,
  channel: 'sms' as const,
  status,
});

test('accepted by Vonage → answered; a delivered receipt → delivered; state and SAs hold no recipient or text', async () => {
  const id = newId();
  const accepted = await deliver(id, input());
  expect(accepted).toMatchObject({ id, kind: 'sms', status: 'accepted', acceptedBy: 'vonage', routeIndex: 0 });
  expect(vonageSend).toHaveBeenCalledWith({ to: RECIPIENT, from: '+1 234 567', text: BODY, clientRef: id });
  const handle = client.workflow.getHandle(id);
  await handle.signal(smsDeliveryContract.messages.providerEvent, receipt(`MSG${seq}`, 'completed'));
  await handle.signal(smsDeliveryContract.messages.providerEvent, receipt(`MSG${seq}`, 'completed')); // redelivered
  const result = await handle.result();
  expect(result).toMatchObject({
    status: 'delivered',
    routes: [{ provider: 'vonage', status: 'delivered' }, { status: 'skipped' }],
  });
  expect(JSON.stringify(result)).not.toMatch(/4155550177|12345|167\.56/);
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SA_PROVIDER_REF)).toEqual([`vonage:MSG${seq}`]);
  expect(JSON.stringify(desc.raw.workflowExecutionInfo?.searchAttributes)).not.toMatch(/4155550177|167\.56/);
  expect(gatewaySend).not.toHaveBeenCalled();
});

test('a failed receipt tries the next route (the gateway, with the forwarded request info)', async () => {
  const id = newId();
  await deliver(id, input());
  const handle = client.workflow.getHandle(id);
  await handle.signal(smsDeliveryContract.messages.providerEvent, receipt(`MSG${seq}`, 'failed'));
  const result = await handle.result();
  expect(result).toMatchObject({
    status: 'accepted',
    acceptedBy: 'sms_gateway:gw',
    routes: [
      { provider: 'vonage', status: 'failed', failure: 'failed' },
      { provider: 'sms_gateway', gateway: 'gw', status: 'accepted' },
    ],
  });
  expect(gatewaySend).toHaveBeenCalledWith('gw', {
    recipient: RECIPIENT,
    body: BODY,
    sender: '+1 234 567',
    req: { ip: '167.56.227.117', 'user-agent': 'Mozilla/5.0' },
  });
  await saveHistory('sms-delivery-receipt-fallback', handle);
});

test('a route whose sends keep failing (retries exhausted) falls back; the answer comes from the next route', async () => {
  vonageSend.mockRejectedValue(ApplicationFailure.create({ type: 'ProviderUnavailable', message: 'HTTP 503' }));
  const id = newId();
  const answer = await deliver(id, input({ attemptsPerRoute: 2 }));
  expect(answer).toMatchObject({ status: 'accepted', acceptedBy: 'sms_gateway:gw', routeIndex: 1 });
  expect(vonageSend).toHaveBeenCalledTimes(2);
  expect(answer.routes[0]).toMatchObject({ status: 'failed', failure: 'ProviderUnavailable' });
});

test('every route failing → failed / provider_error; an invalid destination stops at once', async () => {
  gatewaySend.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.ProviderRejected, message: 'HTTP 400', nonRetryable: true }),
  );
  vonageSend.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.ProviderAuthFailed, message: 'status 4', nonRetryable: true }),
  );
  expect(await deliver(newId(), input())).toMatchObject({ status: 'failed', reason: 'provider_error' });

  vonageSend.mockRejectedValue(
    ApplicationFailure.create({ type: FailureType.InvalidDestination, message: 'status 3', nonRetryable: true }),
  );
  gatewaySend.mockClear();
  const answer = await deliver(newId(), input());
  expect(answer).toMatchObject({ status: 'failed', reason: 'invalid_destination' });
  expect(answer.routes.map((r) => r.status)).toEqual(['failed', 'skipped']);
  expect(gatewaySend).not.toHaveBeenCalled();
});

test('the same request again joins the running delivery: sent once, both answered', async () => {
  const id = newId();
  const [a, b] = await Promise.all([
    deliver(id, input({ dedupeWindowSeconds: 30 })),
    deliver(id, input({ dedupeWindowSeconds: 30 })),
  ]);
  expect(a.status).toBe('accepted');
  expect(b.status).toBe('accepted');
  expect(await deliver(id, input({ dedupeWindowSeconds: 30 }))).toMatchObject({ status: 'accepted' });
  expect(vonageSend).toHaveBeenCalledTimes(1);
  expect((await client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
  await client.workflow.getHandle(id).terminate('test done');
});

test('nothing accepted within waitSeconds → the answer says sending; the run goes on and accepts later', async () => {
  gatewaySend.mockImplementation(async (g) => {
    await new Promise((r) => setTimeout(r, 3000));
    return { gateway: g ?? 'gw', status: 200 };
  });
  const id = newId();
  const early = await deliver(id, input({ routes: [{ provider: 'sms_gateway', gateway: 'gw' }] }), 1);
  expect(early.status).toBe('sending');
  const state = await eventually(async () => {
    const s = await client.workflow.getHandle(id).query(smsDeliveryContract.messages.getState);
    return s.status === 'accepted' && s;
  });
  expect(state.acceptedBy).toBe('sms_gateway:gw');
});

test('invalid input fails with InvalidInput naming the field', async () => {
  const handle = await client.workflow.start(smsDelivery, {
    workflowId: newId(),
    taskQueue,
    args: [{ ...input(), recipient: '+1 399 999' }],
  });
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toMatchObject({ type: FailureType.InvalidInput });
  expect(err.cause.message).toMatch(/recipient: must be an E\.164/);
});

describe('rateLimit', () => {
  const hit = (workflowId: string, limit: number, windowSeconds: number) =>
    client.workflow.executeUpdateWithStart(rateLimitContract.messages.acquire, {
      args: [{ limit, windowSeconds }],
      startWorkflowOperation: new WithStartWorkflowOperation(rateLimit, {
        workflowId,
        taskQueue,
        args: [{}],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });

  test('concurrent callers share one count: exactly `limit` allowed, then refused with a retry delay', async () => {
    const id = `ratelimit-test-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 8 }, () => hit(id, 5, 600)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    const refused = results.filter((r) => !r.allowed);
    expect(refused).toHaveLength(3);
    for (const r of refused) expect(r.retryAfterSeconds).toBeGreaterThan(590);
    expect(
      results
        .filter((r) => r.allowed)
        .map((r) => r.remaining)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4]);
    await client.workflow.getHandle(id).terminate('test done');
  });

  test('hits leave the window; an idle limiter ends and a later hit starts afresh', async () => {
    const id = `ratelimit-test-${randomUUID()}`;
    expect(await hit(id, 2, 2)).toMatchObject({ allowed: true, remaining: 1 });
    expect(await hit(id, 2, 2)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await hit(id, 2, 2)).toMatchObject({ allowed: false });
    const handle = client.workflow.getHandle(id);
    expect(await handle.result()).toEqual({ hits: 2 });
    const firstRunId = (await handle.describe()).runId;
    const firstRun = client.workflow.getHandle(id, firstRunId);
    expect(await hit(id, 2, 2)).toMatchObject({ allowed: true, remaining: 1 });
    expect((await handle.describe()).runId).not.toBe(firstRunId);
    const history = JSON.stringify(historyToJSON(await firstRun.fetchHistory()));
    expect(history).toMatch(/acquire/);
    await saveHistory('rate-limit', firstRun);
  });
});
