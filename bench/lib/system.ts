import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startRedisServer, type RedisServer } from '../../src/common/redis-server';
import { codecDataConverter, parseCodecKeys } from '../../src/temporal/codec';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import type { VonageEmulatorOptions } from '../../sandbox/vonage-emulator';
import type { ClientCalls } from '../api-child';
import { findPidByArgs, httpOk, spawnNode, type Child } from './children';
import { startProviderSandbox, type ProviderSandbox } from './provider';
import { freePort } from './util';

/** dist/ root of the compiled tree (this file is dist/bench/lib/system.js). */
export const DIST = resolve(__dirname, '..', '..');
export const REPO = resolve(DIST, '..');

export type WorkerVariant = 'default' | 'unshared';

/** Worker environment of each variant. */
const VARIANT_ENV: Record<WorkerVariant, Record<string, string>> = {
  default: {},
  unshared: { WORKER_SHARE_WORKFLOW_LIBRARIES: 'false' },
};

export interface SystemOptions {
  /** Scratch directory: logs, SQLite file, the application key. */
  runDir: string;
  /** Temporal on a SQLite file (survives a restart); default in memory. */
  persistent?: boolean;
  /** Extra environment for the worker (e.g. WORKER_MAX_CACHED_WORKFLOWS). */
  workerEnv?: Record<string, string>;
  emulator?: Partial<VonageEmulatorOptions>;
  /** Start no verifyflow worker (the bare baseline runs alone). */
  noWorker?: boolean;
  /** `unshared` runs the worker with WORKER_SHARE_WORKFLOW_LIBRARIES=false (the "before" of that tuning). */
  worker?: WorkerVariant;
  /**
   * Sandbox mode (fuzzing): every provider emulator is mounted in the API, so every route is configured; callbacks are
   * signed from outside with the sandbox's own secrets (read with `loadConfig(sys.env())`).
   */
  sandbox?: boolean;
  /** Node flags for the worker (e.g. --cpu-prof). */
  workerExecArgv?: string[];
  /**
   * Abuse limits of the API and worker (LIMIT_* variables). Default: so high that the load never meets them, while
   * every send and check still goes through the guard (its cost stays in the figures).
   */
  limits?: Record<string, string>;
}

/** Limits the benchmark's load never reaches: the guard counts everything, refuses nothing. */
export const UNREACHED_LIMITS: Record<string, string> = {
  LIMIT_SENDS_PER_DESTINATION: '1000000/10m',
  LIMIT_SENDS_PER_DESTINATION_DAY: '1000000/24h',
  LIMIT_SENDS_PER_PREFIX: '1000000/10m',
  LIMIT_SENDS_PER_CLIENT: '100000000/1h',
  LIMIT_FAILED_CHECKS_PER_DESTINATION: '1000000/1h',
};

/**
 * The whole system on loopback, each part where production has it: the real Temporal dev server (CLI), the provider
 * emulator in this process, the API (`bench/api-child`, i.e. `createApi` + a call counter) and the worker
 * (`dist/src/worker.js`) as child processes, so they can be measured (RSS) and killed (-9) separately. Every port is
 * a free one: a running `npm run dev` (3000/7233/8233) is not disturbed.
 */
export class System {
  server?: DevServer;
  /** The abuse guard's store, shared by the API and worker processes (as in production). */
  redis?: RedisServer;
  api?: Child;
  worker?: Child;
  client!: Client;
  /** A client without the payload codec, for the bare baseline workflow. */
  bareClient!: Client;
  provider!: ProviderSandbox;
  readonly taskQueue = `bench-${randomUUID().slice(0, 8)}`;
  temporalPort = 0;
  apiPort = 0;
  /** Payload encryption is always on outside sandbox mode: one key per run. */
  readonly codecKeys = `bench:${randomBytes(32).toString('base64')}`;
  /** The API key of the run's client `bench` (the API holds only its SHA-256). */
  readonly apiKey = `vf_bench_${randomBytes(16).toString('hex')}`;

  /** `Authorization` of every REST call the drivers make. */
  get authHeader(): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}` };
  }

  constructor(readonly options: SystemOptions) {
    mkdirSync(options.runDir, { recursive: true });
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.temporalPort}`;
  }

  static async start(options: SystemOptions): Promise<System> {
    const system = new System(options);
    system.temporalPort = await freePort();
    system.apiPort = await freePort();
    await system.startTemporal();
    system.redis = await startRedisServer({ binary: process.env.REDIS_SERVER_BIN, pathEnv: process.env.PATH });
    const connection = await Connection.connect({ address: system.temporalAddress });
    system.client = new Client({
      connection,
      namespace: 'default',
      // The run's payload key: memos and results are encrypted like every payload.
      dataConverter: codecDataConverter(parseCodecKeys(system.codecKeys)),
    });
    // The bare baseline encrypts nothing, as before: its worker has no codec.
    system.bareClient = new Client({ connection, namespace: 'default' });
    system.provider = await startProviderSandbox(
      options.runDir,
      () => `${system.apiUrl}/webhooks/vonage`,
      options.emulator,
    );
    await system.startApi();
    if (!options.noWorker) await system.startWorker();
    return system;
  }

  /** Environment of the API and worker processes: loopback Temporal, our task queue, the external emulator. */
  env(extra: Record<string, string> = {}): Record<string, string | undefined> {
    const c = this.provider.credentials;
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(this.apiPort),
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      DATA_DIR: this.options.runDir,
      VERIFYFLOW_SANDBOX: this.options.sandbox ? 'true' : 'false',
      // The sandbox never runs beside a real credential: in sandbox mode Vonage is the API's own emulator.
      ...(this.options.sandbox
        ? {}
        : {
            VONAGE_APPLICATION_ID: c.applicationId,
            VONAGE_PRIVATE_KEY: c.privateKeyFile,
            VONAGE_SIGNATURE_SECRET: c.signatureSecret,
            VONAGE_API_HOST: this.provider.apiHost,
          }),
      PAYLOAD_CODEC_KEYS: this.codecKeys,
      ...(this.options.sandbox ? {} : this.provider.smsEnv),
      API_KEYS: `bench:sha256:${createHash('sha256').update(this.apiKey).digest('hex')}`,
      REDIS_URL: this.redis!.url,
      // Workers come and go (kill -9, several at once): none of them serves metrics on the shared default port.
      WORKER_METRICS_ADDRESS: 'off',
      ...(this.options.limits ?? UNREACHED_LIMITS),
      ...extra,
    };
  }

  async startTemporal(): Promise<void> {
    this.server = await startDevServer({
      cli: process.env.TEMPORAL_CLI,
      pathEnv: process.env.PATH,
      port: this.temporalPort,
      headless: true,
      dbFile: this.options.persistent ? join(this.options.runDir, 'temporal.db') : undefined,
    });
  }

  /** The dev server's pid (for its CPU time). */
  temporalPid(): number | undefined {
    return findPidByArgs(['start-dev', '--port', String(this.temporalPort)]);
  }

  async stopTemporal(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  async startApi(): Promise<Child> {
    this.api = await spawnNode({
      name: 'api',
      script: join(DIST, 'bench', 'api-child.js'),
      env: this.env(),
      logFile: join(this.options.runDir, 'api.log'),
      ready: () => httpOk(`${this.apiUrl}/health`),
    });
    return this.api;
  }

  async startWorker(extra: Record<string, string> = {}, variant = this.options.worker ?? 'default'): Promise<Child> {
    this.worker = await spawnNode({
      name: 'worker',
      script: join(DIST, 'src', 'worker.js'),
      env: this.env({ ...this.options.workerEnv, ...VARIANT_ENV[variant], ...extra }),
      execArgv: this.options.workerExecArgv,
      logFile: join(this.options.runDir, 'worker.log'),
      ready: (out) => out.includes('verifyflow worker on task queue'),
    });
    return this.worker;
  }

  /** Temporal calls made by the API since the last reset (counted by its client interceptor). */
  async apiCalls(reset = false): Promise<ClientCalls> {
    const calls = await this.api!.ask<ClientCalls>('calls');
    if (reset) await this.api!.ask('reset');
    return calls;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.worker?.stop(), this.api?.stop()]);
    await this.provider?.close();
    await this.client?.connection.close().catch(() => undefined);
    await this.stopTemporal();
    await this.redis?.dispose();
  }
}
