import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isExecutable, which } from './which';
import { spawnWatched, type Watched } from '../temporal/watchdog';
import { freePort } from './free-port';

/** A real redis-server child on a free loopback port, persisting to an append-only file in its own directory. */
export interface RedisServer {
  url: string;
  /** Stops the server (SIGTERM: it flushes its append-only file) and starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

const INSTALL = 'apt-get install -y redis-server';

function findRedisServer(configured: string | undefined, pathEnv: string): string | undefined {
  if (configured) return isExecutable(configured) ? configured : undefined;
  return which('redis-server', [pathEnv, '/usr/bin', '/usr/sbin'].join(delimiter));
}

/**
 * Starts a throwaway redis-server (tests, bench, `npm run cluster`): `binary` (REDIS_SERVER_BIN), else `redis-server`
 * on `pathEnv`. A missing binary fails the caller with the install command (no skipping). It runs under the watchdog,
 * so it ends with this process however this process ends.
 */
export async function startRedisServer(options: { binary?: string; pathEnv?: string } = {}): Promise<RedisServer> {
  const binary = findRedisServer(options.binary, options.pathEnv ?? '');
  if (!binary && options.binary) {
    throw new Error(`REDIS_SERVER_BIN=${options.binary} is not an executable file: set it to redis-server's path`);
  }
  if (!binary) {
    throw new Error(`redis-server not found: install it (${INSTALL}) or set REDIS_SERVER_BIN to its path`);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'verifyflow-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir];
  let child = await launch(binary, args);

  const stop = () => child.stop();
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await stop();
      child = await launch(binary, args);
    },
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function launch(binary: string, args: string[]): Promise<Watched> {
  const watched = spawnWatched(binary, args);
  const child = watched.proc;
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer);
      void watched.stop(1000);
      reject(err);
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`redis-server exited (${code ?? signal}): ${output}`));
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!/Ready to accept connections/.test(output)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      // Keep draining the pipes so a chatty server never blocks on a full one.
      child.stdout?.resume();
      child.stderr?.resume();
      resolve(watched);
    };
    const timer = setTimeout(() => fail(new Error(`redis-server did not start in 10 s: ${output}`)), 10_000);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', fail);
    child.once('exit', onExit);
  });
}
