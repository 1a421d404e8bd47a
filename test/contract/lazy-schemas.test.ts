/**
 * The contract builds no zod schema when it loads, and each kind's only when asked: the workflow bundle is evaluated
 * once per workflow, so schemas built at load cost every workflow every kind's (docs/PERFORMANCE.md). Every zod
 * instance (schema or check) gets its internals with `Object.defineProperty(inst, '_zod', …)`: counting those calls
 * counts what was built.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Contract from '../../workflows/contract';

function counting<T>(fn: () => T): { value: T; built: number } {
  let built = 0;
  const define = Object.defineProperty;
  const spy = jest.spyOn(Object, 'defineProperty').mockImplementation(function (this: unknown, o, p, d) {
    if (p === '_zod') built++;
    return define.call(Object, o, p, d);
  } as typeof Object.defineProperty);
  try {
    return { value: fn(), built };
  } finally {
    spy.mockRestore();
  }
}

test('loading every workflow builds no schema; a phone verification builds its own, not the other kinds', () => {
  jest.isolateModules(() => {
    // Loaded once per worker (workflows/shared-libraries.ts preloads them), so not counted.
    require('zod');
    require('libphonenumber-js/max');
    require('../../workflows/shared-libraries');
    const loaded = counting(() => {
      require('../../workflows');
      return require('../../workflows/contract') as typeof Contract;
    });
    expect(loaded.built).toBe(0);
    const contract = loaded.value;

    const phone = counting(() => contract.phoneContract.schemas());
    expect(phone.built).toBeGreaterThan(0);
    expect(counting(() => contract.phoneContract.schemas()).built).toBe(0);
    expect(counting(() => contract.shared.cancelInput()).built).toBe(0); // the phone schemas built it
    // The other kinds' own schemas were not built along the way: asking for them builds them now.
    for (const other of [contract.identityContract, contract.smsDeliveryContract, contract.rateLimitContract]) {
      expect(counting(() => other.schemas()).built).toBeGreaterThan(0);
    }
  });
});

test("in a worker, a run's schemas are built once: the next run (its own contract modules, the preloaded shared module) builds none", () => {
  // What the reusable V8 context does: workflows/shared-libraries.ts and the libraries it preloads (zod,
  // libphonenumber-js) are evaluated once and shared, the bundle's other modules once per run.
  const preloaded: Record<string, unknown> = {};
  jest.isolateModules(() => {
    preloaded.zod = require('zod');
    preloaded.phone = require('libphonenumber-js/max');
    preloaded.shared = require('../../workflows/shared-libraries');
  });
  const run = (): typeof Contract => {
    let contract: typeof Contract | undefined;
    jest.isolateModules(() => {
      jest.doMock('zod', () => preloaded.zod);
      jest.doMock('libphonenumber-js/max', () => preloaded.phone);
      jest.doMock('../../workflows/shared-libraries', () => preloaded.shared);
      contract = require('../../workflows/contract') as typeof Contract;
    });
    return contract!;
  };
  const first = run();
  const second = run();
  expect(second).not.toBe(first); // a module instance of its own, as in the sandbox
  const built = counting(() => first.phoneContract.schemas());
  expect(built.built).toBeGreaterThan(0);
  const again = counting(() => second.phoneContract.schemas());
  expect(again.built).toBe(0);
  expect(again.value).toBe(built.value);
  // And they parse for the second run as for the first.
  const input = { to: '+14155550100', brand: 'Acme', channels: [{ channel: 'sms' }] };
  expect(second.phoneContract.schemas().input.parse(input)).toEqual(first.phoneContract.schemas().input.parse(input));
});

test('every lazy of the contract has a key of its own (a shared key would hand one schema to the other)', () => {
  const dir = join(__dirname, '../../workflows/contract');
  const keys = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/\blazy\('([^']+)'/g)].map((m) => m[1]));
  expect(keys.length).toBeGreaterThan(20);
  expect(new Set(keys).size).toBe(keys.length);
});
