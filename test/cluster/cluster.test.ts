import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { CallbackAttempt } from '../../sandbox/vonage-emulator';
import { http } from '../../bench/lib/http';
import { Recorder, SCENARIOS, waitClosed, type FlowContext, type FlowResult } from '../../bench/lib/scenarios';
import { DIST, REPO, System } from '../../bench/lib/system';
import { phoneNumber, pool, sleep } from '../../bench/lib/util';

/**
 * The production shape under test (`npm run test:cluster`): a throwaway PostgreSQL, the Temporal server on it, one
 * Redis, 2 API and 2 worker replicas as separate processes, the provider emulator outside them (bench/lib/system.ts
 * with `cluster`). One cluster for the whole file; the tests run in order and each leaves it whole for the next. The
 * rolling deploy comes last: it replaces the unversioned workers by versioned builds.
 *
 * REST calls go to the API replicas in turn (`sys.apiUrl`, a load balancer), unless a test names a replica; flows
 * retry what a real client retries (503, refused connections) with a caller `reference`, so a retried start joins
 * its verification instead of opening another.
 */

const { VersionDrainageStatus, VersioningBehavior, EventType } = temporal.api.enums.v1;
let sys: System;
let numbers = 3_000_000 + Math.floor(Math.random() * 3_000_000);
const nextNumber = () => phoneNumber(numbers++);
/** Verifications completed by earlier tests: still there, still completed, after PostgreSQL's restart. */
const completedEarlier: string[] = [];

beforeAll(async () => {
  sys = await System.start({
    runDir: join(REPO, 'bench', 'tmp', `cluster-test-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    cluster: { apis: 2, workers: 2 },
    // Real providers retry callbacks for hours; 8 doubling retries from 250 ms cover about a minute here.
    emulator: { callbackRetries: 8, callbackRetryBaseMs: 250 },
  });
}, 600_000);

afterAll(async () => {
  await sys?.stop();
}, 120_000);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms (${String(last)})`);
    await sleep(500);
  }
}

interface Load {
  results: FlowResult[];
  failures: string[];
}

/** Runs `count` flows of a scenario at once while `disturb` breaks something; every flow's outcome. */
async function underLoad(name: string, count: number, disturb: () => Promise<void>, scenario = 'phone-sms-happy') {
  const row = SCENARIOS.find((s) => s.name === scenario)!;
  const prefix = `${name}-${randomUUID().slice(0, 6)}`;
  const ctx: FlowContext = {
    sys,
    rec: new Recorder(),
    number: nextNumber,
    retryUntil: Date.now() + 150_000,
    reference: (i) => `${prefix}-${i}`,
  };
  const load: Load = { results: [], failures: [] };
  const flows = pool(count, count, async (i) => {
    try {
      load.results.push(await row.run!(ctx, i));
    } catch (err) {
      load.failures.push(`flow ${i}: ${(err as Error).message}`);
    }
  });
  await disturb();
  await flows;
  return load;
}

/**
 * Every flow completed; every verification is closed `completed`; each destination got exactly `messages` messages
 * (one SMS; none for silent auth): nothing sent twice; each verification ID has exactly one run: nothing started twice.
 */
async function expectAllCompletedOnce(load: Load, count: number, messagesEach = 1): Promise<void> {
  expect(load.failures).toEqual([]);
  expect(load.results).toHaveLength(count);
  expect(load.results.map((r) => r.status)).toEqual(load.results.map(() => 'completed'));
  const finals = await Promise.all(load.results.map((r) => waitClosed(sys, r.id, 60_000)));
  expect(finals).toEqual(load.results.map(() => 'completed'));
  const messages = load.results.map((r) => sys.provider.outbox.sent.get(r.to.replace(/\D/g, '')) ?? 0);
  expect(messages).toEqual(load.results.map(() => messagesEach));
  const ids = new Set(load.results.map((r) => r.id));
  expect(ids.size).toBe(count);
  const runs = new Map<string, number>();
  for await (const w of sys.client.workflow.list({ query: "VerificationClient = 'bench'" })) {
    if (ids.has(w.workflowId)) runs.set(w.workflowId, (runs.get(w.workflowId) ?? 0) + 1);
  }
  expect([...ids].map((id) => runs.get(id))).toEqual([...ids].map(() => 1));
  completedEarlier.push(...ids);
}

/** Waits until `count` more messages than `baseline` reached the outbox (the flows are past their first step). */
async function untilSent(baseline: number, count: number): Promise<void> {
  await until('the first messages', async () => (sys.provider.outbox.sent.size >= baseline + count ? true : undefined));
}

const auth = () => ({ ...sys.authHeader });

test('a verification started through API 1, its provider callbacks to API 1, checked through API 2: completed', async () => {
  // +15005550001: silent auth fails; only the `failed` callback (to API 1) moves the run on to SMS.
  const to = '+15005550001';
  sys.callbackReplica = 0;
  const delivered: number[] = [];
  sys.provider.emulator.configure({ onCallbackAttempt: (a) => a.outcome === 'delivered' && delivered.push(1) });
  try {
    const before = sys.provider.outbox.sent.get(to.replace(/\D/g, '')) ?? 0;
    const start = await http<{ id: string }>(
      'POST',
      `${sys.apiUrlOf(0)}/v1/verifications/phone`,
      { to, brand: 'Cluster' },
      60_000,
      auth(),
    );
    expect([201, 202]).toContain(start.status);
    const id = start.body.id;
    // Vonage moves to SMS by itself after the failed silent auth; the workflow learns it from the callback.
    await sys.provider.outbox.waitFor(to, before, 60_000);

    const state = await until('the SMS channel, read through API 2', async () => {
      const res = await http<{ channel: string; channels: { channel: string; status: string }[] }>(
        'GET',
        `${sys.apiUrlOf(1)}/v1/verifications/${id}`,
        undefined,
        10_000,
        auth(),
      );
      return res.status === 200 && res.body.channel === 'sms' ? res.body : undefined;
    });
    expect(state.channels[0]).toMatchObject({ channel: 'silent_auth', status: 'failed' });

    const outbox = await http<{ code: string }[]>(
      'GET',
      `${sys.provider.url}/sandbox/outbox?to=${encodeURIComponent(to)}`,
    );
    const code = outbox.body[outbox.body.length - 1].code;
    const check = await http<{ status: string }>(
      'POST',
      `${sys.apiUrlOf(1)}/v1/verifications/${id}/check`,
      { code },
      60_000,
      auth(),
    );
    expect(check).toMatchObject({ status: 200, body: { status: 'completed' } });
    expect(await waitClosed(sys, id, 30_000)).toBe('completed');
    expect(delivered.length).toBeGreaterThan(0);

    // The callbacks reached API 1 only: its webhook counter moved, API 2's did not.
    const webhooks = async (replica: number) => {
      const text = (await http<string>('GET', `${sys.apiUrlOf(replica)}/metrics`)).body;
      return [...text.matchAll(/verifyflow_http_requests_total\{[^}]*route="\/webhooks\/vonage"[^}]*\} (\d+)/g)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    };
    expect(await webhooks(0)).toBeGreaterThan(0);
    expect(await webhooks(1)).toBe(0);
    completedEarlier.push(id);
  } finally {
    sys.callbackReplica = undefined;
    sys.provider.emulator.configure({ onCallbackAttempt: undefined });
  }
});

test('a worker replica killed with kill -9 under load: every verification completes, none twice', async () => {
  const count = 24;
  const baseline = sys.provider.outbox.sent.size;
  const killed = sys.workers[0]!;
  const load = await underLoad('kill', count, async () => {
    // Some runs wait on their timers, others are starting: the killed replica holds workflow tasks and activities.
    await untilSent(baseline, count / 3);
    await killed.kill9();
  });
  await expectAllCompletedOnce(load, count);
  // Its supervisor would bring it back; the next tests want two workers again.
  await sys.startWorker({}, undefined, 0);
});

test('PostgreSQL restarted mid-run: nothing lost', async () => {
  const count = 12;
  const baseline = sys.provider.outbox.sent.size;
  const load = await underLoad('pg', count, async () => {
    await untilSent(baseline, count / 2);
    await sys.postgres!.restart(5_000);
  });
  await expectAllCompletedOnce(load, count);
  // Earlier verifications (committed before the restart) are all still there, completed.
  for (const id of completedEarlier) {
    const res = await http<{ status: string }>(
      'GET',
      `${sys.apiUrl}/v1/verifications/${id}`,
      undefined,
      30_000,
      auth(),
    );
    expect({ id, status: res.status, state: res.body.status }).toEqual({ id, status: 200, state: 'completed' });
  }
});

test('an API replica restarted while webhooks flow: the providers retries deliver everything', async () => {
  const count = 16;
  // Every callback goes to API 1, the one that is killed; the flows' own calls go to both.
  sys.callbackReplica = 0;
  const attempts: CallbackAttempt[] = [];
  let flowing!: () => void;
  const firstCallback = new Promise<void>((resolve) => (flowing = resolve));
  sys.provider.emulator.configure({
    onCallbackAttempt: (a) => {
      attempts.push(a);
      flowing();
    },
  });
  const refusedOne = async () => (attempts.some((a) => a.outcome !== 'delivered') ? true : undefined);
  try {
    const load = await underLoad(
      'api',
      count,
      async () => {
        // Killed as the first callback is answered (no polling delay: a poll let every callback through once), and
        // down until a callback has met it; the providers' retries (5, from 200 ms doubling) outlast the restart.
        await firstCallback;
        await sys.apis[0]!.kill9();
        try {
          await sleep(1_000);
          await until('a callback meeting the stopped replica', refusedOne, 20_000);
        } finally {
          await sys.startApi(0);
        }
      },
      'phone-silent-auth-happy',
    );
    await expectAllCompletedOnce(load, count, 0);
    await sleep(2_000); // the last callbacks (`completed`) land
    const refused = attempts.filter((a) => a.outcome !== 'delivered');
    expect(refused.length).toBeGreaterThan(0); // the restart did meet callbacks
    expect(attempts.filter((a) => a.outcome === 'dropped')).toEqual([]);
  } finally {
    sys.callbackReplica = undefined;
    sys.provider.emulator.configure({ onCallbackAttempt: undefined });
  }
});

test('rolling deploy with Worker Deployment versioning: runs started on build A finish on A, new ones run on B', async () => {
  const deploymentName = `verifyflow-${randomUUID().slice(0, 6)}`;
  const namespace = sys.temporalCluster!.namespace;
  const service = sys.client.connection.workflowService;
  const build = (buildId: string) => ({ TEMPORAL_DEPLOYMENT_NAME: deploymentName, TEMPORAL_BUILD_ID: buildId });
  const makeCurrent = (buildId: string) =>
    until(`build ${buildId} current`, async () => {
      // Accepted once the version's workers have polled.
      await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName, buildId, identity: 'cluster-test' });
      return true;
    });
  const buildB = join(DIST, 'bench', 'rolling-deploy', 'worker.js');

  // Build A replaces the unversioned replicas (the earlier tests' runs are all closed).
  await Promise.all([sys.workers[0]?.stop(), sys.workers[1]?.stop()]);
  await sys.startWorker(build('A'), undefined, 0);
  await sys.startWorker(build('A'), undefined, 1);
  await makeCurrent('A');

  const start = async (n: number) => {
    const runs: { id: string; to: string }[] = [];
    for (let i = 0; i < n; i++) {
      const to = nextNumber();
      const res = await http<{ id: string }>(
        'POST',
        `${sys.apiUrl}/v1/verifications/phone`,
        { to, brand: 'Rolling', channels: [{ channel: 'sms' }] },
        60_000,
        auth(),
      );
      expect([201, 202]).toContain(res.status);
      runs.push({ id: res.body.id, to });
    }
    for (const r of runs) await sys.provider.outbox.waitFor(r.to, 0, 60_000);
    return runs;
  };
  const check = async (runs: { id: string; to: string }[]) => {
    for (const r of runs) {
      const outbox = await http<{ code: string }[]>(
        'GET',
        `${sys.provider.url}/sandbox/outbox?to=${encodeURIComponent(r.to)}`,
      );
      const res = await http<{ status: string }>(
        'POST',
        `${sys.apiUrl}/v1/verifications/${r.id}/check`,
        { code: outbox.body[outbox.body.length - 1].code },
        60_000,
        auth(),
      );
      expect({ id: r.id, status: res.status, result: res.body.status }).toEqual({
        id: r.id,
        status: 200,
        result: 'completed',
      });
    }
  };

  // Runs started on A, waiting for their codes.
  const onA = await start(4);
  // Build B (a changed phoneVerification behind `patched`) comes up beside A and becomes current.
  await sys.startWorker(build('B'), undefined, 2, buildB);
  await sys.startWorker(build('B'), undefined, 3, buildB);
  await makeCurrent('B');
  const onB = await start(4);
  // A's runs go on after the switch: their code checks are workflow tasks, which only A may run (pinned).
  await check(onA);
  await check(onB);

  const version = async (buildId: string) =>
    (await service.describeWorkerDeploymentVersion({ namespace, deploymentVersion: { deploymentName, buildId } }))
      .workerDeploymentVersionInfo;
  // A drains once its last pinned run closed; then its replicas can go. (This status arrives as the enum's name.)
  const drained = [VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED, 'VERSION_DRAINAGE_STATUS_DRAINED'];
  await until(
    'build A drained',
    async () => (drained.includes((await version('A'))?.drainageInfo?.status ?? 0) ? true : undefined),
    90_000,
  );
  await Promise.all([sys.workers[0]!.stop(), sys.workers[1]!.stop()]);

  const onBuild = async (id: string) => {
    const handle = sys.client.workflow.getHandle(id);
    const description: WorkflowExecutionDescription = await handle.describe();
    const history = await handle.fetchHistory();
    const taskBuilds = new Set(
      (history.events ?? [])
        .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId),
    );
    const info = description.raw.workflowExecutionInfo?.versioningInfo;
    return {
      status: description.status.name,
      behavior: info?.behavior,
      pinnedTo: info?.deploymentVersion?.buildId,
      taskBuilds: [...taskBuilds],
      startedOnBuild: description.memo?.startedOnBuild,
    };
  };
  for (const r of onA) {
    expect(await onBuild(r.id)).toEqual({
      status: 'COMPLETED',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      pinnedTo: 'A',
      taskBuilds: ['A'],
      startedOnBuild: undefined,
    });
  }
  for (const r of onB) {
    expect(await onBuild(r.id)).toEqual({
      status: 'COMPLETED',
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      pinnedTo: 'B',
      taskBuilds: ['B'],
      startedOnBuild: 'B',
    });
  }
  // With A gone, new verifications still run (on B).
  const later = await start(1);
  await check(later);
});
