import { markdownHeader, markdownRow, round } from './util';

/** What one side of a curve round measured that the ratios need (a level's result carries more). */
export interface RoundSide {
  throughput: number;
  latencyMs: Record<string, { p99: number } | undefined>;
  cpuMsPerVerification?: Record<string, number>;
  load: { loadavg1: number };
}

/** One round of a curve level: bare and verifyflow measured back to back, in either order. */
export interface CurveRound {
  /** Which side ran first (the rounds alternate, so a load drift over the level weighs on both alike). */
  first: 'bare' | 'verifyflow';
  verifyflow: RoundSide;
  bare: RoundSide;
  ratio: number;
}

/** The median of a figure over the rounds, and its range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** A level's figures over its rounds: each ratio's median and range, and how many rounds meet each target. */
export interface RoundsSummary {
  rounds: number;
  /** Throughput verifyflow / bare. */
  ratio: Spread;
  /** The worker's CPU per verification / the bare worker's. */
  workerCpu: Spread;
  /** Every measured process's CPU per verification (driver and emulator included) / bare's. */
  systemCpu: Spread;
  /** The check's p99 / the bare update's p99. */
  checkP99: Spread;
  /** Rounds with a throughput ratio of at least 0.6, and with the worker's CPU at most 2× bare's. */
  met: { ratio: number; workerCpu: number };
  load1: Spread;
}

const sum = (cpu: Record<string, number> | undefined): number => Object.values(cpu ?? {}).reduce((a, b) => a + b, 0);

/** The median (the mean of the middle two for an even count) and range of `values`, rounded to `digits`. */
export function spread(values: number[], digits = 2): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median: round(median, digits), min: round(sorted[0], digits), max: round(sorted.at(-1)!, digits) };
}

/** The figures of issue #12's table over a level's rounds (ratios taken within each round, then their median). */
export function summarizeRounds(rounds: CurveRound[]): RoundsSummary {
  const per = (f: (r: CurveRound) => number) => rounds.map(f);
  const workerCpu = per(
    (r) => (r.verifyflow.cpuMsPerVerification?.worker ?? NaN) / (r.bare.cpuMsPerVerification?.worker ?? NaN),
  );
  const ratios = per((r) => r.verifyflow.throughput / r.bare.throughput);
  return {
    rounds: rounds.length,
    ratio: spread(ratios),
    workerCpu: spread(workerCpu),
    systemCpu: spread(per((r) => sum(r.verifyflow.cpuMsPerVerification) / sum(r.bare.cpuMsPerVerification))),
    checkP99: spread(per((r) => (r.verifyflow.latencyMs.check?.p99 ?? NaN) / (r.bare.latencyMs.check?.p99 ?? NaN))),
    met: {
      ratio: ratios.filter((x) => round(x, 2) >= 0.6).length,
      workerCpu: workerCpu.filter((x) => round(x, 2) <= 2).length,
    },
    load1: spread(per((r) => r.verifyflow.load.loadavg1)),
  };
}

const cell = (s: Spread, unit = ''): string => `${s.median}${unit} (${s.min}–${s.max})`;

/**
 * The Markdown table of the curve's rounds (bench summary and report): per level with a `summary`, each ratio's median
 * and range, and in how many rounds each target was met. Nothing for a curve measured once per level.
 */
export function roundsTable(curve: { concurrency: number; summary?: RoundsSummary }[]): string[] {
  const rows = curve.filter((row) => row.summary);
  if (rows.length === 0) return [];
  return [
    '',
    markdownHeader([
      'concurrency',
      'rounds',
      'throughput ratio, median (range)',
      'rounds ≥ 0.6',
      'worker CPU / bare',
      'rounds ≤ 2×',
      'system CPU / bare',
      'check p99 / bare update p99',
      'load1',
    ]),
    ...rows.map(({ concurrency, summary: s }) =>
      markdownRow([
        concurrency,
        s!.rounds,
        cell(s!.ratio),
        `${s!.met.ratio} of ${s!.rounds}`,
        cell(s!.workerCpu, '×'),
        `${s!.met.workerCpu} of ${s!.rounds}`,
        cell(s!.systemCpu, '×'),
        cell(s!.checkP99, '×'),
        cell(s!.load1),
      ]),
    ),
  ];
}
