import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBuckets } from './rate-limit.js';

describe('token buckets', () => {
  it('lets a burst through, then the rate; keys are apart', () => {
    let now = 0;
    const buckets = new TokenBuckets(10, 20, () => now);
    for (let i = 0; i < 20; i++) assert.equal(buckets.take('a'), 0);
    const wait = buckets.take('a');
    assert.ok(wait > 0 && wait <= 100, String(wait));
    assert.equal(buckets.take('b'), 0);
    now += 100;
    assert.equal(buckets.take('a'), 0);
    assert.ok(buckets.take('a') > 0);
    now += 10_000;
    for (let i = 0; i < 20; i++) assert.equal(buckets.take('a'), 0);
  });
});
