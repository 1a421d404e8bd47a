/**
 * The contract builds no zod schema when it loads, and each kind's only when asked: the workflow bundle is evaluated
 * once per workflow, so schemas built at load cost every workflow every kind's (docs/PERFORMANCE.md). Every zod
 * instance (schema or check) gets its internals with `Object.defineProperty(inst, '_zod', …)`: counting those calls
 * counts what was built.
 */
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
