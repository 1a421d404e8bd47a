import { roundsTable, spread, summarizeRounds, type CurveRound } from '../../bench/lib/rounds';

const side = (throughput: number, worker: number, checkP99: number, rest: Record<string, number>, load1 = 2) => ({
  throughput,
  latencyMs: { check: { p99: checkP99 } },
  cpuMsPerVerification: { worker, ...rest },
  load: { loadavg1: load1 },
});

const roundOf = (vf: number, bare: number, vfWorker: number, bareWorker: number, load1 = 2): CurveRound => ({
  first: 'bare',
  verifyflow: side(vf, vfWorker, 120, { api: 7, temporal: 19, benchDriverAndEmulator: 6 }, load1),
  bare: side(bare, bareWorker, 100, { temporal: 18, benchDriverAndEmulator: 3 }, load1),
  ratio: Math.round((vf / bare) * 100) / 100,
});

describe('the curve measured in rounds', () => {
  it('spread: the median of an odd count is its middle value, of an even count the mean of the middle two', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([0.59, 0.66, 0.61, 0.58])).toEqual({ median: 0.6, min: 0.58, max: 0.66 });
    expect(() => spread([])).toThrow('spread of no values');
  });

  it('takes each ratio within its round, then their median, and counts the rounds that meet each target', () => {
    const s = summarizeRounds([
      roundOf(36, 60, 19, 10), // 0.6, 1.9×
      roundOf(30, 60, 21, 10), // 0.5, 2.1×
      roundOf(42, 60, 20, 10, 3), // 0.7, 2×
    ]);
    expect(s.rounds).toBe(3);
    expect(s.ratio).toEqual({ median: 0.6, min: 0.5, max: 0.7 });
    expect(s.workerCpu).toEqual({ median: 2, min: 1.9, max: 2.1 });
    expect(s.met).toEqual({ ratio: 2, workerCpu: 2 });
    expect(s.checkP99).toEqual({ median: 1.2, min: 1.2, max: 1.2 });
    // Every process: (19 · 21 · 20 + 7 + 19 + 6) / (10 + 18 + 3) = 51 · 53 · 52 / 31.
    expect(s.systemCpu).toEqual({ median: 1.68, min: 1.65, max: 1.71 });
    expect(s.load1).toEqual({ median: 2, min: 2, max: 3 });
  });

  it('prints a row per level measured in rounds, and nothing for a curve measured once', () => {
    const summary = summarizeRounds([roundOf(36, 60, 19, 10), roundOf(30, 60, 21, 10)]);
    const lines = roundsTable([{ concurrency: 1 }, { concurrency: 10, summary }]);
    expect(lines).toContain(
      '| 10 | 2 | 0.55 (0.5–0.6) | 1 of 2 | 2× (1.9–2.1) | 1 of 2 | 1.68× (1.65–1.71) | 1.2× (1.2–1.2) | 2 (2–2) |',
    );
    expect(lines.filter((l) => l.startsWith('| 1 |'))).toEqual([]);
    expect(roundsTable([{ concurrency: 1 }])).toEqual([]);
  });
});
