import { readFileSync } from 'node:fs';
import { durabilityTables } from './lib/durability';
import { roundsTable } from './lib/rounds';
import { markdownHeader as header, markdownRow as row, percentiles as p } from './lib/util';

/**
 * Prints the Markdown tables of docs/PERFORMANCE.md and docs/RELIABILITY.md from result files, so the docs quote
 * the JSON exactly: `node dist/bench/report.js bench/results/<date>.json [chaos-<date>.json] [fuzz-<date>.json]`.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function bench(r: Json): void {
  console.log(`\n### ${r.command} — ${r.startedAt} (load at start ${r.loadAtStart.loadavg1})\n`);
  if (r.curve) {
    console.log(
      header([
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
        'history events · signals · failed tasks per run',
        'load1',
      ]),
    );
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
          v.historyPerVerification
            ? `${v.historyPerVerification.events} · ${v.historyPerVerification.signals} · ${v.historyPerVerification.failedWorkflowTasks}`
            : '–',
          v.load.loadavg1,
        ]),
      );
    }
  }
  if (r.curve) for (const line of roundsTable(r.curve)) console.log(line);
  if (r.silentAuth) {
    const s = r.silentAuth;
    console.log(
      `\nsilent auth, concurrency ${s.concurrency}: ${s.throughput}/s; start ${p(s.latencyMs.start)}; check ` +
        `${p(s.latencyMs.check)}; webhook ack action_pending ${p(s.latencyMs['webhook:action_pending'])}, completed ` +
        `${p(s.latencyMs['webhook:completed'])} ms`,
    );
  }
  if (r.durability) for (const line of durabilityTables(r.durability)) console.log(line);
  if (r.tuning) {
    console.log(
      '\n' + header(['worker', '/s', 'worker CPU ms/verification', 'worker RSS MiB', 'total p50 ms', 'load1']),
    );
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
        header([
          'scenario',
          'start',
          'activity attempts',
          'timers',
          'signals',
          'updates',
          "upserts (+ patch markers', not billed)",
          'local-activity tasks, children, external signals',
          'queries (client)',
          'billed total',
          'target',
        ]),
    );
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
      // Results recorded before 2026-12-05, 18:30 UTC with a `totalAfterPatchesRetired` counted the patch markers'
      // upserts in `upserts` and `total`: exempt from billing, so that total is their billed one (results older than
      // that field print as they were recorded).
      const older = a.totalAfterPatchesRetired !== undefined;
      console.log(
        row([
          a.scenario,
          h.start,
          h.activityAttempts,
          h.timers,
          h.signals,
          h.updates,
          `${older ? h.upserts - (h.patchUpserts ?? 0) : h.upserts} (+ ${h.patchUpserts ?? 0})`,
          h.other,
          a.clientQueries ?? 0,
          older ? a.totalAfterPatchesRetired : a.total,
          a.target,
        ]),
      );
    }
  }
  if (r.scale) {
    console.log(
      '\n' +
        header([
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

function chaos(r: Json): void {
  console.log(`\n### ${r.command} — ${r.startedAt}\n`);
  console.log(
    header([
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
      header([
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
  console.log(header(['category', 'probe', 'requests', 'answers', 'signalled', 'slowest ms']));
  for (const w of r.webhooks.vonage) {
    console.log(row([w.category, w.name, w.requests, JSON.stringify(w.statuses), w.signalled, w.maxMs]));
  }
  const st = r.schemathesis;
  console.log(`\nSchemathesis: ${st.requests} requests in ${st.seconds} s, ${st.serverErrors} server errors (ST101)\n`);
  console.log(header(['check', 'operation', 'detail', 'cases']));
  for (const f of st.failures) console.log(row([f.check, `\`${f.operation}\``, f.title, f.count]));
}

for (const file of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Json;
  if (r.kind === 'verifyflow-bench') bench(r);
  else if (r.kind === 'verifyflow-chaos') chaos(r);
  else if (r.kind === 'verifyflow-fuzz') fuzz(r);
}
