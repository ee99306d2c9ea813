import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freshText, lagText, rateText, snapshotLagText } from './lag-text.js';

describe('lag text', () => {
  it('replica status: seconds, transactions behind and the rate', () => {
    assert.equal(lagText({ lag_seconds: 3, behind_transactions: 1234, apply_rate: 2345.4 }), '3 s (1,234 transactions received, not yet applied; applying 2,345/s)');
    assert.equal(lagText({ lag_seconds: 0, behind_transactions: 0, apply_rate: 0 }), '0 s (0 transactions received, not yet applied; applying 0/s)');
    assert.equal(lagText({ lag_seconds: 1, behind_transactions: 1, apply_rate: 0.5 }), '1 s (1 transaction received, not yet applied; applying 0.5/s)');
    assert.equal(lagText({ lag_seconds: null, behind_transactions: null, apply_rate: null }), 'unknown');
    assert.equal(lagText({ lag_seconds: 2 }), '2 s');
    assert.equal(rateText(12.6), '13/s');
    assert.equal(rateText(2345.4, ' transactions/s'), '2,345 transactions/s');
  });

  it('a snapshot lag and a --fresh wait', () => {
    assert.equal(snapshotLagText(0), '0 s');
    assert.equal(snapshotLagText(undefined), '-');
    assert.equal(freshText({ snapshot: 's1', waited_ms: 4_240, lag_seconds: 0.2 }), 'took snapshot s1 first: waited 4.2 s; its data 0.2 s behind the source');
    assert.equal(freshText({ snapshot: 's1', waited_ms: 100, lag_seconds: null }), 'took snapshot s1 first: waited 0.1 s; its data of unknown age');
  });
});
