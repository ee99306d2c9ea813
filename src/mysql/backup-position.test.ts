import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackupPosition } from './backup-position.js';

describe('the position a mariadb-backup backup recorded', () => {
  it('file, offset and GTID from one tab-separated line', () => {
    assert.deepEqual(parseBackupPosition('source-bin.000002\t8731\t0-1-57\n'), { file: 'source-bin.000002', position: 8731, gtid: '0-1-57' });
  });
  it('several domains, and a GTID set over several lines (XtraBackup)', () => {
    assert.deepEqual(parseBackupPosition('b.000001\t4\t0-1-5,1-2-9'), { file: 'b.000001', position: 4, gtid: '0-1-5,1-2-9' });
    assert.deepEqual(parseBackupPosition('b.000003\t120\t3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n5a0e5b7d-1111-11e1-9e33-c80aa9429562:1-2\n')?.gtid, '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,5a0e5b7d-1111-11e1-9e33-c80aa9429562:1-2');
  });
  it('a source that had written no GTID yet: an empty one', () => {
    assert.deepEqual(parseBackupPosition('source-bin.000001\t329\n'), { file: 'source-bin.000001', position: 329, gtid: '' });
  });
  it('no position: null (an empty file, or anything else)', () => {
    for (const text of ['', '\n', 'garbage', 'file\tnot-a-number\t0-1-1', '../etc.000001\t4\t0-1-1']) assert.equal(parseBackupPosition(text), null, JSON.stringify(text));
  });
});
