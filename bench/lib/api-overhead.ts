import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ClientSettings, explicitProviders } from '../../src/auth/client-settings';
import { ZodBody } from '../../src/common/zod-body';
import { phoneStartSchema } from '../../src/phone/phone.controller';
import { EncryptionCodec } from '../../src/temporal/codec';
import { phoneContract, type PhoneVerificationInput, type ProviderEvent } from '../../workflows/contract';
import { initialState } from '../../workflows/phone/state';
import { cpuMs, type Child } from './children';
import { type CodecCounts, noCodecCounts, payloadBytes } from './codec-count';
import { http } from './http';
import { Recorder, SCENARIOS } from './scenarios';
import type { System } from './system';
import { pool, round, sleep, summarize, type Summary } from './util';

/**
 * The routes of bench/api-plain-child.ts, `POST /plain/<route>`, each the API's phone start with less around it:
 * - `full`: what the API's guard, pipe and controller do, called as plain functions: the API key checked
 *   (Authenticator), the body validated (the controller's zod schema), then PhoneService.start (client settings,
 *   the abuse guard's count in Redis, the start). Left out: NestJS and express (routing, the global guard's metadata
 *   lookup, param decorators and pipes, the Retry-After interceptor, the error filter, express's JSON body parser
 *   and its content-type check).
 * - `unvalidated`: `full` without the zod validation of the body.
 * - `temporal`: no credential, no validation, an abuse guard that allows everything without a store: the same
 *   PhoneService.start (so the same input, workflow ID, memo, search attributes, summaries and payload codec) and
 *   nothing else.
 */
export const PLAIN_ROUTES = ['full', 'unvalidated', 'temporal'] as const;
export type PlainRoute = (typeof PLAIN_ROUTES)[number];

/** The body every measured start sends: an SMS-first phone verification (a plain start, no update-with-start). */
export const smsStartBody = (to: string) => ({ to, brand: 'Bench', channels: [{ channel: 'sms' as const }] });

export interface Target {
  name: string;
  /** The process that serves it (its CPU is read from /proc). */
  process: string;
  pid: number;
  url: string;
  headers: Record<string, string>;
}

export interface TargetRow {
  name: string;
  process: string;
  requests: number;
  ok: number;
  errors: string[];
  cpuMsPerRequest: number;
  /** CPU ms per request of each round, to show the spread. */
  cpuMsPerRequestByRound: number[];
  latencyMs: Summary;
}

/**
 * Sends `perBatch` starts to each target in turn (concurrency `concurrency`), `rounds` times: the targets alternate,
 * so each sees the same machine load. Measures each batch's CPU time of the serving process (/proc) and each
 * request's latency (to the whole answer read).
 */
export async function compareTargets(
  targets: Target[],
  options: { rounds: number; perBatch: number; concurrency: number; number: () => string },
): Promise<TargetRow[]> {
  const acc = targets.map(() => ({ cpu: 0, cpuByRound: [] as number[], ok: 0, n: 0, latency: [] as number[] }));
  const errors = targets.map(() => new Recorder());
  for (let r = 0; r < options.rounds; r++) {
    for (const [i, t] of targets.entries()) {
      const before = cpuMs(t.pid) ?? 0;
      await pool(options.perBatch, options.concurrency, async () => {
        const res = await http('POST', t.url, smsStartBody(options.number()), 30_000, t.headers);
        acc[i].n++;
        if (res.status === 201) {
          acc[i].ok++;
          acc[i].latency.push(res.ms);
        } else {
          errors[i].error(`HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`);
        }
      });
      const used = (cpuMs(t.pid) ?? 0) - before;
      acc[i].cpu += used;
      acc[i].cpuByRound.push(round(used / options.perBatch, 2));
    }
  }
  return targets.map((t, i) => ({
    name: t.name,
    process: t.process,
    requests: acc[i].n,
    ok: acc[i].ok,
    errors: errors[i].errors.slice(0, 3),
    cpuMsPerRequest: round(acc[i].cpu / Math.max(1, acc[i].n), 2),
    cpuMsPerRequestByRound: acc[i].cpuByRound,
    latencyMs: summarize(acc[i].latency),
  }));
}

/** The targets: the API's route, and each plain route. */
export function targets(sys: System, plain: Child, plainUrl: string): Target[] {
  return [
    {
      name: 'nest',
      process: 'api',
      pid: sys.api!.pid,
      url: `${sys.apiUrlOf(0)}/v1/verifications/phone`,
      headers: sys.authHeader,
    },
    ...PLAIN_ROUTES.map((r) => ({
      name: `plain-${r}`,
      process: 'plain',
      pid: plain.pid,
      url: `${plainUrl}/plain/${r}`,
      headers: sys.authHeader,
    })),
  ];
}

/**
 * Realistic payloads of an SMS verification, as the default payload converter makes them (before the codec): the
 * start input the API builds, the state a start or a query answers, a provider callback signal, a check's argument.
 */
export function samplePayloads(): Record<string, Payload> {
  const body = new ClientSettings({}, ['twilio']).phoneStart('bench', smsStartBody('+14155550100'), [false]);
  const input: PhoneVerificationInput = { ...body, client: 'bench', firstSendCounted: true };
  const id = phoneContract.id('0123456789abcdef0123', 'bench');
  const state = initialState(input, id, Date.now()).view;
  const signal: ProviderEvent = {
    eventId: 'c6a1d1c8-2f5e-4f5c-9d2c-0a7b6f3e9d11',
    provider: 'vonage',
    ref: 'f3a9d7e2-5b1c-4a8e-9f2d-7c6b5a4e3d21',
    channel: 'sms',
    status: 'completed',
    occurredAt: new Date().toISOString(),
  };
  const convert = (v: unknown) => defaultPayloadConverter.toPayload(v);
  return {
    startInput: convert(input),
    state: convert(state),
    providerEventSignal: convert(signal),
    checkCodeArgument: convert({ code: '123456' }),
  };
}

export interface CodecCostRow {
  payload: string;
  /** Size handed to the codec (data + metadata). */
  bytes: number;
  /** Size once encrypted (data + metadata). */
  encryptedBytes: number;
  encodeUs: number;
  decodeUs: number;
  totalUs: number;
}

/**
 * CPU µs per payload of the AES-256-GCM codec, encode and decode apart, in this process: `iterations` one-payload calls
 * each (the SDK calls the codec with a few payloads at a time), timed with process.cpuUsage().
 */
export async function codecCost(iterations: number): Promise<CodecCostRow[]> {
  const codec = new EncryptionCodec({ current: 'bench', keys: { bench: randomBytes(32) } });
  const rows: CodecCostRow[] = [];
  const samples = Object.entries(samplePayloads());
  for (let i = 0; i < 5000; i++) for (const [, p] of samples) await codec.decode(await codec.encode([p])); // warm-up
  for (const [name, payload] of samples) {
    const [encrypted] = await codec.encode([payload]);
    let started = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await codec.encode([payload]);
    const encode = process.cpuUsage(started);
    started = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await codec.decode([encrypted]);
    const decode = process.cpuUsage(started);
    const us = (u: NodeJS.CpuUsage) => (u.user + u.system) / iterations;
    rows.push({
      payload: name,
      bytes: payloadBytes(payload),
      encryptedBytes: payloadBytes(encrypted),
      encodeUs: round(us(encode), 2),
      decodeUs: round(us(decode), 2),
      totalUs: round(us(encode) + us(decode), 2),
    });
  }
  return rows;
}

/**
 * CPU µs per call of the pure steps around a phone start, in this process: the controller's body validation (zod),
 * the client settings filled in. Both run once per request in the API and on the `full` plain route.
 */
export function pipelineStepCost(iterations: number): Record<string, number> {
  const validate = new ZodBody(phoneStartSchema);
  const settings = new ClientSettings({}, ['twilio']);
  const raw = smsStartBody('+14155550100');
  const steps: Record<string, () => unknown> = {
    validateBody: () => validate.transform(raw),
    clientSettings: () => settings.phoneStart('bench', raw, explicitProviders(raw)),
  };
  const out: Record<string, number> = {};
  for (const [name, step] of Object.entries(steps)) {
    for (let i = 0; i < 2000; i++) step(); // warm-up
    const started = process.cpuUsage();
    for (let i = 0; i < iterations; i++) step();
    const used = process.cpuUsage(started);
    out[name] = round((used.user + used.system) / iterations, 2);
  }
  return out;
}

async function codecCounts(child: Child, reset = false): Promise<CodecCounts> {
  const answer = await child.ask<{ codecCounts: CodecCounts | 'reset' }>(reset ? 'codec-reset' : 'codec-counts');
  return answer.codecCounts === 'reset' ? noCodecCounts() : answer.codecCounts;
}

export interface CodecPerVerification {
  process: string;
  encodedPayloads: number;
  decodedPayloads: number;
  /** Mean size of an encoded payload before encryption, and of a decoded one as stored. */
  encodedBytesMean: number;
  decodedBytesMean: number;
  /** Encoded payloads per verification by their `encoding` before encryption. */
  encodedByEncoding: Record<string, number>;
  /** Milliseconds spent in the codec per verification, measured in the process (encode + decode). */
  codecMs: number;
  /** The process's CPU per verification over the same runs (/proc), for scale. */
  processCpuMs: number;
  /** codecMs / processCpuMs, %. */
  codecSharePercent: number;
}

/**
 * Runs `count` SMS happy paths (start → SMS → check → completed, through the API) on a system whose API and worker
 * count their codec calls (started with bench/codec-count-preload): payloads and codec time per verification in each
 * process, with that process's CPU over the same runs.
 */
export async function codecPerVerification(
  sys: System,
  count: number,
  number: () => string,
): Promise<{ runs: number; outcomes: Record<string, number>; errors: string[]; rows: CodecPerVerification[] }> {
  const happy = SCENARIOS.find((s) => s.name === 'phone-sms-happy')!;
  const processes: [string, Child][] = [
    ['api', sys.api!],
    ['worker', sys.worker!],
  ];
  for (const [, child] of processes) await codecCounts(child, true);
  const cpuBefore = processes.map(([, c]) => cpuMs(c.pid) ?? 0);
  const rec = new Recorder();
  let runs = 0;
  await pool(count, 2, async (i) => {
    try {
      const result = await happy.run!({ sys, rec, number }, i);
      rec.outcome(result.status);
      runs++;
    } catch (err) {
      rec.error((err as Error).message);
    }
  });
  await sleep(2000); // late callbacks still signal
  const rows: CodecPerVerification[] = [];
  for (const [k, [name, child]] of processes.entries()) {
    const c = await codecCounts(child);
    const cpu = ((cpuMs(child.pid) ?? 0) - cpuBefore[k]) / Math.max(1, runs);
    const codecMs = (c.encodeMs + c.decodeMs) / Math.max(1, runs);
    rows.push({
      process: name,
      encodedPayloads: round(c.encodedPayloads / Math.max(1, runs), 1),
      decodedPayloads: round(c.decodedPayloads / Math.max(1, runs), 1),
      encodedByEncoding: Object.fromEntries(
        Object.entries(c.encodedByEncoding).map(([k, v]) => [k, round(v / Math.max(1, runs), 1)]),
      ),
      encodedBytesMean: Math.round(c.encodedBytesIn / Math.max(1, c.encodedPayloads)),
      decodedBytesMean: Math.round(c.decodedBytesIn / Math.max(1, c.decodedPayloads)),
      codecMs: round(codecMs, 3),
      processCpuMs: round(cpu, 1),
      codecSharePercent: round((100 * codecMs) / Math.max(0.001, cpu), 2),
    });
  }
  return { runs, outcomes: rec.outcomes, errors: rec.errors.slice(0, 3), rows };
}
