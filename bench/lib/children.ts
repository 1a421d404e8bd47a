import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './util';

/** The compiled exit-with-parent.js (this file runs compiled, or from source under ts-jest with dist/ built). */
const EXIT_WITH_PARENT = __filename.endsWith('.js')
  ? join(__dirname, 'exit-with-parent.js')
  : join(__dirname, '..', '..', 'dist', 'bench', 'lib', 'exit-with-parent.js');

/** A Node child process (API or worker) whose memory can be sampled and which can be killed like in production. */
export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Resident set size now, MiB (Linux /proc; `ps` elsewhere). */
  rssMiB(): number | undefined;
  /** Peak resident set size since start, MiB (Linux VmHWM). */
  peakRssMiB(): number | undefined;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
  /** kill -9: no shutdown hook runs. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** Sends a message over IPC and resolves with the first answer. */
  ask<T>(message: unknown, timeoutMs?: number): Promise<T>;
}

export interface SpawnOptions {
  name: string;
  script: string;
  args?: string[];
  env: Record<string, string | undefined>;
  logFile: string;
  /** Resolves true once the child serves (polled every 200 ms). */
  ready: (output: string) => boolean | Promise<boolean>;
  readyTimeoutMs?: number;
  execArgv?: string[];
}

function procStatusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** The end of a child's output, for an error message: CI shows stderr, not the run directory. */
function tail(output: string): string {
  const last = output.trimEnd().split('\n').slice(-15).join('\n');
  return last ? `; its last output:\n${last}` : '';
}

/**
 * Spawns `node <script>` with its output appended to `logFile`, and waits until `ready`. The child stops by itself when
 * this process ends (exit-with-parent.ts).
 */
export async function spawnNode(options: SpawnOptions): Promise<Child> {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const argv = ['--require', EXIT_WITH_PARENT, ...(options.execArgv ?? []), options.script, ...(options.args ?? [])];
  const proc = spawn(process.execPath, argv, {
    env: Object.fromEntries(Object.entries(options.env).filter((kv): kv is [string, string] => kv[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const onData = (buf: Buffer) => {
    log.write(buf);
    if (output.length < 100_000) output += buf.toString();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<string>((resolve) =>
    proc.once('exit', (code, signal) => {
      log.end();
      resolve(signal ?? String(code));
    }),
  );
  let dead: string | undefined;
  void exited.then((how) => (dead = how));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  while (!(await options.ready(output))) {
    if (dead !== undefined)
      throw new Error(`${options.name} exited (${dead}) before it was ready; see ${options.logFile}${tail(output)}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(
        `${options.name} not ready within ${options.readyTimeoutMs ?? 120_000} ms; see ${options.logFile}${tail(output)}`,
      );
    }
    await sleep(200);
  }

  const pid = proc.pid!;
  return {
    name: options.name,
    proc,
    pid,
    rssMiB: () => procStatusMiB(pid, 'VmRSS'),
    peakRssMiB: () => procStatusMiB(pid, 'VmHWM'),
    exited,
    async kill9() {
      if (dead === undefined) proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (dead !== undefined) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    ask<T>(message: unknown, timeoutMs = 5000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${options.name} did not answer`)), timeoutMs);
        proc.once('message', (answer) => {
          clearTimeout(timer);
          resolve(answer as T);
        });
        proc.send(message as never);
      });
    },
  };
}

/** Polls an HTTP URL until it answers 200. */
export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** CPU time (user + system) a process has used so far, ms (Linux /proc; undefined elsewhere). */
export function cpuMs(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat (11 and 12 after the command name), in clock ticks.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) of a process and its children: its own, every live child's, and what its reaped children used.
 * PostgreSQL's backends are the postmaster's children; each calls setsid, so they are not in its process group, and
 * they come and go with connections (an exited one's time moves into the postmaster's cutime).
 */
export function familyCpuMs(parent: number | undefined): number | undefined {
  if (!parent) return undefined;
  let total = 0;
  let seen = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command name: state ppid pgrp … utime(11) stime(12) cutime(13) cstime(14), in clock ticks.
      const self = Number(entry) === parent;
      if (!self && Number(f[1]) !== parent) continue;
      seen ||= self;
      total += Number(f[11]) + Number(f[12]);
      if (self) total += Number(f[13]) + Number(f[14]);
    } catch {
      // gone
    }
  }
  return seen ? (total * 1000) / 100 : undefined;
}

/**
 * The pid of the Temporal dev server on a port, found by its command line. The launcher's watchdog (a node process)
 * carries the same arguments and a wrapper script (a version manager's shim) may too; the server is the newest of
 * the matches that is not node.
 */
export function findPidByArgs(needle: string[]): number | undefined {
  let found: number | undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0] === process.execPath || !needle.every((n) => args.includes(n))) continue;
      if (found === undefined || Number(entry) > found) found = Number(entry);
    } catch {
      // gone
    }
  }
  return found;
}
