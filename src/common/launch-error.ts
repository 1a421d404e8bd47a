/**
 * A failure to start whose message says everything the user needs — what is wrong and what to do about it — so the
 * entry points print the message alone, without a stack trace, and exit 1.
 */
export class LaunchError extends Error {
  override name = 'LaunchError';
}
