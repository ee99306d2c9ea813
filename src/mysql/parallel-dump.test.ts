import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { copyDatabasesParallel, MarkerScan } from './parallel-dump.js';

describe('MarkerScan (when a dump session has begun its transaction)', () => {
  const MARK = '\n-- Current Database: ';

  it('finds a marker deep inside a large chunk', () => {
    const scan = new MarkerScan([MARK]);
    assert.equal(scan.push(Buffer.from(`${'x'.repeat(60_000)}${MARK}\`shop\`\n${'y'.repeat(5_000)}`)), true);
  });

  it('finds a marker split across chunks, and stays found', () => {
    const scan = new MarkerScan(['\n-- Dumping data for table ', MARK]);
    assert.equal(scan.push(Buffer.from('-- MariaDB dump 10.19\n--\n-- Curr')), false);
    assert.equal(scan.push(Buffer.from('ent Database: `shop`\n')), true);
    assert.equal(scan.push(Buffer.from('anything')), true);
  });

  it('does not take the header for it', () => {
    const scan = new MarkerScan([MARK]);
    assert.equal(scan.push(Buffer.from('-- MariaDB dump 10.19\n--\n-- Host: 127.0.0.1    Database: shop\n')), false);
    assert.equal(scan.push(Buffer.from('/*!40101 SET NAMES utf8mb4 */; -- Current Database: `x` (not at a line start)\n')), false);
  });
});

describe('copyDatabasesParallel: refused before it connects', () => {
  const base = {
    source: { host: '127.0.0.1', port: 1, user: 'u', password: 'p' },
    target: { socketPath: '/nonexistent.sock', user: 'root', password: 'x' },
    flavor: 'mariadb' as const,
  };
  it('a database name that would read as a mariadb-dump option', async () => {
    await assert.rejects(copyDatabasesParallel({ ...base, databases: ['shop', '--where=0'], sessions: 2 }), InvalidArgumentError);
  });
  it('a session count out of range, and a MySQL source', async () => {
    await assert.rejects(copyDatabasesParallel({ ...base, databases: ['shop'], sessions: 9 }), /2 to 8 sessions/);
    await assert.rejects(copyDatabasesParallel({ ...base, databases: ['shop'], sessions: 2, flavor: 'mysql' }), /MariaDB sources only/);
  });
});
