import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { sign } from 'jsonwebtoken';
import { SANDBOX_CLIENT_KEY } from '../../src/config/auth-config';
import { loadTelemetryConfig } from '../../src/config/telemetry-config';
import { safePath } from '../../src/telemetry/http-client';
import { startTracing, tracingFromConfig, type Tracing } from '../../src/telemetry/tracing';
import { randomUUID } from 'node:crypto';
import type { PhoneVerificationState, PushEnrollmentState, PushVerificationState } from '../../workflows/contract';
import { PushDevice } from '../support/push-device';
import { eventually, startStack, TEST_CODEC_KEYS, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * One trace per request, through Temporal: `POST /v1/verifications/phone` → the workflow → each activity → the
 * provider's HTTP call; a provider webhook → the signal it sends → the workflow's signal handler; a code check → the
 * update → its activity → the provider. Recorded with an in-memory exporter on the whole system (sandbox providers).
 * No span carries a phone number, a code, an API key or a client secret, in any attribute, event or status.
 */
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let stack: Stack;
beforeAll(async () => {
  tracing = startTracing({ serviceName: 'verifyflow-test', spanProcessor: new SimpleSpanProcessor(exporter) });
  stack = await startStack({}, undefined, { tracing });
});
afterAll(async () => {
  await stack?.stop();
  await tracing?.shutdown();
});

const spans = () => exporter.getFinishedSpans();
const named = (name: string) => spans().filter((s) => s.name === name);
const childrenOf = (parent: ReadableSpan, name?: string) =>
  spans()
    .filter(
      (s) => s.parentSpanId === parent.spanContext().spanId && s.spanContext().traceId === parent.spanContext().traceId,
    )
    .filter((s) => name === undefined || s.name === name);
/** The only child of `parent` named `name` (fails naming what there is instead). */
const child = (parent: ReadableSpan, name: string): ReadableSpan => {
  const found = childrenOf(parent, name);
  if (found.length !== 1) {
    throw new Error(`${parent.name} has ${found.length} "${name}"; children: ${childrenOf(parent).map((s) => s.name)}`);
  }
  return found[0];
};
/**
 * The child of `parent` named `name` that leads on to `next` (fails naming what there is instead). A workflow task that
 * ran again without being a replay — its completion raced a new event on a loaded machine — runs a handler again, in a
 * span of its own; only one of them reaches its activity.
 */
const childLeadingTo = (parent: ReadableSpan, name: string, next: string): ReadableSpan => {
  const found = childrenOf(parent, name).filter((c) => childrenOf(c, next).length > 0);
  if (found.length === 0) {
    throw new Error(
      `${parent.name} has no "${name}" leading to "${next}"; children: ${childrenOf(parent).map((s) => s.name)}`,
    );
  }
  return found[0];
};
/** The spans under `root`, as an indented outline (for the failure message and the README). */
const outline = (root: ReadableSpan, depth = 0): string[] => [
  `${'  '.repeat(depth)}${root.name}`,
  ...childrenOf(root)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
    .flatMap((c) => outline(c, depth + 1)),
];

const to = '+15005550001'; // silent auth not supported: a `failed` callback (webhook), then SMS
const REJECTED = '+15005550003'; // the provider rejects the number (422)
const SMS_TO = `+1 415 555 ${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`; // as Auth0 may format it
const PUSH_FALLBACK = uniqueNumber('+1415555');
const secrets: string[] = [];

test('POST /v1/verifications/phone → workflow → activity → provider HTTP call is one trace; a webhook traces to its signal; a check to its update and activity', async () => {
  const started = await stack.http().post('/v1/verifications/phone').send({ to, brand: 'Acme' });
  expect(started.status).toBe(201);
  const id = (started.body as PhoneVerificationState).id;
  await eventually(async () => {
    const s = (await stack.http().get(`/v1/verifications/${id}`)).body as PhoneVerificationState;
    return s.channel === 'sms';
  });
  const code = await eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { channel: string; code: string }[]).filter((e) => e.channel === 'sms').pop()?.code;
  });
  const wrong = code === '0000' ? '1111' : '0000';
  expect((await stack.http().post(`/v1/verifications/${id}/check`).send({ code: wrong })).body).toMatchObject({
    status: 'invalid_code',
  });
  expect((await stack.http().post(`/v1/verifications/${id}/check`).send({ code })).body).toMatchObject({
    status: 'completed',
  });
  secrets.push(code, wrong);
  // The workflow's own span ends with the run; workflow spans reach the exporter through the worker's sink.
  const run = await eventually(() => named('RunWorkflow:phoneVerification')[0]);

  // 1. The start request's trace.
  const post = named('POST /v1/verifications/phone')[0];
  expect(post.kind).toBe(SpanKind.SERVER);
  expect(post.attributes).toMatchObject({ 'http.route': '/v1/verifications/phone', 'http.response.status_code': 201 });
  // A silent-auth-first start is an update-with-start (it answers with the check URL); others a plain start.
  const [start, ...more] = childrenOf(post).filter((c) =>
    ['StartWorkflow:phoneVerification', 'UpdateWithStartWorkflow:started'].includes(c.name),
  );
  expect([start?.name, more.length]).toEqual(['UpdateWithStartWorkflow:started', 0]);
  expect(child(start, 'RunWorkflow:phoneVerification')).toBe(run);
  const scheduled = child(run, 'StartActivity:vonageStartVerification');
  const activity = child(scheduled, 'RunActivity:vonageStartVerification');
  const call = child(activity, 'POST');
  expect(call.kind).toBe(SpanKind.CLIENT);
  expect(call.attributes).toMatchObject({
    'http.request.method': 'POST',
    'server.address': '127.0.0.1',
    'url.path': '/sandbox/vonage/v2/verify',
    'http.response.status_code': 200,
  });
  expect(new Set([start, scheduled, activity, call].map((s) => s.spanContext().traceId))).toEqual(
    new Set([post.spanContext().traceId]),
  );

  // 2. The provider's `failed` callback: webhook → signal → the workflow's signal handler.
  const webhook = await eventually(() =>
    named('POST /webhooks/vonage').find((s) => childrenOf(s, 'SignalWorkflow:providerEvent').length > 0),
  );
  expect(webhook.kind).toBe(SpanKind.SERVER);
  const signal = child(webhook, 'SignalWorkflow:providerEvent');
  expect(signal.attributes.temporalWorkflowId).toBe(id);
  // (Once, or again in a span of its own when the task that ran it ran again: see childLeadingTo.)
  expect(childrenOf(signal, 'HandleSignal:providerEvent').length).toBeGreaterThan(0);

  // 3. The right code's check: route → update → the workflow's handler → the check activity → the provider.
  const checks = named('POST /v1/verifications/:id/check');
  expect(checks).toHaveLength(2);
  const handled = checks.map((c) =>
    childLeadingTo(
      child(c, 'StartWorkflowUpdate:checkCode'),
      'HandleUpdate:checkCode',
      'StartActivity:vonageCheckCode',
    ),
  );
  for (const h of handled) {
    const scheduled = childLeadingTo(h, 'StartActivity:vonageCheckCode', 'RunActivity:vonageCheckCode');
    const checked = child(scheduled, 'RunActivity:vonageCheckCode');
    expect(child(checked, 'POST').attributes['url.path']).toMatch(/^\/sandbox\/vonage\/v2\/verify\/[^/]+$/);
  }

  const tree = [post, webhook, ...checks].map((root) => outline(root).join('\n')).join('\n\n');
  if (process.env.PRINT_SPAN_TREE) console.log(tree);
  expect(tree).toContain('RunActivity:vonageStartVerification');
});

test('no span holds a phone number, a code, an API key, a bearer token or a client secret — attributes, events, status, names (phone, identity, push, inbound SMS)', async () => {
  // An identity verification too: its client secret passes through the API.
  const identity = await stack
    .http()
    .post('/v1/verifications/identity')
    .send({ type: 'document', reference: `trace-${Date.now()}` });
  expect(identity.body).toMatchObject({ kind: 'identity' });
  const secret = await stack.http().post(`/v1/verifications/${(identity.body as { id: string }).id}/client-secret`);
  expect(secret.status).toBe(200);
  const { client_secret, url } = secret.body as { client_secret: string; url: string };
  await eventually(() => named('POST /v1/verifications/:id/client-secret')[0]);
  // A provider's rejection of the number: its failure is recorded on the activity's and the workflow's spans.
  const rejected = await stack.http().post('/v1/verifications/phone').send({ to: REJECTED, brand: 'Acme' });
  const rejectedId = (rejected.body as PhoneVerificationState).id;
  await eventually(() => named('RunWorkflow:phoneVerification').find((s) => s.attributes.workflowId === rejectedId));
  expect(named('RunActivity:vonageStartVerification').some((s) => s.events.length > 0)).toBe(true);
  // An inbound SMS from an Auth0-style caller: its bearer token, recipient and code travel in the request only.
  const inbound = stack.config.sms.inbound!;
  const token = sign({}, inbound.secret, {
    algorithm: 'HS256',
    subject: inbound.subject,
    audience: inbound.audience,
    expiresIn: 60,
  });
  const smsCode = String(100_000 + Math.floor(Math.random() * 900_000));
  const sms = await stack
    .anon()
    .post('/sms-gateway')
    .set('authorization', `Bearer ${token}`)
    .set('content-type', 'application/json')
    .send(JSON.stringify({ recipient: SMS_TO, body: `Your verification code is: ${smsCode}`, sender: '+1 234 567' }));
  expect(sms.status).toBe(200);
  const smsId = (sms.body as { id: string }).id;
  // Its trace reaches the provider's HTTP call (so there was something to leak).
  await eventually(() =>
    named('RunActivity:vonageSmsSend').find(
      (s) => s.attributes.temporalWorkflowId === smsId && childrenOf(s, 'POST')[0],
    ),
  );

  // A push approved on an enrolled device: its access token and signed answers, and the fallback's number.
  const device = new PushDevice(stack.baseUrl, `user-${randomUUID()}`);
  await device.enroll();
  // The factor's webhooks reach the enrollment workflow asynchronously: a push started before would fall back at once.
  await eventually(async () => {
    const r = await stack.http().get(`/v1/push/enrollments/${device.identity}`);
    return r.status === 200 && (r.body as PushEnrollmentState).verified;
  });
  const push = await stack
    .http()
    .post('/v1/verifications/push')
    .send({
      identity: device.identity,
      message: 'Log in to Acme?',
      fallback: { to: PUSH_FALLBACK, brand: 'Acme', channels: [{ channel: 'sms' }] },
    });
  expect(push.status).toBe(201);
  const pushId = (push.body as PushVerificationState).id;
  const challengeSid = await eventually(
    async () => ((await stack.http().get(`/v1/verifications/${pushId}`)).body as PushVerificationState).challengeSid,
  );
  await device.answer(challengeSid, 'approved');
  await eventually(() => named('RunWorkflow:pushVerification').find((s) => s.attributes.workflowId === pushId));

  const forbidden = [
    ...[to, REJECTED, PUSH_FALLBACK].flatMap((n) => [n, n.slice(1), n.slice(2), encodeURIComponent(n)]),
    ...secrets,
    client_secret,
    new URL(url).search.slice(1),
    SANDBOX_CLIENT_KEY,
    token,
    smsCode,
    ...[SMS_TO, SMS_TO.replace(/ /g, ''), SMS_TO.replace(/\D/g, ''), encodeURIComponent(SMS_TO)],
    stack.config.vonage.signatureSecret,
    stack.config.twilio!.authToken,
    ...device.tokensSent,
    TEST_CODEC_KEYS.split(':')[1],
  ].filter((s) => s.length >= 4);
  const texts = spans().flatMap((s) => [
    s.name,
    s.status.message ?? '',
    JSON.stringify(s.attributes),
    JSON.stringify(s.events.map((e) => [e.name, e.attributes])),
    JSON.stringify(s.links),
    JSON.stringify(s.resource.attributes),
  ]);
  expect(spans().length).toBeGreaterThan(20);
  // Whole tokens only: a 4-digit code may well occur inside a trace ID or a timestamp.
  const leaks = forbidden.flatMap((f) => {
    const token = new RegExp(`(?<![0-9A-Za-z])${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9A-Za-z])`);
    return spans()
      .filter((s, i) => texts.slice(i * 6, i * 6 + 6).some((t) => token.test(t)))
      .map((s) => `${f} in ${s.name}: ${JSON.stringify([s.attributes, s.events, s.status])}`);
  });
  expect(leaks).toEqual([]);
});

test('outgoing paths lose their query and any segment that could be a number, an address or a token', () => {
  expect(safePath('/v2/verify/3f1c2a4e-1b2c-4d5e-8f90-123456789abc/next_workflow?x=1')).toBe(
    '/v2/verify/3f1c2a4e-1b2c-4d5e-8f90-123456789abc/next_workflow',
  );
  expect(safePath('/lookup/+14155550123')).toBe('/lookup/{redacted}');
  expect(safePath('/lookup/%2B14155550123/14155550123/a@b.c/k=v')).toBe(
    '/lookup/{redacted}/{redacted}/{redacted}/{redacted}',
  );
});

test('with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported over OTLP/HTTP to <endpoint>/v1/traces; unset, tracing is off', async () => {
  expect(tracingFromConfig(loadTelemetryConfig({}), 'x')).toBeUndefined();
  // This suite's tracer stands aside while a second one, from config, exports to a collector of the test's own.
  await tracing.shutdown();
  const received: { path?: string; body: string }[] = [];
  const collector: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  const fromConfig = tracingFromConfig(
    loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'verifyflow-otlp-test' }),
    'unused',
  )!;
  fromConfig.tracer.startActiveSpan('probe', (span) => span.end());
  await fromConfig.shutdown(); // flushes the batch
  collector.close();
  expect(received.map((r) => r.path)).toContain('/v1/traces');
  const body = received.map((r) => r.body).join('');
  expect(body).toContain('probe');
  expect(body).toContain('verifyflow-otlp-test');
});
