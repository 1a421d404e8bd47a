import { durabilityTables, type DurabilityRow } from '../../bench/lib/durability';

const load = { at: '2026-12-04T00:00:00.000Z', loadavg1: 2, loadavg5: 2, loadavg15: 2, freeMemMiB: 1000 };
const lat = (p50: number) => ({ n: 10, p50, p95: p50 * 2, p99: p50 * 3, max: p50 * 3, mean: p50 });

describe('the cost-of-durability tables (report and bench summary)', () => {
  it('a row per system and level, then the ratios; nothing without rows', () => {
    const row: DurabilityRow = {
      concurrency: 10,
      plainRoute: {
        verifications: 30,
        ok: 30,
        throughput: 48.1,
        latencyMs: { start: lat(70), check: lat(71) },
        systemCpuMs: 10.7,
        cpuMsPerVerification: { plainRoute: 10.7, benchDriverAndEmulator: 13 },
        load,
        seconds: 1,
        errors: [],
      },
      verifyflow: {
        verifications: 30,
        ok: 29,
        throughput: 5.5,
        latencyMs: { start: lat(124), check: lat(1107) },
        systemCpuMs: 218.7,
        cpuMsPerVerification: { api: 30, worker: 101.7, temporal: 87, benchDriverAndEmulator: 17.9 },
        load,
      },
      ratios: { throughput: 0.11, startP50: 1.77, startP99: 1.94, checkP50: 15.66, checkP99: 16.05, systemCpu: 20.44 },
    };
    const lines = durabilityTables([row]);
    expect(lines).toContain(
      '| 10 | plain route | 30 (30) | 48.1 | 70 / 140 / 210 | 71 / 142 / 213 | 10.7 (plain route) | 13 | 2 |',
    );
    expect(lines).toContain(
      '| 10 | verifyflow | 30 (29) | 5.5 | 124 / 248 / 372 | 1107 / 2214 / 3321 | 218.7 (30 + 101.7 + 87) | 17.9 | 2 |',
    );
    expect(lines).toContain('| 10 | 0.11 | 1.77 | 1.94 | 15.66 | 16.05 | 20.44 |');
    expect(durabilityTables([{ ...row, verifyflow: undefined, ratios: undefined }]).join('\n')).not.toMatch(
      /verifyflow \|/,
    );
    expect(durabilityTables([])).toEqual([]);
  });
});
