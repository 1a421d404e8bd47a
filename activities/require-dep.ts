import { ApplicationFailure } from '@temporalio/common';

/** The adapter, or a non-retryable `ProviderNotConfigured` failure naming the provider the worker lacks. */
export function requireDep<T>(dep: T | undefined, provider: string): T {
  if (dep === undefined) {
    throw ApplicationFailure.create({
      type: 'ProviderNotConfigured',
      message: `this worker has no ${provider} adapter configured`,
      nonRetryable: true,
    });
  }
  return dep;
}
