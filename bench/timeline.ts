import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { spawnNode } from './lib/children';
import { Recorder, SCENARIOS } from './lib/scenarios';
import { DIST, REPO, System } from './lib/system';
import { args, load, phoneNumber, round, sleep } from './lib/util';
import { runBareFlow } from './bare/flow';
import { WORKER_TRACE_FILE, type TraceEvent } from './lib/trace-file';

/** One run as the driver saw it: its workflow ID, when the driver began it and when it had the last answer (ms). */
interface Timed {
  workflowId: string;
  began: number;
  ended: number;
}

/** Each name's median over the runs that have it, in time order: `name (runs that have it of all runs)`, ms. */
function medianRows(at: Map<string, number[]>, runs: number): [string, number][] {
  // In time order: runs whose events come in another order (a signal before or after a task) give rows of their own.
  return [...at]
    .map(([name, values]): [string, number] => {
      const sorted = values.sort((a, b) => a - b);
      return [`${name} (${values.length} of ${runs})`, round(sorted[Math.floor(sorted.length / 2)])];
    })
    .sort((a, b) => a[1] - b[1]);
}

/**
 * Each event of the runs' histories against the moment the driver began the run: the median over the runs, event by
 * event (`position type`: the runs of one flow record the same events in the same order), then the driver's end.
 */
async function medians(client: Client, runs: Timed[]): Promise<[string, number][]> {
  const at = new Map<string, number[]>();
  const add = (name: string, ms: number) => at.set(name, [...(at.get(name) ?? []), ms]);
  for (const run of runs) {
    const { events } = await client.workflow.getHandle(run.workflowId).fetchHistory();
    (events ?? []).forEach((e, i) => {
      const t = Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
      const type = String(temporal.api.enums.v1.EventType[e.eventType ?? 0]).replace('EVENT_TYPE_', '');
      add(`${String(i + 1).padStart(2)} ${type}`, t - run.began);
    });
    add('the driver has the last answer', run.ended - run.began);
  }
  return medianRows(at, runs.length);
}

/**
 * The worker's own steps (`--trace`, bench/lib/worker-trace.ts) for the last `n` runs, one at a time: each run's
 * events from the activation that created its workflow to the next run's, against that activation's poll (the k-th
 * time a step happens in a run is its own row, `#k`), medians over the runs; steps of fewer than half the runs left out.
 */
function traceMedians(events: TraceEvent[], n: number): [string, number][] {
  const starts: number[] = [];
  let polled = 0;
  events.forEach(([, label], i) => {
    if (label === 'activation polled') polled = i;
    if (label === 'workflow created: in') starts.push(polled);
  });
  const at = new Map<string, number[]>();
  const measured = starts.slice(-n);
  measured.forEach((from, r) => {
    const to = measured[r + 1] ?? events.length;
    const seen = new Map<string, number>();
    for (const [t, label] of events.slice(from, to)) {
      const k = (seen.get(label) ?? 0) + 1;
      seen.set(label, k);
      const name = `${label} #${k}`;
      at.set(name, [...(at.get(name) ?? []), t - events[from][0]]);
    }
  });
  // Steps fewer than half the runs take (the worker's shutdown after the last one) would only clutter the table.
  return medianRows(new Map([...at].filter(([, values]) => values.length * 2 >= measured.length)), measured.length);
}

/**
 * Where the time of one verification goes, one run at a time: `n` SMS verifications (start → code from the outbox →
 * check) and `n` bare workflows (start → signal → update), each after 10 to warm up, then every history's event times
 * against the moment the driver began the run (medians). Shows which workflow task a check waits for, and how long
 * each task and activity takes. `node dist/bench/timeline.js [--n 30] [--trace] [--require module.js] [--api-require
 * module.js]`: `--trace` also times each worker's own steps for each run (bench/lib/worker-trace.ts: decode,
 * the workflow thread, encode, the core taking a completion, the local activities, their Redis and HTTP calls);
 * `--require` / `--api-require`: a module the workers (verifyflow's and bare's) or the API preload, for
 * measurements of one's own.
 */
async function main(): Promise<void> {
  const n = Number(args().get('n') ?? 30);
  const runDir = join(REPO, 'bench', 'tmp', `timeline-${Date.now()}`);
  const preload = (flag: string) => (args().get(flag) ? ['--require', args().get(flag)!] : []);
  const trace = args().has('trace') ? ['--require', join(DIST, 'bench', 'lib', 'worker-trace.js')] : [];
  const sys = await System.start({
    runDir,
    workerExecArgv: [...trace, ...preload('require')],
    apiExecArgv: preload('api-require'),
  });
  const bareQueue = `bare-${randomUUID()}`;
  const bareDir = join(runDir, 'bare');
  mkdirSync(bareDir, { recursive: true });
  const bareWorker = await spawnNode({
    name: 'bare-worker',
    script: join(DIST, 'bench', 'bare', 'worker.js'),
    args: [sys.temporalAddress, bareQueue],
    execArgv: [...trace, ...preload('require')],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: bareDir },
    logFile: join(runDir, 'bare-worker.log'),
    ready: (o) => o.includes('bare worker on task queue'),
  });
  const sms = SCENARIOS.find((s) => s.name === 'phone-sms-happy')!;
  const rec = new Recorder();
  let k = Math.floor(Math.random() * 1e6);
  const timed = async (run: () => Promise<string>): Promise<Timed[]> => {
    const runs: Timed[] = [];
    for (let i = 0; i < 10 + n; i++) {
      const began = Date.now();
      const workflowId = await run();
      if (i >= 10) runs.push({ workflowId, began, ended: Date.now() });
    }
    return runs;
  };
  try {
    const verifyflow = await timed(async () => (await sms.run!({ sys, rec, number: () => phoneNumber(k++) }, 0)).id);
    const bare = await timed(async () => (await runBareFlow(sys.bareClient, bareQueue)).workflowId);
    await sleep(1000);
    console.log(`load1 ${load().loadavg1}; ${n} runs of each, one at a time; ms after the driver began the run`);
    for (const [title, client, runs] of [
      ['verifyflow (phone-sms-happy)', sys.client, verifyflow],
      ['bare', sys.bareClient, bare],
    ] as const) {
      console.log(`\n## ${title}`);
      for (const [name, ms] of await medians(client, runs)) console.log(`${name.padEnd(56)} ${ms}`);
    }
  } finally {
    await bareWorker.stop();
    await sys.stop();
  }
  for (const [title, dir] of trace.length > 0 ? [['verifyflow', runDir] as const, ['bare', bareDir] as const] : []) {
    const events = JSON.parse(readFileSync(join(dir, WORKER_TRACE_FILE), 'utf8')) as TraceEvent[];
    console.log(`\n## the ${title} worker's steps (ms after the poll of the activation that created the run)`);
    for (const [name, ms] of traceMedians(events, n)) console.log(`${name.padEnd(56)} ${ms}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
