import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import {
  codecDataConverter,
  EncryptionCodec,
  SHARED_WORKFLOW_MODULES,
  VerificationPlugin,
  phoneContract,
} from '../../src';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * What a platform team does: a worker of its own, on its own task queue, built from nothing but our plugin (and,
 * in the second test, its own workflows module that calls ours as a child workflow).
 */
let stack: Stack;
let connection: NativeConnection;
let client: Client;
beforeAll(async () => {
  stack = await startStack(); // only for the sandbox emulators and the outbox
  connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  // The team's client and worker use the deployment's payload codec (webhook signals arrive encrypted).
  client = new Client({
    connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }),
    dataConverter: codecDataConverter(stack.config.codec.keys),
  });
});
afterAll(async () => {
  await client?.connection.close();
  await connection?.close();
  await stack?.stop();
});

const number = () => uniqueNumber('+1415557');
const outboxCode = (to: string) =>
  eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { code: string }[]).pop()?.code;
  });

async function withWorker<T>(options: { taskQueue: string; workflowsPath?: string }, fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection,
    ...options,
    plugins: [
      new VerificationPlugin({
        vonage: stack.config.vonage,
        payloadCodec: new EncryptionCodec(stack.config.codec.keys),
      }),
    ],
  });
  return worker.runUntil(fn);
}

test('a worker built only from VerificationPlugin completes a phone verification', async () => {
  const taskQueue = `platform-${randomUUID()}`;
  const to = number();
  await withWorker({ taskQueue }, async () => {
    const handle = await client.workflow.start('phoneVerification', {
      taskQueue,
      workflowId: `phone-${randomUUID().replace(/-/g, '')}`,
      args: [{ to, brand: 'Platform', channels: [{ channel: 'sms' }] }],
    });
    const code = await outboxCode(to);
    expect(await handle.executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] })).toMatchObject({
      status: 'completed',
    });
    expect(await handle.result()).toMatchObject({ status: 'completed' });
  });
});

test("a team's own workflow runs phoneVerification as a child workflow in the same worker", async () => {
  const taskQueue = `platform-${randomUUID()}`;
  const to = number();
  const userId = `u${randomUUID().slice(0, 8)}`;
  await withWorker({ taskQueue, workflowsPath: require.resolve('./team-workflows') }, async () => {
    const handle = await client.workflow.start('teamSignup', {
      taskQueue,
      workflowId: `signup-${userId}`,
      args: [{ userId, phone: { to, brand: 'Platform', channels: [{ channel: 'sms' }] } }],
    });
    const code = await outboxCode(to);
    await client.workflow
      .getHandle(phoneContract.id(userId))
      .executeUpdate(phoneContract.messages.checkCode, { args: [{ code }] });
    expect(await handle.result()).toMatchObject({ userId, phone: { status: 'completed', id: `phone-${userId}` } });
  });
});

describe('shared workflow libraries', () => {
  const deps = {};
  test("the plugin preloads them into the worker bundle, after the host worker's own preloads", () => {
    const options = new VerificationPlugin({ deps }).configureWorker({
      taskQueue: 'q',
      bundlerOptions: { preloadModules: ['/team/preload.js'] },
    });
    expect(options.bundlerOptions?.preloadModules).toEqual(['/team/preload.js', ...SHARED_WORKFLOW_MODULES]);
    expect(SHARED_WORKFLOW_MODULES[0]).toMatch(/workflows[/\\]shared-libraries\.(ts|js)$/);
  });

  test('and into a prebuilt bundle (bundleWorkflowCode with the plugin)', () => {
    const options = new VerificationPlugin({ deps }).configureBundler({ workflowsPath: '/team/workflows.js' });
    expect(options.preloadModules).toEqual([...SHARED_WORKFLOW_MODULES]);
  });

  test('shareWorkflowLibraries: false leaves the bundle as the host configured it', () => {
    const options = new VerificationPlugin({ deps, shareWorkflowLibraries: false }).configureWorker({ taskQueue: 'q' });
    expect(options.bundlerOptions?.preloadModules ?? []).toEqual([]);
  });
});
