import type { Server } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import express, { type Express } from 'express';
import { verifyVonageCallback } from '../../providers/vonage/verify-callback';
import { type VonageCheckOutcome, VonageVerifyAdapter } from '../../providers/vonage/verify';

/**
 * BENCHMARK BASELINE, NOT A PRODUCT PATH. What a team would write without an orchestrator: an express app that calls
 * Vonage Verify v2 and keeps `{ requestId, status }` in a Map in its own memory. It calls Vonage through the worker's
 * own adapter (`VonageVerifyAdapter`: `@vonage/server-sdk`, the application JWT parsed once and reused) with the
 * request shape of the worker's SMS step, so the provider calls cost the same on both sides and only the orchestration
 * differs. `npm run bench` (phase `durability`) runs it as its own child
 * process and drives it like verifyflow's SMS flow (start → code from the sandbox outbox → check), so the two compare:
 * latency and CPU per verification, "the cost of durability".
 *
 * Left out on purpose, since it is what the comparison prices: no Temporal (a restart loses every verification, no
 * retry of a failed provider call, no timeouts or channel fallback of our own, no audit history), no payload
 * encryption, no caller authentication, no abuse guard, no idempotency; the Map is never pruned. The provider's
 * callbacks are checked as production checks them (`verifyVonageCallback`: HS256 signature, body hash, age).
 *
 * Routes: `POST /start {phone}` → 201 `{id, status}` (the id is Vonage's request id) · `POST /check {id, code}` →
 * 200 `{id, status}`, or Vonage's 4xx (400 wrong code, 404, 409, 410 too many wrong codes) answered as such · `GET /verifications/:id` · `POST /webhook`
 * (Vonage's signed event callbacks) · `GET /health`.
 */

export type PlainStatus = 'pending' | 'completed' | 'failed' | 'expired';

export interface PlainRouteOptions {
  applicationId: string;
  /** PEM text or a path to the application's private key. */
  privateKey: string;
  /** The Vonage API host (the emulator's base URL in the bench). */
  apiHost?: string;
  /** Verifies the provider's signed callbacks. */
  signatureSecret: string;
  /** Default `Bench`, the brand the bench's verifyflow flows use. */
  brand?: string;
}

/** The channel timeout verifyflow asks Vonage for on an SMS step with default settings (120 s + its 30 s backstop). */
const CHANNEL_TIMEOUT_SECONDS = 150;
const PHONE = /^\+[1-9]\d{6,14}$/;
const CODE = /^[A-Za-z0-9]{4,10}$/;

/** The terminal statuses a Verify v2 `event` callback can set here. */
const FROM_CALLBACK: Record<string, PlainStatus> = {
  completed: 'completed',
  failed: 'failed',
  user_rejected: 'failed',
  blocked: 'failed',
  expired: 'expired',
};

/** Vonage's answer to a check, back as the HTTP status and problem title it came with. */
const CHECK_ANSWER: Record<VonageCheckOutcome, { http: number; error?: string }> = {
  completed: { http: 200 },
  invalid_code: { http: 400, error: 'Invalid Code' },
  not_found: { http: 404, error: 'Not Found' },
  code_not_supported: { http: 409, error: 'Conflict' },
  too_many_attempts: { http: 410, error: 'Gone' },
};

/** The plain route's express app and its in-memory state. */
export function createPlainRoute(options: PlainRouteOptions): {
  app: Express;
  verifications: Map<string, { requestId: string; status: PlainStatus }>;
} {
  const vonage = new VonageVerifyAdapter(options);
  const verifications = new Map<string, { requestId: string; status: PlainStatus }>();
  const app = express();
  app.disable('x-powered-by');

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });

  app.post('/start', express.json({ limit: '10kb' }), async (req, res) => {
    const phone = (req.body as { phone?: unknown } | undefined)?.phone;
    if (typeof phone !== 'string' || !PHONE.test(phone)) {
      res.status(400).json({ error: '`phone` must be an E.164 number' });
      return;
    }
    try {
      const { requestId } = await vonage.startVerification({
        brand: options.brand ?? 'Bench',
        steps: [{ channel: 'sms', to: phone }],
        channelTimeoutSeconds: CHANNEL_TIMEOUT_SECONDS,
      });
      verifications.set(requestId, { requestId, status: 'pending' });
      res.status(201).json({ id: requestId, status: 'pending' });
    } catch (err) {
      // Vonage refused the request (the adapter's non-retryable failures), or was unreachable: no retry here.
      const refused = err instanceof ApplicationFailure && err.nonRetryable;
      res.status(refused ? 422 : 502).json({ error: (err as Error).message });
    }
  });

  app.post('/check', express.json({ limit: '10kb' }), async (req, res) => {
    const { id, code } = (req.body ?? {}) as { id?: unknown; code?: unknown };
    if (typeof id !== 'string' || !id) {
      res.status(400).json({ error: '`id` is required' });
      return;
    }
    if (typeof code !== 'string' || !CODE.test(code)) {
      res.status(400).json({ error: '`code` must be 4 to 10 letters or digits' });
      return;
    }
    const v = verifications.get(id);
    if (!v) {
      res.status(404).json({ error: 'no such verification' });
      return;
    }
    try {
      const outcome = await vonage.checkCode(v.requestId, code);
      if (outcome === 'completed') v.status = 'completed';
      // 410: too many wrong codes, Vonage ended the request.
      if (outcome === 'too_many_attempts') v.status = 'failed';
      const answer = CHECK_ANSWER[outcome];
      res.status(answer.http).json({ id, status: v.status, ...(answer.error ? { error: answer.error } : {}) });
    } catch (err) {
      res.status(502).json({ id, status: v.status, error: (err as Error).message });
    }
  });

  app.get('/verifications/:id', (req, res) => {
    const v = verifications.get(req.params.id);
    if (!v) res.status(404).json({ error: 'no such verification' });
    else res.json({ id: v.requestId, status: v.status });
  });

  app.post('/webhook', express.raw({ type: '*/*', limit: '100kb' }), (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifyVonageCallback(raw, req.get('authorization'), options.signatureSecret).ok) {
      res.status(401).end();
      return;
    }
    let body: { request_id?: unknown; status?: unknown; type?: unknown };
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      res.status(400).end();
      return;
    }
    const v = typeof body.request_id === 'string' ? verifications.get(body.request_id) : undefined;
    const status = typeof body.status === 'string' ? FROM_CALLBACK[body.status] : undefined;
    if (v && status && body.type !== 'summary' && v.status === 'pending') v.status = status;
    res.status(204).end();
  });

  return { app, verifications };
}

/** Run as a child process of the bench: configuration from the environment, like the API and worker. */
if (require.main === module) {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const { app } = createPlainRoute({
    applicationId: env('VONAGE_APPLICATION_ID'),
    privateKey: env('VONAGE_PRIVATE_KEY'),
    apiHost: env('VONAGE_API_HOST'),
    signatureSecret: env('VONAGE_SIGNATURE_SECRET'),
  });
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(env('PORT'));
  const server: Server = app.listen(port, host, () => console.log(`plain route (baseline) on ${host}:${port}`));
  server.keepAliveTimeout = 30_000;
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
