import { createHash, randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { temporal } from '@temporalio/proto';
import { SA_PROVIDER_REF } from '../../workflows/definitions';
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
  const history = await sys.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter(
    (e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  ).length;
}

/**
 * Forged, replayed, stale, malformed and oversized Vonage callbacks against `/webhooks/vonage`, aimed at a live
 * verification (its real `request_id` and `client_ref`, so anything accepted would really signal it). Counts the
 * answers and the signals that reached the workflow's history after each probe.
 */
export async function fuzzVonageWebhook(sys: System, replays: number): Promise<ProbeResult[]> {
  const secret = sys.provider.credentials.signatureSecret;
  // A live target: silent auth waits for the device for 15 minutes.
  const start = await fetch(`${sys.apiUrl}/v1/verifications/phone`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      to: `+1212${String(3_000_000 + Math.floor(Math.random() * 900_000))}`,
      brand: 'Fuzz',
      channels: [{ channel: 'silent_auth', timeoutSeconds: 900 }],
    }),
  });
  const { id } = (await start.json()) as { id: string };
  // The provider request id, from the VerificationProviderRef search attribute (`vonage:<request_id>`).
  let requestId: string | undefined;
  for (let i = 0; i < 300 && !requestId; i++) {
    const d = await sys.client.workflow.getHandle(id).describe();
    const refs = d.typedSearchAttributes.get(SA_PROVIDER_REF) ?? [];
    requestId = refs.find((r) => r.startsWith('vonage:'))?.slice('vonage:'.length);
    if (!requestId) await sleep(100);
  }
  if (!requestId) throw new Error('fuzz target verification never reached the provider');
  await sleep(1500); // its own action_pending callback lands first

  const event = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      request_id: requestId,
      triggered_at: new Date().toISOString(),
      channel: 'silent_auth',
      status: 'action_pending',
      action: { type: 'check', check_url: `${sys.provider.apiHost}/v2/verify/${requestId}/silent-auth/redirect` },
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
      { name: 'check_url not a URL, signed', extra: { action: { type: 'check', check_url: 'javascript:alert(1)' } } },
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

  const results: ProbeResult[] = [];
  for (const probe of probes) {
    const before = await signalCount(sys, id);
    const statuses: Record<string, number> = {};
    let maxMs = 0;
    let rejected = 0;
    const times = probe.times ?? 1;
    for (let i = 0; i < times; i++) {
      const t0 = performance.now();
      let status = 0;
      try {
        const res = await fetch(`${sys.apiUrl}/webhooks/vonage`, {
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
    const signalled = (await signalCount(sys, id)) - before;
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
  await fetch(`${sys.apiUrl}/v1/verifications/${id}/cancel`, { method: 'POST', headers: json, body: '{}' });
  return results;
}
