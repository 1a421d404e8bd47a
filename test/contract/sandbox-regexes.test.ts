/**
 * The worker preloads zod once and deep-freezes it (workflows/shared-libraries.ts), and zod sets a pattern's
 * `lastIndex` before each test: a schema holding one of zod's own shared patterns (`z.email()`, `z.uuid()`,
 * `z.e164()`…) throws a TypeError inside the workflow sandbox — a failed workflow task, not an invalid input. Every
 * schema of the contract must therefore bring patterns of its own. This walks each kind's built schemas and fails on
 * any RegExp that is one of zod's shared objects.
 */
import * as z from 'zod';
import { WORKFLOW_CONTRACTS } from '../../workflows/contract';

const SHARED = new Map<RegExp, string>(
  Object.entries(z.regexes).flatMap(([name, value]) => (value instanceof RegExp ? [[value, name] as const] : [])),
);

/**
 * Every pattern a check of `root` tests a value with (a check's definition has a `check` kind: its `pattern`, and a
 * URL's `hostname` and `protocol`), found through own properties of schemas, their internals, defs and checks. A
 * type's own `_zod.pattern` (z.string()'s) only serves template literals and JSON Schema, never a parse.
 */
function testedPatterns(root: unknown): RegExp[] {
  const seen = new Set<unknown>();
  const found: RegExp[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof Set || value instanceof Map) {
      for (const entry of value.values()) stack.push(entry);
      continue;
    }
    const isCheck = typeof (value as { check?: unknown }).check === 'string';
    for (const key of Object.getOwnPropertyNames(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!descriptor) continue;
      if (isCheck && descriptor.value instanceof RegExp) found.push(descriptor.value);
      // Functions are not walked (classes lead to every prototype), but a lazy property's getter (an object's
      // `shape`) keeps what it was given on itself (`raw`).
      if ('value' in descriptor) {
        if (typeof descriptor.value !== 'function') stack.push(descriptor.value);
      } else stack.push((descriptor.get as { raw?: unknown } | undefined)?.raw);
    }
  }
  return found;
}

test('the walk finds a shared zod pattern where a schema holds one', () => {
  const bad = z.object({ to: z.email(), alt: z.array(z.e164()).optional() });
  expect(
    testedPatterns(bad)
      .filter((p) => SHARED.has(p))
      .map((p) => SHARED.get(p)),
  ).toEqual(expect.arrayContaining(['email', 'e164']));
  expect(
    testedPatterns(z.object({ to: z.email({ pattern: new RegExp(z.regexes.email.source) }) })).some((p) =>
      SHARED.has(p),
    ),
  ).toBe(false);
});

test.each(WORKFLOW_CONTRACTS.map((c) => [c.type, c] as const))('%s: no schema holds a shared zod pattern', (_, c) => {
  const shared = testedPatterns(c.schemas())
    .filter((p) => SHARED.has(p))
    .map((p) => `z.regexes.${SHARED.get(p)}`);
  expect(shared).toEqual([]);
});
