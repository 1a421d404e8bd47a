import { execFile } from 'node:child_process';
import { chownSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { spawnWatched, type Watched } from '../../src/temporal/watchdog';

const run = promisify(execFile);

/** A throwaway PostgreSQL server on a loopback port: one data directory, trust authentication, TCP only. */
export interface Postgres {
  port: number;
  /** The role the databases are created with (no password: trust on loopback). */
  user: string;
  dataDir: string;
  /** The postmaster's pid (the backends are its children). */
  pid(): number | undefined;
  /** Resolves, saying how, if the server ends without stop() or restart() having asked it to. */
  unexpectedExit: Promise<string>;
  /** Fast shutdown (SIGINT: open transactions are rolled back, committed ones are on disk), then up again on the same directory and port. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Where the cluster lives; created, must not exist or be empty. */
  dataDir: string;
  port: number;
  /** Server log (appended). */
  logFile: string;
  /** Directory of `initdb` and `postgres` (POSTGRES_BIN_DIR); default the newest /usr/lib/postgresql/<n>/bin, else PATH. */
  binDir?: string;
  pathEnv?: string;
}

const INSTALL = 'apt-get install -y postgresql';

/** The directory of `initdb` and `postgres`: POSTGRES_BIN_DIR, the newest Debian/Ubuntu install, or PATH. */
export function findPostgresBin(configured?: string, pathEnv = ''): string {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
  if (configured) {
    if (!has(configured)) throw new Error(`POSTGRES_BIN_DIR=${configured} holds no initdb and postgres`);
    return configured;
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v) && has(join(debian, v, 'bin')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return join(debian, versions[0], 'bin');
  }
  const onPath = pathEnv.split(delimiter).find((d) => d && has(d));
  if (onPath) return onPath;
  throw new Error(
    `PostgreSQL (initdb, postgres) not found: install it (${INSTALL}) or set POSTGRES_BIN_DIR to its bin directory`,
  );
}

/**
 * PostgreSQL refuses to run as root. As root (CI, containers) its commands run as an unprivileged user through
 * `setpriv`: `postgres` where the distribution's package made one, else `nobody`. Returns the command prefix.
 */
function unprivileged(dataDir: string): { prefix: string[] } {
  if (userInfo().uid !== 0) return { prefix: [] };
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const user = /^postgres:/m.test(passwd) ? 'postgres' : 'nobody';
  const entry = passwd
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))!
    .split(':');
  chownSync(dataDir, Number(entry[2]), Number(entry[3]));
  return { prefix: ['setpriv', `--reuid=${user}`, `--regid=${entry[3]}`, '--clear-groups', '--'] };
}

/**
 * initdb + postgres on `port` (127.0.0.1 only, no Unix socket), under the watchdog: it ends with this process however
 * this process ends. Resolves once it accepts connections. Durability settings are PostgreSQL's defaults (fsync on):
 * the cluster bench measures what production persistence costs.
 */
export async function startPostgres(options: PostgresOptions): Promise<Postgres> {
  const bin = findPostgresBin(options.binDir ?? process.env.POSTGRES_BIN_DIR, options.pathEnv ?? process.env.PATH);
  rmSync(options.dataDir, { recursive: true, force: true });
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(dirname(options.logFile), { recursive: true });
  const { prefix } = unprivileged(options.dataDir);
  const user = 'temporal';
  const [initdb, ...initArgs] = [
    ...prefix,
    join(bin, 'initdb'),
    ...['-D', options.dataDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-instructions'],
  ];
  try {
    await run(initdb, initArgs, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`initdb failed: ${(e.stderr || e.message).trim()}`);
  }

  const serverArgs = [
    join(bin, 'postgres'),
    '-D',
    options.dataDir,
    '-p',
    String(options.port),
    '-h',
    '127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=200',
  ];
  let server: Watched;
  let expected = false;
  let onUnexpected: (how: string) => void = () => undefined;
  const unexpectedExit = new Promise<string>((resolve) => (onUnexpected = resolve));
  let pid: number | undefined;

  const launch = async () => {
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const [command, ...args] = [...prefix, ...serverArgs];
    server = spawnWatched(command, args);
    expected = false;
    let output = '';
    const onData = (buf: Buffer) => {
      log.write(buf);
      if (output.length < 20_000) output += buf.toString();
    };
    server.proc.stdout?.on('data', onData);
    server.proc.stderr?.on('data', onData);
    let exitCode: number | null | undefined;
    void server.exited.then((code) => {
      exitCode = code;
      log.end();
      if (!expected) onUnexpected(`exited on its own (status ${code}); see ${options.logFile}`);
    });
    const deadline = Date.now() + 60_000;
    while (!/database system is ready to accept connections/.test(output)) {
      if (exitCode !== undefined) throw new Error(`postgres exited (${exitCode}) before it was ready:\n${output}`);
      if (Date.now() > deadline) {
        await server.stop(1000);
        throw new Error(`postgres not ready within 60 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    pid = await server.pid;
  };
  await launch();

  const stopServer = async (signal: NodeJS.Signals) => {
    expected = true;
    // The postmaster is the group leader: SIGINT asks it for a fast shutdown (the watchdog's SIGTERM would be a
    // "smart" one, which waits for every client to disconnect).
    if (pid) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    await server.stop(30_000);
  };
  return {
    port: options.port,
    user,
    dataDir: options.dataDir,
    pid: () => pid,
    unexpectedExit,
    async restart(downMs = 0) {
      await stopServer('SIGINT');
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    stop: () => stopServer('SIGINT'),
  };
}
