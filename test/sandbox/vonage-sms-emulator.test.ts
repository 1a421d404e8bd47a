import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { ApplicationFailure } from '@temporalio/common';
import { Vonage } from '@vonage/server-sdk';
import express from 'express';
import { VonageSmsAdapter } from '../../providers/vonage/sms';
import {
  normalizeVonageSmsReceipt,
  verifyVonageSmsReceipt,
  vonageParamsSignature,
  type VonageSignatureMethod,
  type VonageSmsReceipt,
} from '../../providers/vonage/sms-receipt';
import { FailureType } from '../../workflows/contract';
import { Outbox } from '../../sandbox/outbox';
import { VonageSmsEmulator } from '../../sandbox/vonage-sms-emulator';
import { eventually } from '../support/stack';

/**
 * The Vonage SMS API emulator driven by the real `@vonage/server-sdk` (through our adapter), and its signed delivery
 * receipts checked with our verifier and with the SDK's own `verifySignature`.
 */
const SECRET = 'test-signature-secret-0123456789';
const receipts: VonageSmsReceipt[] = [];
let server: Server;
let base: string;
const outbox = new Outbox();
let emulator: VonageSmsEmulator;

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  app.post('/receipts', (req, res) => {
    receipts.push(req.body as VonageSmsReceipt);
    res.status(204).end();
  });
  emulator = new VonageSmsEmulator({
    apiKey: 'abcd1234',
    apiSecret: 'api-secret',
    signatureSecret: SECRET,
    signatureMethod: 'sha256',
    defaultCallbackUrl: () => `${base}/receipts`,
    outbox,
    receiptDelayMs: 10,
  });
  app.use('/vonage', emulator.router());
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  emulator.close();
  await new Promise((r) => server.close(r));
});

const adapter = (apiSecret = 'api-secret') =>
  new VonageSmsAdapter({ apiKey: 'abcd1234', apiSecret, restHost: `${base}/vonage`, callbackUrl: `${base}/receipts` });
const failure = (p: Promise<unknown>) => p.then(() => undefined).catch((e) => e as ApplicationFailure);
/** The SDK's own check (`@vonage/sms` verifySignature), with its algorithm names. */
const sdkVerifies = (sig: string, params: object, algorithm: string) =>
  new Vonage({ apiKey: 'k', apiSecret: 's' }).sms.verifySignature(sig, params as never, SECRET, algorithm as never);
const receiptsFor = (ids: string[]) => receipts.filter((r) => ids.includes(r.messageId!));

test('sends through the SDK, lands in the outbox, and a signed delivered receipt comes back', async () => {
  const sent = await adapter().send({
    to: '+14155550150',
    from: 'Acme',
    text: 'Your verification code is: 12345',
    clientRef: 'sms-abc',
  });
  expect(sent.messageIds).toHaveLength(1);
  expect(outbox.list({ to: '+14155550150' })).toEqual([
    expect.objectContaining({
      provider: 'vonage',
      channel: 'sms',
      body: 'Your verification code is: 12345',
      code: '12345',
    }),
  ]);
  const [receipt] = await eventually(() => receiptsFor(sent.messageIds).length === 1 && receiptsFor(sent.messageIds));
  expect(receipt).toMatchObject({
    messageId: sent.messageIds[0],
    msisdn: '14155550150',
    to: 'Acme',
    status: 'delivered',
    'err-code': '0',
    'client-ref': 'sms-abc',
    'api-key': 'abcd1234',
  });
  expect(verifyVonageSmsReceipt(receipt as Record<string, unknown>, SECRET, 'sha256')).toEqual({ ok: true });
  // The SDK agrees with our signature.
  expect(sdkVerifies(receipt.sig!, receipt, 'SHA256HMAC')).toBe(true);
  expect(normalizeVonageSmsReceipt(receipt)).toEqual({
    eventId: `vonage-sms:${sent.messageIds[0]}:delivered`,
    provider: 'vonage',
    ref: sent.messageIds[0],
    channel: 'sms',
    status: 'completed',
    occurredAt: receipt['message-timestamp'],
  });
});

test.each<[VonageSignatureMethod, string]>([
  ['md5hash', 'MD5HASH'],
  ['md5', 'MD5HMAC'],
  ['sha1', 'SHA1HMAC'],
  ['sha512', 'SHA512HMAC'],
])('signature method %s matches the SDK', (method, sdkMethod) => {
  const params = { messageId: 'X1', status: 'delivered', timestamp: '1700000000', 'client-ref': 'a&b=c' };
  const sig = vonageParamsSignature(params, SECRET, method);
  expect(sdkVerifies(sig, params, sdkMethod)).toBe(true);
});

test('forged, tampered and stale receipts are refused', () => {
  const now = Math.floor(Date.now() / 1000);
  const params: Record<string, string> = { messageId: 'X1', status: 'delivered', timestamp: String(now) };
  const sig = vonageParamsSignature(params, SECRET, 'sha256');
  expect(verifyVonageSmsReceipt({ ...params, sig }, SECRET, 'sha256')).toEqual({ ok: true });
  expect(verifyVonageSmsReceipt({ ...params, sig: sig.toLowerCase() }, SECRET, 'sha256')).toEqual({ ok: true });
  expect(verifyVonageSmsReceipt(params, SECRET, 'sha256')).toEqual({ ok: false, why: 'missing_signature' });
  expect(verifyVonageSmsReceipt({ ...params, sig }, 'another-secret-entirely', 'sha256')).toEqual({
    ok: false,
    why: 'bad_signature',
  });
  expect(verifyVonageSmsReceipt({ ...params, status: 'failed', sig }, SECRET, 'sha256')).toEqual({
    ok: false,
    why: 'bad_signature',
  });
  const old = { ...params, timestamp: String(now - 3600) };
  expect(
    verifyVonageSmsReceipt({ ...old, sig: vonageParamsSignature(old, SECRET, 'sha256') }, SECRET, 'sha256'),
  ).toEqual({ ok: false, why: 'stale' });
});

test('a long message goes in parts, each with its own id and receipt', async () => {
  const sent = await adapter().send({ to: '+14155550151', from: '+1 234 567', text: 'x'.repeat(400) });
  expect(sent.messageIds).toHaveLength(3);
  await eventually(() => receiptsFor(sent.messageIds).length === 3);
  expect(receiptsFor(sent.messageIds)[0].to).toBe('1234567');
});

test('sandbox numbers: 0001 failed receipt, 0002 no receipt, 0003 invalid destination, 0004 throttled twice', async () => {
  const failed = await adapter().send({ to: '+15005550001', from: 'Acme', text: 'code 1234' });
  const [receipt] = await eventually(
    () => receiptsFor(failed.messageIds).length === 1 && receiptsFor(failed.messageIds),
  );
  expect(receipt).toMatchObject({ status: 'failed', 'err-code': '11' });
  expect(normalizeVonageSmsReceipt(receipt)?.status).toBe('failed');

  const silent = await adapter().send({ to: '+15005550002', from: 'Acme', text: 'code 1234' });
  await new Promise((r) => setTimeout(r, 300));
  expect(receiptsFor(silent.messageIds)).toHaveLength(0);

  expect(await failure(adapter().send({ to: '+15005550003', from: 'Acme', text: 'code 1234' }))).toMatchObject({
    type: FailureType.InvalidDestination,
    nonRetryable: true,
  });
  for (let i = 0; i < 2; i++) {
    expect(await failure(adapter().send({ to: '+15005550004', from: 'Acme', text: 'code 1234' }))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  }
  expect((await adapter().send({ to: '+15005550004', from: 'Acme', text: 'code 1234' })).messageIds).toHaveLength(1);
});

test('bad credentials → non-retryable ProviderAuthFailed', async () => {
  expect(await failure(adapter('wrong').send({ to: '+14155550152', from: 'Acme', text: 'hi' }))).toMatchObject({
    type: FailureType.ProviderAuthFailed,
    nonRetryable: true,
  });
});
