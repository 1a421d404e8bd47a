import { writeFileSync } from 'node:fs';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * SVG charts of a bench result (bench/results/<date>.json): throughput and p99 latency against concurrency
 * (verifyflow vs the bare workflow), the worker's peak RSS against concurrency, and the scale phase's worker RSS
 * against verifications open. The renderers take the result object and return SVG text (Vega-Lite, rendered without
 * a browser); `writeCharts` puts them beside the JSON as `<results>.<chart>.svg`.
 */

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface LevelSummary {
  ok?: number;
  throughput: number;
  latencyMs: Record<string, Percentiles | undefined>;
  workerPeakRssMiB?: number;
}

export interface CurveRow {
  concurrency: number;
  verifyflow: LevelSummary;
  bare: LevelSummary;
}

export interface ScaleRow {
  worker: string;
  cache: string;
  open: number;
  workerRssIdleMiB?: number;
  workerRssPeakMiB?: number;
  workerRssEndMiB?: number;
  /** The worker's RSS against the verifications open so far, once a second while they open (since 2026-12-04). */
  rssSamples?: { open: number; rssMiB: number }[];
  crashed?: string;
}

export interface BenchResults {
  startedAt?: string;
  curve?: CurveRow[];
  scale?: ScaleRow[];
}

export const CHARTS = ['throughput', 'latency', 'rss-concurrency', 'rss-open'] as const;
export type ChartName = (typeof CHARTS)[number];

const VERIFYFLOW = '#1f5fa8';
const BARE = '#d9792b';
const WIDTH = 520;
const HEIGHT = 300;

const runOf = (r: BenchResults) => (r.startedAt ? `run of ${r.startedAt.slice(0, 10)}` : 'bench run');

/** A level counts only if it completed verifications (a run whose bare side failed has throughput 0 and no latency). */
const measured = (l: LevelSummary) => l.ok === undefined || l.ok > 0;

type Point = { series: string; x: number; y: number };

/** The concurrency axis: log scale, a tick at each level that was run. */
function concurrencyAxis(curve: CurveRow[]) {
  return {
    field: 'x',
    type: 'quantitative' as const,
    title: 'concurrency (verifications in flight, log scale)',
    scale: { type: 'log' as const, nice: false, padding: 18 },
    axis: { values: curve.map((c) => c.concurrency), format: 'd', grid: true },
  };
}

/** The powers of ten from below the smallest to above the largest value: the ticks of a log axis. */
export function decades(values: number[]): number[] {
  const positive = values.filter((v) => v > 0);
  if (!positive.length) return [];
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  const hi = Math.ceil(Math.log10(Math.max(...positive)));
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
}

/** One line with its points per series, in the order of `series`, with a legend naming them. */
function lineSpec(opts: {
  title: string;
  subtitle: string | string[];
  points: Point[];
  x: ReturnType<typeof concurrencyAxis>;
  y: Record<string, unknown>;
  series: [name: string, color: string, dash?: number[]][];
}): TopLevelSpec {
  const names = opts.series.map(([n]) => n);
  const legend = {
    orient: 'bottom',
    columns: 2,
    columnPadding: 24,
    labelLimit: 400,
    symbolType: 'stroke',
    symbolSize: 300,
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: opts.title, subtitle: opts.subtitle, anchor: 'start' },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    padding: 12,
    data: { values: opts.points },
    mark: { type: 'line', point: { filled: true, size: 50 }, strokeWidth: 2 },
    encoding: {
      x: opts.x,
      y: { field: 'y', type: 'quantitative', ...opts.y },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: names, range: opts.series.map(([, c]) => c) },
        legend,
      },
      // The same field and legend: one legend whose symbols show both the colour and the dash.
      strokeDash: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: names, range: opts.series.map(([, , d]) => d ?? [1, 0]) },
        legend,
      },
      order: { field: 'x', type: 'quantitative' },
    },
  } as TopLevelSpec;
}

/** Verifications completed per second against concurrency, verifyflow and the bare workflow. */
export function throughputSpec(r: BenchResults): TopLevelSpec | undefined {
  const curve = r.curve ?? [];
  if (!curve.length) return undefined;
  const points: Point[] = [];
  for (const c of curve) {
    if (measured(c.verifyflow)) points.push({ series: 'verifyflow', x: c.concurrency, y: c.verifyflow.throughput });
    if (measured(c.bare)) points.push({ series: 'bare Temporal workflow', x: c.concurrency, y: c.bare.throughput });
  }
  return lineSpec({
    title: 'Throughput against concurrency',
    subtitle: [`SMS verification end to end vs a bare workflow of the same shape (${runOf(r)})`, 'higher is better'],
    points,
    x: concurrencyAxis(curve),
    y: { title: 'verifications completed per second', scale: { zero: true } },
    series: [
      ['verifyflow', VERIFYFLOW],
      ['bare Temporal workflow', BARE],
    ],
  });
}

/** p99 of the start and check calls against concurrency: verifyflow's REST calls, the bare client's start and update. */
export function latencySpec(r: BenchResults): TopLevelSpec | undefined {
  const curve = r.curve ?? [];
  if (!curve.length) return undefined;
  const points: Point[] = [];
  for (const c of curve) {
    const add = (name: string, l: LevelSummary, key: string) => {
      const p99 = l.latencyMs[key]?.p99;
      if (measured(l) && p99 !== undefined && p99 > 0) points.push({ series: name, x: c.concurrency, y: p99 });
    };
    add('verifyflow start (POST)', c.verifyflow, 'start');
    add('verifyflow check (POST)', c.verifyflow, 'check');
    add('bare start', c.bare, 'start');
    add('bare check (update)', c.bare, 'check');
  }
  const ticks = decades(points.map((p) => p.y));
  if (!ticks.length) return undefined;
  return lineSpec({
    title: 'p99 latency against concurrency',
    subtitle: [
      `start and code check: verifyflow's REST calls vs the bare workflow's client calls (${runOf(r)})`,
      'lower is better',
    ],
    points,
    x: concurrencyAxis(curve),
    y: {
      title: 'p99 latency (ms, log scale)',
      scale: { type: 'log', domain: [ticks[0], ticks[ticks.length - 1]] },
      axis: { values: ticks, format: ',d' },
    },
    series: [
      ['verifyflow start (POST)', VERIFYFLOW],
      ['verifyflow check (POST)', VERIFYFLOW, [6, 4]],
      ['bare start', BARE],
      ['bare check (update)', BARE, [6, 4]],
    ],
  });
}

/** The worker process's peak RSS while each concurrency level ran, verifyflow's worker and the bare worker. */
export function rssConcurrencySpec(r: BenchResults): TopLevelSpec | undefined {
  const curve = r.curve ?? [];
  const points: Point[] = [];
  for (const c of curve) {
    const v = c.verifyflow.workerPeakRssMiB;
    const b = c.bare.workerPeakRssMiB;
    if (v !== undefined) points.push({ series: 'verifyflow worker', x: c.concurrency, y: v });
    if (b !== undefined) points.push({ series: 'bare worker', x: c.concurrency, y: b });
  }
  if (!points.length) return undefined;
  return lineSpec({
    title: 'Worker memory against concurrency',
    subtitle: `peak RSS of the worker process while each level ran, sampled every 250 ms (${runOf(r)})`,
    points,
    x: concurrencyAxis(curve),
    y: { title: 'worker peak RSS (MiB)', scale: { zero: true } },
    series: [
      ['verifyflow worker', VERIFYFLOW],
      ['bare worker', BARE],
    ],
  });
}

const PALETTE = ['#1f5fa8', '#d9792b', '#3a923a', '#b8283a', '#7b5ea7', '#8c564b'];

/** A scale row's legend name: its worker and cache settings as the bench's --cache option names them. */
export function scaleRowName(s: ScaleRow): string {
  return `worker ${s.worker}, cache ${s.cache}${s.crashed ? ` (worker exited at ${s.open.toLocaleString('en-US')} open)` : ''}`;
}

/**
 * The scale phase: worker RSS against verifications open, one line per scale row. A row with RSS samples (recorded
 * once a second while the verifications open) is drawn solid from idle (0 open) through them; an older row has only
 * its idle and peak RSS: a dashed line joins the two. The end (all open, waiting on timers) is the hollow point.
 */
export function rssOpenSpec(r: BenchResults): TopLevelSpec | undefined {
  const rows = (r.scale ?? []).filter((s) => s.workerRssIdleMiB !== undefined && s.workerRssPeakMiB !== undefined);
  if (!rows.length) return undefined;
  const names = rows.map(scaleRowName);
  const sampled = (s: ScaleRow) => (s.rssSamples?.length ?? 0) >= 2;
  const solid: Point[] = [];
  const dashed: Point[] = [];
  rows.forEach((s, i) => {
    const into = sampled(s) ? solid : dashed;
    into.push({ series: names[i], x: 0, y: s.workerRssIdleMiB! });
    if (sampled(s)) for (const p of s.rssSamples!) into.push({ series: names[i], x: p.open, y: p.rssMiB });
    else into.push({ series: names[i], x: s.open, y: s.workerRssPeakMiB! });
  });
  const ends = rows.flatMap((s, i) =>
    s.workerRssEndMiB === undefined ? [] : [{ series: names[i], x: s.open, y: s.workerRssEndMiB }],
  );
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    scale: { domain: names, range: names.map((_, i) => PALETTE[i % PALETTE.length]) },
    legend: { orient: 'bottom' as const, direction: 'vertical' as const, labelLimit: 500 },
  };
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: 'verifications open on the worker',
    axis: { format: ',d' },
  };
  const y = { field: 'y', type: 'quantitative' as const, title: 'worker RSS (MiB)', scale: { zero: true } };
  // Points in the order they were taken (the open count can stand still while RSS moves).
  const line = (values: Point[], extra: Record<string, unknown>) => ({
    data: { values: values.map((p, i) => ({ ...p, i })) },
    mark: { type: 'line', strokeWidth: 2, ...extra },
    encoding: { x, y, color, order: { field: 'i', type: 'quantitative' } },
  });
  const subtitle = [
    rows.some(sampled)
      ? `RSS sampled once a second while they open (solid), the end with all open (hollow) (${runOf(r)})`
      : `RSS idle (0 open), at its peak while they open and at the end with all open (hollow) (${runOf(r)})`,
    ...(rows.some((s) => !sampled(s))
      ? ['a dashed line joins idle and peak where only those were recorded (the path between is not sampled)']
      : []),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Worker memory against verifications open', subtitle, anchor: 'start' },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    padding: 12,
    layer: [
      ...(solid.length ? [line(solid, {})] : []),
      ...(dashed.length ? [line(dashed, { point: { filled: true, size: 50 }, strokeDash: [6, 4] })] : []),
      {
        data: { values: ends },
        mark: { type: 'point', filled: false, size: 90, strokeWidth: 2 },
        encoding: { x, y, color },
      },
    ],
  } as TopLevelSpec;
}

const SPECS: Record<ChartName, (r: BenchResults) => TopLevelSpec | undefined> = {
  throughput: throughputSpec,
  latency: latencySpec,
  'rss-concurrency': rssConcurrencySpec,
  'rss-open': rssOpenSpec,
};

/** Renders a Vega-Lite spec to SVG text (no browser, no canvas: Vega's headless renderer). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parseVega(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const chart = (name: ChartName) => async (r: BenchResults) => {
  const spec = SPECS[name](r);
  return spec && renderSvg(spec);
};

export const throughputChart = chart('throughput');
export const latencyChart = chart('latency');
export const rssConcurrencyChart = chart('rss-concurrency');
export const rssOpenChart = chart('rss-open');

/** Every chart the result has data for, by name. */
export async function renderCharts(r: BenchResults): Promise<Partial<Record<ChartName, string>>> {
  const out: Partial<Record<ChartName, string>> = {};
  for (const name of CHARTS) {
    const svg = await chart(name)(r);
    if (svg) out[name] = svg;
  }
  return out;
}

/**
 * Writes `<results>.<chart>.svg` beside `jsonPath` for each chart the result has data for (a bench result as
 * bench/bench.ts builds it); the files written.
 */
export async function writeCharts(jsonPath: string, r: BenchResults | Record<string, unknown>): Promise<string[]> {
  const base = jsonPath.replace(/\.json$/, '');
  const written: string[] = [];
  for (const [name, svg] of Object.entries(await renderCharts(r as BenchResults))) {
    const file = `${base}.${name}.svg`;
    writeFileSync(file, svg.endsWith('\n') ? svg : `${svg}\n`);
    written.push(file);
  }
  return written;
}
