import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError } from '../errors.js';
import { gtidIn } from './pitr-wait.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '62442a9d-f21f-11f1-a2fb-2dc2471cb53a';

const notFound = (pattern: RegExp) => (e: unknown): boolean => e instanceof NotFoundError && pattern.test(e.message) && (e.hint ?? '').includes('dolly replica status');

describe('gtidIn: MariaDB', () => {
  const position = '0-1-9,1-2-40';
  it("is in once its domain's seq_no is reached", () => {
    assert.equal(gtidIn('0-1-9', position, 'mariadb'), true, 'equal');
    assert.equal(gtidIn('0-1-1', position, 'mariadb'), true, 'older');
    assert.equal(gtidIn('1-2-40', position, 'mariadb'), true, 'the other domain');
    assert.equal(gtidIn('1-2-39', position, 'mariadb'), true);
  });
  it('is not in while the seq_no is ahead', () => {
    assert.equal(gtidIn('0-1-10', position, 'mariadb'), false);
    assert.equal(gtidIn('1-2-41', position, 'mariadb'), false);
    assert.equal(gtidIn('0-1-4711', position, 'mariadb'), false);
  });
  it('compares by domain and seq_no only (the server id is not checked)', () => {
    assert.equal(gtidIn('0-7-9', position, 'mariadb'), true);
    assert.equal(gtidIn('0-7-10', position, 'mariadb'), false);
  });
  it('reads a position with blanks and newlines', () => {
    assert.equal(gtidIn('1-2-40', ' 0-1-9,\n 1-2-40 ', 'mariadb'), true);
    assert.equal(gtidIn('1-2-41', ' 0-1-9,\n 1-2-40 ', 'mariadb'), false);
  });
  it('refuses a domain the position never had, naming it', () => {
    assert.throws(() => gtidIn('2-1-1', position, 'mariadb'), notFound(/GTID 2-1-1: domain 2 is not in the replica's stream \(0-1-9,1-2-40\)/));
  });
  it('refuses any GTID against an empty position, saying it is empty', () => {
    assert.throws(() => gtidIn('0-1-1', '', 'mariadb'), notFound(/domain 0 is not in the replica's stream \(empty\)/));
  });
});

describe('gtidIn: MySQL', () => {
  const position = `${U1}:1-5:7-9,\n${U2}:1-100`;
  it("is in when the number is in one of its uuid's intervals", () => {
    assert.equal(gtidIn(`${U1}:1`, position, 'mysql'), true);
    assert.equal(gtidIn(`${U1}:5`, position, 'mysql'), true);
    assert.equal(gtidIn(`${U1}:7`, position, 'mysql'), true);
    assert.equal(gtidIn(`${U1}:9`, position, 'mysql'), true);
    assert.equal(gtidIn(`${U2}:100`, position, 'mysql'), true);
  });
  it('is not in outside every interval (a hole, or past the end)', () => {
    assert.equal(gtidIn(`${U1}:6`, position, 'mysql'), false, 'the hole');
    assert.equal(gtidIn(`${U1}:10`, position, 'mysql'), false);
    assert.equal(gtidIn(`${U2}:101`, position, 'mysql'), false);
  });
  it('reads an upper-case position (the GTID is lower-cased by parsePointGtid)', () => {
    assert.equal(gtidIn(`${U1}:3`, `${U1.toUpperCase()}:1-5`, 'mysql'), true);
  });
  it('refuses a server uuid the position never had, naming it', () => {
    const other = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
    assert.throws(() => gtidIn(`${other}:1`, position, 'mysql'), notFound(new RegExp(`GTID ${other}:1: server ${other} is not in the replica's stream`)));
    assert.throws(() => gtidIn(`${U1}:1`, '', 'mysql'), notFound(new RegExp(`server ${U1} is not in`)));
  });
});
