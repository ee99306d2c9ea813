import assert from 'node:assert/strict';
import { it } from 'node:test';
import { cloneGroupLimit } from './clone-group.js';

const MiB = 1024 * 1024;

it('the clones may take the free space above the reserve, on top of what they hold', () => {
  assert.equal(cloneGroupLimit(100 * MiB, 600 * MiB, 256 * MiB), 444 * MiB);
});

it('the cap does not move while only clones write (what they take leaves the free space)', () => {
  assert.equal(cloneGroupLimit(150 * MiB, 550 * MiB, 256 * MiB), cloneGroupLimit(100 * MiB, 600 * MiB, 256 * MiB));
});

it('below the reserve no clone may grow, and none is cut below what it holds', () => {
  assert.equal(cloneGroupLimit(300 * MiB, 100 * MiB, 256 * MiB), 300 * MiB);
  assert.equal(cloneGroupLimit(0, 0, 256 * MiB), 0);
});

it('no reserve: the clones may fill the pool', () => {
  assert.equal(cloneGroupLimit(10, 90, 0), 100);
});
