/**
 * The last `limit` keys seen, for dropping what a worker hands over twice: a workflow task that ran again without being
 * a replay (its completion was rejected, or the worker lost it) repeats its sink calls — the same workflow spans, the
 * same ended verification. Bounded, oldest forgotten first.
 */
export class RecentlySeen {
  private readonly keys = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  /** True the first time `key` is seen (within the last `limit` keys); false for a repeat. */
  firstTime(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.limit) this.keys.delete(this.keys.values().next().value!);
    return true;
  }
}
