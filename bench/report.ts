import { readFileSync } from 'node:fs';

/**
 * Prints the Markdown tables of docs/PERFORMANCE.md and docs/RELIABILITY.md from result files, so the docs quote
 * the JSON exactly: `node dist/bench/report.js bench/results/<date>.json [chaos-<date>.json] [fuzz-<date>.json]`.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const p = (s?: { p50: number; p95: number; p99: number }) => (s ? `${s.p50} / ${s.p95} / ${s.p99}` : '–');
const row = (cells: unknown[]) => `| ${cells.map((c) => (c === undefined ? '–' : String(c))).join(' | ')} |`;

function bench(r: Json): void {
  console.log(`\n### ${r.command} — ${r.startedAt} (load at start ${r.loadAtStart.loadavg1})\n`);
  if (r.curve) {
    console.log(
      row([
        'concurrency',
        'verifications (ok)',
        'verifyflow /s',
        'bare /s',
        'ratio',
        'start p50/p95/p99 ms',
        'check p50/p95/p99 ms',
        'webhook ack p50/p95/p99 ms',
        'bare start / signal / check p50 ms',
        'worker RSS MiB (bare)',
        'CPU ms/verification worker · API · Temporal (bare worker · Temporal)',
        'load1',
      ]),
    );
    console.log(row(Array(12).fill('---')));
    for (const c of r.curve) {
      const v = c.verifyflow;
      const b = c.bare;
      console.log(
        row([
          c.concurrency,
          `${v.verifications} (${v.ok})`,
          v.throughput,
          b.throughput,
          c.ratio,
          p(v.latencyMs.start),
          p(v.latencyMs.check),
          p(v.latencyMs['webhook:completed']),
          `${b.latencyMs.start?.p50} / ${b.latencyMs.signal?.p50} / ${b.latencyMs.check?.p50}`,
          `${v.workerPeakRssMiB} (${b.workerPeakRssMiB})`,
          `${v.cpuMsPerVerification?.worker} · ${v.cpuMsPerVerification?.api} · ${v.cpuMsPerVerification?.temporal} ` +
            `(${b.cpuMsPerVerification?.worker} · ${b.cpuMsPerVerification?.temporal})`,
          v.load.loadavg1,
        ]),
      );
    }
  }
  if (r.silentAuth) {
    const s = r.silentAuth;
    console.log(
      `\nsilent auth, concurrency ${s.concurrency}: ${s.throughput}/s; start ${p(s.latencyMs.start)}; check ` +
        `${p(s.latencyMs.check)}; webhook ack action_pending ${p(s.latencyMs['webhook:action_pending'])}, completed ` +
        `${p(s.latencyMs['webhook:completed'])} ms`,
    );
  }
  if (r.durability) durability(r.durability);
  if (r.tuning) {
    console.log('\n' + row(['worker', '/s', 'worker CPU ms/verification', 'worker RSS MiB', 'total p50 ms', 'load1']));
    console.log(row(Array(6).fill('---')));
    for (const t of r.tuning) {
      console.log(
        row([
          t.worker,
          t.throughput,
          t.cpuMsPerVerification?.worker,
          t.workerPeakRssMiB,
          t.latencyMs.total?.p50,
          t.load.loadavg1,
        ]),
      );
    }
  }
  if (r.actions) {
    console.log(
      '\n' +
        row([
          'scenario',
          'start',
          'activity attempts',
          'timers',
          'signals',
          'updates',
          'upserts (of them patch markers)',
          'queries (client)',
          'total',
          'without patch upserts',
          'target',
        ]),
    );
    console.log(row(Array(11).fill('---')));
    for (const a of r.actions) {
      if (a.pending || a.error) {
        console.log(
          row([
            a.scenario,
            a.pending ? `pending: ${a.pending}` : `error: ${a.error}`,
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
          ]),
        );
        continue;
      }
      const h = a.history;
      console.log(
        row([
          a.scenario,
          h.start,
          h.activityAttempts,
          h.timers,
          h.signals,
          h.updates,
          `${h.upserts} (${h.patchUpserts ?? 0})`,
          a.clientQueries ?? 0,
          a.total,
          a.totalAfterPatchesRetired ?? a.total,
          a.target,
        ]),
      );
    }
  }
  if (r.scale) {
    console.log(
      '\n' +
        row([
          'worker',
          'WORKER_MAX_CACHED_WORKFLOWS',
          'open',
          'starts/s',
          'RSS idle MiB',
          'RSS peak MiB',
          'RSS end MiB',
          'load1',
        ]),
    );
    console.log(row(Array(8).fill('---')));
    for (const s of r.scale) {
      console.log(
        row([
          s.worker,
          s.cache,
          s.open,
          s.startsPerSecond,
          s.workerRssIdleMiB,
          s.workerRssPeakMiB,
          s.workerRssEndMiB,
          s.load.loadavg1,
        ]),
      );
    }
  }
}

/** The cost of durability: the plain-route baseline and verifyflow at each level, then verifyflow / plain route. */
function durability(rows: Json[]): void {
  const cpu = (side: Json, name: string) =>
    name === 'plain route'
      ? `${side.systemCpuMs} (plain route)`
      : `${side.systemCpuMs} (${['api', 'worker', 'temporal'].map((k) => side.cpuMsPerVerification?.[k]).join(' + ')})`;
  console.log(
    '\n' +
      row([
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
  );
  console.log(row(Array(9).fill('---')));
  for (const d of rows) {
    const sides: [string, Json][] = [['plain route', d.plainRoute]];
    if (d.verifyflow) sides.push(['verifyflow', d.verifyflow]);
    for (const [name, s] of sides) {
      console.log(
        row([
          d.concurrency,
          name,
          `${s.verifications} (${s.ok})`,
          s.throughput,
          p(s.latencyMs.start),
          p(s.latencyMs.check),
          cpu(s, name),
          s.cpuMsPerVerification?.benchDriverAndEmulator,
          s.load.loadavg1,
        ]),
      );
    }
  }
  const withRatios = rows.filter((d) => d.ratios);
  if (!withRatios.length) return;
  console.log(
    '\n' +
      row([
        'concurrency',
        'verifyflow / plain route: throughput',
        'start p50',
        'start p99',
        'check p50',
        'check p99',
        'system CPU per verification',
      ]),
  );
  console.log(row(Array(7).fill('---')));
  for (const d of withRatios) {
    const q = d.ratios;
    console.log(row([d.concurrency, q.throughput, q.startP50, q.startP99, q.checkP50, q.checkP99, q.systemCpu]));
  }
}

function chaos(r: Json): void {
  console.log(`\n### ${r.command} — ${r.startedAt}\n`);
  console.log(
    row([
      'scenario',
      'verifications',
      'as expected',
      'lost',
      'duplicated',
      'stuck',
      'wrong',
      'callbacks delivered / 503 / refused / dropped',
      'slowest ack ms',
      's',
    ]),
  );
  console.log(row(Array(10).fill('---')));
  for (const s of r.scenarios) {
    const c = s.callbacks;
    console.log(
      row([
        s.name,
        s.verifications,
        s.completedAsExpected,
        s.lost,
        s.duplicated,
        s.stuck,
        s.wrong,
        `${c.delivered} / ${c.answered503} / ${c.refused} / ${c.dropped}`,
        c.slowestAckMs,
        s.seconds,
      ]),
    );
  }
  if (r.events?.length) {
    console.log('');
    console.log(
      row([
        'events scenario',
        'verifications',
        'events',
        'delivered',
        'lost',
        'duplicated',
        'bad signatures',
        'receiver answers',
        'tries median / max',
        'drained s',
        's',
      ]),
    );
    console.log(row(Array(11).fill('---')));
    for (const e of r.events) {
      console.log(
        row([
          e.name,
          e.verifications,
          e.events,
          e.delivered,
          e.lost,
          e.duplicated,
          e.badSignatures,
          Object.entries(e.answers as Record<string, number>)
            .map(([k, v]) => `${k} × ${v}`)
            .join(', '),
          `${e.attempts.median} / ${e.attempts.max}`,
          e.secondsToDrain,
          e.seconds,
        ]),
      );
    }
  }
}

function fuzz(r: Json): void {
  console.log(`\n### ${r.command} — ${r.startedAt}\n`);
  console.log(row(['category', 'probe', 'requests', 'answers', 'signalled', 'slowest ms']));
  console.log(row(Array(6).fill('---')));
  for (const w of r.webhooks.vonage) {
    console.log(row([w.category, w.name, w.requests, JSON.stringify(w.statuses), w.signalled, w.maxMs]));
  }
  const st = r.schemathesis;
  console.log(`\nSchemathesis: ${st.requests} requests in ${st.seconds} s, ${st.serverErrors} server errors (ST101)\n`);
  console.log(row(['check', 'operation', 'detail', 'cases']));
  console.log(row(Array(4).fill('---')));
  for (const f of st.failures) console.log(row([f.check, `\`${f.operation}\``, f.title, f.count]));
}

for (const file of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Json;
  if (r.kind === 'verifyflow-bench') bench(r);
  else if (r.kind === 'verifyflow-chaos') chaos(r);
  else if (r.kind === 'verifyflow-fuzz') fuzz(r);
}
