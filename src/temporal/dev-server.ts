import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { assertPortsFree } from '../common/ports';
import { ensureTemporalCli } from './temporal-cli';
import { spawnWatched } from './watchdog';

export { findTemporalCli } from './temporal-cli';

/** Temporal server dynamic config: key → value (a number, a flag, or a string such as a duration). */
export type DynamicConfig = Record<string, string | number | boolean>;

export interface DevServerOptions {
  /**
   * Path of the `temporal` binary (TEMPORAL_CLI, through config); else `temporal` on PATH, else the pinned version
   * installed under `.temporal/` (see ensureTemporalCli).
   */
  cli?: string;
  port: number;
  uiPort?: number;
  /** SQLite file; omitted = in memory. */
  dbFile?: string;
  /** No Web UI. */
  headless?: boolean;
  codecEndpoint?: string;
  namespace?: string;
  /** Environment to look up `temporal` (and `python3`, to install it) on PATH in. */
  pathEnv?: string;
  /** Where the launcher installs the CLI when there is none; default `.temporal/` at the project root. */
  cliCacheDir?: string;
  /** The server's own output, line by line. */
  onLog?: (line: string) => void;
  /** What the launcher itself has to say (installing the CLI); default console.log. */
  onNotice?: (line: string) => void;
  /** Dynamic config on top of DEV_SERVER_DYNAMIC_CONFIG (a key given here replaces that default). */
  dynamicConfig?: DynamicConfig;
}

/**
 * Dynamic config every dev server we start runs with (`npm run dev`, the tests, the benchmark).
 *
 * `history.transferProcessorMaxPollRPS`: how many times a second a history shard may read its transfer queue, the
 * queue that hands each new workflow task to matching. At the server's default of 20, a steady stream of workflow
 * tasks soon used up the limiter's burst, and from then on each task waited for the next read with the worker's
 * pollers idle: a bare workflow of start, signal and update took 100 ms instead of 30 one after another, an SMS
 * verification's check 90 ms instead of 50 (docs/PERFORMANCE.md, "The dev server's transfer-queue throttle"). The
 * reads happen only when a task is waiting; 1 000 a second lifts the ceiling without costing the server measurable CPU.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: DynamicConfig = {
  'history.transferProcessorMaxPollRPS': 1000,
};

/** `--dynamic-config-value KEY=JSON` flags for `temporal server start-dev`. */
export const dynamicConfigFlags = (config: DynamicConfig): string[] =>
  Object.entries(config).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);

export interface DevServer {
  address: string;
  uiUrl?: string;
  /** The server's pid (the command run: a wrapper script's pid when TEMPORAL_CLI is one). */
  pid?: number;
  /**
   * Resolves, saying how, if the server ends without stop() having been called: the launcher must not run on as half a
   * system. Never resolves otherwise.
   */
  unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

const TYPE_NAMES: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.DOUBLE]: 'Double',
};

/** `Name=Type` for every search attribute of the contract, as `temporal` flags take them. */
export const searchAttributeFlags = (): string[] =>
  SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${TYPE_NAMES[k.type]}`]);

/**
 * Runs `temporal server start-dev` (server + SQLite + Web UI) with our search attributes registered, and resolves
 * once its frontend answers. The real Temporal server: used by `npm run dev` and by the test suite.
 *
 * The server is ours alone: its ports must be free (a LaunchError names whoever holds them: we never attach to a
 * server we did not start), and it runs under a watchdog that ends it when this process ends, however it ends.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const headless = options.headless || !options.uiPort;
  await assertPortsFree([
    { port: options.port, host: '127.0.0.1', what: 'the Temporal frontend' },
    ...(headless ? [] : [{ port: options.uiPort!, host: '127.0.0.1', what: 'the Temporal Web UI' }]),
  ]);
  const cli = await ensureTemporalCli({
    configured: options.cli,
    pathEnv: options.pathEnv,
    cacheDir: options.cliCacheDir,
    log: options.onNotice,
  });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'warn',
    ...searchAttributeFlags(),
    ...dynamicConfigFlags({ ...DEV_SERVER_DYNAMIC_CONFIG, ...options.dynamicConfig }),
  ];
  if (options.dbFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  if (headless) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort), '--ui-ip', '127.0.0.1');
  if (options.codecEndpoint && !headless) args.push('--ui-codec-endpoint', options.codecEndpoint);

  const server = spawnWatched(cli, args);
  const child = server.proc;
  const output: string[] = [];
  const onData = (buf: Buffer) => {
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      output.push(line);
      if (output.length > 50) output.shift();
      options.onLog?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let stopping = false;
  const unexpectedExit = new Promise<string>((resolve) => {
    void server.exited.then((code) => {
      if (stopping) return;
      const last = output.slice(-10).join('\n');
      resolve(`exited on its own (status ${code})${last ? `\nits last output:\n${last}` : ''}`);
    });
  });

  const address = `127.0.0.1:${options.port}`;
  try {
    await waitReady(address, server.exited);
  } catch (err) {
    stopping = true;
    await server.stop(2000);
    throw new Error(`${(err as Error).message}\n${output.join('\n')}`);
  }
  return {
    address,
    uiUrl: headless ? undefined : `http://127.0.0.1:${options.uiPort}`,
    pid: await server.pid,
    unexpectedExit,
    stop: async () => {
      stopping = true;
      await server.stop();
    },
  };
}

/**
 * Waits until the frontend answers, and fails if our server exits first (whatever else answers on its port). Also
 * used for the cluster's Temporal server (bench/lib/temporal-cluster.ts).
 */
export async function waitReady(address: string, exited: Promise<number | null>): Promise<void> {
  const [host, port] = address.split(':');
  const deadline = Date.now() + 60_000;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const dead = () => exitCode !== undefined;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`temporal server exited early (status ${exitCode})`);
    if (await canConnect(host, Number(port))) {
      try {
        const connection = await Connection.connect({ address, connectTimeout: 2000 });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        if (dead()) throw new Error(`temporal server exited early (status ${exitCode})`);
        return;
      } catch (err) {
        if (dead()) throw err;
        // not serving yet
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`temporal server did not become ready on ${address} within 60 s`);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      res(true);
    });
    socket.once('error', () => res(false));
  });
}
