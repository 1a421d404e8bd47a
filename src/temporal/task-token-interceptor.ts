import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Keeps activity task tokens out of the logs. The SDK adds `taskToken` to the attributes of every activity log line
 * (ours through `log.info`, and its own such as "Activity failed" at WARN); a task token lets whoever holds it complete
 * or fail that activity through any client of the namespace, so it is a credential, not a diagnostic. The workflow
 * and activity IDs, type and attempt stay, and identify the attempt just as well.
 */
export const dropTaskTokenFromLogs: ActivityInterceptorsFactory = () => ({
  outbound: {
    getLogAttributes(input, next) {
      const { taskToken: _token, ...attributes } = next(input);
      return attributes;
    },
  },
});
