import { EXAMPLE_PROVIDER_PRICES, loadTelemetryConfig, parsePrices } from '../../src/config/telemetry-config';
import { estimateCost } from '../../src/telemetry/cost';
import type { PhoneVerificationInput } from '../../workflows/contract';
import { phoneChanges, type PhoneSeen } from '../../workflows/metrics';
import {
  activate,
  applyEvent,
  codeSent,
  failChannels,
  initialState,
  requestCreated,
  verified,
  type PhoneState,
} from '../../workflows/phone/state';

/**
 * What the phone workflow's meter counts from its state (workflows/metrics.ts `phoneChanges`, pure): sends when a
 * channel first shows active or a new code of ours serves the run, and a fallback, with its reason, when the run
 * moves to a later channel while channels are left. State sequences in, counts out.
 */
const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const start = (input: Partial<PhoneVerificationInput> = {}): PhoneState =>
  initialState({ to: '+14155550100', brand: 'Acme', ...input }, 'phone-x-1', T0);
const fresh: PhoneSeen = { sent: [], issue: 0, index: 0, deadline: 0 };

/** Looks at `s` after each step, as the driver does; returns every send and fallback seen. */
function watch(s: PhoneState, steps: ((s: PhoneState) => { now?: number; requested?: boolean } | void)[]) {
  let seen = fresh;
  const sends: number[] = [];
  const left: { index: number; reason: string }[] = [];
  for (const step of [() => undefined, ...steps]) {
    const opts = step(s) ?? {};
    const changes = phoneChanges(seen, s, opts.now ?? T0 + 1000, opts.requested ?? false);
    sends.push(...changes.sends);
    if (changes.left) left.push(changes.left);
    seen = changes.seen;
  }
  return { sends, left };
}
const vonageRun = (first: number, last: number) => (s: PhoneState) =>
  requestCreated(s, { requestId: `req-${first}`, first, last }, T0);
const event = (status: 'failed' | 'completed', channel: 'silent_auth' | 'sms' | 'voice', ref = 'req-0') => ({
  eventId: `e-${status}-${channel}`,
  provider: 'vonage' as const,
  ref,
  status,
  channel,
});

test('nothing sent before the first provider request', () => {
  expect(watch(start(), [])).toEqual({ sends: [], left: [] });
});

test('silent auth fails at the provider, which moves to SMS on its own: two sends, one fallback (failed)', () => {
  const s = start();
  expect(watch(s, [vonageRun(0, 2), (x) => void applyEvent(x, event('failed', 'silent_auth'), T0 + 500)])).toEqual({
    sends: [0, 1],
    left: [{ index: 0, reason: 'failed' }],
  });
});

test('a channel left after its deadline is a timeout; one the caller asked to leave is requested', () => {
  const s = start();
  const move = (x: PhoneState) => {
    failChannels(x, x.view.channelIndex, x.view.channelIndex, T0);
    activate(x, x.view.channelIndex, x.channelDeadline + 1);
  };
  const deadline = () => s.channelDeadline;
  expect(
    watch(s, [
      vonageRun(0, 2),
      (x) => {
        const late = deadline() + 1;
        move(x);
        return { now: late };
      },
      (x) => {
        move(x);
        return { requested: true };
      },
    ]),
  ).toEqual({
    sends: [0, 1, 2],
    left: [
      { index: 0, reason: 'timeout' },
      { index: 1, reason: 'requested' },
    ],
  });
});

test('codes of ours: each issue is a send (a resend included), on the sms_gateway channel', () => {
  const s = start({ channels: [{ channel: 'sms', provider: 'sms_gateway' }] });
  const send = (issue: number) => (x: PhoneState) =>
    codeSent(x, { index: 0, hmac: `h${issue}`, issue, gateway: 'g', validitySeconds: 300 }, T0);
  expect(watch(s, [send(1), send(2)])).toEqual({ sends: [0, 0], left: [] });
});

test('a provider request that could not be created sends nothing; leaving its channels is a failed fallback', () => {
  const s = start({
    channels: [{ channel: 'sms' }, { channel: 'voice' }, { channel: 'sms', provider: 'sms_gateway' }],
  });
  const code = (x: PhoneState) =>
    codeSent(x, { index: 2, hmac: 'h', issue: 1, gateway: 'g', validitySeconds: 300 }, T0);
  expect(watch(s, [(x) => failChannels(x, 0, 1, T0), code])).toEqual({
    sends: [2],
    left: [{ index: 0, reason: 'failed' }],
  });
});

test('verified before the meter looked: the channel still counts as sent; the last channel failing is no fallback', () => {
  const s = start({ channels: [{ channel: 'sms' }] });
  const createdAndVerified = (x: PhoneState) => {
    vonageRun(0, 0)(x);
    verified(x, x.run!, T0);
  };
  expect(watch(s, [createdAndVerified])).toEqual({ sends: [0], left: [] });
  const over = start({ channels: [{ channel: 'sms' }] });
  expect(watch(over, [vonageRun(0, 0), (x) => failChannels(x, 0, 0, T0)])).toEqual({ sends: [0], left: [] });
});

test('the estimated cost is the sends priced by provider:channel; an unpriced send costs 0', () => {
  expect(
    estimateCost({ 'vonage:sms': 0.06, 'vonage:voice': 0.09 }, { 'vonage:sms': 2, 'vonage:voice': 1 }),
  ).toBeCloseTo(0.21);
  expect(estimateCost(EXAMPLE_PROVIDER_PRICES, { 'acme:carrier_pigeon': 3 })).toBe(0);
});

test('telemetry config: defaults, values, and errors naming the variable', () => {
  expect(loadTelemetryConfig({})).toEqual({
    otlp: undefined,
    serviceName: undefined,
    workerMetricsAddress: '127.0.0.1:9464',
    prices: EXAMPLE_PROVIDER_PRICES,
  });
  expect(
    loadTelemetryConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20x,x-team=id',
      WORKER_METRICS_ADDRESS: 'off',
      PROVIDER_PRICES: '{"vonage:sms": 0.07}',
    }),
  ).toMatchObject({
    otlp: { tracesUrl: 'http://collector:4318/v1/traces', headers: { authorization: 'Bearer x', 'x-team': 'id' } },
    workerMetricsAddress: undefined,
    prices: { 'vonage:sms': 0.07 },
  });
  expect(loadTelemetryConfig({ WORKER_METRICS_ADDRESS: '[::1]:9000' }).workerMetricsAddress).toBe('[::1]:9000');
  expect(() => loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://x:4317' })).toThrow(
    /OTEL_EXPORTER_OTLP_ENDPOINT/,
  );
  expect(() => loadTelemetryConfig({ WORKER_METRICS_ADDRESS: '9464' })).toThrow(/WORKER_METRICS_ADDRESS/);
  expect(() => parsePrices('{"vonage:sms": -1}')).toThrow(/PROVIDER_PRICES: the price of vonage:sms/);
  expect(() => parsePrices('{"sms": 1}')).toThrow(/PROVIDER_PRICES: "sms" is not provider:channel/);
  expect(() => parsePrices('[1]')).toThrow(/PROVIDER_PRICES must be a JSON object/);
});
