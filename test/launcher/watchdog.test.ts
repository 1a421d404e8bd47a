import { readFileSync } from 'node:fs';
import { spawnWatched, type Watched } from '../../src/temporal/watchdog';

/**
 * The watchdog the Temporal dev server runs under ends the command's whole process group — a wrapper script and the
 * grandchild it started alike — on stop(), when the parent's channel closes (what the parent's death looks like from
 * the watchdog; fresh-clone.test.ts kills a real launcher with -9) and when the command exits on its own.
 */

/** A live process (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function gone(pids: number[], withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (!pids.some(alive)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** `sh` (the group leader, like a version manager's shim) with a `sleep` grandchild; resolves both pids. */
async function wrapperWithGrandchild(script = 'sleep 300 & echo $!; wait'): Promise<{ w: Watched; pids: number[] }> {
  const w = spawnWatched('sh', ['-c', script]);
  const grandchild = await new Promise<number>((resolve) =>
    w.proc.stdout!.once('data', (buf: Buffer) => resolve(Number(buf.toString().trim()))),
  );
  const leader = (await w.pid)!;
  expect(alive(leader) && alive(grandchild)).toBe(true);
  return { w, pids: [leader, grandchild] };
}

test('stop() ends the wrapper and its grandchild', async () => {
  const { w, pids } = await wrapperWithGrandchild();
  await w.stop();
  expect(await gone(pids, 2000)).toBe(true);
});

test('when the parent goes away (its channel closes), the watchdog ends the group and exits', async () => {
  const { w, pids } = await wrapperWithGrandchild();
  w.proc.disconnect();
  expect(await gone(pids, 3000)).toBe(true);
  await w.exited;
});

test('a command that exits on its own takes what it left in its group with it', async () => {
  const { w, pids } = await wrapperWithGrandchild('sleep 300 & echo $!; sleep 0.5; exit 3');
  expect(await w.exited).toBe(3);
  expect(await gone(pids, 1000)).toBe(true);
});

test('a command that cannot start ends the watchdog with status 127', async () => {
  const w = spawnWatched('/nowhere/temporal', []);
  expect(await w.exited).toBe(127);
  expect(await w.pid).toBeUndefined();
});
