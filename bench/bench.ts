import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { countActions, historyShape, meanCount, meanShape, type ActionCount, type HistoryShape } from './lib/actions';
import { writeCharts } from './lib/charts';
import { cpuMs, spawnNode, type Child } from './lib/children';
import { durabilityPhase, durabilityTables, systemCpuMs, type DurabilityRow } from './lib/durability';
import { ChaosEventsReceiver } from './lib/events-receiver';
import { roundsTable, summarizeRounds, type CurveRound, type RoundsSummary } from './lib/rounds';
import { Recorder, SCENARIOS, type FlowContext, type Scenario } from './lib/scenarios';
import { DIST, REPO, System, type SystemOptions, type WorkerVariant } from './lib/system';
import {
  args,
  freePort,
  load,
  machine,
  phoneNumber,
  percentiles,
  pool,
  round,
  sleep,
  summarize,
  writeJson,
  type Load,
} from './lib/util';
import type { DynamicConfig } from '../src/temporal/dev-server';
import { eventDeliveryContract } from '../workflows/contract';
import { runBareFlow } from './bare/flow';

/**
 * `npm run bench`: verifyflow end to end (REST API → Temporal → worker → Vonage emulator → signed callbacks) against a
 * bare Temporal workflow of the same shape, the concurrency curve, billable actions per verification from histories,
 * and worker memory with many verifications open. Writes bench/results/<date>.json; prints a Markdown summary.
 *
 * Options: --quick (CI budget) · --levels 1,10,50,200 · --per-level N (minimum verifications per level, default 40;
 * each level runs max(N, 3 × concurrency)) · --open 10000 (verifications open at once in the scale phase) · --cache
 * default,heap0:default,500,unshared:500 (scale rows: a WORKER_MAX_CACHED_WORKFLOWS value or `default`;
 * `unshared:N` = the worker with WORKER_SHARE_WORKFLOW_LIBRARIES=false and that cache; `heapM:N` = the default worker with
 * WORKER_WORKFLOW_HEAP_MIB=M (0: V8's own) and that cache; `@N` = open N instead of --open)
 * · --warmup N (verifications of each side before any measurement, default 40) · --rounds N (each curve level N
 * times, alternating which side runs first; medians in `summary`) · --skip
 * curve,durability,tuning,actions,scale · --tuning default,unshared,KEY=VALUE+KEY=VALUE (worker variants the
 * tuning phase alternates) · --tuning-concurrency N (its verifications at once, default 10, quick 5) · --scenarios
 * name,name (action rows to run) · --server-config KEY=VALUE,… (dynamic config of the dev servers, over
 * DEV_SERVER_DYNAMIC_CONFIG) · --out FILE.
 *
 * `durability` (after the curve, same system and levels): the SMS flow against a plain route that calls the Vonage
 * emulator with the SDK and keeps its state in memory (bench/baseline/, a baseline, not a product path), next to
 * verifyflow's figures of the curve: the cost of durability (bench/lib/durability.ts).
 *
 * `--cluster` runs only the comparison of the two shapes: the SMS flow on the dev server (one API, one worker) and on
 * the cluster (PostgreSQL, the Temporal server, 2 API and 2 worker replicas), both up at once and measured in turn,
 * level by level (--levels, default 10,50; --rounds, default 2), into bench/results/<date>-cluster.json.
 */

interface LevelResult {
  concurrency: number;
  verifications: number;
  ok: number;
  errors: string[];
  seconds: number;
  throughput: number;
  latencyMs: Record<string, ReturnType<typeof summarize>>;
  workerPeakRssMiB?: number;
  apiPeakRssMiB?: number;
  cpuMsPerVerification?: Record<string, number>;
  /**
   * Per verification of the level, from its history (read after the CPU was measured): events, signals taken, and
   * workflow tasks the server failed (e.g. a callback's signal landing while the task completing the run was out).
   */
  historyPerVerification?: HistoryShape;
  load: Load;
}

const opt = args();
const quick = opt.has('quick');
const levels = (opt.get('levels') ?? (quick ? '1,10' : '1,10,50,200')).split(',').map(Number);
// 40 at least: a p99 of 10 samples is their maximum, and the c = 1 ratio of 10 moved with whatever ran just before.
const perLevel = Number(opt.get('per-level') ?? 40);
const openCount = Number(opt.get('open') ?? (quick ? 200 : 10_000));
/** --warmup N: verifications of each side run (2 at a time) before anything is measured. */
const warmup = Math.max(1, Number(opt.get('warmup') ?? 40));
/** --rounds N: each curve level measured N times, alternating which side goes first (the cluster comparison: 2). */
const curveRounds = Math.max(1, Number(opt.get('rounds') ?? 1));
// Full run: the default worker (its workflow heap capped at 768 MiB, the cache sized from it), V8's own heap with the
// SDK's cache (it held 10 000 in 3.5 GiB), then a fixed cache of 500, with and without shared libraries.
const defaultScale = 'default,heap0:default,500,unshared:500';
const cacheSettings = (opt.get('cache') ?? (quick ? 'default' : defaultScale)).split(',');
// The quick (CI) run leaves out the worker before/after comparison: four worker restarts.
const skip = new Set((opt.get('skip') ?? (quick ? 'tuning' : '')).split(',').filter(Boolean));
/**
 * --tuning a,b,…: the worker variants the tuning phase alternates (default `unshared,default,unshared,default`):
 * `default`, `unshared`, or worker environment `KEY=VALUE[+KEY=VALUE…]` on the default worker.
 */
const tuningVariants = (opt.get('tuning') ?? 'unshared,default,unshared,default').split(',').map(tuningVariant);
/**
 * --server-config KEY=VALUE,KEY=VALUE: dynamic config of every dev server this run starts, over the defaults of
 * DEV_SERVER_DYNAMIC_CONFIG (`history.transferProcessorMaxPollRPS=20` runs on the server's own default).
 */
const serverConfig = parseServerConfig(opt.get('server-config'));
/** Every system this run starts: its dev server on `serverConfig` (a cluster's Temporal server keeps its own). */
const startSystem = (options: SystemOptions): Promise<System> => System.start({ ...options, serverConfig });
/** --scenarios a,b: the action counts of those rows only. */
const only = new Set((opt.get('scenarios') ?? '').split(',').filter(Boolean));
const runId = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(REPO, 'bench', 'tmp', `bench-${runId}`);
let numbers = Math.floor(Math.random() * 1_000_000);
const nextNumber = () => phoneNumber(numbers++);

/** Samples a child's RSS every 250 ms while `work` runs; the peak in MiB. */
async function withRss<T>(
  children: (Child | undefined)[],
  work: () => Promise<T>,
): Promise<[T, (number | undefined)[]]> {
  const peaks = children.map(() => 0);
  const timer = setInterval(() => {
    children.forEach((c, i) => (peaks[i] = Math.max(peaks[i], c?.rssMiB() ?? 0)));
  }, 250);
  try {
    const result = await work();
    children.forEach((c, i) => (peaks[i] = Math.max(peaks[i], c?.rssMiB() ?? 0)));
    return [result, peaks.map((p) => p || undefined)];
  } finally {
    clearInterval(timer);
  }
}

/** CPU ms used per process between two snapshots (the machine is shared: CPU per verification is steadier than time). */
function cpuMeter(readers: Record<string, () => number | undefined>): () => Record<string, number> {
  const before = Object.fromEntries(Object.entries(readers).map(([k, read]) => [k, read() ?? 0]));
  const selfBefore = process.cpuUsage();
  return () => {
    const used: Record<string, number> = {};
    for (const [k, read] of Object.entries(readers)) used[k] = Math.round((read() ?? 0) - before[k]);
    const self = process.cpuUsage(selfBefore);
    used.benchDriverAndEmulator = Math.round((self.user + self.system) / 1000);
    return used;
  };
}

const perVerification = (used: Record<string, number>, n: number): Record<string, number> =>
  Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round(v / Math.max(1, n), 1)]));

function level(concurrency: number, total: number, rec: Recorder, ok: number, seconds: number): LevelResult {
  return {
    concurrency,
    verifications: total,
    ok,
    errors: rec.errors.slice(0, 5),
    seconds: round(seconds, 2),
    throughput: round(ok / seconds, 2),
    latencyMs: Object.fromEntries(Object.entries(rec.latency).map(([k, v]) => [k, summarize(v)])),
    load: load(),
  };
}

/** Runs `scenario` `total` times, `concurrency` at a time, through the REST API. */
async function runScenario(sys: System, scenario: Scenario, concurrency: number, total: number): Promise<LevelResult> {
  const rec = new Recorder();
  const ctx: FlowContext = { sys, rec, number: nextNumber };
  sys.provider.emulator.configure({ onCallbackDelivered: (ms, status) => rec.add(`webhook:${status}`, ms) });
  let ok = 0;
  const ids: string[] = [];
  const cpu = cpuMeter(sys.cpuReaders());
  const started = performance.now();
  const [, [workerPeak, apiPeak]] = await withRss([sys.worker, sys.api], () =>
    pool(total, concurrency, async (i) => {
      const flowStarted = performance.now();
      try {
        const result = await scenario.run!(ctx, i);
        ids.push(result.id);
        rec.outcome(result.status);
        if (result.status === scenario.expected) {
          ok++;
          rec.add('total', performance.now() - flowStarted);
        }
      } catch (err) {
        rec.error((err as Error).message);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await sleep(300); // let the last callbacks land before the observer goes
  const used = cpu();
  sys.provider.emulator.configure({ onCallbackDelivered: undefined });
  const shapes: HistoryShape[] = [];
  for (const id of ids) shapes.push(historyShape(await sys.client.workflow.getHandle(id).fetchHistory()));
  return {
    ...level(concurrency, total, rec, ok, seconds),
    workerPeakRssMiB: workerPeak,
    apiPeakRssMiB: apiPeak,
    cpuMsPerVerification: perVerification(used, total),
    historyPerVerification: meanShape(shapes),
  };
}

/** The baseline: the bare workflow driven straight through the Temporal client. */
async function runBare(sys: System, bareWorker: Child, queue: string, concurrency: number, total: number) {
  const rec = new Recorder();
  let ok = 0;
  const temporalPid = sys.temporalPid();
  const cpu = cpuMeter({ worker: () => cpuMs(bareWorker.pid), temporal: () => cpuMs(temporalPid) });
  const started = performance.now();
  const [, [peak]] = await withRss([bareWorker], () =>
    pool(total, concurrency, async () => {
      const t0 = performance.now();
      try {
        const { status } = await runBareFlow(sys.bareClient, queue, (step, ms) => rec.add(step, ms));
        rec.outcome(status);
        if (status === 'completed') {
          ok++;
          rec.add('total', performance.now() - t0);
        }
      } catch (err) {
        rec.error((err as Error).message);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    ...level(concurrency, total, rec, ok, seconds),
    workerPeakRssMiB: peak,
    cpuMsPerVerification: perVerification(cpu(), total),
  };
}

/** Billable actions of `count` runs of a scenario, from their histories plus the API's counted client calls. */
async function actionsOf(sys: System, scenario: Scenario, count: number, onIds?: (ids: string[]) => void) {
  const rec = new Recorder();
  const ids: string[] = [];
  await sys.apiCalls(true);
  const ctx: FlowContext = { sys, rec, number: nextNumber };
  await pool(count, scenario.sequential ? 1 : Math.min(count, 5), async (i) => {
    try {
      const result = await scenario.run!(ctx, i);
      rec.outcome(result.status);
      ids.push(result.id);
    } catch (err) {
      rec.error((err as Error).message);
    }
  });
  await sleep(2000); // late callbacks (e.g. `completed` after the check) still signal
  const calls = await sys.apiCalls(true);
  const counts: ActionCount[] = [];
  for (const id of ids) counts.push(countActions(await sys.client.workflow.getHandle(id).fetchHistory()));
  if (!ids.length) throw new Error(`no run completed: ${rec.errors.slice(0, 2).join('; ')}`);
  onIds?.(ids);
  const history = meanCount(counts);
  const n = ids.length;
  // Queries to these runs only (a push scenario's polls of the enrollment are the enrollment's).
  const queries = round(ids.reduce((sum, id) => sum + (calls.queriesByWorkflow[id] ?? 0), 0) / n);
  return {
    scenario: scenario.name,
    what: scenario.what,
    runs: ids.length,
    outcomes: rec.outcomes,
    errors: rec.errors.slice(0, 3),
    history,
    clientQueries: queries,
    clientCalls: Object.fromEntries(
      Object.entries(calls)
        .filter((kv): kv is [string, number] => typeof kv[1] === 'number')
        .map(([k, v]) => [k, round(v / n)]),
    ),
    total: round(history.total + queries),
    target: scenario.actionTarget,
  };
}

/**
 * `phone-sms-happy-events`: the SMS happy path for a client with an events endpoint (a receiver on 127.0.0.1 that
 * verifies each signature and answers 204), on a system of its own. Its verifications' actions as in every row, plus
 * those of each one's `eventDelivery` workflow once both events were delivered (its 3-day redelivery window is still
 * open then: the timer is counted, nothing else is to come without a redelivery).
 */
async function eventsActionsRow(happy: Scenario, count: number) {
  const receiver = await ChaosEventsReceiver.start(await freePort());
  const { secret } = receiver;
  const sys = await startSystem({ runDir: join(runDir, 'events'), events: { url: receiver.url, secret } });
  try {
    await runScenario(sys, happy, 2, 2); // warm-up
    let ids: string[] = [];
    const row = await actionsOf(sys, happy, count, (v) => (ids = v));
    const deliveries: ActionCount[] = [];
    for (const id of ids) {
      const handle = sys.client.workflow.getHandle(eventDeliveryContract.id(id));
      const deadline = Date.now() + 60_000;
      for (;;) {
        const state = await handle.query(eventDeliveryContract.messages.getState).catch(() => undefined);
        const done = state?.events.length === 2 && state.events.every((e) => e.status === 'delivered');
        if (done) break;
        if (Date.now() > deadline) throw new Error(`${id}: its events were not delivered within 60 s`);
        await sleep(250);
      }
      deliveries.push(countActions(await handle.fetchHistory()));
    }
    const delivery = meanCount(deliveries);
    const taken = receiver.deliveries.filter((d) => d.verified && d.answered === 204).length;
    return {
      ...row,
      scenario: 'phone-sms-happy-events',
      what: `${happy.what}, for a client with an events endpoint (created + completed delivered, signed)`,
      target: undefined,
      delivery,
      eventsTaken: taken,
      verificationTotal: row.total,
      total: round(row.total + delivery.total),
    };
  } finally {
    await sys.stop();
    await receiver.stop();
  }
}

/** Opens `count` verifications that wait on their timers, on one worker; the worker's RSS. */
async function scale(defaultCount: number, token: string) {
  // `250` = stock worker with WORKER_MAX_CACHED_WORKFLOWS=250; `unshared:500` = libraries not shared, that cache;
  // `@600` after either = open that many instead of --open.
  const [setting, countText] = token.split('@');
  const count = countText ? Number(countText) : defaultCount;
  // `heap0:default` = the default worker with WORKER_WORKFLOW_HEAP_MIB=0 (V8's own heap size, as before 2026-12-04).
  const [worker, cache] = setting.includes(':') ? setting.split(':') : ['default', setting];
  const heapMiB = /^heap(\d+)$/.exec(worker)?.[1];
  const workerEnv: Record<string, string> = {
    ...(cache === 'default' ? {} : { WORKER_MAX_CACHED_WORKFLOWS: cache }),
    ...(heapMiB ? { WORKER_WORKFLOW_HEAP_MIB: heapMiB } : {}),
  };
  const sys = await startSystem({
    runDir: join(runDir, `scale-${setting.replace(':', '-')}-${count}`),
    workerEnv,
    worker: worker === 'unshared' ? 'unshared' : 'default',
  });
  try {
    const rssIdle = sys.worker!.rssMiB();
    const rec = new Recorder();
    let opened = 0;
    // A worker that runs out of memory exits: record it and how far it got, instead of waiting on it.
    let crashed: string | undefined;
    void sys.worker!.exited.then(
      (how) => (crashed = `worker exited (${how}) with ${sys.provider.outbox.sent.size} open`),
    );
    const started = performance.now();
    // The worker's RSS against the verifications open so far, once a second: the path from idle to all open.
    const rssSamples: { open: number; rssMiB: number }[] = [];
    const sampler = setInterval(() => {
      const rssMiB = sys.worker?.rssMiB();
      if (rssMiB !== undefined) rssSamples.push({ open: opened, rssMiB });
    }, 1000);
    const [, [peak]] = await withRss([sys.worker], async () => {
      await pool(count, 32, async () => {
        if (crashed) return;
        const to = nextNumber();
        const res = await fetch(`${sys.apiUrl}/v1/verifications/phone`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...sys.authHeader },
          body: JSON.stringify({
            to,
            brand: 'Bench',
            channels: [{ channel: 'sms', timeoutSeconds: 900 }],
            expirySeconds: 3600,
          }),
        }).catch((err: Error) => ({ status: 0, statusText: err.message, text: async () => '' }));
        await res.text();
        // 202: started, its first state not read within 5 s (a busy worker) — open all the same.
        if (res.status === 201 || res.status === 202) opened++;
        else rec.error(`start: HTTP ${res.status}`);
      });
      // Every workflow has run its first activity (the SMS is in the outbox) and waits on its timer.
      const deadline = Date.now() + 300_000;
      while (sys.provider.outbox.sent.size < opened && Date.now() < deadline && !crashed) await sleep(500);
      if (!crashed) await sleep(5000);
    }).finally(() => clearInterval(sampler));
    const seconds = (performance.now() - started) / 1000;
    return {
      worker,
      cache,
      open: opened,
      waiting: sys.provider.outbox.sent.size,
      errors: rec.errors.slice(0, 5),
      startsPerSecond: round(opened / seconds, 1),
      workerRssIdleMiB: rssIdle,
      workerRssPeakMiB: peak,
      workerRssEndMiB: sys.worker!.rssMiB(),
      rssSamples,
      ...(crashed ? { crashed } : {}),
      load: load(),
    };
  } finally {
    await sys.stop();
  }
}

/** Phase `durability`: the plain-route baseline at the curve's levels, beside the curve's verifyflow rows. */
async function costOfDurability(sys: System, results: Record<string, unknown>, out: string): Promise<void> {
  const curve = (results.curve ?? []) as { concurrency: number; verifyflow: LevelResult }[];
  const rows: DurabilityRow[] = [];
  results.durability = await durabilityPhase(sys, {
    runDir: join(runDir, 'main'),
    levels,
    totalAt: (c) => Math.max(perLevel, 3 * c),
    number: nextNumber,
    verifyflowAt: (c) => curve.find((row) => row.concurrency === c)?.verifyflow,
    onRow: async (row) => {
      rows.push(row);
      results.durability = rows;
      await writeJson(out, results);
      const p = row.plainRoute;
      console.log(
        `durability c=${row.concurrency}: plain route ${p.throughput}/s (${p.ok}/${p.verifications} ok), ` +
          `start p50 ${p.latencyMs.start?.p50} ms, check p50 ${p.latencyMs.check?.p50} ms, CPU ${p.systemCpuMs} ` +
          `ms/verification; verifyflow/plain ${JSON.stringify(row.ratios ?? {})}, load ${p.load.loadavg1}`,
      );
    },
  });
  await writeJson(out, results);
}

/**
 * `--cluster`: the same SMS flow on the dev server and on the cluster, both systems up for the whole run and measured
 * alternately at each level, so both see the same machine load.
 */
async function compareShapes(results: Record<string, unknown>, out: string): Promise<void> {
  const shapeLevels = (opt.get('levels') ?? (quick ? '10' : '10,50')).split(',').map(Number);
  const rounds = Number(opt.get('rounds') ?? (quick ? 1 : 2));
  results.options = { quick, cluster: true, levels: shapeLevels, rounds, perLevel };
  const happy = SCENARIOS.find((s) => s.name === 'phone-sms-happy')!;
  const systems: [string, System][] = [];
  try {
    systems.push(['dev-server', await startSystem({ runDir: join(runDir, 'dev-server') })]);
    const clusterStarted = performance.now();
    systems.push([
      'cluster',
      await startSystem({ runDir: join(runDir, 'cluster'), cluster: true, onNotice: (l) => console.log(l) }),
    ]);
    results.clusterStartSeconds = round((performance.now() - clusterStarted) / 1000, 1);
    for (const [, sys] of systems) await runScenario(sys, happy, 2, 6); // warm-up
    const rows = [];
    for (let r = 1; r <= rounds; r++) {
      for (const c of shapeLevels) {
        for (const [shape, sys] of systems) {
          const row = await runScenario(sys, happy, c, Math.max(perLevel, 3 * c));
          rows.push({ shape, round: r, ...row, systemCpuMsPerVerification: systemCpuMs(row.cpuMsPerVerification) });
          console.log(
            `${shape} c=${c}: ${row.throughput}/s (${row.ok}/${row.verifications} ok), total p99 ` +
              `${row.latencyMs.total?.p99} ms, CPU ms/verification ${JSON.stringify(row.cpuMsPerVerification)}, ` +
              `load ${row.load.loadavg1}`,
          );
          results.shapes = rows;
          await writeJson(out, results);
        }
      }
    }
  } finally {
    for (const [, sys] of systems) await sys.stop();
  }
}

function parseServerConfig(text: string | undefined): DynamicConfig | undefined {
  if (!text) return undefined;
  const config: DynamicConfig = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--server-config: "${pair}" is not KEY=VALUE`);
    const value = pair.slice(at + 1);
    config[pair.slice(0, at)] = /^(true|false|-?\d+(\.\d+)?)$/.test(value)
      ? (JSON.parse(value) as number | boolean)
      : value;
  }
  return config;
}

function tuningVariant(token: string): { name: string; variant: WorkerVariant; env: Record<string, string> } {
  if (token === 'default' || token === 'unshared') return { name: token, variant: token, env: {} };
  const env: Record<string, string> = {};
  for (const pair of token.split('+')) {
    // At the first `=` only: a value may hold one (NODE_OPTIONS=--require=…).
    const eq = pair.indexOf('=');
    const [key, value] = eq < 0 ? [pair, undefined] : [pair.slice(0, eq), pair.slice(eq + 1)];
    if (!key || value === undefined || !/^[A-Z0-9_]+$/.test(key)) {
      throw new Error(`--tuning: "${token}" is not default, unshared or KEY=VALUE[+KEY=VALUE]`);
    }
    env[key] = value;
  }
  return { name: token, variant: 'default', env };
}

async function main(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const suffix = `${opt.has('cluster') ? '-cluster' : ''}${quick ? '-quick' : ''}`;
  const out = opt.get('out') ?? join(REPO, 'bench', 'results', `${date}${suffix}.json`);
  const results: Record<string, unknown> = {
    kind: 'verifyflow-bench',
    startedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    options: { quick, levels, perLevel, warmup, curveRounds, openCount, cacheSettings, serverConfig },
    loadAtStart: load(),
  };
  console.log(`bench run dir ${runDir}`);

  if (opt.has('cluster')) {
    await compareShapes(results, out);
    results.loadAtEnd = load();
    results.finishedAt = new Date().toISOString();
    await writeJson(out, results);
    console.log(`\nwrote ${out}\n`);
    printSummary(results);
    return;
  }

  if (!skip.has('curve') || !skip.has('durability') || !skip.has('actions') || !skip.has('tuning')) {
    const sys = await startSystem({ runDir: join(runDir, 'main') });
    const bareQueue = `bare-${randomUUID().slice(0, 8)}`;
    const bareWorker = await spawnNode({
      name: 'bare-worker',
      script: join(DIST, 'bench', 'bare', 'worker.js'),
      args: [sys.temporalAddress, bareQueue],
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      logFile: join(runDir, 'main', 'bare-worker.log'),
      ready: (o) => o.includes('bare worker on task queue'),
    });
    try {
      const happy = SCENARIOS.find((s) => s.name === 'phone-sms-happy')!;
      // Warm-up: bundles loaded, JIT warm, connections open. The first measured round still runs the verifyflow
      // worker 20–30 % above its later CPU per verification, at 460 MiB of RSS against 360 later: --rounds takes
      // the median.
      await runBare(sys, bareWorker, bareQueue, 2, warmup);
      await runScenario(sys, happy, 2, warmup);

      if (!skip.has('curve')) {
        const curve = [];
        for (const c of levels) {
          const total = Math.max(perLevel, 3 * c);
          const done: (CurveRound & { verifyflow: LevelResult; bare: LevelResult })[] = [];
          for (let r = 0; r < curveRounds; r++) {
            // The 2nd, 4th, … round runs verifyflow first: a load that drifts over the level weighs on both sides alike.
            const first = r % 2 === 0 ? 'bare' : 'verifyflow';
            const early = first === 'verifyflow' ? await runScenario(sys, happy, c, total) : undefined;
            const bare = await runBare(sys, bareWorker, bareQueue, c, total);
            const vf = early ?? (await runScenario(sys, happy, c, total));
            const ratio = round(vf.throughput / bare.throughput, 2);
            done.push({ first, verifyflow: vf, bare, ratio });
            console.log(
              `c=${c}${curveRounds > 1 ? ` round ${r + 1}` : ''}: verifyflow ${vf.throughput}/s (${vf.ok}/${total} ok), ` +
                `bare ${bare.throughput}/s, ratio ${ratio}, worker CPU ${vf.cpuMsPerVerification?.worker} ms ` +
                `(bare ${bare.cpuMsPerVerification?.worker}), worker RSS ${vf.workerPeakRssMiB} MiB, load ${vf.load.loadavg1}`,
            );
          }
          // The level's own figures are its first round's; with --rounds, every round and their medians beside them.
          const [{ verifyflow, bare, ratio }] = done;
          curve.push({
            concurrency: c,
            verifyflow,
            bare,
            ratio,
            ...(curveRounds > 1 ? { rounds: done, summary: summarizeRounds(done) } : {}),
          });
        }
        results.curve = curve;
        await writeJson(out, results);
        const silent = SCENARIOS.find((s) => s.name === 'phone-silent-auth-happy')!;
        results.silentAuth = await runScenario(sys, silent, quick ? 5 : 10, quick ? 10 : 40);
      }

      if (!skip.has('durability')) await costOfDurability(sys, results, out);

      if (!skip.has('tuning')) {
        // Before/after of the worker tuning on the same system: libraries not shared (before), shared (the default).
        const tuning = [];
        const c = Number(opt.get('tuning-concurrency') ?? (quick ? 5 : 10));
        const total = quick ? 20 : 60;
        for (const variant of tuningVariants) {
          await sys.worker?.stop();
          await sys.startWorker(variant.env, variant.variant);
          await runScenario(sys, happy, 2, 4);
          const row = await runScenario(sys, happy, c, total);
          tuning.push({ worker: variant.name, ...row });
          console.log(
            `tuning ${variant.name}: ${row.throughput}/s, worker CPU ${row.cpuMsPerVerification?.worker} ` +
              `ms/verification, RSS ${row.workerPeakRssMiB} MiB`,
          );
        }
        results.tuning = tuning;
        await writeJson(out, results);
        await sys.worker?.stop();
        await sys.startWorker();
      }

      if (!skip.has('actions')) {
        const actions = [];
        let sandboxSys: System | undefined;
        for (const scenario of SCENARIOS) {
          if (only.size && !only.has(scenario.name)) continue;
          if (!scenario.run) {
            actions.push({ scenario: scenario.name, what: scenario.what, pending: scenario.pending });
            continue;
          }
          if (scenario.needsSandbox && !sandboxSys) {
            sandboxSys = await startSystem({ runDir: join(runDir, 'sandbox'), sandbox: true });
          }
          const row = await actionsOf(scenario.needsSandbox ? sandboxSys! : sys, scenario, quick ? 2 : 5).catch(
            (err: Error) => ({ scenario: scenario.name, what: scenario.what, error: err.message }),
          );
          actions.push(row);
          console.log(`actions ${scenario.name}: ${'total' in row ? row.total : row.error}`);
        }
        await sandboxSys?.stop();
        if (!only.size || only.has('phone-sms-happy-events')) {
          const happyRow = await eventsActionsRow(happy, quick ? 2 : 5).catch((err: Error) => ({
            scenario: 'phone-sms-happy-events',
            error: err.message,
          }));
          actions.push(happyRow);
          console.log(`actions phone-sms-happy-events: ${'total' in happyRow ? happyRow.total : happyRow.error}`);
        }
        // The bare workflow's own count, for reference.
        const bareIds: string[] = [];
        for (let i = 0; i < 2; i++) {
          const { workflowId } = await runBareFlow(sys.bareClient, bareQueue);
          await sys.bareClient.workflow.getHandle(workflowId).result();
          bareIds.push(workflowId);
        }
        const bareCounts = [];
        for (const id of bareIds)
          bareCounts.push(countActions(await sys.bareClient.workflow.getHandle(id).fetchHistory()));
        actions.push({ scenario: 'bare-baseline', history: meanCount(bareCounts), total: meanCount(bareCounts).total });
        results.actions = actions;
        await writeJson(out, results);
      }
    } finally {
      await bareWorker.stop();
      await sys.stop();
    }
  }

  if (!skip.has('scale')) {
    const rows = [];
    for (const cache of cacheSettings) {
      const row = await scale(openCount, cache);
      rows.push(row);
      console.log(`scale ${row.open} open, ${cache}: worker RSS peak ${row.workerRssPeakMiB} MiB ${row.crashed ?? ''}`);
      results.scale = rows;
      await writeJson(out, results);
    }
    results.scale = rows;
  }

  results.loadAtEnd = load();
  results.finishedAt = new Date().toISOString();
  await writeJson(out, results);
  for (const chart of await writeCharts(out, results)) console.log(`wrote ${chart}`);
  console.log(`\nwrote ${out}\n`);
  printSummary(results);
}

function printSummary(r: Record<string, unknown>): void {
  const shapes = (r.shapes ?? []) as (LevelResult & { shape: string; systemCpuMsPerVerification: number })[];
  if (shapes.length) {
    console.log(
      '| shape | concurrency | verifications (ok) | /s | total p50/p95/p99 ms | start p99 | check p99 | ' +
        'CPU ms per verification, system (per process) | load1 |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const row of shapes) {
      const cpu = Object.entries(row.cpuMsPerVerification ?? {})
        .filter(([k]) => k !== 'benchDriverAndEmulator')
        .map(([k, v]) => `${k} ${v}`)
        .join(' · ');
      console.log(
        `| ${row.shape} | ${row.concurrency} | ${row.verifications} (${row.ok}) | ${row.throughput} | ` +
          `${percentiles(row.latencyMs.total)} | ${row.latencyMs.start?.p99} | ${row.latencyMs.check?.p99} | ` +
          `${row.systemCpuMsPerVerification} (${cpu}) | ${row.load.loadavg1} |`,
      );
    }
  }
  const curve = (r.curve ?? []) as {
    concurrency: number;
    verifyflow: LevelResult;
    bare: LevelResult;
    ratio: number;
    summary?: RoundsSummary;
  }[];
  if (curve.length) {
    console.log('| concurrency | verifyflow /s | bare /s | ratio | start p50/p95/p99 ms | check p50/p95/p99 ms |');
    console.log('| webhook ack p50/p95/p99 ms | worker RSS MiB | events · signals · failed tasks per run | load1 |');
    for (const row of curve) {
      const v = row.verifyflow;
      const h = v.historyPerVerification;
      console.log(
        `| ${row.concurrency} | ${v.throughput} | ${row.bare.throughput} | ${row.ratio} | ${percentiles(v.latencyMs.start)} | ` +
          `${percentiles(v.latencyMs.check)} | ${percentiles(v.latencyMs['webhook:completed'])} | ${v.workerPeakRssMiB} | ` +
          `${h ? `${h.events} · ${h.signals} · ${h.failedWorkflowTasks}` : '–'} | ${v.load.loadavg1} |`,
      );
    }
  }
  for (const line of roundsTable(curve)) console.log(line);
  for (const line of durabilityTables((r.durability ?? []) as DurabilityRow[])) console.log(line);
  type Row = { scenario: string; total?: number; target?: number; pending?: string };
  for (const a of (r.actions ?? []) as Row[]) {
    console.log(`actions | ${a.scenario} | ${a.pending ? 'pending' : a.total} | ${a.target ?? '–'} |`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
