import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMs } from './lib/children';
import { Recorder, SCENARIOS } from './lib/scenarios';
import { REPO, System } from './lib/system';
import { args, phoneNumber, pool, round, sleep, writeJson } from './lib/util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One thread's CPU in the measured window: busy ms per verification, and where it went. */
export interface ThreadSummary {
  thread: string;
  busyMsPerVerification: number;
  gcMsPerVerification: number;
  byScript: { name: string; msPerVerification: number; share: number }[];
  byFunction: { name: string; msPerVerification: number; share: number }[];
}

/** The monotonic clock V8's profiler stamps samples with (CLOCK_MONOTONIC, µs), as `process.hrtime` reads it. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Where a frame's code comes from: a package, the workflow bundle, a Node internal, or native code. */
function scriptOf(url: string): string {
  if (!url) return '(native)';
  if (/workflow-bundle-[0-9a-f]+\.js/.test(url)) return 'workflow bundle (our workflows, zod, the SDK inside)';
  if (url.includes('node_modules/'))
    return url
      .replace(/^.*node_modules\//, '')
      .split('/')
      .slice(0, 2)
      .join('/');
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url.replace(/^.*\/dist\//, 'dist/');
}

/** Self time of the samples taken between `fromUs` and `toUs` (monotonic µs), by script and by function. */
export function summarizeProfile(
  profile: CpuProfile,
  thread: string,
  fromUs: number,
  toUs: number,
  verifications: number,
  top = 15,
): ThreadSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byScript = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at > toUs) return;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') return;
    busy += delta;
    if (frame.functionName === '(garbage collector)') gc += delta;
    const script = scriptOf(frame.url);
    byScript.set(script, (byScript.get(script) ?? 0) + delta);
    const fn = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
  });
  const perVerification = (us: number) => round(us / 1000 / verifications, 2);
  const ranked = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, msPerVerification: perVerification(us), share: round((us / busy) * 100, 1) }));
  return {
    thread,
    busyMsPerVerification: perVerification(busy),
    gcMsPerVerification: perVerification(gc),
    byScript: ranked(byScript),
    byFunction: ranked(byFunction),
  };
}

/**
 * Where the worker's CPU goes: runs verifications (default `phone-sms-happy`) against a worker started with
 * `--cpu-prof`, and summarizes every thread's profile (the main thread: activities, codec, gRPC; the workflow thread:
 * the workflows in the SDK's V8 context) over the measured window only — start-up and bundling left out, after a
 * warm-up. `node dist/bench/profile-worker.js [--n 60] [--concurrency 10] [--scenario phone-sms-happy]
 * [--worker unshared] [--require module.js] [--process api] [--out file.json]` (`--require`: a module the profiled
 * process preloads, for experiments of one's own; `bench/lib/sdk-costs-off.ts` takes its switches from the worker's
 * environment, so it runs through `npm run bench -- --tuning` instead; `--process api` profiles the API instead of the
 * worker: NestJS, authentication, the abuse guard, the codec and its Temporal calls).
 */
async function main(): Promise<void> {
  const opt = args();
  const n = Number(opt.get('n') ?? 60);
  const concurrency = Number(opt.get('concurrency') ?? 10);
  const scenario = SCENARIOS.find((s) => s.name === (opt.get('scenario') ?? 'phone-sms-happy'));
  if (!scenario?.run) throw new Error(`no runnable scenario ${opt.get('scenario')}`);
  const runDir = join(REPO, 'bench', 'tmp', `profile-${Date.now()}`);
  const profDir = join(runDir, 'prof');
  const target = opt.get('process') === 'api' ? 'api' : 'worker';
  const execArgv = [
    ...(opt.get('require') ? ['--require', opt.get('require')!] : []),
    '--cpu-prof',
    '--cpu-prof-dir',
    profDir,
  ];
  const sys = await System.start({
    runDir,
    worker: opt.get('worker') === 'unshared' ? 'unshared' : 'default',
    ...(target === 'api' ? { apiExecArgv: execArgv } : { workerExecArgv: execArgv }),
  });
  const profiled = () => (target === 'api' ? sys.api : sys.worker)!;
  let k = Math.floor(Math.random() * 1e6);
  const rec = new Recorder();
  const run = (count: number) =>
    pool(count, concurrency, async (i) => {
      await scenario.run!({ sys, rec, number: () => phoneNumber(k++) }, i).then(
        (r) => rec.outcome(r.status),
        (e: Error) => rec.error(e.message),
      );
    });
  let window: [number, number];
  let processCpuMs: number;
  try {
    await run(Math.min(10, n)); // warm-up: bundle loaded, JIT warm, connections open
    await sleep(1000);
    const cpuBefore = cpuMs(profiled().pid) ?? 0;
    const from = monotonicUs();
    for (const key of Object.keys(rec.outcomes)) delete rec.outcomes[key];
    await run(n);
    window = [from, monotonicUs()];
    processCpuMs = (cpuMs(profiled().pid) ?? 0) - cpuBefore;
    await sleep(1000);
  } finally {
    await sys.stop();
  }
  console.log('outcomes', rec.outcomes, rec.errors.slice(0, 3));
  const files = readdirSync(profDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (!files.length) throw new Error('no profile written');
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread, the others worker threads.
  const threads = files.map((file) =>
    summarizeProfile(
      JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile,
      file.split('.')[4] === '0' ? 'main' : `worker thread ${file.split('.')[4]}`,
      window[0],
      window[1],
      n,
    ),
  );
  const result = {
    kind: 'verifyflow-profile',
    process: target,
    scenario: scenario.name,
    verifications: n,
    concurrency,
    outcomes: rec.outcomes,
    processCpuMsPerVerification: round(processCpuMs / n, 1),
    threads,
  };
  console.log(`\n${target} process CPU ${result.processCpuMsPerVerification} ms per verification (/proc)`);
  for (const t of threads) {
    console.log(`\n## ${t.thread}: ${t.busyMsPerVerification} ms per verification (GC ${t.gcMsPerVerification})`);
    for (const s of t.byScript) console.log(`${String(s.share).padStart(5)}%  ${s.msPerVerification} ms  ${s.name}`);
    console.log('');
    for (const f of t.byFunction) console.log(`${String(f.share).padStart(5)}%  ${f.msPerVerification} ms  ${f.name}`);
  }
  if (opt.get('out')) await writeJson(opt.get('out')!, result);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
