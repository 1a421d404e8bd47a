import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { waitReady } from '../../src/temporal/dev-server';
import { ensureNamespace, registerSearchAttributes } from '../../src/temporal/search-attributes';
import { spawnWatched, type Watched } from '../../src/temporal/watchdog';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';
import type { Postgres } from './postgres';
import { freePort, sleep } from './util';

const run = promisify(execFile);

/** The project root: the directory of the package.json above this file (from bench/lib and from dist/bench/lib). */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The server's config (a template it renders itself) and dynamic config, committed in the repository. */
export const TEMPORAL_CONFIG_DIR = join(projectRoot(), 'deploy', 'temporal');

export interface TemporalCluster {
  /** host:port of the frontend (gRPC). */
  address: string;
  namespace: string;
  /** Prometheus metrics of the server. */
  metricsUrl: string;
  /** The server's pid (its own process group). */
  pid(): number | undefined;
  /** Resolves, saying how, if the server ends without stop() having been called. */
  unexpectedExit: Promise<string>;
  stop(): Promise<void>;
}

export interface TemporalClusterOptions {
  postgres: Postgres;
  /** The server's log file (appended). */
  logFile: string;
  namespace?: string;
  /** Where `server` and `sql` are; default: scripts/temporal-server.sh (builds the pinned version once). */
  serverDir?: string;
  /** One line when the server has to be built first (minutes). */
  onNotice?: (line: string) => void;
}

/**
 * The directory holding the pinned Temporal server and SQL tool: TEMPORAL_SERVER_DIR, else what
 * scripts/temporal-server.sh built into $(go env GOPATH)/bin (it builds it on first use).
 */
export async function ensureTemporalServer(onNotice: (line: string) => void = console.log): Promise<string> {
  const script = join(projectRoot(), 'scripts', 'temporal-server.sh');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of d
        .toString()
        .split('\n')
        .filter((l) => l.startsWith('building') || l.startsWith('Go is')))
        onNotice(line);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0 && out.trim()) resolve(out.trim().split('\n').pop()!);
      else reject(new Error(`${script} failed (${code}): ${err.trim().split('\n').slice(-5).join('\n')}`));
    });
  });
}

/** Creates both databases and brings their schemas to the server's version with the SQL tool (temporal-sql-tool). */
async function setupSchema(sqlTool: string, postgres: Postgres): Promise<void> {
  const env = {
    ...process.env,
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: '127.0.0.1',
    SQL_PORT: String(postgres.port),
    SQL_USER: postgres.user,
    SQL_PASSWORD: '',
  };
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ]) {
    for (const args of [['create-database'], ['setup-schema', '-v', '0.0'], ['update-schema', '-s', schema]]) {
      try {
        await run(sqlTool, ['--db', db, ...args], { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        const last = (e.stderr || e.message).trim().split('\n').slice(-3).join('\n');
        throw new Error(`temporal-sql-tool --db ${db} ${args.join(' ')} failed: ${last}`);
      }
    }
  }
}

/**
 * The production persistence on one machine: the Temporal server (all four services in one process, config
 * deploy/temporal/cluster.yaml) on `postgres`, the schema set up with the SQL tool, the namespace registered with our
 * search attributes. Every port is a free loopback one; the server runs under the watchdog, so it ends with this
 * process however this process ends.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalCluster> {
  const namespace = options.namespace ?? 'default';
  const dir = options.serverDir ?? (await ensureTemporalServer(options.onNotice));
  await setupSchema(join(dir, 'sql'), options.postgres);

  const names = [
    'VF_TEMPORAL_PORT',
    'VF_TEMPORAL_HTTP_PORT',
    'VF_TEMPORAL_FRONTEND_MEMBERSHIP_PORT',
    'VF_TEMPORAL_HISTORY_PORT',
    'VF_TEMPORAL_HISTORY_MEMBERSHIP_PORT',
    'VF_TEMPORAL_MATCHING_PORT',
    'VF_TEMPORAL_MATCHING_MEMBERSHIP_PORT',
    'VF_TEMPORAL_WORKER_PORT',
    'VF_TEMPORAL_WORKER_MEMBERSHIP_PORT',
    'VF_TEMPORAL_METRICS_PORT',
  ];
  // Membership ports are stored in a smallint column: freePort hands out ports below 32 000.
  const ports: Record<string, string> = {};
  for (const name of names) ports[name] = String(await freePort());
  const env = {
    ...process.env,
    ...ports,
    VF_POSTGRES_PORT: String(options.postgres.port),
    VF_POSTGRES_USER: options.postgres.user,
    VF_POSTGRES_PASSWORD: '',
    VF_TEMPORAL_DYNAMIC_CONFIG: join(TEMPORAL_CONFIG_DIR, 'dynamicconfig', 'cluster.yaml'),
  };
  const args = ['--root', TEMPORAL_CONFIG_DIR, '--config', '.', '--env', 'cluster', '--allow-no-auth', 'start'];
  const server: Watched = spawnWatched(join(dir, 'server'), args, { env });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const recent: string[] = [];
  const onData = (buf: Buffer) => {
    log.write(buf);
    for (const line of buf.toString().split('\n').filter(Boolean)) {
      recent.push(line.slice(0, 500));
      if (recent.length > 20) recent.shift();
    }
  };
  server.proc.stdout?.on('data', onData);
  server.proc.stderr?.on('data', onData);
  let stopping = false;
  const unexpectedExit = new Promise<string>((resolve) => {
    void server.exited.then((code) => {
      log.end();
      if (!stopping) resolve(`exited on its own (status ${code}); its last output:\n${recent.slice(-10).join('\n')}`);
    });
  });
  const address = `127.0.0.1:${ports.VF_TEMPORAL_PORT}`;
  try {
    await waitReady(address, server.exited);
    await registerNamespace(address, namespace);
  } catch (err) {
    stopping = true;
    await server.stop(2000);
    throw new Error(`${(err as Error).message}\nthe Temporal server's last output:\n${recent.join('\n')}`);
  }
  const pid = await server.pid;
  return {
    address,
    namespace,
    metricsUrl: `http://127.0.0.1:${ports.VF_TEMPORAL_METRICS_PORT}/metrics`,
    pid: () => pid,
    unexpectedExit,
    async stop() {
      stopping = true;
      await server.stop();
    },
  };
}

/**
 * Registers the namespace (3 days' retention) and our search attributes, then waits until a visibility query on
 * them is accepted: the frontend's namespace and search-attribute caches refresh every few seconds.
 */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await ensureNamespace(connection, namespace);
    const query = SEARCH_ATTRIBUTES.map((k) => `${k.name} = 'probe'`).join(' AND ');
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await registerSearchAttributes(connection, namespace);
        await connection.workflowService.listWorkflowExecutions({ namespace, query, pageSize: 1 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} not usable: ${(err as Error).message}`);
        await sleep(500);
      }
    }
  } finally {
    await connection.close();
  }
}
