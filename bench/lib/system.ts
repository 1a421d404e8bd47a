import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startRedisServer, type RedisServer } from '../../src/common/redis-server';
import { codecDataConverter, parseCodecKeys } from '../../src/temporal/codec';
import { startDevServer, type DevServer, type DynamicConfig } from '../../src/temporal/dev-server';
import type { VonageEmulatorOptions } from '../../sandbox/vonage-emulator';
import { addClientCalls, noClientCalls, type ClientCalls } from './client-calls';
import { cpuMs, findPidByArgs, familyCpuMs, httpOk, spawnNode, type Child } from './children';
import { startPostgres, type Postgres } from './postgres';
import { startProviderSandbox, type ProviderSandbox } from './provider';
import { startTemporalCluster, type TemporalCluster } from './temporal-cluster';
import { freePort } from './util';

/**
 * dist/ root of the compiled tree: this file is dist/bench/lib/system.js, or bench/lib/system.ts under ts-jest (the
 * cluster tests), which then runs the compiled API and worker from dist/ (`npm run build:bench` first).
 */
export const DIST = existsSync(resolve(__dirname, '..', '..', 'package.json'))
  ? resolve(__dirname, '..', '..', 'dist')
  : resolve(__dirname, '..', '..');
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
  /** Node flags for the API replicas (e.g. --require of a counting preload). */
  apiExecArgv?: string[];
  /**
   * Abuse limits of the API and worker (LIMIT_* variables). Default: so high that the load never meets them, while
   * every send and check still goes through the guard (its cost stays in the figures).
   */
  limits?: Record<string, string>;
  /**
   * The production shape instead of the dev server: a throwaway PostgreSQL, the Temporal server on it
   * (bench/lib/temporal-cluster.ts), `apis` API and `workers` worker replicas (default 2 and 2), each its own process
   * with its own port and log. `apiUrl` then spreads calls over the API replicas in turn, as a load balancer would,
   * and so do the provider's callbacks unless `callbackReplica` is set.
   */
  cluster?: boolean | { apis?: number; workers?: number };
  /** Task queue of the API and worker processes; default a fresh `bench-…` one per run. */
  taskQueue?: string;
  /**
   * Outbound events of the run's client `bench`: its events endpoint and Standard Webhooks secret (a CLIENTS_FILE
   * written to the run directory). Default: none, as for a client without an events endpoint.
   */
  events?: { url: string; secret: string };
  /** Announces slow first-run steps (building the Temporal server). */
  onNotice?: (line: string) => void;
  /** Dev server dynamic config over DEV_SERVER_DYNAMIC_CONFIG (`--server-config`, e.g. the server's defaults back). */
  serverConfig?: DynamicConfig;
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
 * a free one: a running `npm run dev` (3000/7233/8233) is not disturbed. With `cluster`, the production shape:
 * PostgreSQL, the Temporal server on it, and several API and worker replicas (`npm run cluster`, the cluster tests,
 * `npm run bench -- --cluster`).
 */
export class System {
  server?: DevServer;
  postgres?: Postgres;
  temporalCluster?: TemporalCluster;
  /** The abuse guard's store, shared by the API and worker processes (as in production). */
  redis?: RedisServer;
  /** API replicas by index (one without `cluster`); an entry is undefined while that replica is down. */
  readonly apis: (Child | undefined)[] = [];
  /** Worker replicas by index; the rolling-deploy test adds further ones. */
  readonly workers: (Child | undefined)[] = [];
  client!: Client;
  /** A client without the payload codec, for the bare baseline workflow. */
  bareClient!: Client;
  provider!: ProviderSandbox;
  readonly taskQueue: string;
  temporalPort = 0;
  readonly apiPorts: number[] = [];
  /** Provider callbacks go to this API replica; undefined: to each in turn. */
  callbackReplica?: number;
  /** Provider callbacks go to this URL instead of an API (the durability phase's plain route); undefined: the API. */
  callbackTarget?: string;
  private nextApi = 0;
  /** Payload encryption is always on outside sandbox mode: one key per run. */
  readonly codecKeys = `bench:${randomBytes(32).toString('base64')}`;
  /** The API key of the run's client `bench` (the API holds only its SHA-256). */
  readonly apiKey = `vf_bench_${randomBytes(16).toString('hex')}`;
  /** The codec server's bearer token (cluster only: engineers decode payloads through an API replica). */
  readonly codecToken = randomBytes(24).toString('hex');

  /** `Authorization` of every REST call the drivers make. */
  get authHeader(): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}` };
  }

  constructor(readonly options: SystemOptions) {
    mkdirSync(options.runDir, { recursive: true });
    this.taskQueue = options.taskQueue ?? `bench-${randomUUID().slice(0, 8)}`;
  }

  get isCluster(): boolean {
    return Boolean(this.options.cluster);
  }

  /** How many API and worker replicas the system starts. */
  get replicas(): { apis: number; workers: number } {
    const c = this.options.cluster;
    if (!c) return { apis: 1, workers: 1 };
    return { apis: (c === true ? undefined : c.apis) ?? 2, workers: (c === true ? undefined : c.workers) ?? 2 };
  }

  /** The first API replica (the only one without `cluster`). */
  get api(): Child | undefined {
    return this.apis[0];
  }

  /** The first worker replica (the only one without `cluster`). */
  get worker(): Child | undefined {
    return this.workers[0];
  }

  /** An API replica's base URL; `apiUrl` takes each replica in turn. */
  apiUrlOf(replica: number): string {
    return `http://127.0.0.1:${this.apiPorts[replica]}`;
  }

  /** The API's base URL: each read gives the next replica (one load balancer in front of them all). */
  get apiUrl(): string {
    const replica = this.nextApi++ % this.apiPorts.length;
    return this.apiUrlOf(replica);
  }

  /** Where the provider sends its next callback. */
  callbackUrl(): string {
    if (this.callbackTarget) return this.callbackTarget;
    const base = this.callbackReplica === undefined ? this.apiUrl : this.apiUrlOf(this.callbackReplica);
    return `${base}/webhooks/vonage`;
  }

  get temporalAddress(): string {
    return this.temporalCluster?.address ?? `127.0.0.1:${this.temporalPort}`;
  }

  /** A process's name in logs and figures: `worker`, or `worker-2` in a cluster. */
  private replicaName(kind: 'api' | 'worker', replica: number): string {
    return this.isCluster || replica > 0 ? `${kind}-${replica + 1}` : kind;
  }

  static async start(options: SystemOptions): Promise<System> {
    const system = new System(options);
    try {
      await system.boot();
    } catch (err) {
      await system.stop().catch(() => undefined);
      throw err;
    }
    return system;
  }

  private async boot(): Promise<void> {
    const options = this.options;
    for (let i = 0; i < this.replicas.apis; i++) this.apiPorts.push(await freePort());
    await this.startTemporal();
    this.redis = await startRedisServer({ binary: process.env.REDIS_SERVER_BIN, pathEnv: process.env.PATH });
    const connection = await Connection.connect({ address: this.temporalAddress });
    const namespace = this.temporalCluster?.namespace ?? 'default';
    this.client = new Client({
      connection,
      namespace,
      // The run's payload key: memos and results are encrypted like every payload.
      dataConverter: codecDataConverter(parseCodecKeys(this.codecKeys)),
    });
    // The bare baseline encrypts nothing, as before: its worker has no codec.
    this.bareClient = new Client({ connection, namespace });
    this.provider = await startProviderSandbox(options.runDir, () => this.callbackUrl(), options.emulator);
    await Promise.all(Array.from({ length: this.replicas.apis }, (_, i) => this.startApi(i)));
    // One at a time: each worker bundles the workflows on start (CPU-heavy on 2 cores).
    if (!options.noWorker) for (let i = 0; i < this.replicas.workers; i++) await this.startWorker({}, undefined, i);
  }

  /**
   * Environment of the API and worker processes: loopback Temporal, our task queue, the external emulator. `PORT` is
   * API replica `replica`'s (a worker has none to listen on, and ignores it).
   */
  env(extra: Record<string, string> = {}, replica = 0): Record<string, string | undefined> {
    const c = this.provider.credentials;
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: String(this.apiPorts[replica] ?? this.apiPorts[0]),
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: this.temporalCluster?.namespace ?? 'default',
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
      ...(this.isCluster ? { CODEC_SERVER_TOKEN: this.codecToken } : {}),
      ...(this.options.events ? { CLIENTS_FILE: this.clientsFile(this.options.events) } : {}),
      ...(this.options.limits ?? UNREACHED_LIMITS),
      ...extra,
    };
  }

  /** The CLIENTS_FILE giving the client `bench` its events endpoint (its key stays in API_KEYS). */
  private clientsFile(events: { url: string; secret: string }): string {
    const file = join(this.options.runDir, 'clients.json');
    writeFileSync(file, JSON.stringify({ clients: [{ id: 'bench', events }] }), { mode: 0o600 });
    return file;
  }

  /** The dev server, or in a cluster PostgreSQL and the Temporal server on it (once: a cluster is not restarted). */
  async startTemporal(): Promise<void> {
    if (this.isCluster) {
      if (this.temporalCluster) throw new Error('the cluster Temporal server is started once, by System.start');
      this.postgres = await startPostgres({
        dataDir: join(this.options.runDir, 'postgres'),
        port: await freePort(),
        logFile: join(this.options.runDir, 'postgres.log'),
      });
      this.temporalCluster = await startTemporalCluster({
        postgres: this.postgres,
        logFile: join(this.options.runDir, 'temporal.log'),
        onNotice: this.options.onNotice,
      });
      return;
    }
    // A restart (chaos: temporal-restart) comes back on the same port: the API and workers keep their address.
    if (!this.temporalPort) this.temporalPort = await freePort();
    this.server = await startDevServer({
      cli: process.env.TEMPORAL_CLI,
      pathEnv: process.env.PATH,
      port: this.temporalPort,
      headless: true,
      dbFile: this.options.persistent ? join(this.options.runDir, 'temporal.db') : undefined,
      dynamicConfig: this.options.serverConfig,
    });
  }

  /** The Temporal server's pid (for its CPU time). */
  temporalPid(): number | undefined {
    if (this.temporalCluster) return this.temporalCluster.pid();
    return findPidByArgs(['start-dev', '--port', String(this.temporalPort)]);
  }

  /**
   * CPU time readers (ms so far) of every process of the system, by name: `worker`, `api`, `temporal`, and in a
   * cluster `worker-1`, `worker-2`, `api-1`, `api-2`, `temporal` and `postgres` (the postmaster and its backends).
   */
  cpuReaders(): Record<string, () => number | undefined> {
    const readers: Record<string, () => number | undefined> = {};
    this.workers.forEach((w, i) => w && (readers[this.replicaName('worker', i)] = () => cpuMs(w.pid)));
    this.apis.forEach((a, i) => a && (readers[this.replicaName('api', i)] = () => cpuMs(a.pid)));
    const temporal = this.temporalPid();
    readers.temporal = () => cpuMs(temporal);
    if (this.postgres) readers.postgres = () => familyCpuMs(this.postgres?.pid());
    return readers;
  }

  /** Stops the dev server (chaos: `temporal-restart`); in a cluster, the Temporal server for good. */
  async stopTemporal(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
    await this.temporalCluster?.stop();
  }

  /** Starts API replica `replica` (again, after a kill) on its port. */
  async startApi(replica = 0): Promise<Child> {
    const name = this.replicaName('api', replica);
    const api = await spawnNode({
      name,
      script: join(DIST, 'bench', 'api-child.js'),
      env: this.env({}, replica),
      execArgv: this.options.apiExecArgv,
      logFile: join(this.options.runDir, `${name}.log`),
      ready: () => httpOk(`${this.apiUrlOf(replica)}/health`),
    });
    this.apis[replica] = api;
    return api;
  }

  /**
   * Starts worker replica `replica` (again, after a kill). `script`: another worker entry point (the rolling-deploy
   * test's build B); `extra`: more environment (TEMPORAL_BUILD_ID …).
   */
  async startWorker(
    extra: Record<string, string> = {},
    variant = this.options.worker ?? 'default',
    replica = 0,
    script = join(DIST, 'src', 'worker.js'),
  ): Promise<Child> {
    const name = this.replicaName('worker', replica);
    const worker = await spawnNode({
      name,
      script,
      env: this.env({ ...this.options.workerEnv, ...VARIANT_ENV[variant], ...extra }),
      execArgv: this.options.workerExecArgv,
      logFile: join(this.options.runDir, `${name}.log`),
      ready: (out) => out.includes('verifyflow worker on task queue'),
    });
    this.workers[replica] = worker;
    return worker;
  }

  /** Temporal calls made by the API replicas since the last reset (counted by their client interceptors), summed. */
  async apiCalls(reset = false): Promise<ClientCalls> {
    const sum = noClientCalls();
    for (const api of this.apis) {
      if (!api) continue;
      const calls = await api.ask<ClientCalls>('calls');
      if (reset) await api.ask('reset');
      addClientCalls(sum, calls);
    }
    return sum;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w?.stop()));
    await Promise.allSettled(this.apis.map((a) => a?.stop()));
    await this.provider?.close();
    await this.client?.connection.close().catch(() => undefined);
    await this.stopTemporal();
    await this.postgres?.stop();
    await this.redis?.dispose();
  }
}
