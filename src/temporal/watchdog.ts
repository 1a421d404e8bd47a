import { spawn, type ChildProcess } from 'node:child_process';

/** How long the watched command gets to stop after SIGTERM before its whole process group is killed. */
export const WATCHDOG_GRACE_MS = 5_000;

/**
 * The watchdog, a few lines of plain Node run with `node -e` (so it needs no file of its own and works the same from
 * dist/ and under ts-jest). It starts the command in a process group of its own, reports the command's pid over IPC,
 * and ends that group — SIGTERM, then SIGKILL after the grace period — when:
 * - its parent is gone, however it ended (kill -9 included): the IPC channel closes, and as a fallback its parent pid
 *   changes (checked every 500 ms);
 * - it is sent SIGTERM or SIGHUP (the normal stop);
 * - the command exits on its own (whatever it left running in its group goes too).
 * It exits only once the group is empty: the command may be a wrapper (a version manager's shim) whose real server
 * is a grandchild, which killing the direct child alone would leave behind. SIGINT is ignored: Ctrl-C reaches the
 * parent, which decides when the server stops (after the worker that uses it).
 */
const WATCHDOG_SOURCE = `'use strict';
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const [command, ...args] = process.argv.slice(1);
const parent = process.ppid;
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
const group = (signal) => {
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
};
let stopping = false;
const stop = () => {
  if (stopping || child.pid === undefined) return;
  stopping = true;
  group('SIGTERM');
  setTimeout(() => group('SIGKILL'), ${WATCHDOG_GRACE_MS}).unref();
};
child.once('spawn', () => process.connected && process.send({ pid: child.pid }));
child.once('error', (err) => {
  console.error('cannot run ' + command + ': ' + err.message);
  process.exit(127);
});
child.once('exit', (code, signal) => {
  stop();
  const status = code ?? 128 + (constants.signals[signal] ?? 0);
  const waitForGroup = () => (group(0) ? setTimeout(waitForGroup, 100) : process.exit(status));
  waitForGroup();
});
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
process.on('SIGINT', () => {});
setInterval(() => process.ppid !== parent && stop(), 500).unref();
`;

export interface Watched {
  /** The watchdog process: stdout/stderr are the command's, `exit` is the group's end. */
  proc: ChildProcess;
  /** The command's pid (= its process group id); undefined if it could not start. */
  pid: Promise<number | undefined>;
  /** Resolves with the command's exit status once its whole process group is gone. */
  exited: Promise<number | null>;
  /** SIGTERM through the watchdog; the group is killed if it is still there after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Runs a command under the watchdog above, so it never outlives this process: however this process ends, the command
 * and everything it started end with it. For long-running children of the launchers (the Temporal dev server; the
 * cluster's PostgreSQL, Temporal server and Redis). `env` is the command's environment (default: this process's).
 */
export function spawnWatched(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Watched {
  const proc = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, '--', command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: options.env ?? process.env,
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const pid = new Promise<number | undefined>((resolve) => {
    proc.once('message', (message: { pid?: number }) => resolve(message.pid));
    void exited.then(() => resolve(undefined));
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    pid,
    exited,
    async stop(timeoutMs = WATCHDOG_GRACE_MS + 5_000) {
      if (done) return;
      proc.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited, timeout])) !== 'timeout') return;
      const group = await pid;
      proc.kill('SIGKILL');
      if (group) {
        try {
          process.kill(-group, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}
