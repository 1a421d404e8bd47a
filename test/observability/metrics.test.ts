import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parse as parseYaml } from 'yaml';
import { loadTelemetryConfig } from '../../src/config/telemetry-config';
import { installWorkerRuntime } from '../../src/telemetry/worker-metrics';
import type { PhoneVerificationState } from '../../workflows/contract';
import { VERIFICATION_METRICS as M } from '../../workflows/metrics';
import { freePort } from '../support/ports';
import { metricNames, parseSamples, total, type Sample } from '../support/prometheus';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * The metrics of a running system: the worker runtime's Prometheus endpoint (the Temporal SDK's metrics and the
 * verification metrics the workflows emit) and the API's /metrics, after verifications that exercise every metric —
 * a fallback, a wrong and a right code, a send and a start refused by the abuse guard, a cancellation. Then: every
 * metric the Grafana dashboard queries is exposed, and the Prometheus config scrapes the default addresses.
 */
const ROOT = join(__dirname, '..', '..');
const PRICES = { 'vonage:silent_auth': 0.25, 'vonage:sms': 0.5, 'vonage:voice': 2 };
const FALLBACK = '+15005550001'; // silent auth not supported → SMS
const number = () => uniqueNumber('+1415555');
let metricsUrl: string;
let stack: Stack;
const ids: string[] = [];
const numbers: string[] = [FALLBACK];

beforeAll(async () => {
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${metricsAddress}/metrics`;
  // The suite's default runtime (test/setup-env.ts) has no metrics exporter: this file's worker runs on one that has,
  // installed as src/worker.ts installs it.
  await Runtime.instance().shutdown();
  const env = {
    WORKER_METRICS_ADDRESS: metricsAddress,
    PROVIDER_PRICES: JSON.stringify(PRICES),
    LIMIT_SENDS_PER_DESTINATION: '1/10m',
  };
  installWorkerRuntime(loadTelemetryConfig(env), { logger: new DefaultLogger('WARN') });
  stack = await startStack(env);
});
afterAll(async () => {
  await stack?.stop();
});

const state = async (id: string) => (await stack.http().get(`/v1/verifications/${id}`)).body as PhoneVerificationState;
const start = async (body: Record<string, unknown>): Promise<string> => {
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ brand: 'Acme', ...body });
  expect(res.status).toBe(201);
  ids.push((res.body as PhoneVerificationState).id);
  return (res.body as PhoneVerificationState).id;
};
const scrapeWorker = async (): Promise<Sample[]> => parseSamples(await (await fetch(metricsUrl)).text());
const scrapeApi = async (): Promise<Sample[]> => parseSamples((await stack.anon().get('/metrics')).text);

test('verifications are counted as they start, send, fall back, check codes, are refused and end; cost by the price table', async () => {
  // 1. Silent auth fails (a fallback), then SMS: a wrong code, the right one.
  const verified = await start({ to: FALLBACK });
  await eventually(async () => (await state(verified)).channel === 'sms');
  const code = await eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to: FALLBACK });
    return (res.body as { channel: string; code: string }[]).filter((e) => e.channel === 'sms').pop()?.code;
  });
  const wrong = code === '0000' ? '1111' : '0000';
  expect((await stack.http().post(`/v1/verifications/${verified}/check`).send({ code: wrong })).status).toBe(200);
  expect((await stack.http().post(`/v1/verifications/${verified}/check`).send({ code })).body).toMatchObject({
    status: 'completed',
  });

  // 2. SMS then voice to a number allowed one send per 10 minutes: the move to voice is refused inside the workflow,
  // a second start is refused by the API; then the verification is cancelled.
  const to = number();
  numbers.push(to);
  const refused = await start({ to, channels: [{ channel: 'sms' }, { channel: 'voice' }] });
  await eventually(async () => (await state(refused)).status === 'pending' && (await state(refused)).channel === 'sms');
  expect((await stack.http().post(`/v1/verifications/${refused}/next-channel`)).status).toBe(429);
  expect((await stack.http().post('/v1/verifications/phone').send({ to, brand: 'Acme' })).status).toBe(429);
  expect((await stack.http().post(`/v1/verifications/${refused}/cancel`)).body).toMatchObject({ status: 'cancelled' });

  const labels = { kind: 'phone', client: 'sandbox' };
  const worker = await eventually(async () => {
    const samples = await scrapeWorker();
    return total(samples, `${M.cost}_count`, labels) >= 2 && samples;
  });
  // Counted from workflow code: at least once — a workflow task that ran again on a loaded machine (not a replay) may
  // count its own emissions once more (docs/OBSERVABILITY.md), never once per replay.
  const counted = (labelled: Record<string, string>, name: string, n: number) => {
    const value = total(worker, name, { ...labels, ...labelled });
    expect([name, labelled, value >= n && value <= n + 1 ? n : value]).toEqual([name, labelled, n]);
  };
  counted({}, M.started, 2);
  counted({ provider: 'vonage', channel: 'silent_auth' }, M.sends, 1);
  counted({ provider: 'vonage', channel: 'sms' }, M.sends, 2);
  expect(total(worker, M.sends, { ...labels, channel: 'voice' })).toBe(0);
  counted({ channel: 'silent_auth', provider: 'vonage', reason: 'failed' }, M.fallbacks, 1);
  counted({ channel: 'sms' }, M.checks, 2);
  counted({ channel: 'sms' }, M.failedChecks, 1);
  counted({ scope: 'destination' }, M.refusals, 1);
  counted({ status: 'completed', reason: 'verified', channel: 'sms', provider: 'vonage' }, M.ended, 1);
  counted({ status: 'cancelled', reason: 'cancelled', channel: 'sms' }, M.ended, 1);
  expect(total(worker, M.ended, { ...labels, status: 'failed' })).toBe(0);
  counted({ channel: 'sms' }, `${M.timeToVerify}_count`, 1);
  // The completed one's sends (silent_auth, sms): the mean, which a repeated record leaves as it is.
  const completed = { ...labels, status: 'completed' };
  expect(
    total(worker, `${M.sendsPerVerification}_sum`, completed) /
      total(worker, `${M.sendsPerVerification}_count`, completed),
  ).toBe(2);
  // Priced by the worker once per run.
  // silent_auth 0.25 + sms 0.5 for the verified one; sms 0.5 for the cancelled one.
  expect(total(worker, `${M.cost}_sum`, { ...labels, status: 'completed' })).toBeCloseTo(0.75);
  expect(total(worker, `${M.cost}_sum`, { ...labels, status: 'cancelled' })).toBeCloseTo(0.5);
  expect(total(await scrapeApi(), M.refusals, { scope: 'destination', client: 'sandbox' })).toBe(1);

  // Labels are the business ones (and the SDK's namespace, taskQueue, workflowType): never an ID, a number or a code.
  const ours = worker.filter((s) => s.name.startsWith('verifyflow_'));
  const allowed = new Set(['kind', 'channel', 'provider', 'reason', 'status', 'scope', 'client']);
  const sdk = new Set(['namespace', 'taskQueue', 'workflowType', 'le', 'service_name']);
  expect(
    [...new Set(ours.flatMap((s) => Object.keys(s.labels)))].filter((l) => !allowed.has(l) && !sdk.has(l)),
  ).toEqual([]);
  const values = ours.flatMap((s) =>
    Object.entries(s.labels)
      .filter(([k]) => allowed.has(k))
      .map(([, v]) => v),
  );
  expect(values.filter((v) => !/^[a-z_]{1,32}$/.test(v))).toEqual([]);
  const text = (await (await fetch(metricsUrl)).text()) + (await stack.anon().get('/metrics')).text;
  const secrets = [...ids, ...numbers.flatMap((n) => [n, n.slice(1)]), code, wrong].filter((s) => s.length >= 4);
  expect(
    secrets.filter((s) => new RegExp(`(?<![0-9A-Za-z])${s.replace('+', '\\+')}(?![0-9A-Za-z])`).test(text)),
  ).toEqual([]);

  // The Temporal SDK's worker metrics are there too.
  for (const name of [
    'temporal_worker_task_slots_available',
    'temporal_worker_task_slots_used',
    'temporal_workflow_task_schedule_to_start_latency_bucket',
    'temporal_activity_schedule_to_start_latency_bucket',
    'temporal_sticky_cache_size',
  ]) {
    expect(worker.some((s) => s.name === name)).toBe(true);
  }
});

test('every metric the Grafana dashboard queries is exposed by the running system', async () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'verifyflow.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { query?: string | { query: string } }[] };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.map((v) => (typeof v.query === 'string' ? '' : (v.query?.query ?? ''))),
  ].filter(Boolean);
  const queried = [...new Set(exprs.flatMap(metricNames))].sort();
  expect(queried.length).toBeGreaterThan(15);
  // Every verification metric is on the dashboard (a histogram through its _bucket, _sum or _count).
  const shown = (name: string) => queried.some((q) => q === name || q.startsWith(`${name}_`));
  expect(Object.values(M).filter((name) => !shown(name))).toEqual([]);
  const exposed = new Set([...(await scrapeWorker()), ...(await scrapeApi())].map((s) => s.name));
  expect(queried.filter((name) => !exposed.has(name))).toEqual([]);
});

test('the Prometheus config scrapes the API and the worker at their default addresses', () => {
  const config = parseYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };
  const targets = Object.fromEntries(
    config.scrape_configs.map((j) => [j.job_name, [j.metrics_path ?? '/metrics', ...j.static_configs[0].targets]]),
  );
  expect(targets).toEqual({
    'verifyflow-api': ['/metrics', '127.0.0.1:3000'],
    'verifyflow-worker': ['/metrics', loadTelemetryConfig({}).workerMetricsAddress],
  });
});

test('metric names are read out of PromQL and Grafana queries', () => {
  expect(
    metricNames(
      'histogram_quantile(0.95, sum by (le, kind) (rate(verifyflow_time_to_verify_seconds_bucket{kind=~"$kind"}[$__rate_interval])))',
    ),
  ).toEqual(['verifyflow_time_to_verify_seconds_bucket']);
  expect(
    metricNames('sum(increase(a_total{status="completed"}[$__range])) / on (kind) group_left() sum(b_count) * 3600'),
  ).toEqual(['a_total', 'b_count']);
  expect(metricNames('label_values(verifyflow_verifications_started_total, kind)')).toEqual([
    'verifyflow_verifications_started_total',
  ]);
});
