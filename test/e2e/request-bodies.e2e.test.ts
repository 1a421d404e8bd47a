import { randomUUID } from 'node:crypto';
import { Logger, ServiceUnavailableException } from '@nestjs/common';
import { WorkflowNotFoundError } from '@temporalio/client';
import { vonageParamsSignature } from '../../providers/vonage/sms-receipt';
import { VerificationsService } from '../../src/verifications/verifications.service';
import type { PhoneVerificationState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * Request bodies over HTTP: the REST API takes JSON only (a form post from any web page must not start a
 * verification), the webhooks keep what their providers send, and body parser errors are answered with their own 4xx
 * in Nest's shape and logged as one warning line — never as an error with a stack.
 */
let stack: Stack;
const logged: { level: string; args: unknown[] }[] = [];

beforeAll(async () => {
  for (const level of ['log', 'warn', 'error'] as const) {
    jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
      logged.push({ level, args });
    });
  }
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
  jest.restoreAllMocks();
});

/** The Temporal workflow a start with this reference would have made. */
const started = (reference: string) =>
  stack.client.workflow
    .getHandle(`phone-${reference}`)
    .describe()
    .then(() => true)
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    });

test('a form post (a cross-site "simple" request) cannot start a verification: 415, nothing started', async () => {
  const reference = `csrf-${randomUUID()}`;
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .type('form')
    .send({ to: uniqueNumber('+1415557'), brand: 'Acme', reference });
  expect(res.status).toBe(415);
  expect(res.body).toEqual({
    statusCode: 415,
    error: 'Unsupported Media Type',
    message: 'body: must be sent as application/json (got application/x-www-form-urlencoded)',
  });
  expect(await started(reference)).toBe(false);
});

test.each<[string, string | undefined, string]>([
  ['text/plain (JSON text)', 'text/plain', 'got text/plain'],
  ['multipart', 'multipart/form-data; boundary=x', 'got multipart/form-data'],
  ['a JSON-like type the parser does not read', 'application/merge-patch+json', 'got application/merge-patch+json'],
  ['no content type', undefined, 'no content-type'],
])('%s → 415 naming the type; nothing started', async (_what, type, given) => {
  const reference = `type-${randomUUID()}`;
  const req = stack.http().post('/v1/verifications/phone');
  if (type) req.set('content-type', type);
  const body = JSON.stringify({ to: uniqueNumber('+1415557'), brand: 'Acme', reference });
  const res = await (type ? req.send(body) : req.send(Buffer.from(body)));
  expect(res.status).toBe(415);
  expect(res.body.message).toBe(`body: must be sent as application/json (${given})`);
  expect(await started(reference)).toBe(false);
});

test('JSON (with a charset) starts; requests without a body (next-channel, cancel) still work', async () => {
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .set('content-type', 'application/json; charset=utf-8')
    .send(
      JSON.stringify({
        to: uniqueNumber('+1415557'),
        brand: 'Acme',
        channels: [{ channel: 'sms' }, { channel: 'voice' }],
      }),
    );
  expect(res.status).toBe(201);
  const id = (res.body as PhoneVerificationState).id;
  await eventually(
    async () => ((await stack.http().get(`/v1/verifications/${id}`)).body as PhoneVerificationState).status,
  );
  const next = await stack.http().post(`/v1/verifications/${id}/next-channel`);
  expect(next.status).toBe(200);
  expect((next.body as PhoneVerificationState).channel).toBe('voice');
  // An empty body with a form content type is no body: nothing to refuse.
  const cancel = await stack.http().post(`/v1/verifications/${id}/cancel`).set('content-type', 'text/plain');
  expect(cancel.status).toBe(200);
  expect((cancel.body as PhoneVerificationState).status).toBe('cancelled');
});

test('413 for a body over the limit: answered 413 in Nest shape, logged as one warning line without a stack', async () => {
  logged.length = 0;
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .set('content-type', 'application/json')
    .send(JSON.stringify({ to: uniqueNumber('+1415557'), brand: 'Acme', pad: 'x'.repeat(70_000) }));
  expect(res.status).toBe(413);
  expect(res.body).toEqual({
    statusCode: 413,
    error: 'Payload Too Large',
    message: 'body: larger than the limit of 65536 bytes',
  });
  expect(logged.filter((l) => l.level === 'error')).toEqual([]);
  const warnings = logged.filter((l) => l.level === 'warn');
  expect(warnings).toHaveLength(1);
  expect(warnings[0].args).toEqual(['POST /v1/verifications/phone → 413: body: larger than the limit of 65536 bytes']);
  expect(String(warnings[0].args[0])).not.toMatch(/\n\s+at /);
});

test('malformed JSON → 400 naming body (not quoting it); a bad charset → 415; both warnings', async () => {
  logged.length = 0;
  const malformed = await stack
    .http()
    .post('/v1/verifications/phone')
    .set('content-type', 'application/json')
    .send('{"to": "+14155550123", brand}');
  expect(malformed.status).toBe(400);
  expect(malformed.body).toEqual({
    statusCode: 400,
    error: 'Bad Request',
    message: 'body: malformed JSON at position 23',
  });
  const charset = await stack
    .http()
    .post('/v1/verifications/phone')
    .set('content-type', 'application/json; charset=latin1')
    .send(Buffer.from('{"brand":"Acme"}'));
  expect(charset.status).toBe(415);
  expect(charset.body).toEqual({
    statusCode: 415,
    error: 'Unsupported Media Type',
    message: 'body: unsupported charset "latin1" (send UTF-8)',
  });
  // Webhooks get the same treatment (their bodies are parsed by the same JSON parser).
  const webhook = await stack.http().post('/webhooks/vonage').set('content-type', 'application/json').send('{');
  expect(webhook.status).toBe(400);
  expect(webhook.body.message).toMatch(/^body: malformed JSON/);
  expect(logged.filter((l) => l.level === 'error')).toEqual([]);
  expect(logged.filter((l) => l.level === 'warn').map((l) => l.args)).toEqual([
    ['POST /v1/verifications/phone → 400: body: malformed JSON at position 23'],
    ['POST /v1/verifications/phone → 415: body: unsupported charset "latin1" (send UTF-8)'],
    [expect.stringMatching(/^POST \/webhooks\/vonage → 400: body: malformed JSON/)],
  ]);
  expect(JSON.stringify(logged)).not.toContain('+14155550123');
});

test('a 404 is a warning too, and its log line leaves the query string out', async () => {
  logged.length = 0;
  const res = await stack.http().get('/v1/nothing-here').query({ to: '+14155550123' });
  expect(res.status).toBe(404);
  expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  expect(logged.map((l) => [l.level, ...l.args])).toEqual([
    ['warn', 'GET /v1/nothing-here → 404: Cannot GET /v1/nothing-here'],
  ]);
});

test('a 5xx is an error with its stack; an unexpected error is answered 500 in Nest shape, its details only logged', async () => {
  logged.length = 0;
  const get = jest.spyOn(VerificationsService.prototype, 'get');
  get.mockRejectedValueOnce(new Error('database on fire'));
  const crashed = await stack.http().get('/v1/verifications/phone-crash');
  expect(crashed.status).toBe(500);
  expect(crashed.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  get.mockRejectedValueOnce(new ServiceUnavailableException('Temporal is unreachable; retry later'));
  const unavailable = await stack.http().get('/v1/verifications/phone-crash');
  expect(unavailable.status).toBe(503);
  expect(unavailable.body).toEqual({
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'Temporal is unreachable; retry later',
  });
  get.mockRestore();
  expect(logged.map((l) => [l.level, l.args[0]])).toEqual([
    ['error', 'GET /v1/verifications/phone-crash → 500: Internal server error (Error: database on fire)'],
    ['error', 'GET /v1/verifications/phone-crash → 503: Temporal is unreachable; retry later'],
  ]);
  for (const l of logged) expect(String(l.args[1])).toMatch(/\n\s+at /);
});

test("webhooks keep their providers' content types: a form-encoded Vonage SMS receipt is verified and answered", async () => {
  const settings = stack.config.sms.vonageSms!;
  const receipt = {
    messageId: 'FORM0001',
    status: 'delivered',
    'client-ref': 'sms-nobody',
    timestamp: String(Math.floor(Date.now() / 1000)),
  };
  const sig = vonageParamsSignature(receipt, settings.signatureSecret, settings.signatureMethod);
  const ok = await stack
    .http()
    .post('/webhooks/vonage-sms')
    .type('form')
    .send({ ...receipt, sig });
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ ok: true, delivered: false });
  const forged = await stack
    .http()
    .post('/webhooks/vonage-sms')
    .type('form')
    .send({ ...receipt, status: 'failed', sig });
  expect(forged.status).toBe(401);
});
