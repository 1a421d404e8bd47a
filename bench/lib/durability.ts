import { join } from 'node:path';
import { cpuMs, httpOk, spawnNode, type Child } from './children';
import { http } from './http';
import { codeFor, FlowError, Recorder, sentTo, type FlowContext } from './scenarios';
import { DIST, type System } from './system';
import {
  freePort,
  load,
  markdownHeader,
  markdownRow,
  percentiles,
  pool,
  round,
  summarize,
  type Load,
  type Summary,
} from './util';

/**
 * Phase `durability` of `npm run bench`: "the cost of durability". The SMS flow of verifyflow's curve (start → the code
 * from the sandbox outbox → check) driven the same way against the plain route of bench/baseline/plain-route.ts — a
 * benchmark baseline, not a product path: the same Vonage SDK against the same emulator, its state in a Map, no
 * Temporal — at the curve's concurrency levels and sizes, on the same system right after the curve. Each row puts the
 * plain route's throughput, latencies and CPU next to verifyflow's at that level from the same run.
 *
 * CPU per verification: the plain route's own process (from /proc, like the API and worker); verifyflow's "system" is
 * API + worker + Temporal as in the curve (Redis, the abuse guard's store, is not counted there). The Vonage emulator
 * runs in the bench process with the driver, for both: `benchDriverAndEmulator` is shown for each, outside the ratio.
 */

/** What the curve measured for verifyflow at one level (a `runScenario` row). */
export interface MeasuredLevel {
  verifications: number;
  ok: number;
  throughput: number;
  latencyMs: Record<string, Summary>;
  cpuMsPerVerification?: Record<string, number>;
  load: Load;
}

export interface DurabilitySide {
  verifications: number;
  ok: number;
  throughput: number;
  latencyMs: Record<string, Summary>;
  /** The system's own processes (the plain route; or API + worker + Temporal), ms per verification. */
  systemCpuMs: number;
  cpuMsPerVerification: Record<string, number>;
  load: Load;
}

export interface DurabilityRow {
  concurrency: number;
  plainRoute: DurabilitySide & { seconds: number; errors: string[] };
  /** Absent when the curve was skipped. */
  verifyflow?: DurabilitySide;
  /** verifyflow / plain route, same run and level (latencies at p50 and p99). */
  ratios?: Record<string, number | undefined>;
}

const DRIVER = 'benchDriverAndEmulator';

/**
 * The cost of durability as Markdown (bench/report.ts and the bench's own summary): the plain-route baseline and
 * verifyflow at each level, then verifyflow / plain route.
 */
export function durabilityTables(rows: DurabilityRow[]): string[] {
  if (!rows.length) return [];
  const cpu = (side: DurabilitySide, name: string) =>
    name === 'plain route'
      ? `${side.systemCpuMs} (plain route)`
      : `${side.systemCpuMs} (${['api', 'worker', 'temporal'].map((k) => side.cpuMsPerVerification[k]).join(' + ')})`;
  const lines = [
    '',
    markdownHeader([
      'concurrency',
      'system',
      'verifications (ok)',
      '/s',
      'start p50/p95/p99 ms',
      'check p50/p95/p99 ms',
      'CPU ms/verification, system (API + worker + Temporal)',
      'bench process (driver + emulator) ms/verification',
      'load1',
    ]),
  ];
  for (const d of rows) {
    const sides: [string, DurabilitySide][] = [['plain route', d.plainRoute]];
    if (d.verifyflow) sides.push(['verifyflow', d.verifyflow]);
    for (const [name, s] of sides) {
      lines.push(
        markdownRow([
          d.concurrency,
          name,
          `${s.verifications} (${s.ok})`,
          s.throughput,
          percentiles(s.latencyMs.start),
          percentiles(s.latencyMs.check),
          cpu(s, name),
          s.cpuMsPerVerification[DRIVER],
          s.load.loadavg1,
        ]),
      );
    }
  }
  const withRatios = rows.filter((d) => d.ratios);
  if (!withRatios.length) return lines;
  lines.push(
    '',
    markdownHeader([
      'concurrency',
      'verifyflow / plain route: throughput',
      'start p50',
      'start p99',
      'check p50',
      'check p99',
      'system CPU per verification',
    ]),
  );
  for (const d of withRatios) {
    const q = d.ratios!;
    lines.push(markdownRow([d.concurrency, q.throughput, q.startP50, q.startP99, q.checkP50, q.checkP99, q.systemCpu]));
  }
  return lines;
}

/** CPU ms per verification of the system's own processes: every reader but the bench process. */
export const systemCpuMs = (cpu: Record<string, number> = {}): number =>
  round(
    Object.entries(cpu)
      .filter(([k]) => k !== DRIVER)
      .reduce((t, [, v]) => t + v, 0),
    1,
  );

const ratio = (a?: number, b?: number): number | undefined => (a && b ? round(a / b, 2) : undefined);

/** The row of one level: the plain route's figures, verifyflow's from the curve, and their ratios. */
export function durabilityRow(
  concurrency: number,
  plain: DurabilityRow['plainRoute'],
  vf?: MeasuredLevel,
): DurabilityRow {
  if (!vf) return { concurrency, plainRoute: plain };
  const verifyflow: DurabilitySide = {
    verifications: vf.verifications,
    ok: vf.ok,
    throughput: vf.throughput,
    latencyMs: vf.latencyMs,
    systemCpuMs: systemCpuMs(vf.cpuMsPerVerification),
    cpuMsPerVerification: vf.cpuMsPerVerification ?? {},
    load: vf.load,
  };
  const lat = (side: DurabilitySide, what: string, p: 'p50' | 'p99') => side.latencyMs[what]?.[p];
  return {
    concurrency,
    plainRoute: plain,
    verifyflow,
    ratios: {
      throughput: ratio(verifyflow.throughput, plain.throughput),
      startP50: ratio(lat(verifyflow, 'start', 'p50'), lat(plain, 'start', 'p50')),
      startP99: ratio(lat(verifyflow, 'start', 'p99'), lat(plain, 'start', 'p99')),
      checkP50: ratio(lat(verifyflow, 'check', 'p50'), lat(plain, 'check', 'p50')),
      checkP99: ratio(lat(verifyflow, 'check', 'p99'), lat(plain, 'check', 'p99')),
      systemCpu: ratio(verifyflow.systemCpuMs, plain.systemCpuMs),
    },
  };
}

/** Starts the plain route as a child process configured for the run's Vonage emulator. */
export async function startPlainRoute(sys: System, runDir: string): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const c = sys.provider.credentials;
  const child = await spawnNode({
    name: 'plain-route',
    script: join(DIST, 'bench', 'baseline', 'plain-route.js'),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(port),
      VONAGE_APPLICATION_ID: c.applicationId,
      VONAGE_PRIVATE_KEY: c.privateKeyFile,
      VONAGE_SIGNATURE_SECRET: c.signatureSecret,
      VONAGE_API_HOST: sys.provider.apiHost,
    },
    logFile: join(runDir, 'plain-route.log'),
    ready: () => httpOk(`${url}/health`),
  });
  return { child, url };
}

/** One level against the plain route: `total` SMS flows, `concurrency` at a time. */
async function runPlainRoute(
  sys: System,
  route: { child: Child; url: string },
  concurrency: number,
  total: number,
  number: () => string,
): Promise<DurabilityRow['plainRoute']> {
  const rec = new Recorder();
  const ctx: FlowContext = { sys, rec, number };
  sys.provider.emulator.configure({ onCallbackDelivered: (ms, status) => rec.add(`webhook:${status}`, ms) });
  let ok = 0;
  const routeBefore = cpuMs(route.child.pid) ?? 0;
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  await pool(total, concurrency, async () => {
    const t0 = performance.now();
    try {
      const to = number();
      const already = sentTo(ctx, to);
      const start = await http<{ id: string }>('POST', `${route.url}/start`, { phone: to });
      rec.add('start', start.ms);
      if (start.status !== 201) throw new FlowError(`start: HTTP ${start.status} ${JSON.stringify(start.body)}`);
      const code = await codeFor(ctx, to, already);
      const check = await http<{ status: string }>('POST', `${route.url}/check`, { id: start.body.id, code });
      rec.add('check', check.ms);
      if (check.status !== 200) throw new FlowError(`check: HTTP ${check.status} ${JSON.stringify(check.body)}`);
      rec.outcome(check.body.status);
      if (check.body.status === 'completed') {
        ok++;
        rec.add('total', performance.now() - t0);
      }
    } catch (err) {
      rec.error((err as Error).message);
    }
  });
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 300)); // the last `completed` callbacks land, as in the curve
  const self = process.cpuUsage(selfBefore);
  sys.provider.emulator.configure({ onCallbackDelivered: undefined });
  const n = Math.max(1, total);
  const cpu = {
    plainRoute: round(((cpuMs(route.child.pid) ?? 0) - routeBefore) / n, 1),
    [DRIVER]: round((self.user + self.system) / 1000 / n, 1),
  };
  return {
    verifications: total,
    ok,
    seconds: round(seconds, 2),
    throughput: round(ok / seconds, 2),
    latencyMs: Object.fromEntries(Object.entries(rec.latency).map(([k, v]) => [k, summarize(v)])),
    systemCpuMs: cpu.plainRoute,
    cpuMsPerVerification: cpu,
    errors: rec.errors.slice(0, 5),
    load: load(),
  };
}

export interface DurabilityOptions {
  runDir: string;
  levels: number[];
  /** Verifications at a level (the curve's: max(per-level, 3 × concurrency)). */
  totalAt(concurrency: number): number;
  /** A destination no other flow of the run uses. */
  number(): string;
  /** verifyflow's figures at that level from the run's curve, if it ran. */
  verifyflowAt(concurrency: number): MeasuredLevel | undefined;
  onRow?(row: DurabilityRow): void | Promise<void>;
}

/**
 * Runs the plain route at every level on `sys`'s emulator (its callbacks sent to the plain route's `/webhook` for
 * the phase, then back to the API) and pairs each level with verifyflow's.
 */
export async function durabilityPhase(sys: System, options: DurabilityOptions): Promise<DurabilityRow[]> {
  const route = await startPlainRoute(sys, options.runDir);
  sys.callbackTarget = `${route.url}/webhook`;
  try {
    await runPlainRoute(sys, route, 2, 6, options.number); // warm-up, like the curve's
    const rows: DurabilityRow[] = [];
    for (const c of options.levels) {
      const plain = await runPlainRoute(sys, route, c, options.totalAt(c), options.number);
      const row = durabilityRow(c, plain, options.verifyflowAt(c));
      rows.push(row);
      await options.onRow?.(row);
    }
    return rows;
  } finally {
    sys.callbackTarget = undefined;
    await route.child.stop();
  }
}
