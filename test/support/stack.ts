import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import request from 'supertest';
import type { AbuseGuard } from '../../activities/abuse-guard';
import { createApi, type ApiApp } from '../../src/app';
import { createAbuseGuard } from '../../src/auth/abuse-guard';
import { SANDBOX_CLIENT_KEY } from '../../src/config/auth-config';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { connectClient } from '../../src/temporal/client';
import { createWorker } from '../../src/temporal/worker';
import type { Tracing } from '../../src/telemetry/tracing';
import { freePort } from './ports';

export interface Stack extends ApiApp {
  config: AppConfig;
  client: Client;
  worker: Worker;
  guard: AbuseGuard;
  baseUrl: string;
  /** Requests as the sandbox test client (`Authorization: Bearer vf_test_sandbox`). */
  http: () => ReturnType<typeof request.agent>;
  /** Requests without a credential (webhooks, health, or to see a 401). */
  anon: () => ReturnType<typeof request>;
  stop(): Promise<void>;
}

/** The header of the sandbox's documented test client. */
export const SANDBOX_AUTH = `Bearer ${SANDBOX_CLIENT_KEY}`;

/**
 * Abuse limits generous enough that suites which start many verifications to the sandbox's special numbers are not
 * refused; the abuse guard's own tests set theirs.
 */
const TEST_LIMITS = {
  LIMIT_SENDS_PER_DESTINATION: '200/10m',
  LIMIT_SENDS_PER_DESTINATION_DAY: '1000/24h',
  LIMIT_SENDS_PER_PREFIX: '1000/10m',
  LIMIT_SENDS_PER_CLIENT: '100000/1h',
  LIMIT_FAILED_CHECKS_PER_DESTINATION: '200/1h',
};

/** Shared by every test run: the sandbox's Vonage key pair lives here. */
export const TEST_DATA_DIR = join(tmpdir(), 'verifyflow-test-data');
/** A fixed, non-secret payload key for tests, so recorded (encrypted) histories replay in CI. */
export const TEST_CODEC_KEYS = 'test:dmVyaWZ5Zmxvdy10ZXN0LWtleS1ub3Qtc2VjcmV0ISE=';

/** Config for a test: the suite's Temporal dev server, a task queue of its own, sandbox providers. */
export function testConfig(port: number, extra: Record<string, string> = {}): AppConfig {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('TEST_TEMPORAL_ADDRESS is not set: run the tests with jest (global setup starts Temporal)');
  return loadConfig(
    {
      PATH: process.env.PATH,
      PORT: String(port),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
      DATA_DIR: TEST_DATA_DIR,
      VERIFYFLOW_SANDBOX: 'true',
      PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS,
      ...TEST_LIMITS,
      ...extra,
    },
    { singleProcess: true },
  );
}

/**
 * The whole system in-process: worker (through the plugin), API and sandbox, on a free port; with `tracing`, traced
 * as `npm run dev` is with OTEL_EXPORTER_OTLP_ENDPOINT set.
 */
export async function startStack(
  extra: Record<string, string> = {},
  port?: number,
  options: { tracing?: Tracing } = {},
): Promise<Stack> {
  port ??= await freePort();
  const config = testConfig(port, extra);
  const plugins = options.tracing ? [options.tracing.plugin] : [];
  const client = await connectClient(config, { plugins });
  const guard = createAbuseGuard(config.limits);
  const { worker, connection } = await createWorker(config, guard, { plugins });
  const running = worker.run();
  const api = await createApi(config, client, guard, { logger: false, tracing: options.tracing });
  await api.app.listen(port, '127.0.0.1');
  return {
    ...api,
    config,
    client,
    worker,
    guard,
    baseUrl: config.publicUrl,
    http: () => request.agent(api.app.getHttpServer()).set('Authorization', SANDBOX_AUTH),
    anon: () => request(api.app.getHttpServer()),
    async stop() {
      api.sandbox?.close();
      worker.shutdown();
      await running;
      await connection.close();
      await api.app.close();
      await guard.close();
    },
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
