import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { LaunchError } from './launch-error';

/** A port a launcher is about to listen on, with what it is for and what to do when it is taken. */
export interface PortClaim {
  port: number;
  host: string;
  /** e.g. `the Temporal frontend (TEMPORAL_DEV_PORT)`. */
  what: string;
  /** What the user can do instead, e.g. `set TEMPORAL_DEV_PORT to a free port`. */
  hint?: string;
}

/** True when nothing listens on host:port now (we could bind it ourselves). */
export function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Refuses to go on when a port we are about to listen on is taken, naming the process that holds it when it can be
 * found. Without this check the launcher would attach to whatever answers there — e.g. a Temporal server orphaned by
 * an earlier run — instead of the one it starts.
 */
export async function assertPortsFree(claims: PortClaim[], footer?: string): Promise<void> {
  const busy: PortClaim[] = [];
  for (const claim of claims) {
    if (claim.port !== 0 && !(await canListen(claim.host, claim.port))) busy.push(claim);
  }
  if (busy.length === 0) return;
  const lines = busy.map((c) => {
    const holder = portHolder(c.port);
    return `  port ${c.port} (${c.what}) is in use${holder ? ` by ${holder}` : ''}${c.hint ? `: ${c.hint}` : ''}`;
  });
  const heading =
    busy.length === 1 ? 'Cannot start: a port it needs is in use.' : 'Cannot start: ports it needs are in use.';
  throw new LaunchError([heading, ...lines, ...(footer ? [footer] : [])].join('\n'));
}

/**
 * The process listening on a TCP port, as `name (pid N: command line)`, found with `ss` or else `lsof` (whichever is
 * installed; either may see only the current user's processes). Undefined when neither can tell.
 */
export function portHolder(port: number): string | undefined {
  let name: string | undefined;
  let pid: number | undefined;
  const ss = run('ss', ['-ltnpH', `sport = :${port}`]);
  const fromSs = ss && /users:\(\("([^"]+)",pid=(\d+)/.exec(ss);
  if (fromSs) {
    name = fromSs[1];
    pid = Number(fromSs[2]);
  } else {
    const lsof = run('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc']);
    const p = lsof && /^p(\d+)$/m.exec(lsof);
    if (p) {
      pid = Number(p[1]);
      name = /^c(.+)$/m.exec(lsof!)?.[1];
    }
  }
  if (pid === undefined) return undefined;
  const command = commandLine(pid);
  return `${name ?? 'a process'} (pid ${pid}${command ? `: ${command}` : ''})`;
}

function run(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] });
  return result.status === 0 ? result.stdout : undefined;
}

/** Its command line (Linux /proc), shortened to one readable line. */
function commandLine(pid: number): string | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return line.length > 120 ? `${line.slice(0, 117)}…` : line || undefined;
  } catch {
    return undefined;
  }
}
