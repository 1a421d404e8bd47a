import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { cacheForHeap, heapSizeGiven } from '../../src/temporal/workflow-heap';

/**
 * The worker process caps its workflow thread's V8 heap (WORKER_WORKFLOW_HEAP_MIB) before the SDK starts that thread,
 * and sizes the cache from it. Checked in a child process (the flag is process-wide; this one runs other workers): a
 * worker thread started after the cap has that heap, and a heap size the process was started with stands.
 */
const MODULE = join(__dirname, '../../src/temporal/workflow-heap.ts');

function inChild(script: string, execArgv: string[] = []): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'workflow-heap-'));
  const js = ts.transpileModule(readFileSync(MODULE, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  writeFileSync(join(dir, 'workflow-heap.js'), js);
  writeFileSync(join(dir, 'main.js'), script);
  return JSON.parse(
    execFileSync(process.execPath, [...execArgv, join(dir, 'main.js')], { encoding: 'utf8' }),
  ) as Record<string, unknown>;
}

const PROBE = `
const { Worker } = require('node:worker_threads');
const { capWorkflowHeap } = require('./workflow-heap.js');
const threadHeapMiB = () => new Promise((resolve) => {
  const w = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit / 1048576)", { eval: true });
  w.once('message', (m) => { resolve(m); void w.terminate(); });
});
(async () => {
  const before = await threadHeapMiB();
  const cap = capWorkflowHeap(Number(process.argv[2] ?? 512), { execArgv: process.execArgv, nodeOptions: '' });
  console.log(JSON.stringify({ before, cap: cap ?? null, after: await threadHeapMiB() }));
})();
`;

test('a worker thread started after the cap has that heap; the cache is sized from it', () => {
  const { before, cap, after } = inChild(PROBE) as { before: number; cap: unknown; after: number };
  expect(cap).toEqual({ heapMiB: 512, maxCachedWorkflows: cacheForHeap(512) });
  // Old space 512 MiB plus the young generation V8 adds to the limit.
  expect(after).toBeGreaterThanOrEqual(512);
  expect(after).toBeLessThan(600);
  expect(before).toBeGreaterThan(after);
});

test('a heap size the process was started with stands (the cap does nothing, the SDK sizes its cache from it)', () => {
  const { cap, after } = inChild(PROBE, ['--max-old-space-size=300']) as { cap: unknown; after: number };
  expect(cap).toBeNull();
  expect(after).toBeLessThan(400);
});

test('heapSizeGiven reads argv and NODE_OPTIONS; cacheForHeap follows the SDK rule with a floor', () => {
  expect(heapSizeGiven(['--max-old-space-size=1024'])).toBe(true);
  expect(heapSizeGiven([], '--enable-source-maps --max_old_space_size=900')).toBe(true);
  expect(heapSizeGiven(['--max-semi-space-size=16'], '--enable-source-maps')).toBe(false);
  expect(cacheForHeap(768)).toBe(332);
  expect(cacheForHeap(256)).toBe(32);
  expect(cacheForHeap(100)).toBe(10);
});
