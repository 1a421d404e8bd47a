import { createHash, randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { signStripeWebhook } from '../../providers/stripe/webhook';
import { signTwilioWebhook } from '../../providers/twilio/webhook';
import { loadConfig } from '../../src/config/config';
import { SA_PROVIDER_REF } from '../../workflows/contract';
import type { System } from './system';
import { sleep } from './util';

/** A crafted webhook request and what a correct app must do with it. */
interface Probe {
  category: 'legit' | 'forged' | 'replayed' | 'stale' | 'malformed' | 'oversized';
  name: string;
  body: Buffer | string;
  headers: Record<string, string>;
  /** How many times to send it. */
  times?: number;
}

export interface ProbeResult {
  category: string;
  name: string;
  requests: number;
  statuses: Record<string, number>;
  /** Signals that reached the target workflow's history because of this probe. */
  signalled: number;
  /** Answered 4xx, or the connection was closed on it. */
  rejected: number;
  maxMs: number;
}

const sha256 = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');

/** Signs a Vonage callback the way Vonage does (HS256, payload_hash of the exact body), with overridable claims. */
export function vonageToken(body: Buffer | string, secret: string, claims: Record<string, unknown> = {}): string {
  const all: Record<string, unknown> = {
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    iss: 'Vonage',
    payload_hash: sha256(body),
    api_key: 'bench',
    application_id: 'bench',
    ...claims,
  };
  for (const key of Object.keys(all)) if (all[key] === undefined) delete all[key];
  return sign(all, secret, { algorithm: 'HS256', noTimestamp: all.iat === undefined });
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function signalCount(sys: System, workflowId: string): Promise<number> {
  let history;
  try {
    history = await sys.client.workflow.getHandle(workflowId).fetchHistory();
  } catch (err) {
    // Not started (yet): nothing signalled it. (fetchHistory passes the raw gRPC NOT_FOUND through.)
    if (err instanceof WorkflowNotFoundError || (err as { code?: unknown }).code === 5) return 0;
    throw err;
  }
  return (history.events ?? []).filter(
    (e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  ).length;
}

/** Sends every probe to `path` and counts the answers and the signals that reached `workflowId`'s history. */
async function runProbes(sys: System, path: string, workflowId: string, probes: Probe[]): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (const probe of probes) {
    const before = await signalCount(sys, workflowId);
    const statuses: Record<string, number> = {};
    let maxMs = 0;
    let rejected = 0;
    const times = probe.times ?? 1;
    for (let i = 0; i < times; i++) {
      const t0 = performance.now();
      let status = 0;
      try {
        const res = await fetch(`${sys.apiUrl}${path}`, {
          method: 'POST',
          headers: Object.fromEntries(Object.entries(probe.headers).filter(([, v]) => v !== undefined)),
          body: probe.body,
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = 0; // the server may close the socket on an oversized body: rejected too
      }
      maxMs = Math.max(maxMs, performance.now() - t0);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 0 || (status >= 400 && status < 500)) rejected++;
    }
    await sleep(300);
    const signalled = (await signalCount(sys, workflowId)) - before;
    results.push({
      category: probe.category,
      name: probe.name,
      requests: times,
      statuses,
      signalled,
      rejected,
      maxMs: Math.round(maxMs),
    });
  }
  return results;
}

/**
 * Forged, replayed, stale, malformed and oversized Vonage callbacks against `/webhooks/vonage`, aimed at a live
 * verification (its real `request_id` and `client_ref`, so anything accepted would really signal it). Counts the
 * answers and the signals that reached the workflow's history after each probe.
 */
export async function fuzzVonageWebhook(sys: System, replays: number): Promise<ProbeResult[]> {
  // The API's own secret: the external emulator's in real-provider mode, the sandbox's in sandbox mode.
  const secret = loadConfig(sys.env()).vonage.signatureSecret;
  // A live target: silent auth waits for the device for 15 minutes.
  const start = await fetch(`${sys.apiUrl}/v1/verifications/phone`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...sys.authHeader },
    body: JSON.stringify({
      to: `+1212${String(3_000_000 + Math.floor(Math.random() * 900_000))}`,
      brand: 'Fuzz',
      channels: [{ channel: 'silent_auth', timeoutSeconds: 900 }],
    }),
  });
  const { id } = (await start.json()) as { id: string };
  // The provider request id, from the silent auth check URL (Vonage's `/v2/verify/<request_id>/silent-auth/…`) the
  // state shows once the request exists (the run publishes its provider ref only where callbacks need it).
  let requestId: string | undefined;
  for (let i = 0; i < 300 && !requestId; i++) {
    const state = await fetch(`${sys.apiUrl}/v1/verifications/${id}`, { headers: sys.authHeader });
    const { checkUrl } = (await state.json()) as { checkUrl?: string };
    requestId = /\/v2\/verify\/([^/]+)\/silent-auth\//.exec(checkUrl ?? '')?.[1];
    if (!requestId) await sleep(100);
  }
  if (!requestId) throw new Error('fuzz target verification never reached the provider');
  await sleep(1500); // its own action_pending callback lands first (acknowledged, not signalled)

  // The control: a signed `failed` event for a step this request does not have (sms). It is signalled (the contract
  // accepts it), and the run ignores it, so the target stays live for every probe after it.
  const event = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      request_id: requestId,
      triggered_at: new Date().toISOString(),
      channel: 'sms',
      status: 'failed',
      type: 'event',
      client_ref: id,
      ...extra,
    });
  const json = { 'content-type': 'application/json' };
  const bearer = (token: string) => ({ ...json, authorization: `Bearer ${token}` });
  const now = Math.floor(Date.now() / 1000);
  const legit = event();
  const legitToken = vonageToken(legit, secret);
  // Every probe body is a distinct copy of the control event (same event id): if one got through it would be
  // recorded in the history (and counted) but would not change the verification, so the target stays live.
  let copies = 0;
  const other = (): string => event({ triggered_at: new Date(Date.now() + ++copies).toISOString() });
  const big = (bytes: number) => JSON.stringify({ request_id: requestId, client_ref: id, pad: 'x'.repeat(bytes) });
  const signed = (body: string, claims: Record<string, unknown> = {}) => bearer(vonageToken(body, secret, claims));
  const probe = (
    category: Probe['category'],
    name: string,
    make: (body: string) => { body: string; headers: Record<string, string> },
  ): Probe => ({ category, name, ...make(other()) });

  const probes: Probe[] = [
    {
      category: 'legit',
      name: 'valid signed callback (control: must signal once)',
      body: legit,
      headers: bearer(legitToken),
    },
    {
      category: 'replayed',
      name: `the same signed request replayed ${replays}×`,
      body: legit,
      headers: bearer(legitToken),
      times: replays,
    },
    probe('forged', 'no Authorization header', (body) => ({ body, headers: json })),
    probe('forged', 'Bearer garbage', (body) => ({ body, headers: bearer('not.a.jwt') })),
    probe('forged', 'signed with another secret', (body) => ({
      body,
      headers: bearer(vonageToken(body, 'x'.repeat(32))),
    })),
    probe('forged', 'alg none', (body) => ({
      body,
      headers: bearer(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iat: now, payload_hash: sha256(body) })}.`),
    })),
    probe('forged', 'valid token of another body (swapped body)', (body) => ({ body, headers: bearer(legitToken) })),
    probe('forged', 'body changed by one byte after signing', (body) => ({ body: `${body} `, headers: signed(body) })),
    probe('forged', 'no payload_hash claim', (body) => ({ body, headers: signed(body, { payload_hash: undefined }) })),
    probe('forged', 'Basic auth instead of Bearer', (body) => ({
      body,
      headers: { ...json, authorization: 'Basic dXNlcjpwYXNz' },
    })),
    probe('stale', 'iat 16 minutes ago', (body) => ({ body, headers: signed(body, { iat: now - 960 }) })),
    probe('stale', 'iat 1 day ago', (body) => ({ body, headers: signed(body, { iat: now - 86_400 }) })),
    probe('stale', 'iat 20 minutes in the future', (body) => ({ body, headers: signed(body, { iat: now + 1200 }) })),
    probe('stale', 'no iat claim', (body) => ({ body, headers: signed(body, { iat: undefined }) })),
    { category: 'malformed', name: 'not JSON (unsigned)', body: '{"request_id":', headers: json },
    { category: 'malformed', name: 'empty body (unsigned)', body: '', headers: json },
    {
      category: 'malformed',
      name: 'not JSON, correctly signed',
      body: '{"request_id":',
      headers: signed('{"request_id":'),
    },
    { category: 'malformed', name: 'JSON array, signed', body: '[1,2]', headers: signed('[1,2]') },
    ...[
      { name: 'wrong types (status 7, request_id object), signed', extra: { status: 7, request_id: { a: 1 } } },
      { name: 'request_id of 5000 characters, signed', extra: { request_id: 'r'.repeat(5000) } },
      {
        name: 'check_url not a URL, signed',
        extra: {
          channel: 'silent_auth',
          status: 'action_pending',
          action: { type: 'check', check_url: 'javascript:alert(1)' },
        },
      },
      { name: 'unknown status, signed', extra: { status: 'hacked' } },
    ].map(({ name, extra }): Probe => {
      const body = event(extra);
      return { category: 'malformed', name, body, headers: signed(body) };
    }),
    probe('malformed', 'text/plain body, signed', (body) => ({
      body,
      headers: { 'content-type': 'text/plain', authorization: signed(body).authorization },
    })),
    { category: 'oversized', name: '64 KiB + 1 byte JSON, signed', body: big(65_537), headers: signed(big(65_537)) },
    { category: 'oversized', name: '1 MiB JSON', body: big(1 << 20), headers: json },
    { category: 'oversized', name: '8 MiB JSON', body: big(8 << 20), headers: json },
    {
      category: 'oversized',
      name: '1 MiB form-encoded',
      body: `a=${'x'.repeat(1 << 20)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
  ];

  const results = await runProbes(sys, '/webhooks/vonage', id, probes);
  await fetch(`${sys.apiUrl}/v1/verifications/${id}/cancel`, {
    method: 'POST',
    headers: { ...json, ...sys.authHeader },
    body: '{}',
  });
  return results;
}

/** The provider ref (`<provider>:<id>`) a workflow published in VerificationProviderRef, once it has one. */
async function providerRefOf(sys: System, workflowId: string, provider: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const d = await sys.client.workflow.getHandle(workflowId).describe();
    const ref = (d.typedSearchAttributes.get(SA_PROVIDER_REF) ?? []).find((r) => r.startsWith(`${provider}:`));
    if (ref) return ref.slice(provider.length + 1);
    await sleep(100);
  }
  throw new Error(`fuzz target ${workflowId} never reached ${provider}`);
}

/** Signature-independent probes every provider gets: oversized bodies, unsigned and form-encoded. */
const oversized = (json: Record<string, string>): Probe[] => [
  { category: 'oversized', name: '1 MiB JSON', body: JSON.stringify({ pad: 'x'.repeat(1 << 20) }), headers: json },
  {
    category: 'oversized',
    name: '1 MiB form-encoded',
    body: `a=${'x'.repeat(1 << 20)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  },
];

/**
 * The same against `/webhooks/stripe` (sandbox mode: the API's own Stripe emulator and webhook secret), aimed at a
 * live identity verification waiting on its user: Stripe-Signature forged, stale (either side of the 300-s window),
 * replayed, and signed bodies the contract refuses.
 */
export async function fuzzStripeWebhook(sys: System, replays: number): Promise<ProbeResult[]> {
  const secret = loadConfig(sys.env()).stripe!.webhookSecret;
  const json = { 'content-type': 'application/json', ...sys.authHeader };
  const start = await fetch(`${sys.apiUrl}/v1/verifications/identity`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ reference: `fuzz-${randomUUID().slice(0, 12)}`, type: 'document' }),
  });
  const { id } = (await start.json()) as { id: string };
  const sessionId = await providerRefOf(sys, id, 'stripe');
  let n = 0;
  const event = (object: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: `evt_fuzz_${++n}_${randomUUID().slice(0, 8)}`,
      object: 'event',
      type: 'identity.verification_session.processing',
      created: Math.floor(Date.now() / 1000),
      data: {
        object: {
          id: sessionId,
          object: 'identity.verification_session',
          status: 'processing',
          last_error: null,
          last_verification_report: null,
          redaction: null,
          metadata: { workflow_id: id },
          ...object,
        },
      },
    });
  const header = (body: string, opts: { secret?: string; timestamp?: number } = {}) =>
    signStripeWebhook(body, opts.secret ?? secret, opts.timestamp);
  const signed = (body: string, opts: { secret?: string; timestamp?: number } = {}) => ({
    ...json,
    'stripe-signature': header(body, opts),
  });
  const now = Math.floor(Date.now() / 1000);
  const legit = event();
  const legitHeaders = signed(legit);
  const probe = (
    category: Probe['category'],
    name: string,
    make: (body: string) => { body: string; headers: Record<string, string> },
  ): Probe => ({ category, name, ...make(event()) });
  const probes: Probe[] = [
    { category: 'legit', name: 'valid signed event (control: must signal once)', body: legit, headers: legitHeaders },
    {
      category: 'replayed',
      name: `the same signed request replayed ${replays}×`,
      body: legit,
      headers: legitHeaders,
      times: replays,
    },
    probe('forged', 'no Stripe-Signature', (body) => ({ body, headers: json })),
    probe('forged', 'signed with another secret', (body) => ({ body, headers: signed(body, { secret: 'whsec_x' }) })),
    probe('forged', 'valid header of another body (swapped body)', (body) => ({ body, headers: legitHeaders })),
    probe('forged', 'body changed by one byte after signing', (body) => ({ body: `${body} `, headers: signed(body) })),
    probe('forged', 'v0 scheme only', (body) => ({
      body,
      headers: { ...json, 'stripe-signature': header(body).replace('v1=', 'v0=') },
    })),
    probe('forged', 'garbage header', (body) => ({ body, headers: { ...json, 'stripe-signature': 't=1,v1=00' } })),
    probe('stale', 'signed 10 minutes ago', (body) => ({ body, headers: signed(body, { timestamp: now - 600 }) })),
    probe('stale', 'signed 1 day ago', (body) => ({ body, headers: signed(body, { timestamp: now - 86_400 }) })),
    probe('stale', 'signed 10 minutes in the future', (body) => ({
      body,
      headers: signed(body, { timestamp: now + 600 }),
    })),
    { category: 'malformed', name: 'not JSON, correctly signed', body: '{"id":', headers: signed('{"id":') },
    { category: 'malformed', name: 'JSON array, correctly signed', body: '[1,2]', headers: signed('[1,2]') },
    ...[
      { name: 'session id a number, signed', object: { id: 7 } },
      { name: 'another object type, signed', object: { object: 'charge' } },
    ].map(({ name, object }): Probe => {
      const body = event(object);
      return { category: 'malformed', name, body, headers: signed(body) };
    }),
    ...oversized(json),
  ];
  const results = await runProbes(sys, '/webhooks/stripe', id, probes);
  await fetch(`${sys.apiUrl}/v1/verifications/${id}/redact`, { method: 'POST', headers: json, body: '{}' });
  return results;
}

/**
 * The same against `/webhooks/twilio` (sandbox mode): X-Twilio-Signature (HMAC-SHA1 over the configured webhook URL
 * and the sorted form parameters) forged, replayed, and signed parameters the contract refuses, aimed at the push
 * enrollment of a fresh identity. Twilio's scheme carries no timestamp, so there is no stale probe: replays are
 * what a captured request allows, and they must not signal.
 */
export async function fuzzTwilioWebhook(sys: System, replays: number): Promise<ProbeResult[]> {
  const twilio = loadConfig(sys.env()).twilio!;
  const identity = randomUUID();
  const workflowId = `push-enrollment-${identity}`;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const params = (extra: Record<string, string> = {}): Record<string, string> => ({
    uuid: randomUUID(),
    type: 'factor.created',
    account_sid: twilio.accountSid,
    service_sid: twilio.serviceSid,
    entity_identity: identity,
    factor_sid: `YF${randomUUID().replace(/-/g, '')}`,
    factor_type: 'push',
    date_created: new Date().toISOString(),
    ...extra,
  });
  const encode = (p: Record<string, string>) => new URLSearchParams(p).toString();
  const signedBy = (p: Record<string, string>, token = twilio.authToken, url = twilio.webhookUrl) => ({
    ...form,
    'x-twilio-signature': signTwilioWebhook(token, url, p),
  });
  const legitParams = params();
  const legit = { body: encode(legitParams), headers: signedBy(legitParams) };
  const probe = (
    category: Probe['category'],
    name: string,
    make: (p: Record<string, string>) => { body: string; headers: Record<string, string> },
  ): Probe => ({ category, name, ...make(params()) });
  const probes: Probe[] = [
    { category: 'legit', name: 'valid signed factor.created (control: must signal once)', ...legit },
    { category: 'replayed', name: `the same signed request replayed ${replays}×`, ...legit, times: replays },
    probe('forged', 'no X-Twilio-Signature', (p) => ({ body: encode(p), headers: form })),
    probe('forged', 'signed with another auth token', (p) => ({
      body: encode(p),
      headers: signedBy(p, 'x'.repeat(32)),
    })),
    probe('forged', 'signed for another URL', (p) => ({
      body: encode(p),
      headers: signedBy(p, twilio.authToken, 'https://attacker.example/webhooks/twilio'),
    })),
    probe('forged', 'valid signature of other parameters (swapped body)', (p) => ({
      body: encode(p),
      headers: legit.headers,
    })),
    probe('forged', 'a parameter changed after signing', (p) => ({
      body: encode({ ...p, type: 'factor.verified' }),
      headers: signedBy(p),
    })),
    probe('forged', 'a parameter added after signing', (p) => ({
      body: encode({ ...p, extra: '1' }),
      headers: signedBy(p),
    })),
    ...(
      [
        { name: 'unknown event type, signed', extra: { type: 'factor.hacked' } },
        { name: 'identity that is an e-mail address, signed', extra: { entity_identity: 'someone@example.com' } },
        { name: 'no uuid, signed', extra: { uuid: '' } },
        { name: 'another account, signed', extra: { account_sid: `AC${'1'.repeat(32)}` } },
      ] as { name: string; extra: Record<string, string> }[]
    ).map(({ name, extra }): Probe => {
      const p = params(extra);
      return { category: 'malformed', name, body: encode(p), headers: signedBy(p) };
    }),
    {
      category: 'malformed',
      name: 'JSON body, unsigned',
      body: '{"type":"factor.created"}',
      headers: { 'content-type': 'application/json' },
    },
    ...oversized({ 'content-type': 'application/json' }),
  ];
  return runProbes(sys, '/webhooks/twilio', workflowId, probes);
}
