import { randomInt, randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { SA_STATUS, type VerificationKind } from '../../workflows/contract';
import { loadConfig } from '../../src/config/config';
import { PushDevice } from '../../test/support/push-device';
import { http, type Exchange } from './http';
import type { System } from './system';
import { sleep } from './util';

/** Latencies (ms) and outcomes recorded while flows run. */
export class Recorder {
  readonly latency: Record<string, number[]> = {};
  readonly outcomes: Record<string, number> = {};
  readonly errors: string[] = [];

  add(what: string, ms: number): void {
    (this.latency[what] ??= []).push(ms);
  }

  outcome(status: string): void {
    this.outcomes[status] = (this.outcomes[status] ?? 0) + 1;
  }

  error(message: string): void {
    if (this.errors.length < 50) this.errors.push(message);
    this.outcome('error');
  }
}

export interface FlowContext {
  sys: System;
  rec: Recorder;
  /** A destination no other flow of this run uses. */
  number(): string;
  /** Chaos runs: retry calls answered 503 / refused until this epoch ms (the system is being broken on purpose). */
  retryUntil?: number;
  /**
   * Chaos runs: a caller `reference` per flow, so a start retried after a 503 joins the same verification (the
   * contract's idempotent start) instead of opening a second one.
   */
  reference?: (index: number) => string;
}

export interface FlowResult {
  id: string;
  /** Terminal status as the flow saw it (`completed`, `failed`, …). */
  status: string;
  to: string;
}

/**
 * One row of the scenario table: a verification flow driven end to end through the REST API and the sandbox.
 * Other kinds plug in by adding rows (see `pending` rows below); the bench, the action counter and the chaos runs
 * iterate over this table.
 */
export interface Scenario {
  name: string;
  kind: VerificationKind | 'sms_gateway';
  what: string;
  /** The final status a correct run ends with. */
  expected: string;
  /** Target for billable actions per verification (docs/PERFORMANCE.md), when there is one. */
  actionTarget?: number;
  /** Special sandbox numbers allow one live request at a time: such rows run one by one. */
  sequential?: boolean;
  /** Set while the kind is not built: what the row needs to run. */
  pending?: string;
  /** Runs against the sandbox mounted in the API (Stripe and Twilio emulators), not the external Vonage emulator. */
  needsSandbox?: boolean;
  run?(ctx: FlowContext, index: number): Promise<FlowResult>;
}

export class FlowError extends Error {}

/** A REST call; in chaos runs, retried while the system answers 503 / 502 / is unreachable. */
async function call<T = Record<string, unknown>>(
  ctx: FlowContext,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Exchange<T>> {
  for (;;) {
    const res = await http<T>(method, `${ctx.sys.apiUrl}${path}`, body, undefined, {
      ...ctx.sys.authHeader,
      ...headers,
    });
    const transient = res.status === 0 || res.status === 502 || res.status === 503;
    if (!transient || !ctx.retryUntil || Date.now() > ctx.retryUntil) return res;
    await sleep(250);
  }
}

const expect = (res: Exchange, status: number, what: string): void => {
  if (res.status !== status) throw new FlowError(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
};

/** A start answers 201 with the state, or 202 with the id when the worker could not give the state in time. */
const expectStarted = (ctx: FlowContext, res: Exchange): void => {
  if (res.status === 202) ctx.rec.add('startAccepted202', res.ms);
  else expect(res, 201, 'start');
};

/** Reads the newest code sent to `to` from the sandbox outbox over HTTP, once the outbox says it arrived. */
export async function codeFor(ctx: FlowContext, to: string, already: number): Promise<string> {
  await ctx.sys.provider.outbox.waitFor(to, already, 120_000);
  const res = await http<{ code: string }[]>(
    'GET',
    `${ctx.sys.provider.url}/sandbox/outbox?to=${encodeURIComponent(to)}`,
  );
  const code = Array.isArray(res.body) ? res.body[res.body.length - 1]?.code : undefined;
  if (!code) throw new FlowError(`no code in the outbox for flow to ${to.slice(0, 5)}…`);
  return code;
}

/**
 * `POST /v1/verifications/:id/check`, as a careful client sends it: with an Idempotency-Key, so a retry after a lost
 * answer (503, refused connection) gets the first outcome instead of 409 from a verification that check completed.
 */
async function checkCode(ctx: FlowContext, id: string, body: { code: string; requestId?: string }) {
  const check = await call<{ status: string }>(ctx, 'POST', `/v1/verifications/${id}/check`, body, {
    'idempotency-key': randomUUID(),
  });
  ctx.rec.add('check', check.ms);
  expect(check, 200, 'check');
  return check.body;
}

export const sentTo = (ctx: FlowContext, to: string): number =>
  ctx.sys.provider.outbox.sent.get(to.replace(/\D/g, '')) ?? 0;

/** Waits (DescribeWorkflowExecution, not billable) until the workflow closed; its VerificationStatus. */
export async function waitClosed(sys: System, id: string, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const d = await sys.client.workflow.getHandle(id).describe();
      if (d.status.name !== 'RUNNING') return String(d.typedSearchAttributes.get(SA_STATUS) ?? d.status.name);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) return 'stuck';
    await sleep(250);
  }
}

async function startPhone(
  ctx: FlowContext,
  index: number,
  body: Record<string, unknown>,
): Promise<{ id: string; state: Exchange }> {
  const reference = ctx.reference?.(index);
  const res = await call<{ id: string }>(ctx, 'POST', '/v1/verifications/phone', {
    ...body,
    ...(reference ? { reference } : {}),
  });
  ctx.rec.add('start', res.ms);
  expectStarted(ctx, res);
  return { id: res.body.id, state: res };
}

/** SMS only: start → SMS in the outbox → check → completed. */
async function phoneSmsHappy(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = ctx.number();
  const already = sentTo(ctx, to);
  const { id } = await startPhone(ctx, index, { to, brand: 'Bench', channels: [{ channel: 'sms' }] });
  const code = await codeFor(ctx, to, already);
  return { id, status: (await checkCode(ctx, id, { code })).status, to };
}

/**
 * Our own code over the run's HTTP SMS gateway (`bench`): start → the first SMS in the outbox → check with its code →
 * completed. In a chaos run the worker may die while the gateway holds its answer: the retried send repeats the same
 * code, so the first one still completes the verification.
 */
async function phoneOtpHappy(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = ctx.number();
  const already = sentTo(ctx, to);
  const { id } = await startPhone(ctx, index, {
    to,
    brand: 'Bench',
    channels: [{ channel: 'sms', provider: 'sms_gateway', gateway: 'bench' }],
  });
  const code = await codeFor(ctx, to, already);
  return { id, status: (await checkCode(ctx, id, { code })).status, to };
}

/**
 * Silent auth, default channels: start → (GET until the check URL is known) → the device follows the check URL's
 * redirect chain → check with its code and request_id → completed. Its callbacks (action_pending, completed) reach
 * a live workflow: this row times webhook acknowledgements that really signal.
 */
async function phoneSilentAuthHappy(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = ctx.number();
  const { id, state } = await startPhone(ctx, index, { to, brand: 'Bench' });
  let checkUrl = (state.body as { checkUrl?: string }).checkUrl;
  for (let polls = 0; !checkUrl; polls++) {
    if (polls > 600) throw new FlowError('no check URL');
    await sleep(50);
    const res = await call<{ checkUrl?: string }>(ctx, 'GET', `/v1/verifications/${id}`);
    ctx.rec.add('poll', res.ms);
    checkUrl = res.body.checkUrl;
  }
  let device = await http<{ request_id: string; code: string }>('GET', checkUrl);
  while (device.status >= 500 && ctx.retryUntil && Date.now() < ctx.retryUntil) {
    await sleep(250);
    device = await http<{ request_id: string; code: string }>('GET', checkUrl);
  }
  if (device.status !== 200) throw new FlowError(`check URL: HTTP ${device.status}`);
  const check = await checkCode(ctx, id, { code: device.body.code, requestId: device.body.request_id });
  return { id, status: check.status, to };
}

/**
 * Silent auth → SMS → voice, none completing: +15005550002 (SMS never delivered; nobody opens the check URL or
 * answers the call), 1-second channel timeouts → failed / all_channels_failed.
 */
async function phoneAllChannelsFail(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = '+15005550002';
  const { id } = await startPhone(ctx, index, {
    to,
    brand: 'Bench',
    channels: [
      { channel: 'silent_auth', timeoutSeconds: 1 },
      { channel: 'sms', timeoutSeconds: 1 },
      { channel: 'voice', timeoutSeconds: 1 },
    ],
  });
  return { id, status: await waitClosed(ctx.sys, id), to };
}

/** +15005550001: silent auth fails (a `failed` callback the workflow must receive) → SMS → check → completed. */
async function phoneSilentAuthFallback(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = '+15005550001';
  const already = sentTo(ctx, to);
  const { id } = await startPhone(ctx, index, { to, brand: 'Bench' });
  const code = await codeFor(ctx, to, already);
  return { id, status: (await checkCode(ctx, id, { code })).status, to };
}

/** +15005550005: the user rejects silent auth (action_pending then user_rejected callbacks) → failed. */
async function phoneUserRejected(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = '+15005550005';
  const { id } = await startPhone(ctx, index, { to, brand: 'Bench' });
  return { id, status: await waitClosed(ctx.sys, id), to };
}

/** Stripe Identity: the first attempt ends requires_input (document expired), the user retries, verified. */
async function identityOneRetry(ctx: FlowContext): Promise<FlowResult> {
  const start = await call<{ id: string }>(ctx, 'POST', '/v1/verifications/identity', {
    reference: `bench-${randomUUID().slice(0, 12)}`,
    type: 'document',
  });
  ctx.rec.add('start', start.ms);
  expectStarted(ctx, start);
  const id = start.body.id;
  for (const outcome of ['document_expired', 'verified']) {
    // The client secret is there once the session waits on the user: right after the start (the route waits for the
    // session), and again once Stripe has processed a failed attempt (409 until then).
    const secret = await clientSecretWhenReady(ctx, id);
    // What the hosted page does when the user finishes (the sandbox page's form post).
    const page = await fetch(secret.body.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `outcome=${outcome}`,
      redirect: 'manual',
    });
    if (page.status >= 400) throw new FlowError(`hosted page: HTTP ${page.status}`);
  }
  return { id, status: await waitClosed(ctx.sys, id), to: '' };
}

/** `POST /v1/verifications/:id/client-secret`, again while it answers 409 (the session is not waiting on the user). */
async function clientSecretWhenReady(ctx: FlowContext, id: string): Promise<Exchange<{ url: string }>> {
  for (let tries = 0; tries < 600; tries++) {
    const secret = await call<{ url: string }>(ctx, 'POST', `/v1/verifications/${id}/client-secret`);
    if (secret.status !== 409) {
      expect(secret, 200, 'client-secret');
      return secret;
    }
    await sleep(100);
  }
  throw new FlowError('the session never waited on the user');
}

/**
 * The Auth0-compatible inbound gateway (Auth0 custom SMS gateway): Auth0's signed bearer JWT and body → `POST /sms-gateway` → 200
 * once a provider accepted the message → `smsDelivery` waits for the signed delivery receipt → delivered. Counts the
 * `smsDelivery` workflow (the per-recipient and per-IP `rateLimit` workflows it consults are not counted).
 */
async function smsGatewayDelivered(ctx: FlowContext): Promise<FlowResult> {
  const inbound = loadConfig(ctx.sys.env()).sms.inbound!;
  const token = sign({}, inbound.secret, {
    algorithm: 'HS256',
    subject: inbound.subject,
    audience: inbound.audience,
    expiresIn: 60,
  });
  const to = ctx.number();
  const res = await http<{ id: string; status: string }>(
    'POST',
    `${ctx.sys.apiUrl}/sms-gateway`,
    { recipient: to, body: `Your verification code is: ${String(randomInt(100_000, 1_000_000))}`, sender: 'Bench' },
    undefined,
    { authorization: `Bearer ${token}` },
  );
  ctx.rec.add('start', res.ms);
  expect(res, 200, 'sms-gateway');
  // The run stays open after the receipt (it joins Auth0's repeats of the message for the dedupe window): wait for
  // its VerificationStatus, not for it to close.
  return { id: res.body.id, status: await waitStatus(ctx.sys, res.body.id, ['delivered', 'failed']), to };
}

/** Waits (DescribeWorkflowExecution, not billable) until the workflow's VerificationStatus is one of `statuses`. */
async function waitStatus(sys: System, id: string, statuses: string[], timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = String((await sys.client.workflow.getHandle(id).describe()).typedSearchAttributes.get(SA_STATUS));
    if (statuses.includes(status)) return status;
    if (Date.now() > deadline) return 'stuck';
    await sleep(250);
  }
}

/** The newest code Twilio Verify "sent" to `to`: the sandbox API's outbox, polled until it is there (sandbox rows). */
async function twilioCodeFor(ctx: FlowContext, to: string, already: number): Promise<string> {
  for (let i = 0; i < 1200; i++) {
    const res = await http<{ code: string }[]>(
      'GET',
      `${ctx.sys.apiUrl}/sandbox/outbox?to=${encodeURIComponent(to)}&provider=twilio`,
    );
    const sent = Array.isArray(res.body) ? res.body : [];
    if (sent.length > already) return sent[sent.length - 1].code;
    await sleep(100);
  }
  throw new FlowError(`no Twilio code in the outbox for flow to ${to.slice(0, 5)}…`);
}

const twilioSent = async (ctx: FlowContext, to: string): Promise<number> => {
  const res = await http<unknown[]>(
    'GET',
    `${ctx.sys.apiUrl}/sandbox/outbox?to=${encodeURIComponent(to)}&provider=twilio`,
  );
  return Array.isArray(res.body) ? res.body.length : 0;
};

/** Twilio Verify SMS only: start → Twilio's SMS in the outbox → check → completed. */
async function twilioSmsHappy(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = ctx.number();
  const already = await twilioSent(ctx, to);
  const { id } = await startPhone(ctx, index, {
    to,
    brand: 'Bench',
    channels: [{ channel: 'sms', provider: 'twilio' }],
  });
  const code = await twilioCodeFor(ctx, to, already);
  return { id, status: (await checkCode(ctx, id, { code })).status, to };
}

/**
 * +15005550002: the Vonage SMS is never delivered, its channel times out (1 s), the Vonage request is cancelled and
 * Twilio Verify sends the SMS → check → completed.
 */
async function vonageToTwilioFallback(ctx: FlowContext, index: number): Promise<FlowResult> {
  const to = '+15005550002';
  const already = await twilioSent(ctx, to);
  const { id } = await startPhone(ctx, index, {
    to,
    brand: 'Bench',
    channels: [
      { channel: 'sms', provider: 'vonage', timeoutSeconds: 1 },
      { channel: 'sms', provider: 'twilio' },
    ],
  });
  const code = await twilioCodeFor(ctx, to, already);
  return { id, status: (await checkCode(ctx, id, { code })).status, to };
}

/** Twilio Verify Push: a device enrolls (once), a challenge is approved on it. Counts the verification only. */
async function pushApproved(ctx: FlowContext): Promise<FlowResult> {
  const device = new PushDevice(ctx.sys.apiUrl, `user-${randomUUID()}`, ctx.sys.authHeader.authorization);
  await device.enroll();
  await stateUntilEnrolled(ctx, device.identity);
  const start = await call<{ id: string }>(ctx, 'POST', '/v1/verifications/push', {
    identity: device.identity,
    message: 'Log in to Bench?',
  });
  ctx.rec.add('start', start.ms);
  expectStarted(ctx, start);
  let pending: { sid: string }[] = [];
  for (let i = 0; i < 600 && pending.length === 0; i++) {
    pending = await device.pending();
    if (!pending.length) await sleep(100);
  }
  if (!pending.length) throw new FlowError('no challenge reached the device');
  await device.answer(pending[0].sid, 'approved');
  return { id: start.body.id, status: await waitClosed(ctx.sys, start.body.id), to: '' };
}

async function stateUntilEnrolled(ctx: FlowContext, identity: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await call<{ verified?: boolean }>(ctx, 'GET', `/v1/push/enrollments/${identity}`);
    if (res.status === 200 && res.body.verified) return;
    await sleep(100);
  }
  throw new FlowError('enrollment never verified');
}

/** The scenario table. Rows without `run` are the kinds being built; fill them in when their workflow exists. */
export const SCENARIOS: Scenario[] = [
  {
    name: 'phone-sms-happy',
    kind: 'phone',
    what: 'SMS only, code checked: start → SMS → check → completed',
    expected: 'completed',
    actionTarget: 6,
    run: phoneSmsHappy,
  },
  {
    name: 'phone-otp-happy',
    kind: 'phone',
    what: 'our own code over an HTTP SMS gateway: start → SMS → check → completed',
    expected: 'completed',
    run: phoneOtpHappy,
  },
  {
    name: 'phone-silent-auth-happy',
    kind: 'phone',
    what: 'silent auth completed through the check URL (callbacks signal a live workflow)',
    actionTarget: 8,
    expected: 'completed',
    run: phoneSilentAuthHappy,
  },
  {
    name: 'phone-all-channels-fail',
    kind: 'phone',
    what: 'silent auth → SMS → voice, all time out (+15005550002, 1 s channel timeouts)',
    expected: 'failed',
    actionTarget: 12,
    sequential: true,
    run: phoneAllChannelsFail,
  },
  {
    name: 'phone-silent-auth-fallback',
    kind: 'phone',
    what: 'silent auth not supported (failed callback) → SMS → check → completed (+15005550001)',
    expected: 'completed',
    sequential: true,
    run: phoneSilentAuthFallback,
  },
  {
    name: 'phone-user-rejected',
    kind: 'phone',
    what: 'silent auth rejected by the user (callbacks action_pending, user_rejected) → failed (+15005550005)',
    expected: 'failed',
    sequential: true,
    run: phoneUserRejected,
  },
  {
    name: 'twilio-sms-happy',
    kind: 'phone',
    what: 'Twilio Verify SMS only, code checked: start → SMS → check → completed',
    expected: 'completed',
    actionTarget: 6,
    needsSandbox: true,
    run: twilioSmsHappy,
  },
  {
    name: 'vonage-to-twilio-fallback',
    kind: 'phone',
    what: 'Vonage SMS never delivered (+15005550002, 1 s channel timeout) → Twilio Verify SMS → check → completed',
    expected: 'completed',
    sequential: true,
    needsSandbox: true,
    run: vonageToTwilioFallback,
  },
  {
    name: 'identity-one-retry',
    kind: 'identity',
    what: 'Stripe Identity session: first attempt requires_input (document expired), user retries, verified',
    actionTarget: 15,
    expected: 'completed',
    needsSandbox: true,
    run: identityOneRetry,
  },
  {
    name: 'push-approved',
    kind: 'push',
    what: 'Twilio Verify Push challenge approved on an enrolled device (the enrollment workflow is not counted)',
    actionTarget: 7,
    expected: 'completed',
    needsSandbox: true,
    run: pushApproved,
  },
  {
    name: 'sms-gateway-delivered',
    kind: 'sms_gateway',
    what: 'Auth0-compatible SMS gateway: POST /sms-gateway → smsDelivery → delivered (rateLimit workflows not counted)',
    expected: 'delivered',
    needsSandbox: true,
    run: smsGatewayDelivered,
  },
];
