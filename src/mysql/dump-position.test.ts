import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DumpPositionScanner } from './dump-position.js';
import { flavorOps } from './flavor.js';

function scan(flavor: 'mariadb' | 'mysql', text: string, chunkSize: number): DumpPositionScanner {
  const ops = flavorOps(flavor);
  const scanner = new DumpPositionScanner(ops.dumpPositionMarker, ops.parseDumpPosition);
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += chunkSize) scanner.push(bytes.subarray(i, i + chunkSize));
  return scanner;
}

/** The shape of what mariadb-dump 10.11 wrote in the integration test. */
const MARIADB_DUMP = [
  '/*M!999999\\- enable the sandbox mode */ ',
  'CHANGE MASTER TO MASTER_USE_GTID=slave_pos;',
  "INSERT INTO `t` VALUES (1,'SET GLOBAL gtid_slave_pos=\\'6-6-6\\';\\nSET GLOBAL gtid_slave_pos=\\'7-7-7\\'');",
  '-- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows',
  '-- Preferably use GTID to start replication from GTID position:',
  '',
  "SET GLOBAL gtid_slave_pos='0-1-9';",
  '/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;',
  '',
].join('\n');

describe('DumpPositionScanner', () => {
  it('finds MariaDB gtid_slave_pos at a line start, whatever the chunking, and not inside data', () => {
    for (const size of [1, 2, 7, 26, 64, 4096]) {
      const scanner = scan('mariadb', MARIADB_DUMP, size);
      assert.equal(scanner.position, '0-1-9', `chunk size ${size}`);
      assert.equal(scanner.sawMalformed, false);
    }
  });

  it('the last statement wins; an empty position is a position', () => {
    assert.equal(scan('mariadb', "x\nSET GLOBAL gtid_slave_pos='0-1-1';\nSET GLOBAL gtid_slave_pos='0-1-2';\n", 5).position, '0-1-2');
    assert.equal(scan('mariadb', "x\nSET GLOBAL gtid_slave_pos='';\n", 3).position, '');
  });

  it('finds a multi-line MySQL GTID_PURGED set', () => {
    const text = "-- x\nSET @@SESSION.SQL_LOG_BIN= 0;\nSET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'aaaa:1-5,\nbbbb:1-3';\nCREATE TABLE t (a int);\n";
    for (const size of [1, 3, 50, 4096]) assert.equal(scan('mysql', text, size).position, 'aaaa:1-5,bbbb:1-3');
  });

  it('no marker: no position; garbage after the marker: malformed', () => {
    assert.equal(scan('mariadb', 'CREATE TABLE t (a int);\n', 4).position, null);
    const bad = scan('mariadb', "x\nSET GLOBAL gtid_slave_pos=@x;\n", 4);
    assert.equal(bad.position, null);
    assert.equal(bad.sawMalformed, true);
  });
});
