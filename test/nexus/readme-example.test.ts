import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The README's Nexus caller example is the compiled, tested caller of test/nexus/ (caller-workflows.ts): every line of
 * it but its imports appears there, in order, so the example cannot drift from code that runs.
 */
const ROOT = join(__dirname, '..', '..');

test("README's Nexus caller example is caller-workflows.ts, line for line", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((block) => block.includes('createNexusServiceClient'));
  expect(example).toBeDefined();
  const source = readFileSync(join(__dirname, 'caller-workflows.ts'), 'utf8');
  const lines = example!.split('\n').filter((l) => l.trim() && !l.startsWith('import '));
  expect(lines.length).toBeGreaterThan(10);
  let at = 0;
  for (const line of lines) {
    const found = source.indexOf(`${line}\n`, at);
    expect({ line, found: found >= 0 }).toEqual({ line, found: true });
    at = found + line.length;
  }
});
