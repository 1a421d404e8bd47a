import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_KEY } from '../../src/config/auth-config';
import { codecDataConverter } from '../../src/temporal/codec';
import { ensureNexusEndpoint } from '../../src/temporal/nexus-endpoint';
import { ensureNamespace } from '../../src/temporal/search-attributes';
import { phoneContract, SA_CLIENT, type PhoneVerificationState } from '../../workflows/contract';
import { phoneVerification } from '../../workflows/phone/workflow';
import { eventually, startStack, type Stack } from '../support/stack';
import { callOperation, codeEntered, identityThenCancel, signupWithPhone } from './caller-workflows';

/**
 * The `verification` Nexus service across namespaces: our worker (through the plugin) serves it on the suite's
 * `default` namespace; a platform team's worker in a namespace of its own runs caller workflows that reach it only
 * through a Nexus endpoint (made with ensureNexusEndpoint, as `npm run dev` makes its own). The endpoint's callers act
 * as the sandbox API client.
 */
const tag = randomBytes(4).toString('hex');
const endpoint = `verifyflow-test-${tag}`;
/** An endpoint that targets our worker but is mapped to no API client. */
const unmapped = `verifyflow-unmapped-${tag}`;
const callerNamespace = `platform-${tag}`;
/** An endpoint whose callers act as `acme`, a client with settings of its own (CLIENTS_FILE). */
const acmeEndpoint = `verifyflow-acme-${tag}`;
const ACME_KEY = `acme-nexus-key-${tag}`;

let stack: Stack;
let connection: NativeConnection;
let caller: Client;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `signup-${randomUUID()}`;

beforeAll(async () => {
  // One send per number per 10 minutes: a second start to the same number shows the first send was counted.
  // The sandbox client's events go to the sandbox receiver, as in `npm run dev`.
  const clientsFile = join(mkdtempSync(join(tmpdir(), 'nexus-clients-')), 'clients.yaml');
  writeFileSync(
    clientsFile,
    ['clients:', '  - id: acme', `    keys: [${ACME_KEY}]`, '    channels: [sms]', '    providers: [sms_gateway]']
      .concat([
        '    maxCodeAttempts: 3',
        '    messageTemplate: login',
        '    templates:',
        '      login: "Acme: @@password@@"',
      ])
      .join('\n'),
  );
  stack = await startStack({
    // The sandbox client as `npm run dev` has it (a clients file replaces the implied one), and acme.
    API_KEYS: `${SANDBOX_CLIENT_ID}:${SANDBOX_CLIENT_KEY}`,
    CLIENTS_FILE: clientsFile,
    NEXUS_ENDPOINTS: `${endpoint}:sandbox,${acmeEndpoint}:acme`,
    LIMIT_SENDS_PER_DESTINATION: '1/10m',
    SANDBOX_EVENTS: 'true',
  });
  const target = { namespace: 'default', taskQueue: stack.config.taskQueue };
  expect(await ensureNexusEndpoint(stack.client.connection, { name: endpoint, ...target })).toBe('created');
  expect(await ensureNexusEndpoint(stack.client.connection, { name: unmapped, ...target })).toBe('created');
  expect(await ensureNexusEndpoint(stack.client.connection, { name: acmeEndpoint, ...target })).toBe('created');
  await ensureNamespace(stack.client.connection, callerNamespace, 1);
  // The team's worker and client: its own namespace, the deployment's payload codec (our results arrive encrypted).
  connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  const dataConverter = codecDataConverter(stack.config.codec.keys);
  caller = new Client({ connection: stack.client.connection, namespace: callerNamespace, dataConverter });
  worker = await Worker.create({
    connection,
    namespace: callerNamespace,
    taskQueue,
    workflowsPath: require.resolve('./caller-workflows'),
    dataConverter,
  });
  running = worker.run();
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await stack?.stop();
});

const number = () => `+1415558${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
const outboxCode = (to: string) =>
  eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { code: string }[]).pop()?.code;
  });
const call = (operation: Parameters<typeof callOperation>[0]['operation'], input: unknown, through = endpoint) =>
  caller.workflow.execute(callOperation, {
    taskQueue,
    workflowId: `call-${operation}-${randomUUID()}`,
    args: [{ endpoint: through, operation, input }],
  });

test('a caller workflow in another namespace verifies a phone through the endpoint: start → code → check → completed', async () => {
  const userId = `user-${tag}`;
  const to = number();
  const signup = await caller.workflow.start(signupWithPhone, {
    taskQueue,
    workflowId: `signup-${userId}`,
    args: [{ endpoint, userId, to }],
  });
  await signup.signal(codeEntered, await outboxCode(to));
  const { check, phone } = await signup.result();

  expect(check).toMatchObject({ status: 'completed' });
  expect(phone).toMatchObject({
    id: `phone-sandbox-${userId}`,
    client: 'sandbox',
    status: 'completed',
    reason: 'verified',
  });
  // The run is the endpoint's API client's, like a REST start of that client: its key sees it over REST.
  const run = await stack.client.workflow.getHandle(phone.id).describe();
  expect(run.typedSearchAttributes.get(SA_CLIENT)).toBe('sandbox');
  const rest = await stack.http().get(`/v1/verifications/${phone.id}`);
  expect(rest.status).toBe(200);
  expect(rest.body).toMatchObject({ status: 'completed' });

  // The client's outbound events are on for its Nexus starts as for its REST ones: signed, verified by the receiver.
  const events = await eventually(async () => {
    const res = await stack.anon().get('/sandbox/events').query({ verificationId: phone.id });
    const got = res.body as { verified: boolean; event: { type: string } }[];
    return got.some((e) => e.event.type === 'verification.completed') && got;
  });
  expect(events.every((e) => e.verified)).toBe(true);

  // getState by kind and reference, and by ID.
  expect(await call('getState', { kind: 'phone', reference: userId })).toMatchObject({
    ok: { id: phone.id, status: 'completed' },
  });
  expect(await call('getState', { id: phone.id })).toMatchObject({ ok: { id: phone.id, status: 'completed' } });
  // A check on an ended verification fails the operation with the contract's NotLive (once it has closed: until then a
  // run that ended verified answers `completed`).
  await stack.client.workflow.getHandle(phone.id).result();
  expect(await call('checkCode', { id: phone.id, code: '1234' })).toMatchObject({ error: { failure: 'NotLive' } });

  // The worker's abuse guard counted that send for the client: a second verification of the number is refused up
  // front (nothing started), as the REST API refuses it.
  expect(await call('phoneVerification', { to, brand: 'Acme', channels: [{ channel: 'sms' }] })).toMatchObject({
    error: { failure: 'RateLimited' },
  });
});

test('a repeat under the same reference joins the running verification: both callers get its result, one send', async () => {
  const reference = `joined-${tag}`;
  const to = number();
  const start = () =>
    caller.workflow.start(callOperation, {
      taskQueue,
      workflowId: `join-${randomUUID()}`,
      args: [
        {
          endpoint,
          operation: 'phoneVerification',
          input: { to, brand: 'Acme', reference, channels: [{ channel: 'sms' }] },
        },
      ],
    });
  const first = await start();
  const id = phoneContract.id(reference, 'sandbox');
  await eventually(async () => (await stack.http().get(`/v1/verifications/${id}`)).status === 200);
  // With one send per number allowed, a second start that sent (or counted) again would be refused.
  const second = await start();
  const check = await stack
    .http()
    .post(`/v1/verifications/${id}/check`)
    .send({ code: await outboxCode(to) });
  expect(check.body).toMatchObject({ status: 'completed' });
  for (const answer of [await first.result(), await second.result()]) {
    expect(answer).toMatchObject({ ok: { id, status: 'completed', reason: 'verified' } });
  }
  const sent = await stack.http().get('/sandbox/outbox').query({ to });
  expect(sent.body).toHaveLength(1);
});

test('a reference in use by another request is a ReferenceConflict (nothing sent); the same request joins a REST start', async () => {
  const reference = `shared-${tag}`;
  const to = number();
  const input = { to, brand: 'Acme', reference, channels: [{ channel: 'sms' }] };
  const rest = await stack.http().post('/v1/verifications/phone').send(input);
  expect(rest.status).toBe(201);
  const id = (rest.body as PhoneVerificationState).id;
  await outboxCode(to);

  // Another number under the same reference: refused, never joined to the first run, nothing sent to it.
  const other = number();
  expect(await call('phoneVerification', { ...input, to: other })).toMatchObject({
    error: { failure: 'ReferenceConflict', message: expect.stringContaining('use another reference') },
  });
  expect((await stack.http().get('/sandbox/outbox').query({ to: other })).body).toEqual([]);

  // The same request over Nexus joins the REST start (one send per number is allowed: a second would be refused).
  const joined = await caller.workflow.start(callOperation, {
    taskQueue,
    workflowId: `join-rest-${tag}`,
    args: [{ endpoint, operation: 'phoneVerification', input }],
  });
  // Completed only once the operation has started (joined): a completed run would not be joined.
  await eventually(async () => {
    const { events } = await joined.fetchHistory();
    return events?.some((e) => e.nexusOperationStartedEventAttributes);
  });
  const check = await stack
    .http()
    .post(`/v1/verifications/${id}/check`)
    .send({ code: await outboxCode(to) });
  expect(check.body).toMatchObject({ status: 'completed' });
  expect(await joined.result()).toMatchObject({ ok: { id, status: 'completed', reason: 'verified' } });
  expect((await stack.http().get('/sandbox/outbox').query({ to })).body).toHaveLength(1);
});

test('a start sets the search attributes the run will have once its first step is live (silent auth: action_pending)', async () => {
  const reference = `sa-${tag}`;
  const id = phoneContract.id(reference, 'sandbox');
  const op = await caller.workflow.start(callOperation, {
    taskQueue,
    workflowId: `silent-auth-${tag}`,
    args: [{ endpoint, operation: 'phoneVerification', input: { to: number(), brand: 'Acme', reference } }],
  });
  const history = await eventually(() =>
    stack.client.workflow
      .getHandle(id)
      .fetchHistory()
      .catch(() => undefined),
  );
  const fields = history.events![0].workflowExecutionStartedEventAttributes!.searchAttributes!.indexedFields!;
  const value = (name: string) => JSON.parse(Buffer.from(fields[name].data!).toString()) as unknown;
  expect([value('VerificationStatus'), value('VerificationChannel'), value('VerificationClient')]).toEqual([
    'action_pending',
    'silent_auth',
    'sandbox',
  ]);
  await stack.http().post(`/v1/verifications/${id}/cancel`).send({});
  expect(await op.result()).toMatchObject({ ok: { id, status: 'cancelled' } });
});

test('push and identity verifications run through the endpoint too; cancelling the operation cancels the verification', async () => {
  // Push to an identity with no verified factor (and no fallback) gives up at once: the operation answers its result.
  const push = await call('pushVerification', {
    identity: randomUUID(),
    message: 'Sign in to Acme?',
    reference: `p-${tag}`,
  });
  expect(push).toMatchObject({
    ok: { id: `push-sandbox-p-${tag}`, client: 'sandbox', status: 'failed', reason: 'no_verified_factor' },
  });

  const reference = `user-id-${tag}`;
  const state = await caller.workflow.execute(identityThenCancel, {
    taskQueue,
    workflowId: `identity-then-cancel-${tag}`,
    args: [{ endpoint, reference }],
  });
  expect(state).toMatchObject({ id: `identity-sandbox-${reference}`, client: 'sandbox' });
  // The caller's cancellation reached the run: it ended as the cancel update ends it.
  const run = stack.client.workflow.getHandle(`identity-sandbox-${reference}`);
  expect(await run.result()).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
});

test("nextChannel and resend drive the client's phone verification; a rejected update fails with its typed failure", async () => {
  const to = number();
  const started = await stack
    .http()
    .post('/v1/verifications/phone')
    // The next channel goes to an address of its own: this suite allows one send per destination.
    .send({ to, brand: 'Acme', channels: [{ channel: 'sms' }, { channel: 'email', to: `${tag}@example.com` }] });
  expect(started.status).toBe(201);
  const id = (started.body as PhoneVerificationState).id;
  try {
    // A Vonage channel has no code of ours to resend: the update's rejection is the operation's failure.
    expect(await call('resend', { id })).toMatchObject({ error: { failure: 'ResendNotAvailable' } });
    expect(await call('nextChannel', { id })).toMatchObject({ ok: { id, channelIndex: 1, channel: 'email' } });
  } finally {
    await stack.http().post(`/v1/verifications/${id}/cancel`).send({});
  }
});

test('bad input is refused naming the field, and the caller cannot choose its API client', async () => {
  const bad = await call('phoneVerification', { to: '12345', brand: 'Acme' });
  expect(bad).toMatchObject({ error: { handler: 'BAD_REQUEST', message: expect.stringContaining('to:') } });
  const other = await call('phoneVerification', { to: number(), brand: 'Acme', client: 'other' });
  expect(other).toMatchObject({ error: { handler: 'BAD_REQUEST', message: expect.stringContaining('client') } });
  const neither = await call('getState', { reference: 'x' });
  expect(neither).toMatchObject({ error: { handler: 'BAD_REQUEST' } });
});

test("the endpoint's client's settings bound its starts as over REST: its defaults filled in, a wider start refused naming the field", async () => {
  const through = (input: unknown) => call('phoneVerification', input, acmeEndpoint);
  expect(await through({ to: number(), brand: 'Acme', channels: [{ channel: 'voice' }] })).toMatchObject({
    error: {
      handler: 'BAD_REQUEST',
      message: 'channels[0].channel: voice is not allowed for this client (allowed: sms)',
    },
  });
  expect(
    await through({ to: number(), brand: 'Acme', channels: [{ channel: 'sms', provider: 'vonage' }] }),
  ).toMatchObject({
    error: {
      handler: 'BAD_REQUEST',
      message: expect.stringMatching(/^channels\[0\]\.provider: vonage is not allowed/),
    },
  });
  expect(await through({ to: number(), brand: 'Acme', maxCodeAttempts: 5 })).toMatchObject({
    error: { handler: 'BAD_REQUEST', message: 'maxCodeAttempts: 5 is more than this client allows (at most 3)' },
  });
  expect(await call('pushVerification', { identity: randomUUID(), message: 'Sign in?' }, acmeEndpoint)).toMatchObject({
    error: {
      handler: 'BAD_REQUEST',
      message: 'provider: twilio is not allowed for this client (allowed: sms_gateway)',
    },
  });

  // Within its bounds: its channel through its provider, its template, its code attempts.
  const to = number();
  const reference = `acme-${tag}`;
  const pending = caller.workflow.execute(callOperation, {
    taskQueue,
    workflowId: `call-acme-${tag}`,
    args: [{ endpoint: acmeEndpoint, operation: 'phoneVerification', input: { to, brand: 'Acme', reference } }],
  });
  const id = `phone-acme-${reference}`;
  const auth = { authorization: `Bearer ${ACME_KEY}` };
  const state = await eventually(async () => {
    const res = await stack.anon().get(`/v1/verifications/${id}`).set(auth);
    return res.status === 200 && (res.body as PhoneVerificationState);
  });
  expect(state.channels.map((c) => [c.channel, c.provider])).toEqual([['sms', 'sms_gateway']]);
  expect(state.attemptsLeft).toBe(3);
  const sms = await eventually(async () => {
    const out = (await stack.http().get('/sandbox/outbox').query({ to })).body as { body: string; code: string }[];
    return out[0];
  });
  expect(sms.body).toBe(`Acme: ${sms.code}`);
  expect((await stack.anon().post(`/v1/verifications/${id}/cancel`).set(auth).send({})).status).toBe(200);
  expect(await pending).toMatchObject({ ok: { id, client: 'acme', status: 'cancelled' } });
});

test("another client's verification answers NOT_FOUND, like one that does not exist; an unmapped endpoint is refused", async () => {
  const reference = `other-${tag}`;
  const id = phoneContract.id(reference, 'other');
  const handle = await stack.client.workflow.start(phoneVerification, {
    taskQueue: stack.config.taskQueue,
    workflowId: id,
    args: [{ to: number(), brand: 'Other', client: 'other', channels: [{ channel: 'sms' }] }],
    typedSearchAttributes: [{ key: SA_CLIENT, value: 'other' }],
  });
  try {
    await eventually(async () => (await handle.query(phoneContract.messages.getState)).status === 'pending');
    for (const answer of [
      await call('getState', { id }),
      await call('checkCode', { id, code: '1234' }),
      await call('getState', { id: phoneContract.id('no-such-reference', 'sandbox') }),
    ]) {
      expect(answer).toMatchObject({ error: { handler: 'NOT_FOUND' } });
    }
    expect(await call('getState', { id }, unmapped)).toMatchObject({ error: { handler: 'UNAUTHORIZED' } });
    const state: PhoneVerificationState = await handle.query(phoneContract.messages.getState);
    expect(state.attemptsLeft).toBe(phoneContract.defaults.maxCodeAttempts); // the refused check reached nothing
  } finally {
    await handle.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
  }
});

test('ensureNexusEndpoint is idempotent, and moves an endpoint to a new target', async () => {
  const name = `verifyflow-moved-${tag}`;
  const connection = stack.client.connection;
  const target = { name, namespace: 'default', taskQueue: stack.config.taskQueue };
  expect(await ensureNexusEndpoint(connection, target)).toBe('created');
  expect(await ensureNexusEndpoint(connection, target)).toBe('unchanged');
  expect(await ensureNexusEndpoint(connection, { ...target, taskQueue: 'elsewhere' })).toBe('updated');
  const { endpoints } = await connection.operatorService.listNexusEndpoints({ name });
  expect(endpoints.map((e) => e.spec?.target?.worker?.taskQueue)).toEqual(['elsewhere']);
});
