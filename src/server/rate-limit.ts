/** API requests per second per token by default (`serve --rate-limit`), in bursts of up to twice that. */
export const DEFAULT_RATE_LIMIT = 20;

/**
 * A token bucket per key (the engine's request rate per token): `ratePerSecond` tokens come back
 * each second, up to `burst`. `take` answers 0 when a request may go, else the milliseconds until
 * one may. Keys not seen for a while are forgotten (a full bucket is the same as none).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return Math.ceil(((1 - bucket.tokens) / this.ratePerSecond) * 1000);
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.forgetFull(now);
    return 0;
  }

  private forgetFull(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(key);
  }
}
