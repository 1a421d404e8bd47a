import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  DefaultFailureConverter,
  defaultPayloadConverter,
} from '@temporalio/common';
import { guardRefusal, refusalOf, type GuardRefusal } from '../../activities/abuse-guard';

/** The typed failure of a refused verdict, and reading it back after it crossed the wire inside an activity failure. */
const converter = new DefaultFailureConverter();
/** What a workflow (or a client) sees: the activity's failure, serialized and deserialized, wrapped like the SDK does. */
const overTheWire = (failure: ApplicationFailure) => {
  const activity = new ActivityFailure(
    'activity failed',
    'startVerification',
    '1',
    'NON_RETRYABLE_FAILURE',
    'w',
    failure,
  );
  const child = new ChildWorkflowFailure(
    'default',
    { workflowId: 'phone-1' },
    'phoneVerification',
    'NON_RETRYABLE_FAILURE',
    activity,
  );
  return converter.failureToError(converter.errorToFailure(child, defaultPayloadConverter), defaultPayloadConverter);
};

test.each<Extract<GuardRefusal, { retryAfterSeconds: number }>>([
  { allowed: false, scope: 'destination', retryAfterSeconds: 540 },
  { allowed: false, scope: 'destination_day', retryAfterSeconds: 80_000 },
  { allowed: false, scope: 'prefix', retryAfterSeconds: 1 },
  { allowed: false, scope: 'client', retryAfterSeconds: 3600 },
  { allowed: false, scope: 'failed_checks', retryAfterSeconds: 12 },
])('scope $scope: a non-retryable RateLimited failure naming the scope, read back from its cause chain', (verdict) => {
  const failure = guardRefusal(verdict);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'RateLimited', nonRetryable: true });
  expect(failure.message).toContain(`scope ${verdict.scope}`);
  expect(failure.details).toEqual([{ scope: verdict.scope, retryAfterSeconds: verdict.retryAfterSeconds }]);
  expect(refusalOf(failure)).toEqual(verdict);
  expect(refusalOf(overTheWire(failure))).toEqual(verdict);
});

test('country: a non-retryable DestinationNotAllowed failure, read back the same way', () => {
  const verdict: GuardRefusal = { allowed: false, scope: 'country', reason: 'destination_not_allowed' };
  const failure = guardRefusal(verdict);
  expect(failure).toMatchObject({ type: 'DestinationNotAllowed', nonRetryable: true });
  expect(failure.message).toContain('scope country');
  expect(refusalOf(overTheWire(failure))).toEqual(verdict);
});

test('anything else is not a refusal', () => {
  expect(refusalOf(undefined)).toBeUndefined();
  expect(refusalOf('RateLimited')).toBeUndefined();
  expect(refusalOf(new Error('boom'))).toBeUndefined();
  expect(refusalOf(ApplicationFailure.create({ type: 'InvalidDestination', message: 'bad number' }))).toBeUndefined();
  // A RateLimited failure from elsewhere, without our details, is not read as one of ours.
  expect(refusalOf(ApplicationFailure.create({ type: 'RateLimited', details: [{ scope: 'ip' }] }))).toBeUndefined();
  const loop: { cause?: unknown } = {};
  loop.cause = loop;
  expect(refusalOf(loop)).toBeUndefined();
});
