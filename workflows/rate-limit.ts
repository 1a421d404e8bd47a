import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { FailureType, formatIssues } from './contract/common';
import { type AcquireResult, rateLimitContract, type RateLimitInput } from './contract/rate-limit';

/** History length after which the limiter continues as new (well below Temporal's limits). */
const MAX_HISTORY_EVENTS = 2000;

/**
 * A durable sliding-window rate limiter for one key (its workflow ID is `ratelimit-<scope>-<keyed hash>`, so the key
 * itself — a phone number, an IP — never appears anywhere). Callers send `acquire` with update-with-start: updates
 * are serialized by the workflow, so concurrent callers on any number of API replicas see one consistent count.
 * The run ends once its window has passed without hits (a later acquire starts a fresh one) and continues as new
 * when its history grows.
 */
export async function rateLimit(rawInput: RateLimitInput = {}): Promise<{ hits: number }> {
  const parsed = rateLimitContract.schemas().input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      message: `invalid rateLimit input: ${formatIssues(parsed.error)}`,
      nonRetryable: true,
    });
  }
  let hits = [...(parsed.data.hits ?? [])];
  let windowMs = (parsed.data.windowSeconds ?? 0) * 1000;
  let requests = 0;

  setHandler(
    rateLimitContract.messages.acquire,
    (req): AcquireResult => {
      requests++;
      const now = Date.now();
      const windowOfRequest = req.windowSeconds * 1000;
      windowMs = Math.max(windowMs, windowOfRequest);
      hits = hits.filter((t) => t > now - windowMs);
      const inWindow = hits.filter((t) => t > now - windowOfRequest);
      if (inWindow.length >= req.limit) {
        // The hit that has to leave the window before one more fits.
        const leaving = inWindow[inWindow.length - req.limit];
        return {
          allowed: false,
          remaining: 0,
          retryAfterSeconds: Math.max(1, Math.ceil((leaving + windowOfRequest - now) / 1000)),
        };
      }
      hits.push(now);
      return { allowed: true, remaining: req.limit - inWindow.length - 1 };
    },
    {
      validator: (req) => {
        const r = rateLimitContract.schemas().acquireInput.safeParse(req);
        if (!r.success) throw new Error(formatIssues(r.error));
      },
    },
  );

  // Started by update-with-start, the first acquire arrives with the start; a bare start waits a minute for one.
  if (hits.length === 0) await condition(() => requests > 0, '1 minute');
  for (;;) {
    const seen = requests;
    const lastHit = hits.length > 0 ? hits[hits.length - 1] : 0;
    const idleInMs = lastHit + windowMs - Date.now();
    if (idleInMs <= 0) break;
    await condition(() => requests !== seen, idleInMs, { summary: 'rate limit window' });
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
      await condition(allHandlersFinished);
      const now = Date.now();
      await continueAsNew<typeof rateLimit>({
        hits: hits.filter((t) => t > now - windowMs),
        windowSeconds: Math.ceil(windowMs / 1000),
      });
    }
  }
  await condition(allHandlersFinished);
  return { hits: hits.length };
}
