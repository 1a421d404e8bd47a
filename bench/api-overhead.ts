import { join } from 'node:path';
import { spawnNode } from './lib/children';
import {
  codecCost,
  codecPerVerification,
  compareTargets,
  pipelineStepCost,
  targets,
  type CodecCostRow,
  type CodecPerVerification,
  type TargetRow,
} from './lib/api-overhead';
import { DIST, REPO, System } from './lib/system';
import { args, freePort, load, machine, phoneNumber, round, writeJson } from './lib/util';

/**
 * `npm run bench:api`: what the API costs around a start, and what the payload codec costs.
 * 1. The API's `POST /v1/verifications/phone` (NestJS) against the same start on a bare node:http server
 *    (bench/api-plain-child.ts, three routes that leave out more and more: see PLAIN_ROUTES), both child processes of
 *    one system with its worker running, alternating batches of SMS starts; CPU ms per request of the serving process
 *    (/proc) and latency, at each concurrency.
 * 2. The AES-256-GCM payload codec: CPU µs per payload (encode, decode) of realistic payloads in this process, and
 *    of the body validation and client settings; then payloads and codec time per SMS verification in the API and
 *    the worker (both started with bench/codec-count-preload), against their CPU over the same verifications — first,
 *    while the worker has nothing else to do.
 * Writes bench/results/<date>-api-overhead.json (--out FILE) and prints Markdown tables.
 *
 * Options: --rounds 3 · --per-batch 40 · --concurrency 1,10 · --iterations 20000 (codec calls per payload and way) ·
 * --verifications 10 (SMS happy paths counted).
 */
const opt = args();
const rounds = Number(opt.get('rounds') ?? 3);
const perBatch = Number(opt.get('per-batch') ?? 40);
const levels = (opt.get('concurrency') ?? '1,10').split(',').map(Number);
const iterations = Number(opt.get('iterations') ?? 20_000);
const verifications = Number(opt.get('verifications') ?? 10);
const runDir = join(REPO, 'bench', 'tmp', `api-overhead-${new Date().toISOString().replace(/[:.]/g, '-')}`);
let numbers = Math.floor(Math.random() * 1_000_000);
const number = () => phoneNumber(numbers++);

async function main(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const out = opt.get('out') ?? join(REPO, 'bench', 'results', `${date}-api-overhead.json`);
  const results: Record<string, unknown> = {
    kind: 'verifyflow-bench-api-overhead',
    startedAt: new Date().toISOString(),
    command: `npm run bench:api -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    options: { rounds, perBatch, levels, iterations, verifications },
    loadAtStart: load(),
  };
  console.log(`api-overhead run dir ${runDir}`);

  // The codec alone first, before the system loads the machine (CPU time, so load matters less than for latency).
  const codec = await codecCost(iterations);
  results.codecPerPayload = codec;
  console.log('codec per payload', JSON.stringify(codec));
  results.pipelineStepUs = pipelineStepCost(iterations);
  console.log('steps per request, µs', JSON.stringify(results.pipelineStepUs));

  const preload = ['--require', join(DIST, 'bench', 'codec-count-preload.js')];
  const sys = await System.start({ runDir, apiExecArgv: preload, workerExecArgv: preload });
  const port = await freePort();
  const plain = await spawnNode({
    name: 'plain',
    script: join(DIST, 'bench', 'api-plain-child.js'),
    env: sys.env({ PORT: String(port) }),
    logFile: join(runDir, 'plain.log'),
    ready: (o) => o.includes('plain route on'),
  });
  try {
    // Codec counts first, on a quiet worker: later, the worker still works through the comparison's starts.
    await codecPerVerification(sys, 2, number); // warm-up: the check path's first calls
    results.codecPerVerification = await codecPerVerification(sys, verifications, number);
    const all = targets(sys, plain, `http://127.0.0.1:${port}`);
    await compareTargets(all, { rounds: 1, perBatch: 20, concurrency: 2, number }); // warm-up
    const overhead = [];
    for (const concurrency of levels) {
      const rows = await compareTargets(all, { rounds, perBatch, concurrency, number });
      overhead.push({ concurrency, rows, load: load() });
      results.overhead = overhead;
      await writeJson(out, results);
      console.log(`c=${concurrency}: ${rows.map((r) => `${r.name} ${r.cpuMsPerRequest} ms`).join(', ')}`);
    }
  } finally {
    await plain.stop();
    await sys.stop();
  }
  results.loadAtEnd = load();
  results.finishedAt = new Date().toISOString();
  await writeJson(out, results);
  console.log(`\nwrote ${out}\n`);
  printSummary(results);
}

function printSummary(r: Record<string, unknown>): void {
  for (const level of (r.overhead ?? []) as { concurrency: number; rows: TargetRow[]; load: { loadavg1: number } }[]) {
    const nest = level.rows.find((x) => x.name === 'nest')!;
    console.log(`\nconcurrency ${level.concurrency} (load1 ${level.load.loadavg1})`);
    console.log('| route | process | ok / requests | CPU ms per request (by round) | × of nest | p50 / p95 / p99 ms |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const row of level.rows) {
      const l = row.latencyMs;
      console.log(
        `| ${row.name} | ${row.process} | ${row.ok} / ${row.requests} | ${row.cpuMsPerRequest} (${row.cpuMsPerRequestByRound.join(', ')}) | ` +
          `${round(row.cpuMsPerRequest / Math.max(0.01, nest.cpuMsPerRequest), 2)} | ${l.p50} / ${l.p95} / ${l.p99} |`,
      );
    }
  }
  console.log('\n| payload | bytes | encrypted bytes | encode µs | decode µs | encode + decode µs |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const c of (r.codecPerPayload ?? []) as CodecCostRow[]) {
    console.log(`| ${c.payload} | ${c.bytes} | ${c.encryptedBytes} | ${c.encodeUs} | ${c.decodeUs} | ${c.totalUs} |`);
  }
  const per = r.codecPerVerification as { runs: number; rows: CodecPerVerification[] } | undefined;
  if (per) {
    console.log(`\nper SMS verification (${per.runs} runs)`);
    console.log('| process | payloads encoded | decoded | mean bytes enc / dec | codec ms | process CPU ms | share |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const p of per.rows) {
      console.log(
        `| ${p.process} | ${p.encodedPayloads} | ${p.decodedPayloads} | ${p.encodedBytesMean} / ${p.decodedBytesMean} | ` +
          `${p.codecMs} | ${p.processCpuMs} | ${p.codecSharePercent} % |`,
      );
      console.log(`  ${p.process} encodes by encoding: ${JSON.stringify(p.encodedByEncoding)}`);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
