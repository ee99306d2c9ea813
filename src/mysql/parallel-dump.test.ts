import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MarkerScan } from './parallel-dump.js';

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
