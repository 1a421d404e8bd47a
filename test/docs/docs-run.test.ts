import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/ports';
import {
  commandsOf,
  extractBlocks,
  missingOutputs,
  outputByLine,
  printedValues,
  TRACE_PS4,
  type DocBlock,
  type ExpectedOutput,
} from './doc-blocks';
import { which } from '../../src/common/which';

/**
 * Docs that run as written: every shell block (```bash, ```sh, ```shell) of README.md and docs/*.md runs here with
 * bash against a system started like `npm run dev`, unless it is marked not runnable with a reason — an HTML comment
 * on the last non-blank line before its fence:
 *
 *     <!-- not run: needs a real Auth0 tenant -->
 *
 * (skipped tests named `… not run: <reason>` list them). The blocks are read from the documents, never copied here.
 *
 * - The system is `node dist/src/dev.js`, as `npm run dev` runs it after its build (built here first when dist/ is
 *   older than the sources), on free ports — PORT, TEMPORAL_DEV_PORT, TEMPORAL_UI_PORT, WORKER_METRICS_ADDRESS — with
 *   DATA_DIR=<scratch>/.data and PUBLIC_URL set to match. The docs say `localhost:3000` (the API) and
 *   `localhost:9464` (the worker's metrics): rewriting those, with `127.0.0.1` alike, to this system's ports is the
 *   only change made to a block. No variable is set for the blocks: each sets what it uses.
 * - Each block runs on its own, as pasted into a fresh terminal at the project root: bash with `-euo pipefail` (any
 *   failing command fails the block), its working directory a scratch project root (the system's `.data/`,
 *   `node_modules` linked), HOME an empty directory, PATH with node, curl, jq and the Temporal CLI (TEMPORAL_CLI, as
 *   the suite's global setup found it), no TEMPORAL_* variables. It must exit 0 within a minute. It is sourced with
 *   `set -x`, so that its trace says which command printed what.
 * - Expected outputs a block documents in comments (`# {"status":"completed","attemptsLeft":5}` below a command, `# 303`
 *   after one printing a status; see doc-blocks.ts) must be among what that command printed, in order: objects match
 *   when they have the members shown, `…` ends a prefix or stands for more members.
 * - Blocks run in document order (README.md, then docs/*.md by name) against one system, as a reader would try them.
 *
 * jq and curl must be installed (`apt-get install jq curl`; .ci/run does). 30-50 s on 2 shared cores: the system's
 * start (15-25 s: Temporal dev server, workflow bundle) and the blocks (15-25 s); 20-40 s more when it builds.
 */
const REPO = resolve(__dirname, '..', '..');
const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const extracted = DOCUMENTS.map((file) => extractBlocks(file, readFileSync(join(REPO, file), 'utf8')));
const blocks: DocBlock[] = extracted.flatMap((e) => e.blocks);
const BLOCK_TIMEOUT_MS = 60_000;

let scratch: string;
let port: number;
let metricsPort: number;
let dev: ChildProcess | undefined;
let devOutput = '';
/** The environment every block starts from: a user's terminal, nothing of this suite's. */
let shellEnv: Record<string, string>;

/** Compiled output older than its source would run yesterday's code: name the first such file. */
function staleBuild(): string | undefined {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
          ? [join(dir, e.name)]
          : [],
    );
  const { include } = JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  for (const root of include) {
    for (const source of walk(join(REPO, root))) {
      const compiled = join(REPO, 'dist', relative(REPO, source)).replace(/\.ts$/, '.js');
      if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) return relative(REPO, source);
    }
  }
  return undefined;
}

async function waitUntilRunning(profile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dev?.exitCode !== null || dev?.signalCode) throw new Error(`the system exited while starting:\n${devOutput}`);
    if (devOutput.includes('verifyflow is running') && existsSync(profile)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the system did not start within ${timeoutMs / 1000} s:\n${devOutput}`);
}

beforeAll(async () => {
  const missing = ['jq', 'curl', 'bash'].filter((tool) => !which(tool, process.env.PATH ?? ''));
  if (missing.length) {
    throw new Error(`the docs use ${missing.join(' and ')}: install with \`apt-get install ${missing.join(' ')}\``);
  }
  const stale = staleBuild();
  if (stale) {
    // What `npm run dev` does first (`npm run build`); CI has built already.
    console.log(`docs: building dist/ (${stale} is newer than its compiled output)`);
    await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: REPO,
      timeout: 180_000,
    });
  }
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('TEMPORAL_CLI is not set: run this with jest (its global setup finds the CLI)');

  scratch = mkdtempSync(join(tmpdir(), 'docs-run-'));
  // The scratch directory plays the project root: the system's `.data/`, node_modules for `node -e`, the CLI on PATH.
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(scratch, 'node_modules'));
  mkdirSync(join(scratch, 'bin'));
  symlinkSync(cli, join(scratch, 'bin', 'temporal'));
  mkdirSync(join(scratch, 'home'));
  mkdirSync(join(scratch, 'blocks'));
  const path = [join(scratch, 'bin'), dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  const kept = Object.fromEntries(
    Object.entries(process.env).filter(
      (kv): kv is [string, string] => kv[1] !== undefined && /^(LANG|LC_ALL|TMPDIR|USER)$/.test(kv[0]),
    ),
  );
  shellEnv = { ...kept, PATH: path, HOME: join(scratch, 'home') };

  port = await freePort();
  metricsPort = await freePort();
  dev = spawn(process.execPath, [join(REPO, 'dist', 'src', 'dev.js')], {
    cwd: scratch,
    env: {
      ...shellEnv,
      PORT: String(port),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
      DATA_DIR: join(scratch, '.data'),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      TEMPORAL_CLI: cli,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout!.on('data', (b: Buffer) => (devOutput += b.toString()));
  dev.stderr!.on('data', (b: Buffer) => (devOutput += b.toString()));
  await waitUntilRunning(join(scratch, '.data', 'temporal.toml'), 120_000);
}, 320_000);

afterAll(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    const exited = new Promise((r) => dev!.once('exit', r));
    dev.kill('SIGINT'); // Ctrl-C: stops the worker, the API and the Temporal server
    const timer = setTimeout(() => dev!.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 30_000);

/** The block as it runs here: the documented API and worker metrics addresses on this system's ports, nothing else. */
const onThisPort = (code: string) =>
  code
    .replace(/\b(localhost|127\.0\.0\.1):3000\b/g, `$1:${port}`)
    .replace(/\b(localhost|127\.0\.0\.1):9464\b/g, `$1:${metricsPort}`);

/**
 * Runs a block with bash as written (sourced, so that `set -x` can name its lines: PS4 cannot come from the
 * environment of a root shell). Output and trace go to one file, in the order they were written.
 */
function runBash(script: string): Promise<{ status: number | null; output: string }> {
  const outFile = `${script}.out`;
  const out = openSync(outFile, 'w');
  return new Promise((resolveRun) => {
    const proc = spawn('bash', ['-euo', 'pipefail', '-c', `PS4='${TRACE_PS4}'; set -x; . "$0"`, script], {
      cwd: scratch,
      env: shellEnv,
      stdio: ['ignore', out, out],
      detached: true, // its own process group: a timeout ends the loops and commands it started too
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-proc.pid!, 'SIGKILL');
    }, BLOCK_TIMEOUT_MS);
    proc.once('close', (status) => {
      clearTimeout(timer);
      closeSync(out);
      const output = readFileSync(outFile, 'utf8');
      resolveRun({ status, output: timedOut ? `${output}\n[killed after ${BLOCK_TIMEOUT_MS / 1000} s]` : output });
    });
  });
}

const describeOutput = (e: ExpectedOutput) => `${e.raw} (line ${e.line})`;

test('every shell block is run here or marked not runnable with a reason, and every marker sits before a block', () => {
  expect(extracted.flatMap((e) => e.problems)).toEqual([]);
  expect(blocks.filter((b) => !b.notRun).length).toBeGreaterThan(0);
  // Expected outputs parse (a typo in one would otherwise pass unchecked).
  for (const block of blocks.filter((b) => !b.notRun)) commandsOf(block);
});

for (const block of blocks) {
  const name = `${block.file}:${block.line}`;
  if (block.notRun) {
    test.skip(`${name} not run: ${block.notRun}`, () => undefined);
    continue;
  }
  test(
    `${name} runs as written`,
    async () => {
      const script = join(scratch, 'blocks', `${block.file.replace(/\W/g, '-')}-${block.line}.sh`);
      writeFileSync(script, `${onThisPort(block.code)}\n`);
      const run = await runBash(script);
      if (run.status !== 0) {
        throw new Error(
          `${name} exited with status ${run.status}; its output (+N: the command on line N):\n${run.output}`,
        );
      }
      const printed = outputByLine(run.output);
      const missing = commandsOf(block).flatMap((command) => {
        let output = '';
        for (let line = command.first; line <= command.last; line++) output += printed.get(line) ?? '';
        return missingOutputs(command.expected, printedValues(output));
      });
      if (missing.length) {
        throw new Error(
          `${name}: commands did not print what the block says they print:\n${missing.map(describeOutput).join('\n')}\n` +
            `its output (+N: the command on line N of the block):\n${run.output}`,
        );
      }
    },
    BLOCK_TIMEOUT_MS + 10_000,
  );
}
