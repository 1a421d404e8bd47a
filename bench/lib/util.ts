import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';

export { freePort } from '../../src/common/free-port';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Machine load right now: the machine is shared, so every figure is recorded with the load it was measured under. */
export interface Load {
  at: string;
  loadavg1: number;
  loadavg5: number;
  loadavg15: number;
  freeMemMiB: number;
}

export function load(): Load {
  const [l1, l5, l15] = loadavg();
  return {
    at: new Date().toISOString(),
    loadavg1: round(l1, 2),
    loadavg5: round(l5, 2),
    loadavg15: round(l15, 2),
    freeMemMiB: Math.round(freemem() / 2 ** 20),
  };
}

/** What the figures were measured on. */
export function machine(): Record<string, unknown> {
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim().length > 0;
  } catch {
    // not a git checkout
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    commit,
    dirty,
  };
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Latency summary in ms (nearest-rank percentiles). */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of ascending-sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** `p50 / p95 / p99` of a summary, `–` when there is none: the latency cells of the bench's Markdown tables. */
export const percentiles = (s?: Pick<Summary, 'p50' | 'p95' | 'p99'>): string =>
  s ? `${s.p50} / ${s.p95} / ${s.p99}` : '–';

/** A Markdown table row; a missing cell is `–`. */
export const markdownRow = (cells: unknown[]): string =>
  `| ${cells.map((c) => (c === undefined ? '–' : String(c))).join(' | ')} |`;

/** A Markdown table's header: its row of column names and the `---` row under it, one cell per name. */
export const markdownHeader = (names: string[]): string =>
  `${markdownRow(names)}\n${markdownRow(names.map(() => '---'))}`;

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(mean),
  };
}

/** Runs `task(i)` for i in [0, total) with at most `concurrency` in flight. */
export async function pool(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) await task(next++);
  });
  await Promise.all(lanes);
}

/** Writes JSON formatted as the repo's Prettier would, so committed results pass `prettier --check`. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(JSON.stringify(value), { ...options, parser: 'json' }));
}

/** `--name value` / `--flag` command-line options. */
export function args(argv: string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const [key, inline] = a.slice(2).split('=', 2);
    if (inline !== undefined) out.set(key, inline);
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out.set(key, argv[++i]);
    else out.set(key, 'true');
  }
  return out;
}

/** A distinct valid US number per index (+1 212 2xx xxxx), so concurrent requests never share a destination. */
export const phoneNumber = (index: number): string =>
  `+1212${String(2_000_000 + (index % 7_000_000)).padStart(7, '0')}`;
