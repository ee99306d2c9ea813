import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyRate, behindTransactions, countTransactions, formatGtidSet, parseDomainPosition, parseGtidSet, receivedGtidSet, unionGtidSets } from './gtid-count.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = 'b0b0b0b0-0000-11ee-8000-0242ac110002';

describe('MariaDB positions', () => {
  it('counts the sum of seq_no over domains', () => {
    assert.equal(countTransactions('mariadb', ''), 0);
    assert.equal(countTransactions('mariadb', '0-1-9'), 9);
    assert.equal(countTransactions('mariadb', '0-1-1000,1-2-40, 7-3-5'), 1045);
    assert.equal(countTransactions('mariadb', '0-1-9,\n1-2-40'), 49);
    assert.equal(countTransactions('mariadb', 'not-a-gtid'), null);
    assert.deepEqual([...(parseDomainPosition('1-2-40,0-1-9') ?? [])], [[1, 40], [0, 9]]);
  });

  it('behind: per domain, received less applied; a domain not applied yet counts whole', () => {
    assert.equal(behindTransactions('mariadb', '0-1-1000,1-2-40', '0-1-1000,1-2-40'), 0);
    assert.equal(behindTransactions('mariadb', '0-1-1234,1-2-45', '0-1-1000,1-2-40'), 239);
    assert.equal(behindTransactions('mariadb', '0-1-10,2-5-3', '0-1-10'), 3);
    // Applied past what the IO position says (read a moment apart): never negative.
    assert.equal(behindTransactions('mariadb', '0-1-10', '0-1-12'), 0);
    // The server id changes with a failover of the source; seq_no goes on within the domain.
    assert.equal(behindTransactions('mariadb', '0-2-15', '0-1-10'), 5);
    assert.equal(behindTransactions('mariadb', '', ''), 0);
    assert.equal(behindTransactions('mariadb', '', '0-1-10'), null);
    assert.equal(behindTransactions('mariadb', 'x', '0-1-10'), null);
  });
});

describe('MySQL GTID sets', () => {
  it('counts interval lengths over uuids, with newlines, single GTIDs and tags', () => {
    assert.equal(countTransactions('mysql', ''), 0);
    assert.equal(countTransactions('mysql', `${A}:1-5`), 5);
    assert.equal(countTransactions('mysql', `${A}:1-5:7:10-12,\n${B}:1-100`), 5 + 1 + 3 + 100);
    assert.equal(countTransactions('mysql', `${A.toUpperCase()}:1-3:batch:1-2`), 5);
    assert.equal(countTransactions('mysql', `${A}:5-3`), null);
    assert.equal(countTransactions('mysql', '0-1-9'), null);
  });

  it('merges overlapping and adjacent intervals and keeps tags apart', () => {
    const set = parseGtidSet(`${A}:1-3:4-6:10,${A}:2-5:tag:1-2,\n${B}:7`);
    assert.ok(set);
    assert.equal(formatGtidSet(set), `${A}:1-6:10,${A}:tag:1-2,${B}:7`);
  });

  it('received is Retrieved_Gtid_Set united with gtid_executed', () => {
    // The copy's position (1-100 of A) was executed, never retrieved.
    assert.equal(receivedGtidSet(`${A}:101-150,\n${B}:1-2`, `${A}:1-120`), `${A}:1-150,${B}:1-2`);
    assert.equal(receivedGtidSet('', ''), '');
    assert.equal(receivedGtidSet('garbage', ''), null);
    const union = unionGtidSets(parseGtidSet(`${A}:1-2`) ?? new Map(), parseGtidSet(`${A}:3`) ?? new Map());
    assert.equal(formatGtidSet(union), `${A}:1-3`);
  });

  it('behind: GTIDs received and not executed, across uuids and holes', () => {
    assert.equal(behindTransactions('mysql', `${A}:1-150,${B}:1-2`, `${A}:1-120,\n${B}:1-2`), 30);
    assert.equal(behindTransactions('mysql', `${A}:1-150`, `${A}:1-120:125-130`), 24);
    assert.equal(behindTransactions('mysql', `${A}:1-150:tag:1-4`, `${A}:1-150:tag:1`), 3);
    assert.equal(behindTransactions('mysql', `${A}:1-10`, `${A}:1-10,${B}:1-5`), 0);
    assert.equal(behindTransactions('mysql', '', `${A}:1-10`), null);
  });
});

describe('applyRate', () => {
  it('transactions per second between two readings, one decimal', () => {
    assert.equal(applyRate({ count: 1000, atMs: 0 }, { count: 2172, atMs: 500 }), 2344);
    assert.equal(applyRate({ count: 10, atMs: 1_000 }, { count: 11, atMs: 4_000 }), 0.3);
    assert.equal(applyRate({ count: 10, atMs: 0 }, { count: 10, atMs: 30_000 }), 0);
  });

  it('null when a reading is missing, no time passed or the count went down', () => {
    assert.equal(applyRate(null, { count: 1, atMs: 1 }), null);
    assert.equal(applyRate({ count: 1, atMs: 1 }, undefined), null);
    assert.equal(applyRate({ count: 1, atMs: 5 }, { count: 2, atMs: 5 }), null);
    assert.equal(applyRate({ count: 9, atMs: 0 }, { count: 2, atMs: 500 }), null);
  });
});
