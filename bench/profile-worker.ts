import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Recorder, SCENARIOS } from './lib/scenarios';
import { REPO, System } from './lib/system';
import { args, phoneNumber, pool } from './lib/util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * Where the worker's CPU goes: runs SMS verifications against a worker started with `--cpu-prof`, then prints the
 * self time by script and by function. `node dist/bench/profile-worker.js [--n 60] [--worker unshared]`.
 */
async function main(): Promise<void> {
  const opt = args();
  const n = Number(opt.get('n') ?? 60);
  const runDir = join(REPO, 'bench', 'tmp', `profile-${Date.now()}`);
  const profDir = join(runDir, 'prof');
  const sys = await System.start({
    runDir,
    worker: opt.get('worker') === 'unshared' ? 'unshared' : 'default',
    workerExecArgv: ['--cpu-prof', '--cpu-prof-dir', profDir],
  });
  const happy = SCENARIOS.find((s) => s.name === 'phone-sms-happy')!;
  let k = Math.floor(Math.random() * 1e6);
  const rec = new Recorder();
  await pool(n, 10, async (i) => {
    await happy.run!({ sys, rec, number: () => phoneNumber(k++) }, i).catch((e: Error) => rec.error(e.message));
  });
  console.log('outcomes', rec.outcomes, rec.errors.slice(0, 3));
  await sys.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byUrl = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    total += us;
    const url =
      f.url
        .replace(/^.*node_modules\//, '')
        .split('/')
        .slice(0, 2)
        .join('/') || '(native)';
    byUrl.set(url, (byUrl.get(url) ?? 0) + us);
    const fn = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(
        ([name, us]) =>
          `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000 / n).toFixed(1)} ms/verif  ${name}`,
      )
      .join('\n');
  console.log(`total sampled ${(total / 1000).toFixed(0)} ms for ${n} verifications\n\nby script:\n${top(byUrl, 20)}`);
  console.log(`\nby function:\n${top(byFn, 30)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
