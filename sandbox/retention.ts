/*
 * Bounded memory for the emulators: they keep what tests and people inspect, but a long `npm run dev` or a benchmark
 * must not make them grow without end.
 */

/**
 * Forgets the oldest entries of `map` (insertion order) beyond `max`, passing over the ones still `live`; `forget`
 * drops whatever else points at a forgotten entry.
 */
export function pruneOldest<K, V>(
  map: Map<K, V>,
  max: number,
  live: (value: V) => boolean,
  forget?: (key: K, value: V) => void,
): void {
  for (const [key, value] of map) {
    if (map.size <= max) return;
    if (live(value)) continue;
    map.delete(key);
    forget?.(key, value);
  }
}

/** Keeps the newest `max` items of a list kept oldest first. */
export function keepLast<T>(list: T[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max);
}
