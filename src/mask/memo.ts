/** A bounded memo for the masking transforms: each remembers recent results so repeated values cost one lookup. */

/** A map that forgets its oldest entry when full. */
export class Memo<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  /** The remembered value, or undefined. */
  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Remembers a value, forgetting the oldest entry first if the memo is full. */
  set(key: string, value: V): void {
    if (this.map.size >= this.limit) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }
}
