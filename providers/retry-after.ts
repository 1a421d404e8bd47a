/**
 * Parses an HTTP Retry-After header (delta-seconds or an HTTP date) into milliseconds, capped at 5 minutes so a
 * provider cannot park an activity for hours. Undefined when absent or unparseable: Temporal's backoff then applies.
 */
export function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, 300_000);
}
