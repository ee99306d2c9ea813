/** A bounded memo for the masking transforms: each remembers recent results so repeated values cost one lookup. */

/**
 * A map of at most about `limit` entries, in two generations: when the newer one is full, the
 * older one is forgotten whole and the newer one becomes the older. Every operation is O(1)
 * (forgetting entries one by one from the front of a Map makes V8 skip ever more deleted slots).
 */
export class Memo<V> {
  private newer = new Map<string, V>();
  private older = new Map<string, V>();
  private readonly half: number;

  constructor(limit: number) {
    this.half = Math.max(1, Math.ceil(limit / 2));
  }

  /** The remembered value, or undefined. */
  get(key: string): V | undefined {
    return this.newer.get(key) ?? this.older.get(key);
  }

  /** Remembers a value. */
  set(key: string, value: V): void {
    if (this.newer.size >= this.half) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(key, value);
  }
}
