import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, System } from './lib/system';
import { args, load, machine, writeJson } from './lib/util';
import { fuzzStripeWebhook, fuzzTwilioWebhook, fuzzVonageWebhook, type ProbeResult } from './lib/webhook-fuzz';

/**
 * Bad input against the real system: Schemathesis (PyPI, `schemathesis` v4 CLI) generates requests from the app's own
 * OpenAPI (`/docs/openapi.json`) and checks every answer (no 5xx, documented status codes, content types and response
 * schemas); then forged, replayed, stale, malformed and oversized provider webhooks, counting what reached a live
 * workflow's history. Writes bench/results/fuzz-<date>.json.
 *
 * Options: --quick (CI budget: a fixed number of examples and --max-time) · --max-examples N (per operation) ·
 * --max-time S · --replays N · --fail-on LIST (see `failOn`) · --schemathesis PATH (default `schemathesis` on PATH) ·
 * --out FILE.
 */

const opt = args();
const quick = opt.has('quick');
const maxExamples = Number(opt.get('max-examples') ?? (quick ? 25 : 700));
const maxTime = Number(opt.get('max-time') ?? (quick ? 60 : 1500));
/**
 * What makes the run fail: `server-errors` (an answer ≥ 500), `undocumented` (a status the OpenAPI does not list),
 * `schema` (other Schemathesis conformance failures), and by webhook probe category whether anything it sent reached
 * a workflow (`forged`, `stale`, `malformed`, `oversized`, `replayed`).
 */
const failOn = new Set(
  (opt.get('fail-on') ?? 'server-errors,undocumented,schema,forged,stale,malformed,oversized,replayed').split(','),
);
const replays = Number(opt.get('replays') ?? (quick ? 10 : 100));
const runDir = join(REPO, 'bench', 'tmp', `fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}`);

/** The checks that make "0 responses ≥ 500 and 0 schema violations". */
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
];

interface SchemathesisSummary {
  exitCode: number;
  seconds: number;
  /** Test cases Schemathesis generated and sent (one request each), from its summary. */
  requests: number;
  /** Distinct server-error findings (ST101: an answer ≥ 500). */
  serverErrors: number;
  failures: { check: string; operation: string; title: string; count: number }[];
  tail: string;
}

function run(cmd: string, argv: string[], logFile: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', (err) => resolve({ code: -1, output: `${output}\n${err.message}` }));
    child.once('exit', (code) => {
      writeFileSync(logFile, output);
      resolve({ code: code ?? -1, output });
    });
  });
}

/**
 * Reads Schemathesis' NDJSON report: each failed check (ST101 server error, ST103 undocumented status, …) by
 * operation, with the first line of its message (e.g. `Received: 503`), deduplicated.
 */
function readNdjson(file: string): Pick<SchemathesisSummary, 'serverErrors' | 'failures'> {
  const failures = new Map<string, SchemathesisSummary['failures'][number]>();
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes('"ScenarioFinished"')) continue;
      const recorder = (JSON.parse(line) as { ScenarioFinished: { recorder?: { checks?: Record<string, unknown[]> } } })
        .ScenarioFinished.recorder;
      for (const checks of Object.values(recorder?.checks ?? {})) {
        for (const c of checks as {
          name: string;
          status: string;
          failure_info?: { failure?: Record<string, string> };
        }[]) {
          const f = c.failure_info?.failure;
          if (c.status !== 'failure' || !f) continue;
          const detail = (f.message ?? '').split('\n')[0];
          const key = `${f.code}|${f.operation}|${detail}`;
          const entry = failures.get(key) ?? {
            check: `${f.code} ${f.title}`,
            operation: f.operation,
            title: detail,
            count: 0,
          };
          entry.count++;
          failures.set(key, entry);
        }
      }
    }
  }
  const list = [...failures.values()].sort((a, b) => a.operation.localeCompare(b.operation));
  return { serverErrors: list.filter((f) => f.check.startsWith('ST101')).length, failures: list };
}

async function schemathesis(sys: System): Promise<SchemathesisSummary> {
  const reportDir = join(runDir, 'schemathesis');
  mkdirSync(reportDir, { recursive: true });
  const started = Date.now();
  const { code, output } = await run(
    opt.get('schemathesis') ?? 'schemathesis',
    [
      'run',
      `${sys.apiUrl}/docs/openapi.json`,
      // As an API client: the generated requests reach the routes' own validation, not just the 401 of the guard.
      '--header',
      `Authorization: Bearer ${sys.apiKey}`,
      '--checks',
      CHECKS.join(','),
      '--max-examples',
      String(maxExamples),
      '--max-time',
      String(maxTime),
      '--workers',
      '4',
      '--seed',
      opt.get('seed') ?? '7',
      '--suppress-health-check',
      'all',
      '--continue-on-failure',
      '--request-timeout',
      '30',
      '--report',
      'ndjson',
      '--report-dir',
      reportDir,
      '--no-color',
    ],
    join(runDir, 'schemathesis.log'),
  );
  const ndjson = readdirSync(reportDir).find((f) => f.endsWith('.ndjson'));
  return {
    exitCode: code,
    seconds: Math.round((Date.now() - started) / 1000),
    requests: Number(/(\d+) generated/.exec(output)?.[1] ?? 0),
    ...readNdjson(ndjson ? join(reportDir, ndjson) : ''),
    tail: output.split('\n').slice(-40).join('\n'),
  };
}

async function main(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const out = opt.get('out') ?? join(REPO, 'bench', 'results', `fuzz-${date}${quick ? '-quick' : ''}.json`);
  const results: Record<string, unknown> = {
    kind: 'verifyflow-fuzz',
    startedAt: new Date().toISOString(),
    command: `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    options: { quick, maxExamples, maxTime, replays, checks: CHECKS },
    loadAtStart: load(),
  };
  const sys = await System.start({ runDir, sandbox: true });
  let failed = false;
  try {
    const byProvider: Record<string, ProbeResult[]> = {
      vonage: await fuzzVonageWebhook(sys, replays),
      stripe: await fuzzStripeWebhook(sys, replays),
      twilio: await fuzzTwilioWebhook(sys, replays),
    };
    results.webhooks = byProvider;
    const webhooks = Object.entries(byProvider).flatMap(([provider, probes]) =>
      probes.map((w) => ({ ...w, name: `${provider}: ${w.name}` })),
    );
    for (const w of webhooks) {
      console.log(
        `webhook ${w.category.padEnd(9)} ${w.name}: ${JSON.stringify(w.statuses)} signalled ${w.signalled} (${w.maxMs} ms)`,
      );
    }
    const st = await schemathesis(sys);
    results.schemathesis = st;
    for (const f of st.failures) console.log(`  ${f.check} · ${f.operation} · ${f.title} (×${f.count})`);
    console.log(
      `schemathesis: ${st.requests} requests in ${st.seconds} s, ${st.serverErrors} distinct server errors, ` +
        `${st.failures.length} distinct failures, exit ${st.exitCode}`,
    );
    const reasons: string[] = [];
    if (failOn.has('server-errors') && st.serverErrors > 0) reasons.push(`${st.serverErrors} server error(s)`);
    const undocumented = st.failures.filter((f) => f.check.startsWith('ST103')).length;
    if (failOn.has('undocumented') && undocumented > 0) reasons.push(`${undocumented} undocumented status code(s)`);
    const schema = st.failures.filter((f) => !f.check.startsWith('ST101') && !f.check.startsWith('ST103')).length;
    if (failOn.has('schema') && schema > 0) reasons.push(`${schema} other conformance failure(s)`);
    for (const w of webhooks) {
      const serverErrors = Object.entries(w.statuses).filter(([status]) => Number(status) >= 500);
      if (failOn.has('server-errors') && serverErrors.length) {
        reasons.push(`webhook ${w.category} "${w.name}" answered ${serverErrors.map(([s]) => s).join(', ')}`);
      }
      // Replays: the control delivery signalled once; every replay that signalled again is counted.
      if (w.category !== 'legit' && failOn.has(w.category) && w.signalled > 0) {
        reasons.push(`webhook ${w.category} "${w.name}" signalled ${w.signalled}×`);
      }
      if (w.category === 'oversized' && failOn.has('oversized') && w.rejected < w.requests) {
        reasons.push(`webhook oversized "${w.name}" not rejected`);
      }
    }
    results.failures = reasons;
    for (const r of reasons) console.log(`fuzz failure: ${r}`);
    failed = reasons.length > 0;
  } finally {
    await sys.stop();
  }
  results.loadAtEnd = load();
  results.finishedAt = new Date().toISOString();
  await writeJson(out, results);
  console.log(`\nwrote ${out}`);
  // The report is the product; a 5xx or a forged webhook that signalled is a failure CI must see.
  process.exitCode = failed ? 1 : 0;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
