import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { parsePointGtid, parsePointTime, pointIso, stampInPoint } from './pitr-point.js';

/** µs since the epoch of a UTC wall time. */
const us = (y: number, mo: number, d: number, h: number, mi: number, s: number, micro = 0): number => Date.UTC(y, mo - 1, d, h, mi, s) * 1_000 + micro;

const NOW_MS = Date.UTC(2026, 11, 7, 12, 0, 0, 250);

describe('parsePointTime: ISO times', () => {
  it('reads a UTC time with Z, to the microsecond', () => {
    assert.equal(parsePointTime('2026-12-07T10:14:59Z', NOW_MS), us(2026, 12, 7, 10, 14, 59));
    assert.equal(parsePointTime('2026-01-01T00:00:00Z', NOW_MS), us(2026, 1, 1, 0, 0, 0));
  });
  it('reads offsets: +01:00 is an hour before UTC, -05:30 five and a half after', () => {
    assert.equal(parsePointTime('2026-12-07T10:14:59+01:00', NOW_MS), us(2026, 12, 7, 9, 14, 59));
    assert.equal(parsePointTime('2026-12-07T10:14:59-05:30', NOW_MS), us(2026, 12, 7, 15, 44, 59));
    assert.equal(parsePointTime('2026-12-07T00:10:00+01:00', NOW_MS), us(2026, 12, 6, 23, 10, 0), 'across midnight');
    assert.equal(parsePointTime('2026-12-07T10:14:59+00:00', NOW_MS), parsePointTime('2026-12-07T10:14:59Z', NOW_MS));
  });
  it('reads 1 to 6 fraction digits as exact microseconds', () => {
    const base = us(2026, 12, 7, 10, 14, 59);
    const cases: Array<[string, number]> = [
      ['.1', 100_000],
      ['.12', 120_000],
      ['.123', 123_000],
      ['.1234', 123_400],
      ['.12345', 123_450],
      ['.123456', 123_456],
      ['.000001', 1],
      ['.999999', 999_999],
      ['.0', 0],
    ];
    for (const [fraction, micro] of cases) {
      const got = parsePointTime(`2026-12-07T10:14:59${fraction}Z`, NOW_MS);
      assert.equal(got, base + micro, fraction);
      assert.ok(Number.isInteger(got), `${fraction}: an integer number of µs`);
    }
    assert.equal(parsePointTime('2026-12-07T10:14:59.654321+01:00', NOW_MS), us(2026, 12, 7, 9, 14, 59, 654_321), 'a fraction with an offset');
  });
  it('takes a space for the T, lower-case t and z, and surrounding blanks', () => {
    const want = us(2026, 12, 7, 10, 14, 59, 500_000);
    assert.equal(parsePointTime('2026-12-07 10:14:59.5Z', NOW_MS), want);
    assert.equal(parsePointTime('2026-12-07t10:14:59.5z', NOW_MS), want);
    assert.equal(parsePointTime('  2026-12-07T10:14:59.5Z\n', NOW_MS), want);
  });
  it('does not depend on now for an absolute time', () => {
    assert.equal(parsePointTime('2026-12-07T10:14:59Z', 0), parsePointTime('2026-12-07T10:14:59Z', NOW_MS));
  });
});

describe('parsePointTime: relative times', () => {
  it('counts -Ns, -Nm, -Nh, -Nd back from now, in µs', () => {
    assert.equal(parsePointTime('-90s', NOW_MS), (NOW_MS - 90_000) * 1_000);
    assert.equal(parsePointTime('-15m', NOW_MS), (NOW_MS - 15 * 60_000) * 1_000);
    assert.equal(parsePointTime('-2h', NOW_MS), (NOW_MS - 2 * 3_600_000) * 1_000);
    assert.equal(parsePointTime('-1d', NOW_MS), (NOW_MS - 86_400_000) * 1_000);
    assert.equal(parsePointTime(' -90s ', NOW_MS), (NOW_MS - 90_000) * 1_000, 'blanks around');
    assert.equal(parsePointTime('-0s', NOW_MS), NOW_MS * 1_000, 'now itself');
  });
  it('moves with now', () => {
    assert.equal(parsePointTime('-1m', NOW_MS + 5_000) - parsePointTime('-1m', NOW_MS), 5_000_000);
  });
});

describe('parsePointTime: refusals', () => {
  const refused = [
    '2026-12-07T10:14:59', // no zone: whose 10:14?
    '2026-12-07 10:14:59.5',
    'garbage',
    '',
    '   ',
    'yesterday',
    '2026-12-07T10:14:59.1234567Z', // 7 fraction digits
    '2026-12-07T10:14:59.Z',
    '2026-12-07T10:14Z', // no seconds
    '2026-12-07',
    '2026-12-07T10:14:59+0100', // offset without colon
    '2026-12-07T10:14:59+01',
    '2026-12-07T10:14:59 Z',
    '2026-13-01T00:00:00Z', // month 13
    '2026-12-32T00:00:00Z',
    '2026-12-07T25:00:00Z',
    '2026-12-07T10:60:00Z',
    '2026-12-07T10:14:59+25:00',
    '90s', // no minus: not a relative time
    '+90s',
    '-90',
    '-1w',
    '-1.5h',
    '--90s',
    '-90 s',
    '1796635183', // epoch seconds
  ];
  for (const text of refused) {
    it(`refuses ${JSON.stringify(text)} with a hint`, () => {
      assert.throws(
        () => parsePointTime(text, NOW_MS),
        (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`invalid --at ${JSON.stringify(text)}`) && (e.hint ?? '').includes('-90s') && (e.hint ?? '').includes('Z'),
      );
    });
  }
});

describe('parsePointTime: a day that does not exist', () => {
  it('refuses 30 February, 31 April and 24:00 (Date.parse would move them on)', () => {
    for (const text of ['2026-02-30T00:00:00Z', '2026-02-31T12:00:00Z', '2026-04-31T10:00:00+01:00', '2026-12-07T24:00:00Z', '2026-12-07T10:60:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z']) {
      assert.throws(() => parsePointTime(text, NOW_MS), InvalidArgumentError, text);
    }
  });
  it('takes 29 February of a leap year', () => {
    assert.equal(parsePointTime('2028-02-29T00:00:00Z', NOW_MS), us(2028, 2, 29, 0, 0, 0));
  });
});

describe('parsePointGtid', () => {
  it('takes one MariaDB domain-server-seq', () => {
    assert.equal(parsePointGtid('0-1-4711', 'mariadb'), '0-1-4711');
    assert.equal(parsePointGtid(' 12-3-45 ', 'mariadb'), '12-3-45');
    assert.equal(parsePointGtid('4294967295-4294967295-9007199254740991', 'mariadb'), '4294967295-4294967295-9007199254740991');
    assert.throws(() => parsePointGtid('4294967296-1-1', 'mariadb'), InvalidArgumentError, 'a domain id has 32 bits');
    assert.throws(() => parsePointGtid('0-1-18446744073709551615', 'mariadb'), InvalidArgumentError, 'a seq_no past 2^53 is not exact');
    assert.throws(() => parsePointGtid('3e11fa47-71ca-11e1-9e33-c80aa9429562:0', 'mysql'), InvalidArgumentError, 'MySQL GTIDs start at 1');
  });
  it('takes one MySQL uuid:N, lower-cased', () => {
    assert.equal(parsePointGtid('3e11fa47-71ca-11e1-9e33-c80aa9429562:23', 'mysql'), '3e11fa47-71ca-11e1-9e33-c80aa9429562:23');
    assert.equal(parsePointGtid('3E11FA47-71CA-11E1-9E33-C80AA9429562:23', 'mysql'), '3e11fa47-71ca-11e1-9e33-c80aa9429562:23');
    assert.equal(parsePointGtid('  3E11fa47-71ca-11E1-9e33-c80aa9429562:1\t', 'mysql'), '3e11fa47-71ca-11e1-9e33-c80aa9429562:1');
  });
  const mariadbRefused = ['', '0-1', '0-1-2-3', '0-1-', 'a-1-2', '0:1:2', '0-1-4711,1-1-2', '-1-1-2', '12345678901-1-1', '0-1-123456789012345678901', '3e11fa47-71ca-11e1-9e33-c80aa9429562:23'];
  for (const text of mariadbRefused) {
    it(`refuses ${JSON.stringify(text)} for MariaDB, with a MariaDB hint`, () => {
      assert.throws(
        () => parsePointGtid(text, 'mariadb'),
        (e: unknown) => e instanceof InvalidArgumentError && e.message === `invalid --at-gtid ${JSON.stringify(text)} for a mariadb replica` && (e.hint ?? '').includes('0-1-4711'),
      );
    });
  }
  const mysqlRefused = [
    '',
    '3e11fa47-71ca-11e1-9e33-c80aa9429562',
    '3e11fa47-71ca-11e1-9e33-c80aa9429562:',
    '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5',
    '3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:5',
    '3e11fa47-71ca-11e1-9e33-c80aa9429562:23,3e11fa47-71ca-11e1-9e33-c80aa9429563:1',
    '3e11fa4771ca11e19e33c80aa9429562:23',
    '3e11fa47-71ca-11e1-9e33-c80aa942956:23',
    'ge11fa47-71ca-11e1-9e33-c80aa9429562:23',
    '3e11fa47-71ca-11e1-9e33-c80aa9429562:12345678901234567890',
    '0-1-4711',
  ];
  for (const text of mysqlRefused) {
    it(`refuses ${JSON.stringify(text)} for MySQL, with a MySQL hint`, () => {
      assert.throws(
        () => parsePointGtid(text, 'mysql'),
        (e: unknown) => e instanceof InvalidArgumentError && e.message === `invalid --at-gtid ${JSON.stringify(text)} for a mysql replica` && (e.hint ?? '').includes('3e11fa47-71ca-11e1-9e33-c80aa9429562:23'),
      );
    });
  }
});

describe('stampInPoint', () => {
  const point = us(2026, 12, 7, 10, 14, 59, 400_000);
  const second = us(2026, 12, 7, 10, 14, 59);
  it('MariaDB: floors both to the second, so every transaction of the point\'s second is in', () => {
    assert.equal(stampInPoint(second, point, 'mariadb'), true, 'the second itself');
    assert.equal(stampInPoint(second + 400_000, point, 'mariadb'), true, 'equal');
    assert.equal(stampInPoint(second + 999_999, point, 'mariadb'), true, 'later within the same second');
    assert.equal(stampInPoint(second - 1, point, 'mariadb'), true, 'the second before');
    assert.equal(stampInPoint(second + 1_000_000, point, 'mariadb'), false, 'the next second');
    assert.equal(stampInPoint(second + 1_000_000, second + 1_000_000, 'mariadb'), true);
    assert.equal(stampInPoint(second, second - 1, 'mariadb'), false, 'a point just before the second');
  });
  it('MySQL: microseconds, equal is in and one more is out', () => {
    assert.equal(stampInPoint(point, point, 'mysql'), true);
    assert.equal(stampInPoint(point - 1, point, 'mysql'), true);
    assert.equal(stampInPoint(point + 1, point, 'mysql'), false);
    assert.equal(stampInPoint(second + 999_999, point, 'mysql'), false, 'later within the same second is out');
  });
});

describe('pointIso', () => {
  const point = us(2026, 12, 7, 10, 14, 59, 987_654);
  it('MariaDB: floored to the second', () => {
    assert.equal(pointIso(point, 'mariadb'), '2026-12-07T10:14:59.000Z');
    assert.equal(pointIso(us(2026, 12, 7, 10, 14, 59), 'mariadb'), '2026-12-07T10:14:59.000Z');
  });
  it('MySQL: floored to the millisecond', () => {
    assert.equal(pointIso(point, 'mysql'), '2026-12-07T10:14:59.987Z');
    assert.equal(pointIso(us(2026, 12, 7, 10, 14, 59, 999), 'mysql'), '2026-12-07T10:14:59.000Z');
  });
  it('round-trips through parsePointTime at its own precision', () => {
    assert.equal(parsePointTime(pointIso(point, 'mysql'), 0), us(2026, 12, 7, 10, 14, 59, 987_000));
    assert.equal(parsePointTime(pointIso(point, 'mariadb'), 0), us(2026, 12, 7, 10, 14, 59));
  });
});
