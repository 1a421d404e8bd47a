import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '../../src/common/redis-server';

/** Finding redis-server: only an executable file counts, so a stray non-executable one fails with what to do. */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'redis-finder-'));
  writeFileSync(join(dir, 'redis-server'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(dir, 'redis-server'), 0o644);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a configured REDIS_SERVER_BIN that is not executable is refused, naming the variable', async () => {
  await expect(startRedisServer({ binary: join(dir, 'redis-server') })).rejects.toThrow(
    /REDIS_SERVER_BIN=.* is not an executable file/,
  );
  await expect(startRedisServer({ binary: dir })).rejects.toThrow(/REDIS_SERVER_BIN/);
});
