import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_SPLIT_BYTES, planCopy, rangeConditions, type TableStat } from './dump-plan.js';

const MB = 1024 * 1024;
const table = (schema: string, name: string, bytes: number, intKey: string | null, engine = 'InnoDB'): TableStat => ({ schema, table: name, engine, bytes, intKey });

/** Which of `ranges` (as SQL conditions on `id`) hold `value`: evaluated here, not by a server. */
function holders(ranges: string[], value: bigint): number[] {
  return ranges.flatMap((where, i) => {
    const ok = where.split(' AND ').every((cond) => {
      const m = /^`id` (<|>=) (-?\d+)$/.exec(cond);
      if (!m) throw new Error(`unexpected condition ${cond}`);
      return m[1] === '<' ? value < BigInt(m[2] ?? '0') : value >= BigInt(m[2] ?? '0');
    });
    return ok ? [i] : [];
  });
}

describe('planCopy', () => {
  it('splits the InnoDB tables of the integer key name that holds the most data; the rest go whole', () => {
    const orders = table('shop', 'orders', 900 * MB, 'id');
    const plan = planCopy([
      orders,
      table('shop', 'customers', 50 * MB, 'id'),
      table('shop', 'events', 300 * MB, 'event_id'),
      table('crm', 'notes', 20 * MB, 'id'),
      table('shop', 'legacy', 400 * MB, 'id', 'Aria'),
      table('shop', 'tags', 100 * MB, null),
    ]);
    assert.equal(plan.column, 'id');
    assert.deepEqual(plan.split.map((t) => `${t.schema}.${t.table}`), ['shop.orders', 'shop.customers', 'crm.notes']);
    assert.deepEqual(plan.whole.map((t) => t.table).sort(), ['events', 'legacy', 'tags'], 'other key names, non-InnoDB and non-integer keys are dumped whole');
    assert.equal(plan.rangeTable, orders, 'ranges come from the largest table');
  });

  it('splits nothing when no group is worth it', () => {
    const small = planCopy([table('a', 't', MIN_SPLIT_BYTES - 1, 'id'), table('a', 'u', 5 * MB, null)]);
    assert.equal(small.column, null);
    assert.equal(small.whole.length, 2);
    assert.equal(planCopy([]).column, null);
    assert.equal(planCopy([table('a', 'myisam', 900 * MB, 'id', 'MyISAM')]).column, null, 'only InnoDB tables give a consistent read per session');
  });
});

describe('rangeConditions', () => {
  it('cuts MIN..MAX into N ranges that cover every integer exactly once, below MIN and above MAX included', () => {
    for (const n of [2, 3, 8]) {
      const ranges = rangeConditions('id', '1', '1000000', n);
      assert.equal(ranges.length, n);
      for (const v of [-5n, 0n, 1n, 2n, 333_333n, 333_334n, 500_000n, 500_001n, 999_999n, 1_000_000n, 5_000_000n]) {
        assert.deepEqual(holders(ranges, v).length, 1, `${v} in exactly one of ${n} ranges`);
      }
    }
    assert.deepEqual(rangeConditions('id', '1', '100', 2), ['`id` < 51', '`id` >= 51']);
  });

  it('handles BIGINT UNSIGNED beyond 2^53, and fewer distinct values than sessions', () => {
    const ranges = rangeConditions('id', '18446744073709551000', '18446744073709551615', 4);
    assert.equal(ranges.length, 4);
    assert.deepEqual(holders(ranges, 18446744073709551615n), [3]);
    assert.deepEqual(rangeConditions('id', '7', '7', 4), ['1=1'], 'one value: one range');
    assert.equal(rangeConditions('id', '1', '2', 8).length, 2, 'never an empty range between equal bounds');
  });

  it('quotes the column; refuses a session count that is not a positive integer', () => {
    assert.match(rangeConditions('we`ird', '0', '9', 2)[0] ?? '', /^`we``ird` < 5$/);
    assert.throws(() => rangeConditions('id', '0', '9', 0), RangeError);
  });
});
