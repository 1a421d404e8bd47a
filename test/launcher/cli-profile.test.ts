import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { localUrl, writeCliProfile } from '../../src/temporal/cli-profile';

/**
 * The Temporal CLI profile `npm run dev` writes (`.data/temporal.toml`): the pinned CLI reads address, namespace and
 * codec server from it with TEMPORAL_CONFIG_FILE alone, and so does the app's own envconfig loader (which must keep
 * starting, whatever a user's shell exported). test/docs/ runs the documented CLI commands against it.
 */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-profile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cliConfig = (file: string): Record<string, unknown> =>
  JSON.parse(
    execFileSync(process.env.TEMPORAL_CLI!, ['config', 'get', '-o', 'json'], {
      env: { PATH: process.env.PATH, HOME: dir, TEMPORAL_CONFIG_FILE: file },
      encoding: 'utf8',
    }),
  );

test('the Temporal CLI reads address, namespace and codec server from TEMPORAL_CONFIG_FILE alone', () => {
  const file = join(dir, 'temporal.toml');
  writeCliProfile(file, {
    address: '127.0.0.1:7233',
    namespace: 'default',
    codecEndpoint: 'http://127.0.0.1:3000/codec',
  });
  expect(cliConfig(file)).toEqual({
    address: '127.0.0.1:7233',
    namespace: 'default',
    codec: { endpoint: 'http://127.0.0.1:3000/codec' },
  });
  expect(loadClientConnectConfig({ overrideEnvVars: { TEMPORAL_CONFIG_FILE: file } })).toEqual({
    namespace: 'default',
    connectionOptions: { address: '127.0.0.1:7233' },
  });
});

test('with a codec server token, the profile carries it and only its owner can read the file', () => {
  const file = join(dir, 'with-token.toml');
  writeCliProfile(file, {
    address: '127.0.0.1:7233',
    namespace: 'default',
    codecEndpoint: 'http://127.0.0.1:3000/codec',
    codecAuth: 'Bearer a-token-with-"quotes"-and-\\-of-24+',
  });
  expect(cliConfig(file).codec).toEqual({
    endpoint: 'http://127.0.0.1:3000/codec',
    auth: 'Bearer a-token-with-"quotes"-and-\\-of-24+',
  });
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

test('the CLI reaches an API on a wildcard address over loopback', () => {
  expect(localUrl('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000');
  expect(localUrl('0.0.0.0', 3000)).toBe('http://127.0.0.1:3000');
  expect(localUrl('::', 3000)).toBe('http://127.0.0.1:3000');
  expect(localUrl('::1', 3000)).toBe('http://[::1]:3000');
  expect(localUrl('localhost', 3000)).toBe('http://localhost:3000');
});
