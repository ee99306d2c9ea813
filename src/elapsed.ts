/** Seconds since `start` (a `Date.now()` value), to a tenth: how dolly reports the time of its steps. */
export function secondsSince(start: number): number {
  return Math.round((Date.now() - start) / 100) / 10;
}
